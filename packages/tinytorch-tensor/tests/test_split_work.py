"""kernels.parts and kernels.split_work: how a batch is cut over the kernel
threads, and that every part runs once, in order, with one BLAS thread."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.tensor import kernels


@pytest.fixture
def control():
    state = {"n": 2, "seen": []}
    previous = kernels.set_blas_thread_control(lambda: state["n"],
                                               lambda n: state.update(n=n))
    yield state
    kernels.set_blas_thread_control(*(previous or (None, None)))


@pytest.fixture
def two_threads():
    previous = kernels.set_num_threads(2)
    yield
    kernels.set_num_threads(previous)


@pytest.mark.parametrize("items, work, expected", [
    (8, 1 << 20, [(0, 4), (4, 8)]),
    (5, 1 << 20, [(0, 2), (2, 5)]),
    (3, 1 << 20, [(0, 3)]),  # fewer than two items per thread
    (8, 10, [(0, 8)]),  # too little work to pay for a hand-off
])
def test_parts(control, two_threads, items, work, expected):
    assert kernels.parts(items, work) == expected


def test_parts_without_threads_or_control(control):
    previous = kernels.set_num_threads(1)
    try:
        assert kernels.parts(8, 1 << 20) == [(0, 8)]  # one kernel thread
        kernels.set_num_threads(2)
        kernels.set_blas_thread_control(None, None)
        assert kernels.parts(8, 1 << 20) == [(0, 8)]  # no BLAS control
    finally:
        kernels.set_num_threads(previous)


def test_split_work_runs_each_part_once_in_order_with_one_blas_thread(control, two_threads):
    def fn(lo, hi):
        control["seen"].append(control["n"])
        return list(range(lo, hi))

    results = kernels.split_work(fn, [(0, 3), (3, 5), (5, 9)])
    assert results == [[0, 1, 2], [3, 4], [5, 6, 7, 8]]
    assert control["seen"] == [1, 1, 1] and control["n"] == 2  # restored after


def test_split_work_raises_a_parts_error_and_restores_blas(control, two_threads):
    def fn(lo, hi):
        if lo:
            raise ValueError("bad part")
        return lo

    with pytest.raises(ValueError, match="bad part"):
        kernels.split_work(fn, [(0, 1), (1, 2)])
    assert control["n"] == 2


@pytest.mark.parametrize("call, exc, words", [
    (lambda: kernels.parts(2.5, 10), TypeError, "items must be an int"),
    (lambda: kernels.parts(4, -1), ValueError, "work must be >= 0"),
    (lambda: kernels.split_work(3, [(0, 1)]), TypeError, "fn must be callable"),
    (lambda: kernels.split_work(lambda lo, hi: lo, []), ValueError, "ranges is empty"),
    (lambda: kernels.set_blas_thread_control(lambda: 1, None), TypeError, "both"),
    (lambda: kernels.set_blas_thread_control(1, 2), TypeError, "callables"),
    (lambda: kernels.attention_softmax_(np.ones((2, 2), np.int64)), TypeError,
     "floating-point"),
    (lambda: kernels.attention_softmax_(np.ones((2, 2)), np.ones((2, 2))), TypeError,
     "bool ndarray"),
    (lambda: kernels.attention_softmax_(np.ones((2, 2)), np.ones((3, 2), bool)), ValueError,
     "does not broadcast"),
    (lambda: kernels.scores_may_overflow(np.ones((2, 3)), np.ones((2, 4))), ValueError,
     "last dim"),
])
def test_bad_arguments_are_clear_errors(call, exc, words):
    with pytest.raises(exc, match=words):
        call()
