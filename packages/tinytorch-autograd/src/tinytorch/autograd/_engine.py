"""The graph recorder and the backward engine.

Recording: a post hook on the tensor dispatch path. When grad mode is on and
any input requires grad, the output gets a :class:`Node` (its ``grad_fn``)
holding the primitive, the input tensors, the output array, the params and
whatever the forward saved.

Backward: an iterative depth-first search orders the nodes topologically (no
recursion, so graphs thousands of ops deep are fine); then each node's
backward rule runs once, in reverse order, after all gradients flowing into
its output have been summed. Leaf tensors accumulate into ``.grad``.
Afterwards the graph is freed (inputs and saved arrays dropped) unless
``retain_graph=True``.

In-place writes: a node records the :attr:`~tinytorch.tensor.Tensor.version`
of each input it may read in backward. If an input was written in place
since (``x[...] = 0``, ``x.data = ...``, an optimizer step), its backward
would use the new values and silently return a wrong gradient, so the
engine raises RuntimeError instead, as PyTorch's version counters do. Ops
whose backward needs only the inputs' shapes (add, sum, reshape, ...) record
no versions and are never refused.

Cost: O(nodes + edges) Python steps; the arithmetic inside the rules is NumPy.
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import HookHandle, HookRegistry, Tensor, wrap

from ._mode import _state

__all__ = ["Node", "backward", "register_backward", "get_backward",
           "register_backward_hook", "active_backward_hooks", "BackwardHookHandle"]

_RULES: dict = {}


def register_backward(op, rule) -> None:
    """Register ``rule`` as the backward of primitive ``op``.

    ``rule(grad, node) -> tuple`` with one entry per input of ``op``: the
    gradient w.r.t. that input (an ndarray of the input's shape) or None.
    ``node.needs[i]`` tells whether input ``i`` wants a gradient, so a rule
    can skip work. Later packages register rules for the primitives they
    define (fused layer norm, conv2d, ...) the same way.
    """
    if not callable(rule):
        raise TypeError("a backward rule must be callable")
    _RULES[op] = rule


def get_backward(op):
    """The registered rule for ``op`` (None if there is none)."""
    return _RULES.get(op)


class Node:
    """One recorded op: what backward needs to compute input gradients.

    Attributes: ``op`` (the Primitive), ``inputs`` (the input Tensors),
    ``out`` (the output ndarray), ``params`` (the op's keyword params),
    ``saved`` (what the forward saved, or None), ``needs`` (per input: does
    it require grad).
    ``versions`` (per input: its version when the op ran, or None when the
    backward rule never reads that input's values).
    """

    __slots__ = ("op", "inputs", "out", "params", "saved", "needs", "versions")

    def __init__(self, op, inputs, out, params, saved, needs, versions=None) -> None:
        self.op = op
        self.inputs = inputs
        self.out = out
        self.params = params
        self.saved = saved
        self.needs = needs
        self.versions = versions

    @property
    def name(self) -> str:
        return self.op.name

    def __repr__(self) -> str:
        return f"<{self.op.name}Backward>"


def record(op, inputs, out, params, saved) -> None:
    """Dispatch post hook: attach a Node to ``out`` when it needs one."""
    if not _state.enabled or not op.differentiable:
        return
    needs = tuple([t.requires_grad for t in inputs])
    if True not in needs:
        return
    out.requires_grad = True
    versions = None if op in _SHAPE_ONLY else tuple([t.version for t in inputs])
    out.grad_fn = Node(op, inputs, out.data, params, saved, needs, versions)


# Primitives whose backward rule reads only the inputs' shapes, never their
# values: an in-place write to one of their inputs cannot change a gradient.
_SHAPE_ONLY: set = set()


def mark_shape_only(op) -> None:
    """Declare that ``op``'s backward rule never reads its inputs' values
    (only shapes and params), so in-place writes to them are harmless and the
    version check skips it. Without this, every input is checked."""
    _SHAPE_ONLY.add(op)


def _check_versions(node: Node) -> None:
    """RuntimeError when an input of ``node`` was written in place after the
    op ran (its backward would read the new values)."""
    for i, (t, then) in enumerate(zip(node.inputs, node.versions)):
        now = t.version
        if now != then:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified "
                f"by an inplace operation: input {i} of '{node.op.name}' (a {t.dtype} tensor "
                f"of shape {t.shape}) is at version {now}; expected version {then} instead. "
                "Write into a copy (.clone()) or do the in-place change before the forward."
            )


# Backward hooks (the profiler's view of the backward pass).
_hooks = HookRegistry("register_backward_hook")


# The one handle class of the stack's hook registries (defined in tinytorch.tensor).
BackwardHookHandle = HookHandle


def register_backward_hook(post=None, *, pre=None) -> HookHandle:
    """Hooks around every backward rule: ``pre(node)`` before it runs and
    ``post(node, grads)`` after. Returns a :class:`tinytorch.tensor.HookHandle`
    (``remove()``, or use it as a context manager).

    Raises:
        ValueError: neither hook given. TypeError: a hook is not callable.
    """
    return _hooks.register(post, pre)


def active_backward_hooks() -> tuple[tuple, tuple]:
    """The registered ``(pre_hooks, post_hooks)`` of the backward pass."""
    return _hooks.pre, _hooks.post


def _accumulate_leaf(t: Tensor, g: np.ndarray) -> None:
    if g.shape != t.data.shape:
        raise RuntimeError(
            f"internal error: gradient of shape {g.shape} for a tensor of shape {t.data.shape}"
        )
    if t.grad is None:
        # Copy: rules may hand the same array to several inputs.
        t.grad = wrap(np.array(g, dtype=t.data.dtype, copy=True))
    else:
        t.grad.data += g


_FREED = ("the graph behind this tensor was freed by an earlier backward(); "
          "pass retain_graph=True to the first backward() to call it again")


def _seed_gradient(tensor: Tensor, gradient) -> np.ndarray:
    """dL/d(tensor) to start from: ``gradient`` checked and cast to the
    output's dtype, or ones for a one-element output (errors: see backward)."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward(): this tensor does not require grad and has no grad_fn "
            "(did you create it under no_grad, or forget requires_grad=True?)"
        )
    if gradient is None:
        if tensor.data.size != 1:
            raise RuntimeError(
                f"backward(): grad can be implicitly created only for one-element outputs; "
                f"this output has shape {tensor.shape}, so pass gradient= of that shape"
            )
        return np.ones_like(tensor.data)
    g = gradient.data if isinstance(gradient, Tensor) else np.asarray(gradient)
    if g.shape != tensor.data.shape:
        raise ValueError(
            f"backward(): gradient has shape {g.shape} but the output has shape "
            f"{tensor.data.shape}"
        )
    return g.astype(tensor.data.dtype, copy=False)


def backward(tensor: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Backpropagate from ``tensor`` (the engine behind ``Tensor.backward``).

    Args:
        tensor: the output to differentiate.
        gradient: dL/d(tensor), same shape; may be omitted for one-element
            outputs (it is then 1).
        retain_graph: keep the graph so backward can run through it again.

    Raises:
        RuntimeError: the tensor does not require grad; a non-scalar output
            without ``gradient``; the graph was already freed; an op without
            a registered backward rule.
        ValueError: ``gradient`` has the wrong shape.
    """
    g = _seed_gradient(tensor, gradient)
    if tensor.grad_fn is None:  # a leaf: d(leaf)/d(leaf) = 1
        _accumulate_leaf(tensor, g)
        return

    order = _topological_order(tensor)
    grads = {id(tensor): g}
    # Keys whose summed gradient is an array this loop allocated: nothing
    # else references it, so further contributions are added in place
    # (a tensor used three times costs one new array, not two).
    owned: set = set()
    pre_hooks, post_hooks = _hooks.pre, _hooks.post
    for t in reversed(order):
        g = grads.pop(id(t), None)
        node = t.grad_fn
        if g is None:
            if not retain_graph:
                _free(node)
            continue
        rule = _RULES.get(node.op)
        if rule is None:
            raise RuntimeError(f"no backward rule is registered for the op '{node.op.name}'")
        if node.versions is not None:
            _check_versions(node)
        for h in pre_hooks:
            h(node)
        in_grads = rule(g, node)
        for h in post_hooks:
            h(node, in_grads)
        for inp, need, gi in zip(node.inputs, node.needs, in_grads):
            if not need or gi is None:
                continue
            if inp.grad_fn is None:
                _accumulate_leaf(inp, gi)
            else:
                key = id(inp)
                prev = grads.get(key)
                if prev is None:
                    grads[key] = gi
                elif key in owned and prev.dtype == np.result_type(prev, gi):
                    prev += gi
                else:
                    grads[key] = prev + gi
                    owned.add(key)
        if not retain_graph:
            _free(node)


def _free(node: Node) -> None:
    node.inputs = None
    node.out = None
    node.saved = None


def _topological_order(root: Tensor) -> list:
    """Non-leaf tensors reachable from ``root``, inputs before outputs."""
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        key = id(t)
        if key in visited:
            continue
        visited.add(key)
        node = t.grad_fn
        if node.inputs is None:
            raise RuntimeError(_FREED)
        stack.append((t, True))
        for inp in node.inputs:
            if inp.grad_fn is not None and id(inp) not in visited:
                stack.append((inp, False))
    return order
