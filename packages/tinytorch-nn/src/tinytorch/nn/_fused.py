"""Fused primitives of tinytorch.nn: forward on NumPy arrays, hand-written backward.

Each one is a :class:`tinytorch.tensor.Primitive` (so it goes through the one
dispatch path: autograd records it, the profiler times it and counts its
FLOPs) whose backward rule is registered with
:func:`tinytorch.autograd.register_backward`. They are fused because one
NumPy pass with saved intermediates is faster, and numerically safer, than
the graph of small ops the same math would otherwise build.

Public wrappers with argument checks live in :mod:`tinytorch.nn.functional`;
these functions trust their inputs.
"""

from __future__ import annotations

import numpy as np

from tinytorch.autograd import register_backward
from tinytorch.tensor import Primitive

__all__ = ["LAYER_NORM", "CROSS_ENTROPY"]


def _reduce_loss(values: np.ndarray, reduction: str, count) -> np.ndarray:
    if reduction == "none":
        return values
    total = values.sum(dtype=values.dtype)
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / values.dtype.type(count))


# ---------------------------------------------------------------- layer norm
#
# y = xhat * w + b,  xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),
# mean and var over the last ``n_axes`` dims. The backward must treat mean
# and var as functions of x: with dxhat = g * w and D elements per group,
#   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
# The second term is the path through the mean, the third the path through
# the variance (d var / dx = 2 (x - mean) / D).


def _layer_norm_fwd(x, *wb, n_axes, eps, has_weight, has_bias):
    axes = tuple(range(x.ndim - n_axes, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = np.mean(xc * xc, axis=axes, keepdims=True)
    rstd = 1.0 / np.sqrt(var + eps)
    xhat = xc * rstd
    y = xhat
    i = 0
    if has_weight:
        y = y * wb[0]
        i = 1
    if has_bias:
        y = y + wb[i]
    if y is xhat:
        y = xhat.copy()
    return y.astype(x.dtype, copy=False), (xhat, rstd)


def _layer_norm_flops(inputs, out, params) -> int:
    return 8 * int(inputs[0].size)


def _layer_norm_bwd(g, node):
    p = node.params
    xhat, rstd = node.saved
    n_axes = p["n_axes"]
    axes = tuple(range(g.ndim - n_axes, g.ndim))
    lead = tuple(range(g.ndim - n_axes))
    weight = node.inputs[1].data if p["has_weight"] else None
    grads = [None]
    if node.needs[0]:
        dxhat = g * weight if weight is not None else g
        dx = rstd * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                     - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
        grads[0] = dx.astype(g.dtype, copy=False)
    if p["has_weight"]:
        grads.append((g * xhat).sum(axis=lead) if node.needs[1] else None)
    if p["has_bias"]:
        grads.append(g.sum(axis=lead) if node.needs[len(grads)] else None)
    return tuple(grads)


LAYER_NORM = Primitive("layer_norm", _layer_norm_fwd, flops=_layer_norm_flops, saves=True)
register_backward(LAYER_NORM, _layer_norm_bwd)


# ------------------------------------------------------------- cross entropy
#
# Logits arrive as (M, C) (the functional moves the class axis last and
# flattens). log p = z - max(z) - log(sum(exp(z - max(z)))): the max shift
# makes exp() overflow-free, and the loss never takes log of a probability
# that underflowed to 0. With label smoothing eps the target distribution is
# q = (1 - eps) onehot + eps / C, and the loss is -sum(q * log p).
# Backward: d loss_i / d z_i = (softmax(z_i) - q_i) * scale_i, where scale_i
# is the upstream gradient of row i (divided by the count for 'mean'), and 0
# for rows whose target is ignore_index.


def _cross_entropy_fwd(z, *, target, valid, reduction, label_smoothing, count):
    m = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    sumexp = e.sum(axis=1, keepdims=True)
    logp = shifted - np.log(sumexp)
    rows = np.arange(m)
    nll = -logp[rows, target]
    if label_smoothing:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * logp.mean(axis=1)
    if valid is not None:
        nll = np.where(valid, nll, 0.0)
    nll = nll.astype(z.dtype, copy=False)
    probs = e / sumexp
    return _reduce_loss(nll, reduction, count), probs


def _cross_entropy_flops(inputs, out, params) -> int:
    return 5 * int(inputs[0].size)


def _cross_entropy_bwd(g, node):
    p = node.params
    probs = node.saved
    m, c = probs.shape
    target, valid, eps = p["target"], p["valid"], p["label_smoothing"]
    reduction = p["reduction"]
    if reduction == "none":
        scale = g.reshape(m, 1)
    elif reduction == "sum":
        scale = g.reshape(1, 1)
    else:
        scale = g.reshape(1, 1) / p["count"]
    grad = probs.copy()  # the softmax - onehot step happens in place
    if eps:
        grad -= eps / c
    grad[np.arange(m), target] -= 1.0 - eps
    if valid is not None:
        grad *= valid[:, None]
    grad *= scale
    return (grad.astype(probs.dtype, copy=False),)


CROSS_ENTROPY = Primitive(
    "cross_entropy", _cross_entropy_fwd, flops=_cross_entropy_flops, saves=True
)
register_backward(CROSS_ENTROPY, _cross_entropy_bwd)
