"""The downstream project works on its pinned layers: its fits agree with
closed forms and analytic gradients, and bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest
from downstream_fit import (
    Momentum,
    fit_linear_regression,
    fit_logistic_regression,
    logistic_loss,
    predict_proba,
)

from tinytorch.tensor import Tensor


@pytest.mark.parametrize(
    ("samples", "features", "outputs", "seed"),
    [(50, 1, 1, 0), (200, 5, 1, 1), (120, 3, 2, 2)],
)
def test_linear_regression_matches_least_squares(samples, features, outputs, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, features))
    y = x @ rng.normal(size=(features, outputs)) + rng.normal(size=outputs)
    y += 0.1 * rng.normal(size=y.shape)
    fit = fit_linear_regression(x, y, lr=0.1, steps=600)

    design = np.hstack([x, np.ones((samples, 1))])
    exact, *_ = np.linalg.lstsq(design, y, rcond=None)
    np.testing.assert_allclose(fit.weight, exact[:-1], atol=1e-6)
    np.testing.assert_allclose(fit.bias, exact[-1], atol=1e-6)
    assert fit.losses[-1] < 0.1 * fit.losses[0]


def test_logistic_loss_gradient_is_the_analytic_one():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 4)), (rng.random((40, 1)) < 0.5).astype(np.float64)
    w = Tensor(rng.normal(size=(4, 1)), dtype=np.float64, requires_grad=True)
    logistic_loss(Tensor(x, dtype=np.float64) @ w, Tensor(y, dtype=np.float64)).backward()
    p = 1.0 / (1.0 + np.exp(-(x @ w.data)))
    np.testing.assert_allclose(np.asarray(w.grad), x.T @ (p - y) / len(x), rtol=1e-10)


def test_logistic_loss_does_not_overflow_on_large_logits():
    z = Tensor(np.array([[-1000.0], [1000.0]]), dtype=np.float64)
    loss = logistic_loss(z, Tensor(np.array([[0.0], [1.0]]), dtype=np.float64)).item()
    assert loss == pytest.approx(0.0, abs=1e-12)


def test_logistic_regression_separates_two_blobs():
    rng = np.random.default_rng(4)
    x = np.vstack([rng.normal(-2.0, 1.0, (100, 2)), rng.normal(2.0, 1.0, (100, 2))])
    y = np.repeat([0.0, 1.0], 100)
    fit = fit_logistic_regression(x, y)
    accuracy = ((predict_proba(fit, x)[:, 0] > 0.5) == y).mean()
    assert accuracy >= 0.97
    assert fit.losses[-1] < 0.2 < fit.losses[0]


def test_momentum_skips_a_parameter_without_gradient():
    used = Tensor(np.array([1.0]), dtype=np.float64, requires_grad=True)
    unused = Tensor(np.array([5.0]), dtype=np.float64, requires_grad=True)
    opt = Momentum([used, unused], lr=0.5, momentum=0.0)
    (used * used).sum().backward()
    opt.step()
    assert used.data.tolist() == [0.0] and unused.data.tolist() == [5.0]


x_ok, y_ok = np.zeros((3, 2)), np.zeros(3)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fit_linear_regression([[1.0]], [1.0]), TypeError, "NumPy arrays"),
        (lambda: fit_linear_regression(np.zeros(3), y_ok), ValueError, "samples, features"),
        (lambda: fit_linear_regression(x_ok, np.zeros(4)), ValueError, "3 samples"),
        (lambda: fit_linear_regression(x_ok + np.nan, y_ok), ValueError, "finite"),
        (lambda: fit_linear_regression(x_ok, y_ok, steps=0), ValueError, "steps"),
        (lambda: fit_linear_regression(x_ok, y_ok, lr=0.0), ValueError, "lr"),
        (lambda: fit_linear_regression(x_ok, y_ok, momentum=1.0), ValueError, "momentum"),
        (lambda: fit_logistic_regression(x_ok, y_ok + 2), ValueError, "labels 0 or 1"),
        (lambda: Momentum([], lr=0.1), ValueError, "at least one"),
        (lambda: Momentum([Tensor([1.0])], lr=0.1), TypeError, "requires_grad"),
    ],
)
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
