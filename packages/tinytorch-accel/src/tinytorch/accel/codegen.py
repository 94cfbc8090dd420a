"""Code generation: a planned graph becomes one flat Python function.

    def replay(a0):                                  # the call's arrays
        np.dot(a0, w0T, out=b0_2d)                       # linear, into buffer 0
        np.add(b0_2d, bias0, out=b0_2d)
        v3 = b0
        acc = u_maximum(v3, zero_float32, out=b1)        # fused chain, in place
        v4 = acc
        v7 = f2(v4, v5, v6)                              # a primitive's forward
        return (v7, )

No Tensor is built, no hook runs and no argument is checked between ops:
what is left is the NumPy work and one Python line per op. Parameters,
constants, buffers and forward functions are bound in the function's
globals once, when it is generated. The source is kept (``Replay.source``)
so that :meth:`CompiledModule.explain` can show it.

Numerics: every kernel runs the same NumPy steps as the primitive's forward
(bitwise equal; ``np.dot`` is the same GEMM as ``np.matmul`` on 2-D
operands), except ``matmul`` of a stack of rows by one matrix, which
always runs as one 2-D GEMM (eager mode does so only for C-contiguous
inputs; BLAS may sum in another order, within float32 rounding).
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import kernels, ops

from .graph import Graph, ParamInput
from .passes import UFUNCS

__all__ = ["Replay", "generate"]


class Replay:
    """A generated replay function and the source it was made from.

    Call it with the arrays of the positional arguments (in order, only the
    array arguments); it returns a tuple of output arrays.
    """

    def __init__(self, fn, source: str, graph: Graph) -> None:
        self.fn = fn
        self.source = source
        self.graph = graph

    def __call__(self, *arrays):
        return self.fn(*arrays)


class _Writer:
    def __init__(self, graph: Graph) -> None:
        self.g = graph
        self.ns: dict = {"np": np}
        self.lines: list[str] = []
        for i, v in enumerate(graph.values):
            if v.kind in ("param", "const"):
                self.ns[f"v{i}"] = v.array
        for k, (shape, dtype) in enumerate(graph.buffers):
            self.ns[f"b{k}"] = np.empty(shape, dtype)

    def bind(self, name: str, obj) -> str:
        self.ns[name] = obj
        return name

    def expr(self, value) -> str:
        """Source text of a keyword parameter (bound in globals unless it is
        a call argument)."""
        if isinstance(value, ParamInput):
            return f"a{value.index}.reshape({value.shape!r})"
        if isinstance(value, tuple) and any(isinstance(x, ParamInput) for x in value):
            return "(" + "".join(self.expr(x) + ", " for x in value) + ")"
        return self.bind(f"k{len(self.ns)}", value)

    def call(self, n: int, node) -> None:
        f = self.bind(f"f{n}", node.op.forward)
        args = [f"v{i}" for i in node.inputs]
        args += [f"{k}={self.expr(v)}" for k, v in node.params.items()]
        tail = "[0]" if node.op.saves else ""
        self.lines.append(f"v{node.out} = {f}({', '.join(args)}){tail}")

    def fused(self, n: int, node) -> None:
        target = f"b{node.buffer}" if node.buffer is not None else None
        prev = None
        for op, inputs, _params, out in node.chain:
            u = self.bind(f"u_{UFUNCS[op].__name__}", UFUNCS[op])
            operands = [("acc" if i == prev else f"v{i}") for i in inputs]
            if op is ops.RELU:  # relu(x) = maximum(x, 0), the 0 as a typed scalar once
                operands.append(self.bind(f"zero_{self.g.values[out].dtype}",
                                          np.dtype(self.g.values[out].dtype).type(0)))
            if target is None and prev is None:
                # np.asarray: a 0-d result would be a NumPy scalar, which no
                # later step could write into.
                self.lines.append(f"acc = np.asarray({u}({', '.join(operands)}))")
            else:
                dest = target if prev is None else "acc"
                self.lines.append(f"acc = {u}({', '.join(operands)}, out={dest})")
            prev = out
        self.lines.append(f"v{node.out} = acc")

    def matmul(self, n: int, node) -> None:
        a, b = node.inputs
        va, vb = self.g.values[a], self.g.values[b]
        buf = f"b{node.buffer}"
        if len(vb.shape) == 2 and len(va.shape) > 2:
            flat = self.bind(f"{buf}_2d", self.ns[buf].reshape(-1, vb.shape[1]))
            self.lines.append(f"np.matmul(v{a}.reshape(-1, {va.shape[-1]}), v{b}, out={flat})")
        else:
            self.lines.append(f"np.matmul(v{a}, v{b}, out={buf})")
        self.lines.append(f"v{node.out} = {buf}")

    def linear(self, n: int, node) -> None:
        """``y = x W^T + b`` as eager's forward computes it, into the planned
        buffer, or into a fresh array when the output escapes (no buffer)."""
        x, w, *bias = node.inputs
        vw, out = self.g.values[w], self.g.values[node.out]
        # The weight's transpose is a view, folded once (BLAS reads it in place).
        wt = self.bind(f"w{n}T", vw.array.T) if vw.array is not None else f"v{w}.T"
        xshape = self.g.values[x].shape
        # A 2-D input is already the (rows, in) matrix: no reshape call.
        rows = f"v{x}" if len(xshape) == 2 else f"v{x}.reshape(-1, {xshape[-1]})"
        if node.buffer is not None:
            flat = self.bind(f"b{node.buffer}_2d",
                             self.ns[f"b{node.buffer}"].reshape(-1, vw.shape[0]))
            # np.dot on 2-D operands is the same GEMM call as np.matmul
            # (bitwise equal) with less per-call overhead.
            self.lines.append(f"np.dot({rows}, {wt}, out={flat})")
            result = f"b{node.buffer}"
        else:
            flat = "y"
            self.lines.append(f"y = np.dot({rows}, {wt})")
            result = "y" if len(out.shape) == 2 else f"y.reshape({tuple(out.shape)!r})"
        if bias:
            vb = self.g.values[bias[0]]
            # The bias as a (1, out) view: the add skips NumPy's broadcasting
            # setup when there is one row (and costs the same otherwise).
            b2 = self.bind(f"bias{n}", vb.array.reshape(1, -1)) if vb.array is not None \
                else f"v{bias[0]}"
            self.lines.append(f"np.add({flat}, {b2}, out={flat})")
        self.lines.append(f"v{node.out} = {result}")


    def scratch(self, name: str, shape, dtype, zeros: bool = False) -> str:
        """A buffer private to one kernel (counted in the bytes planned)."""
        self.g.buffers.append((tuple(shape), np.dtype(dtype)))
        return self.bind(name, (np.zeros if zeros else np.empty)(shape, dtype))

    def result(self, node) -> str:
        """Where a kernel writes its output: its planned buffer, or a fresh
        array allocated on every call when the output escapes."""
        if node.buffer is not None:
            return f"b{node.buffer}"
        v = self.g.values[node.out]
        dt = self.bind(f"dt{node.out}", np.dtype(v.dtype))
        self.lines.append(f"v{node.out} = np.empty({tuple(v.shape)!r}, {dt})")
        return f"v{node.out}"

    def conv2d(self, n: int, node) -> None:
        """im2col with a gather index computed once for this input shape:
        ``cols = take(x_padded, index)`` in eager mode's (N, C*KH*KW, OH*OW)
        layout, then the same GEMM per image into the output (bitwise
        equal). As in eager mode a bias rides in the GEMM: a last row of
        ones in the columns (set once: nothing else writes it) meets a last
        column of the weight matrix holding b (copied each call, so that
        parameters updated in place are seen). Padding is a zero-bordered
        scratch image whose interior is overwritten each call."""
        x, w, *bias = node.inputs
        vx, vw = self.g.values[x], self.g.values[w]
        (sh, sw), (ph, pw) = node.params["stride"], node.params["padding"]
        nb, c, h, wd = vx.shape
        oc, _, kh, kw = vw.shape
        _, _, oh, ow = self.g.values[node.out].shape
        src = f"v{x}"
        if ph or pw:
            xp = self.scratch(f"xp{n}", (nb, c, h + 2 * ph, wd + 2 * pw), vx.dtype, zeros=True)
            inner = self.bind(f"xpi{n}", self.ns[xp][:, :, ph:ph + h, pw:pw + wd])
            self.lines.append(f"np.copyto({inner}, v{x})")
            src = xp
        shape = (nb, c, h + 2 * ph, wd + 2 * pw)
        flat = np.arange(int(np.prod(shape)), dtype=np.intp).reshape(shape)
        win = np.lib.stride_tricks.sliding_window_view(flat, (kh, kw), axis=(2, 3))
        win = win[:, :, ::sh, ::sw][:, :, :oh, :ow]
        index = self.bind(f"ix{n}", np.ascontiguousarray(
            win.transpose(0, 1, 4, 5, 2, 3).reshape(nb, c * kh * kw, oh * ow)))
        k = c * kh * kw
        dtype = np.result_type(vx.dtype, vw.dtype)
        cols = self.scratch(f"cols{n}", (nb, k + len(bias), oh * ow), dtype)
        w2 = self.bind(f"w{n}2d", vw.array.reshape(oc, k)) if vw.array is not None \
            else f"v{w}.reshape({oc}, {k})"
        if bias:
            self.ns[cols][:, k] = 1
            self.lines.append(f"np.take({src}, {index}, "
                              f"out={self.bind(f'cols{n}x', self.ns[cols][:, :k])})")
            wk = self.scratch(f"wk{n}", (oc, k + 1), dtype)
            vb = self.g.values[bias[0]]
            b = self.bind(f"bias{n}", vb.array) if vb.array is not None else f"v{bias[0]}"
            self.lines.append(f"np.copyto({self.bind(f'wk{n}w', self.ns[wk][:, :k])}, {w2})")
            self.lines.append(f"np.copyto({self.bind(f'wk{n}b', self.ns[wk][:, k])}, {b})")
        else:
            self.lines.append(f"np.take({src}, {index}, out={cols})")
            wk = w2
        out = self.result(node)
        # (N, OC, OH*OW) is the (N, OC, OH, OW) output: a GEMM per image into it
        o3 = (self.bind(f"o{n}", self.ns[out].reshape(nb, oc, oh * ow))
              if node.buffer is not None else f"{out}.reshape({nb}, {oc}, {oh * ow})")
        self.lines.append(f"np.matmul({wk}, {cols}, out={o3})")
        self.lines.append(f"v{node.out} = {out}")


    def max_pool2d(self, n: int, node) -> None:
        """Max over each window as ``KH*KW - 1`` ``np.maximum`` calls on
        strided views (no padding): the same values as eager's argmax and
        gather, without the saved indices inference does not need."""
        x = node.inputs[0]
        (kh, kw), (sh, sw) = node.params["kernel"], node.params["stride"]
        _, _, oh, ow = self.g.values[node.out].shape
        out = self.result(node)
        views = [f"v{x}[:, :, {i}:{i + sh * (oh - 1) + 1}:{sh}, {j}:{j + sw * (ow - 1) + 1}:{sw}]"
                 for i in range(kh) for j in range(kw)]
        if len(views) == 1:
            self.lines.append(f"np.copyto({out}, {views[0]})")
        else:
            self.lines.append(f"np.maximum({views[0]}, {views[1]}, out={out})")
            for view in views[2:]:
                self.lines.append(f"np.maximum({out}, {view}, out={out})")
        self.lines.append(f"v{node.out} = {out}")


    def gelu_tanh(self, n: int, node) -> None:
        """``0.5 x (1 + tanh(c (x + a x^3)))``: the NumPy steps of
        ``tinytorch.tensor.kernels.gelu_tanh``, into the buffer, with one
        scratch array for ``t`` (which eager mode allocates and saves)."""
        x = f"v{node.inputs[0]}"
        v = self.g.values[node.out]
        dt = np.dtype(v.dtype).type
        t = self.scratch(f"t{n}", v.shape, v.dtype)
        ca = self.bind(f"ca{n}", dt(kernels.GELU_C * kernels.GELU_A))
        c = self.bind(f"c{n}", dt(kernels.GELU_C))
        one, half = self.bind(f"one{n}", dt(1.0)), self.bind(f"half{n}", dt(0.5))
        y = self.result(node)
        self.lines += [f"np.multiply({x}, {x}, out={t})", f"np.multiply({t}, {ca}, out={t})",
                       f"np.add({t}, {c}, out={t})", f"np.multiply({t}, {x}, out={t})",
                       f"np.tanh({t}, out={t})", f"np.add({t}, {one}, out={y})",
                       f"np.multiply({y}, {x}, out={y})", f"np.multiply({y}, {half}, out={y})",
                       f"v{node.out} = {y}"]

    def layer_norm(self, n: int, node) -> None:
        """LayerNorm over the last axis: the NumPy steps of
        ``tinytorch.nn``'s fused forward (row means as GEMVs by a column of
        ``1/D``), into the buffer, with a scratch for the centred input and
        one for the per-row statistics."""
        x, w, b = (f"v{i}" for i in node.inputs)
        v = self.g.values[node.out]
        d = v.shape[-1]
        eps = node.params["eps"]
        rows = (-1, d)
        n_rows = int(np.prod(v.shape[:-1]))
        xc = self.scratch(f"xc{n}", (n_rows, d), v.dtype)
        st = self.scratch(f"st{n}", (n_rows,), v.dtype)
        st_col = self.bind(f"stc{n}", self.ns[st][:, None])
        means = self.bind(f"mv{n}", np.full(d, 1.0 / d, dtype=v.dtype))
        y = self.result(node)
        self.lines += [f"np.matmul({x}.reshape({rows}), {means}, out={st})",
                       f"np.subtract({x}.reshape({rows}), {st_col}, out={xc})",
                       f"np.multiply({xc}, {xc}, out={y}.reshape({rows}))",
                       f"np.matmul({y}.reshape({rows}), {means}, out={st})",
                       f"np.add({st}, {eps!r}, out={st})", f"np.power({st}, -0.5, out={st})",
                       f"np.multiply({xc}, {st_col}, out={xc})",
                       f"np.multiply({xc}, {w}, out={y}.reshape({rows}))",
                       f"np.add({y}, {b}, out={y})",
                       f"v{node.out} = {y}"]

    def attention(self, n: int, node) -> None:
        """Scaled dot-product attention as tinytorch.transformers computes it
        (scores transposed, ``S^T = K (scale Q)^T``, through the same
        ``kernels.matmul`` products, ``kernels.attention_softmax_`` over the
        keys, shifted or not by the same ``kernels.scores_may_overflow``
        test, then ``P V``), into scratch buffers, bitwise equal. What is
        done once: the blocked-positions mask, inverted and transposed (and
        as an additive bias, for the unshifted softmax), and every view. The
        primitive's ``weights_out`` slot is not written (nothing after the
        op runs)."""
        q, k, v = node.inputs
        vq, vk = self.g.values[q], self.g.values[k]
        dtype = vq.dtype
        scale, mask = node.params["scale"], node.params["mask"]
        batch = np.broadcast_shapes(tuple(vk.shape[:-2]), tuple(vq.shape[:-2]))
        st = self.scratch(f"st{n}", (*batch, vk.shape[-2], vq.shape[-2]), dtype)  # (.., Tk, Tq)
        qs = self.scratch(f"qs{n}", vq.shape, dtype)
        qs_t = self.bind(f"qst{n}", np.swapaxes(self.ns[qs], -1, -2))
        st_t = self.bind(f"stt{n}", np.swapaxes(self.ns[st], -1, -2))
        softmax = self.bind("attention_softmax_", kernels.attention_softmax_)
        may_overflow = self.bind("scores_may_overflow", kernels.scores_may_overflow)
        mm = self.bind("kernels_matmul", kernels.matmul)
        self.lines += [f"np.multiply(v{q}, {scale!r}, out={qs})",
                       f"{mm}(v{k}, {qs_t}, out={st})"]
        blocked, shift = "None", f"{may_overflow}({qs}, v{k})"
        if mask is not None and mask.dtype == np.bool_:
            # Shifted: the masked copy. Not shifted (every score finite): the
            # mask as an additive 0 / -inf bias, one add; the same values.
            blk = np.ascontiguousarray(np.swapaxes(~mask, -1, -2))
            blocked = self.bind(f"blk{n}", blk)
            bias = self.bind(f"bias{n}", np.where(blk, np.dtype(dtype).type(-np.inf),
                                                   np.dtype(dtype).type(0.0)))
            self.lines += [f"if {shift}:", f"    {softmax}({st}, {blocked}, shift=True)",
                           "else:", f"    np.add({st}, {bias}, out={st})",
                           f"    {softmax}({st}, None, shift=False)"]
        else:
            if mask is not None:  # additive: may add positive values, so always shifted
                mt = self.bind(f"mt{n}", np.swapaxes(mask, -1, -2))
                self.lines.append(f"np.add({st}, {mt}, out={st})")
                shift = "True"
            self.lines.append(f"{softmax}({st}, None, shift={shift})")
        out = self.result(node)
        self.lines += [f"{mm}({st_t}, v{v}, out={out})",
                       f"v{node.out} = {out}"]


# The code writer of each planned kernel (passes.py names them); any other
# node is written as a call of its primitive's forward.
_WRITERS = {
    "fused": _Writer.fused, "matmul": _Writer.matmul, "linear": _Writer.linear,
    "conv2d": _Writer.conv2d, "max_pool2d": _Writer.max_pool2d,
    "gelu_tanh": _Writer.gelu_tanh, "layer_norm": _Writer.layer_norm,
    "attention": _Writer.attention,
}


def generate(graph: Graph) -> Replay:
    """Generate the replay function of a planned graph (see the module doc).

    Cost: O(nodes) to write and compile the source, once per specialisation.
    """
    w = _Writer(graph)
    params = [f"a{i}" for i, vi in enumerate(graph.inputs) if vi is not None]
    for i, vi in enumerate(graph.inputs):
        if vi is not None:
            w.lines.append(f"v{vi} = a{i}")
    for n, node in enumerate(graph.nodes):
        kernel = node.kernel
        if kernel == "matmul" and node.buffer is None:
            kernel = None  # a matmul without a planned buffer is an ordinary call
        _WRITERS.get(kernel, _Writer.call)(w, n, node)
    w.lines.append("return (" + "".join(f"v{i}, " for i in graph.outputs) + ")")
    source = f"def replay({', '.join(params)}):\n" + "".join(f"    {s}\n" for s in w.lines)
    exec(compile(source, "<tinytorch.accel replay>", "exec"), w.ns)  # noqa: S102
    return Replay(w.ns["replay"], source, graph)
