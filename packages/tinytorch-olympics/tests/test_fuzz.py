"""Fuzz validate_submission: thousands of malformed submissions, none raises, none valid.

Two sources of input:

* arbitrary JSON values (and NaN, infinity, integers too large for a float);
* mutations of a valid submission, each of which is known to make it
  invalid: a required field deleted, an unknown field added, a number
  replaced by a wrong type / NaN / infinity / a negative or huge value, an
  object replaced by a scalar, a bad division, event, URL, honor code or
  timestamp. Several mutations may be stacked; every one of them is
  invalidating on its own, whatever the others did.
"""

from __future__ import annotations

import copy
import math

import pytest

from tinytorch.olympics import validate_submission

hypothesis = pytest.importorskip("hypothesis")
pytest.importorskip("jsonschema")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.just(10 ** 400), st.just(-(10 ** 400)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5),
                               st.dictionaries(st.text(max_size=10), children, max_size=5)),
    max_leaves=30,
)

REQUIRED_PATHS = [
    ("schema_version",), ("timestamp",), ("athlete_name",), ("github_repo",), ("division",),
    ("event",), ("honor_code",), ("techniques",), ("task",), ("measurement",), ("system",),
    ("packages",), ("baseline",), ("optimized",), ("normalized_scores",),
    ("event_qualification",),
    *[(who, key) for who in ("baseline", "optimized")
      for key in ("latency_ms", "memory_mb", "accuracy", "correct", "total", "parameters",
                  "single_stream", "architecture", "predictions_sha256")],
    *[("normalized_scores", k) for k in ("speedup", "compression_ratio", "accuracy_delta",
                                         "efficiency_score")],
    ("task", "type"), ("task", "metric"), ("measurement", "seed"),
    ("baseline", "single_stream", "p90_ms"), ("optimized", "single_stream", "queries"),
    ("optimized", "architecture", "signature"), ("baseline", "architecture", "modules"),
    ("event_qualification", "qualified"), ("system", "python"),
]
CLOSED_OBJECTS = [(), ("baseline",), ("optimized",), ("normalized_scores",), ("task",),
                  ("measurement",), ("baseline", "architecture"), ("optimized", "single_stream"),
                  ("event_qualification",)]
OBJECT_PATHS = [("baseline",), ("optimized",), ("task",), ("measurement",),
                ("normalized_scores",), ("optimized", "architecture"),
                ("baseline", "single_stream"), ("packages",), ("system",)]
# Numbers whose every wrong value is caught: by the schema, the hand checks,
# or the recomputation of the scores.
POSITIVE_PATHS = [(who, k) for who in ("baseline", "optimized") for k in ("latency_ms",
                                                                          "memory_mb")]
NUMBER_PATHS = POSITIVE_PATHS + [
    ("baseline", "accuracy"), ("optimized", "accuracy"),
    ("optimized", "correct"), ("baseline", "total"), ("optimized", "parameters"),
    ("baseline", "single_stream", "queries"), ("optimized", "single_stream", "median_ms"),
    ("normalized_scores", "speedup"), ("normalized_scores", "compression_ratio"),
    ("normalized_scores", "efficiency_score"), ("measurement", "min_queries"),
]
EVENTS = {"latency_sprint", "memory_challenge", "accuracy_contest", "all_around", "extreme_push"}


def _parent(sub, path):
    obj = sub
    for key in path[:-1]:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj if isinstance(obj, dict) and path[-1] in obj else None


def _wrong_number(original):
    """Values that are wrong for a number field, whatever the field."""
    return st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf, True, False, None, [], {}, "1.0", "",
                         "NaN"]),
        st.text(max_size=8),
        st.floats(max_value=-1e-3, allow_nan=False, allow_infinity=False),
        st.integers(max_value=-1),
    )


