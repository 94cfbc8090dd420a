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

Each model's own latency figure is its *round median*: the median over
rounds of its per-round median. Under load the tail of the latency
distribution belongs to the other processes: with a load average of 13 on 2
cores, an A/A pair of the digits CNN (a model against an exact copy) gave
ratios of the two pooled p90s between 0.915 and 1.092 over 30 runs, of the
round medians within the +-5% the medians of ratios keep
(``benchmarks/bench_olympics.py``).

Minimums, as MLPerf's LoadGen has them: at least ``min_rounds`` rounds,
``MIN_SINGLE_STREAM_QUERIES`` (64) queries per model and ``min_duration_s``
seconds in all; a slow model gets one query per round, a fast one many.
Past the minimums the rounds go on until the speedup is precise: its 95% CI
within ``TARGET_CI`` (2%) of it, or ``MAX_DURATION_S`` (60 s) have passed.
A slow model on a loaded machine needs this: an A/A pair of the tiny GPT (one
query per round) stopped at 64 rounds landed between 0.92 and 1.06 over 10
runs under a load average of ~15 on 2 cores.

The confidence interval of the median is distribution-free (binomial order
statistics): with ``n`` rounds, ``[r_(j), r_(k)]`` for
``j = floor(n/2 - 1.96 sqrt(n)/2)``, ``k = ceil(1 + n/2 + 1.96 sqrt(n)/2)``
(sorted ratios, 1-based), covering the true median with ~95% probability when
the rounds are independent.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from tinytorch.perf import MIN_SINGLE_STREAM_QUERIES

__all__ = ["paired_latency", "median_ci", "MIN_ROUNDS", "TARGET_ROUND_S", "TARGET_CI",
           "MAX_DURATION_S"]

#: The fewest rounds a speedup is computed from (a 95% CI of the median
#: needs at least ~9; more rounds make it tighter).
MIN_ROUNDS = 31
#: How long one model's half of a round should last: short enough that load
#: changes little within a round, long enough that the clock's resolution
#: and the loop's overhead do not matter.
TARGET_ROUND_S = 0.004
#: Past the minimums, rounds go on until the speedup's 95% CI half-width is
#: within 2% of it ...
TARGET_CI = 0.02
#: ... or this many seconds have passed.
MAX_DURATION_S = 60.0
def median_ci(values: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Distribution-free ~95% confidence interval of the median of ``values``
    (order statistics; see the module docstring). ``values``: 1-D, n >= 1.
    O(n log n)."""
    v = np.sort(np.asarray(values, dtype=np.float64))
    n = v.size
    half = z * math.sqrt(n) / 2
    lo = max(0, int(math.floor(n / 2 - half)) - 1)
    hi = min(n - 1, int(math.ceil(1 + n / 2 + half)) - 1)
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
                   target_ci: float = TARGET_CI, max_duration_s: float = MAX_DURATION_S,
                   max_rounds: int = 100_000) -> dict[str, Any]:
    """Time ``model_a`` and ``model_b`` in alternating rounds (module docstring).

    Args:
        model_a, model_b: callables taking one query (the baseline first).
        queries: the query inputs, each ready to call (e.g. ``(1, ...)``
            Tensors); both models see the same queries in the same order.
        min_rounds, min_queries, min_duration_s: the minimums; all must be met.
        target_ci, max_duration_s: past the minimums, rounds continue until
            the 95% CI of the speedup is within ``target_ci`` of it (relative
            half-width) or ``max_duration_s`` seconds have passed (a slow
            model on a loaded machine needs many rounds; a fast one stops at
            the minimums). ``result["precise"]`` tells which.
        target_round_s: the wanted duration of one model's half of a round.
        warmup: untimed queries per model before calibration.

    Returns:
        ``{"speedup": median over rounds of median(t_A) / median(t_B), "ci95": [lo, hi], "rounds",
        "queries_per_round", "duration_s", "latencies_ms": {"a": ndarray,
        "b": ndarray}, "round_median_ms": {"a": float, "b": float}}``:
        per-query latencies (ms) of each model pooled over the rounds
        (float64, one per query), and each model's *round median*: the
        median over rounds of its per-round median latency (the latency
        the scores use: robust to load, like the speedup).

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
    while r < max_rounds:
        elapsed = time.perf_counter() - start
        if r >= rounds_needed and elapsed >= min_duration_s and (
                _precise(ratios, target_ci) or elapsed >= max_duration_s):
            break
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
            "precise": _precise(ratios, target_ci),
            "queries_per_round": q, "duration_s": time.perf_counter() - start,
            "latencies_ms": {"a": np.concatenate(lat_a) * 1e3, "b": np.concatenate(lat_b) * 1e3},
            "round_median_ms": {"a": _round_median(lat_a) * 1e3, "b": _round_median(lat_b) * 1e3}}


def _precise(ratios: list, target_ci: float) -> bool:
    """Whether the 95% CI of the median ratio is within ``target_ci`` of it."""
    lo, hi = median_ci(np.asarray(ratios))
    mid = float(np.median(ratios))
    return (hi - lo) / 2 <= target_ci * mid


def _round_median(blocks: list[np.ndarray]) -> float:
    """Median over rounds of each round's median (one row per round: equal sizes)."""
    return float(np.median(np.median(np.stack(blocks), axis=1)))
