"""The attention backward computes the softmax term from dO . O.

The rule once formed D_i = sum_j dP_ij P_ij over the (Tq x Tk) scores; it now
forms the same D_i as dO_i . O_i from (Tq x Dv) arrays. Both forms, and the
kernel backends the rule runs on, must agree in float64 on random inputs,
with and without masks and dropout.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd as ag
from tinytorch.tensor import Generator, Tensor, kernels
from tinytorch.tensor.testing import kernel_backend_fixture
from tinytorch.transformers import create_causal_mask, scaled_dot_product_attention

backend = kernel_backend_fixture()  # each test using it runs on numpy and on numexpr


def old_form_grads(q, k, v, g, mask, dropout_mask):
    """The previous rule, written out: D from the full (Tq x Tk) product."""
    scale = 1.0 / np.sqrt(q.shape[-1])
    s = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    dropped = p if dropout_mask is None else p * dropout_mask
    gv = np.swapaxes(dropped, -1, -2) @ g
    dp = g @ np.swapaxes(v, -1, -2)
    if dropout_mask is not None:
        dp = dp * dropout_mask
    ds = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))
    return ds @ k * scale, np.swapaxes(ds, -1, -2) @ q * scale, gv


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dropout_p", [0.0, 0.25])
def test_new_and_old_backward_forms_agree(backend, causal, dropout_p):
    rng = np.random.default_rng(0)
    shape = (2, 3, 7, 5)  # (B, H, T, D)
    q, k, v, g = (rng.standard_normal(shape) for _ in range(4))
    mask = create_causal_mask(7).data if causal else None
    dropout_mask = None
    if dropout_p:
        # the primitive draws its mask in the transposed scores' layout (Tk, Tq)
        keep = np.swapaxes(Generator(11).numpy.random((2, 3, 7, 7)), -1, -2) >= dropout_p
        dropout_mask = keep / (1.0 - dropout_p)
    tq, tk, tv = (Tensor(a, dtype="float64", requires_grad=True) for a in (q, k, v))
    out, _ = scaled_dot_product_attention(tq, tk, tv, mask, dropout_p, generator=Generator(11))
    out.backward(Tensor(g, dtype="float64"))
    for got, want in zip((tq.grad.data, tk.grad.data, tv.grad.data),
                         old_form_grads(q, k, v, g, mask, dropout_mask)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_gradcheck_on_each_backend(backend):
    rng = np.random.default_rng(1)
    q, k, v = (Tensor(rng.standard_normal((1, 2, 5, 3)), dtype="float64", requires_grad=True)
               for _ in range(3))
    mask = create_causal_mask(5)
    assert ag.gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0],
                        (q, k, v))


def test_float32_backends_agree():
    pytest.importorskip("numexpr")
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((2, 2, 16, 8)).astype(np.float32) for _ in range(4)]
    grads = {}
    for name in kernels.BACKENDS:
        with kernels.use_backend(name):
            q, k, v = (Tensor(a, requires_grad=True) for a in arrays[:3])
            out, _ = scaled_dot_product_attention(q, k, v, create_causal_mask(16))
            out.backward(Tensor(arrays[3]))
            grads[name] = [out.data] + [t.grad.data for t in (q, k, v)]
    for a, b in zip(grads["numpy"], grads["numexpr"]):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
