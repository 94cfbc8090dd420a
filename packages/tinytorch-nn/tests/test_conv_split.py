"""Conv2d's forward and backward give the same values when the kernel
threads split the batch (kernels.parts / split_work) as when they do not,
and its gradients pass gradcheck on the split path."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd as ag
from tinytorch import nn
from tinytorch.tensor import Tensor, kernels


@pytest.fixture
def split(monkeypatch):
    monkeypatch.setattr(kernels, "PARALLEL_MIN_SIZE", 1)
    threads = {"n": 2}
    previous_control = kernels.set_blas_thread_control(lambda: threads["n"],
                                                       lambda n: threads.update(n=n))
    previous = kernels.set_num_threads(2)
    yield
    kernels.set_num_threads(previous)
    kernels.set_blas_thread_control(*(previous_control or (None, None)))


def grads(conv, x_np, g_np):
    x = Tensor(x_np, requires_grad=True)
    conv.zero_grad()
    out = conv(x)
    out.backward(Tensor(g_np))
    return [out.data, x.grad.data, conv.weight.grad.data, conv.bias.grad.data]


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 0), (1, 2)])
def test_split_equals_plain(split, stride, padding, monkeypatch):
    rng = np.random.default_rng(0)
    conv = nn.Conv2d(3, 5, 3, stride=stride, padding=padding)
    x = rng.standard_normal((6, 3, 9, 9)).astype(np.float32)
    g = rng.standard_normal(conv(Tensor(x)).shape).astype(np.float32)
    split_result = grads(conv, x, g)
    monkeypatch.setattr(kernels, "PARALLEL_MIN_SIZE", 1 << 40)  # never split
    plain = grads(conv, x, g)
    for a, b in zip(split_result, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gradcheck_on_the_split_path(split):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((4, 2, 5, 5)), dtype="float64", requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), dtype="float64", requires_grad=True)
    b = Tensor(rng.standard_normal(3), dtype="float64", requires_grad=True)
    assert kernels.parts(4, 4 * 2 * 9 * 25) == [(0, 2), (2, 4)]
    assert ag.gradcheck(lambda x, w, b: nn.functional.conv2d(x, w, b, padding=1), (x, w, b))
