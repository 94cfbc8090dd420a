"""The Tensor: a NumPy array plus the slots autograd needs.

A Tensor owns one ``numpy.ndarray`` (``.data``). Every arithmetic method
delegates to a function in :mod:`tinytorch.tensor.ops`, which applies a
primitive through the dispatch path; so ``a + b``, ``ops.add(a, b)`` and
``ADD(a, b)`` are the same thing.

The autograd slots (``requires_grad``, ``grad``, ``grad_fn``) live here so
that a Tensor has one fixed layout (``__slots__``), but this package never
fills ``grad`` or ``grad_fn``: ``tinytorch.autograd`` does, through the
dispatch hook and the backward-engine registry.

Version counter: every Tensor counts the in-place writes made to it
(``Tensor.version``, PyTorch's ``_version``). ``__setitem__``, the in-place
methods (``zero_``, ``fill_``, ``copy_``, ``add_``, ``mul_``), assigning
``.data`` and :meth:`Tensor.bump_version` (for code that writes into
``.data``'s array directly, such as optimizers) add one. Autograd records the
versions of an op's inputs and refuses to run a backward rule on an input
that was written in place since. A tensor made by slicing another one shares
its memory but not its counter: write through the original, not the slice.
"""

from __future__ import annotations

from operator import attrgetter

import numpy as np

from . import _dispatch

__all__ = ["Tensor", "float32", "float64", "float16", "int64", "int32", "bool_"]

float16 = np.float16
float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64
bool_ = np.bool_

_NUMERIC_KINDS = frozenset("biuf")


def _as_array(data, dtype) -> np.ndarray:
    """Convert user data to an ndarray with TinyTorch's dtype rules."""
    if dtype is not None:
        try:
            dtype = np.dtype(dtype)
        except TypeError as exc:
            raise TypeError(f"unknown dtype {dtype!r}") from exc
        if dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"Tensor dtype must be numeric (bool, int or float), got {dtype}")
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"Tensor data must be numeric and rectangular: {exc}") from None
    if arr.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"Tensor data must be numeric (bool, int or float), got dtype {arr.dtype} "
            f"from {type(data).__name__}"
        )
    if dtype is not None:
        return arr if arr.dtype == dtype else arr.astype(dtype)
    if arr.dtype == np.float64:
        # Floats default to float32, the dtype deep learning trains in.
        return arr.astype(np.float32)
    return arr


