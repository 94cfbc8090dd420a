"""Time one shuffled epoch through the DataLoader: fast gather vs generic path.

    python benchmarks/bench_data.py

Prints seconds per epoch (best of a few runs) and the speed-up of the fast
path. Nothing is asserted: speed is reported, not tested.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import use_source_tree  # noqa: E402

use_source_tree()
from tinytorch.data import DataLoader, TensorDataset, default_collate  # noqa: E402
from tinytorch.tensor import Generator  # noqa: E402


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def epoch(loader) -> int:
    n = 0
    for xb, _ in loader:
        n += xb.shape[0]
    return n


def main(n: int = 60_000, features: int = 784, batch: int = 128) -> None:
    rng = np.random.default_rng(0)
    X = rng.random((n, features), dtype=np.float32)
    y = rng.integers(0, 10, n)
    ds = TensorDataset(X, y)
    fast = DataLoader(ds, batch_size=batch, shuffle=True, generator=Generator(0))
    slow = DataLoader(ds, batch_size=batch, shuffle=True, generator=Generator(0),
                      collate_fn=default_collate)
    t_fast = best_of(lambda: epoch(fast))
    t_slow = best_of(lambda: epoch(slow))
    print(f"one epoch: N={n}, {features} float32 features, batch {batch}, shuffled")
    print(
        f"  fast gather (get_batch)        {t_fast * 1e3:8.1f} ms   {n / t_fast:12,.0f} samples/s"
    )
    print(
        f"  generic (per-item + collate)   {t_slow * 1e3:8.1f} ms   {n / t_slow:12,.0f} samples/s"
    )
    print(f"  speed-up                       {t_slow / t_fast:8.1f} x")


if __name__ == "__main__":
    main()
