"""Validate a submission: the JSON Schema, then the rules of the Olympics.

``validate_submission(anything)`` never raises. Every problem becomes an
error (the submission is invalid) or a warning (it is valid, but a reviewer
should look), and every rule leaves one line in ``checks``:

==========================  ==============================================================
check                       rule
==========================  ==============================================================
document                    a JSON object
schema                      ``schema/submission.schema.json`` (draft 2020-12), all errors
numbers                     no NaN or infinity anywhere (JSON has neither)
required_fields             every required top-level field is present
honor_code                  ``true`` (the athlete affirms the figures are measured, unedited)
github_repo                 ``https://<host>/<owner>/<repo>``: no http, query, fragment,
                            spaces, credentials or port; on github.com exactly owner/repo
division                    ``closed`` or ``open``
event                       one of the five events
timestamp                   ISO-8601 in UTC, not in the future
raw_metrics                 latency and memory finite and > 0, accuracy a fraction in [0, 1]
                            (checked by hand: bools are not numbers, NaN/inf are errors)
latency_definition          ``latency_ms`` is the SingleStream p90 of >= 64 queries
normalized_scores           recomputed from the raw metrics with
                            ``tinytorch.perf.calculate_normalized_scores``: each submitted
                            score matches within a relative 1e-6
sanity_bounds               speedup > 20x warns, > 50x is an error;
                            compression > 16x warns, > 32x is an error
architecture                each signature matches its description; closed division:
                            the optimized model's signature equals the baseline's
accuracy                    closed: optimized >= 99% of the baseline's accuracy, and a gain
                            of more than 1 point is an error (no retraining); open: recorded
event_qualification         ``tinytorch.perf.qualifies_event`` on the recomputed scores;
                            the submitted verdict must agree
predictions                 both prediction hashes are SHA-256 hex; whether they agree is
                            reported
==========================  ==============================================================
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from tinytorch.perf import OlympicEvent, calculate_normalized_scores, qualifies_event

from .architecture import SIGNATURE_PREFIX, architecture_signature

__all__ = [
    "validate_submission",
    "load_schema",
    "check_repo_url",
    "format_report",
    "REQUIRED_FIELDS",
    "SPEEDUP_WARN",
    "SPEEDUP_ERROR",
    "COMPRESSION_WARN",
    "COMPRESSION_ERROR",
    "CLOSED_MIN_ACCURACY_RATIO",
    "CLOSED_MAX_ACCURACY_GAIN",
    "SCORE_RTOL",
    "MAX_ARRAY_ITEMS",
    "MAX_VALUES",
]

#: Fields every submission must have (the schema's top-level ``required``).
REQUIRED_FIELDS = (
    "schema_version", "timestamp", "athlete_name", "github_repo", "division", "event",
    "honor_code", "techniques", "task", "measurement", "system", "packages",
    "baseline", "optimized", "normalized_scores", "event_qualification",
)
SPEEDUP_WARN, SPEEDUP_ERROR = 20.0, 50.0
COMPRESSION_WARN, COMPRESSION_ERROR = 16.0, 32.0
#: Closed division: the optimized accuracy must be at least 99% of the baseline's...
CLOSED_MIN_ACCURACY_RATIO = 0.99
#: ... and may not exceed it by more than 1 point (a gain means retraining).
CLOSED_MAX_ACCURACY_GAIN = 0.01
#: Relative tolerance of the recomputed normalized scores.
SCORE_RTOL = 1e-6
_ABS_TOL = 1e-12  # accuracy_delta may be exactly 0: a relative tolerance alone cannot match it
_THRESHOLD_TOL = 1e-9  # 0.99 * 0.96 vs 0.9504: rounding must not decide a rule
_MAX_SCHEMA_ERRORS = 50
_MAX_DEPTH = 100  # a submission nests 6 levels; deeper is junk
#: The longest list a submission may hold (its longest, the architecture's
#: tensors, has a few hundred) and the most values in all (a real one has a
#: few thousand): checked before the schema, whose validator is slow on
#: huge documents.
MAX_ARRAY_ITEMS = 10_000
MAX_VALUES = 200_000
_MIN_QUERIES = 64
_SCORE_KEYS = ("speedup", "compression_ratio", "accuracy_delta", "efficiency_score")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_HOST_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MISSING = object()


# ------------------------------------------------------------------ schema


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    return (resources.files("tinytorch.olympics") / "schema" / "submission.schema.json"
            ).read_text(encoding="utf-8")


def load_schema() -> dict:
    """The submission JSON Schema (draft 2020-12) shipped in this package (a fresh dict)."""
    return json.loads(_schema_text())


@functools.lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft202012Validator

    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# ------------------------------------------------------------------ helpers


def _number(value) -> float | None:
    """``value`` as a finite float, or None: bools, strings, NaN, infinity
    and integers too large for a float are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        v = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return v if math.isfinite(v) else None


