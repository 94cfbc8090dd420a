"""Stochastic gradient descent, with momentum, Nesterov momentum and L2
weight decay, exactly as ``torch.optim.SGD``.

For each parameter ``p`` with gradient ``g`` (``mu`` momentum, ``tau``
dampening, ``lambda`` weight decay, ``b`` the momentum buffer)::

    g <- g + lambda * p                      (weight decay, if lambda != 0)
    b <- g                                   (first step)
    b <- mu * b + (1 - tau) * g              (later steps)
    d <- g + mu * b   if nesterov else b     (if mu != 0; else d = g)
    p <- p - lr * d
"""

from __future__ import annotations

import numpy as np

from .optimizer import _REQUIRED, Optimizer, check_hyperparameter

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum and weight decay.

    Args:
        params: parameters or parameter-group dicts (see :class:`Optimizer`).
        lr: learning rate (>= 0), required.
        momentum: momentum factor ``mu`` (>= 0; 0 = plain SGD).
        dampening: dampening ``tau`` of the momentum (>= 0).
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and
            ``dampening == 0``).
        weight_decay: L2 penalty ``lambda`` added to the gradient (>= 0).

    State per parameter: ``momentum_buffer`` (same shape and dtype as the
    parameter), only when ``momentum != 0``. Cost per step: a handful of
    vectorised NumPy passes over each parameter, O(P) time, O(P) extra memory
    for the buffers.

    Raises:
        ValueError: a negative lr/momentum/dampening/weight_decay, or
            ``nesterov`` without momentum or with dampening.
    """

    _state_keys = frozenset({"momentum_buffer"})

    def __init__(self, params, lr=_REQUIRED, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict) -> None:
        super()._check_group(group)
        for name in ("momentum", "dampening", "weight_decay"):
            group[name] = check_hyperparameter(name, group[name])
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening "
                             f"(got momentum={group['momentum']}, "
                             f"dampening={group['dampening']})")

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, mu = group["lr"], group["momentum"]
        wd = group["weight_decay"]
        d = grad + wd * param if wd != 0 else grad  # a new array: grad stays untouched
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, dtype=param.dtype, copy=True)
            else:
                buf *= mu
                buf += (1.0 - group["dampening"]) * d
            d = d + mu * buf if group["nesterov"] else buf
        param -= lr * d
