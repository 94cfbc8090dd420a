"""Every primitive op of TinyTorch, defined once, and its functional API.

Each primitive is a :class:`~tinytorch.tensor.Primitive`: a name and a forward
function on NumPy arrays. Each public function below checks its arguments,
turns Python scalars into tensors of a matching dtype, and applies one
primitive through :func:`~tinytorch.tensor._dispatch.apply` (the one
dispatch path). Backward rules live in ``tinytorch.autograd``, registered
against the primitive objects exported here (``ADD``, ``MATMUL``, ...).

Broadcasting follows NumPy. Errors name the shapes involved.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence

import numpy as np

from . import kernels as _kernels
from ._dispatch import Primitive, apply
from ._special import erf as _erf
from ._tensor import Tensor, _wrap

__all__ = [
    # arithmetic
    "add", "sub", "mul", "div", "pow", "neg", "matmul",
    # comparisons
    "eq", "ne", "lt", "le", "gt", "ge",
    # reductions
    "sum", "mean", "max", "min", "var", "argmax", "argmin",
    # shape and indexing
    "reshape", "transpose", "permute", "getitem", "concat", "stack", "split",
    "broadcast_to", "expand", "squeeze", "unsqueeze", "flatten",
    # elementwise math
    "exp", "log", "sqrt", "abs", "clip", "maximum", "minimum", "where",
    "astype", "clone",
    # activation math
    "relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax",
    "PRIMITIVES",
]

# ---------------------------------------------------------------- FLOP counts


def _matmul_flops(inputs, out, params) -> int:
    a, b = inputs
    k = a.shape[-1]
    # One multiply and one add per (output element, k).
    return int(2 * out.size * k)


def _matmul_f(a, b):
    # A stack of rows times one matrix ((..., m, k) @ (k, n), e.g. Linear on
    # (B, T, E)) is one (rows, k) @ (k, n) GEMM: one BLAS call that its
    # threads split well, instead of NumPy's loop of one small GEMM per item.
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        k = a.shape[-1]
        return np.matmul(a.reshape(-1, k), b).reshape(a.shape[:-1] + b.shape[1:])
    return np.matmul(a, b)


def _reduce_flops(inputs, out, params) -> int:
    return int(inputs[0].size)


def _zero_flops(inputs, out, params) -> int:
    return 0


def _scaled_flops(factor):
    def flops(inputs, out, params) -> int:
        return int(factor * inputs[0].size)
    return flops


# ------------------------------------------------------- forward functions


def _sum_f(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def _mean_f(x, axis, keepdims):
    return np.mean(x, axis=axis, keepdims=keepdims)


def _max_f(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def _min_f(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def _var_f(x, axis, keepdims, correction):
    return np.var(x, axis=axis, keepdims=keepdims, ddof=correction)


def _argmax_f(x, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims)


def _argmin_f(x, axis, keepdims):
    return np.argmin(x, axis=axis, keepdims=keepdims)


def _reshape_f(x, shape):
    return x.reshape(shape)


def _permute_f(x, axes):
    return x.transpose(axes)


def _getitem_f(x, index):
    return x[index]


def _concat_f(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _stack_f(*xs, axis):
    return np.stack(xs, axis=axis)


def _broadcast_f(x, shape):
    return np.broadcast_to(x, shape)


def _clip_f(x, min, max):
    return np.clip(x, min, max)


def _where_f(x, y, condition):
    return np.where(condition, x, y)


def _astype_f(x, dtype):
    return x.astype(dtype)


def _clone_f(x):
    return x.copy()


def _relu_f(x):
    return np.maximum(x, 0)


def _sigmoid_f(x):
    # exp(-softplus(-x)): exact and overflow-free for any x.
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


def _gelu_f(x, approximate):
    # Saves tanh(...) or Phi(x) so the backward differentiates the very
    # formula used here without recomputing it.
    if approximate == "tanh":
        return _kernels.gelu_tanh(x)  # (y, t): fused, few passes and temporaries
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    return x * cdf, cdf


def _softmax_f(x, axis):
    # Subtracting the max makes exp() overflow-free; -inf entries give 0.
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_f(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _pow_f(x, y):
    return np.power(x, y)


# ---------------------------------------------------------------- primitives

ADD = Primitive("add", np.add)
SUB = Primitive("sub", np.subtract)
MUL = Primitive("mul", np.multiply)
DIV = Primitive("div", np.true_divide)
POW = Primitive("pow", _pow_f)
NEG = Primitive("neg", np.negative)
MATMUL = Primitive("matmul", _matmul_f, flops=_matmul_flops)

EQ = Primitive("eq", np.equal, differentiable=False)
NE = Primitive("ne", np.not_equal, differentiable=False)
LT = Primitive("lt", np.less, differentiable=False)
LE = Primitive("le", np.less_equal, differentiable=False)
GT = Primitive("gt", np.greater, differentiable=False)
GE = Primitive("ge", np.greater_equal, differentiable=False)

SUM = Primitive("sum", _sum_f, flops=_reduce_flops)
MEAN = Primitive("mean", _mean_f, flops=_reduce_flops)
MAX = Primitive("max", _max_f, flops=_reduce_flops)
MIN = Primitive("min", _min_f, flops=_reduce_flops)
VAR = Primitive("var", _var_f, flops=_scaled_flops(3))
ARGMAX = Primitive("argmax", _argmax_f, differentiable=False)
ARGMIN = Primitive("argmin", _argmin_f, differentiable=False)

RESHAPE = Primitive("reshape", _reshape_f, flops=_zero_flops)
PERMUTE = Primitive("permute", _permute_f, flops=_zero_flops)
GETITEM = Primitive("getitem", _getitem_f, flops=_zero_flops)
CONCAT = Primitive("concat", _concat_f, flops=_zero_flops)
STACK = Primitive("stack", _stack_f, flops=_zero_flops)
BROADCAST_TO = Primitive("broadcast_to", _broadcast_f, flops=_zero_flops)

EXP = Primitive("exp", np.exp)
LOG = Primitive("log", np.log)
SQRT = Primitive("sqrt", np.sqrt)
ABS = Primitive("abs", np.abs)
CLIP = Primitive("clip", _clip_f)
MAXIMUM = Primitive("maximum", np.maximum)
MINIMUM = Primitive("minimum", np.minimum)
WHERE = Primitive("where", _where_f)
ASTYPE = Primitive("astype", _astype_f, flops=_zero_flops)
CLONE = Primitive("clone", _clone_f, flops=_zero_flops)

RELU = Primitive("relu", _relu_f)
SIGMOID = Primitive("sigmoid", _sigmoid_f, flops=_scaled_flops(4))
TANH = Primitive("tanh", np.tanh)
GELU = Primitive("gelu", _gelu_f, flops=_scaled_flops(8), saves=True)
SOFTMAX = Primitive("softmax", _softmax_f, flops=_scaled_flops(5))
LOG_SOFTMAX = Primitive("log_softmax", _log_softmax_f, flops=_scaled_flops(5))

#: Every primitive defined here, by name (autograd checks it has a rule for each).
PRIMITIVES: dict[str, Primitive] = {
    p.name: p for p in list(globals().values()) if isinstance(p, Primitive)
}

# ------------------------------------------------------------------ helpers

_PY_SCALARS = (bool, int, float)


def _tensor_like(value, like: np.ndarray) -> Tensor:
    """Turn ``value`` into a Tensor; Python scalars take ``like``'s dtype
    (so ``x * 2.0`` stays float32), or float32 when a float meets ints."""
    if type(value) is Tensor or isinstance(value, Tensor):
        return value
    if isinstance(value, _PY_SCALARS):
        kind = like.dtype.kind
        if isinstance(value, float) and kind in "biu":
            return _wrap(np.asarray(value, dtype=np.float32))
        if isinstance(value, int) and not isinstance(value, bool) and kind == "b":
            return _wrap(np.asarray(value, dtype=np.int64))
        return _wrap(np.asarray(value, dtype=like.dtype))
    return Tensor(value)


def _binary(op: Primitive, a, b) -> Tensor:
    if type(a) is not Tensor:
        a = _tensor_like(a, b.data if isinstance(b, Tensor) else np.asarray(b))
    if type(b) is not Tensor:
        b = _tensor_like(b, a.data)
    ka, kb = a.data.dtype.kind, b.data.dtype.kind
    if ka != kb and "f" in (ka, kb):
        # Integer or bool meets float: compute in the float dtype (as PyTorch
        # does), not in NumPy's float64.
        if ka == "f":
            b = apply(ASTYPE, (b,), {"dtype": a.data.dtype})
        else:
            a = apply(ASTYPE, (a,), {"dtype": b.data.dtype})
    try:
        return apply(op, (a, b), {})
    except ValueError:
        _check_broadcast(op.name, a.shape, b.shape)
        raise


def _check_broadcast(name: str, *shapes) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        shown = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{name}: shapes {shown} cannot be broadcast together") from None


def _as_tensor(x, name: str = "input") -> Tensor:
    if isinstance(x, Tensor):
        return x
    return Tensor(x)


def _norm_axis(axis, ndim: int, name: str):
    """Validate an axis argument (None, int or tuple of ints) against ndim."""
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        axes = tuple(_norm_axis(a, ndim, name) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{name}: repeated axis in {axis}")
        return axes
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: axis must be an int, a tuple of ints or None, got {axis!r}")
    a = int(axis)
    lo = -builtins.max(ndim, 1)
    hi = builtins.max(ndim, 1) - 1
    if not lo <= a <= hi:
        raise IndexError(f"{name}: axis {a} is out of range for a tensor with {ndim} dims")
    return a % builtins.max(ndim, 1)


# ---------------------------------------------------------------- arithmetic


def add(a, b) -> Tensor:
    """``a + b`` with broadcasting."""
    return _binary(ADD, a, b)


def sub(a, b) -> Tensor:
    """``a - b`` with broadcasting."""
    return _binary(SUB, a, b)


def mul(a, b) -> Tensor:
    """``a * b`` elementwise with broadcasting."""
    return _binary(MUL, a, b)


def div(a, b) -> Tensor:
    """``a / b`` (true division) with broadcasting.

    Integer or bool operands on both sides give float32 (as in PyTorch),
    not NumPy's float64.
    """
    if type(a) is not Tensor:
        a = _tensor_like(a, b.data if isinstance(b, Tensor) else np.asarray(b))
    if type(b) is not Tensor:
        b = _tensor_like(b, a.data)
    if a.data.dtype.kind in "biu" and b.data.dtype.kind in "biu":
        a = apply(ASTYPE, (a,), {"dtype": np.dtype(np.float32)})
    return _binary(DIV, a, b)


def pow(a, b) -> Tensor:
    """``a ** b`` elementwise; either side may be a scalar or a tensor."""
    return _binary(POW, a, b)


def neg(a) -> Tensor:
    return apply(NEG, (_as_tensor(a),), {})


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy semantics (BLAS does the work).

    Shapes: ``(n,) @ (n,) -> ()``, ``(m, n) @ (n, p) -> (m, p)``,
    ``(..., m, n) @ (..., n, p) -> (..., m, p)`` with broadcast batch dims;
    a 1-D operand is promoted to a matrix and the added dim removed.
    Cost: ``2 * batch * m * n * p`` FLOPs.

    Raises:
        ValueError: 0-d operands, or inner dimensions that differ (the message
            names both shapes).
    """
    a = _as_tensor(a)
    b = _as_tensor(b)
    sa, sb = a.shape, b.shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim, got shapes {sa} and {sb}")
    k_a = sa[-1]
    k_b = sb[0] if len(sb) == 1 else sb[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {sa} and {sb} are incompatible "
            f"(inner dimensions {k_a} and {k_b} differ)"
        )
    if len(sa) > 2 and len(sb) > 2:
        _check_broadcast("matmul (batch dims)", sa[:-2], sb[:-2])
    return apply(MATMUL, (a, b), {})