def _describe(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _get(obj, *path):
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def check_repo_url(url) -> str | None:
    """None if ``url`` is a well-formed https URL of a repository, else the problem.

    Accepted: ``https://github.com/<owner>/<repo>`` (optionally ``.git`` or a
    trailing slash) and ``https://<host>/<owner>/<repo>[/<more>]`` on other
    hosts (GitLab groups nest). Rejected: another scheme (http, ssh, git),
    credentials, a port, a query string or fragment, whitespace or control
    characters, ``.`` / ``..`` segments, a missing owner or repository.
    """
    if not isinstance(url, str):
        return f"must be a string, got {type(url).__name__}"
    if not url:
        return "is empty"
    if len(url) > 500:
        return "is longer than 500 characters"
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return "contains whitespace or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() != "https":
        return f"must use https, got {parts.scheme + '://' if parts.scheme else 'no scheme'}"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "must not contain credentials"
    if port is not None or parts.netloc.endswith(":"):
        return "must not contain a port"
    host = parts.hostname or ""
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        return f"has no valid host name ({host!r})"
    if parts.query or "?" in url:
        return "must not contain a query string"
    if parts.fragment or "#" in url:
        return "must not contain a fragment"
    path = parts.path
    if path.endswith("/"):
        path = path[:-1]
    if path.endswith(".git"):
        path = path[:-4]
    segments = path.split("/")[1:] if path.startswith("/") else []
    if len(segments) < 2 or any(s == "" for s in segments):
        return "must name an owner and a repository: https://<host>/<owner>/<repo>"
    for s in segments:
        if s in (".", "..") or not _SEGMENT.match(s):
            return f"has an invalid path segment {s!r}"
    if host.lower() in ("github.com", "www.github.com") and len(segments) != 2:
        return "a GitHub repository URL is https://github.com/<owner>/<repo>"
    return None


def _parse_utc(text) -> datetime | None:
    if not isinstance(text, str) or not 19 <= len(text) <= 40:
        return None
    try:
        stamp = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        return None
    if stamp.tzinfo is None or stamp.utcoffset() != timedelta(0):
        return None
    return stamp


class _Report:
    def __init__(self) -> None:
        self.checks: list[dict[str, str]] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def passed(self, name: str, message: str) -> None:
        self.checks.append({"name": name, "status": "passed", "message": message})

    def failed(self, name: str, *messages: str) -> None:
        for message in messages:
            self.checks.append({"name": name, "status": "failed", "message": message})
            self.errors.append(f"{name}: {message}")

    def warned(self, name: str, message: str) -> None:
        self.checks.append({"name": name, "status": "warning", "message": message})
        self.warnings.append(f"{name}: {message}")

    def skipped(self, name: str, message: str) -> None:
        self.checks.append({"name": name, "status": "skipped", "message": message})

    def result(self) -> dict[str, Any]:
        return {"valid": not self.errors, "checks": self.checks,
                "warnings": self.warnings, "errors": self.errors}


# ------------------------------------------------------------------ the checks


def _check_size(sub: Mapping, report: _Report) -> bool:
    """False (and a failed ``size`` check) when the document holds a list
    longer than ``MAX_ARRAY_ITEMS`` or more than ``MAX_VALUES`` values.
    One iterative pass, stopped at the first excess: O(min(n, MAX_VALUES))."""
    stack, seen = [("$", sub)], 0
    while stack:
        where, value = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            report.failed("size", f"the document holds more than {MAX_VALUES:,} values")
            return False
        if isinstance(value, list):
            if len(value) > MAX_ARRAY_ITEMS:
                report.failed("size", f"{where} is a list of {len(value):,} items, more than "
                                      f"{MAX_ARRAY_ITEMS:,}")
                return False
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, Mapping):
            if len(value) > MAX_VALUES:
                break  # reported below, without pushing every key
            stack.extend((f"{where}.{k}", v) for k, v in value.items())
    else:
        return True
    report.failed("size", f"the document holds more than {MAX_VALUES:,} values")
    return False


