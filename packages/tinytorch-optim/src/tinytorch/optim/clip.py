"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``.

Clipping by norm treats all gradients as one long vector ``G`` and rescales
it when it is too long, keeping its direction::

    total = ||G||_p = (sum_i ||g_i||_p^p)^(1/p)      (max_i |g_i| for p = inf)
    g_i <- g_i * min(1, max_norm / (total + 1e-6))

Clipping by value clamps every element to ``[-clip_value, clip_value]``,
which changes the direction of ``G``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinytorch.tensor import Tensor

from .optimizer import check_hyperparameter

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list[np.ndarray]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters must be Tensors, item {i} is a {type(p).__name__}")
        if p.grad is not None:
            grads.append(p.grad.data)
    return grads


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False) -> float:
    """Rescale the gradients in place so that their total norm is at most ``max_norm``.

    Args:
        parameters: a Tensor or an iterable of Tensors; those whose ``grad``
            is None are ignored.
        max_norm: the largest allowed total norm (>= 0).
        norm_type: ``p`` of the p-norm (> 0, or ``float('inf')``).
        error_if_nonfinite: raise if the total norm is NaN or inf (otherwise
            the gradients are multiplied by NaN/0, as in torch).

    Returns:
        The total norm of the gradients *before* clipping (a Python float,
        computed in float64), 0.0 if no parameter has a gradient.

    The scale ``min(1, max_norm / (total + 1e-6))`` is applied to every
    gradient, as torch does. Cost: one vectorised pass over every gradient to
    measure, one to scale.

    Raises:
        TypeError: a non-Tensor in ``parameters``.
        ValueError: ``max_norm < 0``, ``norm_type <= 0``.
        RuntimeError: a non-finite total norm with ``error_if_nonfinite``.
    """
    max_norm = check_hyperparameter("max_norm", max_norm)
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real):
        raise TypeError(f"norm_type must be a real number, got {type(norm_type).__name__}")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 or inf, got {norm_type}")
    grads = _grads(parameters)
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        # vdot is one BLAS call; float64 so that float32 squares do not overflow.
        total = math.sqrt(sum(float(np.vdot(g64, g64))
                              for g64 in (g.astype(np.float64, copy=False).ravel()
                                          for g in grads)))
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64, copy=False)) ** norm_type))
                    for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}, so they "
            "cannot be clipped; set error_if_nonfinite=False to scale them anyway"
        )
    coef = min(max_norm / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    with np.errstate(invalid="ignore"):  # inf * 0 -> NaN is the documented outcome
        for g in grads:
            g *= coef
    return total


clip_grad_norm_ = clip_grad_norm  # torch's in-place spelling


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place.

    Args:
        parameters: a Tensor or an iterable of Tensors (None grads ignored).
        clip_value: the bound (>= 0).

    Raises:
        TypeError: a non-Tensor in ``parameters``.
        ValueError: ``clip_value < 0``.
    """
    clip_value = check_hyperparameter("clip_value", clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
