"""Argument checks shared by every public function of ``tinytorch.tensor``.

One policy for bad arguments, in one place:

- ``TypeError`` when an argument has the wrong type (a float where an int is
  needed, a string for a dim, ``dim=`` and ``axis=`` given together);
- ``ValueError`` when the type is right but the value is not (a negative
  size, a correction below zero);
- ``IndexError`` for a dim out of range, as Python and PyTorch do.

Every message starts with the public function's name and names the argument
and the value received, so the error points at the caller's mistake rather
than at a NumPy frame deep inside.

The keyword vocabulary is PyTorch's (``dim``, ``keepdim``); NumPy's
``axis`` / ``keepdims`` are accepted as aliases by :func:`dim_arg` and
:func:`keepdim_arg`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dim_arg", "keepdim_arg", "norm_dim", "check_int", "check_bool"]

_INTS = (int, np.integer)


def dim_arg(fn: str, dim, axis) -> tuple:
    """``(dim, keyword)``: the dim to use, given PyTorch's ``dim`` and its
    NumPy alias ``axis``, and the keyword it came from (for messages).

    None means "not given" for both (every dim-taking function here uses None
    as its default and documents what None means). Both given is ambiguous,
    so it raises ``TypeError`` naming both keywords, as a Python call with a
    repeated argument does.
    """
    if axis is None:
        return dim, "dim"
    if dim is not None:
        raise TypeError(
            f"{fn}: got both dim={dim!r} and axis={axis!r}; pass only dim= "
            "(axis= is its NumPy-style alias)"
        )
    return axis, "axis"


def keepdim_arg(fn: str, keepdim, keepdims) -> bool:
    """The keepdim flag, given PyTorch's ``keepdim`` and its alias ``keepdims``.

    ``keepdims=None`` means "not given"; both given (``keepdim=True`` with any
    ``keepdims``) raises ``TypeError``. Anything but a bool (or a NumPy bool)
    raises ``TypeError``: ``keepdim=1`` is more often a misplaced dim than a
    deliberate flag.
    """
    if keepdims is not None:
        if keepdim is not False:
            raise TypeError(
                f"{fn}: got both keepdim={keepdim!r} and keepdims={keepdims!r}; pass only "
                "keepdim= (keepdims= is its NumPy-style alias)"
            )
        keepdim = keepdims
    if keepdim is True or keepdim is False:
        return keepdim
    return check_bool(keepdim, "keepdim", fn)


def norm_dim(dim, ndim: int, fn: str, name: str = "dim"):
    """Validate a dim (None, an int or a tuple/list of ints) against ``ndim``.

    Returns None, a non-negative int, or a tuple of distinct non-negative ints.
    A 0-d tensor accepts dims 0 and -1 (as in PyTorch). ``name`` is the
    keyword the caller used (``"dim"`` or its alias ``"axis"``), so the
    message speaks the caller's vocabulary.

    Raises:
        TypeError: a dim that is not an int (bools are refused too).
        ValueError: a dim repeated inside a tuple.
        IndexError: a dim outside ``[-ndim, ndim - 1]``.
    """
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        dims = tuple(norm_dim(d, ndim, fn, name) for d in dim)
        if len(set(dims)) != len(dims):
            raise ValueError(f"{fn}: repeated {name} in {dim}")
        return dims
    if not isinstance(dim, _INTS) or isinstance(dim, bool):
        raise TypeError(f"{fn}: {name} must be an int, a tuple of ints or None, got {dim!r}")
    d = int(dim)
    n = ndim if ndim > 0 else 1
    if not -n <= d < n:
        raise IndexError(f"{fn}: {name} {d} is out of range for a tensor with {ndim} dims")
    return d % n


def check_int(value, name: str, fn: str, minimum: int | None = None) -> int:
    """``value`` as an int, refusing bools and floats (``TypeError``) and
    values below ``minimum`` (``ValueError``)."""
    if not isinstance(value, _INTS) or isinstance(value, bool):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{fn}: {name} must be >= {minimum}, got {value}")
    return value


def check_bool(value, name: str, fn: str) -> bool:
    """``value`` as a bool; anything but a Python or NumPy bool is a ``TypeError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{fn}: {name} must be a bool, got {type(value).__name__} {value!r}")
