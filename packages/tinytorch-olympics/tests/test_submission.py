"""generate_submission, its files, tasks, generators and architecture signatures."""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.olympics import (
    ClassificationData,
    GenerationData,
    TextGenerator,
    architecture_signature,
    choose_event,
    describe_architecture,
    generate_submission,
    package_versions,
    predictions_sha256,
    read_submission,
    validate_submission,
    write_submission,
)
from tinytorch.perf import OlympicEvent, calculate_normalized_scores
from tinytorch.tensor import Tensor, manual_seed

# ------------------------------------------------------------------ the record


def test_submission_records_what_the_brief_asks(classifier_submission):
    sub = classifier_submission
    for key in ("system", "packages", "baseline", "optimized", "normalized_scores",
                "techniques", "division", "event", "athlete_name", "github_repo", "timestamp"):
        assert key in sub
    assert sub["timestamp"].endswith("Z")
    assert {"python", "numpy", "os", "cpu_model"} <= set(sub["system"])
    assert "tinytorch-perf" in sub["packages"] and "tinytorch-olympics" in sub["packages"]
    for who in ("baseline", "optimized"):
        m = sub[who]
        assert m["latency_ms"] == m["single_stream"]["round_median_ms"] > 0
        assert m["single_stream"]["p90_ms"] >= m["single_stream"]["min_ms"] > 0
        assert m["single_stream"]["queries"] >= 64
        assert m["memory_mb"] > 0 and m["parameters"] == 8 * 16 + 16 + 16 * 3 + 3
        assert m["accuracy"] == m["correct"] / m["total"] and m["total"] == 96
        assert m["offline"]["samples"] == 96 and m["offline"]["throughput_sps"] > 0
        assert len(m["predictions_sha256"]) == 64
    assert sub["task"] == {"type": "classification", "name": "random 8-d points",
                           "metric": "accuracy", "samples": 96, "input_shape": [8],
                           "num_classes": 3}
    raw = {w: {k: sub[w][k] for k in ("latency_ms", "memory_mb", "accuracy")}
           for w in ("baseline", "optimized")}
    assert sub["normalized_scores"] == calculate_normalized_scores(raw["baseline"],
                                                                   raw["optimized"])
    json.dumps(sub, allow_nan=False)  # plain JSON


def test_an_exact_copy_has_the_same_signature_and_predictions(classifier_submission):
    b, o = classifier_submission["baseline"], classifier_submission["optimized"]
    assert b["architecture"] == o["architecture"]
    assert b["predictions_sha256"] == o["predictions_sha256"]
    assert b["accuracy"] == o["accuracy"]


def test_accuracy_is_argmax_against_labels(helpers):
    model = helpers.make_mlp()
    data = helpers.make_classification()
    logits = model(data.inputs).data
    expected = float(np.mean(np.argmax(logits, -1) == data.labels))
    sub = generate_submission(model, copy.deepcopy(model), (data.inputs, data.labels),
                              event="auto", athlete_name="a", github_repo=helpers.REPO,
                              offline=False, **helpers.FAST)
    assert sub["baseline"]["accuracy"] == pytest.approx(expected)
    assert sub["baseline"]["offline"] is None
    assert sub["baseline"]["predictions_sha256"] == predictions_sha256(
        np.argmax(logits, -1), kind="classification")


def test_a_different_model_gives_different_predictions_hash(helpers, classifier_submission):
    other = helpers.make_mlp(seed=1)
    sub = generate_submission(helpers.make_mlp(), other, helpers.make_classification(),
                              event="auto", athlete_name="a", github_repo=helpers.REPO,
                              offline=False, **helpers.FAST)
    assert sub["optimized"]["predictions_sha256"] != sub["baseline"]["predictions_sha256"]
    assert sub["baseline"]["predictions_sha256"] == \
        classifier_submission["baseline"]["predictions_sha256"]  # deterministic


def test_generation_submission_measures_tokens_and_next_token_accuracy(generation_submission):
    sub = generation_submission
    assert sub["task"]["type"] == "generation" and sub["task"]["metric"] == "next_token_accuracy"
    assert sub["task"]["max_new_tokens"] == 8 and sub["task"]["prompts"] == 8
    assert sub["task"]["samples"] == 10 and sub["task"]["window_length"] == 12
    b, o = sub["baseline"], sub["optimized"]
    assert b["total"] == o["total"] == 10 * 12
    # The cache is exact: same accuracy, same greedy tokens, same structure.
    assert b["accuracy"] == o["accuracy"]
    assert b["predictions_sha256"] == o["predictions_sha256"]
    assert b["architecture"]["signature"] == o["architecture"]["signature"]
    for m in (b, o):
        assert m["tokens_per_s"] == pytest.approx(8 / (m["single_stream"]["median_ms"] / 1e3))
        assert m["offline_tokens_per_s"] == pytest.approx(8 * m["offline"]["throughput_sps"])
    assert sub["techniques"] == ["kv-cache"]


