"""Keep freed memory for reuse: glibc's allocator, tuned for NumPy temporaries.

Every op of a forward or backward pass allocates its result, and most
results are freed a few ops later. With glibc's default settings an array of
128 KiB or more (a (128, 256) float32 activation) is either

* given its own ``mmap`` and returned to the kernel by ``munmap`` when freed,
  or, once glibc's dynamic threshold has moved up,
* carved from the top of the heap, which ``free`` trims back to the kernel
  as soon as 2x that threshold lies free there.

Either way the next op gets fresh pages: a page fault per 4 KiB on first
touch, zero-filled by the kernel. And when the process has a second thread
running (the BLAS worker threads), every unmap or trim also interrupts the
other cores to flush their TLBs. ``benchmarks/bench_runtime.py`` times the
milestone-5 GPT (4 layers x 128, T 128) both ways in fresh processes: on a
2-core VM the batch-1 forward at 2 threads took 4.6 ms with glibc's defaults
and 2.5 ms with the settings below (5.7 and 3.7 ms in a slower run), and the
training step 1.2-1.3x less: the page faults cost more than the arithmetic.

:func:`keep_freed_memory` raises both thresholds (``M_MMAP_THRESHOLD`` to
32 MiB, the ceiling glibc's own dynamic threshold reaches, and
``M_TRIM_THRESHOLD`` to 256 MiB), so that freed arrays stay in the heap
and the next op reuses them. The cost: after a peak, the process keeps up
to the trim threshold of freed memory instead of returning it; the peak
itself is unchanged. Importing :mod:`tinytorch.tensor` applies it once, on
glibc only, unless the environment variable
``TINYTORCH_MALLOC`` is ``system`` (keep the allocator's own defaults).

>>> from tinytorch.tensor import memory
>>> memory.allocator_settings()["tuned"] in (True, False)
True
"""

from __future__ import annotations

import ctypes
import os
import platform

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "allocator_settings", "keep_freed_memory"]

MMAP_THRESHOLD = 32 * 1024 * 1024  # the ceiling of glibc's own dynamic threshold on 64-bit
TRIM_THRESHOLD = 256 * 1024 * 1024

# mallopt parameter numbers, from glibc's <malloc.h>.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_state = {"tuned": False, "reason": "not applied yet"}


def _glibc_mallopt():
    """glibc's ``mallopt`` as a ctypes function, or None on another C library."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        fn = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    fn.argtypes, fn.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return fn


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring).

    Process-wide and idempotent. Returns True when applied, False where the
    C library is not glibc (macOS, Windows, musl): nothing changes there.
    """
    mallopt = _glibc_mallopt()
    if mallopt is None:
        _state.update(tuned=False, reason="not glibc: the allocator's defaults are kept")
        return False
    # mallopt returns 1 on success, 0 on error.
    ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    _state.update(tuned=ok, reason="applied" if ok else "mallopt refused the settings")
    return ok


def allocator_settings() -> dict:
    """What this module did: ``{"tuned": bool, "reason": str, "mmap_threshold":
    int, "trim_threshold": int}`` (the thresholds are the values asked for)."""
    return {**_state, "mmap_threshold": MMAP_THRESHOLD, "trim_threshold": TRIM_THRESHOLD}


def _apply_at_import() -> None:
    choice = os.environ.get("TINYTORCH_MALLOC", "tuned").strip().lower()
    if choice == "system":
        _state.update(tuned=False, reason="TINYTORCH_MALLOC=system: the allocator's defaults")
        return
    if choice != "tuned":
        raise ValueError(f"TINYTORCH_MALLOC must be 'tuned' or 'system', got {choice!r}")
    keep_freed_memory()
