"""Argument checks shared by the layers and functions of ``tinytorch.nn``.

One policy for bad arguments, in one place (the same as ``tinytorch.tensor``'s):

- ``TypeError`` when an argument has the wrong type (a float or a bool where
  an int is needed, a string for a probability, an integer dtype for
  parameters);
- ``ValueError`` when the type is right but the value is not (a size of 0, a
  probability of 1.5, a negative eps).

Messages start with the public name that was called (``"Linear"``,
``"dropout"``) and name the argument and the value received.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["int_at_least", "positive_int", "float_dtype", "probability", "positive_float"]

_INTS = (int, np.integer)


def int_at_least(value, name: str, where: str, minimum: int) -> int:
    """``value`` as an int ``>= minimum``.

    Raises:
        TypeError: not an int (bools and floats included, even ``2.0``).
        ValueError: below ``minimum``.
    """
    if not isinstance(value, _INTS) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def positive_int(value, name: str, where: str) -> int:
    """``value`` as an int ``>= 1`` (sizes, channel and feature counts).

    Raises TypeError for a non-int, ValueError for ``value < 1``; both
    messages say "must be a positive int".
    """
    if not isinstance(value, _INTS) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a positive int, got "
                        f"{type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value}")
    return int(value)


def float_dtype(dtype, where: str | None = None) -> np.dtype:
    """The floating-point dtype for new parameters (None: float32).

    Raises:
        TypeError: an unknown dtype, or one that is not floating point
            (parameters must be able to hold gradients).
    """
    if dtype is None:
        return np.dtype(np.float32)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where or 'parameter'}: unknown dtype {dtype!r}") from None
    if dt.kind != "f":
        prefix = f"{where}: " if where else ""
        raise TypeError(f"{prefix}parameter dtype must be floating point, got {dt}")
    return dt


def probability(p, name: str, where: str) -> float:
    """``p`` as a float in ``[0, 1]``.

    Raises:
        TypeError: not a real number (bools refused).
        ValueError: outside ``[0, 1]`` or NaN.
    """
    # type(p) is float first: the numbers.Real check is an ABC lookup, paid
    # on every call of a functional dropout.
    if type(p) is not float and (not isinstance(p, numbers.Real) or isinstance(p, bool)):
        raise TypeError(f"{where}: {name} must be a probability (a float), got "
                        f"{type(p).__name__} {p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{where}: {name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def positive_float(value, name: str, where: str) -> float:
    """``value`` as a float ``> 0`` (eps, momentum-like constants).

    Raises TypeError for a non-number (bools refused), ValueError for
    ``value <= 0`` or NaN.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not value > 0:
        raise ValueError(f"{where}: {name} must be positive, got {value!r}")
    return float(value)