# ---------------------------------------------------------------- comparisons


def eq(a, b) -> Tensor:
    """Elementwise ``==`` (bool tensor, no gradient)."""
    return _binary(EQ, a, b)


def ne(a, b) -> Tensor:
    return _binary(NE, a, b)


def lt(a, b) -> Tensor:
    return _binary(LT, a, b)


def le(a, b) -> Tensor:
    return _binary(LE, a, b)


def gt(a, b) -> Tensor:
    return _binary(GT, a, b)


def ge(a, b) -> Tensor:
    return _binary(GE, a, b)


# ---------------------------------------------------------------- reductions


def _reduce(op: Primitive, x, axis, keepdims, **extra) -> Tensor:
    x = _as_tensor(x)
    axis = _norm_axis(axis, x.ndim, op.name)
    if x.size == 0 and op in (MAX, MIN, ARGMAX, ARGMIN):
        # No identity element: reducing over a size-0 dim is undefined, but
        # reducing a (0, 3) batch over its non-empty axis is fine.
        axes = range(x.ndim) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        if builtins.any(x.shape[a] == 0 for a in axes):
            raise ValueError(
                f"{op.name}: cannot reduce over an empty dim of a tensor of shape {x.shape}"
            )
    return apply(op, (x,), {"axis": axis, "keepdims": bool(keepdims), **extra})


