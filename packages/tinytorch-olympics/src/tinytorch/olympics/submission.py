"""Generate a submission: measure both models with tinytorch-perf, score, record.

::

    baseline ─┐                     paired.py (A B B A rounds) + tinytorch.perf.Benchmark
              ├─▶ SingleStream ──▶ round-median ms   ─┐   (p90 and paired speedup + CI kept)
    optimized ┘   Offline      ──▶ throughput         │   calculate_normalized_scores
                  memory       ──▶ peak MiB, batch 1  ├──▶ speedup, compression_ratio,
                  accuracy     ──▶ fraction correct  ─┘    accuracy_delta, efficiency
                  predictions  ──▶ SHA-256
                                          │
         system_info, package versions, architecture signatures, timestamp
                                          ▼
                               submission dict  ──▶  JSON file (atomic, no clobber)

The raw metric of each model that goes into the scores is the triple
``latency_ms`` (the SingleStream round median: both models timed in
alternating rounds, the median over rounds of each round's median latency;
the MLPerf p90 is recorded beside it), ``memory_mb``
(the median peak memory of a one-sample forward: parameters, buffers and
peak activations) and ``accuracy`` (a fraction). Every figure is measured
on the machine that runs this code, when it runs.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn import Module
from tinytorch.perf import (
    MIN_SINGLE_STREAM_QUERIES,
    Benchmark,
    OlympicEvent,
    calculate_normalized_scores,
    evaluate_accuracy,
    qualifies_event,
    single_stream_p90,
    system_info,
)
from tinytorch.tensor import Tensor, atomic_write, wrap

from ._validate import check_int as _check_int
from ._validate import check_text as _check_text
from .architecture import describe_architecture
from .bundle import BUILDERS, SUBMISSION_FILE, BundleError, task_matches, write_bundle
from .paired import paired_latency
from .tasks import ClassificationData, GenerationData, TextGenerator, as_task_data

__all__ = [
    "SCHEMA_VERSION",
    "DIVISIONS",
    "EVENT_PREFERENCE",
    "generate_submission",
    "choose_event",
    "write_submission",
    "read_submission",
    "MAX_SUBMISSION_BYTES",
    "package_versions",
    "predictions_sha256",
    "utc_timestamp",
]

SCHEMA_VERSION = "1.0"
#: The largest submission file read (4 MiB). A real submission is a few
#: kilobytes; the limit keeps a hostile file (or ``/dev/zero``) from being
#: read into memory and parsed.
MAX_SUBMISSION_BYTES = 4 * 2**20
DIVISIONS = ("closed", "open")
#: The order ``event="auto"`` tries the events in: the most demanding first.
EVENT_PREFERENCE = (
    OlympicEvent.EXTREME_PUSH,
    OlympicEvent.ALL_AROUND,
    OlympicEvent.LATENCY_SPRINT,
    OlympicEvent.MEMORY_CHALLENGE,
    OlympicEvent.ACCURACY_CONTEST,
)


# ------------------------------------------------------------------ small helpers


def utc_timestamp() -> str:
    """Now, in UTC, as ISO-8601 with a ``Z``: ``2024-05-01T12:30:00Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def package_versions() -> dict[str, str]:
    """Versions of the TinyTorch packages, ``{"tinytorch-perf": "0.1.0", ...}``.

    Every installed ``tinytorch-*`` distribution (``importlib.metadata``),
    plus every imported ``tinytorch.<x>`` subpackage that no installed
    distribution accounts for (run from a source tree), with its
    ``__version__``. Sorted by name.
    """
    out: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata.get("Name") if dist.metadata is not None else None
        if name and _canonical(name).startswith("tinytorch-"):
            out.setdefault(_canonical(name), str(dist.version))
    for module_name, module in list(sys.modules.items()):
        parts = module_name.split(".")
        if len(parts) == 2 and parts[0] == "tinytorch" and module is not None:
            version = getattr(module, "__version__", None)
            if isinstance(version, str) and version:
                out.setdefault(f"tinytorch-{_canonical(parts[1])}", version)
    return dict(sorted(out.items()))


