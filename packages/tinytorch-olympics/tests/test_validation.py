"""validate_submission: the schema, every rule with a failing case, and junk input."""

from __future__ import annotations

import copy
import json
import math
from importlib import resources

import pytest

from tinytorch.olympics import (
    REQUIRED_FIELDS,
    check_repo_url,
    format_report,
    load_schema,
    validate_submission,
)

jsonschema = pytest.importorskip("jsonschema")


def errors_of(report, check: str) -> list[str]:
    return [e for e in report["errors"] if e.startswith(check + ":")]


def warnings_of(report, check: str) -> list[str]:
    return [w for w in report["warnings"] if w.startswith(check + ":")]


# ------------------------------------------------------------------ the schema


def test_schema_ships_as_package_data_and_is_draft_2020_12():
    path = resources.files("tinytorch.olympics") / "schema" / "submission.schema.json"
    assert path.is_file()
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema == load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["additionalProperties"] is False
    assert tuple(schema["required"]) == REQUIRED_FIELDS
    for name in ("model_result", "scores", "architecture", "task", "measurement"):
        assert schema["$defs"][name]["additionalProperties"] is False, name


def test_generated_submissions_match_the_schema(classifier_submission, generation_submission):
    validator = jsonschema.Draft202012Validator(load_schema())
    for sub in (classifier_submission, generation_submission):
        assert list(validator.iter_errors(sub)) == []


# ------------------------------------------------------------------ valid


@pytest.mark.parametrize("which", ["classifier_submission", "generation_submission"])
def test_generated_submissions_pass_every_rule(request, which):
    # Measured figures: whether the scores reach an event depends on this
    # machine's timings, so that one verdict is compared with the recorded one.
    sub = request.getfixturevalue(which)
    report = validate_submission(sub)
    names = {c["name"] for c in report["checks"]}
    assert {"schema", "honor_code", "github_repo", "division", "normalized_scores",
            "sanity_bounds", "architecture", "accuracy", "event_qualification"} <= names
    others = [e for e in report["errors"] if not e.startswith("event_qualification:")]
    assert others == []
    assert report["valid"] is sub["event_qualification"]["qualified"]


def test_a_valid_submission_passes(valid):
    report = validate_submission(valid)
    assert report["valid"], report["errors"]
    assert report["errors"] == [] and report["warnings"] == []
    assert all(c["status"] == "passed" for c in report["checks"])
    assert format_report(report).endswith("VALID")


def test_the_embedded_report_and_stamp_of_a_submitted_file_are_allowed(valid):
    valid["validated_at"] = "2024-05-01T12:00:00Z"
    valid["validation"] = validate_submission(valid)
    assert validate_submission(valid)["valid"]


# ------------------------------------------------------------------ each rule fails


def _set(sub, path, value):
    obj = sub
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def _delete(sub, path):
    obj = sub
    for key in path[:-1]:
        obj = obj[key]
    del obj[path[-1]]


FIELD_CASES = [
    # (id, path, value, the check that must fail)
    ("honor code false", ("honor_code",), False, "honor_code"),
    ("honor code string", ("honor_code",), "true", "honor_code"),
    ("honor code 1", ("honor_code",), 1, "honor_code"),
    ("http url", ("github_repo",), "http://github.com/ada/tinytorch", "github_repo"),
    ("no repo", ("github_repo",), "https://github.com/ada", "github_repo"),
    ("no owner", ("github_repo",), "https://github.com/", "github_repo"),
    ("query string", ("github_repo",), "https://github.com/ada/tt?x=1", "github_repo"),
    ("space", ("github_repo",), "https://github.com/ada/tiny torch", "github_repo"),
    ("not a url", ("github_repo",), "github.com/ada/tinytorch", "github_repo"),
    ("url number", ("github_repo",), 42, "github_repo"),
    ("unknown division", ("division",), "semi-closed", "division"),
    ("division case", ("division",), "Closed", "division"),
    ("unknown event", ("event",), "marathon", "event"),
    ("empty athlete", ("athlete_name",), "   ", "athlete_name"),
    ("timestamp not utc", ("timestamp",), "2024-05-01T12:00:00+02:00", "timestamp"),
    ("timestamp garbage", ("timestamp",), "yesterday", "timestamp"),
    ("timestamp future", ("timestamp",), "2999-01-01T00:00:00Z", "timestamp"),
    ("latency nan", ("optimized", "latency_ms"), float("nan"), "raw_metrics"),
    ("latency inf", ("baseline", "latency_ms"), float("inf"), "raw_metrics"),
    ("latency negative", ("optimized", "latency_ms"), -1.0, "raw_metrics"),
    ("latency zero", ("optimized", "latency_ms"), 0, "raw_metrics"),
    ("latency string", ("optimized", "latency_ms"), "0.5", "raw_metrics"),
    ("latency bool", ("optimized", "latency_ms"), True, "raw_metrics"),
    ("latency huge int", ("optimized", "latency_ms"), 10 ** 400, "raw_metrics"),
    ("memory null", ("baseline", "memory_mb"), None, "raw_metrics"),
    ("accuracy above 1", ("optimized", "accuracy"), 1.5, "raw_metrics"),
    ("accuracy negative", ("baseline", "accuracy"), -0.1, "raw_metrics"),
    ("score string", ("normalized_scores", "speedup"), "1.0", "normalized_scores"),
    ("score nan", ("normalized_scores", "efficiency_score"), float("nan"), "normalized_scores"),
    ("hash short", ("optimized", "predictions_sha256"), "abc123", "predictions"),
    ("too few queries", ("optimized", "single_stream", "queries"), 10, "latency_definition"),
    ("latency is not the round median", ("optimized", "single_stream", "round_median_ms"),
     123.0, "latency_definition"),
    ("parameter count null", ("optimized", "architecture", "parameter_count"), None, "schema"),
    ("prediction hash uppercase", ("baseline", "predictions_sha256"), "A" * 64, "predictions"),
]


