"""Adam / AdamW run one fused kernel per parameter; both kernel backends
must give the update of the plain formulas (float64 to 1e-12, float32 to
rounding), with and without weight decay."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch.optim import Adam, AdamW
from tinytorch.tensor import Tensor
from tinytorch.tensor.testing import kernel_backend_fixture

backend = kernel_backend_fixture()  # each test using it runs on numpy and on numexpr


def reference(p, grads, lr, betas, eps, wd, decoupled):
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if wd:
            if decoupled:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        mhat, vhat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
    return p


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("wd", [0.0, 0.1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_updates_match_the_plain_formulas(backend, cls, wd, dtype):
    rng = np.random.default_rng(0)
    start = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    # Two parameters of the same shape share the optimizer's scratch buffer.
    params = [Tensor(start.copy(), dtype=dtype.__name__, requires_grad=True) for _ in range(2)]
    opt = cls(params, lr=0.05, betas=(0.9, 0.99), eps=1e-8, weight_decay=wd)
    for g in grads:
        for k, p in enumerate(params):
            p.grad = Tensor(g * (k + 1), dtype=dtype.__name__)
        opt.step()
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for k, p in enumerate(params):
        want = reference(start, [g * (k + 1) for g in grads], 0.05, (0.9, 0.99), 1e-8, wd,
                         cls is AdamW)
        assert p.data.dtype == dtype
        np.testing.assert_allclose(p.data, want, **tol)
    assert set(opt.state_dict()["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert math.isclose(opt.state[params[0]]["step"], 5)