def predictions_sha256(*arrays: np.ndarray, kind: str) -> str:
    """SHA-256 (hex) of integer predictions: a header naming ``kind`` and each
    array's shape, then each array as little-endian int64, C order. The same
    predictions give the same hash on every machine."""
    h = hashlib.sha256()
    header = {"kind": kind, "shapes": [list(a.shape) for a in arrays], "dtype": "<i8"}
    h.update(json.dumps(header, sort_keys=True).encode("utf-8"))
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype="<i8").tobytes())
    return h.hexdigest()


class _eval_mode:
    """Evaluation mode + ``no_grad`` for a block; the training flags are restored."""

    def __init__(self, model) -> None:
        self.modules = list(model.modules()) if isinstance(model, Module) else []
        self.modes = [m.training for m in self.modules]
        self.grad = no_grad()

    def __enter__(self):
        for m in self.modules:
            m.training = False
        self.grad.__enter__()
        return self

    def __exit__(self, *exc):
        self.grad.__exit__(*exc)
        for m, mode in zip(self.modules, self.modes):
            m.training = mode
        return False


def _classifier_predictions(model, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``argmax(model(x), -1)`` over every sample, in batches: int64 ``(N,)``."""
    preds = []
    with _eval_mode(model):
        for start in range(0, inputs.shape[0], batch_size):
            out = model(wrap(inputs[start:start + batch_size]))
            logits = out.data if isinstance(out, Tensor) else np.asarray(out)
            preds.append(np.argmax(logits, axis=-1))
    return np.concatenate(preds).astype(np.int64)


def _generation_predictions(gen: TextGenerator, data: GenerationData) -> list[np.ndarray]:
    """Argmax next-token ids on the held-out windows, and the greedy
    continuations of every prompt (one batched generation)."""
    with _eval_mode(gen):
        argmax = np.argmax(gen.next_token_logits(data.tokens).data, axis=-1).astype(np.int64)
        continuations = np.asarray(gen(data.prompts).data, dtype=np.int64)
    return [argmax, continuations[:, data.prompts.shape[1]:]]


# ------------------------------------------------------------------ arguments


def choose_event(scores: Mapping) -> tuple[OlympicEvent, bool]:
    """The most demanding event ``scores`` qualify for, in the order of
    :data:`EVENT_PREFERENCE`; ``(event, True)``. When they qualify for
    none: ``(OlympicEvent.LATENCY_SPRINT, False)``."""
    for event in EVENT_PREFERENCE:
        if qualifies_event(scores, event).qualified:
            return event, True
    return OlympicEvent.LATENCY_SPRINT, False


def _check_generators(baseline, optimized) -> None:
    for label, model in (("baseline_model", baseline), ("optimized_model", optimized)):
        if not isinstance(model, TextGenerator):
            raise TypeError(f"for GenerationData, {label} must be a TextGenerator (a language "
                            f"model and how it generates); got {type(model).__name__}")
    if baseline.max_new_tokens != optimized.max_new_tokens:
        raise ValueError(f"baseline and optimized generators must generate the same number of "
                         f"tokens per query (the same work): {baseline.max_new_tokens} vs "
                         f"{optimized.max_new_tokens}")


# ------------------------------------------------------------------ measuring


def _measure(models: dict[str, Any], task, *, warmup_runs: int, measurement_runs: int,
             min_queries: int, min_duration_s: float, offline: bool, offline_batch_size,
             seed: int) -> dict[str, dict[str, Any]]:
    """Every figure of both models, through one ``tinytorch.perf.Benchmark``.

    Each scenario runs the baseline and then the optimized model, so both
    see the same machine state as nearly as possible.
    """
    generation = isinstance(task, GenerationData)
    if generation:
        datasets = {task.name: task.prompts}  # queries: prompts (no labels)
    else:
        datasets = {task.name: (task.inputs, task.labels)}
    bench = Benchmark(models, datasets, warmup_runs=warmup_runs,
                      measurement_runs=measurement_runs, seed=seed)
    out: dict[str, dict[str, Any]] = {name: {} for name in models}

    out["baseline"]["paired"] = _paired_single_stream(models, task, out, min_queries=min_queries,
                                                      min_duration_s=min_duration_s, seed=seed)
    for name in models:  # Offline: everything at once, throughput
        if not offline:
            out[name]["offline"] = None
            continue
        r = bench.offline(name, task.name, batch_size=offline_batch_size)
        out[name]["offline"] = {
            "throughput_sps": r.median, "samples": int(r.metadata["samples"]),
            "batch_size": int(r.metadata["batch_size"]), "runs": r.n,
        }
    memory = bench.run_memory_benchmark(batch_size=1)
    for name in models:
        r = memory[name][task.name]
        last = r.metadata.get("last", {})
        out[name]["memory_mb"] = r.median
        out[name]["memory"] = {k: int(last.get(k, 0)) for k in
                               ("parameter_bytes", "buffer_bytes", "activation_peak_bytes")}
        out[name]["parameters"] = bench.profiler.count_parameters(models[name])
    if generation:
        for name, gen in models.items():
            correct, total = evaluate_accuracy(gen.next_token_logits, task.tokens,
                                               task.targets, batch_size=256)
            out[name]["correct"], out[name]["total"] = correct, total
    else:
        accuracy = bench.run_accuracy_benchmark()
        for name in models:
            meta = accuracy[name][task.name].metadata
            out[name]["correct"], out[name]["total"] = int(meta["correct"]), int(meta["total"])
    for name, model in models.items():
        m = out[name]
        m["latency_ms"] = m["single_stream"]["round_median_ms"]
        m["accuracy"] = m["correct"] / m["total"]
        if generation:
            n_new = model.max_new_tokens
            m["tokens_per_s"] = n_new / (m["single_stream"]["median_ms"] / 1e3) if n_new else None
            m["offline_tokens_per_s"] = (m["offline"]["throughput_sps"] * n_new
                                         if m["offline"] and n_new else None)
            preds = _generation_predictions(model, task)
            m["predictions_sha256"] = predictions_sha256(*preds, kind="generation")
        else:
            preds = _classifier_predictions(model, task.inputs)
            m["predictions_sha256"] = predictions_sha256(preds, kind="classification")
    return out


def _paired_single_stream(models: dict[str, Any], task, out: dict, *, min_queries: int,
                          min_duration_s: float, seed: int) -> dict[str, Any]:
    """SingleStream for both models at once, interleaved (:func:`paired.paired_latency`):
    fills each model's ``single_stream`` figures (``round_median_ms``: the
    median over rounds of each round's median, the ``latency_ms`` of the
    scores; ``p90_ms`` and the rest: over all its queries pooled) and
    returns the paired speedup
    summary (median of round ratios, 95% CI, rounds, queries per round)."""
    inputs = task.prompts if isinstance(task, GenerationData) else task.inputs
    order = np.random.default_rng(seed).permutation(inputs.shape[0])
    queries = [wrap(inputs[j:j + 1]) for j in order]  # (1, ...) views, built before timing
    with _eval_mode(models["baseline"]), _eval_mode(models["optimized"]):
        r = paired_latency(models["baseline"], models["optimized"], queries,
                           min_queries=min_queries, min_duration_s=min_duration_s)
    for name, key in (("baseline", "a"), ("optimized", "b")):
        lat = r["latencies_ms"][key]
        out[name]["single_stream"] = {
            "round_median_ms": r["round_median_ms"][key],
            "p90_ms": single_stream_p90(lat), "median_ms": float(np.median(lat)),
            "mean_ms": float(lat.mean()), "p99_ms": float(np.percentile(lat, 99)),
            "min_ms": float(lat.min()), "max_ms": float(lat.max()), "queries": int(lat.size),
            "duration_s": float(lat.sum() / 1e3),
            "queries_per_s": float(lat.size / (lat.sum() / 1e3)),
        }
    return {"speedup": r["speedup"], "ci95": r["ci95"], "rounds": r["rounds"],
            "precise": r["precise"],
            "queries_per_round": r["queries_per_round"], "order": "ABBA",
            "duration_s": r["duration_s"]}


def _model_section(model, measured: dict[str, Any], description: str | None) -> dict[str, Any]:
    keys = ("latency_ms", "memory_mb", "accuracy", "correct", "total", "parameters",
            "single_stream", "offline", "memory")
    section: dict[str, Any] = {}
    if description:
        section["description"] = description
    section.update({k: measured[k] for k in keys})
    if "tokens_per_s" in measured:
        section["tokens_per_s"] = measured["tokens_per_s"]
        section["offline_tokens_per_s"] = measured["offline_tokens_per_s"]
    section["architecture"] = describe_architecture(model)
    section["predictions_sha256"] = measured["predictions_sha256"]
    return section


# ------------------------------------------------------------------ the public function


def generate_submission(baseline_model, optimized_model, data, division: str = "closed", *,
                        event, athlete_name: str, github_repo: str,
                        techniques=(), honor_code: bool = False,
                        output_path=None, overwrite: bool = False,
                        warmup_runs: int = 5, measurement_runs: int = 10,
                        min_queries: int = MIN_SINGLE_STREAM_QUERIES,
                        min_duration_s: float = 1.0, offline: bool = True,
                        offline_batch_size: int | None = None, seed: int = 0,
                        notes: str | None = None,
                        descriptions: tuple[str | None, str | None] = (None, None),
                        bundle_dir=None, task_identity=None, architectures=None,
                        ) -> dict[str, Any]:
    """Measure ``optimized_model`` against ``baseline_model`` and build a submission.

    Args:
        baseline_model, optimized_model: for a classification task, models
            mapping ``(B, ...)`` inputs to ``(B, C)`` logits (Modules or
            callables); for a :class:`GenerationData` task,
            :class:`TextGenerator` objects generating the same number of
            tokens per query.
        data: :class:`ClassificationData`, ``(inputs, labels)``, or
            :class:`GenerationData` (see :mod:`tinytorch.olympics.tasks`).
        division: ``"closed"`` (same architecture, accuracy kept: MLPerf's
            rules) or ``"open"`` (anything goes; accuracy recorded).
        event: an :class:`~tinytorch.perf.OlympicEvent` (or its name), or
            ``"auto"``: the most demanding event the measured scores qualify
            for (:func:`choose_event`).
        athlete_name: who submits. github_repo: ``https://<host>/<owner>/<repo>``
            of the code that produced the result.
        techniques: the optimizations applied (e.g. ``["kv-cache"]``).
        honor_code: the athlete affirms that the figures were measured by
            this code, unedited. Recorded as given; a submission without it
            does not validate.
        output_path: where to write the JSON (atomically); None: not written.
        overwrite: replace an existing ``output_path`` (otherwise
            FileExistsError, checked before anything is measured).
        warmup_runs, measurement_runs, min_queries, min_duration_s, seed:
            measurement settings handed to ``tinytorch.perf.Benchmark``
            (SingleStream needs ``min_queries >= 64``).
        offline: also run the Offline scenario (all samples at once);
            ``offline_batch_size``: its batch (None: everything in one batch).
        notes: free text recorded in the submission.
        descriptions: one-line descriptions of the baseline and the optimized model.
        bundle_dir: write a reproducible bundle into this folder
            (:mod:`tinytorch.olympics.bundle`): ``submission.json`` plus both
            models' state files, their SHA-256 hashes recorded in the JSON.
            Needs ``task_identity`` (a task :data:`~tinytorch.olympics.bundle.TASKS`
            rebuilds; it must rebuild exactly ``data``) and ``architectures``
            (the baseline's and the optimized model's configs, see
            :data:`~tinytorch.olympics.bundle.BUILDERS`). The built-in
            pairings carry both (``Pairing.task_identity``, ``.architectures``).

    Returns:
        The submission dict (JSON-ready; its fields are described by the
        schema ``schema/submission.schema.json`` and the README).

    Cost: the SingleStream scenario runs at least ``min_queries`` queries and
    ``min_duration_s`` seconds per model; the other scenarios
    ``warmup_runs + measurement_runs`` calls each.

    Raises:
        ValueError: unknown division or event, empty athlete name, a
            malformed repository URL, generators of unequal work, bad counts.
        TypeError: wrong argument types; models of the wrong kind for the task.
        FileExistsError: ``output_path`` exists and ``overwrite`` is False.
        FileNotFoundError: the directory of ``output_path`` does not exist.
        BundleError (a ValueError): ``task_identity`` is unknown or does not
            rebuild ``data``, an unknown builder.
    """
    if bundle_dir is not None:
        _check_bundle_request(bundle_dir, data, task_identity, architectures, overwrite)
    request = _validate_request(
        baseline_model, optimized_model, data, division, event=event,
        athlete_name=athlete_name, github_repo=github_repo, techniques=techniques,
        honor_code=honor_code, notes=notes, descriptions=descriptions,
        warmup_runs=warmup_runs, measurement_runs=measurement_runs, min_queries=min_queries,
        min_duration_s=min_duration_s, offline=offline,
        offline_batch_size=offline_batch_size, seed=seed)
    if output_path is not None:
        _check_destination(output_path, overwrite)  # before the (long) measurement
    models = {"baseline": baseline_model, "optimized": optimized_model}
    measured = _measure(models, request.task, warmup_runs=request.warmup_runs,
                        measurement_runs=request.measurement_runs,
                        min_queries=request.min_queries,
                        min_duration_s=request.min_duration_s, offline=request.offline,
                        offline_batch_size=request.offline_batch_size, seed=request.seed)
    submission = _assemble(request, models, measured)
    if bundle_dir is not None:
        write_bundle(bundle_dir, submission, models, task_identity,
                     {"baseline": architectures[0], "optimized": architectures[1]},
                     overwrite=overwrite)
    if output_path is not None:
        write_submission(submission, output_path, overwrite=overwrite)
    return submission


def _check_bundle_request(bundle_dir, data, task_identity, architectures, overwrite) -> None:
    """The bundle arguments, checked before anything is measured."""
    if (not isinstance(architectures, (list, tuple)) or len(architectures) != 2
            or not all(isinstance(a, Mapping) for a in architectures)):
        raise TypeError("bundle_dir needs architectures: a (baseline, optimized) pair of "
                        "model configs (dicts)")
    for config in architectures:
        if config.get("builder") not in BUILDERS:
            raise BundleError(f"unknown model builder {config.get('builder')!r}; known: "
                              f"{', '.join(sorted(BUILDERS))}")
    if not task_matches(as_task_data(data), task_identity):
        raise BundleError("task_identity does not rebuild the data given: a reviewer could not "
                          "reproduce the submission on the same task")
    target = os.path.join(os.fspath(bundle_dir), SUBMISSION_FILE)
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target!r} already exists; pass overwrite=True to replace it")


# ------------------------------------------------------------------ validate


@dataclass(frozen=True)
class _Request:
    """The checked, normalised arguments of :func:`generate_submission`."""

    task: Any
    division: str
    event: OlympicEvent | None  # None: choose the event from the scores
    athlete: str
    github_repo: str
    techniques: list[str]
    honor_code: bool
    notes: str | None
    descriptions: tuple[str | None, str | None]
    warmup_runs: int
    measurement_runs: int
    min_queries: int
    min_duration_s: float
    offline: bool
    offline_batch_size: int | None
    seed: int


def _validate_request(baseline_model, optimized_model, data, division, *, event,
                      athlete_name, github_repo, techniques, honor_code, notes,
                      descriptions, warmup_runs, measurement_runs, min_queries,
                      min_duration_s, offline, offline_batch_size, seed) -> _Request:
    """Check every argument of :func:`generate_submission` before anything
    is measured; the errors are the ones its docstring lists."""
    from .validation import check_repo_url  # one URL rule, shared with the validator

    task = as_task_data(data)
    if division not in DIVISIONS:
        raise ValueError(f"division must be 'closed' or 'open', got {division!r}")
    auto = isinstance(event, str) and event.strip().lower() == "auto"
    problem = check_repo_url(github_repo)
    if problem:
        raise ValueError(f"github_repo: {problem}")
    if not isinstance(techniques, (list, tuple)) or not all(isinstance(t, str) and t.strip()
                                                            for t in techniques):
        raise TypeError(f"techniques must be a list of non-empty strings, got {techniques!r}")
    if (not isinstance(descriptions, (list, tuple)) or len(descriptions) != 2
            or not all(d is None or isinstance(d, str) for d in descriptions)):
        raise TypeError(f"descriptions must be a pair of strings (or None), got {descriptions!r}")
    if not isinstance(honor_code, bool):
        raise TypeError(f"honor_code must be a bool, got {honor_code!r}")
    if notes is not None and not isinstance(notes, str):
        raise TypeError(f"notes must be a string or None, got {type(notes).__name__}")
    if (isinstance(min_duration_s, bool) or not isinstance(min_duration_s, (int, float))
            or not math.isfinite(min_duration_s) or min_duration_s < 0):
        raise ValueError(f"min_duration_s must be a finite number >= 0, got {min_duration_s!r}")
    for model, label in ((baseline_model, "baseline_model"), (optimized_model, "optimized_model")):
        if not callable(model):
            raise TypeError(f"{label} must be callable, got {type(model).__name__}")
    if isinstance(task, GenerationData):
        _check_generators(baseline_model, optimized_model)
    return _Request(
        task=task, division=division,
        event=None if auto else OlympicEvent.parse(event),
        athlete=_check_text(athlete_name, "athlete_name"), github_repo=github_repo,
        techniques=list(dict.fromkeys(t.strip() for t in techniques)),
        honor_code=honor_code, notes=notes, descriptions=tuple(descriptions),
        warmup_runs=_check_int(warmup_runs, "warmup_runs", 0),
        measurement_runs=_check_int(measurement_runs, "measurement_runs", 1),
        min_queries=_check_int(min_queries, "min_queries", MIN_SINGLE_STREAM_QUERIES),
        min_duration_s=float(min_duration_s), offline=bool(offline),
        offline_batch_size=(None if offline_batch_size is None else
                            _check_int(offline_batch_size, "offline_batch_size", 1)),
        seed=_check_int(seed, "seed", 0),
    )


# ------------------------------------------------------------------ assemble


def _measurement_section(request: _Request) -> dict[str, Any]:
    """How the figures were measured: metrics, settings, scenario order."""
    return {
        "latency_metric": "SingleStream latency of one query (ms): both models timed in "
                          "alternating rounds (A B B A ...); the median over rounds of each "
                          "round's median latency (single_stream.round_median_ms; the MLPerf "
                          "p90 of all queries is single_stream.p90_ms)",
        "memory_metric": "median peak memory of a one-sample inference forward: "
                         "parameters + buffers + peak activations (MiB, tracemalloc)",
        "accuracy_metric": ("argmax of the logits equals the label"
                            if isinstance(request.task, ClassificationData) else
                            "argmax of the next-token logits equals the next token, "
                            "through the generator's own inference path"),
        "warmup_runs": request.warmup_runs,
        "measurement_runs": request.measurement_runs,
        "min_queries": request.min_queries,
        "min_duration_s": request.min_duration_s,
        "seed": request.seed,
        "offline": request.offline,
        "order": ["single_stream (interleaved)"] + (["offline"] if request.offline else [])
        + ["memory", "accuracy", "predictions"],
    }


def _assemble(request: _Request, models: dict[str, Any],
              measured: dict[str, Any]) -> dict[str, Any]:
    """The submission dict: scores, the event (chosen from them with
    ``event="auto"``), the settings, the system and both models' sections."""
    raw = {name: {k: measured[name][k] for k in ("latency_ms", "memory_mb", "accuracy")}
           for name in models}
    scores = calculate_normalized_scores(raw["baseline"], raw["optimized"])
    chosen = request.event if request.event is not None else choose_event(scores)[0]
    qualification = qualifies_event(scores, chosen)
    baseline, optimized = models["baseline"], models["optimized"]
    task = request.task
    submission: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "timestamp": utc_timestamp(),
        "athlete_name": request.athlete,
        "github_repo": request.github_repo,
        "division": request.division,
        "event": chosen.value,
        "honor_code": request.honor_code,
        "techniques": request.techniques,
        "notes": request.notes,
        "task": (task.describe(baseline.max_new_tokens)
                 if isinstance(task, GenerationData) else task.describe()),
        "measurement": {**_measurement_section(request),
                        "paired_latency": measured["baseline"]["paired"]},
        "system": system_info(),
        "packages": package_versions(),
        "baseline": _model_section(baseline, measured["baseline"], request.descriptions[0]),
        "optimized": _model_section(optimized, measured["optimized"], request.descriptions[1]),
        "normalized_scores": scores,
        "event_qualification": {"qualified": bool(qualification.qualified),
                                "reasons": list(qualification.reasons)},
    }
    return _jsonable(submission)


