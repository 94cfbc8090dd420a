"""system_info: what machine a result was measured on."""

import json
import os
import platform

import numpy as np

from tinytorch.perf import THREAD_ENV_VARS, __version__, system_info


def test_system_info_fields():
    info = system_info()
    for key in ("cpu_model", "cpu_count_logical", "cpu_count_physical", "cpu_count_usable",
                "memory_total_bytes", "memory_available_bytes", "os", "python", "numpy",
                "blas", "lapack", "threadpools", "load_average", "thread_env", "tinytorch"):
        assert key in info, key
    assert info["cpu_count_logical"] == os.cpu_count()
    assert info["python"] == platform.python_version()
    assert info["numpy"] == np.__version__
    assert info["memory_total_bytes"] is None or info["memory_total_bytes"] > 2**20
    assert info["tinytorch"]["tinytorch-perf"] == __version__  # whatever the release
    assert "tinytorch-tensor" in info["tinytorch"]
    json.dumps(info)  # JSON-ready as is


def test_thread_variables_are_read_on_every_call(monkeypatch):
    for var in THREAD_ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    assert system_info()["thread_env"] == {}
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert system_info()["thread_env"] == {"OMP_NUM_THREADS": "3", "OPENBLAS_NUM_THREADS": "1"}


def test_each_call_returns_a_fresh_dict():
    first = system_info()
    first["cpu_model"] = "changed"
    first["blas"] = None
    again = system_info()
    assert again["cpu_model"] != "changed"
    assert again["blas"] is not None or np.show_config(mode="dicts") is None
