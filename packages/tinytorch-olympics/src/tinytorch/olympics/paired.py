"""Interleaved latency: the baseline and the optimized model timed side by side.

Timing all of A and then all of B lets the machine change in between (another
process starts, the CPU clock drops) and the change lands in the ratio. Here
the two models take turns in many short *rounds*, ``A B B A A B B A ...``
(the order alternates so that a slow drift hits both sides equally), and
every round gives one ratio ``t_A / t_B`` of the per-query *median*
latencies in that round (a query preempted by another process is an outlier
the median ignores). The reported speedup is the **median of the round ratios**; a
burst of load that spoils a few rounds moves the median little.

::

    calibrate ─▶ q = queries per round, so that a round lasts ~target_round_s
    round r:  [A x q][B x q]  or  [B x q][A x q]  (alternating)
              ratio_r = median_A / median_B
    speedup = median(ratio_r);  95% CI from the order statistics of the ratios

Minimums, as MLPerf's LoadGen has them: at least ``min_rounds`` rounds,
``MIN_SINGLE_STREAM_QUERIES`` (64) queries per model and ``min_duration_s``
seconds in all; a slow model gets one query per round, a fast one many.

The confidence interval of the median is distribution-free (binomial order
statistics): with ``n`` rounds, ``[r_(j), r_(k)]`` for
``j = floor(n/2 - 1.96 sqrt(n)/2)``, ``k = ceil(n/2 + 1.96 sqrt(n)/2)``
(sorted ratios, 1-based), covering the true median with ~95% probability when
the rounds are independent.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from tinytorch.perf import MIN_SINGLE_STREAM_QUERIES

__all__ = ["paired_latency", "median_ci", "MIN_ROUNDS", "TARGET_ROUND_S"]

#: The fewest rounds a speedup is computed from (a 95% CI of the median
#: needs at least ~9; more rounds make it tighter).
MIN_ROUNDS = 31
#: How long one model's half of a round should last: short enough that load
#: changes little within a round, long enough that the clock's resolution
#: and the loop's overhead do not matter.
TARGET_ROUND_S = 0.004


def median_ci(values: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Distribution-free ~95% confidence interval of the median of ``values``
    (order statistics; see the module docstring). ``values``: 1-D, n >= 1.
    O(n log n)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = v.size
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)) - 1)
    hi = min(n - 1, int(math.ceil(n / 2 + half)) - 1)
    return float(v[lo]), float(v[hi])


def _time_block(model, queries: list, start: int, q: int, out: np.ndarray) -> None:
    """Run ``q`` queries one at a time from ``start`` (cycling), each timed."""
    clock = time.perf_counter
    n = len(queries)
    for i in range(q):
        t0 = clock()
        model(queries[(start + i) % n])
        out[i] = clock() - t0


def paired_latency(model_a, model_b, queries: list, *, min_rounds: int = MIN_ROUNDS,
                   min_queries: int = MIN_SINGLE_STREAM_QUERIES, min_duration_s: float = 0.0,
                   target_round_s: float = TARGET_ROUND_S, warmup: int = 3,
                   max_rounds: int = 100_000) -> dict[str, Any]:
    """Time ``model_a`` and ``model_b`` in alternating rounds (module docstring).

    Args:
        model_a, model_b: callables taking one query (the baseline first).
        queries: the query inputs, each ready to call (e.g. ``(1, ...)``
            Tensors); both models see the same queries in the same order.
        min_rounds, min_queries, min_duration_s: the minimums; all must be met.
        target_round_s: the wanted duration of one model's half of a round.
        warmup: untimed queries per model before calibration.

    Returns:
        ``{"speedup": median over rounds of median(t_A) / median(t_B), "ci95": [lo, hi], "rounds",
        "queries_per_round", "duration_s", "latencies_ms": {"a": ndarray,
        "b": ndarray}}``: per-query latencies (ms) of each model, pooled
        over the rounds (float64, one per query).

    Cost: about ``2 * max(min_duration_s, rounds * target_round_s)`` seconds.

    Raises:
        ValueError: no queries, a count below 1, a negative duration.
    """
    if not queries:
        raise ValueError("paired_latency needs at least one query")
    if min_rounds < 1 or min_queries < 1 or warmup < 0:
        raise ValueError("min_rounds and min_queries must be >= 1, warmup >= 0")
    if not (min_duration_s >= 0 and target_round_s > 0):
        raise ValueError("min_duration_s must be >= 0 and target_round_s > 0")
    for i in range(warmup):  # caches, lazily built plans, first-call allocations
        model_a(queries[i % len(queries)])
        model_b(queries[i % len(queries)])
    # Calibrate: the faster model's latency sets q (the slower's round is longer).
    probe = np.empty(3)
    _time_block(model_a, queries, 0, 3, probe)
    est = float(np.median(probe))
    _time_block(model_b, queries, 0, 3, probe)
    est = max(min(est, float(np.median(probe))), 1e-7)
    q = max(1, int(target_round_s / est))
    rounds_needed = max(min_rounds, math.ceil(min_queries / q))
    lat_a, lat_b, ratios = [], [], []
    start, r = time.perf_counter(), 0
    while r < max_rounds and (r < rounds_needed or time.perf_counter() - start < min_duration_s):
        ta, tb = np.empty(q), np.empty(q)
        offset = (r * q) % len(queries)
        if r % 4 in (0, 3):  # A B B A: a linear drift cancels over four rounds
            _time_block(model_a, queries, offset, q, ta)
            _time_block(model_b, queries, offset, q, tb)
        else:
            _time_block(model_b, queries, offset, q, tb)
            _time_block(model_a, queries, offset, q, ta)
        lat_a.append(ta)
        lat_b.append(tb)
        ratios.append(np.median(ta) / np.median(tb))
        r += 1
    ratios_arr = np.asarray(ratios)
    lo, hi = median_ci(ratios_arr)
    return {"speedup": float(np.median(ratios_arr)), "ci95": [lo, hi], "rounds": r,
            "queries_per_round": q, "duration_s": time.perf_counter() - start,
            "latencies_ms": {"a": np.concatenate(lat_a) * 1e3, "b": np.concatenate(lat_b) * 1e3}}
