"""The functional API of TinyTorch: argument handling around each primitive.

Each public function below checks its arguments (raising ``TypeError`` /
``ValueError`` / ``IndexError`` that name the problem), turns Python scalars
into tensors of a matching dtype, and applies one primitive of
:mod:`tinytorch.tensor._primitives` through
:func:`~tinytorch.tensor._dispatch.apply` (the one dispatch path). The
primitive objects are re-exported here (``ops.ADD``, ``ops.MATMUL``, ...):
``tinytorch.autograd`` registers its backward rules against them.

Keywords follow PyTorch: ``dim=`` and ``keepdim=``; NumPy's ``axis=`` and
``keepdims=`` are accepted as aliases, and giving both spellings is a
``TypeError``. Broadcasting follows NumPy. Errors name the shapes involved.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from ._dispatch import Primitive, apply
from ._primitives import (  # noqa: F401  (re-exported: autograd registers rules on them)
    ABS,
    ADD,
    ARGMAX,
    ARGMIN,
    ASTYPE,
    BROADCAST_TO,
    CLIP,
    CLONE,
    CONCAT,
    DIV,
    EQ,
    EXP,
    GE,
    GELU,
    GETITEM,
    GT,
    LE,
    LOG,
    LOG_SOFTMAX,
    LT,
    MATMUL,
    MAX,
    MAXIMUM,
    MEAN,
    MIN,
    MINIMUM,
    MUL,
    NE,
    NEG,
    PERMUTE,
    POW,
    PRIMITIVES,
    RELU,
    RESHAPE,
    SIGMOID,
    SOFTMAX,
    SQRT,
    STACK,
    SUB,
    SUM,
    TANH,
    VAR,
    WHERE,
)
from ._tensor import Tensor, _wrap
from .validate import check_int, dim_arg, keepdim_arg, norm_dim

__all__ = [
    # arithmetic
    "add", "sub", "mul", "div", "pow", "neg", "matmul",
    # comparisons
    "eq", "ne", "lt", "le", "gt", "ge",
    # reductions
    "sum", "mean", "max", "min", "var", "std", "argmax", "argmin",
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


def _unary(op: Primitive, x, **params) -> Tensor:
    if type(x) is not Tensor:
        x = _as_tensor(x)
    return apply(op, (x,), params)


# The public functions that do nothing but hand their arguments to one of the
# helpers above (or to ``_reduce`` below) are made by these factories, so the
# argument handling of a family of ops is written once. Each made function
# has the primitive's name and the docstring given; it costs the same one
# extra call as a hand-written wrapper.


def _public(fn, op: Primitive, doc: str | None):
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = doc
    return fn


def _binary_function(op: Primitive, doc: str | None = None):
    """``f(a, b)``: :func:`_binary` on ``op`` (scalars, dtypes, broadcasting)."""
    def binary(a, b) -> Tensor:
        return _binary(op, a, b)
    return _public(binary, op, doc)


def _unary_function(op: Primitive, doc: str | None = None):
    """``f(x)``: ``op`` applied to ``x`` (converted to a Tensor if needed)."""
    def unary(x) -> Tensor:
        if type(x) is not Tensor:
            x = _as_tensor(x)
        return apply(op, (x,), {})
    return _public(unary, op, doc)


def _reduction_function(op: Primitive, doc: str):
    """``f(x, dim=None, keepdim=False, *, axis=None, keepdims=None)``: :func:`_reduce`."""
    def reduction(x, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
        return _reduce(op, x, dim, keepdim, axis, keepdims)
    return _public(reduction, op, doc)


# ---------------------------------------------------------------- arithmetic


add = _binary_function(ADD, "``a + b`` with broadcasting.")
sub = _binary_function(SUB, "``a - b`` with broadcasting.")
mul = _binary_function(MUL, "``a * b`` elementwise with broadcasting.")
pow = _binary_function(POW, "``a ** b`` elementwise; either side may be a scalar or a tensor.")
neg = _unary_function(NEG, "``-a`` elementwise.")


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


# Elementwise, with broadcasting; a bool tensor with no gradient.
eq = _binary_function(EQ, "Elementwise ``a == b`` (bool tensor, no gradient).")
ne = _binary_function(NE, "Elementwise ``a != b`` (bool tensor, no gradient).")
lt = _binary_function(LT, "Elementwise ``a < b`` (bool tensor, no gradient).")
le = _binary_function(LE, "Elementwise ``a <= b`` (bool tensor, no gradient).")
gt = _binary_function(GT, "Elementwise ``a > b`` (bool tensor, no gradient).")
ge = _binary_function(GE, "Elementwise ``a >= b`` (bool tensor, no gradient).")


# ---------------------------------------------------------------- reductions
#
# Every reduction takes ``dim`` (None: all elements; an int; a tuple of ints)
# and ``keepdim``, as PyTorch, plus the NumPy aliases ``axis`` / ``keepdims``.
# The primitives keep NumPy's parameter names (``axis``, ``keepdims``), so
# hooks and backward rules see one spelling whatever the caller wrote.

_NO_IDENTITY = (MAX, MIN, ARGMAX, ARGMIN)


def _reduce(op: Primitive, x, dim, keepdim, axis, keepdims, **extra) -> Tensor:
    if type(x) is not Tensor:
        x = _as_tensor(x)
    name = "dim"
    if axis is not None or keepdims is not None:
        dim, name = dim_arg(op.name, dim, axis)
    if keepdim is not False or keepdims is not None:
        keepdim = keepdim_arg(op.name, keepdim, keepdims)
    dim = norm_dim(dim, x.ndim, op.name, name)
    if x.size == 0 and op in _NO_IDENTITY:
        # No identity element: reducing over a size-0 dim is undefined, but
        # reducing a (0, 3) batch over its non-empty dim is fine.
        dims = range(x.ndim) if dim is None else (dim if isinstance(dim, tuple) else (dim,))
        if builtins.any(x.shape[d] == 0 for d in dims):
            raise ValueError(
                f"{op.name}: cannot reduce over an empty dim of a tensor of shape {x.shape}"
            )
    return apply(op, (x,), {"axis": dim, "keepdims": keepdim, **extra})


sum = _reduction_function(SUM, """Sum over ``dim`` (None: all elements; an int or a tuple of ints).

    Shape: ``dim`` removed, or kept as size 1 with ``keepdim=True``.
    ``axis`` / ``keepdims`` are NumPy-style aliases of ``dim`` / ``keepdim``.

    Raises:
        TypeError: a non-int dim, a non-bool keepdim, or a keyword and its alias together.
        IndexError: a dim out of range.  ValueError: a repeated dim.
    """)
mean = _reduction_function(MEAN, """Arithmetic mean over ``dim`` (arguments and errors as
    :func:`sum`).""")
max = _reduction_function(MAX, """Maximum values over ``dim`` (an int, a tuple of ints or None).

    Deliberate difference from PyTorch: ``torch.max(x, dim)`` returns a
    ``(values, indices)`` pair; this returns the values only, like
    ``torch.amax``, whose semantics it has (several dims at once, ties share
    the gradient equally). One return type keeps ``x - x.max(dim=-1,
    keepdim=True)`` composable; take the indices from :func:`argmax`.

    Raises:
        ValueError: reducing over a size-0 dim (there is no identity element),
            and the errors of :func:`sum`.
    """)
min = _reduction_function(MIN, """Minimum values over ``dim``: values only, like ``torch.amin``
    (see :func:`max`).""")


def _correction_arg(fn: str, correction, unbiased) -> int:
    if unbiased is not None:
        if correction is not None:
            raise TypeError(
                f"{fn}: got both correction={correction!r} and unbiased={unbiased!r}; "
                "pass only one"
            )
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"{fn}: unbiased must be a bool, got {unbiased!r}")
        return 1 if unbiased else 0
    if correction is None:
        return 1
    return check_int(correction, "correction", fn, minimum=0)


def var(x, dim=None, keepdim: bool = False, *, correction=None, unbiased=None,
        axis=None, keepdims=None) -> Tensor:
    """Variance over ``dim``: ``sum((x - mean)^2) / (N - correction)``.

    As in PyTorch: ``correction=1`` (the default) is the unbiased estimate,
    ``correction=0`` the population variance (NumPy's default);
    ``unbiased=True`` / ``False`` is the older spelling of ``correction=1`` /
    ``0``, accepted by keyword only. Positionally, the third argument is
    ``keepdim`` as in every reduction here; PyTorch's legacy overload
    ``torch.var(x, dim, unbiased)`` reads it as ``unbiased`` instead, so write
    ``keepdim=`` / ``unbiased=`` by name in code meant for both.
    ``N - correction <= 0`` gives ``nan`` (as PyTorch, with no warning).
    Cost: three passes over ``x``.

    Raises:
        TypeError: a non-int correction, a non-bool unbiased, or both given.
        ValueError: a negative correction. Otherwise the errors of :func:`sum`.
    """
    c = _correction_arg("var", correction, unbiased)
    return _reduce(VAR, x, dim, keepdim, axis, keepdims, correction=c)


def std(x, dim=None, keepdim: bool = False, *, correction=None, unbiased=None,
        axis=None, keepdims=None) -> Tensor:
    """Standard deviation over ``dim``: ``sqrt(var(...))`` (arguments as :func:`var`)."""
    c = _correction_arg("std", correction, unbiased)
    return sqrt(_reduce(VAR, x, dim, keepdim, axis, keepdims, correction=c))


argmax = _reduction_function(ARGMAX, """Index of the maximum (int64, no gradient); ``dim=None``
    flattens first.

    ``dim`` must be a single int or None (as in PyTorch). Ties go to the
    first index. Raises ValueError on an empty dim, else as :func:`sum`.
    """)
argmin = _reduction_function(ARGMIN, """Index of the minimum (int64, no gradient); see
    :func:`argmax`.""")


# ------------------------------------------------------------ shape and index


_PLAIN_INT = {int}


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if set(map(type, shape)) <= _PLAIN_INT:  # the usual call: nothing to convert
        return shape
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
    n = x.ndim
    # Check the range first: 3 % 2 == 1 would otherwise pass for a 2-D tensor.
    # n axes, each in range and no two alike, are a permutation.
    if len(dims) == n and (not n or (builtins.min(dims) >= -n and builtins.max(dims) < n)):
        axes = tuple([d % n for d in dims])
        if len(set(axes)) == n:
            return apply(PERMUTE, (x,), {"axes": axes})
    raise ValueError(f"permute: {dims} is not a permutation of the {n} dims of {x.shape}")


def transpose(x, dim0: int = -2, dim1: int = -1) -> Tensor:
    """Swap dims ``dim0`` and ``dim1`` (a view; no data is copied).

    Deliberate difference from PyTorch: both dims default to the last two
    (``torch.transpose`` requires them), so ``x.transpose()`` is the batched
    matrix transpose that attention code needs, PyTorch's ``x.mT``.

    Raises:
        ValueError: a tensor with fewer than 2 dims.  TypeError / IndexError:
            a dim that is not an int / out of range.
    """
    x = _as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"transpose: needs at least 2 dims, got shape {x.shape}")
    d0 = norm_dim(dim0, x.ndim, "transpose", "dim0")
    d1 = norm_dim(dim1, x.ndim, "transpose", "dim1")
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


def _tensors_and_dim(fn: str, tensors: Sequence, dim, axis) -> tuple[list[Tensor], int, str]:
    """For concat and stack: the inputs as a non-empty list of Tensors, the
    dim (``dim`` or its alias ``axis``; None means 0) and the keyword used.

    Raises:
        TypeError: ``dim`` and ``axis`` both given.  ValueError: no tensors.
    """
    dim, name = dim_arg(fn, dim, axis)
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError(f"{fn}: needs at least one tensor")
    return ts, 0 if dim is None else dim, name


def concat(tensors: Sequence, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing dim (``torch.cat``); other dims must agree.

    ``dim`` defaults to 0 (None means the default, so that ``dim=0`` given
    together with its NumPy-style alias ``axis`` is caught as a conflict).
    Cost: one copy of every input.

    Raises:
        ValueError: no tensors, 0-d tensors, or shapes that differ outside ``dim``.
        TypeError / IndexError: a dim that is not an int / out of range.
    """
    ts, dim, name = _tensors_and_dim("concat", tensors, dim, axis)
    ndim = ts[0].ndim
    if ndim == 0:
        raise ValueError("concat: zero-dimensional tensors cannot be concatenated")
    ax = norm_dim(dim, ndim, "concat", name)
    for t in ts[1:]:
        if t.ndim != ndim or any(
            s != r for i, (s, r) in enumerate(zip(t.shape, ts[0].shape)) if i != ax
        ):
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ValueError(f"concat: shapes {shapes} differ outside dim {ax}")
    return apply(CONCAT, tuple(ts), {"axis": ax})


cat = concat


def stack(tensors: Sequence, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new dim (default 0; ``axis`` is an alias).

    Raises:
        ValueError: no tensors, or shapes that differ (all are named).
        TypeError / IndexError: a dim that is not an int / out of range.
    """
    ts, dim, name = _tensors_and_dim("stack", tensors, dim, axis)
    for t in ts[1:]:
        if t.shape != ts[0].shape:
            shapes = ", ".join(str(u.shape) for u in ts)
            raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    ax = norm_dim(dim, ts[0].ndim + 1, "stack", name)
    return apply(STACK, tuple(ts), {"axis": ax})


def split(x, split_size_or_sections, dim: int | None = None, *,
          axis: int | None = None) -> list[Tensor]:
    """Split into pieces along ``dim`` (default 0, as ``torch.split``; ``axis`` is an alias).

    An int gives pieces of that size (the last may be smaller); a list of ints
    gives pieces of those sizes, which must add up to the dim's length.
    Each piece is a slice (one ``getitem`` each), so gradients flow back.

    Raises:
        ValueError: a size that is not positive, or sizes that do not add up.
    """
    dim, name = dim_arg("split", dim, axis)
    dim = 0 if dim is None else dim
    x = _as_tensor(x)
    ax = norm_dim(dim, x.ndim, "split", name)
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


def squeeze(x, dim=None, *, axis=None) -> Tensor:
    """Remove size-1 dims: all of them, or the one(s) named by ``dim``.

    ``axis`` is an alias of ``dim``. Deliberate difference from PyTorch:
    naming a dim whose size is not 1 raises ValueError, where
    ``torch.squeeze`` silently returns the input unchanged.
    """
    dim, name = dim_arg("squeeze", dim, axis)
    x = _as_tensor(x)
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = norm_dim(dim, x.ndim, "squeeze", name)
        axes = (axes,) if isinstance(axes, int) else axes
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(
                    f"squeeze: dim {a} of shape {x.shape} has size {x.shape[a]}, not 1"
                )
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return apply(RESHAPE, (x,), {"shape": shape})


def unsqueeze(x, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Insert a size-1 dim at ``dim`` (as ``torch.unsqueeze``; ``axis`` is an alias).

    Raises:
        TypeError: no dim given, or a dim that is not an int.
        IndexError: a dim outside ``[-ndim - 1, ndim]``.
    """
    dim, name = dim_arg("unsqueeze", dim, axis)
    if dim is None:
        raise TypeError("unsqueeze: missing the dim argument")
    x = _as_tensor(x)
    a = norm_dim(dim, x.ndim + 1, "unsqueeze", name)
    shape = x.shape[:a] + (1,) + x.shape[a:]
    return apply(RESHAPE, (x,), {"shape": shape})


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` (inclusive) into one."""
    x = _as_tensor(x)
    if x.ndim == 0:
        return apply(RESHAPE, (x,), {"shape": (1,)})
    s = norm_dim(start_dim, x.ndim, "flatten", "start_dim")
    e = norm_dim(end_dim, x.ndim, "flatten", "end_dim")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(x.shape[s:e + 1]))
    return apply(RESHAPE, (x,), {"shape": x.shape[:s] + (merged,) + x.shape[e + 1:]})


# --------------------------------------------------------------- elementwise


exp = _unary_function(EXP, "``e ** x`` elementwise.")
log = _unary_function(LOG, "Natural logarithm (``-inf`` at 0, ``nan`` below, as NumPy).")
sqrt = _unary_function(SQRT, "Square root elementwise (``nan`` below 0, as NumPy).")
abs = _unary_function(ABS, "Absolute value elementwise (the gradient at 0 is 0).")


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


maximum = _binary_function(MAXIMUM, "Elementwise maximum (ties split the gradient equally).")
minimum = _binary_function(MINIMUM, "Elementwise minimum (ties split the gradient equally).")


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


clone = _unary_function(CLONE, "A copy of ``x`` that stays in the graph.")

# ---------------------------------------------------------------- activations

relu = _unary_function(RELU, "``max(x, 0)``; the gradient at 0 is 0 (as in PyTorch).")
sigmoid = _unary_function(
    SIGMOID, "``1 / (1 + exp(-x))``, computed as ``exp(-softplus(-x))`` (no overflow).")
tanh = _unary_function(TANH, "Hyperbolic tangent elementwise.")


def gelu(x, approximate: str = "tanh") -> Tensor:
    """Gaussian error linear unit.

    ``approximate="tanh"`` (GPT-2's): ``0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))``;
    ``approximate="none"``: the exact ``x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))``.
    The backward uses the derivative of the same formula as the forward.

    Deliberate difference from PyTorch: the default is ``"tanh"`` (PyTorch's
    is ``"none"``). GPT-2, the model this stack teaches and loads, was
    trained with the tanh form, so its checkpoints reproduce their logits only
    with it; it is also the cheaper of the two (no ``erf``). Pass
    ``approximate="none"`` for ``torch.nn.functional.gelu``'s default.

    Raises:
        ValueError: ``approximate`` other than ``"tanh"`` or ``"none"``.
    """
    if approximate not in ("tanh", "none"):
        raise ValueError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")
    return _unary(GELU, x, approximate=approximate)


def _softmax_like(op: Primitive, x, dim, axis) -> Tensor:
    if type(x) is not Tensor:
        x = _as_tensor(x)
    name = "dim"
    if axis is not None:
        dim, name = dim_arg(op.name, dim, axis)
    if dim is None:
        dim = -1
    return apply(op, (x,), {"axis": norm_dim(dim, x.ndim, op.name, name)})


def softmax(x, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, max-subtracted (stable; -inf -> 0).

    Same shape and dtype as ``x``; ``axis`` is an alias of ``dim``.
    Deliberate difference from PyTorch: ``dim=None`` means -1 (the class or
    key dim in every use in this stack), where PyTorch guesses a dim from the
    number of dims and warns.

    Raises:
        TypeError / IndexError: a dim that is not an int / out of range.
    """
    return _softmax_like(SOFTMAX, x, dim, axis)


def log_softmax(x, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, computed stably (arguments as :func:`softmax`)."""
    return _softmax_like(LOG_SOFTMAX, x, dim, axis)
