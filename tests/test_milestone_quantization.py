"""Milestone 7 (quantization) in its --quick mode: the table is measured and
the int8 and int4 models are as small and as accurate as the milestone says."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("tinytorch.quant")
pytest.importorskip("tinytorch.transformers")

ROOT = Path(__file__).resolve().parents[1]


def load():
    spec = importlib.util.spec_from_file_location("_test_m07", ROOT / "milestones" /
                                                  "m07_quantization.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_quick_run_measures_float_int8_int4_for_the_three_models(capsys):
    result = load().main(["--quick"])
    out = capsys.readouterr().out
    assert result["passed"], out
    rows = {(r["model"].split(" (")[0], r["variant"]): r for r in result["rows"]}
    assert {m for m, _ in rows} == {"digits MLP", "digits CNN", "Shakespeare GPT"}
    mlp_f, mlp_8 = rows["digits MLP", "float32"], rows["digits MLP", "int8 static"]
    assert mlp_f["bytes"] / mlp_8["bytes"] >= 3.5
    assert mlp_f["accuracy"] - mlp_8["accuracy"] <= 0.01
    cnn_f, cnn_8 = rows["digits CNN", "float32"], rows["digits CNN", "int8 static"]
    assert cnn_f["bytes"] / cnn_8["bytes"] >= 3.5
    assert cnn_f["accuracy"] - cnn_8["accuracy"] <= 0.01
    gpt_f, gpt_4 = rows["Shakespeare GPT", "float32"], rows["Shakespeare GPT", "int4 weights g32"]
    assert gpt_f["bytes"] / gpt_4["bytes"] > 4
    assert all(math.isfinite(r["val_loss"]) for (m, _), r in rows.items() if "GPT" in m)
    assert gpt_4["val_loss"] - gpt_f["val_loss"] < 0.1
    assert all(r["latency_ms"] > 0 for r in rows.values())
    assert "int4 QAT" in out and "x smaller" in out
