"""tinytorch.perf: measure a model, compare models, score optimizations.

Layer 5 of the TinyTorch stack. Everything it reports is measured, by this
code, on the machine it runs on.

* :class:`Profiler` *measures* one model: parameters, FLOPs (summed from the
  primitives that actually run, through the tensor dispatch hook), memory
  (tracemalloc), latency statistics, per-op / per-module tables of the
  forward and backward passes, Chrome / Perfetto traces.
* :class:`Benchmark` *compares* models on data with one Profiler: latency,
  memory, accuracy, and the MLPerf-style SingleStream and Offline scenarios.
* :class:`BenchmarkResult`: repeated measurements with median, percentiles,
  mean, std and a t-based 95% confidence interval.
* :func:`calculate_normalized_scores`, :func:`aggregate_scores`,
  :class:`OlympicEvent`, :data:`EVENT_RULES`, :func:`qualifies_event`:
  hardware-independent scores of an optimized model against its baseline.
* :func:`system_info`, :func:`render_table`, :func:`save_json`,
  :func:`pareto_frontier`, plots (with matplotlib).

>>> import numpy as np
>>> from tinytorch import nn
>>> from tinytorch.perf import Profiler
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> Profiler().count_flops(model, np.ones((2, 4)))   # 2*2*4*8 + 2*8 + 2*8 + 2*2*8*3 + 2*3
262
"""

from .benchmark import MIN_SINGLE_STREAM_QUERIES, Benchmark, evaluate_accuracy, single_stream_p90
from .profiler import ROOT_NAME, ModuleStats, OpStats, Profiler, ProfileReport, Trace
from .report import (
    DEFAULT_OBJECTIVES,
    MatplotlibMissingError,
    pareto_frontier,
    plot_latency_distribution,
    plot_pareto_frontier,
    render_table,
    save_json,
)
from .scores import (
    EVENT_RULES,
    RAW_METRIC_KEYS,
    SCORE_KEYS,
    EventQualification,
    EventRule,
    OlympicEvent,
    aggregate_scores,
    calculate_normalized_scores,
    efficiency_score,
    qualifies_event,
)
from .stats import BenchmarkResult, t_cdf, t_quantile
from .system import THREAD_ENV_VARS, system_info

__version__ = "0.2.2"

__all__ = [
    "Profiler", "ProfileReport", "OpStats", "ModuleStats", "Trace", "ROOT_NAME",
    "Benchmark", "BenchmarkResult", "MIN_SINGLE_STREAM_QUERIES", "single_stream_p90",
    "evaluate_accuracy",
    "t_quantile", "t_cdf",
    "calculate_normalized_scores", "aggregate_scores", "efficiency_score",
    "OlympicEvent", "EventRule", "EVENT_RULES", "EventQualification", "qualifies_event",
    "SCORE_KEYS", "RAW_METRIC_KEYS",
    "system_info", "THREAD_ENV_VARS",
    "render_table", "save_json", "pareto_frontier", "DEFAULT_OBJECTIVES",
    "plot_latency_distribution", "plot_pareto_frontier", "MatplotlibMissingError",
]
