"""The captured graph: values, nodes and their text form.

A :class:`Graph` is what one recorded forward leaves behind, in program
order. Every array a node reads is a :class:`Value` of one of four kinds:

    input   an example input (a Tensor's array, or an ndarray argument);
            replay reads the new call's argument in its place
    param   the array of a model parameter or buffer; replay reads the very
            array that was captured (guards check it is still the model's)
    const   any other array the forward created outside an op (a causal
            mask, a Python scalar turned into a 0-d array); kept by value
    node    the output of an earlier node (an intermediate value)

Values are identified during capture by object identity (the Tensor, or its
ndarray), never by content, so two equal weights stay two parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Value", "Node", "Graph"]

KINDS = ("input", "param", "const", "node")


@dataclass
class Value:
    """One array of the graph. ``shape``/``dtype`` are those seen at capture.

    Attributes:
        kind: one of ``input``, ``param``, ``const``, ``node``.
        name: for ``param`` the dotted name in the model (``"0.weight"``);
            for ``input`` ``"arg0"``; otherwise ``"c3"`` / ``"v7"``.
        array: the captured array (params and consts: what replay reads).
        source: for ``param``, the Tensor it came from (guards check it).
        version: the Tensor's version counter at capture (params only).
    """

    kind: str
    name: str
    shape: tuple
    dtype: np.dtype
    array: np.ndarray | None = None
    source: Any = None
    version: int = 0

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    """One primitive call ``out = op.forward(*inputs, **params)``.

    Attributes:
        op: the :class:`tinytorch.tensor.Primitive` that ran.
        inputs: indices into :attr:`Graph.values` of the arrays it read.
        params: the keyword parameters, as captured. An ndarray parameter that
            is an example input (token ids indexing an embedding) is replaced
            by ``ParamInput(i)`` and read from the call's arguments.
        out: index of the output value.
        kernel: how replay runs it, set by the passes (``"call"``: the
            primitive's forward; ``"ufunc"``/``"matmul"``/``"linear"``:
            specialised calls writing into a planned buffer; ``"fused"``:
            a chain, see :attr:`chain`).
        buffer: index of the planned buffer the output is written into, or
            None (the call allocates, as in eager mode).
        chain: for ``"fused"``: the ``(op, inputs, params, out)`` steps folded in.
    """

    op: Any
    inputs: list[int]
    params: dict
    out: int
    kernel: str = "call"
    buffer: int | None = None
    chain: list = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.kernel == "fused":
            return "fused[" + "+".join(step[0].name for step in self.chain) + "]"
        return self.op.name


@dataclass(frozen=True)
class ParamInput:
    """A keyword parameter that is the call's ``index``-th argument, reshaped
    to ``shape`` (token ids passed to an embedding's gather)."""

    index: int
    shape: tuple


@dataclass
class Graph:
    """Values, nodes in program order, outputs, and planned buffers.

    Attributes:
        values: every array the graph reads or makes.
        nodes: primitive calls in the order they ran.
        inputs: value index of each positional argument (None for a
            non-array argument, which is static and guarded by equality).
        outputs: value indices the forward returned.
        out_tuple: the forward returned a tuple (else one Tensor).
        buffers: ``(shape, dtype)`` of each planned buffer.
    """

    values: list[Value] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    inputs: list[int | None] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    out_tuple: bool = False
    buffers: list[tuple] = field(default_factory=list)

    def add_value(self, value: Value) -> int:
        self.values.append(value)
        return len(self.values) - 1

    def op_counts(self) -> dict[str, int]:
        """``{op name: number of nodes}`` in program order of first use."""
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.name] = counts.get(node.name, 0) + 1
        return counts

    def bytes_planned(self) -> int:
        """Bytes of the preallocated buffers replay writes into."""
        return sum(int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize
                   for s, d in self.buffers)

    def copy(self) -> Graph:
        """A copy whose node list and nodes may be changed by a pass (values
        are shared: passes only append to them)."""
        nodes = [Node(n.op, list(n.inputs), dict(n.params), n.out, n.kernel, n.buffer,
                      list(n.chain)) for n in self.nodes]
        return Graph(list(self.values), nodes, list(self.inputs), list(self.outputs),
                     self.out_tuple, list(self.buffers))

    def format(self) -> str:
        """The graph as text, one node a line, with op counts and bytes planned."""
        lines = []
        for node in self.nodes:
            args = ", ".join(self._ref(i) for i in node.inputs)
            shown = {k: _short(v) for k, v in node.params.items()}
            extra = f" {shown}" if shown else ""
            out = self.values[node.out]
            buf = f"  -> buf{node.buffer}" if node.buffer is not None else ""
            lines.append(f"  %{node.out} = {node.name}({args}){extra}"
                         f" : {tuple(out.shape)} {np.dtype(out.dtype).name}{buf}")
        outs = ", ".join(self._ref(i) for i in self.outputs)
        lines.append(f"  return {outs}")
        counts = ", ".join(f"{k} x{v}" for k, v in self.op_counts().items())
        lines.append(f"  {len(self.nodes)} ops ({counts})")
        consts = [v for v in self.values if v.kind == "const"]
        lines.append(f"  {len(self.buffers)} buffers, {self.bytes_planned()} bytes planned; "
                     f"{sum(v.nbytes for v in consts)} bytes of constants")
        return "\n".join(lines)

    def _ref(self, i: int) -> str:
        v = self.values[i]
        if v.kind == "node":
            return f"%{i}"
        if v.kind == "param":
            return f"param:{v.name}"
        if v.kind == "input":
            return v.name
        return f"const:{tuple(v.shape)}"


def _short(value) -> str:
    if isinstance(value, np.ndarray):
        return f"array{tuple(value.shape)}"
    if isinstance(value, ParamInput):
        return f"arg{value.index}"
    if isinstance(value, tuple):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return repr(value)
