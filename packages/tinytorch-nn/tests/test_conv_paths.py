"""Conv2d's two data paths give the same results: the flat one (stride 1 and
OW == W, each kernel offset a shift of the flattened image) against the
general one (strided window view, strided col2im), on odd sizes, kernels
larger than the image, rectangular kernels and padding, non-contiguous
input, and every subset of the gradients; and the bias folded into the
GEMMs gives the same db as a plain sum."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401
from tinytorch.autograd import gradcheck
from tinytorch.nn import _fused
from tinytorch.nn import functional as F
from tinytorch.tensor import Tensor

PATH_CASES = [
    # (name, x shape, out channels, kernel, stride, padding, takes the flat path)
    ("same_3x3_odd", (2, 3, 5, 7), 4, (3, 3), (1, 1), (1, 1), True),
    ("same_5x5", (2, 2, 6, 5), 3, (5, 5), (1, 1), (2, 2), True),
    ("same_5x5_kernel_larger_than_image", (2, 1, 3, 2), 2, (5, 5), (1, 1), (2, 2), True),
    ("1x1", (2, 4, 3, 5), 2, (1, 1), (1, 1), (0, 0), True),
    ("rect_3x5_p(0,2)_fewer_rows", (2, 2, 6, 7), 3, (3, 5), (1, 1), (0, 2), True),
    ("3x3_p(2,1)_more_rows", (2, 2, 4, 5), 3, (3, 3), (1, 1), (2, 1), True),
    ("same_3x3_width_1", (2, 2, 4, 1), 2, (3, 3), (1, 1), (1, 1), True),
    ("3x3_p0", (2, 3, 6, 5), 2, (3, 3), (1, 1), (0, 0), False),
    ("3x3_stride_2", (2, 2, 7, 6), 3, (3, 3), (2, 2), (1, 1), False),
    ("3x3_stride_(2,1)", (2, 2, 7, 6), 3, (3, 3), (2, 1), (1, 1), False),
    ("5x5_p1", (2, 2, 7, 7), 2, (5, 5), (1, 1), (1, 1), False),
    ("2x2_p1_even_kernel", (2, 2, 4, 5), 2, (2, 2), (1, 1), (1, 1), False),
]
IDS = [c[0] for c in PATH_CASES]


def run(xs, oc, k, s, p, seed, dtype=np.float64, x_np=None):
    rng = np.random.default_rng(seed)
    x_np = rng.standard_normal(xs).astype(dtype) if x_np is None else x_np
    x = Tensor(x_np, dtype=dtype, requires_grad=True)
    w = Tensor(rng.standard_normal((oc, xs[1], *k)), dtype=dtype, requires_grad=True)
    b = Tensor(rng.standard_normal(oc), dtype=dtype, requires_grad=True)
    out = F.conv2d(x, w, b, s, p)
    assert out.dtype == dtype
    out.backward(Tensor(rng.standard_normal(out.shape), dtype=dtype))
    return [out.data, x.grad.data, w.grad.data, b.grad.data]


@pytest.mark.parametrize("name, xs, oc, k, s, p, flat", PATH_CASES, ids=IDS)
def test_table_covers_both_paths(name, xs, oc, k, s, p, flat):
    assert _fused._is_flat(k, s, p) is flat


@pytest.mark.parametrize("name, xs, oc, k, s, p, flat", PATH_CASES, ids=IDS)
def test_default_path_equals_general_path(name, xs, oc, k, s, p, flat, monkeypatch):
    fast = run(xs, oc, k, s, p, seed=3)
    monkeypatch.setattr(_fused, "_is_flat", lambda kernel, stride, padding: False)
    general = run(xs, oc, k, s, p, seed=3)
    for a, b in zip(fast, general):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, xs, oc, k, s, p, flat", PATH_CASES, ids=IDS)
@pytest.mark.parametrize("path", ["default", "general"])
def test_gradcheck_each_path(name, xs, oc, k, s, p, flat, path, monkeypatch):
    if path == "general":
        monkeypatch.setattr(_fused, "_is_flat", lambda kernel, stride, padding: False)
    rng = np.random.default_rng(4)
    x = Tensor(rng.standard_normal(xs), dtype="float64", requires_grad=True)
    w = Tensor(rng.standard_normal((oc, xs[1], *k)), dtype="float64", requires_grad=True)
    b = Tensor(rng.standard_normal(oc), dtype="float64", requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, s, p), (x, w, b))


@pytest.mark.parametrize("k, s, p", [((3, 3), (1, 1), (1, 1)), ((3, 3), (2, 2), (0, 0)),
                                     ((5, 5), (1, 1), (2, 2))], ids=["flat", "stride2", "5x5"])
def test_non_contiguous_input(k, s, p):
    rng = np.random.default_rng(5)
    base = rng.standard_normal((3, 2, 9, 8)).astype(np.float32)
    strided = base.transpose(0, 1, 3, 2)  # (3, 2, 8, 9), not C-contiguous
    assert not strided.flags.c_contiguous
    got = run(strided.shape, 4, k, s, p, seed=6, dtype=np.float32, x_np=strided)
    want = run(strided.shape, 4, k, s, p, seed=6, dtype=np.float32,
               x_np=np.ascontiguousarray(strided))
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("needs", [(True, False, False), (False, True, False),
                                   (False, False, True), (False, True, True),
                                   (True, False, True)],
                         ids=["x", "w", "b", "w+b", "x+b"])
def test_any_subset_of_gradients(needs):
    rng = np.random.default_rng(7)
    x_np = rng.standard_normal((3, 2, 6, 5))
    w_np = rng.standard_normal((4, 2, 3, 3))
    b_np = rng.standard_normal(4)
    g_np = rng.standard_normal((3, 4, 6, 5))
    g = Tensor(g_np, dtype="float64")
    x, w, b = (Tensor(a, dtype="float64", requires_grad=r)
               for a, r in zip((x_np, w_np, b_np), needs))
    F.conv2d(x, w, b, 1, 1).backward(g)
    # all three from a run that needs everything
    xa, wa, ba = (Tensor(a, dtype="float64", requires_grad=True) for a in (x_np, w_np, b_np))
    F.conv2d(xa, wa, ba, 1, 1).backward(g)
    for t, ref, need in zip((x, w, b), (xa, wa, ba), needs):
        if need:
            np.testing.assert_allclose(t.grad.data, ref.grad.data, rtol=1e-12, atol=1e-12)
        else:
            assert t.grad is None
    np.testing.assert_allclose(ba.grad.data, g_np.sum(axis=(0, 2, 3)), rtol=1e-12)


def test_without_bias_matches_zero_bias():
    rng = np.random.default_rng(8)
    x_np = rng.standard_normal((2, 3, 5, 5))
    w_np = rng.standard_normal((2, 3, 3, 3))
    g = Tensor(rng.standard_normal((2, 2, 5, 5)), dtype="float64")

    def leaf(a):
        return Tensor(a, dtype="float64", requires_grad=True)

    x1, w1 = leaf(x_np), leaf(w_np)
    out1 = F.conv2d(x1, w1, None, 1, 1)
    out1.backward(g)
    x2, w2 = leaf(x_np), leaf(w_np)
    out2 = F.conv2d(x2, w2, Tensor(np.zeros(2), dtype="float64"), 1, 1)
    out2.backward(g)
    np.testing.assert_allclose(out1.data, out2.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x1.grad.data, x2.grad.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w1.grad.data, w2.grad.data, rtol=1e-12, atol=1e-12)
