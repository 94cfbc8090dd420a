"""Summary statistics of repeated measurements, and Student's t distribution.

A benchmark repeats a measurement and summarises the sample. The summary
used everywhere in :mod:`tinytorch.perf` is :class:`BenchmarkResult`:

* **median** and **percentiles** (p90, p99): robust to the slow outliers that
  timing always has (a page fault, a scheduler tick, a GC pause); the tail
  percentiles are what a user waiting for a query actually feels;
* **mean**, **std** and a **confidence interval for the mean**: what the
  average would be if you measured forever, and how sure this sample is.

Percentiles use NumPy's default method (``"linear"``: linear interpolation
between the two nearest order statistics, type 7 of Hyndman & Fan), so that
``result.p90 == np.percentile(values, 90)`` exactly. ``std`` is the *sample*
standard deviation (``ddof=1``), the estimator the t interval is built on.

The t quantile is computed without SciPy: exact closed forms for 1 and 2
degrees of freedom; otherwise a Cornish-Fisher expansion around the normal
quantile, refined by safeguarded Newton steps on the exact tail probability
(the regularized incomplete beta function, evaluated by its continued
fraction). The result agrees with ``scipy.stats.t.ppf`` to about 1e-12
(relative) from the 1e-12 to the 1 - 1e-10 quantile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np

__all__ = ["BenchmarkResult", "t_quantile", "t_cdf"]

# ------------------------------------------------------- Student's t distribution


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz).

    Converges quickly for ``x < (a + 1) / (a + b + 2)``; the caller uses the
    symmetry ``I_x(a, b) = 1 - I_{1-x}(b, a)`` otherwise.
    """
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function ``I_x(a, b)`` for ``0 <= x <= 1``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _t_upper_tail(t: float, df: float) -> float:
    """``P(T > t)`` for ``t >= 0``: ``0.5 * I_{df/(df+t^2)}(df/2, 1/2)``."""
    return 0.5 * _betainc(0.5 * df, 0.5, df / (df + t * t))


def _t_pdf(t: float, df: float) -> float:
    log_c = (math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df)
             - 0.5 * math.log(df * math.pi))
    return math.exp(log_c - 0.5 * (df + 1.0) * math.log1p(t * t / df))


def _check_df(df) -> float:
    if isinstance(df, bool) or not isinstance(df, (int, float, np.integer, np.floating)):
        raise TypeError(f"df must be a number, got {type(df).__name__}")
    df = float(df)
    if math.isnan(df) or df <= 0.0:
        raise ValueError(f"df (degrees of freedom) must be > 0, got {df}")
    return df


def t_cdf(t: float, df: float) -> float:
    """``P(T <= t)`` for Student's t with ``df`` degrees of freedom (``df`` may be inf).

    Raises:
        ValueError: ``df <= 0`` or NaN. TypeError: non-numeric arguments.
    """
    df = _check_df(df)
    t = float(t)
    if math.isinf(df):
        return NormalDist().cdf(t)
    tail = _t_upper_tail(abs(t), df)
    return 1.0 - tail if t > 0 else tail