def _check_schema(sub: Mapping, report: _Report) -> None:
    errors = []
    for err in _validator().iter_errors(sub):
        # A missing top-level field is reported once, by required_fields.
        if err.validator == "required" and not err.absolute_path:
            continue
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                              for p in err.absolute_path)
        message = err.message if len(err.message) <= 200 else err.message[:197] + "..."
        errors.append(f"{where}: {message}")
        if len(errors) > _MAX_SCHEMA_ERRORS:
            break
    if not errors:
        report.passed("schema", "matches schema/submission.schema.json (draft 2020-12)")
        return
    errors.sort()
    if len(errors) > _MAX_SCHEMA_ERRORS:
        errors = errors[:_MAX_SCHEMA_ERRORS] + [f"... more than {_MAX_SCHEMA_ERRORS} errors"]
    report.failed("schema", *errors)


def _check_numbers(sub: Mapping, report: _Report) -> None:
    """JSON has no NaN or infinity: a non-finite float anywhere is an error
    (a schema ``minimum`` cannot catch NaN: every comparison with it is false)."""
    bad: list[str] = []
    stack: list[tuple[str, int, Any]] = [("$", 0, sub)]
    visited = 0
    while stack and visited < 1_000_000 and len(bad) < 10:
        where, depth, value = stack.pop()
        visited += 1
        if isinstance(value, float) and not math.isfinite(value):
            bad.append(f"{where} is {value}")
        elif isinstance(value, (Mapping, list, tuple)):
            if depth >= _MAX_DEPTH:
                report.failed("numbers", f"{where} is nested more than {_MAX_DEPTH} levels deep")
                return
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            fmt = "{}.{}" if isinstance(value, Mapping) else "{}[{}]"
            stack.extend((fmt.format(where, k), depth + 1, v) for k, v in items)
    if bad:
        report.failed("numbers", *(f"{b}: JSON numbers must be finite" for b in sorted(bad)))
    else:
        report.passed("numbers", "no NaN or infinity anywhere")


def _check_required(sub: Mapping, report: _Report) -> None:
    missing = [k for k in REQUIRED_FIELDS if k not in sub]
    if missing:
        report.failed("required_fields", "missing " + ", ".join(repr(k) for k in missing))
    else:
        report.passed("required_fields", f"all {len(REQUIRED_FIELDS)} required fields present")


def _check_identity(sub: Mapping, report: _Report) -> None:
    honor = sub.get("honor_code", _MISSING)
    if honor is True:
        report.passed("honor_code", "affirmed")
    else:
        shown = "missing" if honor is _MISSING else _describe(honor)
        report.failed("honor_code", f"must be true (the athlete affirms that the figures were "
                                    f"measured by this code, unedited); got {shown}")

    url = sub.get("github_repo", _MISSING)
    problem = "is missing" if url is _MISSING else check_repo_url(url)
    if problem:
        report.failed("github_repo", f"{_describe(url) if url is not _MISSING else ''} "
                                     f"{problem}".strip())
    else:
        report.passed("github_repo", f"{url}")

    name = sub.get("athlete_name", _MISSING)
    if isinstance(name, str) and name.strip():
        report.passed("athlete_name", name.strip()[:80])
    else:
        report.failed("athlete_name", f"must be a non-empty string, got "
                                      f"{'nothing' if name is _MISSING else _describe(name)}")

    division = sub.get("division", _MISSING)
    if division in ("closed", "open") and isinstance(division, str):
        report.passed("division", division)
    else:
        report.failed("division", f"must be 'closed' or 'open', got "
                                  f"{'nothing' if division is _MISSING else _describe(division)}")

    event = sub.get("event", _MISSING)
    values = [e.value for e in OlympicEvent]
    if isinstance(event, str) and event in values:
        report.passed("event", event)
    else:
        report.failed("event", f"must be one of {', '.join(values)}; got "
                               f"{'nothing' if event is _MISSING else _describe(event)}")

    stamp_text = sub.get("timestamp", _MISSING)
    stamp = _parse_utc(stamp_text)
    if stamp is None:
        got = "nothing" if stamp_text is _MISSING else _describe(stamp_text)
        report.failed("timestamp", f"must be an ISO-8601 UTC time like 2024-05-01T12:30:00Z; "
                                   f"got {got}")
    elif stamp > datetime.now(timezone.utc) + timedelta(minutes=5):
        report.failed("timestamp", f"{stamp_text} is in the future")
    else:
        report.passed("timestamp", stamp_text)


