"""Integration test of milestone 6: the quick Olympics run writes a valid submission.

The script is loaded by its path and ``main(["--quick", ...])`` runs the whole
pipeline (brief training of the MLP, the CNN and the tiny GPT; SingleStream,
Offline, memory and accuracy through tinytorch-perf; scores; a submission
written into a temporary directory). Its output file is then validated
again, from disk, by the library and by the command line. Timings are
printed by the script, never asserted.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "milestones" / "m06_olympics.py"
REPO = "https://github.com/ada/tinytorch"


def load():
    spec = importlib.util.spec_from_file_location("_test_milestone_m06_olympics", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("olympics")
    m06 = load()
    result = m06.main(["--quick", "--output-dir", str(out_dir), "--github-repo", REPO,
                       "--athlete", "Ada"])
    return out_dir, result


def test_quick_run_writes_one_valid_submission(run, capsys):
    from tinytorch.olympics import read_submission, validate_submission

    out_dir, result = run
    files = sorted(os.listdir(out_dir))
    prefixes = ["m06_submission_cnn_int8_", "m06_submission_cnn_structured_",
                "m06_submission_gpt_kvcache_", "m06_submission_mlp_pruned_int8_"]
    assert len(files) == 4
    assert all(f.startswith(p) for f, p in zip(files, prefixes)), files
    path = out_dir / files[2]
    assert str(path) == result["submission_path"]
    submission = read_submission(path)
    report = validate_submission(submission)
    assert report["valid"], report["errors"]
    assert result["valid"] and result["passed"]
    assert submission["athlete_name"] == "Ada" and submission["github_repo"] == REPO
    assert submission["division"] == "closed" and submission["honor_code"] is True
    assert submission["techniques"] == ["kv-cache"]
    assert submission["task"]["type"] == "generation"
    assert submission["event"] == result["event"] and result["event"] in result["events"]["gpt"]


def test_the_kv_cache_keeps_the_model_and_its_outputs(run):
    from tinytorch.olympics import read_submission

    out_dir, result = run
    sub = read_submission(result["submission_paths"]["gpt"])
    b, o = sub["baseline"], sub["optimized"]
    assert b["architecture"]["signature"] == o["architecture"]["signature"]
    assert b["predictions_sha256"] == o["predictions_sha256"]  # same greedy tokens
    assert b["accuracy"] == o["accuracy"] > 1 / 76  # briefly trained: better than chance
    for m in (b, o):
        assert m["single_stream"]["queries"] >= 64 and m["offline"]["runs"] == 3


def test_the_mlp_control_is_scored_too(run):
    _, result = run
    scores = result["scores"]["mlp"]
    assert scores["compression_ratio"] == pytest.approx(1.0)  # an exact copy
    assert scores["accuracy_delta"] == 0.0
    assert result["accuracy"]["mlp"] > 0.9  # 5 epochs on the digits


def test_the_quantized_cnn_is_a_valid_memory_challenge_entry(run):
    from tinytorch.olympics import read_submission, validate_submission

    _, result = run
    sub = read_submission(result["submission_paths"]["cnn-int8"])
    assert validate_submission(sub)["valid"]
    assert sub["event"] == "memory_challenge" and sub["division"] == "closed"
    assert "int8-static-quantization" in sub["techniques"]
    b, o = sub["baseline"], sub["optimized"]
    assert b["architecture"]["signature"] == o["architecture"]["signature"]
    assert "quantized" in o["architecture"] and "quantized" not in b["architecture"]
    assert any(dt == "int8" for _, _, dt in o["architecture"]["quantized"])
    assert sub["normalized_scores"]["compression_ratio"] >= 2.0


# (entry, division, techniques it must list, whether the architecture signature is
# kept, the events it must be entered in: the issue's)
COMPRESSED = [
    ("mlp-pruned-int8", "closed",
     {"magnitude-pruning", "int8-weight-quantization", "sparse-storage"}, True,
     {"all_around", "extreme_push"}),
    ("cnn-structured", "open", {"structured-pruning", "compile"}, False, {"latency_sprint"}),
]


@pytest.mark.parametrize("name, division, techniques, same_architecture, events", COMPRESSED)
def test_the_compressed_entries_are_valid_and_qualify(run, name, division, techniques,
                                                      same_architecture, events):
    from tinytorch.olympics import read_submission, validate_submission
    from tinytorch.perf import qualifies_event

    _, result = run
    sub = read_submission(result["submission_paths"][name])
    report = validate_submission(sub)
    assert report["valid"], report["errors"]
    assert sub["division"] == division and techniques <= set(sub["techniques"])
    # The event was chosen from the measured scores, and they really reach it.
    assert qualifies_event(sub["normalized_scores"], sub["event"]).qualified
    assert sub["event"] in result["events"][name] and sub["event"] in events
    b, o = sub["baseline"], sub["optimized"]
    same = b["architecture"]["signature"] == o["architecture"]["signature"]
    assert same is same_architecture
    assert sub["normalized_scores"]["compression_ratio"] > 1.5  # sparse int8 / half the units
    assert sub["normalized_scores"]["accuracy_delta"] >= -0.01


def test_the_structured_cnn_really_has_fewer_parameters(run):
    from tinytorch.olympics import read_submission

    _, result = run
    sub = read_submission(result["submission_paths"]["cnn-structured"])
    counts = [sum(int(np.prod(shape)) for _, shape, _ in m["architecture"]["parameters"])
              for m in (sub["baseline"], sub["optimized"])]
    assert counts[1] < 0.5 * counts[0]
    assert counts == [sub[k]["architecture"]["parameter_count"] for k in ("baseline", "optimized")]


def test_the_command_line_validates_the_file(run):
    out_dir, result = run
    path = result["submission_paths"]["cnn-int8"]
    proc = subprocess.run([sys.executable, "-m", "tinytorch.olympics", "validate", "--json",
                           str(path)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ), cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["valid"] is True
