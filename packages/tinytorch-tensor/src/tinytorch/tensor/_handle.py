"""The handle every hook registration of the stack returns.

Dispatch hooks (:func:`tinytorch.tensor.register_hook`), backward hooks
(``tinytorch.autograd.register_backward_hook``) and module hooks
(``tinytorch.nn.Module.register_forward_hook`` and friends) keep their hooks
in different registries, but all hand back this one class: the registry
passes in the function that unregisters, the handle makes removal
idempotent and usable as a context manager.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["HookHandle"]


class HookHandle:
    """Unregisters a hook: ``handle.remove()``, or ``with handle: ...``.

    Args:
        undo: called with no argument, once, by the first ``remove()``.
        pre, post: the hooks this handle covers (``None`` when absent), kept
            for inspection.

    ``remove()`` is idempotent: a second call does nothing. ``active`` is
    True until the first ``remove()``.
    """

    __slots__ = ("pre", "post", "_undo", "_active")

    def __init__(self, undo: Callable[[], object], pre: Callable | None = None,
                 post: Callable | None = None) -> None:
        self.pre = pre
        self.post = post
        self._undo = undo
        self._active = True

    @property
    def active(self) -> bool:
        return self._active

    def remove(self) -> None:
        if not self._active:
            return
        self._active = False
        self._undo()

    def __enter__(self) -> HookHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"<HookHandle {'active' if self._active else 'removed'}>"
