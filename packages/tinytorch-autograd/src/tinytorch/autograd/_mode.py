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


class _GradMode(contextlib.ContextDecorator):
    """Sets grad mode to ``self.mode`` inside the block and restores it after.

    The modes found on entry are kept on a stack, not in one attribute, so
    one instance can be entered again while it is active: a recursive
    function decorated with ``@no_grad()`` (the decorator reuses one
    instance for every call) or ``with ng: with ng:`` still restore the
    mode each level found.
    """

    mode = True

    def __init__(self) -> None:
        self._prev: list[bool] = []

    def __enter__(self):
        self._prev.append(_state.enabled)
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc) -> None:
        _state.enabled = self._prev.pop()


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``.

    Called plainly (``set_grad_enabled(False)``) it switches the mode at
    once and for good; as a context manager it restores the mode it found
    on exit; as a decorator it sets the mode only while the function runs.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = [_state.enabled]  # restored by the __exit__ of `with`
        _state.enabled = self.mode

    def __enter__(self) -> set_grad_enabled:
        # Already switched by __init__ (whose saved mode __exit__ restores).
        _state.enabled = self.mode
        return self

    def __call__(self, func):
        # Used as a decorator: undo the switch __init__ made at decoration
        # time; each call then enters a fresh instance.
        _state.enabled = self._prev.pop()
        return super().__call__(func)

    def _recreate_cm(self):
        return set_grad_enabled(self.mode)


class no_grad(_GradMode):
    """Disable graph recording inside the block (inference, optimizer steps).

    >>> with no_grad():
    ...     y = model(x)          # no graph, no saved activations
    """

    mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True
