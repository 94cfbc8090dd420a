"""Fuzz submission files end to end (read_submission, then validate, and the
CLI's validate command): every file is read or refused with ValueError /
OSError, validation never raises and never accepts junk, all within a time
bound, and the file is never changed."""

from __future__ import annotations

import json
import time

import pytest

from tinytorch.olympics import read_submission, validate_submission, write_submission
from tinytorch.olympics.cli import main
from tinytorch.tensor.testing import corrupt_file

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("jsonschema")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
TIME_BOUND = 10.0


def check(path, expect_valid=None):
    before = path.read_bytes()
    start = time.perf_counter()
    try:
        sub = read_submission(path)
    except (ValueError, OSError):
        sub = None
    if sub is not None:
        report = validate_submission(sub)
        assert set(report) >= {"valid", "checks", "errors", "warnings"}
        assert not any(e.startswith("internal") for e in report["errors"]), report["errors"]
        if expect_valid is not None:
            assert report["valid"] is expect_valid
    assert main(["validate", "--quiet", str(path)]) in (0, 1, 2)
    assert time.perf_counter() - start < TIME_BOUND
    assert path.read_bytes() == before


@settings(**SETTINGS)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes(tmp_path_factory, data, capsys):
    path = tmp_path_factory.mktemp("fuzz") / "sub.json"
    path.write_bytes(data)
    check(path, expect_valid=False)
    capsys.readouterr()


@settings(**SETTINGS)
@given(flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                st.sampled_from(b'{}[]",:0-e.9 \\ntruefalsenull\xff')),
                      min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.floats(0, 1)))
def test_mutated_valid_file(tmp_path_factory, valid, flips, cut, capsys):
    path = tmp_path_factory.mktemp("fuzz") / "sub.json"
    write_submission(valid, path)
    corrupt_file(path, flips, cut)
    check(path)
    capsys.readouterr()


@settings(**SETTINGS)
@given(size=st.sampled_from([10, 10_001, 50_000]), nest=st.integers(1, 300))
def test_long_and_deep_documents(tmp_path_factory, size, nest, capsys):
    path = tmp_path_factory.mktemp("fuzz") / "sub.json"
    path.write_text(json.dumps({"techniques": [0] * size, "deep": json.loads(
        "[" * nest + "]" * nest)}))
    check(path, expect_valid=False)
    capsys.readouterr()
