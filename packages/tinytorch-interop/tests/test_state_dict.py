"""to_torch_state_dict / load_torch_state_dict without torch: keys, shapes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.interop import load_torch_state_dict, to_torch_state_dict
from tinytorch.nn import (
    BatchNorm2d,
    Conv2d,
    Embedding,
    LayerNorm,
    Linear,
    Sequential,
    StateDictError,
)
from tinytorch.tensor import manual_seed
from tinytorch.transformers import GPT

# (layer, {key: torch's shape}) -- the shapes torch.nn gives the same layer.
LAYERS = [
    (lambda: Linear(3, 5), {"weight": (5, 3), "bias": (5,)}),
    (lambda: Conv2d(2, 4, 3), {"weight": (4, 2, 3, 3), "bias": (4,)}),
    (lambda: BatchNorm2d(6), {"weight": (6,), "bias": (6,), "running_mean": (6,),
                              "running_var": (6,), "num_batches_tracked": ()}),
    (lambda: LayerNorm(7), {"weight": (7,), "bias": (7,)}),
    (lambda: Embedding(9, 4), {"weight": (9, 4)}),
]


@pytest.mark.parametrize("make, shapes", LAYERS)
def test_keys_and_shapes_are_torchs(make, shapes):
    sd = to_torch_state_dict(make())
    assert list(sd) == list(shapes)
    assert {k: v.shape for k, v in sd.items()} == shapes
    assert all(v.flags.c_contiguous for v in sd.values())


def test_batchnorm_counter_is_a_0d_int64():
    sd = to_torch_state_dict(BatchNorm2d(3))
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].ndim == 0


def test_arrays_are_copies():
    layer = Linear(2, 2)
    sd = to_torch_state_dict(layer)
    sd["weight"][...] = 7
    assert not np.any(layer.weight.data == 7)


def test_gpt_keys_include_both_names_of_a_tied_weight():
    manual_seed(0)
    sd = to_torch_state_dict(GPT(11, 8, 1, 2, 6, tie_embeddings=True, head_bias=False))
    np.testing.assert_array_equal(sd["head.weight"], sd["tok_emb.weight"])
    assert "head.bias" not in sd and sd["blocks.0.attn.qkv.weight"].shape == (24, 8)


def test_round_trip_into_a_fresh_model():
    manual_seed(0)
    src = Sequential(Conv2d(1, 2, 3), BatchNorm2d(2))
    src[1].num_batches_tracked.data[...] = 5
    dst = Sequential(Conv2d(1, 2, 3), BatchNorm2d(2))
    load_torch_state_dict(dst, to_torch_state_dict(src))
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=k)


def test_float64_values_load_into_float32_arrays():
    layer = Linear(2, 3)
    load_torch_state_dict(layer, {"weight": np.ones((3, 2)), "bias": np.zeros(3)})
    assert layer.weight.data.dtype == np.float32 and layer.weight.data.sum() == 6


def test_every_problem_in_one_error_and_nothing_written():
    model = Sequential(Linear(2, 3), Linear(3, 1))
    before = model.state_dict()
    bad = {"0.weight": np.zeros((2, 3)), "0.bias": np.zeros(3), "1.weight": np.zeros((1, 3)),
           "2.weight": np.zeros(1)}
    with pytest.raises(StateDictError) as info:
        load_torch_state_dict(model, bad)
    msg = str(info.value)
    assert "'1.bias'" in msg and "'2.weight'" in msg and "'0.weight' expects (3, 2)" in msg
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_reports_missing_and_unexpected():
    res = load_torch_state_dict(Linear(2, 3), {"weight": np.zeros((3, 2)), "x": np.zeros(1)},
                                strict=False)
    assert res.missing_keys == ["bias"] and res.unexpected_keys == ["x"]


def test_non_numeric_value_is_listed_with_the_other_problems():
    with pytest.raises(StateDictError, match=r"non-numeric.*'weight'.*missing keys: \['bias'\]"):
        load_torch_state_dict(Linear(2, 3), {"weight": np.array(["a"] * 6).reshape(3, 2)})


@pytest.mark.parametrize("call", [
    lambda: to_torch_state_dict({"weight": 1}),
    lambda: load_torch_state_dict("model", {}),
    lambda: load_torch_state_dict(Linear(2, 2), [("weight", 1)]),
])
def test_wrong_types(call):
    with pytest.raises(TypeError):
        call()
