"""The one dispatch path every op goes through.

An op is a :class:`Primitive`: a name and a forward function on NumPy arrays.
``apply(op, inputs, params)`` runs the forward and then calls every registered
hook with what happened. That is the whole extension mechanism of the stack:

* ``tinytorch.autograd`` registers a post hook that records the graph;
* ``tinytorch.perf`` registers a pre and a post hook that time ops and count
  FLOPs.

Nothing else may compute a Tensor op on the side: a result that did not pass
through :func:`apply` is invisible to autograd and to the profiler.

    Tensor op (a + b) ──> functional (checks, scalars -> Tensors)
                           └─> apply(ADD, (a, b), {})
                                 ├─ pre hooks   (profiler: start timer)
                                 ├─ ADD.forward(a.data, b.data)  (NumPy)
                                 └─ post hooks  (autograd: record node;
                                                 profiler: stop timer, FLOPs)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

import numpy as np

from ._handle import HookHandle, HookRegistry

_data_of = attrgetter("_data")  # a Tensor's array

__all__ = [
    "Primitive",
    "apply",
    "register_hook",
    "remove_hook",
    "hooks",
    "HookHandle",
    "set_backward_engine",
    "get_backward_engine",
]


def _elementwise_flops(inputs, output, params) -> int:
    return int(output.size)


def _no_flops(inputs, output, params) -> int:
    return 0


class Primitive:
    """One primitive op: a forward function on NumPy arrays.

    Args:
        name: unique, human-readable name (``"add"``, ``"matmul"``); used by
            autograd to find the backward rule and by the profiler in tables.
        forward: ``forward(*arrays, **params) -> ndarray`` (or
            ``(ndarray, saved)`` when ``saves=True``: ``saved`` is anything the
            backward rule wants to reuse instead of recomputing).
        differentiable: ``False`` for ops without a gradient (comparisons,
            argmax); autograd never records them.
        flops: ``flops(input_arrays, output_array, params) -> int``, the
            floating-point operations one call performs (the profiler sums
            these). Defaults to one per output element.
        saves: see ``forward``.

    Calling a primitive (``ADD(a, b)``) is the same as ``apply(ADD, (a, b), {})``.
    Primitives are immutable after creation and compared by identity.
    """

    __slots__ = ("name", "forward", "differentiable", "flops", "saves")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        *,
        differentiable: bool = True,
        flops: Callable[..., int] | None = None,
        saves: bool = False,
    ) -> None:
        self.name = name
        self.forward = forward
        self.differentiable = differentiable
        self.flops = flops if flops is not None else (
            _elementwise_flops if differentiable else _no_flops
        )
        self.saves = saves

    def __call__(self, *inputs, **params):
        return apply(self, inputs, params)

    def __repr__(self) -> str:
        return f"Primitive({self.name!r})"


_hooks = HookRegistry("register_hook")
_backward_engine: Callable | None = None


def apply(op: Primitive, inputs: tuple, params: dict):
    """Run ``op`` on ``inputs`` (Tensors) and call the hooks.

    Pre hooks are called as ``pre(op, inputs, params)``; post hooks as
    ``post(op, inputs, output, params, saved)``, where ``output`` is the new
    Tensor and ``saved`` what the forward chose to save (or ``None``).
    """
    for hook in _hooks.pre:
        hook(op, inputs, params)
    result = op.forward(*map(_data_of, inputs), **params)  # map: no Python frame per call
    saved = None
    if op.saves:
        result, saved = result
    out = _wrap(np.asarray(result))
    for hook in _hooks.post:
        hook(op, inputs, out, params, saved)
    return out


def register_hook(post: Callable | None = None, *, pre: Callable | None = None) -> HookHandle:
    """Register dispatch hooks; returns a handle for :func:`remove_hook`.

    ``post(op, inputs, output, params, saved)`` runs after every op's forward;
    ``pre(op, inputs, params)`` runs before it. Either may be omitted.
    Hooks run in registration order. Registering is cheap; each registered
    hook costs one Python call per op.
    """
    return _hooks.register(post, pre)


def remove_hook(handle: HookHandle) -> None:
    """Unregister the hooks of ``handle`` (same as ``handle.remove()``).
    Removing twice is a no-op.

    Raises:
        TypeError: ``handle`` is not a HookHandle.
    """
    if not isinstance(handle, HookHandle):
        raise TypeError(f"remove_hook expects a HookHandle, got {type(handle).__name__}")
    handle.remove()


@contextmanager
def hooks(post: Callable | None = None, *, pre: Callable | None = None):
    """Context manager: the hooks are registered inside the block only,
    and removed on exit even when the block raises."""
    handle = register_hook(post, pre=pre)
    try:
        yield handle
    finally:
        remove_hook(handle)


def set_backward_engine(engine: Callable | None) -> None:
    """Install the function that runs ``Tensor.backward``.

    ``engine(tensor, gradient, retain_graph)``. ``tinytorch.autograd`` installs
    its engine here when it is enabled and removes it (``None``) when disabled.
    """
    global _backward_engine
    if engine is not None and not callable(engine):
        raise TypeError("the backward engine must be callable or None")
    _backward_engine = engine


def get_backward_engine() -> Callable | None:
    return _backward_engine


def active_hooks() -> tuple[tuple, tuple]:
    """The registered ``(pre_hooks, post_hooks)``, for tests and profilers."""
    return _hooks.pre, _hooks.post


def _wrap(array: np.ndarray):  # replaced below to avoid an import cycle
    raise RuntimeError("tinytorch.tensor is not initialised")


def _install_wrap(fn) -> None:
    global _wrap
    _wrap = fn
