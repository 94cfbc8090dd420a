"""Argument checks shared by the modules and functions of ``tinytorch.transformers``.

One policy for bad arguments, in one place (the same as ``tinytorch.tensor``'s
and ``tinytorch.nn``'s):

- ``TypeError`` when an argument has the wrong type (a float or a bool where
  an int is needed, a string for a probability);
- ``ValueError`` when the type is right but the value is not (a size of 0, a
  dropout of 1.5, a negative temperature).

Messages start with the public name that was called (``"GPT"``,
``"MultiHeadAttention"``, ``"sample_next_token"``) and name the argument and
the value received.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["int_at_least", "positive_int", "probability", "non_negative_float"]

_INTS = (int, np.integer)


def int_at_least(value, name: str, where: str, minimum: int) -> int:
    """``value`` as an int ``>= minimum`` (TypeError for a non-int, bools and
    floats included; ValueError below ``minimum``)."""
    if not isinstance(value, _INTS) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return int(value)


def positive_int(value, name: str, where: str) -> int:
    """``value`` as an int ``>= 1`` (sizes); both errors say "a positive int"."""
    if not isinstance(value, _INTS) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a positive int, got "
                        f"{type(value).__name__} {value!r}")
    if value < 1:
        raise ValueError(f"{where}: {name} must be a positive int, got {value}")
    return int(value)


def probability(p, where: str, name: str = "dropout") -> float:
    """A dropout probability in ``[0, 1)`` (1 would zero everything and
    divide the survivors by 0).

    Raises:
        TypeError: not a real number (bools refused).
        ValueError: outside ``[0, 1)`` or NaN.
    """
    # type(p) is float first: the ABC check costs more, and attention calls this per forward.
    if type(p) is not float and (not isinstance(p, numbers.Real) or isinstance(p, bool)):
        raise TypeError(f"{where}: {name} must be a probability (a float), got "
                        f"{type(p).__name__} {p!r}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{where}: {name} must be a probability in [0, 1), got {p!r}")
    return float(p)


def non_negative_float(value, name: str, where: str) -> float:
    """A finite real number ``>= 0`` (TypeError for a non-number or bool,
    ValueError for a negative, infinite or NaN value)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)