def _cornish_fisher(z: float, df: float) -> float:
    """t quantile from the normal quantile ``z``: the Cornish-Fisher expansion
    in powers of ``1/df`` (Abramowitz & Stegun 26.7.5). Error O(df**-5)."""
    z2 = z * z
    g1 = (z2 + 1.0) * z / 4.0
    g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0
    g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0
    g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom.

    ``t_quantile(0.975, n - 1)`` is the multiplier of ``std / sqrt(n)`` in a
    two-sided 95% confidence interval for a mean of ``n`` samples.

    Method: exact formulas for ``df`` 1 (Cauchy: ``tan(pi (p - 1/2))``) and 2
    (``(2p - 1) / sqrt(2 p (1 - p))``); the normal quantile for ``df = inf``;
    otherwise the Cornish-Fisher expansion, refined by Newton steps on the
    exact upper tail (kept inside a bisection bracket, so it always
    converges). For ``df >= 2000`` the expansion alone is accurate to
    1e-12 and is returned as is. Cost: a few dozen float ops.

    Raises:
        ValueError: ``p`` not strictly between 0 and 1, or ``df <= 0``.
        TypeError: non-numeric arguments.
    """
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"p must be a number, got {type(p).__name__}")
    p = float(p)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, got {p}")
    df = _check_df(df)
    if p == 0.5:
        return 0.0
    if math.isinf(df):
        return NormalDist().inv_cdf(p)
    # Work in the upper half (the distribution is symmetric) with q = P(T > t).
    sign = 1.0 if p > 0.5 else -1.0
    q = 1.0 - p if p > 0.5 else p
    if df == 1.0:
        # tan(pi (p - 1/2)) = -cot(pi p), written so that tiny q keeps its precision.
        return sign / math.tan(math.pi * q)
    if df == 2.0:
        return sign * (1.0 - 2.0 * q) / math.sqrt(2.0 * q * (1.0 - q))
    z = -NormalDist().inv_cdf(q)  # not inv_cdf(1 - q): 1 - q rounds away tiny tails
    t = _cornish_fisher(z, df)
    if df >= 2000.0:
        # The expansion's error is below 1e-12 here, smaller than what the
        # incomplete beta (lgamma differences of huge numbers) resolves.
        return sign * t
    # Bracket the root of tail(t) = q: tail is decreasing in t.
    lo, hi = 0.0, max(t, 1.0)
    while _t_upper_tail(hi, df) > q:
        lo, hi = hi, 2.0 * hi
    if not lo < t < hi:
        t = 0.5 * (lo + hi)
    for _ in range(100):
        f = _t_upper_tail(t, df) - q
        if f > 0.0:
            lo = t
        else:
            hi = t
        step = f / _t_pdf(t, df)  # d(tail)/dt = -pdf
        t_new = t + step
        if not lo < t_new < hi:
            t_new = 0.5 * (lo + hi)
        if abs(t_new - t) <= 1e-15 * max(1.0, abs(t_new)):
            t = t_new
            break
        t = t_new
    return sign * t


# ---------------------------------------------------------------- BenchmarkResult


def _as_values(values, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: values must be numbers, got {type(values).__name__}") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name}: values must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: needs at least one value")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name}: values must be finite, value {bad} is {arr[bad]}")
    return arr


class BenchmarkResult:
    """Repeated measurements of one metric, and their summary statistics.

    Args:
        metric_name: what was measured, with its unit (``"latency_ms"``).
        values: the individual measurements (any 1-D array-like of finite
            numbers; stored as a read-only float64 array).
        metadata: anything that describes how the values were obtained
            (model, data, batch size, warmup, seed, the system description).

    Attributes (computed once; ``values`` never changes):
        n, mean, std (sample standard deviation, ``ddof=1``; 0.0 when n == 1),
        median, p90, p99, min, max (percentiles: NumPy's default ``linear``
        method), ci_95 (95% confidence interval of the mean, Student's t;
        ``None`` when n < 2: one value says nothing about its spread).

    Raises:
        TypeError: non-numeric values or a non-str metric name.
        ValueError: empty, non-1-D or non-finite values.
    """

    __slots__ = ("metric_name", "values", "metadata", "n", "mean", "std", "median",
                 "p90", "p99", "min", "max", "ci_95")

    def __init__(self, metric_name: str, values, metadata: Mapping | None = None) -> None:
        if not isinstance(metric_name, str) or not metric_name:
            raise TypeError(f"metric_name must be a non-empty str, got {metric_name!r}")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a mapping, got {type(metadata).__name__}")
        arr = _as_values(values, metric_name).copy()
        arr.setflags(write=False)
        self.metric_name = metric_name
        self.values = arr
        self.metadata = dict(metadata or {})
        self.n = int(arr.size)
        self.mean = float(np.mean(arr))
        self.std = float(np.std(arr, ddof=1)) if self.n > 1 else 0.0
        self.median = float(np.median(arr))
        self.p90, self.p99 = (float(v) for v in np.percentile(arr, [90.0, 99.0]))
        self.min = float(np.min(arr))
        self.max = float(np.max(arr))
        self.ci_95 = self.confidence_interval(0.95)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (``0 <= q <= 100``), NumPy's default method."""
        if not 0.0 <= float(q) <= 100.0:
            raise ValueError(f"percentile q must be in [0, 100], got {q}")
        return float(np.percentile(self.values, q))

    def confidence_interval(self, level: float = 0.95) -> tuple[float, float] | None:
        """Two-sided ``level`` confidence interval of the mean:
        ``mean +- t_{(1+level)/2, n-1} * std / sqrt(n)``; ``None`` when n < 2.

        Assumes independent measurements with a roughly normal mean (the
        central limit theorem makes that reasonable from a few dozen
        samples even for skewed timings).
        """
        if not 0.0 < float(level) < 1.0:
            raise ValueError(f"confidence level must be strictly between 0 and 1, got {level}")
        if self.n < 2:
            return None
        half = t_quantile(0.5 + 0.5 * float(level), self.n - 1) * self.std / math.sqrt(self.n)
        return (self.mean - half, self.mean + half)

    def to_dict(self, include_values: bool = True) -> dict[str, Any]:
        """A JSON-ready dict: the name, every statistic, the metadata and
        (by default) the raw values."""
        out: dict[str, Any] = {
            "metric_name": self.metric_name,
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "std_ddof": 1,
            "median": self.median,
            "p90": self.p90,
            "p99": self.p99,
            "min": self.min,
            "max": self.max,
            "ci_95": list(self.ci_95) if self.ci_95 is not None else None,
            "percentile_method": "linear",
        }
        if include_values:
            out["values"] = self.values.tolist()
        out["metadata"] = self.metadata
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> BenchmarkResult:
        """Rebuild a result from ``to_dict()`` output (statistics are recomputed
        from the values, never trusted from the file)."""
        if not isinstance(data, Mapping) or "metric_name" not in data or "values" not in data:
            raise ValueError("from_dict needs a mapping with 'metric_name' and 'values'")
        return cls(data["metric_name"], data["values"], data.get("metadata") or {})

    def summary(self) -> str:
        """One line: ``latency_ms: median 1.234 (p90 1.3, p99 1.5) mean 1.25 ...``."""
        ci = (f" 95% CI [{self.ci_95[0]:.4g}, {self.ci_95[1]:.4g}]"
              if self.ci_95 is not None else "")
        return (f"{self.metric_name}: median {self.median:.4g} (p90 {self.p90:.4g}, "
                f"p99 {self.p99:.4g}) mean {self.mean:.4g} +- {self.std:.2g}{ci}, "
                f"min {self.min:.4g}, max {self.max:.4g}, n={self.n}")

    def __repr__(self) -> str:
        return (f"BenchmarkResult({self.metric_name!r}, n={self.n}, median={self.median:.6g}, "
                f"mean={self.mean:.6g}, p90={self.p90:.6g})")

    def __eq__(self, other) -> bool:
        if not isinstance(other, BenchmarkResult):
            return NotImplemented
        return (self.metric_name == other.metric_name
                and np.array_equal(self.values, other.values)
                and self.metadata == other.metadata)

    __hash__ = None  # mutable metadata: not hashable

