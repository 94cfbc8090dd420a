"""Argument checks shared by ``tinytorch.olympics`` (the stack's one exception policy).

``TypeError`` for a wrong type (a float where a count is needed, a number
where a name is needed), ``ValueError`` for a bad value (a count below its
minimum, an empty or overlong name). Messages name the argument.
"""

from __future__ import annotations

from tinytorch.tensor import validate

__all__ = ["check_int", "check_text"]


def check_int(value, name: str, minimum: int) -> int:
    """``value`` as an int ``>= minimum`` (TypeError for a non-int, bools
    included; ValueError below ``minimum``): the stack's shared
    :func:`tinytorch.tensor.validate.check_int`."""
    return validate.check_int(value, name, None, minimum)


def check_text(value, name: str, *, max_len: int = 200) -> str:
    """``value`` stripped: a non-empty string of at most ``max_len`` characters
    (TypeError for a non-string, ValueError for an empty or overlong one)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise ValueError(f"{name} is longer than {max_len} characters")
    return value.strip()