@st.composite
def mutation(draw, sub):
    kind = draw(st.sampled_from(["delete", "add", "number", "huge", "object", "division",
                                 "event", "url", "honor", "timestamp"]))
    if kind == "delete":
        path = draw(st.sampled_from(REQUIRED_PATHS))
        parent = _parent(sub, path)
        if parent is not None:
            del parent[path[-1]]
    elif kind == "add":
        path = draw(st.sampled_from(CLOSED_OBJECTS))
        obj = sub
        for key in path:
            obj = obj.get(key) if isinstance(obj, dict) else None
        if isinstance(obj, dict):
            name = draw(st.text(min_size=1, max_size=10).filter(lambda k: k not in obj))
            # A name the schema does not know in any of these objects:
            obj["x-" + name] = draw(json_values)
    elif kind == "number":
        path = draw(st.sampled_from(NUMBER_PATHS))
        parent = _parent(sub, path)
        if parent is not None:
            parent[path[-1]] = draw(_wrong_number(parent[path[-1]]))
    elif kind == "huge":
        # Latency only: it must also equal the (unchanged) SingleStream p90, so
        # even the same huge value on both sides (speedup 1) stays invalid.
        path = draw(st.sampled_from([("baseline", "latency_ms"), ("optimized", "latency_ms")]))
        parent = _parent(sub, path)
        if parent is not None:
            parent[path[-1]] = draw(st.sampled_from([10 ** 400, 1e308, 1e300, 10 ** 20]))
    elif kind == "object":
        path = draw(st.sampled_from(OBJECT_PATHS))
        parent = _parent(sub, path)
        if parent is not None:
            parent[path[-1]] = draw(st.one_of(scalars, st.lists(scalars, max_size=3)))
    elif kind == "division":
        sub["division"] = draw(json_values.filter(lambda v: v not in ("closed", "open")
                                                  or not isinstance(v, str)))
    elif kind == "event":
        sub["event"] = draw(json_values.filter(lambda v: not isinstance(v, str)
                                               or v not in EVENTS))
    elif kind == "url":
        url = sub.get("github_repo")
        bad = draw(st.sampled_from([
            lambda u: u.replace("https://", "http://", 1),
            lambda u: u + "?tab=1",
            lambda u: u + "#top",
            lambda u: u.replace("github.com/", "github.com/ ", 1),
            lambda u: u.rsplit("/", 1)[0],
            lambda u: "https://github.com/",
            lambda u: None,
            lambda u: 7,
        ]))
        sub["github_repo"] = bad(url) if isinstance(url, str) else bad("https://github.com/a/b")
    elif kind == "honor":
        sub["honor_code"] = draw(json_values.filter(lambda v: v is not True))
    elif kind == "timestamp":
        sub["timestamp"] = draw(st.one_of(
            st.text(max_size=30).filter(lambda t: not t[:1].isdigit()),
            st.sampled_from(["2024-13-01T00:00:00Z", "2024-05-01 12:00:00",
                             "2024-05-01T12:00:00+01:00", "3000-01-01T00:00:00Z"]),
            scalars.filter(lambda v: not isinstance(v, str))))
    return kind


def test_random_json_values_are_never_valid_and_never_raise():
    @settings(max_examples=1000, **SETTINGS)
    @given(json_values)
    def check(value):
        report = validate_submission(value)
        assert report["valid"] is False
        assert report["errors"]

    check()


def test_random_objects_with_the_right_keys_are_never_valid():
    # The required keys present, random values: the schema alone is not enough.
    from tinytorch.olympics import REQUIRED_FIELDS

    @settings(max_examples=200, **SETTINGS)
    @given(st.fixed_dictionaries({k: json_values for k in REQUIRED_FIELDS}))
    def check(value):
        assert validate_submission(value)["valid"] is False

    check()


def test_mutated_valid_submissions_are_never_valid(valid):
    assert validate_submission(valid)["valid"]  # the starting point is valid

    @settings(max_examples=2000, **SETTINGS)
    @given(st.data())
    def check(data):
        sub = copy.deepcopy(valid)
        for _ in range(data.draw(st.integers(1, 3))):
            data.draw(mutation(sub))
        report = validate_submission(sub)
        assert report["valid"] is False, (report, sub)
        assert report["errors"]
        assert set(report) == {"valid", "checks", "warnings", "errors"}

    check()
