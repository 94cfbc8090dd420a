"""Thread control for NumPy's BLAS pool, through threadpoolctl.

On two cores shared with other processes, OpenBLAS's default (one thread per
core) makes mid-size GEMMs wait on each other: a thread that is descheduled
stalls the whole product. Pinning the pool to one thread is often faster
there; on an idle machine two threads help the large GEMMs. Measure both
(``benchmarks/bench_accel.py`` states the setting it ran with).

threadpoolctl is an optional dependency (``pip install tinytorch-accel[threads]``);
without it these functions raise ImportError saying so.
"""

from __future__ import annotations

from contextlib import contextmanager

__all__ = ["threads", "set_num_threads", "get_num_threads"]

_MISSING = ("thread control needs threadpoolctl: pip install 'tinytorch-accel[threads]' "
            "(or pip install threadpoolctl)")


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        raise ImportError(_MISSING) from None
    return threadpoolctl


def _check(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"the number of threads must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"the number of threads must be >= 1, got {n}")
    return n


@contextmanager
def threads(n: int):
    """Limit NumPy's BLAS pool to ``n`` threads inside the block; the previous
    limits are restored on exit (also when the block raises).

    Raises:
        TypeError / ValueError: ``n`` is not an int >= 1.
        ImportError: threadpoolctl is not installed.
    """
    n = _check(n)
    limiter = _threadpoolctl().threadpool_limits(limits=n, user_api="blas")
    try:
        yield n
    finally:
        limiter.restore_original_limits()


def set_num_threads(n: int) -> int:
    """Set NumPy's BLAS pool to ``n`` threads for the rest of the process;
    returns the previous count (the largest over the BLAS libraries loaded).

    Raises:
        TypeError / ValueError: ``n`` is not an int >= 1.
        ImportError: threadpoolctl is not installed.
    """
    n = _check(n)
    tpc = _threadpoolctl()
    previous = get_num_threads()
    tpc.threadpool_limits(limits=n, user_api="blas")
    return previous


def get_num_threads() -> int:
    """Threads of NumPy's BLAS pool (the largest over the BLAS libraries loaded;
    1 when threadpoolctl sees none).

    Raises:
        ImportError: threadpoolctl is not installed.
    """
    pools = [p["num_threads"] for p in _threadpoolctl().threadpool_info()
             if p.get("user_api") == "blas"]
    return max(pools, default=1)
