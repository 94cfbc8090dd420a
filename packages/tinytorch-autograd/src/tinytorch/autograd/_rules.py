"""One backward rule per differentiable primitive of ``tinytorch.tensor``.

Each rule receives the gradient of the op's output ``g`` (an ndarray) and the
recorded :class:`~tinytorch.autograd._engine.Node`, and returns one gradient
per input (or None where ``node.needs[i]`` is False). Rules are plain NumPy:
vector-Jacobian products, never Jacobians.

Broadcasting: an input that was broadcast in the forward receives the sum of
the gradient over the broadcast dimensions (:func:`unbroadcast`).
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.tensor import kernels
from tinytorch.tensor import ops as T

from ._engine import mark_shape_only, register_backward

__all__ = ["unbroadcast", "expand_reduced", "scatter_add_rows"]


# ------------------------------------------------------------------- helpers


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``g`` down to ``shape``, undoing NumPy broadcasting."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def expand_reduced(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Broadcast the gradient of a reduction back to the input's ``shape``."""
    if axis is None:
        return np.broadcast_to(g.reshape((1,) * len(shape)), shape)
    if not keepdims:
        axes = (axis,) if isinstance(axis, int) else axis
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def _reduced_count(shape: tuple, axis) -> int:
    if axis is None:
        return int(np.prod(shape))
    axes = (axis,) if isinstance(axis, int) else axis
    return int(np.prod([shape[a] for a in axes]))


