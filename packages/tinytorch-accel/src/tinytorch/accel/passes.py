"""The passes: each takes a :class:`Graph` and returns a new one.

    captured graph
      └─ dead_code_elimination   drop nodes no output depends on
      └─ fold_constants          run now what reads only params/consts
      └─ fuse_elementwise        chains of ufuncs -> one in-place sequence
      └─ plan_buffers            preallocate outputs, reuse dead buffers

Each pass is a plain function ``Graph -> Graph`` that leaves its argument
unchanged, so a test can run one pass alone and look at the result. Every
pass is O(nodes + edges). None of them reorders floating-point arithmetic:
fused chains run the same ufuncs in the same order, into a buffer instead of
a fresh array, so a replay is bitwise equal to eager mode for every kernel
except ``matmul`` on a stack of rows (see :mod:`.codegen`).
"""

from __future__ import annotations

import numpy as np

from tinytorch.nn import CONV2D, LAYER_NORM, LINEAR, MAX_POOL2D
from tinytorch.tensor import kernels, ops

from .graph import Graph, Node, ParamInput, Value

__all__ = ["dead_code_elimination", "fold_constants", "fuse_elementwise", "plan_buffers",
           "UFUNCS", "PASSES", "run_passes"]

# Primitives whose forward is exactly one NumPy ufunc call: replay may call
# the ufunc with ``out=``. RELU's forward is ``np.maximum(x, 0)``.
UFUNCS = {
    ops.ADD: np.add, ops.SUB: np.subtract, ops.MUL: np.multiply, ops.DIV: np.true_divide,
    ops.POW: np.power, ops.NEG: np.negative, ops.EXP: np.exp, ops.LOG: np.log,
    ops.SQRT: np.sqrt, ops.ABS: np.abs, ops.MAXIMUM: np.maximum, ops.MINIMUM: np.minimum,
    ops.TANH: np.tanh, ops.RELU: np.maximum,
}

# Primitives whose forward returns an array that shares memory with an input
# (a view). Any primitive not known to return a fresh array is treated so.
_FRESH = set(UFUNCS) | {ops.MATMUL, LINEAR, CONV2D, MAX_POOL2D, LAYER_NORM, ops.SUM,
                        ops.MEAN, ops.MAX, ops.MIN, ops.VAR, ops.CONCAT, ops.STACK, ops.CLIP,
                        ops.WHERE, ops.CLONE, ops.SIGMOID, ops.GELU, ops.SOFTMAX,
                        ops.LOG_SOFTMAX}
# (A node given a buffer kernel by plan_buffers writes a fresh buffer too.)


def _has_param_input(params: dict) -> bool:
    def walk(v):
        if isinstance(v, ParamInput):
            return True
        return isinstance(v, tuple) and any(walk(x) for x in v)
    return any(walk(v) for v in params.values())


# ------------------------------------------------------------------- DCE


def dead_code_elimination(graph: Graph) -> Graph:
    """Drop every node whose output no graph output depends on.

    Sound because every primitive is a pure function of its inputs (capture
    refuses forwards that write in place). O(nodes + edges).
    """
    g = graph.copy()
    live = set(g.outputs)
    kept = []
    for node in reversed(g.nodes):
        if node.out in live:
            kept.append(node)
            live.update(node.inputs)
    g.nodes = kept[::-1]
    return g


# ---------------------------------------------------------- constant folding


def fold_constants(graph: Graph) -> Graph:
    """Evaluate now every node that reads only parameters and constants.

    A weight's transpose, reshape or cast, a slice of a positional table at a
    fixed offset: their results become constants, so a replay never redoes
    them. The folded value depends on the parameters it read; the compiled
    model's guards check those parameters (identity and version counter) on
    every call and retrace when one changed. A node reading a call argument
    (directly or as a keyword parameter, like token ids) is never folded.
    Cost: one forward of each folded node, now.
    """
    g = graph.copy()
    kept = []
    for node in g.nodes:
        sources = [g.values[i] for i in node.inputs]
        if node.inputs and all(v.kind in ("param", "const") for v in sources) \
                and not _has_param_input(node.params):
            result = node.op.forward(*[v.array for v in sources], **node.params)
            arr = np.asarray(result[0] if node.op.saves else result)
            # A view op (permute, reshape of a weight) gives a view of the
            # parameter's array; a computation (a cast) gives a snapshot.
            g.values[node.out] = Value("const", f"fold:{node.op.name}", arr.shape, arr.dtype,
                                       arr)
        else:
            kept.append(node)
    g.nodes = kept
    return g


# ---------------------------------------------------------------- fusion


def _uses(g: Graph) -> dict[int, int]:
    counts: dict[int, int] = {}
    for node in g.nodes:
        for i in node.inputs:
            counts[i] = counts.get(i, 0) + 1
    for i in g.outputs:
        counts[i] = counts.get(i, 0) + 1
    return counts


