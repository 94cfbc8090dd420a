"""Argument checks shared by the optimizers, schedules and clipping of ``tinytorch.optim``.

One policy for bad arguments, in one place (the stack's): ``TypeError`` for
a wrong type (a string learning rate, a float step count), ``ValueError``
for a bad value (a negative learning rate, a beta of 1). Messages name the
hyperparameter, the value received and the allowed range.
"""

from __future__ import annotations

import math
import numbers

from tinytorch.tensor import validate

__all__ = ["check_hyperparameter", "check_int"]


def check_hyperparameter(name: str, value, *, low: float = 0.0, high: float | None = None,
                         low_open: bool = False, high_open: bool = True) -> float:
    """Validate one real hyperparameter and return it as a float.

    ``value`` must be a finite real number (not bool) with
    ``low <= value`` (``low < value`` if ``low_open``) and, when ``high`` is
    given, ``value < high`` (``value <= high`` if not ``high_open``).

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is NaN/inf or outside the range; the message
            names the hyperparameter, its value and the allowed range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    lo_ok = value > low if low_open else value >= low
    hi_ok = True if high is None else (value < high if high_open else value <= high)
    if not math.isfinite(value) or not lo_ok or not hi_ok:
        lo = f"{'(' if low_open else '['}{low}"
        hi = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
        raise ValueError(f"invalid {name}: {value!r} (must be in {lo}, {hi})")
    return value


def check_int(name: str, value, low: int) -> int:
    """``value`` as an int ``>= low`` (TypeError for a non-int, bools included;
    ValueError below ``low``): the stack's shared
    :func:`tinytorch.tensor.validate.check_int`, with this package's
    argument order."""
    return validate.check_int(value, name, None, low)
