"""accel.threads registers the BLAS thread control that kernels.matmul uses,
and restores the previous one on exit."""

from __future__ import annotations

import numpy as np  # noqa: F401  (loads NumPy's BLAS, which threadpoolctl must see)
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
