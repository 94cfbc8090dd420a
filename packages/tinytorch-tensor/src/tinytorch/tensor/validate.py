"""Argument checks: the stack's one exception policy, in one public module.

Every package of TinyTorch checks its public arguments with these functions
(through its own small ``_validate`` module), so a bad argument fails the
same way everywhere:

- ``TypeError`` when an argument has the wrong type (a float where an int is
  needed, a string for a dim, ``dim=`` and ``axis=`` given together, a
  deprecated keyword together with its replacement);
- ``ValueError`` when the type is right but the value is not (a negative
  size, a probability of 1.5, a correction below zero);
- ``IndexError`` for a dim out of range, as Python and PyTorch do.

Every message starts with ``where`` (the public function or class that was
called: ``"Linear"``, ``"dropout"``) when one is given, and names the
argument and the value received, so the error points at the caller's
mistake rather than at a NumPy frame deep inside. Bools are refused where a
number is needed (``True`` is an int to Python, rarely to the caller).
Each check costs O(1) (O(len) for a tuple of dims).

The keyword vocabulary is PyTorch's (``dim``, ``keepdim``); NumPy's
``axis`` / ``keepdims`` are accepted as aliases by :func:`dim_arg` and
:func:`keepdim_arg`; older keywords of the stack go through
:func:`deprecated_alias`.

>>> from tinytorch.tensor.validate import check_positive_int
>>> check_positive_int(3, "out_features", "Linear")
3
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = [
    "check_int", "check_positive_int", "check_bool", "check_real", "check_probability",
    "deprecated_alias", "dim_arg", "keepdim_arg", "norm_dim",
]

_INTS = (int, np.integer)


def _prefix(where: str | None) -> str:
    return f"{where}: " if where else ""


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


def _is_int(value) -> bool:
    # Python and NumPy ints first (the common case, no ABC lookup), then any
    # other numbers.Integral; bools are ints to Python but refused here.
    if type(value) is int or isinstance(value, np.integer):
        return True
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(value, name: str, where: str | None = None, minimum: int | None = None) -> int:
    """``value`` as a Python int, ``>= minimum`` when ``minimum`` is given.

    Raises:
        TypeError: not an int (``"<where>: <name> must be an int, got float 2.0"``);
            bools and floats are refused, even ``2.0``.
        ValueError: below ``minimum`` (``"<name> must be >= <minimum>, got <value>"``).
    """
    if not _is_int(value):
        raise TypeError(f"{_prefix(where)}{name} must be an int, got "
                        f"{type(value).__name__} {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{_prefix(where)}{name} must be >= {minimum}, got {value}")
    return value


def check_positive_int(value, name: str, where: str | None = None) -> int:
    """``value`` as an int ``>= 1`` (sizes, channel and feature counts).

    Raises:
        TypeError: not an int (bools and floats included).
        ValueError: ``value < 1``. Both messages say "must be a positive int".
    """
    if not _is_int(value):
        raise TypeError(f"{_prefix(where)}{name} must be a positive int, got "
                        f"{type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{_prefix(where)}{name} must be a positive int, got {value}")
    return int(value)


def check_bool(value, name: str, where: str | None = None) -> bool:
    """``value`` as a bool; anything but a Python or NumPy bool is a ``TypeError``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{_prefix(where)}{name} must be a bool, got "
                    f"{type(value).__name__} {value!r}")


def check_real(value, name: str, where: str | None = None) -> float:
    """``value`` as a float: any real number (Python, NumPy), not a bool.

    Only the type is checked (NaN and infinities pass); the caller checks the
    range it needs and words that error itself.

    Raises:
        TypeError: not a real number (``"<name> must be a number, got str '1e-5'"``).
    """
    if type(value) is not float and (not isinstance(value, numbers.Real)
                                     or isinstance(value, bool)):
        raise TypeError(f"{_prefix(where)}{name} must be a number, got "
                        f"{type(value).__name__} {value!r}")
    return float(value)


def check_probability(p, name: str, where: str | None = None, *,
                      allow_one: bool = True) -> float:
    """``p`` as a float in ``[0, 1]``, or in ``[0, 1)`` with ``allow_one=False``
    (a dropout of 1 would zero everything and divide the survivors by 0).

    Raises:
        TypeError: not a real number (bools refused).
        ValueError: outside the interval, or NaN; the message shows the interval.
    """
    # type(p) is float first: the numbers.Real check is an ABC lookup, and
    # attention and functional dropout call this on every forward.
    if type(p) is not float and (not isinstance(p, numbers.Real) or isinstance(p, bool)):
        raise TypeError(f"{_prefix(where)}{name} must be a probability (a float), got "
                        f"{type(p).__name__} {p!r}")
    if not (0.0 <= p <= 1.0 if allow_one else 0.0 <= p < 1.0):
        interval = "[0, 1]" if allow_one else "[0, 1)"
        raise ValueError(f"{_prefix(where)}{name} must be a probability in {interval}, "
                         f"got {p!r}")
    return float(p)


def deprecated_alias(new, old, new_name: str, old_name: str, where: str, *,
                     instead: str | None = None, stacklevel: int = 3):
    """Resolve a deprecated keyword ``old_name`` that stands for ``new_name``.

    Call it when ``old`` was given (is not None): it warns with a
    ``DeprecationWarning`` (``"<where>(<old_name>=...) is deprecated; pass
    <instead>"``, ``instead`` defaulting to ``"<new_name>="``) and returns
    ``old``, for the caller to use as the new keyword's value (converted if
    the two differ, as ``seed=`` becomes ``Generator(seed)``). The default
    ``stacklevel`` points the warning at the caller of the function that
    calls this one.

    Raises:
        TypeError: ``new`` was given as well (the two would contradict).
    """
    if new is not None:
        raise TypeError(f"{where}: got both {new_name}= and {old_name}=; pass only "
                        f"{new_name}= ({old_name}= is its deprecated alias)")
    warnings.warn(f"{where}({old_name}=...) is deprecated; pass {instead or new_name + '='}",
                  DeprecationWarning, stacklevel=stacklevel)
    return old
