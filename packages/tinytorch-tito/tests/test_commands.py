"""``tito milestone``, ``tito test``, ``tito bench`` and ``tito profile``."""

from __future__ import annotations

import json

import pytest
from tito.cli import app
from tito.tools import NotFound, find_benchmarks, package_name, pick_benchmark
from typer.testing import CliRunner

from tinytorch.milestones import MILESTONES, find

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.mark.parametrize("key, module", [
    ("1", "m01_perceptron"), ("01", "m01_perceptron"), ("m03_mlp_digits", "m03_mlp_digits"),
    ("5", "m05_reverse"), ("5b", "m05_shakespeare"), ("7", "m07_quantization"),
])
def test_find_milestone(key, module):
    assert find(key).module == f"tinytorch.milestones.{module}"


@pytest.mark.parametrize("key", ["9", "x", "", "5c"])
def test_unknown_milestone(key):
    with pytest.raises(ValueError, match="no milestone"):
        find(key)


def test_every_milestone_module_imports_and_has_main():
    for m in MILESTONES:
        assert callable(m.load().main), m.key


def test_milestone_list_and_info():
    listing = invoke("milestone", "list")
    assert listing.exit_code == 0
    for m in MILESTONES:
        assert f"│ {m.key} " in listing.output
    info = invoke("milestone", "info", "2")
    assert info.exit_code == 0 and "XOR" in info.output
    assert invoke("milestone", "info", "42").exit_code == 2


def test_milestone_run_quick_passes():
    result = invoke("milestone", "run", "1", "--quick")
    assert result.exit_code == 0, result.output
    assert "PASSED" in result.output


def test_milestone_run_passes_options_through():
    assert invoke("milestone", "run", "1", "--quick", "--seed", "3").exit_code == 0
    assert invoke("milestone", "run", "1", "--no-such-option").exit_code == 2


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_profile_writes_table_and_trace(tmp_path, model):
    trace = tmp_path / "t.json"
    result = invoke("profile", model, "--batch", "4", "--trace", str(trace))
    assert result.exit_code == 0, result.output
    assert "per op:" in result.output and "linear" in result.output
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e.get("name") == "linear" and e.get("ph") == "X" for e in events)


@pytest.mark.parametrize("args", [("profile", "resnet"), ("profile", "mlp", "--batch", "0"),
                                  ("profile", "mlp", "--trace", "/no/such/dir/t.json")])
def test_profile_bad_input(args):
    assert invoke(*args).exit_code == 2


@pytest.mark.parametrize("name, dist", [("nn", "tinytorch-nn"), ("tinytorch.nn", "tinytorch-nn"),
                                        ("tinytorch_Quant", "tinytorch-quant")])
def test_package_name(name, dist):
    assert package_name(name) == dist


def test_test_command_unknown_package():
    result = invoke("test", "tinytorch-does-not-exist")
    assert result.exit_code == 2 and "not installed" in result.output


def test_test_command_source_without_tests(tmp_path):
    result = invoke("test", "nn", "--source", str(tmp_path))
    assert result.exit_code == 2 and "no tests/ folder" in result.output


def test_test_command_runs_pytest(tmp_path):
    source = tmp_path / "pkg"
    (source / "tests").mkdir(parents=True)
    (source / "tests" / "test_one.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    assert invoke("test", "nn", "--source", str(source)).exit_code == 0
    (source / "tests" / "test_two.py").write_text("def test_bad():\n    assert 1 + 1 == 3\n")
    assert invoke("test", "nn", "--source", str(source)).exit_code == 1


def test_benchmarks_found_in_a_checkout(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "bench_fast.py").write_text('"""Fast."""\nprint("median 1")\n')
    scripts = find_benchmarks(str(tmp_path))
    assert pick_benchmark(scripts, "fast") == pick_benchmark(scripts, "bench_fast.py")
    with pytest.raises(NotFound, match="choose one of fast"):
        pick_benchmark(scripts, "slow")
    assert invoke("bench", "--root", str(tmp_path)).output.startswith("fast")
    assert invoke("bench", "fast", "--root", str(tmp_path)).exit_code == 0
    (tmp_path / "benchmarks" / "bench_bad.py").write_text("raise SystemExit(3)\n")
    assert invoke("bench", "bad", "--root", str(tmp_path)).exit_code == 1


def test_bench_outside_a_checkout(tmp_path):
    result = invoke("bench", "--root", str(tmp_path))
    assert result.exit_code == 2 and "repository" in result.output