def test_cached_scoring_matches_uncached(helpers):
    gpt = helpers.make_gpt()
    data = helpers.make_generation()
    plain = TextGenerator(gpt, 5).next_token_logits(data.tokens).data
    cached = TextGenerator(gpt, 5, use_kv_cache=True).next_token_logits(data.tokens).data
    assert plain.shape == (10, 12, 11)
    np.testing.assert_allclose(cached, plain, rtol=1e-4, atol=1e-5)
    assert gpt.generation_cache is None  # the cache was removed after scoring
    out = TextGenerator(gpt, 5, use_kv_cache=True)(data.prompts)
    assert out.shape == (8, 4 + 5)
    np.testing.assert_array_equal(out.data, TextGenerator(gpt, 5)(data.prompts).data)


# ------------------------------------------------------------------ arguments


def _kwargs(helpers, **over):
    kw = dict(event="auto", athlete_name="Ada", github_repo=helpers.REPO, **helpers.FAST)
    kw.update(over)
    return kw


@pytest.mark.parametrize("over, error", [
    ({"division": "semi"}, ValueError),
    ({"event": "marathon"}, ValueError),
    ({"github_repo": "http://github.com/ada/tt"}, ValueError),
    ({"github_repo": "https://github.com/ada"}, ValueError),
    ({"athlete_name": "  "}, ValueError),
    ({"athlete_name": 3}, TypeError),
    ({"warmup_runs": 1.5}, TypeError),
    ({"measurement_runs": True}, TypeError),
    ({"techniques": "kv-cache"}, TypeError),
    ({"techniques": ["ok", ""]}, TypeError),
    ({"techniques": None}, TypeError),
    ({"descriptions": ("only one",)}, TypeError),
    ({"honor_code": "yes"}, TypeError),
    ({"min_queries": 10}, ValueError),
    ({"measurement_runs": 0}, ValueError),
    ({"min_duration_s": float("nan")}, ValueError),
    ({"offline_batch_size": 0}, ValueError),
])
def test_bad_arguments_are_refused_before_measuring(helpers, over, error):
    def explode(x):
        raise AssertionError("measured although the arguments are wrong")

    over = dict(over)
    division = over.pop("division", "closed")
    with pytest.raises(error):
        generate_submission(explode, explode, helpers.make_classification(), division,
                            **_kwargs(helpers, **over))


def test_generation_needs_generators_of_equal_work(helpers):
    gpt = helpers.make_gpt()
    data = helpers.make_generation()
    with pytest.raises(TypeError, match="TextGenerator"):
        generate_submission(gpt, gpt, data, **_kwargs(helpers))
    with pytest.raises(ValueError, match="same number of tokens"):
        generate_submission(TextGenerator(gpt, 4), TextGenerator(gpt, 5, use_kv_cache=True),
                            data, **_kwargs(helpers))


@pytest.mark.parametrize("build, error", [
    (lambda: ClassificationData(np.zeros((0, 3)), np.zeros(0, int)), ValueError),
    (lambda: ClassificationData(np.zeros((4, 3)), np.zeros(3, int)), ValueError),
    (lambda: ClassificationData(np.zeros((4, 3)), np.zeros(4)), TypeError),
    (lambda: ClassificationData(np.full((2, 3), np.nan), np.zeros(2, int)), ValueError),
    (lambda: GenerationData(np.zeros((2, 3), int), np.zeros((2, 4), int),
                            np.zeros((2, 5), int)), ValueError),
    (lambda: GenerationData(np.zeros((2, 3)), np.zeros((2, 4), int), np.zeros((2, 4), int)),
     TypeError),
    (lambda: GenerationData.from_token_stream(np.arange(10), prompt_len=4, num_prompts=2,
                                              window=20), ValueError),
    (lambda: TextGenerator(nn.Linear(2, 2), 4), TypeError),
])
def test_bad_task_data_is_refused(build, error):
    with pytest.raises(error):
        build()


def test_from_token_stream_cuts_windows_and_prompts():
    stream = np.arange(100) % 7
    data = GenerationData.from_token_stream(stream, prompt_len=3, num_prompts=4, window=9)
    assert data.tokens.shape == data.targets.shape == (9, 9)  # 99 // 10 windows
    np.testing.assert_array_equal(data.targets[:, :-1], data.tokens[:, 1:])
    np.testing.assert_array_equal(data.tokens[0], stream[:9])
    assert data.prompts.shape == (4, 3)
    np.testing.assert_array_equal(data.prompts[0], stream[:3])
    np.testing.assert_array_equal(data.prompts[-1], stream[-3:])


@pytest.mark.parametrize("scores, event", [
    ({"speedup": 3.5, "compression_ratio": 1.0, "accuracy_delta": 0.0}, "extreme_push"),
    ({"speedup": 1.3, "compression_ratio": 1.3, "accuracy_delta": 0.0}, "all_around"),
    ({"speedup": 2.0, "compression_ratio": 0.5, "accuracy_delta": 0.0}, "latency_sprint"),
    ({"speedup": 1.0, "compression_ratio": 2.5, "accuracy_delta": -0.005}, "memory_challenge"),
    ({"speedup": 1.0, "compression_ratio": 1.0, "accuracy_delta": 0.0}, "accuracy_contest"),
])
def test_choose_event_picks_the_most_demanding_qualified_event(scores, event):
    assert choose_event(scores) == (OlympicEvent(event), True)


