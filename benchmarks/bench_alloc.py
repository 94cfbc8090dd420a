"""tinytorch alone, with glibc's allocator tuned (the default) and untuned.

``tinytorch.tensor.memory`` raises glibc's mmap and trim thresholds at
import, so that freed NumPy temporaries are reused instead of mapped afresh
(page faults, and TLB shootdowns between cores when BLAS threads run). This
benchmark shows what that buys, on the workloads of ``bench_train.py``:

* ``forward``: the milestone-5 GPT (4 layers x 128, 4 heads, T 128), batch 1,
  forward under no_grad;
* ``train``: the same GPT's training step, batch 16, AdamW.

Each measurement runs in a fresh interpreter that imports tinytorch and
nothing else of size (PyTorch's import changes the heap's layout and would
hide the effect), with ``TINYTORCH_MALLOC=system`` (glibc's defaults) or
``tuned``. The two settings alternate, ``--rounds`` times each, at 1 and at
2 threads (``tinytorch.accel.threads``); medians and the ratio are printed.

Usage (from the repository root)::

    python benchmarks/bench_alloc.py [--threads 1,2] [--rounds 3] [--only forward,train]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import load_average, print_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# One measurement: build the workload, warm up, print the median seconds per step.
CHILD = r"""
import statistics, sys, time
sys.modules["torch"] = None  # tinytorch alone: bench_train's PyTorch side is skipped
sys.path.insert(0, {bench!r})
import bench_train as bt
from tinytorch.accel import threads
from tinytorch.tensor import memory
workload, n, steps, reps = {workload!r}, {threads}, {steps}, {reps}
step = (bt.gpt_steps() if workload == "train" else bt.forward_steps())[0]
with threads(n):
    for _ in range(3):
        step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
print(statistics.median(times), memory.allocator_settings()["tuned"])
"""

WORKLOADS = {"forward": (20, 9), "train": (3, 5)}  # steps per rep, reps per child


def measure_once(workload: str, threads: int, setting: str) -> float:
    steps, reps = WORKLOADS[workload]
    code = CHILD.format(bench=str(ROOT / "benchmarks"), workload=workload, threads=threads,
                        steps=steps, reps=reps)
    env = {**os.environ, "TINYTORCH_MALLOC": setting}
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    seconds, tuned = float(out[0]), out[1] == "True"
    if tuned != (setting == "tuned"):
        raise RuntimeError(f"TINYTORCH_MALLOC={setting} was not applied (tuned={tuned})")
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="tinytorch with glibc's allocator tuned or not")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="forward,train")
    args = p.parse_args(argv)
    thread_counts = [int(t) for t in args.threads.split(",")]
    workloads = [w for w in args.only.split(",") if w]
    if set(workloads) - set(WORKLOADS) or args.rounds < 1 or min(thread_counts) < 1:
        p.error(f"workloads are {sorted(WORKLOADS)}; rounds and threads must be >= 1")
    print(f"before: {load_average()}")
    rows = []
    for workload in workloads:
        for n in thread_counts:
            times = {"system": [], "tuned": []}
            for _ in range(args.rounds):
                for setting in times:
                    times[setting].append(measure_once(workload, n, setting))
            system, tuned = (statistics.median(times[s]) for s in ("system", "tuned"))
            rows.append((workload, n, f"{system * 1e3:.2f}", f"{tuned * 1e3:.2f}",
                         f"{system / tuned:.2f}x"))
    print(f"medians of {args.rounds} alternating fresh processes per setting:")
    print_table(rows, headers=("workload", "threads", "system ms", "tuned ms", "speed-up"))
    print(f"after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