@pytest.mark.parametrize("case", FIELD_CASES, ids=[c[0] for c in FIELD_CASES])
def test_each_bad_field_makes_the_submission_invalid(valid, case):
    _, path, value, check = case
    _set(valid, path, value)
    report = validate_submission(valid)
    assert report["valid"] is False
    assert errors_of(report, check), (check, report["errors"])


@pytest.mark.parametrize("field", REQUIRED_FIELDS)
def test_a_missing_required_field_is_an_error(valid, field):
    del valid[field]
    report = validate_submission(valid)
    assert not report["valid"]
    assert any(repr(field) in e for e in errors_of(report, "required_fields"))


@pytest.mark.parametrize("path", [("baseline", "latency_ms"), ("optimized", "memory_mb"),
                                  ("optimized", "accuracy"), ("normalized_scores", "speedup"),
                                  ("optimized", "architecture"), ("baseline", "single_stream")])
def test_a_missing_nested_field_is_an_error(valid, path):
    _delete(valid, path)
    report = validate_submission(valid)
    assert not report["valid"]
    assert errors_of(report, "schema")


def test_an_unknown_field_is_an_error(valid):
    valid["leaderboard_rank"] = 1
    valid["optimized"]["secret_sauce"] = "yes"
    report = validate_submission(valid)
    assert not report["valid"]
    text = " ".join(errors_of(report, "schema"))
    assert "leaderboard_rank" in text and "secret_sauce" in text


def _with_accuracy(sub, helpers, base_correct, opt_correct, total=1000):
    sub["baseline"]["correct"], sub["baseline"]["total"] = base_correct, total
    sub["optimized"]["correct"], sub["optimized"]["total"] = opt_correct, total
    return helpers.rescore(sub)


RULE_CASES = [
    # (id, division, event, base_correct, opt_correct, latency ratio, memory ratio,
    #  failing check or None, warning check or None)
    ("closed accuracy drop > 1%", "closed", "extreme_push", 900, 890, 3.0, 1.0, "accuracy", None),
    ("closed accuracy gain > 1 point", "closed", "latency_sprint", 900, 915, 2.0, 1.0,
     "accuracy", None),
    ("closed drop within 1% is fine", "closed", "latency_sprint", 900, 892, 2.0, 1.0, None, None),
    ("open accuracy drop is recorded", "open", "extreme_push", 900, 860, 3.0, 1.0, None, None),
    ("open accuracy gain is recorded", "open", "latency_sprint", 900, 950, 2.0, 1.0, None, None),
    ("speedup 25x warns", "closed", "latency_sprint", 900, 900, 25.0, 1.0, None, "sanity_bounds"),
    ("speedup 60x is an error", "closed", "latency_sprint", 900, 900, 60.0, 1.0,
     "sanity_bounds", None),
    ("compression 20x warns", "closed", "memory_challenge", 900, 900, 1.0, 20.0, None,
     "sanity_bounds"),
    ("compression 40x is an error", "closed", "memory_challenge", 900, 900, 1.0, 40.0,
     "sanity_bounds", None),
    ("event not qualified", "closed", "latency_sprint", 900, 900, 1.2, 1.0,
     "event_qualification", None),
    ("memory challenge not reached", "closed", "memory_challenge", 900, 900, 1.0, 1.5,
     "event_qualification", None),
]


