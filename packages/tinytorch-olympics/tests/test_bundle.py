"""Reproducible bundles: hashes, --reproduce, and the cheats it must reject."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tinytorch.olympics import generate_submission, pairings, validate_submission
from tinytorch.olympics.bundle import BundleError, load_bundle, load_task, sha256_file
from tinytorch.olympics.cli import main
from tinytorch.olympics.paired import median_ci, paired_latency
from tinytorch.perf import calculate_normalized_scores

FAST = {"warmup_runs": 1, "measurement_runs": 2, "min_duration_s": 0.0}
REPO = "https://github.com/ada/tinytorch"


@pytest.fixture(scope="session")
def mlp_pairing():
    return pairings.digits_mlp(epochs=1, hidden=32)


@pytest.fixture(scope="session")
def master_bundle(tmp_path_factory, mlp_pairing):
    """An honest bundle of the digits MLP against its exact copy (A/A)."""
    p = mlp_pairing
    folder = tmp_path_factory.mktemp("bundles") / "ada"
    generate_submission(p.baseline, p.optimized, p.data, event="accuracy_contest",
                        athlete_name="Ada", github_repo=REPO, honor_code=True,
                        bundle_dir=folder, task_identity=p.task_identity,
                        architectures=p.architectures, **FAST)
    return folder


@pytest.fixture
def bundle(tmp_path, master_bundle):
    """A private copy of the honest bundle, free to tamper with."""
    return shutil.copytree(master_bundle, tmp_path / "entry")


def _edit(folder, change) -> None:
    path = folder / "submission.json"
    sub = json.loads(path.read_text())
    change(sub)
    path.write_text(json.dumps(sub))


def _flip_byte(path) -> None:
    """Tamper with a weight: invert one byte in the middle of the file."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _errors(report) -> str:
    return " | ".join(report["errors"])


def test_bundle_files_and_hashes(bundle):
    sub = json.loads((bundle / "submission.json").read_text())
    section = sub["bundle"]
    assert set(section["files"]) == {"baseline.npz", "optimized.npz"}
    for name, digest in section["files"].items():
        assert sha256_file(bundle / name) == digest
    assert section["task"] == {"name": "digits", "images": False, "test_fraction": 0.2,
                               "split_seed": 0}
    assert section["models"]["baseline"] == {"builder": "mlp", "sizes": [64, 32, 10]}
    loaded = load_bundle(bundle)
    x = loaded["task"].inputs[:5]
    assert np.array_equal(loaded["baseline"](x).data, loaded["optimized"](x).data)


def test_honest_bundle_passes_reproduce(bundle):
    report = validate_submission(bundle, reproduce=True)
    assert report["valid"], _errors(report)
    names = {c["name"]: c["status"] for c in report["checks"]}
    assert names["bundle"] == names["reproduced_accuracy"] == "passed"
    assert names["reproduced_ratios"] == "passed"


