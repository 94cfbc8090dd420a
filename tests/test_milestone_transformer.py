"""Milestone 5 (Transformer): the quick versions of the two training scripts.

Each script runs in a subprocess, as a user runs it, with one BLAS thread
(the scripts' default; set through the environment because NumPy reads it
once at start-up). Together they take about 10-20 s on 2 CPU cores.

* ``reverse.py --quick``: a small transformer must reverse sequences with
  >= 95% held-out token accuracy (the script's own bar).
* ``shakespeare.py --quick``: a tiny character-level GPT; its validation
  loss must fall by at least ``QUICK_MARGIN`` nats, and the checkpoint it
  writes must load back into a GPT that produces the same logits.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinytorch.optim import load_state
from tinytorch.transformers import GPT, GPTConfig

ROOT = Path(__file__).resolve().parents[1]
MILESTONE = ROOT / "milestones" / "05_transformer"
pytestmark = pytest.mark.slow


def run_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(MILESTONE / name), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def test_reverse_quick_reaches_the_accuracy_bar():
    proc = run_script("reverse.py", "--quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = re.search(r"reverse: ([\d.]+)% token accuracy", proc.stdout)
    assert match is not None, proc.stdout
    assert float(match.group(1)) >= 95.0


def test_shakespeare_quick_loss_falls_and_checkpoint_loads(tmp_path):
    ckpt = tmp_path / "gpt.npz"
    proc = run_script("shakespeare.py", "--quick", "--no-progress", "--checkpoint", str(ckpt))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = re.search(r"validation loss ([\d.]+) -> ([\d.]+) \(fell by ([\d.]+)", proc.stdout)
    assert match is not None, proc.stdout
    first, last, drop = (float(g) for g in match.groups())
    assert first > 4.0  # starts near ln(76) = 4.33, the uniform guess
    assert drop >= 0.8 and last < first
    assert "--- sample" in proc.stdout

    # The checkpoint restores the trained model.
    state = load_state(ckpt)
    model = GPT.from_config(GPTConfig(**state["config"]))
    model.load_state_dict(state["model"])
    assert len(state["vocab"]) == state["config"]["vocab_size"] == 76
    assert np.isfinite(state["val_loss"]) and state["val_loss"] == pytest.approx(last, abs=5e-4)
    logits = model(np.zeros((1, 4), dtype=np.int64))
    assert logits.shape == (1, 4, 76) and np.all(np.isfinite(logits.data))
