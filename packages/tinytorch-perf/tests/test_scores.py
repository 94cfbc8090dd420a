"""Normalized scores, their aggregation, and the Olympic events."""

import math

import pytest

from tinytorch.perf import (
    EVENT_RULES,
    OlympicEvent,
    aggregate_scores,
    calculate_normalized_scores,
    qualifies_event,
)

BASE = {"latency_ms": 10.0, "memory_mb": 8.0, "accuracy": 0.90}


def test_formulas():
    s = calculate_normalized_scores(BASE, {"latency_ms": 4.0, "memory_mb": 2.0, "accuracy": 0.88})
    assert s["speedup"] == 2.5
    assert s["compression_ratio"] == 4.0
    assert s["accuracy_delta"] == pytest.approx(-0.02)
    assert s["efficiency_score"] == pytest.approx(math.sqrt(2.5 * 4.0) * 0.98)
    assert list(s) == ["speedup", "compression_ratio", "accuracy_delta", "efficiency_score"]


def test_baseline_against_itself_scores_one():
    s = calculate_normalized_scores(BASE, dict(BASE))
    assert s == {"speedup": 1.0, "compression_ratio": 1.0, "accuracy_delta": 0.0,
                 "efficiency_score": 1.0}


def test_extra_keys_are_ignored_and_ints_accepted():
    s = calculate_normalized_scores({**BASE, "name": "x"}, {"latency_ms": 5, "memory_mb": 8,
                                                           "accuracy": 1})
    assert s["speedup"] == 2.0 and s["accuracy_delta"] == pytest.approx(0.1)


@pytest.mark.parametrize("who, field, value, error, message", [
    ("optimized", "latency_ms", 0.0, ValueError, "optimized.latency_ms must be > 0"),
    ("optimized", "latency_ms", -1.0, ValueError, "optimized.latency_ms must be > 0"),
    ("baseline", "latency_ms", float("nan"), ValueError, "baseline.latency_ms must be finite"),
    ("baseline", "memory_mb", float("inf"), ValueError, "baseline.memory_mb must be finite"),
    ("optimized", "memory_mb", 0, ValueError, "optimized.memory_mb must be > 0"),
    ("baseline", "memory_mb", -3.0, ValueError, "baseline.memory_mb must be > 0"),
    ("optimized", "accuracy", 1.01, ValueError,
     r"optimized.accuracy must be a fraction in \[0, 1\]"),
    ("baseline", "accuracy", -0.1, ValueError, r"baseline.accuracy must be a fraction"),
    ("optimized", "accuracy", 97.0, ValueError, "optimized.accuracy"),
    ("optimized", "accuracy", float("nan"), ValueError, "optimized.accuracy must be finite"),
    ("optimized", "latency_ms", "fast", TypeError, "optimized.latency_ms must be a number"),
    ("baseline", "memory_mb", None, TypeError, "baseline.memory_mb must be a number"),
    ("baseline", "accuracy", True, TypeError, "baseline.accuracy must be a number"),
])
def test_validation_names_the_field(who, field, value, error, message):
    base, opt = dict(BASE), dict(BASE)
    (base if who == "baseline" else opt)[field] = value
    with pytest.raises(error, match=message):
        calculate_normalized_scores(base, opt)


def test_missing_fields_and_non_dicts():
    with pytest.raises(ValueError, match="optimized is missing 'memory_mb', 'accuracy'"):
        calculate_normalized_scores(BASE, {"latency_ms": 1.0})
    with pytest.raises(TypeError, match="baseline must be a dict"):
        calculate_normalized_scores([1, 2, 3], BASE)


def test_aggregate_geometric_and_arithmetic_means():
    keys = ("speedup", "compression_ratio", "accuracy_delta", "efficiency_score")
    scores = [dict(zip(keys, row)) for row in [
        (2.0, 1.0, -0.02, 2.0),
        (0.5, 4.0, 0.01, 1.0),
        (4.0, 2.0, 0.0, 0.5),
    ]]
    agg = aggregate_scores(scores)
    assert agg["speedup"] == pytest.approx((2.0 * 0.5 * 4.0) ** (1 / 3))
    assert agg["compression_ratio"] == pytest.approx((1.0 * 4.0 * 2.0) ** (1 / 3))
    assert agg["efficiency_score"] == pytest.approx(1.0)
    assert agg["accuracy_delta"] == pytest.approx(-0.01 / 3)
    assert agg["count"] == 3


def test_geometric_mean_does_not_depend_on_the_direction_of_comparison():
    # 2x faster on one task, 2x slower on another: 1x overall.
    agg = aggregate_scores([
        {"speedup": 2.0, "compression_ratio": 1.0, "accuracy_delta": 0.0, "efficiency_score": 1.0},
        {"speedup": 0.5, "compression_ratio": 1.0, "accuracy_delta": 0.0, "efficiency_score": 1.0},
    ])
    assert agg["speedup"] == pytest.approx(1.0)


