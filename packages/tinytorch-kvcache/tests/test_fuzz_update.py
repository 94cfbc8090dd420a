"""Fuzz KVCache.update through its public API only: every call either
succeeds or raises one of its documented errors (TypeError, ValueError,
IndexError, RuntimeError) within a time bound; the inputs are never changed,
and a refused call leaves the cache as it was."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tinytorch.kvcache import KVCache
from tinytorch.tensor import Tensor

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TIME_BOUND = 5.0
DOCUMENTED = (TypeError, ValueError, IndexError, RuntimeError)
B, L, NL, H, D = 2, 6, 2, 2, 3

dtypes = st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.bool_])
dims = st.tuples(st.sampled_from([B, 1, 3]), st.sampled_from([H, 1]), st.integers(0, L + 2),
                 st.sampled_from([D, 2]))
shapes = st.one_of(dims, st.lists(st.integers(0, 4), max_size=5).map(tuple))
values = st.sampled_from([0.0, 1.5, np.nan, np.inf, -1e30])


@st.composite
def operands(draw):
    dt, shape, fill = draw(dtypes), draw(shapes), draw(values)
    with np.errstate(invalid="ignore", over="ignore"):
        arr = np.full(shape, fill).astype(dt)
    kind = draw(st.sampled_from(["array", "tensor", "list", "scalar", "none", "text"]))
    if kind == "tensor":
        return Tensor(arr, dtype=arr.dtype)
    if kind == "list":
        return arr.tolist()
    return {"array": arr, "scalar": 1.0, "none": None, "text": "kv"}[kind]


layers = st.one_of(st.integers(-3, NL + 2), st.just(1.0), st.just(True), st.none(),
                   st.just(np.int64(1)))
calls = st.lists(st.tuples(st.sampled_from(["update", "advance", "reset"]), layers,
                           operands(), operands(), st.integers(-1, 3)),
                 min_size=1, max_size=8)


def snapshot(x):
    if isinstance(x, Tensor):
        return x.data.copy()
    if isinstance(x, np.ndarray):
        return x.copy()
    return repr(x)


def same(x, snap):
    got = snapshot(x)
    if isinstance(snap, np.ndarray):
        return np.array_equal(got, snap, equal_nan=True) and got.dtype == snap.dtype
    return got == snap


@settings(**SETTINGS)
@given(seq=calls)
def test_update_sequences(seq):
    cache = KVCache(B, L, NL, H, D)
    for op, layer, key, value, n in seq:
        before_k, before_v = snapshot(key), snapshot(value)
        state = (cache.seq_len, [np.array(cache.get(i)[0]) for i in range(NL)])
        start = time.perf_counter()
        try:
            if op == "update":
                cache.update(layer, key, value)
            elif op == "advance":
                cache.advance(n)
            else:
                cache.reset()
        except DOCUMENTED:
            # A refused call changes nothing the cache reports.
            assert cache.seq_len == state[0]
            for i in range(NL):
                np.testing.assert_array_equal(cache.get(i)[0], state[1][i])
        assert time.perf_counter() - start < TIME_BOUND
        assert same(key, before_k) and same(value, before_v)
        assert 0 <= cache.seq_len <= L
