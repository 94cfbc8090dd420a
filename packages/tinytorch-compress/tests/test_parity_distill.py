"""Hinton's distillation loss equals the same formula in PyTorch, value and gradient."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

from tinytorch.compress import distillation_loss  # noqa: E402
from tinytorch.tensor import Tensor  # noqa: E402


def torch_distillation(s, t, y, T, alpha):
    soft = TF.kl_div(TF.log_softmax(s / T, dim=-1), TF.softmax(t / T, dim=-1),
                     reduction="batchmean") * (T * T)
    return alpha * soft + (1 - alpha) * TF.cross_entropy(s, y)


@pytest.mark.parametrize("T, alpha, shape", [
    (1.0, 0.5, (8, 10)), (4.0, 0.9, (16, 10)), (2.0, 0.0, (5, 3)), (8.0, 1.0, (7, 26)),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_value_and_gradient_equal_pytorch(T, alpha, shape, dtype):
    rng = np.random.default_rng(int(T * 10))
    s = (rng.standard_normal(shape) * 2).astype(dtype)
    t = (rng.standard_normal(shape) * 3).astype(dtype)
    y = rng.integers(0, shape[1], shape[0])
    ours = Tensor(s, dtype=dtype, requires_grad=True)
    loss = distillation_loss(ours, t, y, T, alpha)
    loss.backward()
    ts = torch.tensor(s, requires_grad=True)
    ref = torch_distillation(ts, torch.tensor(t), torch.tensor(y), T, alpha)
    ref.backward()
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(float(loss.data), ref.item(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ours.grad.data, ts.grad.numpy(), rtol=tol * 10, atol=tol)
