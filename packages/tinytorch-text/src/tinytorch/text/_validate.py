"""Argument checks shared by ``tinytorch.text`` (the stack's one exception policy).

``TypeError`` for a wrong type (a float or a bool where an int is needed, a
list for a generator), ``ValueError`` for a bad value (a size of 0).
"""

from __future__ import annotations

from typing import Any

from tinytorch.tensor.validate import check_int

__all__ = ["positive_int"]


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int ``>= 1`` (TypeError for a non-int, bools included,
    from the stack's shared :func:`tinytorch.tensor.validate.check_int`;
    ValueError "must be positive" for ``value <= 0``)."""
    value = check_int(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return int(value)
