"""Fuzz GPT's token ids: any input either runs or raises TypeError /
ValueError, within a time bound, and is never changed."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

from tinytorch.tensor import Tensor, manual_seed
from tinytorch.transformers import GPT

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TIME_BOUND = 5.0
V, T_MAX = 11, 8
manual_seed(0)
MODEL = GPT(V, 8, 1, 2, T_MAX)

dtypes = st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint64,
                          np.float32, np.float64, np.bool_, np.complex64])
shapes = st.lists(st.integers(0, T_MAX + 2), min_size=0, max_size=3).map(tuple)
arrays = st.tuples(dtypes, shapes, st.integers(-3, V + 3)).map(
    lambda a: np.full(a[1], a[2]).astype(a[0]) if a[0] is not np.uint64 or a[2] >= 0
    else np.full(a[1], 0, dtype=np.uint64))
lists = st.recursive(st.one_of(st.integers(-2, V + 2), st.floats(allow_nan=True),
                               st.text(max_size=2), st.none(), st.booleans()),
                     lambda c: st.lists(c, max_size=4), max_leaves=20)


def check(tokens, **kwargs):
    snapshot = copy.deepcopy(tokens)
    start = time.perf_counter()
    try:
        MODEL(tokens, **kwargs)
    except (TypeError, ValueError):
        pass
    try:
        MODEL.generate(tokens, 2, temperature=0)
    except (TypeError, ValueError):
        pass
    assert time.perf_counter() - start < TIME_BOUND
    if isinstance(snapshot, np.ndarray):
        np.testing.assert_array_equal(tokens, snapshot)
    elif isinstance(snapshot, Tensor):
        np.testing.assert_array_equal(tokens.data, snapshot.data)
    else:
        assert repr(tokens) == repr(snapshot)


@settings(**SETTINGS)
@given(tokens=arrays, start=st.one_of(st.integers(-2, T_MAX + 2), st.just(1.0), st.none()))
def test_arrays_of_any_dtype_shape_and_value(tokens, start):
    check(tokens, **({} if start is None else {"start_pos": start}))


@settings(**SETTINGS)
@given(tokens=lists)
def test_nested_lists(tokens):
    check(tokens)


@settings(**SETTINGS)
@given(tokens=arrays)
def test_tensors(tokens):
    check(Tensor(tokens, dtype=tokens.dtype) if tokens.dtype.kind in "biuf" else tokens)