def _raw_metrics(sub: Mapping, report: _Report) -> dict[str, dict[str, float]] | None:
    """Hand-checked raw metrics of both models, or None (errors reported)."""
    raw: dict[str, dict[str, float]] = {}
    problems = []
    for who in ("baseline", "optimized"):
        section = sub.get(who, _MISSING)
        if not isinstance(section, Mapping):
            problems.append(f"{who} must be an object with latency_ms, memory_mb and accuracy")
            continue
        values = {}
        for key, rule in (("latency_ms", "a finite number > 0"),
                          ("memory_mb", "a finite number > 0"),
                          ("accuracy", "a fraction in [0, 1]")):
            value = section.get(key, _MISSING)
            v = None if value is _MISSING else _number(value)
            ok = v is not None and (0.0 <= v <= 1.0 if key == "accuracy" else v > 0.0)
            if not ok:
                got = "nothing" if value is _MISSING else _describe(value)
                problems.append(f"{who}.{key} must be {rule}, got {got}")
            else:
                values[key] = v
        raw[who] = values
    if problems:
        report.failed("raw_metrics", *problems)
        return None
    b, o = raw["baseline"], raw["optimized"]
    report.passed("raw_metrics", f"baseline {b['latency_ms']:.4g} ms, {b['memory_mb']:.4g} MiB, "
                                 f"accuracy {b['accuracy']:.4f}; optimized "
                                 f"{o['latency_ms']:.4g} ms, {o['memory_mb']:.4g} MiB, "
                                 f"accuracy {o['accuracy']:.4f}")
    return raw


def _check_latency_definition(sub: Mapping, report: _Report) -> None:
    problems = []
    for who in ("baseline", "optimized"):
        latency = _number(_get(sub, who, "latency_ms"))
        # Interleaved measurements score the round median; older ones the pooled p90.
        stream = _get(sub, who, "single_stream")
        key = ("round_median_ms" if isinstance(stream, Mapping) and "round_median_ms" in stream
               else "p90_ms")
        reference = _number(_get(sub, who, "single_stream", key))
        queries = _get(sub, who, "single_stream", "queries")
        if latency is None or reference is None:
            problems.append(f"{who}: latency_ms and single_stream.{key} must both be numbers")
        elif not math.isclose(latency, reference, rel_tol=SCORE_RTOL, abs_tol=_ABS_TOL):
            problems.append(f"{who}.latency_ms ({latency:.6g}) is not the SingleStream "
                            f"{key} ({reference:.6g})")
        if isinstance(queries, bool) or not isinstance(queries, int) or queries < _MIN_QUERIES:
            problems.append(f"{who}.single_stream.queries must be an integer >= {_MIN_QUERIES} "
                            f"(a p90 needs them), got {_describe(queries)}")
        correct, total = _get(sub, who, "correct"), _get(sub, who, "total")
        accuracy = _number(_get(sub, who, "accuracy"))
        if (isinstance(correct, int) and isinstance(total, int) and not isinstance(correct, bool)
                and not isinstance(total, bool) and total > 0 and accuracy is not None):
            if not 0 <= correct <= total or not math.isclose(correct / total, accuracy,
                                                             rel_tol=SCORE_RTOL, abs_tol=_ABS_TOL):
                problems.append(f"{who}.accuracy ({accuracy:.6g}) is not correct / total "
                                f"({correct} / {total})")
        else:
            problems.append(f"{who}: correct and total must be integers with total > 0")
    if problems:
        report.failed("latency_definition", *problems)
    else:
        report.passed("latency_definition", "latency_ms is the SingleStream round median (or "
                                            "p90) of >= 64 queries and accuracy is correct / "
                                            "total, for both models")


