"""What the profiler and the benchmark need to know about a model.

Its call arguments (``_as_args``), its parameters and buffers (each once),
checked counts, and a guard that puts the model's training flags,
gradients and buffers back as they were, whatever happens inside.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from tinytorch.nn import Module
from tinytorch.tensor import Tensor


def _as_args(inputs) -> tuple:
    """Model arguments from ``inputs``: a tuple is unpacked into positional
    arguments; anything else is one argument. Arrays and lists become Tensors
    (float64 data becomes float32 as everywhere in TinyTorch)."""
    items = inputs if isinstance(inputs, tuple) else (inputs,)
    return tuple(x if isinstance(x, Tensor) or not isinstance(x, (np.ndarray, list))
                 else Tensor(x) for x in items)


def _check_model(model) -> None:
    if not callable(model):
        raise TypeError(f"model must be callable (a Module or a function), "
                        f"got {type(model).__name__}")


def _parameters(model) -> list:
    """The model's parameters, each once; a plain function has none."""
    params = getattr(model, "parameters", None)
    if params is None or not callable(params):
        return []
    seen, out = set(), []
    for p in params():
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _buffers(model) -> list:
    bufs = getattr(model, "buffers", None)
    if bufs is None or not callable(bufs):
        return []
    return [b for b in bufs() if b is not None]


def _shape_list(x) -> list:
    shape = getattr(x, "shape", None)
    return list(shape) if shape is not None else []


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


@contextlib.contextmanager
def _model_state_guard(model, *, clear_grads: bool = False) -> Iterator[None]:
    """Restore the model's training flags, parameter gradients and buffers
    on exit, whatever happens inside (exceptions included).

    With ``clear_grads`` the gradients are set to None inside the block, so
    a backward pass allocates new ones instead of adding into the user's
    (which are put back untouched afterwards).
    """
    modules = list(model.modules()) if isinstance(model, Module) else []
    modes = [m.training for m in modules]
    params = _parameters(model)
    grads = [p.grad for p in params]
    buffers = [(b, b.data, b.data.copy()) for b in _buffers(model)]
    try:
        if clear_grads:
            for p in params:
                p.grad = None
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.training = mode
        for p, g in zip(params, grads):
            p.grad = g
        for b, array, saved in buffers:
            b.data = array
            if array.flags.writeable:
                array[...] = saved
