"""Submission files from an untrusted source: bounded work before parsing,
list lengths checked before the schema, and clear CLI messages."""

from __future__ import annotations

import os
import time

import pytest

from tinytorch.olympics import (
    MAX_SUBMISSION_BYTES,
    read_submission,
    validate_submission,
    write_submission,
)
from tinytorch.olympics.cli import main
from tinytorch.olympics.validation import MAX_ARRAY_ITEMS, MAX_VALUES


def test_oversized_file_is_refused_before_parsing(tmp_path, capsys):
    path = tmp_path / "huge.json"
    # The repro's shape: a 20-million-item list, here just past the limit.
    with open(path, "w") as f:
        f.write('{"techniques": [' + "0," * (MAX_SUBMISSION_BYTES // 2) + "0]}")
    start = time.perf_counter()
    with pytest.raises(ValueError, match="MAX_SUBMISSION_BYTES"):
        read_submission(path)
    assert main(["validate", str(path)]) == 2
    assert "larger than" in capsys.readouterr().err
    assert time.perf_counter() - start < 5.0


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_not_a_memory_error(capsys):
    start = time.perf_counter()
    assert main(["validate", "/dev/zero"]) == 2
    assert "larger than" in capsys.readouterr().err
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("content", [b"[" * 100_000, b"\xff\xfe", b"", b"{"])
def test_malformed_files_are_usage_errors(tmp_path, capsys, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    assert main(["validate", str(path)]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["techniques", "extra"])
def test_long_lists_are_rejected_before_the_schema(valid, where):
    sub = dict(valid)
    sub[where] = list(range(MAX_ARRAY_ITEMS + 1))
    start = time.perf_counter()
    report = validate_submission(sub)
    assert time.perf_counter() - start < 1.0
    assert not report["valid"]
    assert [c["name"] for c in report["checks"]] == ["document", "size"]
    assert f"$.{where} is a list of" in report["errors"][0]


def test_twenty_million_items_validate_quickly():
    start = time.perf_counter()
    report = validate_submission({"techniques": [0] * 20_000_000})
    assert time.perf_counter() - start < 2.0
    assert not report["valid"] and "more than" in report["errors"][0]


def test_too_many_values_in_all(valid):
    sub = dict(valid)
    sub["extra"] = [list(range(1000))] * (MAX_VALUES // 1000 + 1)
    report = validate_submission(sub)
    assert not report["valid"] and "values" in report["errors"][0]


def test_a_valid_submission_passes_the_size_check(valid):
    assert validate_submission(valid)["valid"]


def test_submit_output_dir_that_is_a_file(tmp_path, capsys, valid):
    src = tmp_path / "ada.json"
    write_submission(valid, src)
    not_a_dir = tmp_path / "out"
    not_a_dir.write_text("I am a file")
    assert main(["submit", str(src), "--output-dir", str(not_a_dir)]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a directory" in err and "--overwrite" not in err
    assert not_a_dir.read_text() == "I am a file"


@pytest.mark.parametrize("dtype", ["f,", "f4,i4", "(2)f4", "object", "U3", 7, None, "no such"])
def test_unreadable_architecture_dtype_is_reported_not_an_internal_error(valid, dtype):
    # NumPy parses some dtype strings as structured types and raises
    # SyntaxError on others ("f,"): validation names the problem instead.
    valid["optimized"]["architecture"]["parameters"][0][2] = dtype
    report = validate_submission(valid)
    assert report["valid"] is False
    assert not any(e.startswith("internal") for e in report["errors"]), report["errors"]
    assert any("unreadable shapes or dtypes" in e for e in report["errors"]), report["errors"]