def _check_scores(sub: Mapping, raw, report: _Report) -> dict[str, float] | None:
    """Recompute the scores; compare with the submitted ones. Returns the
    recomputed scores (trusted from here on) or None."""
    submitted = sub.get("normalized_scores", _MISSING)
    if raw is None:
        report.skipped("normalized_scores", "not recomputed: the raw metrics are invalid")
        recomputed = None
    else:
        try:
            recomputed = calculate_normalized_scores(raw["baseline"], raw["optimized"])
        except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
            report.failed("normalized_scores", f"cannot be recomputed: {exc}")
            return None
        if not all(_number(recomputed[k]) is not None for k in _SCORE_KEYS):
            report.failed("normalized_scores", "the raw metrics give non-finite scores")
            return None
    if not isinstance(submitted, Mapping):
        report.failed("normalized_scores", "must be an object with " + ", ".join(_SCORE_KEYS))
        return recomputed
    problems = []
    for key in _SCORE_KEYS:
        value = submitted.get(key, _MISSING)
        v = None if value is _MISSING else _number(value)
        if v is None:
            problems.append(f"{key} must be a finite number, got "
                            f"{'nothing' if value is _MISSING else _describe(value)}")
        elif recomputed is not None and not math.isclose(v, recomputed[key], rel_tol=SCORE_RTOL,
                                                         abs_tol=_ABS_TOL):
            problems.append(f"{key} {v:.9g} does not match {recomputed[key]:.9g} recomputed "
                            f"from the raw metrics")
    if problems:
        report.failed("normalized_scores", *problems)
    elif recomputed is not None:
        report.passed("normalized_scores", "match the raw metrics: " + ", ".join(
            f"{k} {recomputed[k]:.4g}" for k in _SCORE_KEYS))
    return recomputed


def _check_bounds(scores, report: _Report) -> None:
    if scores is None:
        report.skipped("sanity_bounds", "no trustworthy scores to check")
        return
    clean = True
    for key, label, warn, error in (("speedup", "speedup", SPEEDUP_WARN, SPEEDUP_ERROR),
                                    ("compression_ratio", "compression", COMPRESSION_WARN,
                                     COMPRESSION_ERROR)):
        v = scores[key]
        if v > error:
            report.failed("sanity_bounds", f"{label} {v:.1f}x is above {error:g}x: not plausible "
                                           f"for this stack; check the measurement")
            clean = False
        elif v > warn:
            report.warned("sanity_bounds", f"{label} {v:.1f}x is above {warn:g}x: exceptional, "
                                           f"review it")
            clean = False
    if clean:
        report.passed("sanity_bounds", f"speedup {scores['speedup']:.2f}x <= {SPEEDUP_WARN:g}x, "
                                       f"compression {scores['compression_ratio']:.2f}x <= "
                                       f"{COMPRESSION_WARN:g}x")


def _signature_of(sub: Mapping, who: str, report_problems: list) -> str | None:
    arch = _get(sub, who, "architecture")
    if not isinstance(arch, Mapping):
        report_problems.append(f"{who}.architecture is missing or not an object")
        return None
    claimed = arch.get("signature")
    if not isinstance(claimed, str) or not claimed.startswith(SIGNATURE_PREFIX):
        report_problems.append(f"{who}.architecture.signature must be 'sha256:<hex>', got "
                               f"{_describe(claimed)}")
        return None
    try:
        actual = architecture_signature(arch)
    except (KeyError, TypeError, ValueError, RecursionError):
        report_problems.append(f"{who}.architecture: modules, parameters and buffers must be "
                               f"lists of JSON values")
        return None
    if actual != claimed:
        report_problems.append(f"{who}.architecture.signature does not match its modules and "
                               f"parameter shapes (edited?)")
        return None
    return claimed


