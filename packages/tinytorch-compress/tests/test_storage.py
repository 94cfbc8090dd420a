"""Compressed storage: bit-identical round trips, sizes, atomicity, bad files."""

import json
import os

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.compress import (
    load_compressed,
    low_rank,
    magnitude_prune,
    remove_pruning,
    save_compressed,
    structured_prune,
)
from tinytorch.quant import quantize_dynamic, quantize_static
from tinytorch.tensor import Tensor, manual_seed
from tinytorch.transformers import GPT


def mlp():
    manual_seed(0)
    return nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 30), nn.ReLU(),
                         nn.Linear(30, 10))


def cnn():
    manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 16, 10)).eval()


RNG = np.random.default_rng(0)
X_MLP = Tensor(RNG.standard_normal((7, 64)).astype(np.float32))
X_CNN = Tensor(RNG.standard_normal((3, 1, 8, 8)).astype(np.float32))

CASES = {
    "float-dense": (lambda: mlp(), X_MLP),
    "pruned-masked": (lambda: magnitude_prune(mlp(), 0.8, scope="global"), X_MLP),
    "pruned-int8": (lambda: quantize_dynamic(remove_pruning(magnitude_prune(mlp(), 0.9))), X_MLP),
    "pruned-int8-static": (lambda: quantize_static(remove_pruning(magnitude_prune(mlp(), 0.5)),
                                                   [X_MLP]), X_MLP),
    "cnn-pruned": (lambda: magnitude_prune(cnn(), 0.7), X_CNN),
    "cnn-int8": (lambda: quantize_dynamic(remove_pruning(magnitude_prune(cnn(), 0.7))), X_CNN),
    "low-rank": (lambda: low_rank(mlp(), rank=5), X_MLP),
    "structured": (lambda: structured_prune(cnn(), 0.5), X_CNN),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("deflate", [True, False])
def test_round_trip_is_bit_identical(case, deflate, tmp_path):
    build, x = CASES[case]
    model = build().eval()
    info = save_compressed(model, tmp_path / "m.tcz", deflate=deflate)
    loaded = load_compressed(tmp_path / "m.tcz")
    assert not loaded.training
    np.testing.assert_array_equal(loaded(x).data, model(x).data)
    assert info.file_bytes == os.path.getsize(tmp_path / "m.tcz")
    if not deflate:  # the payload plus headers, nothing hidden
        assert info.payload_bytes < info.file_bytes < info.payload_bytes + 4096


def test_file_is_as_small_as_claimed(tmp_path):
    dense = mlp()
    dense.save(tmp_path / "float.npz")
    model = quantize_dynamic(remove_pruning(magnitude_prune(dense, 0.9, scope="global")))
    info = save_compressed(model, tmp_path / "c.tcz", deflate=False)
    weights = 64 * 100 + 100 * 30 + 30 * 10
    nonzeros = weights - round(0.9 * weights)
    # int8 nonzeros + one bit per weight + float32 scales and biases (2 x 140)
    expected_payload = nonzeros + (weights + 7) // 8 + 4 * 2 * 140
    assert abs(info.payload_bytes - expected_payload) <= 8  # pack padding
    ratio = os.path.getsize(tmp_path / "float.npz") / info.file_bytes
    assert ratio > 5  # headers and the JSON spec weigh on a model this small
    deflated = save_compressed(model, tmp_path / "d.tcz")
    assert deflated.file_bytes < info.file_bytes


def test_any_model_loads_into_a_given_one(tmp_path):
    manual_seed(4)
    gpt = GPT(vocab_size=13, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8).eval()
    pruned = magnitude_prune(gpt, 0.5, scope="global")
    save_compressed(pruned, tmp_path / "g.tcz")
    with pytest.raises(ValueError, match="pass model="):
        load_compressed(tmp_path / "g.tcz")
    manual_seed(5)
    other = GPT(vocab_size=13, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)
    loaded = load_compressed(tmp_path / "g.tcz", model=other)
    tokens = RNG.integers(0, 13, (2, 6))
    np.testing.assert_array_equal(loaded(tokens).data, pruned(tokens).data)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.tcz"
    save_compressed(mlp(), path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(RuntimeError):
        save_compressed(magnitude_prune(mlp(), 0.5), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.tcz"]


def rewrite(path, edit):
    arrays = dict(np.load(path))
    spec = json.loads(arrays["__spec__"].tobytes())
    edit(arrays, spec)
    arrays["__spec__"] = np.frombuffer(json.dumps(spec).encode(), np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize("edit, words", [
    (lambda a, s: s.update(format="other"), "not a file written by save_compressed"),
    (lambda a, s: s.update(version=99), "version"),
    (lambda a, s: a.update({"bits": a["bits"][:3]}), "corrupt"),
    (lambda a, s: a.update({"v:|i1": a["v:|i1"][:-5]}), "corrupt"),
    (lambda a, s: s["architecture"]["children"][0].update(type="Evil"), "unknown layer"),
])
def test_bad_files_get_clear_errors(tmp_path, edit, words):
    path = tmp_path / "m.npz"
    save_compressed(quantize_dynamic(remove_pruning(magnitude_prune(mlp(), 0.9))), path)
    rewrite(path, edit)
    with pytest.raises(ValueError, match=words):
        load_compressed(path)


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="Module"):
        save_compressed({"w": 1}, tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        load_compressed(tmp_path / "missing.tcz")
    (tmp_path / "junk").write_bytes(b"not a zip")
    with pytest.raises(ValueError):
        load_compressed(tmp_path / "junk")
