"""Backward rules built on tinytorch.tensor.kernels, on both kernel backends.

GELU's rule is gradchecked with each backend, and the engine's in-place
summing of a gradient that arrives from several uses is checked by value.
"""

import numpy as np
import pytest

from tinytorch.autograd import gradcheck
from tinytorch.tensor import Tensor, gelu
from tinytorch.tensor.testing import kernel_backend_fixture

backend = kernel_backend_fixture()  # each test using it runs on numpy and on numexpr


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_gelu_tanh_gradcheck(backend, shape):
    x = Tensor(np.random.default_rng(0).standard_normal(shape) * 2, dtype="float64",
               requires_grad=True)
    assert gradcheck(lambda t: gelu(t, "tanh"), [x])


@pytest.mark.parametrize("uses", [2, 3, 5])
def test_a_tensor_used_many_times_sums_its_gradients(uses):
    # x is used `uses` times; the engine sums the contributions (in place
    # from the second sum on): d/dx sum_k (k+1) * x = sum_k (k+1).
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    h = x * 1.0  # a non-leaf, so the sums happen in the engine's table
    total = None
    for k in range(uses):
        term = (h * float(k + 1)).sum()
        total = term if total is None else total + term
    total.backward()
    np.testing.assert_allclose(x.grad.data, np.full((2, 3), uses * (uses + 1) / 2))


def test_in_place_summing_keeps_the_first_contribution_intact():
    # Three slices of one tensor: the getitem rule returns fresh arrays, the
    # sum is accumulated in an array the engine owns, the leaf gets the total.
    x = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    h = x * 2.0
    (h[0].sum() * 1.0 + h[1].sum() * 2.0 + h[2].sum() * 3.0).backward()
    np.testing.assert_allclose(x.grad.data, [[2, 2], [4, 4], [6, 6]])
