"""Gradient clipping by total norm and by value, on hand-computed cases."""

import math

import numpy as np
import pytest

from tinytorch.optim import clip_grad_norm, clip_grad_norm_, clip_grad_value_
from tinytorch.tensor import Tensor


def with_grads(*grads):
    ps = []
    for g in grads:
        p = Tensor(np.zeros(np.shape(g)), dtype=np.float64, requires_grad=True)
        p.grad = Tensor(np.array(g, dtype=np.float64), dtype=np.float64)
        ps.append(p)
    return ps


def test_norm_is_over_all_gradients_together():
    a, b = with_grads([3.0], [[4.0, 0.0]])  # total 2-norm 5
    total = clip_grad_norm([a, b], max_norm=1.0)
    assert total == 5.0
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(a.grad.data, [3.0 * scale])
    np.testing.assert_allclose(b.grad.data, [[4.0 * scale, 0.0]])
    assert math.hypot(a.grad.data[0], b.grad.data[0, 0]) <= 1.0


@pytest.mark.parametrize("norm_type,expected", [
    (1.0, 1 + 2 + 4), (2.0, math.sqrt(1 + 4 + 16)), (3.0, (1 + 8 + 64) ** (1 / 3)),
    (float("inf"), 4.0),
])
def test_norm_types(norm_type, expected):
    ps = with_grads([1.0, -2.0], [-4.0])
    assert clip_grad_norm_(ps, 1e9, norm_type) == pytest.approx(expected, rel=1e-14)
    np.testing.assert_array_equal(ps[0].grad.data, [1.0, -2.0])  # below max_norm: unchanged


def test_none_grads_ignored_and_no_grads_give_zero():
    a, = with_grads([3.0, 4.0])
    b = Tensor(np.ones(3), requires_grad=True)
    assert clip_grad_norm([a, b], 100.0) == 5.0
    assert b.grad is None
    assert clip_grad_norm([b], 1.0) == 0.0
    assert clip_grad_norm(a, 1.0) == pytest.approx(5.0)  # a single Tensor is accepted


def test_float32_norm_does_not_overflow():
    p = Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    p.grad = Tensor(np.array([3e20, 4e20], dtype=np.float32))  # squares overflow float32
    assert clip_grad_norm([p], 1.0) == pytest.approx(5e20, rel=1e-6)
    assert p.grad.data.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, [0.6, 0.8], rtol=1e-5)


def test_nonfinite_norm():
    a, = with_grads([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="inf"):
        clip_grad_norm([a], 1.0, error_if_nonfinite=True)
    assert clip_grad_norm([a], 1.0) == math.inf
    assert np.isnan(a.grad.data[0]) and a.grad.data[1] == 0.0  # scaled by 0, as torch


@pytest.mark.parametrize("kwargs,exc", [
    ({"max_norm": -1.0}, ValueError), ({"max_norm": 1.0, "norm_type": 0.0}, ValueError),
    ({"max_norm": 1.0, "norm_type": "fro"}, TypeError), ({"max_norm": "1"}, TypeError),
])
def test_clip_grad_norm_validation(kwargs, exc):
    with pytest.raises(exc):
        clip_grad_norm(with_grads([1.0]), **kwargs)
    with pytest.raises(TypeError, match="Tensors"):
        clip_grad_norm([np.ones(2)], 1.0)


def test_clip_grad_value():
    a, b = with_grads([-3.0, 0.2, 5.0], [0.5])
    clip_grad_value_([a, b], 1.0)
    np.testing.assert_array_equal(a.grad.data, [-1.0, 0.2, 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.5])
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_([a], -1.0)
