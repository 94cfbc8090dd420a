"""tinytorch.tensor.memory: glibc's allocator keeps freed arrays for reuse."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from tinytorch.tensor import memory

ON_GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def run_import(env_value):
    """Import tinytorch.tensor in a fresh interpreter with TINYTORCH_MALLOC set
    (or unset); return the completed process."""
    env = {k: v for k, v in os.environ.items() if k != "TINYTORCH_MALLOC"}
    if env_value is not None:
        env["TINYTORCH_MALLOC"] = env_value
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    code = "from tinytorch.tensor import memory; print(memory.allocator_settings()['tuned'])"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("env_value, tuned", [
    (None, ON_GLIBC),
    ("tuned", ON_GLIBC),
    ("system", False),
    (" System ", False),
])
def test_import_applies_the_setting_the_environment_asks_for(env_value, tuned):
    proc = run_import(env_value)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tuned)


def test_a_bad_environment_value_is_a_clear_error():
    proc = run_import("jemalloc")
    assert proc.returncode != 0
    assert "TINYTORCH_MALLOC must be 'tuned' or 'system'" in proc.stderr


def test_keep_freed_memory_reports_what_it_did():
    applied = memory.keep_freed_memory()
    assert applied is ON_GLIBC
    settings = memory.allocator_settings()
    assert settings["tuned"] is ON_GLIBC
    assert settings["mmap_threshold"] == 32 * 1024 * 1024
    assert settings["trim_threshold"] >= settings["mmap_threshold"]


@pytest.mark.skipif(not ON_GLIBC, reason="glibc only")
def test_glibc_accepts_the_thresholds():
    mallopt = memory._glibc_mallopt()
    assert mallopt is not None
    # mallopt returns 1 when it accepts a value, 0 when it refuses one.
    assert mallopt(memory._M_MMAP_THRESHOLD, memory.MMAP_THRESHOLD) == 1
    assert mallopt(memory._M_TRIM_THRESHOLD, memory.TRIM_THRESHOLD) == 1
