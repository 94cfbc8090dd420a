"""Helpers shared by the milestone 5 modules: thread pools, progress.

Kept apart from the scripts so that each script reads as the training
recipe and nothing else.
"""

from __future__ import annotations

import time

from tinytorch.accel import threads


class blas_threads:
    """Limit the compute thread pools to ``n`` threads for a block, through
    :func:`tinytorch.accel.threads`: NumPy's BLAS and any OpenMP runtime
    (threadpoolctl), tinytorch's elementwise kernels and numexpr's pool. The
    benchmarks use the same function (``benchmarks/_timing.limit_threads``).

    Why one thread by default: these models multiply small matrices (a few
    hundred rows), where OpenBLAS's threads mostly wait for each other, and
    when other processes share the cores a waiting thread that has been
    descheduled can stall every GEMM by milliseconds (we measured a 10x
    slowdown on a busy 2-core machine). ``--threads 2`` is worth trying on
    an idle machine.

    Without threadpoolctl installed, a note is printed and the pools keep
    their defaults.
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self._block = None

    def __enter__(self):
        if self.n is None:
            return self
        block = threads(self.n)
        try:
            block.__enter__()
        except ImportError as exc:
            print(f"note: --threads {self.n}: {exc}; the thread pools keep their defaults")
            return self
        self._block = block
        return self

    def __exit__(self, *exc) -> None:
        if self._block is not None:
            block, self._block = self._block, None
            block.__exit__(*exc)


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
