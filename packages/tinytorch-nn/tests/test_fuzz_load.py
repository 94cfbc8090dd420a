"""Fuzz Module.load with damaged files: it either loads or raises ValueError
(StateDictError is one), within a time bound, and changes neither the file
nor, on failure, the module."""

from __future__ import annotations

import time
import zipfile

import numpy as np
import pytest

from tinytorch.nn import Linear, Sequential

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
TIME_BOUND = 5.0  # seconds per load, far above the milliseconds a load takes


def model():
    return Sequential(Linear(4, 3), Linear(3, 2))


def good_bytes(tmp_path) -> bytes:
    path = tmp_path / "good.npz"
    model().save(path)
    return path.read_bytes()


def edits():
    """A list of byte edits: (offset fraction, new byte) or a truncation."""
    flip = st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255))
    return st.tuples(st.lists(flip, max_size=8),
                     st.one_of(st.none(), st.floats(0, 1)),
                     st.binary(max_size=64))


def apply(data: bytes, edit) -> bytes:
    flips, cut, tail = edit
    out = bytearray(data)
    for frac, byte in flips:
        out[int(frac * len(out))] = byte
    if cut is not None:
        out = out[: int(cut * len(out))]
    return bytes(out) + tail


def check_load(path, m):
    before_file = path.read_bytes()
    before_state = {k: v.copy() for k, v in m.state_dict().items()}
    start = time.perf_counter()
    try:
        m.load(path)
    except ValueError:
        for k, v in m.state_dict().items():
            np.testing.assert_array_equal(v, before_state[k])  # untouched on failure
    assert time.perf_counter() - start < TIME_BOUND
    assert path.read_bytes() == before_file  # the input is never changed


@settings(**SETTINGS)
@given(edit=edits())
def test_mutated_module_files(tmp_path_factory, edit):
    tmp = tmp_path_factory.mktemp("fuzz")
    path = tmp / "m.npz"
    path.write_bytes(apply(good_bytes(tmp), edit))
    check_load(path, model())


@settings(**SETTINGS)
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(data)
    check_load(path, model())


arrays = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8,
                          np.bool_]).flatmap(
    lambda dt: st.lists(st.integers(0, 4), max_size=3).map(
        lambda shape: (np.random.default_rng(len(shape)).standard_normal(shape) * 1e6
                       ).astype(dt)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # huge values cast to small ints
@settings(**SETTINGS)
@given(entries=st.dictionaries(st.sampled_from(["0.weight", "0.bias", "1.weight", "1.bias",
                                                 "extra", "file", "allow_pickle"]),
                               arrays, max_size=6))
def test_wrong_keys_shapes_and_dtypes(tmp_path_factory, entries):
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    with zipfile.ZipFile(path, "w") as zf:  # exact member names, even "file"
        for name, arr in entries.items():
            with zf.open(name + ".npy", "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
    check_load(path, model())
