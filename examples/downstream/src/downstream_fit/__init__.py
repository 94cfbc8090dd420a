"""downstream_fit: linear models fitted with TinyTorch's two lowest layers.

A downstream project: it depends on ``tinytorch-tensor`` (the ``Tensor`` and
its ops) and ``tinytorch-autograd`` (the gradients) at exact versions, and on
nothing else of the stack. It brings its own optimizer (:class:`Momentum`,
heavy-ball gradient descent) and its own training loop.

>>> import numpy as np
>>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
>>> fit = fit_linear_regression(x, 2.0 * x[:, 0] + 1.0, steps=300)
>>> np.round(fit.weight[:, 0], 3).tolist(), round(float(fit.bias[0]), 3)
([2.0], 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import tinytorch.autograd  # noqa: F401  (importing it turns gradient recording on)
from tinytorch.tensor import Tensor

__version__ = "1.0.0"
__all__ = ["Momentum", "FitResult", "fit_linear_regression", "fit_logistic_regression",
           "logistic_loss", "predict_proba"]


class Momentum:
    """Gradient descent with heavy-ball momentum, in place on each tensor's array:
    ``v = mu * v + grad``, ``p -= lr * v``. O(number of parameters) per step.

    Raises:
        ValueError: ``lr`` not positive, ``momentum`` outside [0, 1), or no tensors.
        TypeError: a parameter that is not a Tensor with ``requires_grad``.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("Momentum needs at least one tensor to optimize")
        for p in self.params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"Momentum optimizes Tensors with requires_grad=True, got {p!r}")
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.lr, self.momentum = float(lr), float(momentum)
        self.velocity = [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """One update; a parameter without a gradient (unused in the loss) is skipped."""
        for p, v in zip(self.params, self.velocity):
            if p.grad is None:
                continue
            v *= self.momentum
            v += np.asarray(p.grad, dtype=v.dtype)
            p.data -= self.lr * v


@dataclass
class FitResult:
    """A fitted linear model: ``x @ weight + bias``.

    ``weight`` is ``(features, outputs)``, ``bias`` ``(outputs,)``, float64;
    ``losses`` holds the training loss before each step."""

    weight: np.ndarray
    bias: np.ndarray
    losses: list[float] = field(default_factory=list)


def _check_xy(x, y, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as float64 ``(n, d)`` and ``y`` as float64 ``(n, k)``."""
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"x and y must be NumPy arrays, got {type(x).__name__} and "
                        f"{type(y).__name__}")
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x must be (samples, features) with samples >= 1, got shape {x.shape}")
    y2 = y.reshape(-1, 1) if y.ndim == 1 else y
    if y2.ndim != 2 or y2.shape[0] != x.shape[0]:
        raise ValueError(f"y must be (samples,) or (samples, outputs) with {x.shape[0]} "
                         f"samples, got shape {y.shape}")
    x64, y64 = x.astype(np.float64), y2.astype(np.float64)
    if not (np.isfinite(x64).all() and np.isfinite(y64).all()):
        raise ValueError("x and y must be finite (found NaN or inf)")
    if binary and not np.isin(y64, (0.0, 1.0)).all():
        raise ValueError("logistic regression needs labels 0 or 1")
    return x64, y64


def _fit(x, y, loss_fn, lr: float, steps: int, momentum: float) -> FitResult:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    xt, yt = Tensor(x, dtype=np.float64), Tensor(y, dtype=np.float64)
    w = Tensor(np.zeros((x.shape[1], y.shape[1])), dtype=np.float64, requires_grad=True)
    b = Tensor(np.zeros(y.shape[1]), dtype=np.float64, requires_grad=True)
    opt = Momentum([w, b], lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(xt @ w + b, yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return FitResult(w.data.copy(), b.data.copy(), losses)


def _mse(z: Tensor, y: Tensor) -> Tensor:
    return ((z - y) ** 2).mean()


def logistic_loss(z: Tensor, y: Tensor) -> Tensor:
    """Mean binary cross-entropy of logits ``z`` against labels ``y``, written
    ``relu(z) - y*z + log(1 + exp(-|z|))`` so that no exp overflows."""
    return (z.relu() - y * z + (1 + (-abs(z)).exp()).log()).mean()


def fit_linear_regression(x, y, *, lr: float = 0.1, steps: int = 500,
                          momentum: float = 0.9) -> FitResult:
    """Least squares by gradient descent on the mean squared error.

    Args: ``x`` ``(n, d)``, ``y`` ``(n,)`` or ``(n, k)`` (any real dtype; fitted
    in float64). Cost O(steps * n * d * k). Raises TypeError (not arrays) or
    ValueError (shapes, non-finite values, ``lr``/``steps``/``momentum``)."""
    x64, y64 = _check_xy(x, y, binary=False)
    return _fit(x64, y64, _mse, lr, steps, momentum)


def fit_logistic_regression(x, y, *, lr: float = 0.5, steps: int = 300,
                            momentum: float = 0.9) -> FitResult:
    """Binary logistic regression (labels 0/1) by gradient descent on
    :func:`logistic_loss`. Shapes, cost and errors as :func:`fit_linear_regression`."""
    x64, y64 = _check_xy(x, y, binary=True)
    return _fit(x64, y64, logistic_loss, lr, steps, momentum)


def predict_proba(fit: FitResult, x: np.ndarray) -> np.ndarray:
    """``sigmoid(x @ weight + bias)``, ``(n, k)`` float64."""
    z = np.asarray(x, dtype=np.float64) @ fit.weight + fit.bias
    return 1.0 / (1.0 + np.exp(-z))
