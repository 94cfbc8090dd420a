"""Reports: a terminal table, a JSON file, plots, and the Pareto frontier.

* :func:`render_table`: any results (BenchmarkResult, nested dicts of them,
  rows from ``Benchmark.compare_models``, a ProfileReport) as aligned text;
* :func:`save_json`: results + the system description + a timestamp, in a
  file written atomically;
* :func:`pareto_frontier`: which models are not beaten on every objective
  at once (the trade-offs worth looking at);
* :func:`plot_latency_distribution`, :func:`plot_pareto_frontier`: PNG
  files, when matplotlib is installed (``pip install 'tinytorch-perf[plots]'``).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tinytorch.tensor import atomic_write

from ._io import dumps
from ._table import format_table
from .profile_report import ProfileReport
from .stats import BenchmarkResult
from .system import system_info

__all__ = [
    "render_table",
    "save_json",
    "pareto_frontier",
    "DEFAULT_OBJECTIVES",
    "plot_latency_distribution",
    "plot_pareto_frontier",
    "MatplotlibMissingError",
]

#: The objectives of the accuracy-latency-memory trade-off.
DEFAULT_OBJECTIVES: dict[str, str] = {"accuracy": "max", "latency_ms": "min", "memory_mb": "min"}

_RESULT_COLUMNS = ["name", "metric", "n", "median", "mean", "std", "ci_95", "p90", "p99",
                   "min", "max"]


# ------------------------------------------------------------------ table


def _flatten(results, prefix: str = "") -> list[tuple[str, BenchmarkResult]]:
    if isinstance(results, BenchmarkResult):
        return [(prefix or results.metadata.get("model", results.metric_name), results)]
    if isinstance(results, Mapping):
        out = []
        for key, value in results.items():
            out += _flatten(value, f"{prefix} / {key}" if prefix else str(key))
        return out
    if isinstance(results, (list, tuple)):
        out = []
        for i, value in enumerate(results):
            name = prefix
            if isinstance(value, BenchmarkResult):
                name = f"{prefix} / {i}" if prefix else _default_name(value, i)
            out += _flatten(value, name)
        return out
    raise TypeError(f"render_table: cannot show {type(results).__name__}")


def _default_name(r: BenchmarkResult, i: int) -> str:
    parts = [str(r.metadata[k]) for k in ("model", "dataset") if k in r.metadata]
    return " / ".join(parts) if parts else f"#{i}"


def render_table(results, title: str | None = None) -> str:
    """Results as an aligned text table for the terminal.

    Accepts a :class:`BenchmarkResult`, a list of them, nested dicts of
    them (``{model: {dataset: result}}``: the keys become the name column),
    a list of row dicts (e.g. ``Benchmark.compare_models()``), or a
    :class:`ProfileReport` (its own table).

    Raises:
        TypeError: anything else.
    """
    if isinstance(results, ProfileReport):
        text = results.table()
        return f"{title}\n{text}" if title else text
    if isinstance(results, list) and results and all(isinstance(r, Mapping) for r in results) \
            and not any(isinstance(v, BenchmarkResult) for r in results for v in r.values()):
        return format_table(results, title=title)
    rows = []
    for name, r in _flatten(results):
        ci = r.ci_95
        rows.append({
            "name": name, "metric": r.metric_name, "n": r.n, "median": r.median,
            "mean": r.mean, "std": r.std,
            "ci_95": f"[{ci[0]:.4g}, {ci[1]:.4g}]" if ci is not None else None,
            "p90": r.p90, "p99": r.p99, "min": r.min, "max": r.max,
        })
    return format_table(rows, _RESULT_COLUMNS, title=title)


# ------------------------------------------------------------------ JSON


def save_json(results, path, *, overwrite: bool = True) -> str:
    """Write ``results`` to ``path`` as JSON, atomically; returns the path.

    The file holds ``{"format": "tinytorch-perf/results", "version": 1,
    "created": <UTC ISO 8601>, "system": system_info(), "results": ...}``.
    Anything with ``to_dict()`` (BenchmarkResult, ProfileReport), dicts,
    lists, NumPy values and enums are converted; NaN and infinities become
    null (strict JSON).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        FileNotFoundError: its directory does not exist.
        TypeError: a value that cannot be converted to JSON.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_json: {path!r} exists (pass overwrite=True to replace it)")
    document = {
        "format": "tinytorch-perf/results",
        "version": 1,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "system": system_info(),
        "results": results,
    }
    text = dumps(document) + "\n"  # converts first: a bad value fails before the file is touched
    atomic_write(path, lambda f: f.write(text), binary=False, overwrite=overwrite)
    return path


# ------------------------------------------------------------------ Pareto


