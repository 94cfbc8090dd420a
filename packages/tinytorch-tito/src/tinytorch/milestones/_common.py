"""Helpers shared by the milestone 5 modules: thread pools, progress.

Kept apart from the scripts so that each script reads as the training
recipe and nothing else.
"""

from __future__ import annotations

import sys
import time


class blas_threads:
    """Limit the compute thread pools to ``n`` threads for a block: NumPy's
    BLAS and any OpenMP runtime (through ``threadpoolctl``), numexpr's pool
    when it is loaded, and tinytorch's elementwise kernels
    (``tinytorch.tensor.kernels.set_num_threads``).
    The same mechanism as the benchmarks (``benchmarks/_timing.limit_threads``).

    Why one thread by default: these models multiply small matrices (a few
    hundred rows), where OpenBLAS's threads mostly wait for each other, and
    when other processes share the cores a waiting thread that has been
    descheduled can stall every GEMM by milliseconds (we measured a 10x
    slowdown on a busy 2-core machine). ``--threads 2`` is worth trying on
    an idle machine.

    Without threadpoolctl installed, a note is printed and the libraries
    keep their defaults.
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self._restore_stack = []

    def __enter__(self):
        if self.n is None:
            return self
        self._limit_kernels()  # tinytorch's elementwise kernels: no library needed
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            print(f"note: --threads {self.n} needs threadpoolctl (pip install threadpoolctl); "
                  "the thread pools keep their defaults")
            return self
        self._restore_stack.append(threadpool_limits(limits=self.n).restore_original_limits)
        ne = sys.modules.get("numexpr")
        if ne is not None:
            previous = ne.set_num_threads(self.n)
            self._restore_stack.append(lambda: ne.set_num_threads(previous))
        return self

    def _limit_kernels(self) -> None:
        from tinytorch.tensor import kernels

        previous = kernels.set_num_threads(self.n)
        self._restore_stack.append(lambda: kernels.set_num_threads(previous))

    def __exit__(self, *exc) -> None:
        while self._restore_stack:
            self._restore_stack.pop()()


class Progress:
    """A progress bar: tqdm when it is installed, otherwise a line every
    ``every`` updates (so logs of background runs stay readable)."""

    def __init__(self, total: int | None, desc: str, every: int = 50,
                 enabled: bool = True) -> None:
        self.every, self.count, self.enabled = every, 0, enabled
        self.desc = desc
        self._bar = None
        self._started_at = time.perf_counter()
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True,
                                 mininterval=1.0)

    def update(self, **stats) -> None:
        self.count += 1
        if not self.enabled:
            return
        text = "  ".join(f"{k} {v}" for k, v in stats.items())
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(1)
        elif self.count % self.every == 0:
            elapsed = time.perf_counter() - self._started_at
            print(f"{self.desc} step {self.count:6d}  {text}  ({elapsed:.0f} s)", flush=True)

    def set_total(self, total: int) -> None:
        """Change the expected number of updates (a budget re-estimated on the way)."""
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def write(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
