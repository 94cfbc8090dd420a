"""What machine a measurement was taken on.

A latency means nothing without its machine: the same model runs 10x faster
on a laptop with a good BLAS than on a shared CI runner. :func:`system_info`
gathers what matters for NumPy code (CPU, cores, memory, OS, Python, the
NumPy version and the BLAS it calls, the thread-count settings) and every
result of :mod:`tinytorch.perf` records it.

Everything is read from the machine itself (``/proc/cpuinfo``,
``/proc/meminfo``, ``os.sysconf``, ``platform``, ``numpy.show_config``,
``threadpoolctl`` when it is installed); a field that cannot be read is
``None``, never guessed.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import os
import platform
import sys
from typing import Any

import numpy as np

__all__ = ["system_info", "THREAD_ENV_VARS"]

#: Environment variables that set how many threads BLAS / OpenMP use.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _cpu() -> dict[str, Any]:
    model = None
    physical = None
    text = _read("/proc/cpuinfo")
    if text:
        cores = set()
        phys_id = None
        for line in text.splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key in ("model name", "Hardware", "Processor", "cpu model") and model is None:
                model = value or None
            elif key == "physical id":
                phys_id = value
            elif key == "core id":
                cores.add((phys_id, value))
        physical = len(cores) or None
    if model is None:
        model = platform.processor() or platform.machine() or None
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = None
    return {
        "cpu_model": model,
        "cpu_count_logical": os.cpu_count(),
        "cpu_count_physical": physical,
        "cpu_count_usable": usable,
        "machine": platform.machine() or None,
    }


def _memory() -> dict[str, Any]:
    total = available = None
    text = _read("/proc/meminfo")
    if text:
        for line in text.splitlines():
            key, _, value = line.partition(":")
            parts = value.split()
            if not parts or not parts[0].isdigit():
                continue
            nbytes = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
            if key == "MemTotal":
                total = nbytes
            elif key == "MemAvailable":
                available = nbytes
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            total = None
    return {"memory_total_bytes": total, "memory_available_bytes": available}


def _blas() -> dict[str, Any]:
    """The BLAS and LAPACK NumPy was built with (``numpy.show_config``)."""
    out: dict[str, Any] = {"blas": None, "lapack": None}
    try:
        config = np.show_config(mode="dicts")  # NumPy >= 1.26
    except TypeError:
        config = None
    if not config:
        config = getattr(getattr(np, "__config__", None), "CONFIG", None)
    if isinstance(config, dict):
        deps = config.get("Build Dependencies", {})
        for name in ("blas", "lapack"):
            entry = deps.get(name)
            if isinstance(entry, dict):
                out[name] = {
                    k: entry.get(k)
                    for k in ("name", "version", "openblas configuration")
                    if entry.get(k) is not None
                }
    return out


def _threadpools() -> list[dict[str, Any]] | None:
    """The BLAS/OpenMP libraries loaded right now and their thread counts,
    from threadpoolctl when it is installed (None otherwise)."""
    try:
        from threadpoolctl import threadpool_info  # optional
    except ImportError:
        return None
    return [
        {k: pool.get(k) for k in ("user_api", "internal_api", "version",
                                  "num_threads", "threading_layer", "architecture")}
        for pool in threadpool_info()
    ]


def _tinytorch_versions() -> dict[str, str]:
    """Every installed ``tinytorch-*`` distribution and its version, plus any
    tinytorch subpackage imported from a source tree (not installed)."""
    versions = {}
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("tinytorch-"):
            versions[name] = dist.version
    for module_name, module in list(sys.modules.items()):
        parts = module_name.split(".")
        if len(parts) == 2 and parts[0] == "tinytorch" and hasattr(module, "__version__"):
            versions.setdefault(f"tinytorch-{parts[1]}", module.__version__)
    return dict(sorted(versions.items()))


@functools.lru_cache(maxsize=1)
def _collect() -> dict[str, Any]:
    info: dict[str, Any] = {}
    info.update(_cpu())
    info.update(_memory())
    info["os"] = platform.platform()
    info["python"] = platform.python_version()
    info["python_implementation"] = platform.python_implementation()
    info["numpy"] = np.__version__
    info.update(_blas())
    return info


def system_info() -> dict[str, Any]:
    """A description of this machine and software, as a JSON-ready dict.

    Keys: ``cpu_model``, ``cpu_count_logical`` (``os.cpu_count()``),
    ``cpu_count_physical`` (distinct cores in /proc/cpuinfo),
    ``cpu_count_usable`` (CPUs this process may run on), ``machine``,
    ``memory_total_bytes``, ``memory_available_bytes`` (at the time of the
    call), ``os``, ``python``, ``python_implementation``, ``numpy``,
    ``blas`` / ``lapack`` (name, version, configuration of the libraries
    NumPy was built with), ``threadpools`` (threadpoolctl's view, or None
    when it is not installed), ``load_average`` (1, 5, 15 minutes, at the
    time of the call: how busy the machine was), ``thread_env`` (the
    thread-count variables of :data:`THREAD_ENV_VARS` that are set),
    ``tinytorch`` (versions of the tinytorch packages imported).

    The static part is read once per process; the memory available, the
    thread pools, the load, the thread variables and the package versions
    are read on every call.
    Returns a fresh dict each time (callers may modify it).
    """
    info = copy.deepcopy(_collect())
    info["memory_available_bytes"] = _memory()["memory_available_bytes"]
    info["threadpools"] = _threadpools()
    try:
        # Other processes compete for the cores: a load above the core count
        # means the timings of this run are inflated.
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        info["load_average"] = None
    info["thread_env"] = {k: os.environ[k] for k in THREAD_ENV_VARS if k in os.environ}
    info["tinytorch"] = _tinytorch_versions()
    return info