def _check_architecture(sub: Mapping, division, report: _Report) -> None:
    problems: list[str] = []
    base = _signature_of(sub, "baseline", problems)
    opt = _signature_of(sub, "optimized", problems)
    if problems:
        report.failed("architecture", *problems)
        return
    if base == opt:
        report.passed("architecture", f"optimized model has the baseline's architecture "
                                      f"({base[:19]}...)")
    elif division == "closed":
        report.failed("architecture", "closed division: the optimized model's architecture "
                                      "(module types and parameter shapes) differs from the "
                                      "baseline's" + _first_difference(sub))
    elif division == "open":
        report.passed("architecture", "open division: architecture changed (allowed)"
                      + _first_difference(sub))
    else:
        report.skipped("architecture", "architectures differ; no valid division to judge it by")


def _first_difference(sub: Mapping) -> str:
    try:
        for key in ("modules", "parameters", "buffers"):
            a = _get(sub, "baseline", "architecture", key)
            b = _get(sub, "optimized", "architecture", key)
            for x, y in zip(a, b):
                if x != y:
                    return f"; first difference in {key}: {_describe(x)} vs {_describe(y)}"
            if len(a) != len(b):
                return f"; {key}: {len(a)} vs {len(b)} entries"
    except TypeError:
        pass
    return ""


def _check_accuracy(raw, division, report: _Report) -> None:
    if raw is None:
        report.skipped("accuracy", "raw metrics invalid")
        return
    base, opt = raw["baseline"]["accuracy"], raw["optimized"]["accuracy"]
    delta = opt - base
    text = f"optimized {opt:.4f} vs baseline {base:.4f} ({delta * 100:+.2f} points)"
    if division != "closed":
        label = "open division: recorded, not enforced" if division == "open" else \
            "division unknown: accuracy rules not applied"
        report.passed("accuracy", f"{text}; {label}")
        return
    problems = []
    floor = CLOSED_MIN_ACCURACY_RATIO * base
    if opt < floor - _THRESHOLD_TOL:
        problems.append(f"closed division: {text} is below 99% of the baseline's accuracy "
                        f"({floor:.4f})")
    if delta > CLOSED_MAX_ACCURACY_GAIN + _THRESHOLD_TOL:
        problems.append(f"closed division: {text} gains more than 1 point: an optimization "
                        f"that keeps the model cannot make it more accurate (retraining is "
                        f"not allowed in the closed division)")
    if problems:
        report.failed("accuracy", *problems)
    else:
        report.passed("accuracy", f"closed division: {text}, within 99% of the baseline and "
                                  f"at most 1 point above it")


def _check_event(sub: Mapping, scores, report: _Report) -> None:
    event = sub.get("event")
    try:
        ev = OlympicEvent(event) if isinstance(event, str) else None
    except ValueError:
        ev = None
    if ev is None:
        report.skipped("event_qualification", "no valid event")
        return
    if scores is None:
        report.skipped("event_qualification", "no trustworthy scores")
        return
    qualified, reasons = qualifies_event(scores, ev)
    claimed = _get(sub, "event_qualification", "qualified")
    if not qualified:
        report.failed("event_qualification", f"does not qualify for {ev.value} "
                                             f"({ev.description}): " + "; ".join(reasons))
    elif claimed is not True:
        report.failed("event_qualification", f"the submission says qualified="
                                             f"{_describe(claimed)} but the scores qualify "
                                             f"for {ev.value}")
    else:
        report.passed("event_qualification", f"qualifies for {ev.value}: " + "; ".join(reasons))


def _check_predictions(sub: Mapping, report: _Report) -> None:
    hashes = {}
    for who in ("baseline", "optimized"):
        value = _get(sub, who, "predictions_sha256")
        if not isinstance(value, str) or not _SHA256.match(value):
            report.failed("predictions", f"{who}.predictions_sha256 must be 64 lowercase hex "
                                         f"digits, got {_describe(value)}")
            return
        hashes[who] = value
    same = hashes["baseline"] == hashes["optimized"]
    report.passed("predictions", "the optimized model's predictions are identical to the "
                                 "baseline's" if same else
                                 "the optimized model's predictions differ from the baseline's "
                                 "(allowed; accuracy is judged above)")


