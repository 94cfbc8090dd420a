"""The Benchmark: compare models on data, with one measurement path.

The Profiler *measures* one model; the Benchmark *compares* several, under
identical conditions: same data, same warm-up, same number of repetitions,
same timing loop (``Profiler.time_calls``), same seed, the system recorded
with every result. Models run in evaluation mode (``model.eval()``; Dropout
off, BatchNorm on its running statistics) under ``no_grad``, and are put
back in the mode they were in afterwards.

Two MLPerf-style scenarios describe *how* queries reach the model:

    SingleStream   q1 ─▶ model ─▶ q2 ─▶ model ─▶ q3 ...   one sample per query, each sent
                                                         when the previous one is done.
                   metric: 90th-percentile latency       (a user waiting for one answer)
    Offline        [q1 q2 q3 ... qN] ─▶ model            every sample available at once,
                   metric: throughput (samples / s)      batched as the system likes.
                                                         (a nightly batch job)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn import Module
from tinytorch.tensor import Tensor, wrap

from ._model import _as_args, _check_count, _model_state_guard
from .profiler import Profiler
from .stats import BenchmarkResult
from .system import system_info

__all__ = ["Benchmark", "MIN_SINGLE_STREAM_QUERIES", "single_stream_p90", "evaluate_accuracy"]

#: SingleStream refuses to report a 90th percentile from fewer queries: with
#: 64 queries, 6 lie above the p90, the fewest for which it is more than an
#: accident of the slowest one or two. (MLPerf's own rules ask for far more
#: queries and a run time of minutes; this floor keeps tests fast.)
MIN_SINGLE_STREAM_QUERIES = 64

_METRICS = {
    "latency": ("latency_ms", "min"),
    "latency_ms": ("latency_ms", "min"),
    "memory": ("memory_mb", "min"),
    "memory_mb": ("memory_mb", "min"),
    "accuracy": ("accuracy", "max"),
    "parameters": ("parameters", "min"),
}


def single_stream_p90(latencies_ms) -> float:
    """The SingleStream metric: the 90th percentile of per-query latencies.

    Raises:
        ValueError: fewer than :data:`MIN_SINGLE_STREAM_QUERIES` latencies.
    """
    values = np.asarray(latencies_ms, dtype=np.float64).reshape(-1)
    if values.size < MIN_SINGLE_STREAM_QUERIES:
        raise ValueError(
            f"SingleStream reports a 90th-percentile latency only from at least "
            f"{MIN_SINGLE_STREAM_QUERIES} queries, got {values.size}"
        )
    return float(np.percentile(values, 90.0))


class _Data:
    """A data set as arrays: ``inputs`` (N, ...) in TinyTorch's dtype, ``labels`` or None."""

    __slots__ = ("inputs", "labels")

    def __init__(self, inputs: np.ndarray, labels: np.ndarray | None) -> None:
        self.inputs = inputs
        self.labels = labels

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def _array(x, what: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.data
    try:
        # Tensor's dtype rules: float data becomes float32, ints stay ints.
        return Tensor(x).data
    except TypeError as exc:
        raise TypeError(f"{what}: {exc}") from None


def _to_data(dataset, name: str) -> _Data:
    """``(inputs, labels)``, ``(inputs, None)``, an array / Tensor of inputs,
    or a sized, indexable data set of ``(x, y)`` pairs (stacked once)."""
    if isinstance(dataset, _Data):
        return dataset
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2 and not isinstance(
        dataset[0], (int, float)
    ):
        inputs = _array(dataset[0], f"dataset {name!r} inputs")
        labels = None if dataset[1] is None else np.asarray(
            dataset[1].data if isinstance(dataset[1], Tensor) else dataset[1])
    elif isinstance(dataset, (np.ndarray, Tensor)):
        inputs, labels = _array(dataset, f"dataset {name!r}"), None
    elif hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"):
        pairs = [dataset[i] for i in range(len(dataset))]  # setup, not a hot path
        if not pairs or not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            raise TypeError(f"dataset {name!r}: items must be (input, label) pairs")
        inputs = _array(np.stack([np.asarray(getattr(x, "data", x)) for x, _ in pairs]),
                        f"dataset {name!r} inputs")
        labels = np.asarray([np.asarray(getattr(y, "data", y)) for _, y in pairs])
    else:
        raise TypeError(f"dataset {name!r} must be (inputs, labels), an array of inputs, or "
                        f"a sized data set of (x, y) pairs; got {type(dataset).__name__}")
    if inputs.ndim == 0 or inputs.shape[0] == 0:
        raise ValueError(f"dataset {name!r} has no samples (inputs of shape {inputs.shape})")
    if labels is not None and labels.shape[:1] != inputs.shape[:1]:
        raise ValueError(f"dataset {name!r}: {inputs.shape[0]} inputs but labels of shape "
                         f"{labels.shape}")
    return _Data(inputs, labels)


def _named(items, what: str, convert=None) -> dict[str, Any]:
    if isinstance(items, Mapping):
        pairs = list(items.items())
    elif isinstance(items, list):
        pairs = [(None, v) for v in items]
    else:
        pairs = [(None, items)]
    if not pairs:
        raise ValueError(f"Benchmark needs at least one {what}")
    out: dict[str, Any] = {}
    for i, (key, value) in enumerate(pairs):
        if key is None:
            key = (f"{type(value).__name__}_{i}" if what == "model" else f"dataset_{i}")
        if not isinstance(key, str) or not key:
            raise TypeError(f"{what} names must be non-empty strings, got {key!r}")
        out[key] = convert(value, key) if convert else value
    return out


@contextlib.contextmanager
def _inference(model):
    """Evaluation mode + no_grad for the block; the model's state is restored after."""
    with _model_state_guard(model), no_grad():
        if isinstance(model, Module):
            model.eval()
        yield


class Benchmark:
    """Compare models on data sets with one Profiler.

    Args:
        models: ``{name: model}``, or a list of models (named
            ``<Class>_<i>``), or one model.
        datasets: ``{name: dataset}``, a list of data sets (named
            ``dataset_<i>``) or one data set. A data set is ``(inputs,
            labels)`` (labels may be None: no accuracy), an array / Tensor of
            inputs, or a sized indexable of ``(x, y)`` pairs. The first axis
            of ``inputs`` indexes samples.
        warmup_runs: untimed calls before each measurement.
        measurement_runs: timed calls (or memory measurements) per result.
        profiler: the Profiler to measure with (a new one by default).
        seed: the seed of everything random here (SingleStream's query
            order); recorded in every result.

    ``results[metric][model][dataset]`` holds every :class:`BenchmarkResult`
    produced so far (metrics ``latency_ms``, ``memory_mb``, ``parameters``,
    ``accuracy``, ``single_stream_latency_ms``, ``offline_throughput_sps``).

    Raises:
        ValueError: no model or data set, an empty data set, labels whose
            length differs from the inputs', counts out of range.
        TypeError: a model that is not callable, data of the wrong type.
    """

    def __init__(self, models, datasets, warmup_runs: int = 5, measurement_runs: int = 10,
                 *, profiler: Profiler | None = None, seed: int = 0) -> None:
        self.models = _named(models, "model")
        for name, model in self.models.items():
            if not callable(model):
                raise TypeError(f"model {name!r} is not callable ({type(model).__name__})")
        self.datasets = _named(datasets, "dataset", _to_data)
        self.warmup_runs = _check_count(warmup_runs, "warmup_runs", 0)
        self.measurement_runs = _check_count(measurement_runs, "measurement_runs", 1)
        if profiler is not None and not isinstance(profiler, Profiler):
            raise TypeError(f"profiler must be a Profiler, got {type(profiler).__name__}")
        self.profiler = profiler if profiler is not None else Profiler()
        self.seed = _check_count(seed, "seed", 0)
        self.results: dict[str, dict[str, dict[str, BenchmarkResult]]] = {}

    # ------------------------------------------------------------ helpers
    def _metadata(self, model: str | None, dataset: str | None, **extra) -> dict[str, Any]:
        meta: dict[str, Any] = {}
        if model is not None:
            meta["model"] = model
        if dataset is not None:
            meta["dataset"] = dataset
        meta.update(extra)
        meta.update({"warmup_runs": self.warmup_runs, "measurement_runs": self.measurement_runs,
                     "seed": self.seed, "system": system_info()})
        return meta

    def _store(self, result: BenchmarkResult, model: str, dataset: str) -> BenchmarkResult:
        self.results.setdefault(result.metric_name, {}).setdefault(model, {})[dataset] = result
        return result

    def _resolve_model(self, model) -> tuple[str, Any]:
        if isinstance(model, str):
            if model not in self.models:
                raise KeyError(f"unknown model {model!r}; models: {list(self.models)}")
            return model, self.models[model]
        if not callable(model):
            raise TypeError(f"model must be a name or a callable, got {type(model).__name__}")
        for name, m in self.models.items():
            if m is model:
                return name, m
        return type(model).__name__, model

    def _resolve_samples(self, samples) -> tuple[str, np.ndarray]:
        if isinstance(samples, str):
            if samples not in self.datasets:
                raise KeyError(f"unknown dataset {samples!r}; datasets: {list(self.datasets)}")
            return samples, self.datasets[samples].inputs
        return "samples", _to_data(samples, "samples").inputs

    @staticmethod
    def _batch_size(batch_size, n: int, what: str) -> int:
        if batch_size is None:
            return n
        return min(_check_count(batch_size, f"{what}: batch_size", 1), n)

    # ------------------------------------------------------------ benchmarks
    def run_latency_benchmark(self, batch_size: int | None = 1
                              ) -> dict[str, dict[str, BenchmarkResult]]:
        """Latency of one forward call on the first ``batch_size`` samples of
        each data set (None: all of them), for every model.

        Returns ``{model: {dataset: BenchmarkResult("latency_ms", ...)}}``.
        """
        out: dict[str, dict[str, BenchmarkResult]] = {}
        for mname, model in self.models.items():
            for dname, data in self.datasets.items():
                bs = self._batch_size(batch_size, len(data), "run_latency_benchmark")
                x = wrap(data.inputs[:bs])
                with _inference(model):
                    r = self.profiler.measure_latency(model, x, warmup=self.warmup_runs,
                                                      iterations=self.measurement_runs)
                meta = dict(r.metadata)
                meta.update(self._metadata(mname, dname, batch_size=bs))
                out.setdefault(mname, {})[dname] = self._store(
                    BenchmarkResult("latency_ms", r.values, meta), mname, dname)
        return out

    def run_memory_benchmark(self, batch_size: int | None = 1
                             ) -> dict[str, dict[str, BenchmarkResult]]:
        """Peak memory of one inference forward (parameters + buffers + peak
        activations, MiB) on ``batch_size`` samples, measured
        ``measurement_runs`` times; and the parameter count.

        Returns ``{model: {dataset: BenchmarkResult("memory_mb", ...)}}``;
        ``results["parameters"]`` gets the counts, and each memory result's
        metadata the byte breakdown of its last measurement.
        """
        out: dict[str, dict[str, BenchmarkResult]] = {}
        for mname, model in self.models.items():
            n_params = self.profiler.count_parameters(model)
            for dname, data in self.datasets.items():
                bs = self._batch_size(batch_size, len(data), "run_memory_benchmark")
                x = wrap(data.inputs[:bs])
                values, last = [], {}
                with _inference(model):
                    for _ in range(self.measurement_runs):
                        last = self.profiler.measure_memory(model, x)
                        values.append(last["peak_memory_mb"])
                meta = self._metadata(mname, dname, batch_size=bs, unit="MiB",
                                      method="tracemalloc", last=last)
                out.setdefault(mname, {})[dname] = self._store(
                    BenchmarkResult("memory_mb", values, meta), mname, dname)
                self._store(BenchmarkResult("parameters", [n_params], self._metadata(
                    mname, dname, parameter_bytes=last["parameter_bytes"])), mname, dname)
        return out

    def run_accuracy_benchmark(self, batch_size: int = 256
                               ) -> dict[str, dict[str, BenchmarkResult]]:
        """Accuracy on every labelled data set: ``argmax(model(x), -1) == y``
        over all samples, evaluated in batches of ``batch_size``.

        Labels are class ids (any integer shape matching the predictions:
        ``(N,)`` for ``(N, C)`` logits, ``(B, T)`` for ``(B, T, C)``) or
        one-hot rows (reduced with argmax).

        Returns ``{model: {dataset: BenchmarkResult("accuracy", [fraction])}}``
        (metadata: ``correct``, ``total``).

        Raises:
            ValueError: no data set has labels; predictions and labels
                whose shapes differ.
        """
        bs = _check_count(batch_size, "batch_size", 1)
        labelled = {k: d for k, d in self.datasets.items() if d.labels is not None}
        if not labelled:
            raise ValueError("run_accuracy_benchmark needs a data set with labels "
                             "(pass datasets as (inputs, labels))")
        out: dict[str, dict[str, BenchmarkResult]] = {}
        for mname, model in self.models.items():
            for dname, data in labelled.items():
                correct, total = evaluate_accuracy(model, data.inputs, data.labels, bs)
                meta = self._metadata(mname, dname, correct=correct, total=total,
                                      batch_size=bs)
                out.setdefault(mname, {})[dname] = self._store(
                    BenchmarkResult("accuracy", [correct / total], meta), mname, dname)
        return out

    def compare_models(self, metric: str = "latency") -> list[dict[str, Any]]:
        """Rank the models on a metric already measured, best first per data set.

        ``metric``: ``"latency"`` (median ms, lower is better), ``"memory"``
        (median MiB, lower), ``"accuracy"`` (higher), ``"parameters"`` (lower).

        Returns rows ``{"dataset", "rank", "model", "value", "mean", "p90",
        "ci_95", "relative_to_best"}`` (``relative_to_best``: value / best
        value).

        Raises:
            ValueError: unknown metric, or its benchmark has not been run.
        """
        if metric not in _METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose from "
                             f"{sorted(set(_METRICS))}")
        key, better = _METRICS[metric]
        table = self.results.get(key)
        if not table:
            runner = {"latency_ms": "run_latency_benchmark", "memory_mb": "run_memory_benchmark",
                      "parameters": "run_memory_benchmark",
                      "accuracy": "run_accuracy_benchmark"}[key]
            raise ValueError(f"no {key} results yet: call {runner}() first")
        rows = []
        datasets = list(dict.fromkeys(d for per_model in table.values() for d in per_model))
        for dname in datasets:
            entries = [(m, per[dname]) for m, per in table.items() if dname in per]
            entries.sort(key=lambda e: e[1].median if better == "min" else -e[1].median)
            best = entries[0][1].median
            for rank, (mname, r) in enumerate(entries, start=1):
                rows.append({
                    "dataset": dname, "rank": rank, "model": mname, "metric": key,
                    "value": r.median, "mean": r.mean, "p90": r.p90,
                    "ci_95": list(r.ci_95) if r.ci_95 else None,
                    "relative_to_best": r.median / best if best else None,
                })
        return rows

    def raw_metrics(self, dataset: str | None = None) -> dict[str, dict[str, float]]:
        """``{model: {"latency_ms", "memory_mb", "accuracy"}}`` on ``dataset``
        (default: the first one), from the results already measured (medians):
        the input of :func:`~tinytorch.perf.calculate_normalized_scores`.

        Raises:
            ValueError: a benchmark needed has not been run on that data set.
        """
        dname = dataset if dataset is not None else next(iter(self.datasets))
        out = {}
        for mname in self.models:
            row = {}
            for key in ("latency_ms", "memory_mb", "accuracy"):
                try:
                    row[key] = self.results[key][mname][dname].median
                except KeyError:
                    raise ValueError(f"no {key} result for model {mname!r} on {dname!r}; "
                                     f"run the benchmarks first") from None
            out[mname] = row
        return out

    # ------------------------------------------------------------ scenarios
    def single_stream(self, model, samples, min_queries: int = MIN_SINGLE_STREAM_QUERIES,
                      min_duration_s: float = 1.0) -> BenchmarkResult:
        """MLPerf SingleStream: one sample per query, each sent when the
        previous one has returned; reports the 90th-percentile latency.

        Queries cycle through ``samples`` (each a batch of one, ``(1, ...)``)
        in an order shuffled with ``self.seed``. After ``warmup_runs``
        untimed queries, queries run until at least ``min_queries`` have
        completed *and* ``min_duration_s`` seconds have passed.

        Args:
            model: a model, or the name of one of ``self.models``.
            samples: an array / Tensor of samples (first axis), a data set,
                or the name of one of ``self.datasets``.

        Returns:
            ``BenchmarkResult("single_stream_latency_ms", per-query ms)``;
            its ``p90`` is the SingleStream metric (also in
            ``metadata["p90_latency_ms"]``, with ``queries``,
            ``duration_s``, ``queries_per_s``, ``seed``).

        Raises:
            ValueError: ``min_queries`` below 64 (a p90 from fewer queries
                is refused), a negative ``min_duration_s``.
        """
        if isinstance(min_queries, bool) or not isinstance(min_queries, (int, np.integer)):
            raise TypeError(f"min_queries must be an int, got {type(min_queries).__name__}")
        if min_queries < MIN_SINGLE_STREAM_QUERIES:
            raise ValueError(
                f"SingleStream refuses to report a 90th percentile from fewer than "
                f"{MIN_SINGLE_STREAM_QUERIES} queries (min_queries={min_queries})"
            )
        mname, m = self._resolve_model(model)
        dname, inputs = self._resolve_samples(samples)
        n = inputs.shape[0]
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(n)
        # One (1, ...) view per sample, built before the clock starts.
        queries = [wrap(inputs[j:j + 1]) for j in order]
        with _inference(m):
            for i in range(self.warmup_runs):  # untimed: the first queries of the order
                m(queries[i % n])
            offset = self.warmup_runs
            start = time.perf_counter()
            seconds = self.profiler.time_calls(lambda i: m(queries[(offset + i) % n]),
                                               iterations=int(min_queries),
                                               min_duration_s=min_duration_s)
            duration = time.perf_counter() - start
        latencies = seconds * 1e3
        p90 = single_stream_p90(latencies)
        meta = self._metadata(mname, dname, scenario="SingleStream", unit="ms",
                              queries=int(seconds.size), min_queries=int(min_queries),
                              min_duration_s=float(min_duration_s), duration_s=duration,
                              queries_per_s=seconds.size / duration if duration > 0 else None,
                              p90_latency_ms=p90, samples=int(n))
        return self._store(BenchmarkResult("single_stream_latency_ms", latencies, meta),
                           mname, dname)

    def offline(self, model, samples, batch_size: int | None = None) -> BenchmarkResult:
        """MLPerf Offline: every sample is available at once; reports throughput.

        One run processes all ``N`` samples, in batches of ``batch_size``
        (None: one batch of ``N``). After ``warmup_runs`` untimed runs,
        ``measurement_runs`` runs are timed.

        Returns:
            ``BenchmarkResult("offline_throughput_sps", N / seconds per run)``
            (samples per second; ``median`` is the headline figure; metadata:
            ``samples``, ``batch_size``, ``batches``, ``run_seconds``).
        """
        mname, m = self._resolve_model(model)
        dname, inputs = self._resolve_samples(samples)
        n = inputs.shape[0]
        bs = self._batch_size(batch_size, n, "offline")
        batches = [wrap(inputs[i:i + bs]) for i in range(0, n, bs)]

        def run(_i):
            for b in batches:
                m(b)

        with _inference(m):
            seconds = self.profiler.time_calls(run, warmup=self.warmup_runs,
                                               iterations=self.measurement_runs)
        meta = self._metadata(mname, dname, scenario="Offline", unit="samples/s",
                              samples=int(n), batch_size=bs, batches=len(batches),
                              run_seconds=seconds.tolist())
        return self._store(BenchmarkResult("offline_throughput_sps", n / seconds, meta),
                           mname, dname)

    # ------------------------------------------------------------ export
    def to_dict(self) -> dict[str, Any]:
        """Every result so far: ``{metric: {model: {dataset: result dict}}}``."""
        return {metric: {m: {d: r.to_dict() for d, r in per.items()}
                         for m, per in table.items()}
                for metric, table in self.results.items()}


