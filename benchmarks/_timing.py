"""Small timing helpers shared by the benchmark scripts.

    from _timing import median_time, print_table

    seconds = median_time(lambda: step(), warmup=10, repeat=50)
    print_table([("add", 1.2e-5, 1.5e-5)], headers=("case", "tinytorch s", "torch s"))

The median (not the mean) is reported because a benchmark's distribution of
run times has a long right tail (the scheduler, the garbage collector, a
cache miss); the median of enough runs is stable from one run to the next.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["median_time", "print_table", "format_seconds", "use_source_tree",
           "limit_threads", "thread_pools", "load_average"]


def use_source_tree() -> None:
    """Make ``import tinytorch.<x>`` work from a checkout without installing.

    When every package is installed (``nox -s bench``) this does nothing;
    otherwise every ``packages/*/src`` goes on ``sys.path`` (the namespace
    package spans them all).
    """
    try:
        import tinytorch.tensor  # noqa: F401
    except ImportError:
        root = Path(__file__).resolve().parent.parent
        sys.path[:0] = [str(p) for p in sorted(root.glob("packages/*/src"))]


class limit_threads:
    """Run both frameworks with ``n`` threads: tinytorch's pools through
    :func:`tinytorch.accel.threads` (NumPy's BLAS and OpenMP via threadpoolctl,
    tinytorch's elementwise kernels, numexpr when loaded), the same function
    the milestones use, plus PyTorch's intra-op pool when torch is loaded.

    A context manager (``with limit_threads(2): ...``) that restores every
    previous setting on exit; ``n=None`` changes nothing. The limits are set
    at run time, after the imports, so one process can measure 1 and then 2
    threads with the same loaded libraries.

    Raises:
        ValueError: ``n < 1``.
        ImportError: ``n`` is given and threadpoolctl is not installed.
    """

    def __init__(self, n: int | None) -> None:
        if n is not None and n < 1:
            raise ValueError(f"threads must be >= 1, got {n}")
        self.n = n
        self._undo: list[Callable[[], object]] = []

    def __enter__(self) -> limit_threads:
        if self.n is None:
            return self
        from tinytorch.accel import threads

        block = threads(self.n)
        block.__enter__()
        self._undo.append(lambda: block.__exit__(None, None, None))
        torch = sys.modules.get("torch")
        if torch is not None:
            old = torch.get_num_threads()
            torch.set_num_threads(self.n)
            self._undo.append(lambda: torch.set_num_threads(old))
        return self

    def __exit__(self, *exc) -> None:
        while self._undo:
            self._undo.pop()()


def thread_pools() -> str:
    """One line naming every thread pool in use and its size: the BLAS and
    OpenMP libraries threadpoolctl sees, numexpr's and PyTorch's (if loaded)."""
    parts = []
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            version = f" {pool['version']}" if pool.get("version") else ""
            parts.append(f"{pool['internal_api']}{version} ({pool['user_api']}): "
                         f"{pool['num_threads']}")
    except ImportError:
        parts.append("threadpoolctl not installed")
    ne = sys.modules.get("numexpr")
    if ne is not None:
        parts.append(f"numexpr {ne.__version__}: {ne.get_num_threads()}")
    kernels = sys.modules.get("tinytorch.tensor.kernels")
    if kernels is not None and hasattr(kernels, "get_num_threads"):
        parts.append(f"tinytorch kernels ({kernels.get_backend()}): {kernels.get_num_threads()}")
    torch = sys.modules.get("torch")
    if torch is not None:
        parts.append(f"torch {torch.__version__} intra-op: {torch.get_num_threads()}")
    return "; ".join(parts)


def load_average() -> str:
    """``os.getloadavg()`` as text: how busy the machine was (other processes
    compete for the cores, so figures measured under load are inflated)."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return "load average unavailable"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min), " \
           f"{os.cpu_count()} CPUs"


def median_time(fn: Callable[[], object], warmup: int = 5, repeat: int = 30) -> float:
    """Median wall time of one call of ``fn()``, in seconds.

    ``fn`` is called ``warmup`` times untimed (caches, lazy initialisation,
    BLAS thread start-up), then ``repeat`` times, each call timed on its own
    with :func:`time.perf_counter`.

    Raises:
        ValueError: ``warmup < 0`` or ``repeat < 1``.
    """
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup}")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def format_seconds(seconds: float) -> str:
    """``1.5e-05`` -> ``'15.0 us'``: the unit that keeps 1-3 digits before the point."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def print_table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> None:
    """Print ``rows`` as an aligned plain-text table under ``headers``.

    Floats are shown with 4 significant digits; everything else with ``str``.
    Every row must have as many cells as ``headers``.
    """
    def cell(v: object) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cells = [[cell(v) for v in row] for row in rows]
    for i, row in enumerate(cells):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells, headers have {len(headers)}")
    widths = [max([len(h)] + [len(r[j]) for r in cells]) for j, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