def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (None: all elements; an int or a tuple of ints)."""
    return _reduce(SUM, x, axis, keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``."""
    return _reduce(MEAN, x, axis, keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum values over ``axis`` (ties share the gradient equally)."""
    return _reduce(MAX, x, axis, keepdims)


def min(x, axis=None, keepdims: bool = False) -> Tensor:
    """Minimum values over ``axis`` (ties share the gradient equally)."""
    return _reduce(MIN, x, axis, keepdims)


def var(x, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance over ``axis``: ``sum((x - mean)^2) / (N - correction)``.

    ``correction=1`` (the default, as in PyTorch) is the unbiased estimate;
    ``correction=0`` the population variance (NumPy's default).
    """
    if not isinstance(correction, (int, np.integer)) or correction < 0:
        raise ValueError(f"var: correction must be a non-negative int, got {correction!r}")
    return _reduce(VAR, x, axis, keepdims, correction=int(correction))


def argmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the maximum (int64, no gradient); None flattens first."""
    return _reduce(ARGMAX, x, axis, keepdims)


def argmin(x, axis=None, keepdims: bool = False) -> Tensor:
    return _reduce(ARGMIN, x, axis, keepdims)


# ------------------------------------------------------------ shape and index


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"shape entries must be ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def reshape(x, *shape) -> Tensor:
    """A tensor with the same data and a new shape; one entry may be -1.

    Raises ValueError naming both shapes when the sizes differ.
    """
    x = _as_tensor(x)
    shape = _shape_arg(shape)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: only one dimension can be -1, got {shape}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise ValueError(f"reshape: invalid dimension {s} in {shape}")
            known *= s
    if -1 in shape:
        if known == 0 or x.size % known:
            raise ValueError(f"reshape: cannot reshape tensor of shape {x.shape} into {shape}")
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    elif known != x.size:
        raise ValueError(f"reshape: cannot reshape tensor of shape {x.shape} into {shape}")
    return apply(RESHAPE, (x,), {"shape": shape})


def permute(x, *dims) -> Tensor:
    """Reorder the dimensions: ``permute(x, 0, 2, 1)``. No data is copied."""
    x = _as_tensor(x)
    dims = _shape_arg(dims)
    # Check the range first: 3 % 2 == 1 would otherwise pass for a 2-D tensor.
    if len(dims) != x.ndim or builtins.any(not -x.ndim <= d < x.ndim for d in dims) or sorted(
        d % x.ndim for d in dims
    ) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dims of {x.shape}")
    return apply(PERMUTE, (x,), {"axes": tuple(d % x.ndim for d in dims)})


def transpose(x, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap two dimensions (default: the last two)."""
    x = _as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"transpose: needs at least 2 dims, got shape {x.shape}")
    d0 = _norm_axis(dim0, x.ndim, "transpose")
    d1 = _norm_axis(dim1, x.ndim, "transpose")
    axes = list(range(x.ndim))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return apply(PERMUTE, (x,), {"axes": tuple(axes)})


