"""compress_model: the recipe runs in order, the report is measured, bad recipes fail early."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.compress import compress_model, load_compressed, measure_sparsity, save_compressed
from tinytorch.quant import QuantizedLinear, model_size_bytes
from tinytorch.tensor import Tensor, manual_seed


def mlp():
    manual_seed(0)
    return nn.Sequential(nn.Linear(10, 40), nn.ReLU(), nn.Linear(40, 3))


def data(n=6, seed=0):
    centers = np.random.default_rng(99).standard_normal((3, 10)) * 4  # one task, well separated
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y = rng.integers(0, 3, 32)
        out.append((Tensor((centers[y] + rng.standard_normal((32, 10))).astype(np.float32)), y))
    return out


def accuracy(model, batches):
    return np.mean(np.concatenate([model(x).data.argmax(1) == y for x, y in batches]))


def test_prune_finetune_quantize(capsys, tmp_path):
    model = mlp()
    train = data()
    recipe = [("prune", {"amount": 0.8, "scope": "layer", "data": train, "epochs": 3,
                         "lr": 0.01}),
              ("finetune", {"data": train, "epochs": 4, "lr": 0.01}),
              ("quantize", {"mode": "dynamic"})]
    small, report = compress_model(model, recipe)
    printed = capsys.readouterr().out
    assert "gradual prune 80% (layer" in printed and "int8 dynamic" in printed
    assert "total" in printed
    assert isinstance(small[0], QuantizedLinear) and isinstance(model[0], nn.Linear)
    weights = small[0].weight_int8.data.size + small[2].weight_int8.data.size
    zeros = (small[0].weight_int8.data == 0).sum() + (small[2].weight_int8.data == 0).sum()
    assert zeros >= round(0.8 * weights)  # pruned zeros stay zero through int8
    assert report.after.bytes == model_size_bytes(small)
    assert report.before.bytes == model_size_bytes(model)
    assert report.after.zeros == measure_sparsity(small).zeros
    assert accuracy(small, data(2, seed=1)) > 0.8
    info = save_compressed(small, tmp_path / "s.tcz")
    x = data(1, seed=2)[0][0]
    np.testing.assert_array_equal(load_compressed(tmp_path / "s.tcz")(x).data, small(x).data)
    assert info.payload_bytes < model_size_bytes(model) / 4  # headers dominate a model this small


def test_other_steps_and_dict_recipes():
    model, report = compress_model(mlp(), {"structured": {"amount": 0.5},
                                           "low_rank": {"rank": 2, "parameters": ["0"]}},
                                   verbose=False)
    assert model[0].rank == 2 and model[2].in_features == 20
    assert report.steps == ["structured 50%", "low rank"]
    model, _ = compress_model(mlp(), [("prune", {"amount": 0.5})], verbose=False)
    assert measure_sparsity(model).zeros >= round(0.5 * (400 + 120))  # global scope


@pytest.mark.parametrize("recipe, error, words", [
    ([("shrink", {})], ValueError, "does not exist"),
    ([("prune", {})], ValueError, "missing options"),
    ([("prune", {"amount": 0.5, "speed": 2})], ValueError, "unknown options"),
    ([("prune", {"amount": 1.2})], ValueError, "amount"),
    ([("low_rank", {"rank": 50})], ValueError, "larger than the matrix"),
    ([("quantize", {"mode": "int3"})], ValueError, "mode"),
    ([("quantize", {"mode": "static"})], ValueError, "calibration"),
    ("prune", TypeError, "recipe"),
    ([("prune",)], TypeError, "pair"),
])
def test_bad_recipes(recipe, error, words):
    with pytest.raises(error, match=words):
        compress_model(mlp(), recipe, verbose=False)
