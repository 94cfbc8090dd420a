"""Milestone 8 (compression) in its --quick mode: before/after rows are measured
for the three models, and the compressed ones really are smaller."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("tinytorch.compress")
pytest.importorskip("tinytorch.milestones")

ROOT = Path(__file__).resolve().parents[1]


def load():
    spec = importlib.util.spec_from_file_location("_test_m08", ROOT / "milestones" /
                                                  "m08_compression.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_quick_run_compresses_the_three_models(capsys):
    result = load().main(["--quick"])
    out = capsys.readouterr().out
    assert result["passed"], out
    rows = {}
    for r in result["rows"]:
        rows.setdefault(r["model"].split(" (")[0], []).append(r)
    assert set(rows) == {"digits MLP", "digits CNN", "Shakespeare GPT"}
    (mf, ms), (cf, cs), (gf, gs) = rows["digits MLP"], rows["digits CNN"], rows["Shakespeare GPT"]
    assert ms["sparsity"] > 0.8 and mf["sparsity"] < 0.05
    assert mf["bytes"] / ms["bytes"] >= 8
    assert mf["accuracy"] - ms["accuracy"] <= 0.03
    assert cs["parameters"] < cf["parameters"] / 2 and cs["bytes"] < cf["bytes"]
    assert gs["parameters"] < gf["parameters"]
    assert math.isfinite(gs["val_loss"]) and gs["val_loss"] < gf["val_loss"] + 0.3
    assert all(r["latency_ms"] > 0 for r in result["rows"])
    assert "Milestone 8" in out and "x smaller" in out