def evaluate_accuracy(model, inputs, labels, batch_size: int = 256) -> tuple[int, int]:
    """``(correct, total)``: ``argmax(model(x), -1) == labels`` over every
    sample, in evaluation mode under ``no_grad`` (the model's mode is
    restored). Batches of ``batch_size`` samples (one Python step per batch).

    Raises:
        ValueError: prediction and label shapes differ; empty data.
        TypeError: non-integer labels (after one-hot reduction).
    """
    bs = _check_count(batch_size, "batch_size", 1)
    x = _array(inputs, "inputs")
    y = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    n = x.shape[0] if x.ndim else 0
    if n == 0:
        raise ValueError("evaluate_accuracy: no samples")
    if y.shape[:1] != (n,):
        raise ValueError(f"evaluate_accuracy: {n} inputs but labels of shape {y.shape}")
    correct = total = 0
    with _inference(model):
        for start in range(0, n, bs):
            out = model(*_as_args(wrap(x[start:start + bs])))
            logits = out.data if isinstance(out, Tensor) else np.asarray(out)
            pred = np.argmax(logits, axis=-1)
            target = y[start:start + bs]
            if target.ndim == pred.ndim + 1:  # one-hot rows
                target = np.argmax(target, axis=-1)
            if target.shape != pred.shape:
                raise ValueError(f"evaluate_accuracy: predictions of shape {pred.shape} "
                                 f"(from outputs {logits.shape}) but labels of shape "
                                 f"{target.shape}")
            if target.dtype.kind not in "iub":
                if not np.all(np.equal(np.mod(target, 1), 0)):
                    raise TypeError(f"evaluate_accuracy: labels must be class ids, got "
                                    f"dtype {target.dtype} with fractional values")
            correct += int(np.count_nonzero(pred == target))
            total += int(pred.size)
    return correct, total