def _normalize_index(index):
    """Replace Tensors inside an index by their arrays; validate types."""
    if isinstance(index, tuple):
        return tuple(_normalize_index_item(i) for i in index)
    return _normalize_index_item(index)


def _normalize_index_item(item):
    if isinstance(item, Tensor):
        item = item.data
    elif isinstance(item, list):
        # An empty list selects nothing; np.asarray([]) would be float64.
        item = np.asarray(item) if item else np.empty(0, dtype=np.intp)
    if isinstance(item, np.ndarray) and item.dtype.kind not in "biu":
        raise IndexError(f"index arrays must be integer or bool, got dtype {item.dtype}")
    return item


def getitem(x, index) -> Tensor:
    """NumPy indexing: ints, slices, Ellipsis, None, integer arrays and bool masks.

    Integer-array indexing may repeat indices; the backward then accumulates
    (scatter-add). Out-of-range indices raise IndexError naming the shape.
    """
    x = _as_tensor(x)
    index = _normalize_index(index)
    try:
        return apply(GETITEM, (x,), {"index": index})
    except IndexError as exc:
        raise IndexError(f"index out of range for tensor of shape {x.shape}: {exc}") from None


def concat(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; all other dims must agree."""
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("concat: needs at least one tensor")
    ndim = ts[0].ndim
    if ndim == 0:
        raise ValueError("concat: zero-dimensional tensors cannot be concatenated")
    ax = _norm_axis(axis, ndim, "concat")
    for t in ts[1:]:
        if t.ndim != ndim or any(
            s != r for i, (s, r) in enumerate(zip(t.shape, ts[0].shape)) if i != ax
        ):
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ValueError(f"concat: shapes {shapes} differ outside axis {ax}")
    return apply(CONCAT, tuple(ts), {"axis": ax})


cat = concat


def stack(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: needs at least one tensor")
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    ax = _norm_axis(axis, ts[0].ndim + 1, "stack")
    return apply(STACK, tuple(ts), {"axis": ax})


def split(x, split_size_or_sections, axis: int = 0) -> list[Tensor]:
    """Split into pieces along ``axis`` (as ``torch.split``).

    An int gives pieces of that size (the last may be smaller); a list of ints
    gives pieces of those sizes, which must add up to the axis length.
    Each piece is a slice (one ``getitem`` each), so gradients flow back.
    """
    x = _as_tensor(x)
    ax = _norm_axis(axis, x.ndim, "split")
    n = x.shape[ax]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n or builtins.min(sizes, default=0) < 0:
            raise ValueError(f"split: sizes {sizes} do not add up to dim {ax} of shape {x.shape}")
    pieces, start = [], 0
    lead = (slice(None),) * ax
    for s in sizes:
        pieces.append(apply(GETITEM, (x,), {"index": lead + (slice(start, start + s),)}))
        start += s
    return pieces


def broadcast_to(x, *shape) -> Tensor:
    """Broadcast to ``shape`` (read-only view; the backward sums back)."""
    x = _as_tensor(x)
    shape = _shape_arg(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        if len(shape) < x.ndim or np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return apply(BROADCAST_TO, (x,), {"shape": shape})


def expand(x, *shape) -> Tensor:
    """``torch.expand``: like broadcast_to, where -1 keeps that dimension."""
    x = _as_tensor(x)
    shape = _shape_arg(shape)
    offset = len(shape) - x.ndim
    if offset < 0:
        raise ValueError(f"expand: target {shape} has fewer dims than shape {x.shape}")
    shape = tuple(
        x.shape[i - offset] if s == -1 and i >= offset else s for i, s in enumerate(shape)
    )
    return broadcast_to(x, shape)


def squeeze(x, axis=None) -> Tensor:
    """Remove size-1 dimensions (all of them, or the one(s) named)."""
    x = _as_tensor(x)
    if axis is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = _norm_axis(axis, x.ndim, "squeeze")
        axes = (axes,) if isinstance(axes, int) else axes
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(
                    f"squeeze: dim {a} of shape {x.shape} has size {x.shape[a]}, not 1"
                )
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return apply(RESHAPE, (x,), {"shape": shape})


def unsqueeze(x, axis: int) -> Tensor:
    """Insert a size-1 dimension at ``axis`` (as ``torch.unsqueeze``)."""
    x = _as_tensor(x)
    a = _norm_axis(axis, x.ndim + 1, "unsqueeze")
    shape = x.shape[:a] + (1,) + x.shape[a:]
    return apply(RESHAPE, (x,), {"shape": shape})


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` (inclusive) into one."""
    x = _as_tensor(x)
    if x.ndim == 0:
        return apply(RESHAPE, (x,), {"shape": (1,)})
    s = _norm_axis(start_dim, x.ndim, "flatten")
    e = _norm_axis(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(x.shape[s:e + 1]))
    return apply(RESHAPE, (x,), {"shape": x.shape[:s] + (merged,) + x.shape[e + 1:]})


# --------------------------------------------------------------- elementwise


def _unary(op: Primitive, x, **params) -> Tensor:
    if type(x) is not Tensor:
        x = _as_tensor(x)
    return apply(op, (x,), params)


def exp(x) -> Tensor:
    return _unary(EXP, x)


def log(x) -> Tensor:
    """Natural logarithm (``-inf`` at 0, ``nan`` below, as NumPy)."""
    return _unary(LOG, x)


def sqrt(x) -> Tensor:
    return _unary(SQRT, x)


def abs(x) -> Tensor:
    return _unary(ABS, x)


def clip(x, min=None, max=None) -> Tensor:
    """Limit values to ``[min, max]``; either bound may be None.

    The gradient passes where ``min <= x <= max`` (as in PyTorch).
    """
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clip: min {min} is greater than max {max}")
    return _unary(CLIP, x, min=min, max=max)


clamp = clip


def maximum(a, b) -> Tensor:
    """Elementwise maximum (ties split the gradient equally)."""
    return _binary(MAXIMUM, a, b)


def minimum(a, b) -> Tensor:
    """Elementwise minimum (ties split the gradient equally)."""
    return _binary(MINIMUM, a, b)


def where(condition, x, y) -> Tensor:
    """``condition ? x : y`` elementwise with broadcasting.

    ``condition`` is a bool tensor or array (it gets no gradient).
    """
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be bool, got dtype {cond.dtype}")
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = Tensor(x)
    if not isinstance(x, Tensor):
        x = _tensor_like(x, y.data)
    if not isinstance(y, Tensor):
        y = _tensor_like(y, x.data)
    _check_broadcast("where", cond.shape, x.shape, y.shape)
    return apply(WHERE, (x, y), {"condition": cond})


def astype(x, dtype) -> Tensor:
    """A copy converted to ``dtype`` (the gradient converts back)."""
    x = _as_tensor(x)
    dt = np.dtype(dtype)
    if dt.kind not in "biuf":
        raise TypeError(f"astype: dtype must be numeric, got {dt}")
    return apply(ASTYPE, (x,), {"dtype": dt})


def clone(x) -> Tensor:
    """A copy of ``x`` that stays in the graph."""
    return _unary(CLONE, x)


# ---------------------------------------------------------------- activations


def relu(x) -> Tensor:
    """``max(x, 0)``; the gradient at 0 is 0 (as in PyTorch)."""
    return _unary(RELU, x)


def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))``, computed as ``exp(-softplus(-x))`` (no overflow)."""
    return _unary(SIGMOID, x)


def tanh(x) -> Tensor:
    return _unary(TANH, x)


def gelu(x, approximate: str = "tanh") -> Tensor:
    """Gaussian error linear unit.

    ``approximate="tanh"`` (GPT-2's): ``0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))``;
    ``approximate="none"``: the exact ``x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))``.
    The backward uses the derivative of the same formula as the forward.
    """
    if approximate not in ("tanh", "none"):
        raise ValueError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")
    return _unary(GELU, x, approximate=approximate)


def softmax(x, axis: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``axis``, max-subtracted (stable; -inf -> 0)."""
    x = _as_tensor(x)
    return apply(SOFTMAX, (x,), {"axis": _norm_axis(axis, x.ndim, "softmax")})


def log_softmax(x, axis: int = -1) -> Tensor:
    """``x - logsumexp(x)`` along ``axis``, computed stably."""
    x = _as_tensor(x)
    return apply(LOG_SOFTMAX, (x,), {"axis": _norm_axis(axis, x.ndim, "log_softmax")})