class Tensor:
    """An n-dimensional array with optional gradient tracking.

    Args:
        data: array-like (nested lists, scalars, ndarrays or a Tensor).
        dtype: NumPy dtype or None. With None, float data becomes float32
            (Python floats and float64 arrays alike), integer data stays
            integer (int64 for Python ints) and bool stays bool.
        requires_grad: record operations on this tensor for autograd
            (floating-point dtypes only).

    An ndarray that already has the target dtype is shared, not copied.

    Raises:
        TypeError: non-numeric data (strings, objects), ragged nested lists,
            or ``requires_grad=True`` on an integer/bool tensor.
    """

    __slots__ = ("_data", "_version", "requires_grad", "grad", "grad_fn", "__weakref__")

    # Make NumPy defer to Tensor's reflected operators (ndarray + Tensor).
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data, dtype=None, requires_grad: bool = False) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self._data = _as_array(data, dtype)
        self._version = 0
        self.grad = None
        self.grad_fn = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ basics
    def _set_data(self, value) -> None:
        if not isinstance(value, np.ndarray):
            if not isinstance(value, np.generic):
                raise TypeError(
                    f"Tensor.data must be a numpy.ndarray, got {type(value).__name__} "
                    "(wrap it with numpy.asarray first)"
                )
            value = np.asarray(value)
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(
                f"Tensor data must be numeric (bool, int or float), got dtype {value.dtype}"
            )
        if self.requires_grad and value.dtype.kind != "f":
            raise TypeError(
                f"this tensor requires grad, so its data must be floating-point, "
                f"got dtype {value.dtype}"
            )
        self._data = value
        self._version += 1

    # A C-level getter: ``.data`` is read on every op, so reading it must cost
    # no Python frame; writing validates and counts as an in-place write.
    data = property(
        attrgetter("_data"),
        _set_data,
        doc="The underlying ``numpy.ndarray``. Assigning it checks the dtype as the "
        "constructor does (TypeError) and bumps :attr:`version`.",
    )

    version = property(
        attrgetter("_version"),
        doc="How many in-place writes this tensor has had (PyTorch's ``_version``); "
        "read-only, starts at 0.",
    )

    def bump_version(self) -> Tensor:
        """Count one in-place write made directly into ``.data``'s array
        (``t.data[...] = v``, ``np.add(t.data, g, out=t.data)``), so that a
        graph which saved this tensor refuses to backpropagate through the
        stale value. Returns self. O(1)."""
        self._version += 1
        return self

    # The array's own attributes, read through C-level getters too: every op
    # reads a few of them, and a Python property costs a frame each time.
    shape = property(attrgetter("_data.shape"), doc="The shape, a tuple of ints.")
    size = property(attrgetter("_data.size"), doc="Number of elements.")
    ndim = property(attrgetter("_data.ndim"), doc="Number of dimensions.")
    dtype = property(attrgetter("_data.dtype"), doc="The ``numpy.dtype`` of the elements.")

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (no ``grad_fn``)."""
        return self.grad_fn is None

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with exactly one element, got shape {self.shape}"
            )
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def memory_footprint(self) -> int:
        """Bytes held by the data array (not counting ``grad``)."""
        return int(self.data.nbytes)

    def __array__(self, dtype=None, copy=None):
        # NumPy 2 passes copy=True for np.array(t) and trusts the result to be
        # a fresh array; np.asarray(t) passes copy=None and may share.
        arr = self.data if dtype is None else self.data.astype(dtype, copy=False)
        if copy and arr is self.data:
            arr = arr.copy()
        return arr

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors with one element can be used as an index")
        return int(self.data)

    # Tensors compare elementwise (==), so hashing must stay by identity.
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(
            self.data, precision=4, separator=", ", prefix="Tensor(", threshold=100
        )
        extras = [f"dtype={self.data.dtype}"]
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.op.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"Tensor({body}, {', '.join(extras)})"

    # ---------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Compute gradients of this tensor w.r.t. the graph's leaves.

        Needs ``tinytorch-autograd`` (installed and enabled): this package
        only holds the slot the engine plugs into.
        """
        engine = _dispatch.get_backward_engine()
        if engine is None:
            raise RuntimeError(
                "Tensor.backward() needs the autograd engine: install tinytorch-autograd "
                "(pip install tinytorch-autograd) and enable it with "
                "`import tinytorch.autograd` or `tinytorch.autograd.enable_autograd()`"
            )
        engine(self, gradient, retain_graph)

    def zero_grad(self) -> None:
        """Drop the accumulated gradient (``grad`` becomes None)."""
        self.grad = None

    def detach(self) -> Tensor:
        """A tensor sharing this data, cut from the graph."""
        return _wrap(self.data)

    # ------------------------------------------------------------- arithmetic
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __abs__(self):
        return _ops.abs(self)

    def __eq__(self, other):  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other):  # type: ignore[override]
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value) -> None:
        """In-place write into ``data`` (bumps :attr:`version`). Not recorded
        by autograd, so it is refused on tensors that take part in a graph."""
        self._check_inplace("in-place assignment")
        self._data[_ops._normalize_index(index)] = (
            value._data if isinstance(value, Tensor) else value
        )
        self._version += 1

    # ------------------------------------------------------- in-place methods
    # Each writes into ``data`` and bumps ``version``; like ``__setitem__`` it
    # is refused on a tensor that requires grad or has a ``grad_fn``. The
    # other operand broadcasts to this tensor's shape and is cast with
    # NumPy's "same_kind" rule (a float into an int tensor is a TypeError).
    def _check_inplace(self, what: str) -> None:
        if self.requires_grad or self.grad_fn is not None:
            raise RuntimeError(
                f"{what} on a tensor that requires grad would corrupt its gradients; "
                "use .detach() or work on .data explicitly"
            )

    def _inplace(self, what: str, ufunc, other) -> Tensor:
        self._check_inplace(what)
        other = other._data if isinstance(other, Tensor) else other
        try:
            ufunc(self._data, other, out=self._data, casting="same_kind")
        except ValueError as exc:
            raise ValueError(
                f"{what}: the operand of shape {np.shape(other)} does not broadcast to "
                f"this tensor's shape {self.shape}"
            ) from exc
        except TypeError as exc:
            raise TypeError(f"{what}: cannot write into a {self.dtype} tensor: {exc}") from exc
        self._version += 1
        return self

    def add_(self, other, alpha=1) -> Tensor:
        """``self += alpha * other`` in place; returns self."""
        if alpha != 1:
            other = (other._data if isinstance(other, Tensor) else np.asarray(other)) * alpha
        return self._inplace("add_", np.add, other)

    def mul_(self, other) -> Tensor:
        """``self *= other`` in place; returns self."""
        return self._inplace("mul_", np.multiply, other)

    def copy_(self, src) -> Tensor:
        """Copy ``src`` (broadcast to this shape) into this tensor; returns self."""
        return self._inplace("copy_", _copy_into, src)

    def fill_(self, value) -> Tensor:
        """Set every element to the scalar ``value``; returns self."""
        if np.ndim(value) != 0:
            raise ValueError(f"fill_ takes a scalar, got an array of shape {np.shape(value)}")
        return self._inplace("fill_", _copy_into, value)

    def zero_(self) -> Tensor:
        """Set every element to 0; returns self."""
        return self._inplace("zero_", _copy_into, 0)

    # ----------------------------------------------------------------- methods
    def matmul(self, other):
        return _ops.matmul(self, other)

    # Reductions take PyTorch's dim= / keepdim= (NumPy's axis= / keepdims= are
    # aliases); see tinytorch.tensor.ops for the arguments and errors.
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.sum(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.mean(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Values only, like ``torch.amax`` (see :func:`tinytorch.tensor.ops.max`)."""
        return _ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Values only, like ``torch.amin`` (see :func:`tinytorch.tensor.ops.min`)."""
        return _ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def var(self, dim=None, keepdim=False, *, correction=None, unbiased=None,
            axis=None, keepdims=None):
        return _ops.var(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased,
                        axis=axis, keepdims=keepdims)

    def std(self, dim=None, keepdim=False, *, correction=None, unbiased=None,
            axis=None, keepdims=None):
        return _ops.std(self, dim, correction=correction, keepdim=keepdim, unbiased=unbiased,
                        axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return _ops.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def view(self, *shape):
        return _ops.reshape(self, *shape)

    def transpose(self, dim0=-2, dim1=-1):
        return _ops.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return _ops.permute(self, *dims)

    @property
    def T(self):
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return _ops.permute(self, *range(self.data.ndim - 1, -1, -1))

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min, max)

    clamp = clip

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def split(self, split_size_or_sections, dim=None, *, axis=None):
        return _ops.split(self, split_size_or_sections, dim, axis=axis)

    def broadcast_to(self, *shape):
        return _ops.broadcast_to(self, *shape)

    def expand(self, *shape):
        return _ops.expand(self, *shape)

    def squeeze(self, dim=None, *, axis=None):
        return _ops.squeeze(self, dim, axis=axis)

    def unsqueeze(self, dim=None, *, axis=None):
        return _ops.unsqueeze(self, dim, axis=axis)

    def flatten(self, start_dim=0, end_dim=-1):
        return _ops.flatten(self, start_dim, end_dim)

    def relu(self):
        return _ops.relu(self)

    def sigmoid(self):
        return _ops.sigmoid(self)

    def tanh(self):
        return _ops.tanh(self)

    def gelu(self, approximate="tanh"):
        return _ops.gelu(self, approximate)

    def softmax(self, dim=None, *, axis=None):
        return _ops.softmax(self, dim, axis=axis)

    def log_softmax(self, dim=None, *, axis=None):
        return _ops.log_softmax(self, dim, axis=axis)

    def astype(self, dtype):
        return _ops.astype(self, dtype)

    to = astype

    def float(self):
        return _ops.astype(self, np.float32)

    def double(self):
        return _ops.astype(self, np.float64)

    def long(self):
        return _ops.astype(self, np.int64)

    def clone(self):
        return _ops.clone(self)


def _copy_into(dst: np.ndarray, src, out, casting) -> None:
    # np.copyto with the ufunc calling convention used by Tensor._inplace.
    np.copyto(out, src, casting=casting)


def _wrap(array: np.ndarray) -> Tensor:
    """Wrap an ndarray without any checks (the hot path of every op)."""
    t = object.__new__(Tensor)
    t._data = array
    t._version = 0
    t.requires_grad = False
    t.grad = None
    t.grad_fn = None
    return t


_dispatch._install_wrap(_wrap)

from . import ops as _ops  # noqa: E402  (ops needs Tensor defined first)
