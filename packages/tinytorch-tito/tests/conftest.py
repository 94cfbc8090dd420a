"""Shared fixtures: one real submission, measured once per session on a tiny
model, and a factory that writes edited copies of it into a folder."""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser

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
        # latency_ms is the interleaved round median (the p90 in older submissions)
        stream = sub[who]["single_stream"]
        stream["round_median_ms" if "round_median_ms" in stream else "p90_ms"] = \
            sub[who]["latency_ms"]
    raw = {who: {k: sub[who][k] for k in ("latency_ms", "memory_mb", "accuracy")}
           for who in ("baseline", "optimized")}
    sub["normalized_scores"] = calculate_normalized_scores(raw["baseline"], raw["optimized"])
    paired = sub.get("measurement", {}).get("paired_latency")
    if paired is not None:  # the paired measurement of the same rounds agrees with the score
        speedup = sub["normalized_scores"]["speedup"]
        paired.update(speedup=speedup, ci95=[speedup * 0.99, speedup * 1.01])
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


class Tables(HTMLParser):
    """Every <table>: its id, header cells and body rows (cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self._table = self._row = self._cell = None
        self.images: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = {"headers": [], "rows": []}
            self.tables[attrs.get("id", "")] = self._table
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            is_header = not self._table["headers"] and not self._table["rows"]
            (self._table["headers"].extend(self._row) if is_header
             else self._table["rows"].append(self._row))
            self._row = None
        elif tag == "table":
            self._table = None


def parse_html(text: str) -> Tables:
    parser = Tables()
    parser.feed(text)
    return parser


@pytest.fixture
def board_folder(tmp_path, make_submission):
    """Three athletes (Bea twice: the newer counts), one invalid file, one
    non-submission file, one folder without submission.json."""
    d = tmp_path / "subs"
    d.mkdir()
    make_submission(d / "ada.json", athlete="Ada", speedup=1.05)
    make_submission(d / "bea_old.json", athlete="Bea", speedup=1.08,
                    timestamp="2026-01-01T00:00:00Z")
    make_submission(d / "bea_new.json", athlete="bea ", speedup=1.02,
                    timestamp="2026-02-01T00:00:00Z")
    make_submission(d / "cyd.json", athlete="Cyd", speedup=1.02)
    (d / "liar.json").write_text(json.dumps({"athlete_name": "Eve", "event": "latency_sprint"}))
    (d / "notes.txt").write_text("not a submission")
    (d / "empty_folder").mkdir()
    return d


@pytest.fixture
def html_tables():
    """``html_tables(text)``: the page's tables and images (conftest is not
    importable under --import-mode=importlib)."""
    return parse_html
