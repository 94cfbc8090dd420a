"""Fuzz load_state: damaged archives and arbitrary metadata either load or
raise ValueError, within a time bound, and never change the file."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tinytorch.optim import load_state, save_state
from tinytorch.tensor.testing import corrupt_file

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TIME_BOUND = 5.0
STATE = {"step": 3, "w": np.arange(6.0).reshape(2, 3), "pair": (1, "a"),
         "by_index": {0: {"m": np.ones(2, np.float32)}}, "none": None}


def check(path):
    before = path.read_bytes()
    start = time.perf_counter()
    try:
        load_state(path)
    except ValueError:
        pass
    assert time.perf_counter() - start < TIME_BOUND
    assert path.read_bytes() == before


@settings(**SETTINGS)
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      max_size=8),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_state_files(tmp_path_factory, flips, cut):
    path = tmp_path_factory.mktemp("fuzz") / "s.npz"
    save_state(path, STATE)
    corrupt_file(path, flips, cut)
    check(path)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
              st.sampled_from(["__array__", "__tuple__", "__items__", "a0", "a1"])),
    lambda c: st.one_of(st.lists(c, max_size=4),
                        st.dictionaries(st.sampled_from(["__array__", "__tuple__", "__items__",
                                                         "x", "tree", "format"]), c,
                                        max_size=3)),
    max_leaves=30)


@settings(**SETTINGS)
@given(tree=json_values, envelope=st.booleans())
def test_arbitrary_metadata(tmp_path_factory, tree, envelope):
    meta = {"format": "tinytorch-state", "version": 1, "tree": tree} if envelope else tree
    path = tmp_path_factory.mktemp("fuzz") / "s.npz"
    np.savez(path, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
             a0=np.zeros(3))
    check(path)
