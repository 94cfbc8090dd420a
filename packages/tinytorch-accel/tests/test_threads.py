"""threads() / set_num_threads(): BLAS/OpenMP (threadpoolctl), tinytorch's kernels, numexpr."""

from __future__ import annotations

import sys

import pytest

from tinytorch.accel import get_num_threads, set_num_threads, threads


def test_missing_threadpoolctl_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import now fails
    with pytest.raises(ImportError, match=r"pip install 'tinytorch-accel\[threads\]'"):
        with threads(1):
            pass
    with pytest.raises(ImportError, match="threadpoolctl"):
        set_num_threads(1)


@pytest.mark.parametrize("n,error", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                     (True, TypeError)])
def test_bad_counts(n, error):
    with pytest.raises(error, match="number of threads"):
        with threads(n):
            pass


def test_context_manager_limits_and_restores():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]:
        pytest.skip("threadpoolctl sees no BLAS library")
    before = get_num_threads()
    with threads(1) as n:
        assert n == 1 and get_num_threads() == 1
    assert get_num_threads() == before
    previous = set_num_threads(1)
    try:
        assert previous == before and get_num_threads() == 1
    finally:
        set_num_threads(before)
    assert get_num_threads() == before


def test_kernel_threads_follow_and_are_restored():
    pytest.importorskip("threadpoolctl")
    from tinytorch.tensor import kernels

    before = kernels.get_num_threads()
    with threads(2):
        assert kernels.get_num_threads() == 2
        with threads(1):
            assert kernels.get_num_threads() == 1
        assert kernels.get_num_threads() == 2
    assert kernels.get_num_threads() == before
    with pytest.raises(RuntimeError), threads(2):
        raise RuntimeError("restored on error too")
    assert kernels.get_num_threads() == before


def test_numexpr_pool_follows_when_loaded():
    pytest.importorskip("threadpoolctl")
    ne = pytest.importorskip("numexpr")
    before = ne.get_num_threads() if hasattr(ne, "get_num_threads") else None
    with threads(1):
        assert ne.set_num_threads(1) == 1  # returns the count set on entry
    if before is not None:
        assert ne.get_num_threads() == before


def test_perf_system_info_reports_the_limited_pool():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]:
        pytest.skip("threadpoolctl sees no BLAS library")
    from tinytorch.perf import system_info

    with threads(1):
        pools = system_info()["threadpools"]
    blas = [p for p in pools if p.get("user_api") == "blas"]
    assert blas and all(p["num_threads"] == 1 for p in blas)