# ------------------------------------------------------------------ files


def _jsonable(obj):
    """Plain JSON values: NumPy scalars and arrays become Python numbers and
    lists, tuples lists, non-finite floats None."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return str(obj)


def _check_destination(path, overwrite: bool) -> str:
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: directory {directory!r} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path!r} is a directory; give a file name")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path!r} already exists; pass overwrite=True to replace it")
    return path


def write_submission(submission: Mapping, path, *, overwrite: bool = False) -> str:
    """Write ``submission`` as JSON (indented, UTF-8, strict: no NaN) to ``path``.

    Atomic (:func:`tinytorch.tensor.atomic_write`): the text goes to a
    temporary file in the same directory, which is then linked into place
    (no overwrite: the link fails if ``path`` appeared meanwhile) or renamed
    over it (``os.replace``, with ``overwrite``). An interrupted write
    leaves no partial file.

    Returns:
        The path written.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        FileNotFoundError: the directory does not exist.
        ValueError: the submission holds NaN or infinity.
        TypeError: it holds values JSON cannot encode.
    """
    path = _check_destination(path, overwrite)
    text = json.dumps(submission, indent=2, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), binary=False, overwrite=overwrite)


def read_submission(path) -> Any:
    """The JSON value in ``path`` (NaN / Infinity literals are read as floats,
    so that validation can report them).

    At most ``MAX_SUBMISSION_BYTES`` are read: a larger file (a special file
    such as ``/dev/zero`` included) is refused before anything is parsed.

    Raises:
        OSError: the file cannot be read. ValueError: it is larger than
            ``MAX_SUBMISSION_BYTES``, not UTF-8, not JSON or nested too deeply.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        data = f.read(MAX_SUBMISSION_BYTES + 1)
    if len(data) > MAX_SUBMISSION_BYTES:
        raise ValueError(f"{path} is larger than {MAX_SUBMISSION_BYTES:,} bytes "
                         "(MAX_SUBMISSION_BYTES): not a submission")
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to be a submission") from None
