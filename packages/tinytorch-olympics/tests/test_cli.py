"""The command line: events, run, validate, submit, with their exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tinytorch.olympics import read_submission, validate_submission, write_submission
from tinytorch.olympics.cli import OUT_OF_SCOPE, main

REPO = "https://github.com/ada/tinytorch"


@pytest.fixture
def valid_file(tmp_path, valid):
    path = tmp_path / "in" / "ada.json"
    path.parent.mkdir()
    write_submission(valid, path)
    return path


@pytest.fixture
def invalid_file(tmp_path, valid):
    valid["honor_code"] = False
    path = tmp_path / "bad.json"
    write_submission(valid, path)
    return path


def test_events_lists_the_five_events(capsys):
    assert main(["events"]) == 0
    out = capsys.readouterr().out
    for event in ("latency_sprint", "memory_challenge", "accuracy_contest", "all_around",
                  "extreme_push"):
        assert event in out
    assert ">= 1.5x" in out and "closed" in out


def test_validate_exit_statuses(capsys, valid_file, invalid_file, tmp_path):
    assert main(["validate", str(valid_file)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("VALID")
    assert main(["validate", str(invalid_file)]) == 1
    out = capsys.readouterr().out
    assert "honor_code: must be true" in out and out.rstrip().endswith("INVALID")
    not_json = tmp_path / "x.json"
    not_json.write_text("{nope")
    binary = tmp_path / "b.json"
    binary.write_bytes(b"\xff\xfe\x00")
    for path in (tmp_path / "missing.json", not_json, binary, tmp_path):
        assert main(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: cannot read") and "Traceback" not in err


def test_validate_json_report(capsys, invalid_file):
    assert main(["validate", "--json", str(invalid_file)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False and report["errors"]


def test_submit_writes_the_checked_file(capsys, valid_file, tmp_path):
    out_dir = tmp_path / "final"
    assert main(["submit", str(valid_file), "--output-dir", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert OUT_OF_SCOPE in out and "out of scope" in out
    final = read_submission(out_dir / "ada.json")
    assert final["validation"]["valid"] is True and final["validated_at"].endswith("Z")
    assert validate_submission(final)["valid"]
    assert os.listdir(out_dir) == ["ada.json"]
    # Again: the file exists, nothing is replaced without --overwrite.
    before = (out_dir / "ada.json").read_text()
    assert main(["submit", str(valid_file), "--output-dir", str(out_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out_dir / "ada.json").read_text() == before
    assert main(["submit", str(valid_file), "--output-dir", str(out_dir), "--overwrite"]) == 0


def test_submit_without_output_dir_writes_into_submissions(capsys, valid_file, tmp_path,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["submit", str(valid_file)]) == 0
    final = read_submission(tmp_path / "submissions" / "ada.json")
    assert final["validation"]["valid"] is True


def test_submit_refuses_an_invalid_file(capsys, invalid_file, tmp_path):
    out_dir = tmp_path / "final"
    assert main(["submit", str(invalid_file), "--output-dir", str(out_dir)]) == 1
    assert "not submitted" in capsys.readouterr().out
    assert not out_dir.exists()


def test_usage_errors_exit_2(capsys):
    for argv in ([], ["dance"], ["submit"], ["run", "--athlete", "a"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    capsys.readouterr()


def test_run_writes_a_valid_submission(capsys, tmp_path):
    path = tmp_path / "mlp.json"
    argv = ["run", "--model", "mlp", "--quick", "--training", "1", "--athlete", "Ada",
            "--github-repo", REPO, "--honor-code", "--output", str(path)]
    status = main(argv)
    out = capsys.readouterr().out
    sub = read_submission(path)
    report = validate_submission(sub)
    # The A/A pair qualifies for accuracy_contest unless timing noise on this
    # machine exceeds 10%: the exit status follows the verdict either way.
    assert status == (0 if report["valid"] else 1)
    assert [e for e in report["errors"] if not e.startswith("event_qualification")] == []
    assert sub["techniques"] == [] and "A/A" in out
    assert "speedup" in out and str(path) in out
    # The file is there now: a second run refuses before training.
    assert main(argv) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_run_without_the_honor_code_is_written_but_invalid(capsys, tmp_path):
    path = tmp_path / "mlp.json"
    status = main(["run", "--model", "mlp", "--quick", "--training", "0", "--athlete", "Ada",
                   "--github-repo", REPO, "--output", str(path), "--event", "accuracy_contest"])
    assert status == 1
    assert "--honor-code" in capsys.readouterr().out
    assert read_submission(path)["honor_code"] is False


@pytest.mark.parametrize("extra, message", [
    (["--event", "marathon"], "unknown Olympic event"),
    (["--github-repo", "http://github.com/a/b"], "https"),
])
def test_run_reports_bad_options_in_one_line(capsys, tmp_path, extra, message):
    argv = ["run", "--model", "mlp", "--quick", "--training", "0", "--athlete", "Ada",
            "--github-repo", REPO, "--output", str(tmp_path / "x.json"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_module_entry_point(valid_file):
    proc = subprocess.run([sys.executable, "-m", "tinytorch.olympics", "validate",
                           str(valid_file)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "VALID" in proc.stdout
