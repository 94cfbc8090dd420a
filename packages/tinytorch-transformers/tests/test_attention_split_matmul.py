"""The attention forward and backward give the same values when the kernel
threads split its stacks of products (kernels.matmul) as when they do not."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401  (enables autograd)
from tinytorch.tensor import Tensor, kernels
from tinytorch.transformers import create_causal_mask, scaled_dot_product_attention


def run(q, k, v, g):
    qt, kt, vt = (Tensor(a, requires_grad=True) for a in (q, k, v))
    out, _ = scaled_dot_product_attention(qt, kt, vt, create_causal_mask(q.shape[-2]))
    out.backward(Tensor(g))
    return [out.data] + [t.grad.data for t in (qt, kt, vt)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_and_plain_agree(monkeypatch, dtype):
    rng = np.random.default_rng(5)
    q, k, v, g = (rng.standard_normal((8, 2, 6, 4)).astype(dtype) for _ in range(4))
    plain = run(q, k, v, g)
    monkeypatch.setattr(kernels, "PARALLEL_MIN_SIZE", 1)
    threads = {"n": 2}
    previous_control = kernels.set_blas_thread_control(lambda: threads["n"],
                                                       lambda n: threads.update(n=n))
    previous = kernels.set_num_threads(2)
    try:
        split = run(q, k, v, g)
    finally:
        kernels.set_num_threads(previous)
        kernels.set_blas_thread_control(*(previous_control or (None, None)))
    for a, b in zip(plain, split):
        np.testing.assert_array_equal(a, b)