@pytest.mark.parametrize("case", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_division_bounds_and_event_rules(valid, helpers, case):
    _, division, event, b_correct, o_correct, speed, shrink, failing, warning = case
    valid["division"], valid["event"] = division, event
    valid["optimized"]["latency_ms"] = valid["baseline"]["latency_ms"] / speed
    # The baseline grows (the optimized model cannot shrink below its own weights).
    valid["baseline"]["memory_mb"] = valid["optimized"]["memory_mb"] * shrink
    _with_accuracy(valid, helpers, b_correct, o_correct)
    report = validate_submission(valid)
    if failing is None:
        assert report["valid"], report["errors"]
    else:
        assert not report["valid"]
        assert errors_of(report, failing), report["errors"]
    if warning is not None:
        assert warnings_of(report, warning), report
    else:
        assert warnings_of(report, "sanity_bounds") == []
    if division == "open":
        assert any(c["name"] == "accuracy" and "not enforced" in c["message"]
                   for c in report["checks"])


def test_tampered_normalized_scores_are_an_error(valid):
    valid["normalized_scores"]["speedup"] *= 1.0001  # above the 1e-6 tolerance
    report = validate_submission(valid)
    assert not report["valid"]
    assert any("speedup" in e for e in errors_of(report, "normalized_scores"))


def test_scores_within_the_relative_tolerance_are_accepted(valid):
    valid["normalized_scores"]["speedup"] *= 1 + 1e-8
    assert validate_submission(valid)["valid"]


def test_a_claimed_verdict_that_disagrees_is_an_error(valid):
    valid["event_qualification"]["qualified"] = False
    report = validate_submission(valid)
    assert errors_of(report, "event_qualification")


def test_closed_division_rejects_another_architecture_open_accepts_it(valid, helpers):
    arch = valid["optimized"]["architecture"]
    arch["parameters"][0][1] = [8, 12]  # a narrower first layer
    helpers.resign(arch)
    report = validate_submission(valid)
    assert not report["valid"]
    assert any("differs" in e for e in errors_of(report, "architecture"))
    valid["division"] = "open"
    assert validate_submission(valid)["valid"]


def test_an_edited_architecture_no_longer_matches_its_signature(valid):
    valid["baseline"]["architecture"]["modules"][1][1] = "tinytorch.nn.layers.Conv2d"
    report = validate_submission(valid)
    assert any("does not match" in e for e in errors_of(report, "architecture"))


# ------------------------------------------------------------------ URLs


@pytest.mark.parametrize("url", [
    "https://github.com/ada/tinytorch",
    "https://github.com/ada/tinytorch.git",
    "https://github.com/ada/tinytorch/",
    "https://github.com/Ada-Lovelace/tiny_torch.v2",
    "https://gitlab.com/group/subgroup/project",
    "https://codeberg.org/ada/tinytorch",
])
def test_good_repository_urls(url):
    assert check_repo_url(url) is None


@pytest.mark.parametrize("url", [
    "http://github.com/ada/tinytorch",
    "ftp://github.com/ada/tinytorch",
    "git@github.com:ada/tinytorch.git",
    "https://github.com/ada",
    "https://github.com/ada/tinytorch/tree/main",
    "https://github.com//tinytorch",
    "https:///ada/tinytorch",
    "https://localhost/ada/tinytorch",
    "https://github.com/ada/tinytorch?tab=readme",
    "https://github.com/ada/tinytorch#readme",
    "https://user:pw@github.com/ada/tinytorch",
    "https://github.com:8443/ada/tinytorch",
    "https://github.com/ada/tiny torch",
    " https://github.com/ada/tinytorch",
    "https://github.com/ada/../etc",
    "https://github.com/ada/tiny%20torch",
    "",
    None,
    ["https://github.com/ada/tinytorch"],
])
def test_bad_repository_urls(url):
    assert isinstance(check_repo_url(url), str)


# ------------------------------------------------------------------ junk


JUNK = [None, True, 0, -1, 1.5, float("nan"), "submission", [], [1, 2], {},
        {"honor_code": True}, {"baseline": [], "optimized": "x", "normalized_scores": 3},
        {"baseline": {"latency_ms": {"a": 1}}, "division": ["closed"], "event": {}},
        {"event": "latency_sprint", "normalized_scores": {"speedup": 1e308 * 10}},
        {"baseline": {"architecture": {"signature": "sha256:" + "0" * 64, "modules": set()}}}]


@pytest.mark.parametrize("value", JUNK, ids=[repr(v)[:30] for v in JUNK])
def test_junk_never_raises_and_is_never_valid(value):
    report = validate_submission(value)
    assert report["valid"] is False
    assert report["errors"]
    assert set(report) == {"valid", "checks", "warnings", "errors"}


def test_deeply_nested_junk_does_not_raise():
    deep = []
    for _ in range(5000):
        deep = [deep]
    sub = {"system": {"x": deep}, "notes": deep, "techniques": deep}
    report = validate_submission(sub)
    assert report["valid"] is False


def test_every_required_field_missing_is_reported_once():
    report = validate_submission({})
    missing = errors_of(report, "required_fields")
    assert len(missing) == 1 and all(repr(f) in missing[0] for f in REQUIRED_FIELDS)
    assert not any("required property" in e for e in report["errors"])


def test_report_is_json_ready(valid):
    valid["optimized"]["latency_ms"] = math.inf
    report = validate_submission(copy.deepcopy(valid))
    json.dumps(report, allow_nan=False)