def scatter_add_rows(n_rows: int, index: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``out[index[i]] += g[i]`` for rows, with duplicates accumulating.

    Sort the indices, sum each run of equal indices with one
    ``np.add.reduceat``, and write the sums once: O(N log N) in NumPy,
    no Python loop and no slow unbuffered ``np.add.at``.

    Shapes: index ``(N,)`` int (already non-negative), g ``(N, *rest)``,
    result ``(n_rows, *rest)``.
    """
    out = np.zeros((n_rows,) + g.shape[1:], dtype=g.dtype)
    if index.size == 0:
        return out
    order = np.argsort(index, kind="stable")
    sorted_idx = index[order]
    starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
    out[sorted_idx[starts]] = np.add.reduceat(g[order], starts, axis=0)
    return out


# ------------------------------------------------------------- elementwise


def _add(g, node):
    a, b = node.inputs
    return (
        unbroadcast(g, a.data.shape) if node.needs[0] else None,
        unbroadcast(g, b.data.shape) if node.needs[1] else None,
    )


def _sub(g, node):
    a, b = node.inputs
    return (
        unbroadcast(g, a.data.shape) if node.needs[0] else None,
        unbroadcast(-g, b.data.shape) if node.needs[1] else None,
    )


def _mul(g, node):
    a, b = node.inputs
    return (
        unbroadcast(g * b.data, a.data.shape) if node.needs[0] else None,
        unbroadcast(g * a.data, b.data.shape) if node.needs[1] else None,
    )


def _div(g, node):
    a, b = node.inputs
    ga = g / b.data
    return (
        unbroadcast(ga, a.data.shape) if node.needs[0] else None,
        unbroadcast(-ga * node.out, b.data.shape) if node.needs[1] else None,
    )


def _pow(g, node):
    a, b = node.inputs
    x, p = a.data, b.data
    ga = gb = None
    if node.needs[0]:
        ga = unbroadcast(g * p * np.power(x, p - 1), x.shape)
    if node.needs[1]:
        # d(x^p)/dp = x^p log x; defined as 0 where x == 0 (PyTorch's choice).
        with np.errstate(divide="ignore", invalid="ignore"):
            logx = np.where(x > 0, np.log(np.where(x > 0, x, 1)), np.where(x == 0, 0, np.nan))
        logx = logx.astype(x.dtype, copy=False)  # the nan/0 branch is float64
        gb = unbroadcast(g * node.out * logx, p.shape)
    return ga, gb


def _neg(g, node):
    return (-g,)


def _exp(g, node):
    return (g * node.out,)


def _log(g, node):
    return (g / node.inputs[0].data,)


def _sqrt(g, node):
    return (g / (2.0 * node.out),)


def _abs(g, node):
    return (g * np.sign(node.inputs[0].data),)


def _clip(g, node):
    x = node.inputs[0].data
    lo, hi = node.params["min"], node.params["max"]
    mask = np.ones(x.shape, dtype=bool)
    if lo is not None:
        mask &= x >= lo
    if hi is not None:
        mask &= x <= hi
    return (g * mask,)


def _extremum(g, node):
    # maximum/minimum: the winner takes the gradient; ties split it in half.
    a, b = node.inputs
    x, y = a.data, b.data
    wins = (x > y) if node.op is T.MAXIMUM else (x < y)
    tie = x == y
    share_a = (wins + 0.5 * tie).astype(g.dtype, copy=False)  # bool + 0.5 is float64
    return (
        unbroadcast(g * share_a, x.shape) if node.needs[0] else None,
        unbroadcast(g * (1.0 - share_a), y.shape) if node.needs[1] else None,
    )


def _where(g, node):
    a, b = node.inputs
    cond = node.params["condition"]
    zero = np.zeros((), dtype=g.dtype)
    return (
        unbroadcast(np.where(cond, g, zero), a.data.shape) if node.needs[0] else None,
        unbroadcast(np.where(cond, zero, g), b.data.shape) if node.needs[1] else None,
    )


def _astype(g, node):
    return (g.astype(node.inputs[0].data.dtype),)


def _identity(g, node):
    return (g,)


# ------------------------------------------------------------- activations


def _relu(g, node):
    return (g * (node.inputs[0].data > 0),)


def _sigmoid(g, node):
    y = node.out
    return (g * y * (1.0 - y),)


def _tanh(g, node):
    y = node.out
    return (g * (1.0 - y * y),)


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _gelu(g, node):
    x = node.inputs[0].data
    if node.params["approximate"] == "tanh":
        # Derivative of the same tanh formula the forward used (t saved).
        return (kernels.gelu_tanh_grad(g, x, node.saved),)
    # Exact: d/dx [x Phi(x)] = Phi(x) + x phi(x), with Phi saved by the forward.
    pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return (g * (node.saved + x * pdf),)


def _softmax(g, node):
    y = node.out
    axis = node.params["axis"]
    return (y * (g - np.sum(g * y, axis=axis, keepdims=True)),)


def _log_softmax(g, node):
    axis = node.params["axis"]
    return (g - np.exp(node.out) * np.sum(g, axis=axis, keepdims=True),)


# ---------------------------------------------------------------- matmul


def _matmul(g, node):
    a, b = node.inputs
    A, B = a.data, b.data
    ga = gb = None
    if A.ndim == 1 and B.ndim == 1:  # dot product -> scalar
        return (g * B if node.needs[0] else None, g * A if node.needs[1] else None)
    if B.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
        if node.needs[0]:
            ga = g[..., None] * B
        if node.needs[1]:
            gb = np.tensordot(g, A, axes=(tuple(range(g.ndim)), tuple(range(A.ndim - 1))))
        return ga, gb
    if A.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
        if node.needs[0]:
            ga = np.tensordot(g, B, axes=(
                tuple(range(g.ndim - 1)) + (g.ndim - 1,),
                tuple(range(B.ndim - 2)) + (B.ndim - 1,),
            ))
        if node.needs[1]:
            gb = unbroadcast(A[:, None] * g[..., None, :], B.shape)
        return ga, gb
    if node.needs[0]:
        if B.ndim == 2 and A.ndim > 2 and g.flags.c_contiguous:
            # (..., m, n) @ (n, k): one GEMM over every row, not one per item.
            ga = np.matmul(g.reshape(-1, g.shape[-1]), B.T).reshape(A.shape)
        else:
            ga = unbroadcast(np.matmul(g, np.swapaxes(B, -1, -2)), A.shape)
    if node.needs[1]:
        if B.ndim == 2 and A.ndim > 2:
            # Shared weight (Linear on a batch of sequences): one big GEMM
            # (k, N) @ (N, n) instead of a batched product and a sum.
            k = A.shape[-1]
            gb = A.reshape(-1, k).T @ g.reshape(-1, g.shape[-1])
        else:
            gb = unbroadcast(np.matmul(np.swapaxes(A, -1, -2), g), B.shape)
    return ga, gb


# --------------------------------------------------------------- reductions


def _sum(g, node):
    x = node.inputs[0].data
    return (expand_reduced(g, x.shape, node.params["axis"], node.params["keepdims"]),)


def _mean(g, node):
    x = node.inputs[0].data
    axis = node.params["axis"]
    n = _reduced_count(x.shape, axis)
    return (expand_reduced(g, x.shape, axis, node.params["keepdims"]) / n,)


def _extreme_reduce(g, node):
    # The gradient goes to the elements equal to the extreme value, split
    # equally between ties (the same choice as torch.amax / torch.max()).
    x = node.inputs[0].data
    axis, keepdims = node.params["axis"], node.params["keepdims"]
    out = expand_reduced(node.out, x.shape, axis, keepdims)
    mask = (x == out).astype(g.dtype)
    count = mask.sum(axis=axis, keepdims=True)
    return (mask * expand_reduced(g, x.shape, axis, keepdims) / count,)


def _var(g, node):
    x = node.inputs[0].data
    axis, keepdims = node.params["axis"], node.params["keepdims"]
    n = _reduced_count(x.shape, axis)
    mu = np.mean(x, axis=axis, keepdims=True)
    denom = max(n - node.params["correction"], 0)
    scale = 2.0 / denom if denom else np.inf
    return (expand_reduced(g, x.shape, axis, keepdims) * (x - mu) * scale,)


# ------------------------------------------------------------ shape / index


def _reshape(g, node):
    return (g.reshape(node.inputs[0].data.shape),)


def _permute(g, node):
    return (g.transpose(np.argsort(node.params["axes"])),)


def _broadcast_to(g, node):
    return (unbroadcast(g, node.inputs[0].data.shape),)


def _concat(g, node):
    axis = node.params["axis"]
    sizes = [t.data.shape[axis] for t in node.inputs]
    pieces = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return tuple(p if need else None for p, need in zip(pieces, node.needs))


def _stack(g, node):
    axis = node.params["axis"]
    return tuple(
        np.take(g, i, axis=axis) if need else None for i, need in enumerate(node.needs)
    )


def _is_int_array(item) -> bool:
    return isinstance(item, np.ndarray) and item.dtype.kind in "iu"


def _getitem(g, node):
    x = node.inputs[0].data
    index = node.params["index"]
    items = index if isinstance(index, tuple) else (index,)
    if not any(_is_int_array(i) or isinstance(i, (list,)) for i in items):
        # Basic indexing and boolean masks select each element at most once:
        # a plain assignment is a correct scatter.
        out = np.zeros(x.shape, x.dtype)  # calloc: pages are zeroed lazily, no fill pass
        out[index] = g
        return (out,)
    first = items[0]
    if _is_int_array(first) and all(
        isinstance(i, slice) and i == slice(None) for i in items[1:]
    ):
        # Row gather (embedding lookup, label picking): fast sorted scatter-add.
        rows = np.where(first < 0, first + x.shape[0], first).reshape(-1)
        gr = g.reshape((rows.size,) + x.shape[1:])
        return (scatter_add_rows(x.shape[0], rows, gr),)
    # General advanced indexing: find which flat input element each output
    # element came from, then one bincount sums duplicates.
    flat = np.arange(x.size).reshape(x.shape)[index]
    summed = np.bincount(flat.reshape(-1), weights=g.reshape(-1), minlength=x.size)
    return (summed.reshape(x.shape).astype(g.dtype, copy=False),)


_TABLE = {
    T.ADD: _add,
    T.SUB: _sub,
    T.MUL: _mul,
    T.DIV: _div,
    T.POW: _pow,
    T.NEG: _neg,
    T.MATMUL: _matmul,
    T.SUM: _sum,
    T.MEAN: _mean,
    T.MAX: _extreme_reduce,
    T.MIN: _extreme_reduce,
    T.VAR: _var,
    T.RESHAPE: _reshape,
    T.PERMUTE: _permute,
    T.GETITEM: _getitem,
    T.CONCAT: _concat,
    T.STACK: _stack,
    T.BROADCAST_TO: _broadcast_to,
    T.EXP: _exp,
    T.LOG: _log,
    T.SQRT: _sqrt,
    T.ABS: _abs,
    T.CLIP: _clip,
    T.MAXIMUM: _extremum,
    T.MINIMUM: _extremum,
    T.WHERE: _where,
    T.ASTYPE: _astype,
    T.CLONE: _identity,
    T.RELU: _relu,
    T.SIGMOID: _sigmoid,
    T.TANH: _tanh,
    T.GELU: _gelu,
    T.SOFTMAX: _softmax,
    T.LOG_SOFTMAX: _log_softmax,
}

for _op, _rule in _TABLE.items():
    register_backward(_op, _rule)

# Their rules read only the inputs' shapes and dtypes: an in-place write to
# an input after the forward cannot make their gradients wrong.
for _op in (T.ADD, T.SUB, T.NEG, T.SUM, T.MEAN, T.RESHAPE, T.PERMUTE, T.GETITEM,
            T.CONCAT, T.STACK, T.BROADCAST_TO, T.ASTYPE, T.CLONE):
    mark_shape_only(_op)