def _validate(submission) -> dict[str, Any]:
    report = _Report()
    if not isinstance(submission, Mapping):
        report.failed("document", f"a submission is a JSON object, got "
                                  f"{type(submission).__name__}")
        return report
    report.passed("document", "a JSON object")
    if not _check_size(submission, report):
        return report  # every later check would walk the whole document
    try:
        _check_schema(submission, report)
    except RecursionError:
        report.failed("schema", "the document is nested too deeply to check")
    _check_numbers(submission, report)
    _check_required(submission, report)
    _check_identity(submission, report)
    raw = _raw_metrics(submission, report)
    _check_latency_definition(submission, report)
    scores = _check_scores(submission, raw, report)
    _check_bounds(scores, report)
    division = submission.get("division")
    _check_architecture(submission, division, report)
    _check_accuracy(raw, division, report)
    _check_event(submission, scores, report)
    _check_predictions(submission, report)
    _check_plausible_memory(submission, report)
    _check_paired(submission, scores, report)
    return report


def _check_paired(sub: Mapping, scores, report: _Report) -> None:
    """The speedup score (ratio of round medians) and the paired speedup
    (median of round ratios) come from the same rounds: they must agree."""
    from .reproduce import REPRODUCE_SPEEDUP_RTOL

    paired = _get(sub, "measurement", "paired_latency")
    if paired is _MISSING:
        report.skipped("paired_speedup", "no interleaved measurement recorded (an older "
                                         "submission)")
        return
    speedup = _number(_get(paired, "speedup"))
    ci = _get(paired, "ci95")
    if speedup is None or speedup <= 0 or not isinstance(ci, list) or len(ci) != 2 or not all(
            _number(v) is not None for v in ci) or not ci[0] <= speedup <= ci[1]:
        report.failed("paired_speedup", "measurement.paired_latency needs a positive speedup "
                                        "inside its ci95 [low, high]")
        return
    if scores is None:
        report.skipped("paired_speedup", "not compared: the scores are invalid")
        return
    off = max(scores["speedup"] / speedup, speedup / scores["speedup"]) - 1
    if off > REPRODUCE_SPEEDUP_RTOL:
        report.failed("paired_speedup", f"the speedup score {scores['speedup']:.3f} is off by "
                                        f"{off:.0%} from the paired measurement's "
                                        f"{speedup:.3f} (same rounds; more than "
                                        f"{REPRODUCE_SPEEDUP_RTOL:.0%})")
    else:
        report.passed("paired_speedup", f"paired speedup {speedup:.3f} [{ci[0]:.3f}, "
                                        f"{ci[1]:.3f}] agrees with the score "
                                        f"{scores['speedup']:.3f}")


def _itemsize(dtype) -> int:
    """The width in bytes of a plain dtype name such as ``"float32"``.

    Raises:
        ValueError: anything else. NumPy reads some strings as structured
            dtypes (``"f4,i4"``) and raises SyntaxError on others (``"f,"``).
    """
    if not isinstance(dtype, str):  # np.dtype(None) would be float64
        raise ValueError(f"not a dtype name: {dtype!r}")
    try:
        dt = np.dtype(dtype)
    except Exception:  # TypeError, ValueError, SyntaxError from NumPy's parser
        raise ValueError(f"not a dtype: {dtype!r}") from None
    if dt.fields is not None or dt.subdtype is not None or dt.kind not in "biuf":
        raise ValueError(f"not a plain numeric dtype: {dtype!r}")
    return dt.itemsize


def _stored_bytes(arch: Mapping) -> int:
    """The fewest bytes the described tensors take as stored: each listed
    tensor's element count times its dtype's width; a quantized module's
    float entries are replaced by what it really stores (``quantized``)."""
    quantized = arch.get("quantized") or []
    prefixes = {str(name).rsplit(".", 1)[0] for name, _, _ in quantized}
    total = 0
    for name, shape, dtype in list(arch.get("parameters", [])) + list(arch.get("buffers", [])):
        if str(name).rsplit(".", 1)[0] not in prefixes:
            total += math.prod(int(d) for d in shape) * _itemsize(dtype)
    for _, shape, dtype in quantized:
        total += math.prod(int(d) for d in shape) * _itemsize(dtype)
    return total


