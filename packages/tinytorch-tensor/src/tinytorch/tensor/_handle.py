"""Hook registries and the handle every hook registration of the stack returns.

Dispatch hooks (:func:`tinytorch.tensor.register_hook`), backward hooks
(``tinytorch.autograd.register_backward_hook``) and module hooks
(``tinytorch.nn.Module.register_forward_hook`` and friends) keep their hooks
in different registries, but all hand back one :class:`HookHandle`: the
registry passes in the function that unregisters, the handle makes removal
idempotent and usable as a context manager. The dispatch and the backward
hooks share one :class:`HookRegistry` implementation too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["HookHandle", "HookRegistry"]


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


class HookRegistry:
    """Global ``pre`` and ``post`` hooks run around some event, in registration order.

    ``pre`` and ``post`` are tuples that are replaced, never mutated, so a
    hook that removes itself while the hooks run cannot disturb the loop
    over them; the loop reads the attribute once per event. Registering or
    removing costs O(number of hooks).

    Args:
        what: the name of the registering function, for error messages.
    """

    __slots__ = ("what", "pre", "post")

    def __init__(self, what: str) -> None:
        self.what = what
        self.pre: tuple = ()
        self.post: tuple = ()

    def register(self, post: Callable | None = None, pre: Callable | None = None) -> HookHandle:
        """Add ``pre`` and/or ``post``; the handle removes both.

        Raises:
            ValueError: neither hook given. TypeError: a hook is not callable.
        """
        if post is None and pre is None:
            raise ValueError(f"{self.what} needs a post hook, a pre hook, or both")
        for name, fn in (("post", post), ("pre", pre)):
            if fn is not None and not callable(fn):
                raise TypeError(f"the {name} hook must be callable, got {type(fn).__name__}")
        if pre is not None:
            self.pre = self.pre + (pre,)
        if post is not None:
            self.post = self.post + (post,)
        return HookHandle(functools.partial(self._unregister, pre, post), pre, post)

    def _unregister(self, pre: Callable | None, post: Callable | None) -> None:
        if pre is not None:
            self.pre = _without(self.pre, pre)
        if post is not None:
            self.post = _without(self.post, post)


def _without(hooks: tuple, fn) -> tuple:
    # Remove one occurrence (the same function may be registered twice).
    for i, h in enumerate(hooks):
        if h is fn:
            return hooks[:i] + hooks[i + 1:]
    return hooks
