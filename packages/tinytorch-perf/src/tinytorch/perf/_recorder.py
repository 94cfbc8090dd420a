"""The recorder: what the hooks of a profile see, summed as it happens.

One :class:`_Recorder` is installed for a profile or a trace through the
extension points of the lower layers (nothing is patched):

    Tensor op ──> tinytorch.tensor.apply: pre hook starts the op's clock,
                  post hook stops it and adds op.flops(...)     (register_hook)
    module call ──> push / pop the dotted module name   (register_module_forward_hooks)
    loss.backward() ──> time every backward rule                (register_backward_hook)

Tables are kept per (op, module path); :mod:`.profile_report` turns them
into reports and :mod:`.trace` turns the raw events into a Chrome trace.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from tinytorch import tensor as _tt
from tinytorch.autograd import register_backward_hook
from tinytorch.nn import Module, register_module_forward_hooks

#: The name of the profiled model in module paths: ``model``, ``model.0``, ``model.blocks.1``.
ROOT_NAME = "model"


def _module_names(model) -> dict[int, str]:
    if not isinstance(model, Module):
        return {}
    return {id(m): (f"{ROOT_NAME}.{name}" if name else ROOT_NAME)
            for name, m in model.named_modules()}


class _Recorder:
    """Collects what the hooks see: per (op, module path) counts, times and
    FLOPs, per-module call times, optionally raw events for a trace, and the
    module path of each recorded autograd node (for the backward table)."""

    def __init__(self, names: dict[int, str], *, events: bool = False,
                 track_nodes: bool = False) -> None:
        self.names = names
        self.ops: dict[tuple[str, str], list] = {}       # (op, path) -> [calls, s, flops]
        self.bw_ops: dict[tuple[str, str], list] = {}    # (op, path) -> [calls, s]
        self.modules: dict[str, list] = {}               # path -> [calls, s, type]
        self.stack: list[tuple[str, Any, float]] = []    # (path, module, t0)
        self.events: list | None = [] if events else None
        self.track_nodes = track_nodes
        self.node_paths: dict = {}
        self._t0 = 0.0
        self._tb = 0.0

    # Tensor dispatch hooks ------------------------------------------------
    def op_pre(self, op, inputs, params) -> None:
        self._t0 = time.perf_counter()

    def op_post(self, op, inputs, out, params, saved) -> None:
        t1 = time.perf_counter()
        dt = t1 - self._t0
        flops = int(op.flops([t.data for t in inputs], out.data, params))
        path = self.stack[-1][0] if self.stack else ""
        key = (op.name, path)
        entry = self.ops.get(key)
        if entry is None:
            self.ops[key] = [1, dt, flops]
        else:
            entry[0] += 1
            entry[1] += dt
            entry[2] += flops
        if self.track_nodes and out.grad_fn is not None:
            self.node_paths[out.grad_fn] = path
        if self.events is not None:
            self.events.append(("forward", op.name, self._t0, dt, path,
                                [list(t.shape) for t in inputs], list(out.shape),
                                str(out.data.dtype), flops))

    # Module hooks ---------------------------------------------------------
    def mod_pre(self, module, args) -> None:
        path = self.names.get(id(module))
        if path is None:  # a module outside the profiled model (a loss, ...)
            parent = self.stack[-1][0] if self.stack else ""
            label = f"<{type(module).__name__}>"
            path = f"{parent}.{label}" if parent else label
        self.stack.append((path, module, time.perf_counter()))

    def mod_post(self, module, args, output) -> None:
        t1 = time.perf_counter()
        # Find this module's frame; frames above it belong to calls that
        # raised and were caught inside this module: drop them.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][1] is module:
                break
        else:
            return
        path, _, t0 = self.stack[i]
        del self.stack[i:]
        entry = self.modules.get(path)
        if entry is None:
            self.modules[path] = [1, t1 - t0, type(module).__name__]
        else:
            entry[0] += 1
            entry[1] += t1 - t0
        if self.events is not None:
            self.events.append(("module", path, t0, t1 - t0, type(module).__name__))

    # Backward hooks -------------------------------------------------------
    def bw_pre(self, node) -> None:
        self._tb = time.perf_counter()

    def bw_post(self, node, grads) -> None:
        t1 = time.perf_counter()
        dt = t1 - self._tb
        path = self.node_paths.get(node, "")
        key = (node.op.name, path)
        entry = self.bw_ops.get(key)
        if entry is None:
            self.bw_ops[key] = [1, dt]
        else:
            entry[0] += 1
            entry[1] += dt
        if self.events is not None:
            shapes = [list(t.shape) for t in node.inputs] if node.inputs is not None else []
            out_shape = list(node.out.shape) if node.out is not None else []
            self.events.append(("backward", node.op.name, self._tb, dt, path, shapes,
                                out_shape, str(node.out.dtype) if node.out is not None else "",
                                None))


@contextlib.contextmanager
def _installed(rec: _Recorder, *, backward: bool = False) -> Iterator[_Recorder]:
    """Register the recorder's hooks for the block; every one of them is
    removed on exit, in reverse order, even if the block (or a later
    registration) raises."""
    handles = []
    try:
        handles.append(_tt.register_hook(rec.op_post, pre=rec.op_pre))
        handles.append(register_module_forward_hooks(pre=rec.mod_pre, post=rec.mod_post))
        if backward:
            handles.append(register_backward_hook(rec.bw_post, pre=rec.bw_pre))
        yield rec
    finally:
        for h in reversed(handles):
            h.remove()
