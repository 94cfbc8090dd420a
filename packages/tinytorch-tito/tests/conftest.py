"""Shared fixtures: one real submission, measured once per session on a tiny
model, and a factory that writes edited copies of it into a folder."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.olympics import ClassificationData, generate_submission
from tinytorch.perf import calculate_normalized_scores, qualifies_event
from tinytorch.tensor import manual_seed

FAST = {"warmup_runs": 1, "measurement_runs": 2, "min_duration_s": 0.0}
REPO = "https://github.com/ada/tinytorch"


def _measured() -> dict:
    manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    rng = np.random.default_rng(0)
    data = ClassificationData(rng.standard_normal((96, 8)).astype(np.float32),
                              rng.integers(0, 3, size=96), name="random 8-d points")
    return generate_submission(model, copy.deepcopy(model), data, "closed",
                               event="accuracy_contest", athlete_name="Ada", github_repo=REPO,
                               techniques=[], honor_code=True, **FAST)


def rescore(sub: dict) -> dict:
    """Recompute the scores and qualification from the raw metrics (after an edit)."""
    for who in ("baseline", "optimized"):
        sub[who]["single_stream"]["p90_ms"] = sub[who]["latency_ms"]
    raw = {who: {k: sub[who][k] for k in ("latency_ms", "memory_mb", "accuracy")}
           for who in ("baseline", "optimized")}
    sub["normalized_scores"] = calculate_normalized_scores(raw["baseline"], raw["optimized"])
    ok, reasons = qualifies_event(sub["normalized_scores"], sub["event"])
    sub["event_qualification"] = {"qualified": ok, "reasons": reasons}
    return sub


@pytest.fixture(scope="session")
def measured_submission() -> dict:
    return _measured()


@pytest.fixture
def make_submission(measured_submission):
    """``make_submission(path, athlete=..., speedup=..., timestamp=..., **fields)``
    writes a valid accuracy_contest submission (the optimized model's latency
    set to baseline / speedup, scores recomputed) and returns its dict."""
    def make(path, athlete="Ada", speedup=1.0, timestamp=None, **fields) -> dict:
        sub = copy.deepcopy(measured_submission)
        sub["athlete_name"] = athlete
        sub["optimized"]["latency_ms"] = sub["baseline"]["latency_ms"] / speedup
        sub["optimized"]["memory_mb"] = sub["baseline"]["memory_mb"]
        if timestamp is not None:
            sub["timestamp"] = timestamp
        sub.update(fields)
        sub = rescore(sub)
        path.write_text(json.dumps(sub))
        return sub

    return make
