"""tinytorch alone, with and without its two process-level runtime settings.

* ``tinytorch.tensor.memory`` raises glibc's mmap and trim thresholds at
  import, so that freed NumPy temporaries are reused instead of mapped
  afresh (page faults, and TLB shootdowns between cores when BLAS threads
  run);
* ``tinytorch.accel.threads`` shortens how long OpenBLAS's idle workers
  spin (``OPENBLAS_THREAD_TIMEOUT`` 20 instead of OpenBLAS's 28), so that
  they leave the other core to tinytorch's kernel threads between GEMMs.

Three configurations: neither (``TINYTORCH_MALLOC=system``,
``OPENBLAS_THREAD_TIMEOUT=28``), the allocator only (``tuned``, 28) and both
(the default). This benchmark shows what each buys, on the workloads of
``bench_train.py``:

* ``forward``: the milestone-5 GPT (4 layers x 128, 4 heads, T 128), batch 1,
  forward under no_grad;
* ``train``: the same GPT's training step, batch 16, AdamW.

Each measurement runs in a fresh interpreter that imports tinytorch and
nothing else of size (PyTorch's import changes the heap's layout and would
hide the allocator's effect). The configurations alternate, ``--rounds``
times each, at 1 and at 2 threads (``tinytorch.accel.threads``); medians and
the speed-ups over "neither" are printed.

Usage (from the repository root)::

    python benchmarks/bench_runtime.py [--threads 1,2] [--rounds 3] [--only forward,train]
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
import os, statistics, sys, time
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
print(statistics.median(times), memory.allocator_settings()["tuned"],
      os.environ.get("OPENBLAS_THREAD_TIMEOUT"))
"""

WORKLOADS = {"forward": (20, 9), "train": (3, 5)}  # steps per rep, reps per child


# name: (TINYTORCH_MALLOC, OPENBLAS_THREAD_TIMEOUT or None for tinytorch's choice)
CONFIGS = {"neither": ("system", "28"), "allocator": ("tuned", "28"), "both": ("tuned", None)}


def measure_once(workload: str, threads: int, config: str) -> float:
    steps, reps = WORKLOADS[workload]
    malloc, spin = CONFIGS[config]
    code = CHILD.format(bench=str(ROOT / "benchmarks"), workload=workload, threads=threads,
                        steps=steps, reps=reps)
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    env["TINYTORCH_MALLOC"] = malloc
    if spin is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = spin
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    seconds, tuned = float(out[0]), out[1] == "True"
    if tuned != (malloc == "tuned"):
        raise RuntimeError(f"TINYTORCH_MALLOC={malloc} was not applied (tuned={tuned})")
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="tinytorch with and without its runtime settings")
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
            times = {config: [] for config in CONFIGS}
            for _ in range(args.rounds):
                for config in CONFIGS:
                    times[config].append(measure_once(workload, n, config))
            med = {config: statistics.median(t) for config, t in times.items()}
            rows.append((workload, n, *(f"{med[c] * 1e3:.2f}" for c in CONFIGS),
                         f"{med['neither'] / med['allocator']:.2f}x",
                         f"{med['neither'] / med['both']:.2f}x"))
    print(f"medians of {args.rounds} alternating fresh processes per configuration (ms):")
    print_table(rows, headers=("workload", "threads", *CONFIGS, "allocator speed-up",
                               "both speed-up"))
    print(f"after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
