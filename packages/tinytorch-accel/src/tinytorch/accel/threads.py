"""Thread control for every compute pool the stack uses, in one place.

``threads(n)`` / ``set_num_threads(n)`` set, together:

* NumPy's BLAS and any OpenMP runtime, through threadpoolctl;
* tinytorch's elementwise kernels (``tinytorch.tensor.kernels``), which split
  large GELU / softmax / Adam passes over their own threads, and stacks of
  small matrix products (attention's), which they split over the same
  threads with one BLAS thread each (the BLAS control is registered here);
* numexpr's pool, when numexpr is loaded (the kernels' optional backend);
* how long OpenBLAS's idle workers spin before they sleep (unless
  ``OPENBLAS_THREAD_TIMEOUT`` is set already): see ``OPENBLAS_SPIN_EXPONENT``.

The milestones (``tinytorch.milestones``) and the benchmarks
(``benchmarks/_timing.limit_threads``) go through these functions, so a
``--threads`` flag means the same thing everywhere.

Why it matters: on two cores shared with other processes, OpenBLAS's default
(one thread per core) makes mid-size GEMMs wait on each other: a thread that
is descheduled stalls the whole product (10 to 20x slower GEMMs were seen on
a busy 2-core machine). Pinning the pools to one thread is often faster
there; on an idle machine two threads help the large GEMMs. Measure both
(``benchmarks/bench_accel.py`` and ``bench_train.py`` state their setting).

threadpoolctl is an optional dependency (``pip install tinytorch-accel[threads]``);
without it these functions raise ImportError saying so.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import contextmanager

from tinytorch.tensor import kernels

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


# OpenBLAS's idle workers spin for 2**THREAD_TIMEOUT cycles (2**28 by default,
# about 0.1 s) before they sleep. Between two GEMMs a spinning worker holds
# the other core, which tinytorch's kernel threads (GELU, softmax, the split
# attention products) want for the elementwise work in between. 2**20 cycles
# (about 0.4 ms) keeps the workers awake through a run of GEMMs and lets them
# yield the core during the elementwise work. ``benchmarks/bench_runtime.py``
# measures it: the GPT training step at 2 threads took 119 ms with OpenBLAS's
# default and 110 ms with this on the 2-core test machine; the batch-1
# forward, with little elementwise work between its GEMMs, was unchanged.
OPENBLAS_SPIN_EXPONENT = 20


def _set_openblas_spin(libs, exponent: int | None) -> None:
    """Give OpenBLAS's workers a spin of ``2**exponent`` cycles (None: the
    library's default): OpenBLAS reads ``OPENBLAS_THREAD_TIMEOUT`` when it
    starts its workers, so set it, have the library re-read its environment
    and stop its workers; the next BLAS call starts them with the new value.
    Libraries without these entry points (not OpenBLAS) are left alone."""
    name = "OPENBLAS_THREAD_TIMEOUT"
    if exponent is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = str(exponent)
    for lib in libs:
        dll = getattr(lib, "dynlib", None)
        read_env = getattr(dll, "openblas_read_env", None)
        shutdown = getattr(dll, "blas_thread_shutdown_", None)
        if read_env is not None and shutdown is not None:
            read_env()
            shutdown()


def _limit_all(n: int) -> list[Callable[[], object]]:
    """Set every pool to ``n``; return the calls that undo it, in setting order."""
    tpc = _threadpoolctl()  # first: a missing library changes nothing
    undo = [tpc.threadpool_limits(limits=n).restore_original_limits]  # BLAS + OpenMP
    # kernels.matmul runs stacks of small matrices on one BLAS thread each:
    # it needs to read and set the BLAS count cheaply (one call per library).
    blas = tpc.ThreadpoolController().select(user_api="blas").lib_controllers
    if blas:
        previous_spin = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
        if previous_spin is None:  # a user's own setting is kept
            _set_openblas_spin(blas, OPENBLAS_SPIN_EXPONENT)
            undo.append(lambda: _set_openblas_spin(blas, None))
        previous_control = kernels.set_blas_thread_control(
            lambda: max(lib.get_num_threads() for lib in blas),
            lambda k: [lib.set_num_threads(k) for lib in blas])
        undo.append(lambda: kernels.set_blas_thread_control(*(previous_control or (None, None))))
    previous = kernels.set_num_threads(n)
    undo.append(lambda: kernels.set_num_threads(previous))
    ne = sys.modules.get("numexpr")  # only when loaded: never imported for this
    if ne is not None:
        previous_ne = ne.set_num_threads(n)
        undo.append(lambda: ne.set_num_threads(previous_ne))
    return undo


@contextmanager
def threads(n: int):
    """Limit the BLAS/OpenMP pools, tinytorch's kernels and numexpr to ``n``
    threads inside the block; every previous setting is restored on exit
    (also when the block raises).

    Raises:
        TypeError / ValueError: ``n`` is not an int >= 1.
        ImportError: threadpoolctl is not installed.
    """
    undo = _limit_all(_check(n))
    try:
        yield n
    finally:
        while undo:
            undo.pop()()


def set_num_threads(n: int) -> int:
    """Set the BLAS/OpenMP pools, tinytorch's kernels and numexpr to ``n``
    threads for the rest of the process; returns the previous BLAS count (the
    largest over the BLAS libraries loaded).

    Raises:
        TypeError / ValueError: ``n`` is not an int >= 1.
        ImportError: threadpoolctl is not installed.
    """
    n = _check(n)
    previous = get_num_threads()
    _limit_all(n)
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
