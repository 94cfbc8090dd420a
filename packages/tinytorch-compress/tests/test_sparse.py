"""Sparse inference layers: the CSR forward equals the dense masked one."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.autograd import no_grad
from tinytorch.compress import SparseLinear, magnitude_prune, to_sparse
from tinytorch.quant import model_size_bytes
from tinytorch.tensor import Tensor, manual_seed

RNG = np.random.default_rng(0)


def pruned_linear(n_in, n_out, amount, bias=True, empty_rows=0):
    manual_seed(3)
    model = magnitude_prune(nn.Sequential(nn.Linear(n_in, n_out, bias=bias)), amount)
    model[0].weight_mask.data[:empty_rows] = 0.0  # rows with no weight left
    return model


# (in, out, amount, int8, tile, bias, empty rows, input shape)
CASES = [
    (64, 128, 0.9, False, None, True, 0, (5, 64)),
    (64, 128, 0.9, True, None, True, 0, (5, 64)),
    (64, 128, 0.9, True, 64, True, 3, (1, 64)),
    (64, 128, 0.5, False, 7, False, 0, (2, 3, 64)),
    (300, 100, 0.95, True, 128, True, 10, (4, 300)),
    (16, 8, 0.0, False, 1, True, 8, (3, 16)),  # every row empty: bias alone
]


@pytest.mark.parametrize("n_in, n_out, amount, int8, tile, bias, empty, shape", CASES)
def test_sparse_forward_equals_the_dense_masked_layer(n_in, n_out, amount, int8, tile, bias,
                                                      empty, shape):
    dense = pruned_linear(n_in, n_out, amount, bias, empty)
    sparse = to_sparse(dense, int8=int8, tile=tile)
    layer = sparse[0]
    assert isinstance(layer, SparseLinear)
    assert layer.nnz == int(np.count_nonzero(dense[0].effective_weight()))
    x = Tensor(RNG.standard_normal(shape).astype(np.float32))
    with no_grad():
        got, want = sparse(x).data, dense(x).data
    assert got.shape == want.shape and got.dtype == np.float32
    # Exactly the product with the weight it stores ...
    w = layer.to_dense_weight()
    ref = x.data @ w.T + (0.0 if not bias else dense[0].bias.data)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    # ... which is the masked weight itself (float) or its int8 rounding.
    eff = dense[0].effective_weight()
    assert np.array_equal(w != 0, eff != 0) if not int8 else np.all(w[eff == 0] == 0)
    step = np.abs(eff).max(axis=1, keepdims=True) / 127.0
    assert np.all(np.abs(w - eff) <= (0.5 * step + 1e-7 if int8 else 0.0))
    if not int8:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_sparse_storage_counts_only_the_nonzeros():
    dense = pruned_linear(64, 128, 0.9)
    sparse = to_sparse(dense, int8=True)
    layer, nnz = sparse[0], sparse[0].nnz
    assert layer.values.data.dtype == np.int8 and layer.columns.data.dtype == np.uint8
    assert layer.row_ptr.data.dtype == np.uint16  # nnz = 819 > 255
    expected = nnz * 2 + 129 * 2 + layer.tile_rows.data.nbytes + 128 * 4 * 2
    assert model_size_bytes(sparse) == expected
    assert model_size_bytes(sparse) < model_size_bytes(dense) / 8
    wide = to_sparse(pruned_linear(300, 100, 0.9))[0]
    assert wide.columns.data.dtype == np.uint16 and wide.values.data.dtype == np.float32


def test_sparse_keeps_the_float_architecture_and_the_input():
    dense = pruned_linear(64, 128, 0.9)
    before = dense[0].effective_weight().copy()
    sparse = to_sparse(dense, int8=True)
    assert type(dense[0]).__name__ == "MaskedLinear"  # the input is untouched
    np.testing.assert_array_equal(dense[0].effective_weight(), before)
    spec = sparse[0].float_architecture()
    assert spec["type"].endswith(".Linear")
    assert spec["parameters"] == [["weight", [128, 64], "float32"], ["bias", [128], "float32"]]
    assert not sparse.training
    plain = to_sparse(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)))
    x = Tensor(RNG.standard_normal((2, 4)))  # float64 in, float32 out
    assert plain(x).data.dtype == np.float32


@pytest.mark.parametrize("call, error, words", [
    (lambda: SparseLinear.from_dense(nn.Conv2d(1, 2, 3)), TypeError, "Linear"),
    (lambda: to_sparse("model"), TypeError, "Module"),
    (lambda: to_sparse(nn.Sequential(nn.ReLU())), ValueError, "no Linear"),
    (lambda: to_sparse(nn.Linear(3, 2)), ValueError, "Sequential"),
    (lambda: to_sparse(nn.Sequential(nn.Linear(3, 2)), tile=0), ValueError, "tile"),
    (lambda: to_sparse(nn.Sequential(nn.Linear(3, 2)), tile=2.5), TypeError, "tile"),
    (lambda: to_sparse(nn.Sequential(nn.Linear(3, 2)))(np.ones((1, 3))), TypeError, "Tensor"),
    (lambda: to_sparse(nn.Sequential(nn.Linear(3, 2)))(Tensor(np.ones((1, 4), np.float32))),
     ValueError, "last dimension"),
    (lambda: to_sparse(nn.Sequential(nn.Linear(3, 2)))(Tensor(np.ones((1, 3), np.int64))),
     TypeError, "floating"),
])
def test_bad_input_is_refused_clearly(call, error, words):
    with pytest.raises(error, match=words):
        call()
