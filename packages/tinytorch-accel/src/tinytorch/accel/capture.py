"""Capture: record one forward through the dispatch hooks.

    model(*args) under no_grad
        every op ──> tinytorch.tensor.apply(op, inputs, params)
                        └─ post hook (registered with tinytorch.tensor.hooks):
                             classify each input Tensor -> input | param | const | node
                             append Node(op, inputs, params, out)

Nothing is patched: the hook is registered for the duration of the call and
removed afterwards, also when the forward raises.

What the hooks cannot see, and how capture still notices it:

* Python decisions on tensor *values* (``if x.sum() > 0``, ``.item()``,
  ``.numpy()``) happen outside the dispatch path. :func:`tinytorch.accel.compile`
  therefore checks the replay against eager on a second, different input
  (:mod:`.compiler`); a mismatch is a :class:`CompileError`.
* In-place writes (``t += 1``, ``t[i] = v``, a KV cache append) bypass the
  dispatch path but bump the Tensor's version counter: any tensor the forward
  read or produced whose version changed during the capture is a
  :class:`CompileError`, because a replay would not repeat the write.
"""

from __future__ import annotations

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.tensor import Tensor, hooks

from .graph import Graph, Node, ParamInput, Value

__all__ = ["CompileError", "capture"]


class CompileError(RuntimeError):
    """The model's forward does something a capture cannot replay faithfully."""


class _Recorder:
    """The state of one capture: identity maps from Tensors/arrays to values."""

    def __init__(self, model, args: tuple) -> None:
        self.graph = Graph()
        self.by_tensor: dict[int, int] = {}  # id(Tensor) -> value index
        self.by_array: dict[int, int] = {}  # id(ndarray) of inputs and node outputs
        self.keep: list = []  # holds every seen object alive, so ids stay unique
        self.versions: list[tuple[Tensor, int, str]] = []
        self.params = {}
        for name, p in model.named_parameters():
            self.params.setdefault(id(p), (name, p))
        for name, b in model.named_buffers():
            self.params.setdefault(id(b), (name, b))
        self.input_arrays: list[tuple[int, np.ndarray]] = []
        for i, a in enumerate(args):
            arr = a.data if isinstance(a, Tensor) else a if isinstance(a, np.ndarray) else None
            if arr is None:
                self.graph.inputs.append(None)
                continue
            vi = self.graph.add_value(Value("input", f"arg{i}", arr.shape, arr.dtype))
            self.graph.inputs.append(vi)
            self.by_array[id(arr)] = vi
            self.input_arrays.append((i, arr))
            self.keep.append(arr)
            if isinstance(a, Tensor):
                self.by_tensor[id(a)] = vi
                self.versions.append((a, a.version, f"argument {i}"))

    def resolve(self, t: Tensor) -> int:
        """The value index of Tensor ``t``, creating a param/const value on first sight."""
        vi = self.by_tensor.get(id(t))
        if vi is not None:
            return vi
        arr = t.data
        vi = self.by_array.get(id(arr))
        if vi is None:
            if id(t) in self.params:
                name, _ = self.params[id(t)]
                vi = self.graph.add_value(Value("param", name, arr.shape, arr.dtype, arr,
                                                source=t, version=t.version))
            else:
                # A copy: a constant is what the forward saw at capture time.
                vi = self.graph.add_value(Value("const", f"c{len(self.graph.values)}",
                                                arr.shape, arr.dtype, np.array(arr)))
        self.by_tensor[id(t)] = vi
        self.keep.append(t)
        self.versions.append((t, t.version, self.graph.values[vi].name))
        return vi

    def param(self, value):
        """A keyword parameter with example-input arrays replaced by ParamInput."""
        if isinstance(value, tuple):
            return tuple(self.param(v) for v in value)
        if not isinstance(value, np.ndarray):
            return value
        for i, arr in self.input_arrays:
            if value is arr or (value.size == arr.size and np.shares_memory(value, arr)):
                return ParamInput(i, value.shape)
        if id(value) in self.by_array:
            raise CompileError(
                "an op reads the output of another op as a parameter (e.g. an index "
                "computed by the model); compile cannot replay value-dependent indexing")
        return value

    def post(self, op, inputs, out, params, saved) -> None:
        ins = [self.resolve(t) for t in inputs]
        kept = {k: self.param(v) for k, v in params.items()}
        arr = out.data
        vi = self.graph.add_value(Value("node", f"v{len(self.graph.values)}",
                                        arr.shape, arr.dtype))
        self.by_tensor[id(out)] = vi
        self.by_array[id(arr)] = vi
        self.keep.append(out)
        self.versions.append((out, out.version, f"the output of {op.name}"))
        self.graph.nodes.append(Node(op, ins, kept, vi))


def capture(model, args: tuple) -> tuple[Graph, object]:
    """Run ``model(*args)`` once under ``no_grad`` and record every op.

    Args:
        model: a callable Module (``named_parameters``/``named_buffers``).
        args: positional arguments: Tensors and ndarrays become graph inputs;
            anything else (ints, None) is static.

    Returns:
        ``(graph, eager_output)``: the graph in program order (no pass run)
        and what the forward returned.

    Raises:
        CompileError: the forward wrote into a tensor in place, read an op's
            output as an index parameter, or returned something other than a
            Tensor or a tuple/list of Tensors.
    """
    rec = _Recorder(model, args)
    with no_grad(), hooks(rec.post):
        result = model(*args)
    outs = result if isinstance(result, (tuple, list)) else (result,)
    if not outs or not all(isinstance(o, Tensor) for o in outs):
        raise CompileError(f"the forward must return a Tensor or a tuple of Tensors, "
                           f"got {type(result).__name__}")
    rec.graph.out_tuple = isinstance(result, (tuple, list))
    rec.graph.outputs = [rec.resolve(o) for o in outs]
    for t, version, what in rec.versions:
        if t.version != version:
            raise CompileError(
                f"the forward wrote into {what} in place (its version went from {version} "
                f"to {t.version}); a replay would not repeat the write (an in-place "
                "update such as a KV cache append cannot be compiled)")
    return rec.graph, result
