"""``tito leaderboard --reproduce`` over bundles: re-measured on the workers,
a tampered bundle rejected with its reason."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("tinytorch.olympics.bundle")  # a tinytorch-olympics that writes bundles

from tito.cli import app  # noqa: E402
from tito.leaderboard import build  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from tinytorch.olympics import generate_submission, pairings  # noqa: E402

FAST = {"warmup_runs": 1, "measurement_runs": 2, "min_duration_s": 0.0}
REPO = "https://github.com/ada/tinytorch"
ENTRY = {"event": "accuracy_contest", "athlete_name": "Ada", "github_repo": REPO,
         "honor_code": True}


@pytest.fixture(scope="module")
def honest_bundle(tmp_path_factory):
    """An honest bundle of the digits MLP against its exact copy (A/A)."""
    p = pairings.digits_mlp(epochs=1, hidden=32)
    folder = tmp_path_factory.mktemp("bundles") / "seed"
    # what a reviewer needs to rebuild both models and the data
    rebuild = {"task_identity": p.task_identity, "architectures": p.architectures}
    generate_submission(p.baseline, p.optimized, p.data, bundle_dir=folder, **rebuild,
                        **ENTRY, **FAST)
    return folder


def copy_as(seed, target, athlete):
    shutil.copytree(seed, target)
    path = target / "submission.json"
    sub = json.loads(path.read_text())
    sub["athlete_name"] = athlete
    path.write_text(json.dumps(sub))
    return target


def test_reproduce_rejects_a_swapped_model_file(honest_bundle, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    copy_as(honest_bundle, subs / "ada", "Ada")
    cheat = copy_as(honest_bundle, subs / "eve", "Eve")
    weights = cheat / "optimized.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte of the weights changed after submission
    weights.write_bytes(bytes(data))

    board = build(str(subs), reproduce=True, workers=2)
    assert [r["summary"]["athlete"] for r in board["events"]["accuracy_contest"]] == ["Ada"]
    (rejected,) = board["rejected"]
    assert rejected["name"] == "eve"
    assert any("SHA-256" in reason or "changed" in reason for reason in rejected["reasons"])
    # The mode is part of the cache key: a plain check is a new validation.
    assert build(str(subs))["validated"] == 2
    assert build(str(subs), reproduce=True)["validated"] == 0


def test_cli_reproduce(honest_bundle, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    copy_as(honest_bundle, subs / "ada", "Ada")
    result = CliRunner().invoke(app, ["leaderboard", str(subs), "--reproduce"])
    assert result.exit_code == 0, result.output
    assert "1 validated" in result.output and "Ada" in result.output
