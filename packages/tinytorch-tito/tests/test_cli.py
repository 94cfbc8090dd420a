"""The ``tito`` command line through typer's CliRunner: output, exit codes,
errors without a traceback."""

from __future__ import annotations

import json

import pytest
from tito.cli import app
from tito.system import Finding, findings
from typer.testing import CliRunner

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def assert_no_traceback(result) -> None:
    assert "Traceback" not in result.output, result.output
    # A raised exception other than SystemExit would be one the CLI failed to handle.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@pytest.mark.parametrize("args, code", [
    ((), 2),  # no command: help, usage status
    (("--help",), 0),
    (("--version",), 0),
    (("no-such-command",), 2),
    (("system",), 2),
    (("system", "info", "--bogus"), 2),
    (("olympics", "bogus"), 2),
    (("olympics", "validate"), 2),  # FILE missing: the olympics CLI's usage error
    (("olympics", "validate", "/no/such/file.json"), 2),
    (("submit",), 2),
    (("submit", "/no/such/file.json", "--output-dir", "x"), 2),
])
def test_exit_codes(args, code):
    result = invoke(*args)
    assert result.exit_code == code, (args, result.output)
    assert_no_traceback(result)


def test_system_info_lists_machine_and_libraries():
    result = invoke("system", "info")
    assert result.exit_code == 0, result.output
    for word in ("python", "numpy", "blas", "load average", "installed tinytorch packages"):
        assert word in result.output


def test_doctor_fails_on_an_unsatisfied_dependency():
    packages = [{"name": "tinytorch-x", "version": "0.1.0", "ok": False, "requirements": [
        {"requirement": "numpy>=99", "status": "wrong version", "installed": "2.0"}]}]
    info = {"cpu_count_usable": 2, "load_average": [0.1, 0.1, 0.1],
            "threadpools": [{"num_threads": 8}], "thread_env": {}}
    found = findings(info, packages)
    assert found[0] == Finding("error", "tinytorch-x needs numpy>=99: wrong version "
                                        "(installed 2.0)", "pip install 'numpy>=99'")
    assert any("oversubscribed" in f.what and "OMP_NUM_THREADS=2" in f.fix for f in found)


@pytest.mark.parametrize("load, warned", [(0.5, False), (1.6, True), (9.0, True)])
def test_load_warning_follows_the_core_count(load, warned):
    info = {"cpu_count_usable": 2, "load_average": [load, 0, 0],
            "threadpools": [{"num_threads": 1}], "thread_env": {"OMP_NUM_THREADS": "1"}}
    pkgs = [{"name": "tinytorch-x", "version": "0.1.0", "ok": True, "requirements": []}]
    assert any("load average" in f.what for f in findings(info, pkgs)) == warned


def test_olympics_events_is_the_olympics_cli(capsys):
    from tinytorch.olympics.cli import main as olympics_main

    assert olympics_main(["events"]) == 0
    direct = capsys.readouterr().out
    result = invoke("olympics", "events")
    assert result.exit_code == 0
    assert "latency_sprint" in result.output
    assert result.output == direct  # one implementation, the same text


def test_olympics_help_is_passed_through():
    result = invoke("olympics", "validate", "--help")
    assert result.exit_code == 0
    assert "usage:" in result.output and "file" in result.output


@pytest.mark.parametrize("command", [("submit",), ("olympics", "submit")])
def test_submit_rejects_an_invalid_submission(tmp_path, command):
    path = tmp_path / "sub.json"
    path.write_text(json.dumps({"athlete_name": "ada"}))
    result = invoke(*command, str(path), "--output-dir", str(tmp_path / "final"))
    assert result.exit_code == 1, result.output
    assert_no_traceback(result)
    assert not (tmp_path / "final" / "sub.json").exists()


@pytest.mark.parametrize("command", [("submit",), ("olympics", "submit")])
def test_submit_file_alone_writes_into_submissions(tmp_path, monkeypatch, make_submission,
                                                   command):
    """``tito submit FILE``, the exact command the course ends with."""
    path = tmp_path / "sub.json"
    make_submission(path, athlete="Ada")
    monkeypatch.chdir(tmp_path)
    result = invoke(*command, str(path))
    assert result.exit_code == 0, result.output
    assert_no_traceback(result)
    written = json.loads((tmp_path / "submissions" / "sub.json").read_text())
    assert written["validation"]["valid"] is True


@pytest.mark.parametrize("content", ["not json", "[1, 2]", ""])
def test_validate_unreadable_files(tmp_path, content):
    path = tmp_path / "sub.json"
    path.write_text(content)
    result = invoke("olympics", "validate", str(path))
    assert result.exit_code in (1, 2), result.output
    assert_no_traceback(result)


@pytest.mark.parametrize("words, expected", [
    ("tito sys", "system"), ("tito milestone r", "run"), ("tito olympics val", "validate"),
    ("tito lead", "leaderboard"),
])
def test_shell_completion(words, expected):
    # What bash's completion function asks: typer's completion protocol.
    result = runner.invoke(app, [], prog_name="tito", env={
        "_TITO_COMPLETE": "complete_bash", "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1)})
    assert result.exit_code == 0
    assert result.output.split() == [expected]
