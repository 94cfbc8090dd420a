"""kernels.attention_softmax_: softmax over axis -2 in place, masked, shifted
or not, on one thread or split over several; against a float64 reference."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.tensor import kernels


def reference(s, blocked):
    s = s.astype(np.float64)
    if blocked is not None:
        s = np.where(blocked, -np.inf, s)
    m = s.max(axis=-2, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    e = np.exp(s - m)
    d = e.sum(axis=-2, keepdims=True)
    d[d == 0] = 1.0
    return e / d


def causal_blocked(tk, tq):
    blocked = np.tril(np.ones((tk, tq), bool), -1)  # [j, i]: key j > query i is blocked
    blocked[:, 3] = True  # query 3 sees nothing
    return blocked


BLOCKED = {
    "none": lambda shape: None,
    "2-D, broadcast": lambda shape: causal_blocked(*shape[-2:]),
    "full shape": lambda shape: np.broadcast_to(causal_blocked(*shape[-2:]), shape).copy(),
}


@pytest.fixture(params=[1, 2], ids=["1 thread", "2 threads"])
def threads(request, monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_SIZE", 1)  # split even small arrays
    previous = kernels.set_num_threads(request.param)
    yield request.param
    kernels.set_num_threads(previous)


@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 6, 5)])
@pytest.mark.parametrize("blocked_name", sorted(BLOCKED))
@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_the_reference(threads, shape, blocked_name, shift, dtype):
    s = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    blocked = BLOCKED[blocked_name](shape)
    expected = reference(s, blocked)
    out = kernels.attention_softmax_(s, blocked, shift=shift)
    assert out is s and s.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(s, expected, rtol=tol, atol=tol)
    if blocked is not None:
        assert np.all(np.broadcast_to(blocked, shape)[..., 3] == True)  # noqa: E712
        assert np.all(s[..., 3] == 0.0)  # the fully blocked query: weights 0, not NaN


def test_shift_guards_against_overflow():
    s = np.array([[1000.0], [999.0]], dtype=np.float32)
    kernels.attention_softmax_(s, shift=True)
    np.testing.assert_allclose(s[:, 0], [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1))],
                               rtol=1e-6)
