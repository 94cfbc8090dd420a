"""kernels.matmul: a stack of small products split over the kernel threads,
one BLAS thread each; plain np.matmul otherwise. Same values either way."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.tensor import kernels


class FakeBlas:
    """A BLAS thread control that records what matmul asks of it."""

    def __init__(self, threads=2):
        self.threads, self.calls = threads, []

    def get(self):
        return self.threads

    def set(self, n):
        self.calls.append(n)
        self.threads = n


@pytest.fixture
def split_setup(monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_SIZE", 1)
    blas = FakeBlas()
    previous_control = kernels.set_blas_thread_control(blas.get, blas.set)
    previous_threads = kernels.set_num_threads(2)
    yield blas
    kernels.set_num_threads(previous_threads)
    kernels.set_blas_thread_control(*(previous_control or (None, None)))


SHAPES = [  # (a, b): stacks with equal first axes, broadcasting in the second
    ((8, 5, 3), (8, 3, 4)),
    ((6, 2, 5, 3), (6, 2, 3, 7)),
    ((4, 1, 5, 3), (4, 3, 3, 2)),
]


@pytest.mark.parametrize("sa, sb", SHAPES)
def test_split_equals_numpy_and_restores_blas(split_setup, sa, sb):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    out = kernels.matmul(a, b)
    np.testing.assert_array_equal(out, np.matmul(a, b))
    assert split_setup.calls == [1, 2]  # one BLAS thread while split, then restored
    assert split_setup.threads == 2


def test_out_is_written_and_returned(split_setup):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 2, 5))
    out = np.empty((4, 3, 5))
    assert kernels.matmul(a, b, out=out) is out
    np.testing.assert_array_equal(out, np.matmul(a, b))


@pytest.mark.parametrize("sa, sb, why", [
    ((2, 5, 3), (2, 3, 4), "fewer than two matrices per thread"),
    ((5, 3), (3, 4), "not a stack"),
    ((8, 5, 3), (1, 3, 4), "first axes differ (broadcast)"),
    ((4, 300, 100), (4, 100, 100), "products too large to be worth splitting"),
])
def test_other_shapes_are_plain_numpy(split_setup, sa, sb, why):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    np.testing.assert_array_equal(kernels.matmul(a, b), np.matmul(a, b))
    assert split_setup.calls == [], why


def test_without_a_blas_control_or_threads_it_is_plain_numpy(monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_SIZE", 1)
    previous = kernels.set_blas_thread_control(None, None)
    try:
        a, b = np.ones((8, 2, 2)), np.ones((8, 2, 2))
        np.testing.assert_array_equal(kernels.matmul(a, b), np.matmul(a, b))
    finally:
        kernels.set_blas_thread_control(*(previous or (None, None)))


def test_blas_count_is_restored_when_a_part_raises(split_setup):
    a = np.ones((8, 2, 3))
    b = np.ones((8, 4, 5))  # inner dims disagree: matmul raises inside a part
    with pytest.raises(ValueError):
        kernels.matmul(a, b)
    assert split_setup.threads == 2
