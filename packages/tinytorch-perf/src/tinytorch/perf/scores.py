"""Normalized scores: compare an optimized model with its baseline, fairly.

A raw latency depends on the machine; the *ratio* of two latencies measured
on the same machine mostly does not. So a submission is scored by how it
improves on its own baseline, measured side by side:

    speedup           = baseline.latency_ms / optimized.latency_ms     (> 1: faster)
    compression_ratio = baseline.memory_mb  / optimized.memory_mb      (> 1: smaller)
    accuracy_delta    = optimized.accuracy  - baseline.accuracy        (fraction; 0.01 = 1 point)
    efficiency_score  = sqrt(speedup * compression_ratio) * (1 + accuracy_delta)

The efficiency score is the geometric mean of the two resource ratios (each
counts equally, and doubling either one multiplies the score by sqrt(2) no
matter its scale), scaled by the accuracy kept (a 1-point loss costs 1% of
the score). The baseline against itself scores exactly 1.

Across several benchmarks (:func:`aggregate_scores`) the ratios are
combined with the geometric mean, the only mean for which "2x faster on one
task and 2x slower on another" averages to 1x, and which does not depend on
which model is called the baseline. ``accuracy_delta`` is a difference, not
a ratio (it is 0 or negative as often as positive), so it is averaged
arithmetically.

The five events of the Olympics and their qualification rules live in
:data:`EVENT_RULES` (one table; the README shows the same table):

| event            | speedup | compression | combine | accuracy_delta |
|------------------|---------|-------------|---------|----------------|
| LATENCY_SPRINT   | >= 1.5  |             |         | >= -0.01       |
| MEMORY_CHALLENGE |         | >= 2.0      |         | >= -0.01       |
| ACCURACY_CONTEST | >= 0.9  | >= 0.9      | all     | >= 0.0         |
| ALL_AROUND       | >= 1.2  | >= 1.2      | all     | >= -0.01       |
| EXTREME_PUSH     | >= 3.0  | >= 4.0      | any     | >= -0.05       |

("combine": whether both resource thresholds must hold, or either one;
the accuracy condition always holds in addition.)
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "calculate_normalized_scores",
    "aggregate_scores",
    "OlympicEvent",
    "EventRule",
    "EVENT_RULES",
    "EventQualification",
    "qualifies_event",
    "SCORE_KEYS",
    "RAW_METRIC_KEYS",
]

#: Keys of the raw metrics of one model (inputs of calculate_normalized_scores).
RAW_METRIC_KEYS = ("latency_ms", "memory_mb", "accuracy")
#: Keys of a normalized score dict.
SCORE_KEYS = ("speedup", "compression_ratio", "accuracy_delta", "efficiency_score")

# Comparisons with a threshold forgive this much floating-point rounding
# (0.95 - 0.96 is -0.010000000000000009, which must count as "1 point").
_TOLERANCE = 1e-9


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(
        value, "__float__"
    ):
        raise TypeError(f"{field} must be a number, got {type(value).__name__} ({value!r})")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{field} is too large to be a finite number") from None
    except (TypeError, ValueError):
        raise TypeError(f"{field} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{field} must be finite, got {v}")
    return v


def _validate_raw(metrics, who: str) -> tuple[float, float, float]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"{who} must be a dict with {', '.join(RAW_METRIC_KEYS)}; "
                        f"got {type(metrics).__name__}")
    missing = [k for k in RAW_METRIC_KEYS if k not in metrics]
    if missing:
        raise ValueError(f"{who} is missing {', '.join(repr(k) for k in missing)}")
    latency = _number(metrics["latency_ms"], f"{who}.latency_ms")
    memory = _number(metrics["memory_mb"], f"{who}.memory_mb")
    accuracy = _number(metrics["accuracy"], f"{who}.accuracy")
    if latency <= 0.0:
        raise ValueError(f"{who}.latency_ms must be > 0, got {latency}")
    if memory <= 0.0:
        raise ValueError(f"{who}.memory_mb must be > 0, got {memory}")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"{who}.accuracy must be a fraction in [0, 1], got {accuracy}")
    return latency, memory, accuracy


def calculate_normalized_scores(baseline: Mapping, optimized: Mapping) -> dict[str, float]:
    """Scores of ``optimized`` relative to ``baseline`` (see the module docstring).

    Args:
        baseline, optimized: dicts with ``latency_ms`` (> 0), ``memory_mb``
            (> 0) and ``accuracy`` (a fraction in [0, 1]), measured on the
            same machine. Other keys are ignored.

    Returns:
        ``{"speedup", "compression_ratio", "accuracy_delta", "efficiency_score"}``.

    Raises:
        ValueError: a missing field, a non-finite value, a latency or memory
            that is zero or negative, an accuracy outside [0, 1] (the
            message names the field, e.g. ``optimized.memory_mb``).
        TypeError: a field that is not a number (bools are not numbers here).
    """
    b_lat, b_mem, b_acc = _validate_raw(baseline, "baseline")
    o_lat, o_mem, o_acc = _validate_raw(optimized, "optimized")
    speedup = b_lat / o_lat
    compression = b_mem / o_mem
    delta = o_acc - b_acc
    return {
        "speedup": speedup,
        "compression_ratio": compression,
        "accuracy_delta": delta,
        "efficiency_score": efficiency_score(speedup, compression, delta),
    }


def efficiency_score(speedup: float, compression_ratio: float, accuracy_delta: float) -> float:
    """``sqrt(speedup * compression_ratio) * (1 + accuracy_delta)``."""
    return math.sqrt(speedup * compression_ratio) * (1.0 + accuracy_delta)


def aggregate_scores(scores: Sequence[Mapping]) -> dict[str, float]:
    """Combine the normalized scores of several benchmarks into one.

    ``speedup``, ``compression_ratio`` and ``efficiency_score``: geometric
    mean ``exp(mean(log x))`` (ratios multiply; see the module docstring).
    ``accuracy_delta``: arithmetic mean (a difference that may be negative
    or zero, for which a geometric mean is undefined). ``count``: how many
    score dicts were combined.

    Raises:
        ValueError: an empty list, a missing key, a non-finite value, a
            ratio <= 0 (the message names the entry and the key).
        TypeError: ``scores`` is not a sequence of dicts, or a value is not a number.
    """
    if isinstance(scores, Mapping) or not isinstance(scores, Sequence):
        raise TypeError(f"aggregate_scores expects a list of score dicts, "
                        f"got {type(scores).__name__}")
    if not scores:
        raise ValueError("aggregate_scores needs at least one score dict")
    logs = {k: 0.0 for k in ("speedup", "compression_ratio", "efficiency_score")}
    delta_sum = 0.0
    for i, entry in enumerate(scores):
        if not isinstance(entry, Mapping):
            raise TypeError(f"scores[{i}] must be a dict, got {type(entry).__name__}")
        missing = [k for k in SCORE_KEYS if k not in entry]
        if missing:
            raise ValueError(f"scores[{i}] is missing {', '.join(repr(k) for k in missing)}")
        for key in logs:
            v = _number(entry[key], f"scores[{i}].{key}")
            if v <= 0.0:
                raise ValueError(f"scores[{i}].{key} must be > 0 (a ratio), got {v}")
            logs[key] += math.log(v)
        delta_sum += _number(entry["accuracy_delta"], f"scores[{i}].accuracy_delta")
    n = len(scores)
    out = {key: math.exp(total / n) for key, total in logs.items()}
    out["accuracy_delta"] = delta_sum / n
    out["count"] = n
    return {k: out[k] for k in (*SCORE_KEYS, "count")}


# ---------------------------------------------------------------- events


class OlympicEvent(enum.Enum):
    """The five events of the TorchPerf Olympics (rules: :data:`EVENT_RULES`).

    * ``LATENCY_SPRINT``: at least 1.5x faster, losing at most 1 accuracy point.
    * ``MEMORY_CHALLENGE``: at least 2x smaller, losing at most 1 point.
    * ``ACCURACY_CONTEST``: no accuracy lost, at most 10% slower and 10% larger.
    * ``ALL_AROUND``: at least 1.2x faster *and* 1.2x smaller, losing at most 1 point.
    * ``EXTREME_PUSH``: at least 3x faster *or* 4x smaller, losing at most 5 points.
    """

    LATENCY_SPRINT = "latency_sprint"
    MEMORY_CHALLENGE = "memory_challenge"
    ACCURACY_CONTEST = "accuracy_contest"
    ALL_AROUND = "all_around"
    EXTREME_PUSH = "extreme_push"

    @classmethod
    def parse(cls, event) -> OlympicEvent:
        """An event from itself, its value (``"latency_sprint"``) or its name
        (``"LATENCY_SPRINT"``); ValueError listing the events otherwise."""
        if isinstance(event, cls):
            return event
        if isinstance(event, str):
            key = event.strip()
            for member in cls:
                if key in (member.value, member.name) or key.lower() == member.value:
                    return member
        choices = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown Olympic event {event!r}; the events are: {choices}")

    @property
    def rule(self) -> EventRule:
        return EVENT_RULES[self]

    @property
    def description(self) -> str:
        return EVENT_RULES[self].description


@dataclass(frozen=True)
class EventRule:
    """Qualification thresholds of one event (None: no condition).

    Qualified when ``accuracy_delta >= min_accuracy_delta`` and the
    resource conditions hold: ``speedup >= min_speedup`` and/or
    ``compression_ratio >= min_compression`` (``combine`` is ``"all"``: each
    given condition; ``"any"``: at least one).
    """

    description: str
    min_speedup: float | None = None
    min_compression: float | None = None
    combine: str = "all"
    min_accuracy_delta: float = -0.01


#: The one table of qualification thresholds (accuracy_delta is a fraction).
EVENT_RULES: dict[OlympicEvent, EventRule] = {
    OlympicEvent.LATENCY_SPRINT: EventRule(
        "at least 1.5x faster than the baseline, losing at most 1 accuracy point",
        min_speedup=1.5, min_accuracy_delta=-0.01),
    OlympicEvent.MEMORY_CHALLENGE: EventRule(
        "at least 2x smaller than the baseline, losing at most 1 accuracy point",
        min_compression=2.0, min_accuracy_delta=-0.01),
    OlympicEvent.ACCURACY_CONTEST: EventRule(
        "no accuracy lost, at most 10% slower and at most 10% larger than the baseline",
        min_speedup=0.9, min_compression=0.9, combine="all", min_accuracy_delta=0.0),
    OlympicEvent.ALL_AROUND: EventRule(
        "at least 1.2x faster and 1.2x smaller, losing at most 1 accuracy point",
        min_speedup=1.2, min_compression=1.2, combine="all", min_accuracy_delta=-0.01),
    OlympicEvent.EXTREME_PUSH: EventRule(
        "at least 3x faster or 4x smaller, losing at most 5 accuracy points",
        min_speedup=3.0, min_compression=4.0, combine="any", min_accuracy_delta=-0.05),
}


class EventQualification(NamedTuple):
    """Result of :func:`qualifies_event`; unpacks as ``(qualified, reasons)``.

    ``reasons`` has one line per condition checked: ``ok`` when it holds,
    ``too low`` / ``too much accuracy lost`` / ``neither reached`` when it
    fails (for an "any" event each resource line says ``reached`` or ``not
    reached`` and one line gives the verdict).
    """

    qualified: bool
    reasons: list[str]


def qualifies_event(metrics: Mapping, event) -> EventQualification:
    """Does a normalized score dict qualify for ``event``?

    Args:
        metrics: a dict with ``speedup``, ``compression_ratio`` and
            ``accuracy_delta`` (what :func:`calculate_normalized_scores`
            returns).
        event: an :class:`OlympicEvent`, or its value or name as a string.

    Thresholds are compared with a tolerance of 1e-9 (floating-point
    rounding of a difference must not disqualify a result that is exactly
    on the line).

    Raises:
        ValueError: unknown event, missing or non-finite metric.
        TypeError: ``metrics`` is not a dict or holds a non-number.
    """
    ev = OlympicEvent.parse(event)
    rule = EVENT_RULES[ev]
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict of normalized scores, "
                        f"got {type(metrics).__name__}")
    needed = ["accuracy_delta"]
    if rule.min_speedup is not None:
        needed.append("speedup")
    if rule.min_compression is not None:
        needed.append("compression_ratio")
    missing = [k for k in needed if k not in metrics]
    if missing:
        raise ValueError(f"metrics is missing {', '.join(repr(k) for k in missing)} "
                         f"(needed for {ev.value})")
    values = {k: _number(metrics[k], k) for k in needed}

    reasons: list[str] = []
    resource_ok: list[bool] = []
    for key, threshold, label in (("speedup", rule.min_speedup, "x"),
                                  ("compression_ratio", rule.min_compression, "x")):
        if threshold is None:
            continue
        ok = values[key] >= threshold - _TOLERANCE
        resource_ok.append(ok)
        if rule.combine == "any":  # one of them suffices: say "reached", judge below
            verdict = "reached" if ok else "not reached"
        else:
            verdict = "ok" if ok else "too low"
        reasons.append(f"{key} {values[key]:.3f}{label} (needs >= {threshold:g}{label}): {verdict}")
    if resource_ok:
        passed = all(resource_ok) if rule.combine == "all" else any(resource_ok)
        if rule.combine == "any" and len(resource_ok) > 1:
            reasons.append(f"at least one of speedup and compression: "
                           f"{'ok' if passed else 'neither reached'}")
    else:
        passed = True
    delta = values["accuracy_delta"]
    acc_ok = delta >= rule.min_accuracy_delta - _TOLERANCE
    reasons.append(
        f"accuracy_delta {delta * 100:+.2f} points (needs >= {rule.min_accuracy_delta * 100:+g} "
        f"points): {'ok' if acc_ok else 'too much accuracy lost'}"
    )
    return EventQualification(bool(passed and acc_ok), reasons)
