"""Argument checks shared by ``tinytorch.text`` (the stack's one exception policy).

``TypeError`` for a wrong type (a float or a bool where an int is needed, a
list for a generator), ``ValueError`` for a bad value (a size of 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["positive_int"]


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int ``>= 1`` (TypeError for a non-int, bools included;
    ValueError for ``value <= 0``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)