def pareto_frontier(points: Sequence[Mapping[str, Any]],
                    objectives: Mapping[str, str] | None = None) -> list[int]:
    """Indices of the points no other point dominates.

    ``q`` dominates ``p`` when ``q`` is at least as good as ``p`` on every
    objective and strictly better on at least one. Points on the frontier
    are the trade-offs worth considering; any other point is beaten by a
    frontier point on every objective at once. Identical points do not
    dominate each other (both stay).

    Args:
        points: dicts holding a finite number for every objective key.
        objectives: ``{key: "min" | "max"}``; default
            :data:`DEFAULT_OBJECTIVES` (max accuracy, min latency_ms,
            min memory_mb).

    Returns:
        indices into ``points``, in increasing order.

    Cost: O(n^2 k) for n points and k objectives, vectorized with NumPy.

    Raises:
        ValueError: no objective, an unknown direction, a missing or
            non-finite value (naming the point and the key).
    """
    objectives = dict(DEFAULT_OBJECTIVES if objectives is None else objectives)
    if not objectives:
        raise ValueError("pareto_frontier needs at least one objective")
    for key, direction in objectives.items():
        if direction not in ("min", "max"):
            raise ValueError(f"objective {key!r}: direction must be 'min' or 'max', "
                             f"got {direction!r}")
    if not points:
        return []
    keys = list(objectives)
    table = np.empty((len(points), len(keys)), dtype=np.float64)
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise TypeError(f"point {i} must be a dict, got {type(p).__name__}")
        for j, key in enumerate(keys):
            if key not in p:
                raise ValueError(f"point {i} has no {key!r}")
            value = p[key]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                    or not math.isfinite(float(value)):
                raise ValueError(f"point {i}: {key!r} must be a finite number, got {value!r}")
            table[i, j] = float(value)
    # Turn every objective into "larger is better".
    signs = np.array([1.0 if objectives[k] == "max" else -1.0 for k in keys])
    g = table * signs                                   # (n, k)
    ge = np.all(g[:, None, :] >= g[None, :, :], axis=2)  # ge[q, p]: q >= p everywhere
    gt = np.any(g[:, None, :] > g[None, :, :], axis=2)   # gt[q, p]: q > p somewhere
    dominated = np.any(ge & gt, axis=0)                  # some q dominates p
    return [int(i) for i in np.flatnonzero(~dominated)]


# ------------------------------------------------------------------ plots


class MatplotlibMissingError(ImportError):
    """Plotting was asked for, but matplotlib is not installed."""


def _figure(width: float = 7.0, height: float = 4.5):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MatplotlibMissingError(
            "plots need matplotlib, an optional extra: pip install 'tinytorch-perf[plots]' "
            "(or pip install matplotlib). Tables and JSON reports work without it."
        ) from None
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)  # a canvas of its own: no pyplot, no global backend change
    return fig


def _save_png(fig, path) -> str:
    path = os.fspath(path)
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    return path


def plot_latency_distribution(results, path, *, bins: int = 30,
                              title: str | None = None) -> str:
    """Histogram of latency samples with median, p90 and p99 marked; PNG at ``path``.

    The x axis spans the smallest value to the largest 99.5th percentile;
    the few values beyond (the tail) are counted in the title.

    ``results``: a BenchmarkResult or ``{name: BenchmarkResult}`` (several
    are overlaid). Returns the path.

    Raises:
        MatplotlibMissingError (an ImportError): matplotlib is not installed.
        TypeError: ``results`` holds something else than BenchmarkResults.
    """
    if isinstance(results, BenchmarkResult):
        results = {results.metadata.get("model", results.metric_name): results}
    if not isinstance(results, Mapping) or not results or not all(
        isinstance(r, BenchmarkResult) for r in results.values()
    ):
        raise TypeError("plot_latency_distribution expects a BenchmarkResult or "
                        "{name: BenchmarkResult}")
    # Timings have a long, thin tail (one 5 ms hiccup among 0.02 ms calls):
    # drawn to scale it squeezes everything else into one bin. The axis
    # stops at the largest p99.5 and the title says how many values lie beyond.
    lo = min(r.min for r in results.values())
    hi = max(r.percentile(99.5) for r in results.values())
    if hi <= lo:
        hi = lo + max(abs(lo) * 1e-3, 1e-12)
    hidden = sum(int(np.count_nonzero(r.values > hi)) for r in results.values())
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    colors = [f"C{i % 10}" for i in range(len(results))]
    for (name, r), color in zip(results.items(), colors):
        ax.hist(r.values, bins=bins, range=(lo, hi), alpha=0.45, color=color,
                label=f"{name} (n={r.n})")
        for value, style, label in ((r.median, "-", "median"), (r.p90, "--", "p90"),
                                    (r.p99, ":", "p99")):
            ax.axvline(value, color=color, linestyle=style, linewidth=1.2,
                       label=f"{name} {label} {value:.4g}")
    unit = next(iter(results.values())).metric_name
    ax.set_xlabel(unit)
    ax.set_ylabel("count")
    ax.set_title((title or "latency distribution")
                 + (f"\n({hidden} values above p99.5 not shown)" if hidden else ""))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save_png(fig, path)


def plot_pareto_frontier(points: Sequence[Mapping[str, Any]], path, *,
                         name_key: str = "name", title: str | None = None) -> str:
    """Accuracy against latency, colored by memory, frontier points marked; PNG.

    ``points``: dicts with ``accuracy``, ``latency_ms``, ``memory_mb`` (and
    optionally ``name_key`` for the labels). The frontier is
    :func:`pareto_frontier` over all three objectives; its points are
    circled and joined in latency order. Returns the path.

    Raises:
        MatplotlibMissingError (an ImportError): matplotlib is not installed.
        ValueError: see :func:`pareto_frontier`; no points.
    """
    if not points:
        raise ValueError("plot_pareto_frontier needs at least one point")
    front = pareto_frontier(points)
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    lat = np.array([float(p["latency_ms"]) for p in points])
    acc = np.array([float(p["accuracy"]) for p in points])
    mem = np.array([float(p["memory_mb"]) for p in points])
    sc = ax.scatter(lat, acc, c=mem, cmap="viridis", s=50, zorder=3)
    fig.colorbar(sc, ax=ax, label="memory (MiB)")
    order = sorted(front, key=lambda i: lat[i])
    ax.plot(lat[order], acc[order], color="black", linewidth=1, zorder=2,
            label="Pareto frontier")
    ax.scatter(lat[order], acc[order], s=160, facecolors="none", edgecolors="black", zorder=4)
    for i, p in enumerate(points):
        ax.annotate(str(p.get(name_key, i)), (lat[i], acc[i]), textcoords="offset points",
                    xytext=(6, 4), fontsize=8)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("accuracy")
    ax.set_title(title or "accuracy / latency / memory trade-off")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save_png(fig, path)
