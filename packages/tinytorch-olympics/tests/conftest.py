"""Shared fixtures: real submissions, measured once per test session on tiny models.

Measurement settings are the smallest tinytorch-perf accepts (64 SingleStream
queries, no minimum duration, one or two runs), so the whole suite stays fast.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.olympics import (
    ClassificationData,
    GenerationData,
    TextGenerator,
    architecture_signature,
    generate_submission,
)
from tinytorch.perf import calculate_normalized_scores, qualifies_event
from tinytorch.tensor import manual_seed
from tinytorch.transformers import GPT

FAST = {"warmup_runs": 1, "measurement_runs": 2, "min_duration_s": 0.0}
REPO = "https://github.com/ada/tinytorch"


def make_mlp(seed: int = 0) -> nn.Sequential:
    manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def make_classification(n: int = 96, seed: int = 0) -> ClassificationData:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = rng.integers(0, 3, size=n)
    return ClassificationData(x, y, name="random 8-d points")


def make_gpt(seed: int = 0) -> GPT:
    manual_seed(seed)
    return GPT(vocab_size=11, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=24)


def make_generation(seed: int = 0) -> GenerationData:
    stream = np.random.default_rng(seed).integers(0, 11, size=400)
    return GenerationData.from_token_stream(stream, prompt_len=4, num_prompts=8, window=12,
                                            num_windows=10, name="random ids")


@pytest.fixture(scope="session")
def classifier_submission() -> dict:
    """A valid closed-division submission: an MLP against an exact copy (A/A)."""
    model = make_mlp()
    return generate_submission(model, copy.deepcopy(model), make_classification(), "closed",
                               event="accuracy_contest", athlete_name="Ada",
                               github_repo=REPO, techniques=[], honor_code=True, **FAST)


@pytest.fixture(scope="session")
def generation_submission() -> dict:
    gpt = make_gpt()
    return generate_submission(TextGenerator(gpt, 8, use_kv_cache=False),
                               TextGenerator(gpt, 8, use_kv_cache=True), make_generation(),
                               event="auto", athlete_name="Ada", github_repo=REPO,
                               techniques=["kv-cache"], honor_code=True, **FAST)


@pytest.fixture
def valid(classifier_submission) -> dict:
    """A fresh, valid submission to edit freely: the A/A submission with the
    optimized model's latency and memory set to the baseline's (timing noise
    of a measured A/A pair could otherwise fail the event's 0.9x floor)."""
    sub = copy.deepcopy(classifier_submission)
    sub["optimized"]["latency_ms"] = sub["baseline"]["latency_ms"]
    sub["optimized"]["memory_mb"] = sub["baseline"]["memory_mb"]
    return rescore(sub)


def rescore(sub: dict) -> dict:
    """Recompute the scores and the verdict of ``sub`` from its raw metrics,
    keep every derived field consistent (round median = latency, paired
    speedup = speedup score, accuracy = correct /
    total): after an edit of the raw metrics, only the rule under test fails."""
    for who in ("baseline", "optimized"):
        sub[who]["single_stream"]["round_median_ms"] = sub[who]["latency_ms"]
        sub[who]["accuracy"] = sub[who]["correct"] / sub[who]["total"]
    raw = {who: {k: sub[who][k] for k in ("latency_ms", "memory_mb", "accuracy")}
           for who in ("baseline", "optimized")}
    sub["normalized_scores"] = calculate_normalized_scores(raw["baseline"], raw["optimized"])
    speedup = sub["normalized_scores"]["speedup"]  # the paired measurement of the same rounds
    sub["measurement"]["paired_latency"].update(speedup=speedup,
                                                ci95=[speedup * 0.99, speedup * 1.01])
    ok, reasons = qualifies_event(sub["normalized_scores"], sub["event"])
    sub["event_qualification"] = {"qualified": ok, "reasons": reasons}
    return sub


def resign(arch: dict) -> dict:
    arch["signature"] = architecture_signature(arch)
    return arch


@pytest.fixture
def helpers():
    """Helper functions for the tests (conftest is not importable as a module
    under --import-mode=importlib)."""
    return SimpleNamespace(rescore=rescore, resign=resign, make_mlp=make_mlp,
                           make_classification=make_classification, make_gpt=make_gpt,
                           make_generation=make_generation, FAST=FAST, REPO=REPO)
