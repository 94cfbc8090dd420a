"""Grad mode: whether new ops are recorded into the graph.

``no_grad()`` and ``enable_grad()`` work both as context managers and as
decorators, and nest (each restores the mode it found).
"""

from __future__ import annotations

import contextlib

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


class _State:
    # A plain module-level flag: one attribute read per op on the hot path.
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """True when new ops are recorded for backward."""
    return _state.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Set grad mode to ``mode``; as a context manager, restore it on exit."""

    def __init__(self, mode: bool) -> None:
        self.prev = _state.enabled
        self.mode = bool(mode)
        _state.enabled = self.mode

    def __enter__(self) -> set_grad_enabled:
        return self

    def __exit__(self, *exc) -> None:
        _state.enabled = self.prev


class no_grad(contextlib.ContextDecorator):
    """Disable graph recording inside the block (inference, optimizer steps).

    >>> with no_grad():
    ...     y = model(x)          # no graph, no saved activations
    """

    def __enter__(self) -> no_grad:
        self.prev = _state.enabled
        _state.enabled = False
        return self

    def __exit__(self, *exc) -> None:
        _state.enabled = self.prev


class enable_grad(contextlib.ContextDecorator):
    """Re-enable graph recording inside a ``no_grad`` block."""

    def __enter__(self) -> enable_grad:
        self.prev = _state.enabled
        _state.enabled = True
        return self

    def __exit__(self, *exc) -> None:
        _state.enabled = self.prev
