"""Integration tests: every milestone, trained end to end, meets its accuracy bar.

Each milestone script under ``milestones/`` is loaded by its path and its
``main(["--quick"])`` run: shorter settings (fewer points, steps or epochs)
that still reach the real bar. The bars are the milestones' own, never
lowered here. Running times are printed by the scripts, not asserted.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MILESTONES = ROOT / "milestones"


def load(name: str):
    """Import ``milestones/<name>.py`` as a fresh module."""
    spec = importlib.util.spec_from_file_location(f"_test_milestone_{name}",
                                                  MILESTONES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs, as a normal import would be (dataclasses look
    # their module up in sys.modules).
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_script(*args: str) -> subprocess.CompletedProcess:
    """Run a milestone script as a user would, with this interpreter and environment."""
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


def test_m01_perceptron_separates_the_clusters():
    m01 = load("m01_perceptron")
    result = m01.main(["--quick"])
    assert m01.ACCURACY_BAR == 0.95
    assert result["accuracy"] >= 0.95
    # Separable data: the perceptron rule converges, no training point left wrong.
    assert result["train_accuracy"] == 1.0
    assert result["passed"]


def test_m01_clusters_are_linearly_separable_and_seeded():
    m01 = load("m01_perceptron")
    X, y = m01.make_clusters(400, seed=3)
    X2, y2 = m01.make_clusters(400, seed=3)
    assert X.shape == (400, 2) and y.shape == (400,)
    assert (X == X2).all() and (y == y2).all()
    assert sorted(set(y.tolist())) == [-1.0, 1.0] and y.sum() == 0
    unit = m01.OFFSET / (m01.OFFSET ** 2).sum() ** 0.5
    margin = y * ((X - m01.MIDDLE) @ unit)
    assert margin.min() >= 0.1 - 1e-6  # the line they were drawn around separates them


def test_m02_single_layer_fails_and_mlp_solves_xor():
    m02 = load("m02_xor")
    result = m02.main(["--quick"])
    assert result["best_line_accuracy"] == 0.75  # no line gets all four points
    assert result["single_layer_accuracy"] < 1.0
    assert result["accuracy"] == 1.0  # the 2-layer MLP
    assert result["passed"]


def test_m03_mlp_reaches_97_percent_on_held_out_digits():
    m03 = load("m03_mlp_digits")
    result = m03.main(["--quick"])
    assert m03.ACCURACY_BAR == 0.97
    assert result["accuracy"] >= 0.97, result


def test_m04_cnn_reaches_98_percent_on_held_out_digits():
    m04 = load("m04_cnn_digits")
    result = m04.main(["--quick"])
    assert m04.ACCURACY_BAR == 0.98
    assert result["accuracy"] >= 0.98, result


@pytest.mark.parametrize("name", ["m03_mlp_digits", "m04_cnn_digits"])
def test_digit_milestones_hold_out_a_stratified_fifth(name):
    train, test = load(name).load_data()
    n_train, n_test = len(train), len(test)
    assert n_train + n_test == 1797
    assert abs(n_test / 1797 - 0.2) < 0.01
    y_train, y_test = train.arrays[1], test.arrays[1]
    counts_train = [int((y_train == d).sum()) for d in range(10)]
    counts_test = [int((y_test == d).sum()) for d in range(10)]
    for a, b in zip(counts_train, counts_test):  # every digit split about 80/20
        assert abs(b / (a + b) - 0.2) < 0.02
    # Standardised with the training statistics only.
    assert abs(float(train.arrays[0].mean())) < 1e-3
    assert abs(float(train.arrays[0].std()) - 1.0) < 1e-3


def test_scripts_exit_zero_when_the_bar_is_met():
    proc = run_script("milestones/m01_perceptron.py", "--quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASSED" in proc.stdout and "test accuracy" in proc.stdout


def test_scripts_exit_nonzero_when_the_bar_is_missed():
    # One epoch is not enough for 97%: the script must say so and fail.
    proc = run_script("milestones/m03_mlp_digits.py", "--epochs", "1", "--lr", "1e-4")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED" in proc.stdout


def test_demo_runs_its_steps_and_summarises_them(capsys):
    demo = load("demo")
    out = demo.main(["--steps", "perceptron,xor"])
    printed = capsys.readouterr().out
    assert [row.step for row in out["rows"]] == ["perceptron", "xor"]
    assert out["passed"] and all(row.passed for row in out["rows"])
    assert out["rows"][0].details["accuracy"] >= 0.95
    assert out["rows"][1].details["accuracy"] == 1.0
    assert "What was learned" in printed and "perceptron" in printed
    assert set(demo.DEFAULT_STEPS) <= set(demo.STEPS)


def test_demo_rejects_an_unknown_step():
    demo = load("demo")
    with pytest.raises(SystemExit) as info:
        demo.main(["--steps", "perceptron,nope"])
    assert info.value.code == 2


def test_demo_gpt_step_trains_reports_and_writes_a_sample(capsys, monkeypatch):
    # The real step trains GPT_STEPS steps; a few steps with a looser bar
    # exercise the same wiring: training, the held-out loss, the sample.
    demo = load("demo")
    monkeypatch.setattr(demo, "GPT_STEPS", 20)
    monkeypatch.setattr(demo, "GPT_BAR", 3.9)  # a uniform guess costs 4.33 nats/char
    out = demo.main(["--steps", "gpt"])
    printed = capsys.readouterr().out
    (row,) = out["rows"]
    assert row.step == "gpt" and row.passed, row
    assert row.details["val_loss"] < 3.9 and row.details["steps"] == 20
    assert row.details["sample"].startswith("ROMEO:") and len(row.details["sample"]) > 100
    assert "The gpt writes" in printed


def test_demo_gpt_step_is_the_same_on_a_slow_machine(monkeypatch):
    # A fixed number of seeded steps: the loss cannot depend on the speed.
    # Twice the same steps, the second run slowed down by a busy hook.
    import time as _time

    demo = load("demo")
    monkeypatch.setattr(demo, "GPT_STEPS", 6)
    monkeypatch.setattr(demo, "GPT_BAR", 5.0)
    fast = demo.gpt_step(3).details
    from tinytorch.tensor import hooks

    delays = []
    with hooks(pre=lambda *a: delays.append(_time.sleep(0.0002))):
        slow = demo.gpt_step(3).details
    assert len(delays) > 1000  # every op of the slow run waited
    assert slow["steps"] == fast["steps"] == 6
    assert slow["val_loss"] == fast["val_loss"]


def test_slow_note_explains_load_and_threads(monkeypatch):
    demo = load("demo")
    assert demo.slow_note(10.0, 60.0) == ""
    monkeypatch.setattr(demo.os, "getloadavg", lambda: (7.5, 5.0, 3.0))
    monkeypatch.setattr(demo.os, "cpu_count", lambda: 2)
    note = demo.slow_note(250.0, 180.0)
    assert "250 s" in note and "load average 7.5" in note and "2 CPU core" in note
    assert "busy" in note and "BLAS threads" in note
