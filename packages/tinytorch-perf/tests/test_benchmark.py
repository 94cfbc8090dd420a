"""Benchmark: latency, memory, accuracy, comparisons and the MLPerf-style scenarios."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch import tensor as tt
from tinytorch.perf import (
    MIN_SINGLE_STREAM_QUERIES,
    Benchmark,
    BenchmarkResult,
    Profiler,
    evaluate_accuracy,
    single_stream_p90,
)


class Lookup(nn.Module):
    """Predicts class ``round(x[:, 0])`` out of 4: accuracy is known in advance."""

    def forward(self, x):
        idx = np.clip(np.rint(x.data[:, 0]).astype(np.int64), 0, 3)
        return tt.Tensor(np.eye(4, dtype=np.float32)[idx]) + x.sum() * 0.0


class ModeSpy(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(self.training)
        return x


@pytest.fixture
def labelled():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 8)).astype(np.float32)
    x[:, 0] = np.arange(40) % 4
    y = np.arange(40) % 4
    y[:10] = (y[:10] + 1) % 4  # the first 10 labels are wrong for Lookup: accuracy 0.75
    return x, y


def test_latency_memory_and_accuracy(make_mlp, labelled):
    models = {"mlp": make_mlp(sizes=(8, 16, 4)), "lookup": Lookup()}
    bench = Benchmark(models, {"data": labelled}, warmup_runs=1, measurement_runs=4)
    lat = bench.run_latency_benchmark()
    assert set(lat) == {"mlp", "lookup"}
    r = lat["mlp"]["data"]
    assert isinstance(r, BenchmarkResult) and r.metric_name == "latency_ms" and r.n == 4
    assert r.metadata["model"] == "mlp" and r.metadata["dataset"] == "data"
    assert r.metadata["batch_size"] == 1 and r.metadata["seed"] == 0
    assert "cpu_model" in r.metadata["system"]

    mem = bench.run_memory_benchmark(batch_size=8)
    m = mem["mlp"]["data"]
    assert m.metric_name == "memory_mb" and m.n == 4 and m.min > 0
    assert m.metadata["last"]["parameter_count"] == 8 * 16 + 16 + 16 * 4 + 4
    assert bench.results["parameters"]["mlp"]["data"].median == 212
    assert bench.results["parameters"]["lookup"]["data"].median == 0

    acc = bench.run_accuracy_benchmark(batch_size=16)  # 3 batches, the last one partial
    assert acc["lookup"]["data"].median == 0.75
    assert acc["lookup"]["data"].metadata["correct"] == 30
    assert acc["lookup"]["data"].metadata["total"] == 40
    expected = np.mean(np.argmax(models["mlp"](tt.Tensor(labelled[0])).data, -1) == labelled[1])
    assert acc["mlp"]["data"].median == pytest.approx(expected)

    raw = bench.raw_metrics()
    assert raw["lookup"]["accuracy"] == 0.75
    assert raw["mlp"]["latency_ms"] == lat["mlp"]["data"].median
    assert raw["mlp"]["memory_mb"] == m.median


def test_compare_models_ranks_best_first(labelled):
    bench = Benchmark({"a": Lookup(), "b": Lookup()}, labelled, warmup_runs=0,
                      measurement_runs=2)
    with pytest.raises(ValueError, match="run_accuracy_benchmark"):
        bench.compare_models("accuracy")
    with pytest.raises(ValueError, match="unknown metric"):
        bench.compare_models("speed")
    bench.results["latency_ms"] = {
        "a": {"d": BenchmarkResult("latency_ms", [2.0, 2.0])},
        "b": {"d": BenchmarkResult("latency_ms", [1.0, 1.0])},
    }
    rows = bench.compare_models("latency")
    assert [r["model"] for r in rows] == ["b", "a"]
    assert [r["rank"] for r in rows] == [1, 2]
    assert rows[1]["relative_to_best"] == 2.0
    bench.results["accuracy"] = {
        "a": {"d": BenchmarkResult("accuracy", [0.9])},
        "b": {"d": BenchmarkResult("accuracy", [0.8])},
    }
    assert [r["model"] for r in bench.compare_models("accuracy")] == ["a", "b"]


def test_models_run_in_eval_mode_and_come_back_in_train_mode(labelled):
    spy = ModeSpy()
    spy.train()
    bench = Benchmark({"spy": spy}, {"d": labelled[0]}, warmup_runs=1, measurement_runs=2)
    bench.run_latency_benchmark()
    bench.offline("spy", "d")
    bench.single_stream("spy", "d", min_duration_s=0.0)
    assert spy.seen and not any(spy.seen)
    assert spy.training


@pytest.mark.parametrize("min_queries", [0, 1, 10, 63])
def test_single_stream_refuses_fewer_than_64_queries(make_mlp, data, min_queries):
    bench = Benchmark(make_mlp(), data, warmup_runs=0, measurement_runs=1)
    with pytest.raises(ValueError, match="64"):
        bench.single_stream(bench.models["Sequential_0"], data, min_queries=min_queries)
    with pytest.raises(ValueError, match="64"):
        single_stream_p90(np.ones(min_queries))


def test_single_stream_reports_the_p90_of_64_queries(mlp, data):
    bench = Benchmark({"mlp": mlp}, {"d": data}, warmup_runs=2, measurement_runs=1, seed=7)
    r = bench.single_stream("mlp", "d", min_duration_s=0.0)
    assert r.metric_name == "single_stream_latency_ms"
    assert r.n == MIN_SINGLE_STREAM_QUERIES == r.metadata["queries"]
    assert r.p90 == np.percentile(r.values, 90) == r.metadata["p90_latency_ms"]
    assert r.metadata["scenario"] == "SingleStream" and r.metadata["seed"] == 7
    assert bench.results["single_stream_latency_ms"]["mlp"]["d"] is r


def test_single_stream_honours_the_minimum_duration(mlp, data):
    bench = Benchmark({"mlp": mlp}, {"d": data}, warmup_runs=0, measurement_runs=1)
    r = bench.single_stream("mlp", "d", min_queries=64, min_duration_s=0.15)
    assert r.metadata["duration_s"] >= 0.15
    assert r.n > 64  # a forward of a tiny MLP takes far less than 0.15 s / 64


def test_single_stream_sends_one_sample_per_query_in_seeded_order(data):
    seen = []

    def model(x):
        seen.append(x.data.copy())
        return x

    for seed in (3, 3, 4):
        Benchmark({"m": model}, data, warmup_runs=0, measurement_runs=1,
                  seed=seed).single_stream("m", data, min_duration_s=0.0)
    assert all(s.shape == (1, 8) for s in seen)
    runs = [np.concatenate(seen[i * 64:(i + 1) * 64]) for i in range(3)]
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])
    # 64 queries over 32 samples: each sample exactly twice.
    rows = {tuple(r) for r in runs[0]}
    assert len(rows) == 32


@pytest.mark.parametrize("batch_size, batches", [(None, 1), (32, 1), (10, 4), (1, 32)])
def test_offline_throughput(mlp, data, batch_size, batches):
    bench = Benchmark({"mlp": mlp}, {"d": data}, warmup_runs=1, measurement_runs=3)
    r = bench.offline("mlp", "d", batch_size=batch_size)
    assert r.metric_name == "offline_throughput_sps" and r.n == 3
    assert r.metadata["batches"] == batches and r.metadata["samples"] == 32
    assert np.allclose(r.values, 32 / np.asarray(r.metadata["run_seconds"]))


def test_benchmark_uses_the_given_profiler(mlp, data):
    calls = []

    class CountingProfiler(Profiler):
        def time_calls(self, fn, **kwargs):
            calls.append(kwargs)
            return super().time_calls(fn, **kwargs)

    bench = Benchmark(mlp, data, warmup_runs=1, measurement_runs=2, profiler=CountingProfiler())
    bench.run_latency_benchmark()
    bench.offline(mlp, data)
    bench.single_stream(mlp, data, min_duration_s=0)
    assert len(calls) == 3  # one measurement path for all three


@pytest.mark.parametrize("models, datasets, kwargs, error", [
    ({}, np.ones((2, 2)), {}, ValueError),
    ({"m": 3}, np.ones((2, 2)), {}, TypeError),
    ({"m": lambda x: x}, [], {}, ValueError),
    ({"m": lambda x: x}, {"d": np.ones((0, 2))}, {}, ValueError),
    ({"m": lambda x: x}, {"d": (np.ones((3, 2)), np.ones(4))}, {}, ValueError),
    ({"m": lambda x: x}, {"d": "text"}, {}, TypeError),
    ({"m": lambda x: x}, np.ones((2, 2)), {"measurement_runs": 0}, ValueError),
    ({"m": lambda x: x}, np.ones((2, 2)), {"warmup_runs": -1}, ValueError),
    ({"m": lambda x: x}, np.ones((2, 2)), {"seed": 1.5}, TypeError),
])
def test_benchmark_rejects_bad_arguments(models, datasets, kwargs, error):
    with pytest.raises(error):
        Benchmark(models, datasets, **kwargs)


def test_accuracy_needs_labels_and_matching_shapes(labelled):
    with pytest.raises(ValueError, match="labels"):
        Benchmark(Lookup(), labelled[0]).run_accuracy_benchmark()
    with pytest.raises(ValueError, match="shape"):
        evaluate_accuracy(Lookup(), labelled[0], np.zeros((40, 2, 3)))
    # one-hot labels are reduced with argmax
    onehot = np.eye(4)[labelled[1]]
    assert evaluate_accuracy(Lookup(), labelled[0], onehot) == (30, 40)


def test_datasets_of_pairs_are_stacked(labelled):
    class Pairs:
        def __len__(self):
            return 40

        def __getitem__(self, i):
            return labelled[0][i], int(labelled[1][i])

    bench = Benchmark({"lookup": Lookup()}, {"pairs": Pairs()}, measurement_runs=1)
    assert bench.run_accuracy_benchmark()["lookup"]["pairs"].median == 0.75


def test_to_dict_holds_every_result(mlp, data):
    bench = Benchmark({"mlp": mlp}, {"d": data}, warmup_runs=0, measurement_runs=2)
    bench.run_latency_benchmark()
    d = bench.to_dict()
    assert d["latency_ms"]["mlp"]["d"]["n"] == 2
