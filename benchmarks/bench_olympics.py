"""Benchmark the Olympics' measurement: A/A spread and reproduction spread.

1. A/A: the digits MLP, the digits CNN and the tiny GPT (generation with the
   KV cache), each paired with an exact copy of itself, measured ``--runs``
   times by the interleaved SingleStream of ``generate_submission``
   (``tinytorch.olympics.paired``). Printed per run: the paired speedup
   (median of round ratios) with its 95% CI, the ``speedup`` score (ratio of
   the two models' round-median latencies) and, for comparison, the ratio of the p90s of
   all queries pooled. Target: the paired speedup and the score within +-5%
   of 1 in every run.
2. Reproduction: an honest bundle of each built-in pairing (MLP A/A, CNN
   int8, GPT KV cache) is written once and validated with ``--reproduce``
   ``--runs`` times. Printed: claimed vs re-measured speedup and compression,
   how far off, and how many re-runs passed (target: all). The largest
   spread seen is what ``REPRODUCE_SPEEDUP_RTOL`` is derived from.

The load average (other processes on the machine) is printed with every run.
Threads: BLAS limited to ``--threads`` (default 1).

    python benchmarks/bench_olympics.py [--runs 10] [--part aa|reproduce|both]
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import sys
import tempfile

from _timing import limit_threads, load_average, use_source_tree

use_source_tree()

from tinytorch.olympics import generate_submission, pairings, validate_submission  # noqa: E402
from tinytorch.olympics.reproduce import (  # noqa: E402
    REPRODUCE_MEMORY_RTOL,
    REPRODUCE_SPEEDUP_RTOL,
)
from tinytorch.olympics.submission import _paired_single_stream  # noqa: E402

SETTINGS = {"warmup_runs": 2, "measurement_runs": 3, "min_duration_s": 1.0}


def _build(name: str):
    if name == "gpt":
        return pairings.tiny_gpt(steps=40)
    return pairings.PAIRINGS[name](epochs=1)


def aa(runs: int, names) -> float:
    """Print the A/A spread; returns the largest |ratio - 1| seen."""
    worst = 0.0
    for name in names:
        p = _build(name)
        optimized = copy.deepcopy(p.baseline)  # gpt: the same generator twice, not the KV cache
        ratios, p90s = [], []
        for i in range(runs):
            out = {"baseline": {}, "optimized": {}}
            r = _paired_single_stream({"baseline": p.baseline, "optimized": optimized}, p.data,
                                      out, min_queries=64, min_duration_s=1.0, seed=i)
            b, o = out["baseline"]["single_stream"], out["optimized"]["single_stream"]
            p90 = b["round_median_ms"] / o["round_median_ms"]  # the speedup score
            pooled = b["p90_ms"] / o["p90_ms"]
            ratios.append(r["speedup"])
            p90s.append(p90)
            print(f"  A/A {name:4s} run {i + 1:2d}: paired {r['speedup']:.4f} "
                  f"[{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]  speedup score "
                  f"{p90:.4f}  pooled-p90 ratio {pooled:.4f}  "
                  f"rounds {r['rounds']} x {r['queries_per_round']} queries "
                  f"({'precise' if r['precise'] else 'time cap'})  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        spread = max(abs(x - 1) for x in ratios + p90s)
        worst = max(worst, spread)
        print(f"A/A {name}: paired {min(ratios):.4f}..{max(ratios):.4f}, speedup score "
              f"{min(p90s):.4f}..{max(p90s):.4f}; largest |ratio - 1| {spread:.2%} "
              f"({'within' if spread <= 0.05 else 'OUTSIDE'} +-5%)", flush=True)
    return worst


def reproduce(runs: int, names) -> None:
    folder = tempfile.mkdtemp(prefix="olympics-bench-")
    try:
        for name in ["cnn-int8" if n == "cnn" else n for n in names]:
            p = _build(name)
            bundle = os.path.join(folder, name)
            sub = generate_submission(
                p.baseline, p.optimized, p.data, event="auto", athlete_name="bench",
                github_repo="https://github.com/tinytorch/bench", techniques=p.techniques,
                honor_code=True, bundle_dir=bundle, task_identity=p.task_identity,
                architectures=p.architectures, **SETTINGS)
            claimed = sub["normalized_scores"]
            passed, offs = 0, []
            for i in range(runs):
                report = validate_submission(bundle, reproduce=True)
                passed += report["valid"]
                line = next(c["message"] for c in report["checks"]
                            if c["name"] == "reproduced_ratios")
                offs.append(line)
                verdict = "VALID  " if report["valid"] else "INVALID"
                print(f"  reproduce {name:8s} run {i + 1:2d}: {verdict} {line}  "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
            print(f"reproduce {name}: claimed speedup {claimed['speedup']:.3f}, compression "
                  f"{claimed['compression_ratio']:.3f}; {passed}/{runs} re-runs VALID "
                  f"(tolerances: speedup {REPRODUCE_SPEEDUP_RTOL:.0%}, memory "
                  f"{REPRODUCE_MEMORY_RTOL:.0%})", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--part", choices=("aa", "reproduce", "both"), default="both")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", default="mlp,cnn,gpt",
                        help="A/A models (mlp, cnn, gpt); reproduced: mlp, cnn-int8, gpt")
    args = parser.parse_args(argv)
    print(f"bench_olympics: {args.runs} runs, BLAS threads {args.threads}, "
          f"{load_average()}", flush=True)
    with limit_threads(args.threads):
        if args.part in ("aa", "both"):
            aa(args.runs, args.models.split(","))
        if args.part in ("reproduce", "both"):
            reproduce(args.runs, args.models.split(","))


if __name__ == "__main__":
    sys.exit(main())