def test_reproduce_on_the_command_line(bundle, capsys):
    assert main(["validate", str(bundle), "--reproduce", "--quiet"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("VALID")


@pytest.mark.parametrize("damage, message", [
    (lambda b: (b / "optimized.npz").unlink(), "optimized.npz is missing"),
    (lambda b: _flip_byte(b / "baseline.npz"), "baseline.npz was changed"),
    (lambda b: (b / "optimized.npz").write_bytes((b / "optimized.npz").read_bytes() + b"\0"),
     "optimized.npz was changed"),
    (lambda b: _edit(b, lambda s: s["bundle"]["task"].update(name="imagenet")),
     "unknown task 'imagenet'"),
    (lambda b: _edit(b, lambda s: s["bundle"]["models"]["optimized"].update(builder="resnet")),
     "unknown model builder 'resnet'"),
    (lambda b: _edit(b, lambda s: s["bundle"]["models"]["optimized"].update(sizes=[64, 16, 10])),
     "does not fit the optimized config"),
    (lambda b: _edit(b, lambda s: s.pop("bundle")), "no 'tinytorch-olympics-bundle/1'"),
])
def test_bad_bundles_are_rejected_with_a_reason(bundle, damage, message):
    damage(bundle)
    report = validate_submission(bundle, reproduce=True)
    assert not report["valid"]
    assert message in _errors(report)


def test_swapped_model_with_rehashed_json_is_caught(bundle, tmp_path):
    """A cheater swaps in another model's weights and records the new hash:
    the hashes match, but the accuracy and predictions do not reproduce."""
    other = pairings.digits_mlp(epochs=0, seed=7, hidden=32)
    other.baseline.save(tmp_path / "other.npz")
    shutil.copy(tmp_path / "other.npz", bundle / "optimized.npz")
    digest = sha256_file(bundle / "optimized.npz")
    _edit(bundle, lambda s: s["bundle"]["files"].update({"optimized.npz": digest}))
    report = validate_submission(bundle, reproduce=True)
    assert not report["valid"]
    assert "optimized: the predictions differ" in _errors(report)


def _cheat(sub, latency_div: float, memory_div: float, scale_parameter_bytes: bool) -> None:
    """The cheat: divide the optimized model's latency and memory, recompute
    the scores so that the document stays self-consistent."""
    o = sub["optimized"]
    o["latency_ms"] /= latency_div
    o["single_stream"]["round_median_ms"] = o["latency_ms"]
    o["single_stream"]["p90_ms"] /= latency_div
    paired = sub["measurement"]["paired_latency"]
    paired["speedup"] *= latency_div
    paired["ci95"] = [v * latency_div for v in paired["ci95"]]
    o["memory_mb"] /= memory_div
    if scale_parameter_bytes:
        for k in ("parameter_bytes", "buffer_bytes"):
            o["memory"][k] = int(o["memory"][k] / memory_div)
    sub["normalized_scores"] = calculate_normalized_scores(sub["baseline"], o)


@pytest.mark.parametrize("latency_div, memory_div, scale, static_check", [
    (19, 15, False, "plausible_memory"),  # memory below its own parameter bytes
    (19, 15, True, "plausible_memory"),  # parameter bytes below count x width
    (19, 1, False, None),  # latency only: nothing to see without a re-run
])
def test_self_consistent_cheats(bundle, latency_div, memory_div, scale, static_check):
    _edit(bundle, lambda s: _cheat(s, latency_div, memory_div, scale))
    quick = validate_submission(bundle)
    failed = {c["name"] for c in quick["checks"] if c["status"] == "failed"}
    if static_check is None:
        # The trust model: a self-consistent latency claim is only caught by a re-run.
        assert quick["valid"], _errors(quick)
    else:
        assert not quick["valid"] and static_check in failed
    full = validate_submission(bundle, reproduce=True)
    assert not full["valid"]
    assert "speedup claimed" in _errors(full)
    assert "more than the 25% tolerance" in _errors(full)


def test_inconsistent_fabrications_are_rejected_without_reproduce(bundle, tmp_path):
    _edit(bundle, lambda s: s["normalized_scores"].update(speedup=19.0))
    report = validate_submission(bundle)
    assert not report["valid"]
    assert "does not match" in _errors(report)
    # Latency and scores edited consistently, the paired measurement forgotten.
    _edit(bundle, lambda s: _cheat(s, 19, 1, False))
    _edit(bundle, lambda s: s["measurement"]["paired_latency"].update(speedup=1.0,
                                                                      ci95=[0.99, 1.01]))
    report = validate_submission(bundle)
    assert not report["valid"]
    assert "paired measurement" in _errors(report)


def test_reproduce_needs_a_path():
    report = validate_submission({"athlete_name": "ada"}, reproduce=True)
    assert not report["valid"] and any("needs the bundle's path" in e for e in report["errors"])


def test_generate_refuses_a_task_identity_that_does_not_rebuild_the_data(tmp_path, mlp_pairing):
    p = mlp_pairing
    with pytest.raises(BundleError, match="does not rebuild"):
        generate_submission(p.baseline, p.optimized, p.data, event="auto", athlete_name="Ada",
                            github_repo=REPO, bundle_dir=tmp_path / "b",
                            task_identity={**p.task_identity, "images": True},
                            architectures=p.architectures, **FAST)
    with pytest.raises(BundleError, match="unknown task"):
        load_task({"name": "mnist"})
    with pytest.raises(TypeError, match="architectures"):
        generate_submission(p.baseline, p.optimized, p.data, event="auto", athlete_name="Ada",
                            github_repo=REPO, bundle_dir=tmp_path / "b",
                            task_identity=p.task_identity, architectures=None, **FAST)
    assert not (tmp_path / "b").exists()


def test_paired_latency_of_a_model_against_itself_is_near_one():
    calls = []

    def model(x):
        calls.append(x)
        return sum(range(200))

    r = paired_latency(model, model, [1, 2, 3], min_rounds=9, min_queries=64)
    assert r["rounds"] >= 9 and r["queries_per_round"] >= 1
    assert r["latencies_ms"]["a"].size == r["latencies_ms"]["b"].size >= 64
    lo, hi = r["ci95"]
    assert lo <= r["speedup"] <= hi
    assert 0.5 < r["speedup"] < 2


def test_median_ci_brackets_the_median():
    values = np.arange(1.0, 32.0)  # median 16
    lo, hi = median_ci(values)
    assert lo < 16 < hi
    assert (lo, hi) == (10.0, 22.0)  # ranks 10 and 22 of 31: symmetric about 16