@pytest.mark.parametrize("scores, error, message", [
    ([], ValueError, "at least one"),
    ({"speedup": 1.0}, TypeError, "list"),
    ([{"speedup": 1.0}], ValueError, r"scores\[0\] is missing"),
    ([{"speedup": 0.0, "compression_ratio": 1.0, "accuracy_delta": 0.0, "efficiency_score": 1.0}],
     ValueError, r"scores\[0\].speedup must be > 0"),
    ([{"speedup": 1.0, "compression_ratio": float("nan"), "accuracy_delta": 0.0,
       "efficiency_score": 1.0}], ValueError, "compression_ratio must be finite"),
    (["x"], TypeError, r"scores\[0\] must be a dict"),
])
def test_aggregate_validation(scores, error, message):
    with pytest.raises(error, match=message):
        aggregate_scores(scores)


def _m(speedup, compression, delta):
    return {"speedup": speedup, "compression_ratio": compression, "accuracy_delta": delta}


E = OlympicEvent
QUALIFICATION = [
    # event, speedup, compression, accuracy_delta, qualifies
    (E.LATENCY_SPRINT, 1.5, 1.0, -0.01, True),     # exactly on both lines
    (E.LATENCY_SPRINT, 1.49, 1.0, 0.0, False),
    (E.LATENCY_SPRINT, 3.0, 0.5, -0.011, False),
    (E.MEMORY_CHALLENGE, 1.0, 2.0, 0.0, True),
    (E.MEMORY_CHALLENGE, 5.0, 1.9, 0.0, False),
    (E.MEMORY_CHALLENGE, 1.0, 3.0, -0.02, False),
    (E.ACCURACY_CONTEST, 0.9, 0.9, 0.0, True),
    (E.ACCURACY_CONTEST, 1.0, 1.0, -0.001, False),
    (E.ACCURACY_CONTEST, 0.89, 1.0, 0.02, False),
    (E.ACCURACY_CONTEST, 1.0, 0.85, 0.02, False),
    (E.ALL_AROUND, 1.2, 1.2, -0.01, True),
    (E.ALL_AROUND, 2.0, 1.1, 0.0, False),
    (E.ALL_AROUND, 1.1, 2.0, 0.0, False),
    (E.EXTREME_PUSH, 3.0, 1.0, -0.05, True),         # speedup alone is enough
    (E.EXTREME_PUSH, 1.0, 4.0, -0.05, True),         # compression alone is enough
    (E.EXTREME_PUSH, 2.9, 3.9, 0.0, False),
    (E.EXTREME_PUSH, 10.0, 10.0, -0.06, False),
]


@pytest.mark.parametrize("event, speedup, compression, delta, expected", QUALIFICATION)
def test_qualification_table(event, speedup, compression, delta, expected):
    ok, reasons = qualifies_event(_m(speedup, compression, delta), event)
    assert ok is expected
    failing = [r for r in reasons if r.endswith(("too low", "too much accuracy lost",
                                                 "neither reached"))]
    assert reasons and (not failing) is expected


def test_rounding_on_the_line_does_not_disqualify():
    scores = calculate_normalized_scores(
        {"latency_ms": 3.0, "memory_mb": 1.0, "accuracy": 0.96},
        {"latency_ms": 2.0, "memory_mb": 1.0, "accuracy": 0.95})
    assert scores["accuracy_delta"] < -0.01  # -0.010000000000000009 in floating point
    assert qualifies_event(scores, "latency_sprint").qualified


def test_every_event_has_a_rule_and_a_description():
    assert set(EVENT_RULES) == set(OlympicEvent)
    for event in OlympicEvent:
        assert event.rule is EVENT_RULES[event] and event.description
        assert event.rule.combine in ("all", "any")


@pytest.mark.parametrize("name", ["latency_sprint", "LATENCY_SPRINT", "Latency_Sprint"])
def test_events_parse_from_strings(name):
    assert OlympicEvent.parse(name) is OlympicEvent.LATENCY_SPRINT
    assert qualifies_event(_m(2, 1, 0), name).qualified


def test_qualification_errors():
    with pytest.raises(ValueError, match="unknown Olympic event"):
        qualifies_event(_m(2, 2, 0), "marathon")
    with pytest.raises(ValueError, match="missing 'speedup'"):
        qualifies_event({"accuracy_delta": 0.0}, OlympicEvent.LATENCY_SPRINT)
    with pytest.raises(ValueError, match="finite"):
        qualifies_event(_m(float("nan"), 1, 0), OlympicEvent.LATENCY_SPRINT)
    with pytest.raises(TypeError):
        qualifies_event([1, 2], OlympicEvent.LATENCY_SPRINT)


def test_reasons_say_what_is_missing():
    ok, reasons = qualifies_event(_m(1.1, 1.0, -0.03), OlympicEvent.LATENCY_SPRINT)
    assert not ok
    assert any("speedup 1.100x" in r and "too low" in r for r in reasons)
    assert any("accuracy_delta -3.00 points" in r and "too much accuracy lost" in r
               for r in reasons)


def test_integer_too_large_for_a_float_is_a_value_error_naming_the_field():
    from tinytorch.perf import calculate_normalized_scores

    good = {"latency_ms": 1.0, "memory_mb": 1.0, "accuracy": 0.5}
    with pytest.raises(ValueError, match="optimized.latency_ms"):
        calculate_normalized_scores(good, {**good, "latency_ms": 10**400})
