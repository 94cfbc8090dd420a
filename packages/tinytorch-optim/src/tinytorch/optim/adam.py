"""Adam and AdamW, exactly as ``torch.optim.Adam`` / ``torch.optim.AdamW``.

For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

    Adam:   g <- g + lambda * p                  (L2 penalty inside the gradient)
    AdamW:  p <- p * (1 - lr * lambda)           (decoupled weight decay)

    m <- beta1 * m + (1 - beta1) * g             (first moment: a running mean)
    v <- beta2 * v + (1 - beta2) * g * g         (second moment: running mean of g^2)
    m_hat = m / (1 - beta1^t)                    (bias corrections: m and v start at 0)
    v_hat = v / (1 - beta2^t)
    p <- p - lr * m_hat / (sqrt(v_hat) + eps)

The two differ only in where weight decay goes. In Adam the penalty's
gradient ``lambda * p`` is divided by ``sqrt(v_hat)`` like the rest of the
gradient, so weights with large gradients are barely decayed; AdamW shrinks
every weight by the same factor, independent of its gradient history
(Loshchilov & Hutter, "Decoupled Weight Decay Regularization").
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.tensor import kernels

from .optimizer import Optimizer, check_hyperparameter

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with optional L2 weight decay added to the gradient.

    Args:
        params: parameters or parameter-group dicts (see :class:`Optimizer`).
        lr: learning rate (>= 0).
        betas: ``(beta1, beta2)``, decay rates of the two moment estimates,
            each in [0, 1).
        eps: added to ``sqrt(v_hat)`` for numerical stability (>= 0).
        weight_decay: L2 penalty added to the gradient (>= 0).

    State per parameter: ``step`` (int, number of updates made),
    ``exp_avg`` and ``exp_avg_sq`` (same shape and dtype as the parameter).
    Cost per step: O(P) vectorised work in one fused kernel per parameter
    (:mod:`tinytorch.tensor.kernels`), 2P extra memory for the moments.

    Raises:
        ValueError: negative lr/eps/weight_decay, betas outside [0, 1).
        TypeError: betas not a pair of real numbers.
    """

    _state_keys = frozenset({"step", "exp_avg", "exp_avg_sq"})
    _decoupled = False  # AdamW sets True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2 \
                or not all(isinstance(b, numbers.Real) for b in betas):
            raise TypeError(f"betas must be a pair of real numbers (beta1, beta2), got {betas!r}")
        group["betas"] = (
            check_hyperparameter("beta1 (betas[0])", betas[0], high=1.0),
            check_hyperparameter("beta2 (betas[1])", betas[1], high=1.0),
        )
        group["eps"] = check_hyperparameter("eps", group["eps"])
        group["weight_decay"] = check_hyperparameter("weight_decay", group["weight_decay"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        state["step"] = t = state["step"] + 1
        m, v = state["exp_avg"], state["exp_avg_sq"]

        if wd != 0:
            if self._decoupled:
                param *= 1.0 - lr * wd
            else:
                grad = grad + wd * param  # a new array: p.grad stays untouched

        # One fused kernel, in place on param, m and v (no temporaries):
        # m += (1 - beta1) (g - m) (torch's lerp form of beta1 m + (1 - beta1) g),
        # v = beta2 v + (1 - beta2) g^2, param -= lr_t m / (sqrt(v) / sqrt(bc2) + eps).
        kernels.adam_step_(param, grad, m, v, self._scratch(param), beta1=beta1, beta2=beta2,
                           step_size=lr / (1.0 - beta1**t),
                           bias2_sqrt=math.sqrt(1.0 - beta2**t), eps=eps)

    def _scratch(self, param: np.ndarray) -> np.ndarray:
        """A work buffer of ``param``'s shape and dtype, shared by every
        parameter of that shape (updates run one after the other)."""
        buffers = self.__dict__.setdefault("_scratch_buffers", {})
        key = (param.shape, param.dtype.str)
        buf = buffers.get(key)
        if buf is None:
            buf = buffers[key] = np.empty_like(param)
        return buf


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p <- p * (1 - lr * weight_decay)``
    before the Adam step, instead of an L2 term in the gradient.

    Same arguments and state as :class:`Adam`; ``weight_decay`` defaults to
    0.01 as in ``torch.optim.AdamW``.
    """

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