def _check_plausible_memory(sub: Mapping, report: _Report) -> None:
    """No re-run needed: the claimed memory must hold the tensors the
    architecture says are stored, and the memory figure must hold the
    claimed parameter and buffer bytes."""
    problems = []
    for who in ("baseline", "optimized"):
        arch, memory = _get(sub, who, "architecture"), _get(sub, who, "memory")
        mb = _number(_get(sub, who, "memory_mb"))
        if not isinstance(arch, Mapping) or not isinstance(memory, Mapping) or mb is None:
            problems.append(f"{who}: architecture, memory and memory_mb are needed")
            continue
        try:
            need = _stored_bytes(arch)
        except (TypeError, ValueError):
            problems.append(f"{who}: the architecture lists unreadable shapes or dtypes")
            continue
        claimed = sum(_number(memory.get(k)) or 0 for k in ("parameter_bytes", "buffer_bytes"))
        if claimed < need:
            problems.append(f"{who}: {claimed:,.0f} parameter and buffer bytes claimed, but the "
                            f"architecture stores at least {need:,} (count x width)")
        if mb * 2**20 < 0.99 * claimed:
            problems.append(f"{who}: memory_mb {mb:.4g} MiB is less than the claimed parameter "
                            f"and buffer bytes ({claimed / 2**20:.4g} MiB)")
    if problems:
        report.failed("plausible_memory", *problems)
    else:
        report.passed("plausible_memory", "each model's memory holds at least the tensors its "
                                          "architecture stores")


def validate_submission(submission, reproduce: bool = False) -> dict[str, Any]:
    """Check a submission against the schema and every rule (module docstring).

    Args:
        submission: the dict read from a submission file, or a path: a
            submission JSON file or a bundle folder (read here; a file that
            cannot be read makes the submission invalid).
        reproduce: also run the bundle again on this machine
            (:mod:`tinytorch.olympics.reproduce`): check the files' hashes,
            recompute accuracy exactly and re-measure the speedup and
            compression ratios, rejecting a claim off by more than
            ``REPRODUCE_SPEEDUP_RTOL`` / ``REPRODUCE_MEMORY_RTOL``. Needs a
            path to a bundle. Costs one measurement of both models.

    Returns:
        ``{"valid": bool, "checks": [{"name", "status", "message"}, ...],
        "warnings": [str, ...], "errors": [str, ...]}``; ``valid`` is True
        exactly when ``errors`` is empty. ``status`` is ``passed``,
        ``failed``, ``warning`` or ``skipped`` (a rule that needs a value
        another check already rejected).

    Never raises: a failure inside a check (which would be a bug) is
    reported as an error, and the submission is then invalid.
    """
    try:
        path = None
        if isinstance(submission, (str, os.PathLike)):
            path = submission
            from .bundle import bundle_paths
            from .submission import read_submission
            try:
                submission = read_submission(bundle_paths(path)[1])
            except (OSError, ValueError) as exc:
                return {"valid": False, "checks": [], "warnings": [],
                        "errors": [f"cannot read {os.fspath(path)}: {exc}"]}
        report = _validate(submission)
        if reproduce:
            if path is None:
                report.failed("bundle", "--reproduce needs the bundle's path, not a dict")
            elif isinstance(submission, Mapping):
                from .reproduce import reproduce as _reproduce
                _reproduce(path, submission, report)
        return report.result()
    except Exception as exc:  # the promise: never raise, never call it valid
        return {"valid": False, "checks": [], "warnings": [],
                "errors": [f"internal: validation stopped ({type(exc).__name__}: {exc})"]}


def format_report(report: Mapping, *, verbose: bool = True) -> str:
    """The report as text: one line per check (``verbose``), then the
    warnings and errors, then the verdict."""
    marks = {"passed": "ok  ", "failed": "FAIL", "warning": "warn", "skipped": "skip"}
    lines = []
    if verbose:
        for check in report.get("checks", []):
            mark = marks.get(check.get("status"), "?   ")
            lines.append(f"  [{mark}] {check.get('name')}: {check.get('message')}")
    warnings, errors = report.get("warnings", []), report.get("errors", [])
    if warnings:
        lines.append(f"{len(warnings)} warning(s):")
        lines.extend(f"  - {w}" for w in warnings)
    if errors:
        lines.append(f"{len(errors)} error(s):")
        lines.extend(f"  - {e}" for e in errors)
    lines.append("VALID" if report.get("valid") else "INVALID")
    return "\n".join(lines)
