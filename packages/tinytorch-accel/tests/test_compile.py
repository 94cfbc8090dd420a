"""compile(): compiled == eager on random inputs, guards, retraces, errors."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _models (--import-mode=importlib)
from _models import (  # noqa: E402
    Chain,
    InPlace,
    ValueBranch,
    ValueConstant,
    digits_cnn,
    digits_mlp,
    random,
)

from tinytorch import nn  # noqa: E402
from tinytorch.accel import CompiledModule, CompileError, compile  # noqa: E402
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.tensor import Tensor, wrap  # noqa: E402

MODELS = [
    ("mlp batch 1", digits_mlp, (1, 64)),
    ("mlp batch 16", digits_mlp, (16, 64)),
    ("cnn batch 1", digits_cnn, (1, 1, 8, 8)),
    ("cnn batch 4", digits_cnn, (4, 1, 8, 8)),
    ("chain", Chain, (3, 8)),
]


@pytest.mark.parametrize("name,make,shape", MODELS, ids=[m[0] for m in MODELS])
def test_compiled_equals_eager_bitwise(name, make, shape):
    # No pass reorders arithmetic in these models: the replay is bit for bit eager.
    model = make().eval()
    fast = compile(model, (random(shape),))
    with no_grad():
        for seed in range(1, 4):
            x = random(shape, seed)
            got, want = fast(x), model(x)
            assert isinstance(got, Tensor)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert fast.stats["replays"] == 3 and fast.stats["traces"] == 1


@pytest.mark.parametrize("conv,pool,hw", [
    (dict(kernel_size=3, padding=1), 2, 8),
    (dict(kernel_size=3, stride=2), 3, 11),
    (dict(kernel_size=2, stride=1, padding=2), (2, 3), 7),
    (dict(kernel_size=1), 1, 5),
    (dict(kernel_size=3, padding=1, bias=False), 2, 8),
    (dict(kernel_size=5, padding=2), 2, 9),
], ids=["pad1", "stride2-pool3", "pad2-pool2x3", "1x1", "pad1-no-bias", "5x5-pad2"])
@pytest.mark.parametrize("batch", [1, 3])
def test_conv_and_pool_kernels_bitwise(conv, pool, hw, batch):
    model = nn.Sequential(nn.Conv2d(2, 4, **conv), nn.ReLU(), nn.MaxPool2d(pool)).eval()
    fast = compile(model, (random((batch, 2, hw, hw)),))
    with no_grad():
        x = random((batch, 2, hw, hw), 7)
        np.testing.assert_array_equal(fast(x).numpy(), model(x).numpy())
    assert "conv2d" in fast.explain(file=io.StringIO())


LAYER_TABLE = [
    ("batchnorm-avgpool", lambda: nn.Sequential(
        nn.Conv2d(3, 4, kernel_size=3), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten()), (2, 3, 9, 9)),
    ("layernorm-without-affine-gelu", lambda: nn.Sequential(
        nn.Linear(8, 16), nn.LayerNorm(16, elementwise_affine=False), nn.GELU(),
        nn.Linear(16, 4)), (3, 8)),
    ("tanh-gelu-dropout-softmax", lambda: nn.Sequential(
        nn.Linear(8, 16), nn.GELU(approximate="tanh"), nn.Dropout(0.3), nn.Linear(16, 4),
        nn.Softmax(dim=-1)), (5, 8)),
    ("sigmoid-tanh-logsoftmax", lambda: nn.Sequential(
        nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Tanh(),
        nn.LogSoftmax(dim=-1)), (5, 8)),
    ("linear-on-3d", lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)),
     (2, 5, 8)),
]


@pytest.mark.parametrize("name,make,shape", LAYER_TABLE, ids=[c[0] for c in LAYER_TABLE])
def test_layers_bitwise(name, make, shape):
    model = make().eval()
    fast = compile(model, (random(shape),))
    with no_grad():
        x = random(shape, 11)
        np.testing.assert_array_equal(fast(x).numpy(), model(x).numpy())


def test_embedding_ids_are_read_from_each_call():
    model = nn.Embedding(10, 4).eval()
    fast = compile(model, (np.array([[1, 2, 3]]),))
    with no_grad():
        ids = np.array([[4, 5, 9]])
        np.testing.assert_array_equal(fast(ids).numpy(), model(ids).numpy())
    assert fast.stats["replays"] == 1


def test_accepts_ndarray_inputs_and_single_tensor():
    model = digits_mlp()
    x = random((2, 64))
    fast = compile(model, x)  # a single Tensor is one argument
    with no_grad():
        np.testing.assert_array_equal(fast(x.numpy()).numpy(), model(x).numpy())


def test_outputs_are_fresh_arrays_across_calls():
    model = digits_mlp()
    fast = compile(model, (random((1, 64)),))
    with no_grad():
        first = fast(random((1, 64), 1))
        kept = first.numpy().copy()
        fast(random((1, 64), 2))
    np.testing.assert_array_equal(first.numpy(), kept)


def test_batch_size_change_retraces():
    model = digits_mlp()
    fast = compile(model, (random((1, 64)),))
    with no_grad():
        x = random((5, 64), 3)
        np.testing.assert_array_equal(fast(x).numpy(), model(x).numpy())
        assert fast.stats["traces"] == 2
        fast(random((1, 64), 4))  # the first specialisation is still there
    assert fast.stats["traces"] == 2 and fast.stats["replays"] == 2


def test_dtype_change_retraces():
    model = digits_mlp()
    fast = compile(model, (random((2, 64)),))
    x64 = wrap(np.random.default_rng(5).standard_normal((2, 64)))
    with no_grad():
        got, want = fast(x64), model(x64)
    assert fast.stats["traces"] == 2
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("mutate", [
    "write_and_bump_version", "replace_array", "replace_parameter", "swap_module",
])
def test_parameter_change_is_seen(mutate):
    model = digits_mlp()
    x = random((1, 64))
    fast = compile(model, (x,))
    layer = model[0]
    with no_grad():
        before = fast(x).numpy()
        if mutate == "write_and_bump_version":
            layer.weight.data[...] += 0.5  # what an optimizer step does...
            layer.weight.bump_version()  # ...and says so
        elif mutate == "replace_array":
            layer.weight.data = layer.weight.data * 2.0
        elif mutate == "replace_parameter":
            layer.weight = nn.Parameter(layer.weight.data[::-1].copy())
        else:
            model[1] = nn.Tanh().eval()  # a module swap: no parameter changes
        got, want = fast(x).numpy(), model(x).numpy()
    assert not np.array_equal(before, want)  # the change matters...
    np.testing.assert_array_equal(got, want)  # ...and the compiled model follows it
    assert fast.stats["traces"] == 2


def test_raw_write_into_a_parameter_array_is_read_live():
    # A write that bypasses the version counter is still seen: replay reads the
    # parameter's live array (the Linear weight's transpose is a view of it).
    model = digits_mlp()
    x = random((1, 64))
    fast = compile(model, (x,))
    with no_grad():
        before = fast(x).numpy()
        model[2].weight.data[...] *= -1.0
        got, want = fast(x).numpy(), model(x).numpy()
    assert not np.array_equal(before, want)
    np.testing.assert_array_equal(got, want)
    assert fast.stats["traces"] == 1


def test_raw_write_into_conv_weight_and_bias_is_read_live():
    # The conv kernel copies W and b into its GEMM operand on every call.
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU()).eval()
    x = random((2, 2, 6, 6))
    fast = compile(model, (x,))
    with no_grad():
        for array in (model[0].weight.data, model[0].bias.data):
            before = fast(x).numpy()
            array[...] *= -1.5
            got, want = fast(x).numpy(), model(x).numpy()
            assert not np.array_equal(before, want)
            np.testing.assert_array_equal(got, want)
    assert fast.stats["traces"] == 1


def test_training_mode_falls_back_to_eager():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5)).eval()
    x = random((2, 4))
    fast = compile(model, (x,))
    model.train()
    with no_grad():
        fast(x)
    assert fast.stats["eager"] == 1 and fast.stats["replays"] == 0
    model.eval()
    with no_grad():
        np.testing.assert_array_equal(fast(x).numpy(), model(x).numpy())
    assert fast.stats["replays"] == 1


def test_grad_mode_is_an_error():
    model = digits_mlp()
    fast = compile(model, (random((1, 64)),))
    with pytest.raises(RuntimeError, match="inference only.*no_grad"):
        fast(random((1, 64)))


@pytest.mark.parametrize("model_fn,inputs,error,match", [
    (lambda: digits_mlp().train(), (random((1, 64)),), ValueError, "training mode"),
    (lambda: (lambda x: x), (random((1, 64)),), TypeError, "must be a tinytorch.nn.Module"),
    (digits_mlp, {"x": 1}, TypeError, "example_inputs must be"),
    (digits_mlp, ([[1.0] * 64],), TypeError, "example input 0 must be"),
    (digits_mlp, (Tensor(np.zeros((1, 64), np.float32), requires_grad=True),), ValueError,
     "requires grad"),
])
def test_bad_compile_arguments(model_fn, inputs, error, match):
    with pytest.raises(error, match=match):
        compile(model_fn(), inputs)


def test_bad_call_arguments():
    fast = compile(digits_mlp(), (random((1, 64)),))
    with no_grad():
        with pytest.raises(TypeError, match="positional arguments only"):
            fast(x=random((1, 64)))
        with pytest.raises(TypeError, match="not supported"):
            fast([[0.0] * 64])


def test_replay_error_raises_the_models_own_error():
    model = digits_mlp()
    fast = compile(model, (random((1, 64)),))
    with no_grad(), pytest.raises(ValueError) as caught:
        fast(random((1, 65)))  # a new shape: the retrace runs eager, which checks
    assert "65" in str(caught.value) or "64" in str(caught.value)


@pytest.mark.parametrize("model_cls,match", [
    (ValueBranch, "different ops|differs from eager"),
    (ValueConstant, "differs from eager"),
    (InPlace, "in place"),
])
def test_uncapturable_forwards_are_refused(model_cls, match):
    x = wrap(np.array([[5.0, 1.0, 0.0, -1.0, 2.0, 0.5, 0.1, 0.2]], dtype=np.float32))
    with pytest.raises(CompileError, match=match):
        compile(model_cls().eval(), (x,))


def test_result_is_a_module_sharing_the_parameters():
    model = digits_mlp()
    fast = compile(model, (random((1, 64)),))
    assert isinstance(fast, CompiledModule) and isinstance(fast, nn.Module)
    assert [id(p) for p in fast.parameters()] == [id(p) for p in model.parameters()]
    assert model.training is False  # the input model is left as it was


def test_explain_shows_both_graphs_counts_and_bytes(capsys):
    fast = compile(Chain().eval(), (random((3, 8)),))
    text = fast.explain()
    assert text == capsys.readouterr().out.rstrip("\n")
    assert "-- captured: 7 ops" in text
    assert "fused[mul+add+relu]" in text
    assert "bytes planned" in text and "def replay(a0):" in text


def test_tuple_outputs():
    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            y = self.fc(x)
            return y, y.relu()

    model = Two().eval()
    fast = compile(model, (random((2, 4)),))
    with no_grad():
        x = random((2, 4), 5)
        got, want = fast(x), model(x)
    assert isinstance(got, tuple) and len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_untying_a_shared_weight_is_seen():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)
            self.b.weight = self.a.weight  # one Tensor, two names

        def forward(self, x):
            return self.a(x) + self.b(x)

    model = Tied().eval()
    x = random((2, 4))
    fast = compile(model, (x,))
    with no_grad():
        model.b.weight = nn.Parameter(np.zeros((4, 4), np.float32))  # the second name only
        np.testing.assert_array_equal(fast(x).numpy(), model(x).numpy())
    assert fast.stats["traces"] == 2
