"""Argument checks shared by the modules and functions of ``tinytorch.transformers``.

One policy for bad arguments, in one place (the same as ``tinytorch.tensor``'s
and ``tinytorch.nn``'s):

- ``TypeError`` when an argument has the wrong type (a float or a bool where
  an int is needed, a string for a probability);
- ``ValueError`` when the type is right but the value is not (a size of 0, a
  dropout of 1.5, a negative temperature).

Messages start with the public name that was called (``"GPT"``,
``"MultiHeadAttention"``, ``"sample_next_token"``) and name the argument and
the value received. The checks are the stack's shared ones,
:mod:`tinytorch.tensor.validate`.
"""

from __future__ import annotations

import math

from tinytorch.tensor.validate import check_int as int_at_least
from tinytorch.tensor.validate import check_positive_int as positive_int
from tinytorch.tensor.validate import check_probability, check_real

__all__ = ["int_at_least", "positive_int", "probability", "non_negative_float"]

# int_at_least(value, name, where, minimum) and positive_int(value, name,
# where) are the stack's shared checks of tinytorch.tensor.validate, under
# the names this package has always used.


def probability(p, where: str, name: str = "dropout") -> float:
    """A dropout probability in ``[0, 1)`` (1 would zero everything and
    divide the survivors by 0).

    Raises:
        TypeError: not a real number (bools refused).
        ValueError: outside ``[0, 1)`` or NaN.
    """
    return check_probability(p, name, where, allow_one=False)


def non_negative_float(value, name: str, where: str) -> float:
    """A finite real number ``>= 0`` (TypeError for a non-number or bool,
    ValueError for a negative, infinite or NaN value)."""
    value = check_real(value, name, where)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{where}: {name} must be a finite number >= 0, got {value!r}")
    return value
