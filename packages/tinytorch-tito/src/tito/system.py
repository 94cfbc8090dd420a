"""What ``tito system info`` and ``tito system doctor`` report.

Pure functions that return plain data (lists of dicts, :class:`Finding`),
so that the tests can check them without parsing a table; :mod:`tito.cli`
renders them with rich.

* :func:`installed_packages`: every installed ``tinytorch-*`` distribution,
  its version, and whether each requirement it declares is satisfied.
* :func:`findings`: what will make a benchmark unreliable or an import fail,
  each with the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tinytorch.perf import system_info

PREFIX = "tinytorch-"

# A 1-minute load average above this many times the usable cores means other
# processes take a real share of the CPU: timings are inflated and noisy.
LOAD_WARN_RATIO = 0.75


@dataclass(frozen=True)
class Finding:
    """One problem found: ``level`` is "error" (something is broken) or
    "warning" (results will be unreliable); ``fix`` says what to do."""

    level: str
    what: str
    fix: str


def _requirement_status(req: Requirement) -> tuple[str, str | None]:
    """("ok" | "missing" | "wrong version", installed version or None)."""
    try:
        installed = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        return "missing", None
    if req.specifier and not req.specifier.contains(installed, prereleases=True):
        return "wrong version", installed
    return "ok", installed


def installed_packages() -> list[dict]:
    """Every installed distribution whose name starts with ``tinytorch-``.

    Returns a list sorted by name of dicts: ``name``, ``version``,
    ``requirements`` (a list of ``{"requirement", "status", "installed"}``,
    status "ok", "missing" or "wrong version"; requirements of extras and
    those whose environment marker does not apply here are left out) and
    ``ok`` (every listed requirement satisfied). Reads installed metadata only:
    a package put on ``sys.path`` by hand (PYTHONPATH) has none and is not listed.
    """
    env = default_environment()
    seen: dict[str, dict] = {}
    for dist in metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"] or "")
        if not name.startswith(PREFIX) or name in seen:
            continue
        reqs = []
        for raw in dist.requires or []:
            try:
                req = Requirement(raw)
            except InvalidRequirement:
                reqs.append({"requirement": raw, "status": "unreadable", "installed": None})
                continue
            if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
                continue  # an optional extra, or another platform's requirement
            status, installed = _requirement_status(req)
            reqs.append({"requirement": str(req), "status": status, "installed": installed})
        seen[name] = {"name": name, "version": dist.version, "requirements": reqs,
                      "ok": all(r["status"] == "ok" for r in reqs)}
    return [seen[k] for k in sorted(seen)]


def thread_count(info: dict) -> int | None:
    """The largest thread count of the native pools threadpoolctl sees (None
    without threadpoolctl)."""
    pools = info.get("threadpools")
    if not pools:
        return None
    return max(int(p.get("num_threads") or 0) for p in pools)


def findings(info: dict, packages: list[dict]) -> list[Finding]:
    """Problems in ``info`` (:func:`tinytorch.perf.system_info`) and
    ``packages`` (:func:`installed_packages`), errors first, each with its fix."""
    found: list[Finding] = []
    for pkg in packages:
        for req in pkg["requirements"]:
            if req["status"] != "ok":
                have = f" (installed {req['installed']})" if req["installed"] else ""
                found.append(Finding(
                    "error", f"{pkg['name']} needs {req['requirement']}: {req['status']}{have}",
                    f"pip install '{req['requirement']}'"))
    if not packages:
        found.append(Finding(
            "warning", "no tinytorch-* distribution is installed (running from source?)",
            "pip install ./packages/tinytorch-tito (it pulls in the whole stack)"))
    cores = info.get("cpu_count_usable") or info.get("cpu_count_logical") or 1
    load = info.get("load_average")
    if load and load[0] > LOAD_WARN_RATIO * cores:
        found.append(Finding(
            "warning", f"load average {load[0]:.2f} on {cores} usable core(s): other processes "
                       "compete for the CPU, timings will be slow and noisy",
            "stop other heavy jobs, or compare models side by side in one run (the Olympics do)"))
    threads = thread_count(info)
    if threads is not None and threads > cores:
        found.append(Finding(
            "warning", f"BLAS uses {threads} threads on {cores} usable core(s): oversubscribed",
            f"export OMP_NUM_THREADS={cores} OPENBLAS_NUM_THREADS={cores}"))
    if threads is None:
        found.append(Finding(
            "warning", "threadpoolctl is not installed: BLAS threads cannot be read or set",
            "pip install threadpoolctl"))
    if not info.get("thread_env") and (threads or 1) > 1 and load and load[0] > cores:
        found.append(Finding(
            "warning", "no thread-count variable is set on a busy machine: every process "
                       "starts one BLAS thread per core",
            "export OMP_NUM_THREADS=1 for parallel jobs (each job then uses one core)"))
    return sorted(found, key=lambda f: f.level != "error")


def collect() -> tuple[dict, list[dict], list[Finding]]:
    """``(system_info(), installed_packages(), findings(...))`` in one call."""
    info = system_info()
    packages = installed_packages()
    return info, packages, findings(info, packages)


def cpu_summary(info: dict) -> str:
    """One line: the CPU model and how many cores this process may use."""
    return (f"{info.get('cpu_model', '?')}, {info.get('cpu_count_usable', os.cpu_count())} "
            f"usable of {info.get('cpu_count_logical', os.cpu_count())} logical core(s)")
