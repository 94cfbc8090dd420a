"""accel.threads registers the BLAS thread control that kernels.matmul uses,
and restores the previous one on exit."""

from __future__ import annotations

import os

import numpy as np  # loads NumPy's BLAS, which threadpoolctl must see
import pytest

from tinytorch.tensor import kernels

pytest.importorskip("threadpoolctl")

from tinytorch.accel import threads  # noqa: E402


def test_threads_registers_and_restores_the_blas_control():
    before = kernels.set_blas_thread_control(None, None)
    try:
        with threads(2):
            control = kernels.set_blas_thread_control(None, None)  # read it...
            kernels.set_blas_thread_control(*control)  # ...and put it back
            get, set_ = control
            assert get() == 2
            set_(1)
            assert get() == 1
            set_(2)
        assert kernels.set_blas_thread_control(None, None) is None  # restored: none before
    finally:
        kernels.set_blas_thread_control(*(before or (None, None)))


def openblas_timeouts():
    """The spin exponent each loaded OpenBLAS has read (None where unknown)."""
    import threadpoolctl

    libs = threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers
    return [getattr(lib.dynlib, "openblas_thread_timeout", lambda: None)() for lib in libs]


def test_threads_shortens_openblas_spin_and_restores_it(monkeypatch):
    import importlib

    threads_module = importlib.import_module("tinytorch.accel.threads")

    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    with threads(2):
        assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == str(
            threads_module.OPENBLAS_SPIN_EXPONENT)
        inside = openblas_timeouts()
        np.ones((64, 64)) @ np.ones((64, 64))  # the workers restart and still compute
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ
    if inside and inside[0] is not None:  # an OpenBLAS that reports what it read
        assert inside[0] == threads_module.OPENBLAS_SPIN_EXPONENT
        assert openblas_timeouts()[0] == 0  # back to "not set"


def test_a_users_own_spin_setting_is_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "24")
    with threads(2):
        assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "24"
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "24"