def fuse_elementwise(graph: Graph) -> Graph:
    """Merge chains of elementwise ufunc nodes into one ``fused`` node.

    ``y = relu(x * s + b)`` is three primitives and two temporaries in eager
    mode; fused, it is ``np.multiply(x, s, out=buf); np.add(buf, b, out=buf);
    np.maximum(buf, 0, out=buf)``: one buffer, written in place, same
    arithmetic in the same order (bitwise equal). A node joins the chain that
    produced one of its inputs when that input has no other use, is not a
    graph output, and has the node's output shape and dtype (so the buffer
    can hold every step). The fused node runs where the chain's last op ran.
    O(nodes).
    """
    g = graph.copy()
    uses = _uses(g)
    chain_end: dict[int, Node] = {}  # value index -> fused node ending there
    out_nodes: list[Node | None] = []
    position: dict[int, int] = {}  # id(fused node) -> index in out_nodes
    for node in g.nodes:
        if node.op not in UFUNCS:
            out_nodes.append(node)
            continue
        me = g.values[node.out]
        joined = None
        for i in node.inputs:
            head = chain_end.get(i)
            v = g.values[i]
            if head is not None and uses.get(i, 0) == 1 and node.inputs.count(i) == 1 \
                    and v.shape == me.shape and v.dtype == me.dtype:
                joined = head
                break
        if joined is None:
            fused = Node(node.op, list(node.inputs), {}, node.out, kernel="fused",
                         chain=[(node.op, list(node.inputs), dict(node.params), node.out)])
        else:
            del chain_end[joined.out]
            out_nodes[position.pop(id(joined))] = None  # moves down to this position
            fused = joined
            fused.chain.append((node.op, list(node.inputs), dict(node.params), node.out))
            fused.inputs += [i for i in node.inputs if i not in fused.inputs
                             and i != joined.out]
            fused.out = node.out
        chain_end[fused.out] = fused
        position[id(fused)] = len(out_nodes)
        out_nodes.append(fused)
    g.nodes = [n for n in out_nodes if n is not None]
    for n in g.nodes:
        internal = {step[3] for step in n.chain[:-1]}
        n.inputs = [i for i in n.inputs if i not in internal]
    return g


# ------------------------------------------------------------ buffer planning


def _writes_into_buffer(g: Graph, node: Node) -> str | None:
    """The kernel that lets ``node`` write into a preallocated buffer, or None."""
    if node.kernel == "fused":
        return "fused"
    if node.op is ops.MATMUL:
        a, b = (g.values[i] for i in node.inputs)
        return "matmul" if len(a.shape) >= 2 and len(b.shape) >= 2 else None
    if node.op is LINEAR:
        return "linear"
    if node.op is CONV2D and len(g.values[node.inputs[0]].shape) == 4:
        return "conv2d"
    if node.op is MAX_POOL2D and node.params.get("padding") in ((0, 0), 0):
        return "max_pool2d"
    # The elementwise kernels below repeat tinytorch.tensor's NumPy formulas
    # step by step (bitwise equal); with the numexpr backend they are left alone.
    numpy_backend = kernels.get_backend() == "numpy"
    if node.op is ops.GELU and node.params.get("approximate") == "tanh" and numpy_backend:
        return "gelu_tanh"
    if node.op.name == "scaled_dot_product_attention" and _plain_attention(g, node):
        return "attention"
    if node.op is LAYER_NORM and node.params.get("n_axes") == 1 \
            and node.params.get("has_weight") and node.params.get("has_bias"):
        return "layer_norm"
    return None


def _plain_attention(g: Graph, node: Node) -> bool:
    """tinytorch.transformers' attention primitive (found by its name: this
    package does not depend on transformers) without dropout, with a
    constant mask or none, on float Q, K, V of one dtype."""
    p = node.params
    if set(p) != {"mask", "scale", "dropout_mask", "weights_out"} or len(node.inputs) != 3:
        return False
    dtypes = {np.dtype(g.values[i].dtype) for i in node.inputs}
    mask = p["mask"]
    return p["dropout_mask"] is None and len(dtypes) == 1 and dtypes.pop().kind == "f" \
        and (mask is None or isinstance(mask, np.ndarray))


def plan_buffers(graph: Graph) -> Graph:
    """Give every output a kernel can write into a preallocated buffer, and
    reuse a buffer once every value that may alias it is dead.

    Aliasing is conservative: the output of a primitive not known to return
    a fresh array (reshape, permute, getitem, ... and any primitive of
    another package) may be a view of its inputs, so it keeps their buffers
    alive. The values a forward returns (and anything they may alias) get no
    buffer: a caller keeps its results across calls, so those are allocated
    fresh on every call, as in eager mode. Buffers are matched by exact
    ``(shape, dtype)``. O(nodes + edges).
    """
    g = graph.copy()
    roots: dict[int, set[int]] = {}  # value -> buffered values it may alias
    for node in g.nodes:
        node.kernel = _writes_into_buffer(g, node) or "call"
        if node.kernel != "call":
            roots[node.out] = {node.out}
        elif node.op in _FRESH:
            roots[node.out] = set()
        else:
            roots[node.out] = set().union(*(roots.get(i, set()) for i in node.inputs))
    escaping = set().union(*(roots.get(i, set()) for i in g.outputs))
    # A buffer is live until the last read of any value that may alias it
    # (the value itself, or a view made of it later).
    last: dict[int, int] = {}
    for pos, node in enumerate(g.nodes):
        for i in (*node.inputs, node.out):
            for r in roots.get(i, ()):
                last[r] = pos
    free: dict[tuple, list[int]] = {}
    releases: dict[int, list[int]] = {}
    g.buffers = []
    for pos, node in enumerate(g.nodes):
        for buf_key, buf in releases.pop(pos - 1, []):
            free.setdefault(buf_key, []).append(buf)
        if node.kernel == "call" or node.out in escaping:
            node.buffer = None
            continue
        v = g.values[node.out]
        key = (tuple(v.shape), np.dtype(v.dtype).str)
        pool = free.get(key)
        if pool:
            node.buffer = pool.pop()
        else:
            g.buffers.append((tuple(v.shape), np.dtype(v.dtype)))
            node.buffer = len(g.buffers) - 1
        releases.setdefault(last.get(node.out, pos), []).append((key, node.buffer))
    return g


PASSES = (dead_code_elimination, fold_constants, fuse_elementwise, plan_buffers)


def run_passes(graph: Graph, passes=PASSES) -> Graph:
    """Apply ``passes`` in order (each ``Graph -> Graph``)."""
    for p in passes:
        graph = p(graph)
    return graph
