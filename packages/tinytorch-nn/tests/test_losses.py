"""Losses: values against NumPy references, gradchecks, argument errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401
from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F
from tinytorch.tensor import Tensor

RNG = np.random.default_rng(1)


def t64(*shape, scale=1.0):
    return Tensor(RNG.standard_normal(shape) * scale, dtype=np.float64, requires_grad=True)


def ce_reference(logits, target, reduction="mean", ignore_index=None, eps=0.0, axis=-1):
    z = np.moveaxis(logits, axis, -1)
    c = z.shape[-1]
    z = z.reshape(-1, c)
    t = target.reshape(-1)
    logp = z - z.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    valid = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    tt = np.where(valid, t, 0)
    nll = -(1 - eps) * logp[np.arange(len(t)), tt] - eps * logp.mean(1)
    nll = np.where(valid, nll, 0.0)
    if reduction == "none":
        return nll.reshape(target.shape)
    return nll.sum() if reduction == "sum" else nll.sum() / valid.sum()


CE_CASES = [
    # (name, logits shape, target shape, class axis, kwargs)
    ("NC_mean", (5, 4), (5,), -1, {}),
    ("NC_sum", (5, 4), (5,), -1, {"reduction": "sum"}),
    ("NC_none", (5, 4), (5,), -1, {"reduction": "none"}),
    ("BTC_mean", (2, 3, 4), (2, 3), -1, {}),
    ("BTC_sum", (2, 3, 4), (2, 3), -1, {"reduction": "sum"}),
    ("BTC_none", (2, 3, 4), (2, 3), -1, {"reduction": "none"}),
    ("NCd_mean", (2, 4, 3), (2, 3), 1, {}),
    ("NCd_none", (2, 4, 5, 3), (2, 5, 3), 1, {"reduction": "none"}),
    ("ignore_mean", (6, 3), (6,), -1, {"ignore_index": 1}),
    ("ignore_none", (6, 3), (6,), -1, {"ignore_index": 1, "reduction": "none"}),
    ("smoothing", (5, 4), (5,), -1, {"label_smoothing": 0.1}),
    ("smoothing_ignore_sum", (2, 3, 4), (2, 3), -1,
     {"label_smoothing": 0.2, "ignore_index": 0, "reduction": "sum"}),
]


@pytest.mark.parametrize("name, lshape, tshape, axis, kw", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy_value_and_gradient(name, lshape, tshape, axis, kw):
    logits = t64(*lshape, scale=2.0)
    c = lshape[axis]
    target = RNG.integers(0, c, tshape)
    if "ignore_index" in kw:
        target.reshape(-1)[0] = kw["ignore_index"]  # at least one ignored entry
        target.reshape(-1)[-1] = (kw["ignore_index"] + 1) % c  # at least one counted
    out = F.cross_entropy(logits, target, **kw)
    expected = ce_reference(logits.data, target, kw.get("reduction", "mean"),
                            kw.get("ignore_index"), kw.get("label_smoothing", 0.0), axis)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda z: F.cross_entropy(z, target, **kw), (logits,))


def test_cross_entropy_module_and_stability_with_huge_logits():
    loss = nn.CrossEntropyLoss()
    logits = Tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]], requires_grad=True)
    out = loss(logits, Tensor(np.array([2, 0])))
    assert np.isfinite(out.item())
    np.testing.assert_allclose(out.item(), (2000.0 + np.log(3)) / 2, rtol=1e-6)
    out.backward()
    assert np.all(np.isfinite(logits.grad.data))
    # row gradients sum to zero (softmax - onehot)
    np.testing.assert_allclose(logits.grad.data.sum(1), 0, atol=1e-6)
    assert logits.grad.dtype == np.float32


def test_cross_entropy_backward_is_softmax_minus_onehot():
    z = Tensor(RNG.standard_normal((4, 5)), dtype=np.float64, requires_grad=True)
    t = np.array([0, 4, 2, 2])
    F.cross_entropy(z, t, reduction="sum").backward()
    p = np.exp(z.data) / np.exp(z.data).sum(1, keepdims=True)
    np.testing.assert_allclose(z.grad.data, p - np.eye(5)[t], atol=1e-12)


@pytest.mark.parametrize("logits, target, exc, message", [
    (np.ones((3, 4)), np.array([0, 4, 1]), ValueError, "target 4 is out of range for 4 classes"),
    (np.ones((3, 4)), np.array([0, -1, 1]), ValueError, "target -1 is out of range"),
    (np.ones((3, 4)), np.array([0, 1]), ValueError, "does not match logits"),
    (np.ones((2, 3, 4)), np.ones((3, 2), dtype=int), ValueError, "does not match logits"),
    (np.ones((3, 4)), np.array([0.0, 1.0, 2.0]), TypeError, "integers"),
    (np.ones((3, 4), dtype=np.int64), np.array([0, 1, 2]), TypeError, "floating point"),
])
def test_cross_entropy_bad_targets(logits, target, exc, message):
    with pytest.raises(exc, match=message):
        F.cross_entropy(Tensor(logits, dtype=logits.dtype), target)


def test_cross_entropy_bad_options():
    z = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(z, np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.0)
    # an ignored target may be out of range (e.g. -100)
    assert np.isfinite(F.cross_entropy(z, np.array([0, -100]), ignore_index=-100).item())


def test_cross_entropy_flops_and_single_primitive():
    from tinytorch.tensor import hooks
    seen = []
    with hooks(post=lambda op, inputs, out, params, saved:
               seen.append((op.name, op.flops([i.data for i in inputs], out.data, params)))):
        F.cross_entropy(Tensor(np.ones((8, 10))), np.zeros(8, dtype=int))
    assert seen == [("cross_entropy", 5 * 80)]


# ---------------------------------------------------------------------- MSE


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse(reduction):
    a, b = t64(3, 4), t64(3, 4)
    out = nn.MSELoss(reduction)(a, b)
    d = (a.data - b.data) ** 2
    expected = {"mean": d.mean(), "sum": d.sum(), "none": d}[reduction]
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda a, b: F.mse_loss(a, b, reduction), (a, b))


def test_mse_shape_error():
    with pytest.raises(ValueError, match=r"\(3,\).*\(3, 1\)"):
        F.mse_loss(Tensor(np.ones(3)), Tensor(np.ones((3, 1))))
