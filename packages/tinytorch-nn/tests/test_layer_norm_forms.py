"""LayerNorm's fused forward and backward against the unfused formulas.

The primitive now works in two full-size buffers (xhat and the output in
the forward, dx and one scratch in the backward). The values must be those
of the plain formulas it replaced, in float64, for every combination of
weight / bias and for one and two normalised axes.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401  (records the graph)
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F
from tinytorch.tensor import Tensor


def old_forms(x, w, b, g, n_axes, eps):
    """The unfused forward and backward, as the primitive computed them before."""
    axes = tuple(range(x.ndim - n_axes, x.ndim))
    lead = tuple(range(x.ndim - n_axes))
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=axes, keepdims=True) + eps)
    xhat = xc * rstd
    y = xhat * (1.0 if w is None else w) + (0.0 if b is None else b)
    dxhat = g * w if w is not None else g
    dx = rstd * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    dw = None if w is None else (g * xhat).sum(axis=lead)
    db = None if b is None else g.sum(axis=lead)
    return y, dx, dw, db


@pytest.mark.parametrize("norm_shape", [(6,), (3, 4)])
@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
def test_fused_layer_norm_matches_the_unfused_formulas(norm_shape, affine):
    rng = np.random.default_rng(0)
    shape = (2, 5) + norm_shape
    x, g = rng.standard_normal(shape) * 3 + 1, rng.standard_normal(shape)
    w = rng.standard_normal(norm_shape) if affine in ("weight", "both") else None
    b = rng.standard_normal(norm_shape) if affine in ("bias", "both") else None
    tx = Tensor(x, dtype="float64", requires_grad=True)
    tw = None if w is None else Tensor(w, dtype="float64", requires_grad=True)
    tb = None if b is None else Tensor(b, dtype="float64", requires_grad=True)
    y = F.layer_norm(tx, norm_shape, tw, tb, eps=1e-5)
    y.backward(Tensor(g, dtype="float64"))
    want_y, want_dx, want_dw, want_db = old_forms(x, w, b, g, len(norm_shape), 1e-5)
    np.testing.assert_allclose(y.data, want_y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tx.grad.data, want_dx, rtol=1e-10, atol=1e-12)
    if w is not None:
        np.testing.assert_allclose(tw.grad.data, want_dw, rtol=1e-10, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(tb.grad.data, want_db, rtol=1e-10, atol=1e-12)
    tx.grad = None
    assert gradcheck(lambda a: F.layer_norm(a, norm_shape, tw, tb), [tx])


def test_output_does_not_alias_the_saved_xhat():
    # Without weight and bias the output is a copy: changing it in place
    # must not change the gradient.
    x = Tensor(np.random.default_rng(1).standard_normal((3, 4)), dtype="float64",
               requires_grad=True)
    y = F.layer_norm(x, (4,))
    g = np.random.default_rng(2).standard_normal((3, 4))
    expected = old_forms(x.data, None, None, g, 1, 1e-5)[1]
    y.data[...] = 0.0
    y.backward(Tensor(g, dtype="float64"))
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-10, atol=1e-12)
