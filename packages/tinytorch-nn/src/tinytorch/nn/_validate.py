"""Argument checks shared by the layers and functions of ``tinytorch.nn``.

One policy for bad arguments, in one place (the same as ``tinytorch.tensor``'s):

- ``TypeError`` when an argument has the wrong type (a float or a bool where
  an int is needed, a string for a probability, an integer dtype for
  parameters);
- ``ValueError`` when the type is right but the value is not (a size of 0, a
  probability of 1.5, a negative eps).

Messages start with the public name that was called (``"Linear"``,
``"dropout"``) and name the argument and the value received. The checks
themselves are the stack's shared ones, :mod:`tinytorch.tensor.validate`;
this module adds what is particular to layers (parameter dtypes).
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor.validate import check_int as int_at_least
from tinytorch.tensor.validate import check_positive_int as positive_int
from tinytorch.tensor.validate import check_probability as probability
from tinytorch.tensor.validate import check_real

__all__ = ["int_at_least", "positive_int", "float_dtype", "probability", "positive_float"]

# int_at_least(value, name, where, minimum), positive_int(value, name, where)
# and probability(p, name, where) (in [0, 1]) are the stack's shared checks
# of tinytorch.tensor.validate, under the names this package has always used.


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


def positive_float(value, name: str, where: str) -> float:
    """``value`` as a float ``> 0`` (eps, momentum-like constants).

    Raises TypeError for a non-number (bools refused), ValueError for
    ``value <= 0`` or NaN.
    """
    value = check_real(value, name, where)
    if not value > 0:
        raise ValueError(f"{where}: {name} must be positive, got {value!r}")
    return value