def test_choose_event_without_any_qualification():
    assert choose_event({"speedup": 0.5, "compression_ratio": 0.5,
                         "accuracy_delta": -0.2}) == (OlympicEvent.LATENCY_SPRINT, False)


# ------------------------------------------------------------------ architecture


def test_signature_depends_on_structure_not_on_values(helpers):
    a, b = helpers.make_mlp(seed=0), helpers.make_mlp(seed=1)
    assert describe_architecture(a) == describe_architecture(b)
    wider = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    other_act = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
    sigs = {describe_architecture(m)["signature"] for m in (a, wider, other_act)}
    assert len(sigs) == 3
    desc = describe_architecture(a)
    assert desc["parameters"][0] == ["0.weight", [16, 8], "float32"]
    assert desc["parameter_count"] == a.num_parameters()
    assert architecture_signature(desc) == desc["signature"]


def test_signature_of_a_plain_function():
    desc = describe_architecture(lambda x: x)
    assert desc["parameters"] == [] and desc["parameter_count"] == 0
    with pytest.raises(TypeError):
        describe_architecture(42)


def test_package_versions_lists_tinytorch_packages_only():
    versions = package_versions()
    assert versions and all(k.startswith("tinytorch-") for k in versions)
    assert versions == dict(sorted(versions.items()))


# ------------------------------------------------------------------ files


def test_written_file_round_trips_and_validates(tmp_path, valid):
    path = tmp_path / "sub.json"
    assert write_submission(valid, path) == str(path)
    assert read_submission(path) == valid
    assert validate_submission(read_submission(path))["valid"]
    assert os.listdir(tmp_path) == ["sub.json"]  # no temporary file left


def test_no_overwrite_unless_asked(tmp_path, valid):
    path = tmp_path / "sub.json"
    path.write_text("precious")
    with pytest.raises(FileExistsError, match="overwrite"):
        write_submission(valid, path)
    assert path.read_text() == "precious"
    write_submission(valid, path, overwrite=True)
    assert read_submission(path) == valid
    assert sorted(os.listdir(tmp_path)) == ["sub.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, valid):
    path = tmp_path / "sub.json"
    write_submission(valid, path)
    broken = copy.deepcopy(valid)
    broken["optimized"]["latency_ms"] = float("nan")  # JSON cannot hold it
    with pytest.raises(ValueError):
        write_submission(broken, path, overwrite=True)
    assert read_submission(path) == valid
    assert os.listdir(tmp_path) == ["sub.json"]


def test_missing_directory_is_reported(tmp_path, valid):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_submission(valid, tmp_path / "nope" / "sub.json")


def test_generate_refuses_an_existing_file_before_measuring(tmp_path, helpers):
    path = tmp_path / "sub.json"
    path.write_text("{}")

    def explode(x):
        raise AssertionError("measured although the file exists")

    with pytest.raises(FileExistsError):
        generate_submission(explode, explode, helpers.make_classification(),
                            output_path=path, **_kwargs(helpers))
    assert path.read_text() == "{}"


def test_generate_writes_the_file_it_returns(tmp_path, helpers):
    model = helpers.make_mlp()
    path = tmp_path / "sub.json"
    sub = generate_submission(model, copy.deepcopy(model), helpers.make_classification(),
                              output_path=path, offline=False,
                              **_kwargs(helpers, honor_code=True))
    assert read_submission(path) == sub


def test_a_quantized_model_keeps_its_baseline_signature():
    from tinytorch.quant import quantize_dynamic, quantize_static

    manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 10))
    x = Tensor(np.random.default_rng(0).normal(size=(8, 1, 8, 8)).astype(np.float32))
    base = describe_architecture(model)
    for q in (quantize_static(model, [x], inference_pooling=True), quantize_dynamic(model)):
        desc = describe_architecture(q)
        assert desc["signature"] == base["signature"]
        assert desc["parameters"] == base["parameters"] and desc["modules"] == base["modules"]
        assert {n for n, _, dt in desc["quantized"] if dt == "int8"} == {"0.weight_int8",
                                                                        "4.weight_int8"}
    wider = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(128, 10))
    assert describe_architecture(quantize_dynamic(wider))["signature"] != base["signature"]


@pytest.mark.parametrize("build, kwargs, error", [
    ("digits_mlp", {"epochs": 1.5}, TypeError),
    ("digits_mlp", {"epochs": -1}, ValueError),
    ("digits_cnn", {"epochs": "2"}, TypeError),
    ("tiny_gpt", {"steps": True}, TypeError),
    ("tiny_gpt", {"steps": -5}, ValueError),
])
def test_pairing_builders_refuse_bad_counts(build, kwargs, error):
    from tinytorch.olympics import pairings

    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        getattr(pairings, build)(**kwargs)
