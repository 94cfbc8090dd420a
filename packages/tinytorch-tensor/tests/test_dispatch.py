"""The one dispatch path: apply(), Primitive, and the pre/post hooks.

Another package (autograd) may have registered its own hooks in the same
process; every test here counts only the calls of its own hooks.
"""

import numpy as np
import pytest

import tinytorch.tensor as tt
from tinytorch.tensor import Primitive, Tensor, active_hooks, apply, ops, register_hook, remove_hook


class Recorder:
    """A pre and a post hook that remember what they saw."""

    def __init__(self):
        self.pre_calls = []
        self.post_calls = []

    def pre(self, op, inputs, params):
        self.pre_calls.append((op, inputs, params))

    def post(self, op, inputs, output, params, saved):
        self.post_calls.append((op, inputs, output, params, saved))


@pytest.fixture
def rec():
    r = Recorder()
    handle = register_hook(r.post, pre=r.pre)
    yield r
    handle.remove()


# (description, call on (a, b) -> result, expected primitive, expected params)
ONE_OP_CASES = [
    ("a + b", lambda a, b: a + b, ops.ADD, {}),
    ("tt.sub", lambda a, b: tt.sub(a, b), ops.SUB, {}),
    ("a * b", lambda a, b: a * b, ops.MUL, {}),
    ("a / b", lambda a, b: a / b, ops.DIV, {}),
    ("a ** b", lambda a, b: a ** b, ops.POW, {}),
    ("a @ b.T", None, ops.MATMUL, {}),
    ("a < b", lambda a, b: a < b, ops.LT, {}),
    ("maximum", lambda a, b: tt.maximum(a, b), ops.MAXIMUM, {}),
    ("-a", lambda a, b: -a, ops.NEG, {}),
    ("exp", lambda a, b: a.exp(), ops.EXP, {}),
    ("sum", lambda a, b: a.sum(axis=1, keepdims=True), ops.SUM, {"axis": 1, "keepdims": True}),
    ("var", lambda a, b: a.var(0), ops.VAR, {"axis": 0, "keepdims": False, "correction": 1}),
    ("argmax", lambda a, b: a.argmax(-1), ops.ARGMAX, {"axis": 1, "keepdims": False}),
    ("reshape", lambda a, b: a.reshape(-1), ops.RESHAPE, {"shape": (6,)}),
    ("squeeze", lambda a, b: a.unsqueeze(0), ops.RESHAPE, {"shape": (1, 2, 3)}),
    ("transpose", lambda a, b: a.transpose(), ops.PERMUTE, {"axes": (1, 0)}),
    ("getitem", lambda a, b: a[0, 1:], ops.GETITEM, {"index": (0, slice(1, None))}),
    ("clip", lambda a, b: a.clip(0.0, 1.0), ops.CLIP, {"min": 0.0, "max": 1.0}),
    ("gelu", lambda a, b: a.gelu(), ops.GELU, {"approximate": "tanh"}),
    ("softmax", lambda a, b: a.softmax(), ops.SOFTMAX, {"axis": 1}),
    ("expand", lambda a, b: a.expand(4, 2, 3), ops.BROADCAST_TO, {"shape": (4, 2, 3)}),
    ("astype", lambda a, b: a.double(), ops.ASTYPE, {"dtype": np.dtype(np.float64)}),
]


@pytest.mark.parametrize("desc, call, op, params", ONE_OP_CASES, ids=[c[0] for c in ONE_OP_CASES])
def test_hooks_called_once_per_op_with_op_inputs_and_params(rec, desc, call, op, params):
    a = Tensor(np.arange(1.0, 7.0).reshape(2, 3))
    b = Tensor(np.full((2, 3), 2.0))
    out = (a @ b.T) if call is None else call(a, b)
    if call is None:  # b.T is itself an op; keep only the matmul
        rec.pre_calls = rec.pre_calls[1:]
        rec.post_calls = rec.post_calls[1:]
    assert len(rec.pre_calls) == 1 and len(rec.post_calls) == 1
    pre_op, pre_inputs, pre_params = rec.pre_calls[0]
    post_op, post_inputs, post_out, post_params, saved = rec.post_calls[0]
    assert pre_op is op and post_op is op
    assert pre_inputs[0] is a and post_inputs[0] is a  # the very input tensors
    if call is not None and op.name in ("add", "sub", "mul", "div", "pow", "lt", "maximum"):
        assert pre_inputs[1] is b
    assert post_out is out  # the post hook sees the returned tensor
    assert pre_params == params and post_params == params
    assert saved is None if op is not ops.GELU else isinstance(saved, np.ndarray)


def test_scalar_operand_is_a_tensor_input(rec):
    a = Tensor([1.0, 2.0])
    a * 3.0
    (op, inputs, _) = rec.pre_calls[0]
    assert op is ops.MUL and inputs[0] is a and isinstance(inputs[1], Tensor)
    assert inputs[1].item() == 3.0 and inputs[1].dtype == np.float32


def test_mixed_dtype_binary_goes_through_astype_first(rec):
    Tensor([1, 2]) + Tensor([0.5, 0.5])
    assert [c[0] for c in rec.post_calls] == [ops.ASTYPE, ops.ADD]


def test_split_dispatches_one_getitem_per_piece(rec):
    tt.split(Tensor(np.zeros((5, 2))), 2)
    assert [c[0] for c in rec.post_calls] == [ops.GETITEM] * 3


def test_pre_runs_before_forward_and_post_after():
    events = []

    def forward(x):
        events.append("forward")
        return x * 2

    prim = Primitive("double_it", forward)
    with tt.hooks(lambda *a: events.append("post"), pre=lambda *a: events.append("pre")):
        out = prim(Tensor([1.0]))
    assert events == ["pre", "forward", "post"]
    assert out.tolist() == [2.0]


def test_hooks_run_in_registration_order():
    seen = []
    h1 = register_hook(lambda *a: seen.append(1))
    h2 = register_hook(lambda *a: seen.append(2))
    try:
        Tensor([1.0]) + 1.0
    finally:
        h1.remove()
        h2.remove()
    assert seen == [1, 2]


def test_remove_stops_calls_and_is_idempotent():
    r = Recorder()
    handle = register_hook(r.post, pre=r.pre)
    assert r.pre in active_hooks()[0] and r.post in active_hooks()[1]
    Tensor([1.0]) + 1.0
    handle.remove()
    handle.remove()  # a second remove is a no-op
    remove_hook(handle)
    Tensor([1.0]) + 1.0
    assert len(r.pre_calls) == 1 and len(r.post_calls) == 1
    assert r.pre not in active_hooks()[0] and r.post not in active_hooks()[1]


def test_same_function_registered_twice_is_called_twice_and_removed_once():
    calls = []

    def hook(*args):
        calls.append(1)

    h1 = register_hook(hook)
    h2 = register_hook(hook)
    Tensor([1.0]).exp()
    assert len(calls) == 2
    h1.remove()
    Tensor([1.0]).exp()
    assert len(calls) == 3
    h2.remove()
    Tensor([1.0]).exp()
    assert len(calls) == 3


def test_pre_only_and_post_only_hooks():
    pre_seen, post_seen = [], []
    with tt.hooks(pre=lambda op, inputs, params: pre_seen.append(op.name)):
        Tensor([1.0]).exp()
    with tt.hooks(lambda op, inputs, out, params, saved: post_seen.append(op.name)):
        Tensor([1.0]).log()
    assert pre_seen == ["exp"] and post_seen == ["log"]


def test_context_manager_removes_hooks_even_on_exception():
    r = Recorder()
    before = active_hooks()
    with pytest.raises(ZeroDivisionError):
        with tt.hooks(r.post, pre=r.pre):
            Tensor([1.0]) + 1.0
            raise ZeroDivisionError
    assert active_hooks() == before
    Tensor([1.0]) + 1.0
    assert len(r.post_calls) == 1


def test_handle_is_a_context_manager():
    r = Recorder()
    with register_hook(r.post) as handle:
        Tensor([1.0]) + 1.0
    assert not handle._active
    Tensor([1.0]) + 1.0
    assert len(r.post_calls) == 1


def test_a_hook_may_remove_itself_while_running():
    calls = []

    def once(op, inputs, out, params, saved):
        calls.append("once")
        handle.remove()

    def other(op, inputs, out, params, saved):
        calls.append("other")

    handle = register_hook(once)
    other_handle = register_hook(other)
    try:
        Tensor([1.0]) + 1.0  # `once` removes itself; `other` still runs for this op
        Tensor([1.0]) + 1.0
    finally:
        other_handle.remove()
    assert calls == ["once", "other", "other"]


def test_a_hook_registered_while_running_starts_with_the_next_op():
    calls = []
    handles = []

    def late(*args):
        calls.append("late")

    def registrar(*args):
        calls.append("registrar")
        if not handles:
            handles.append(register_hook(late))

    h = register_hook(registrar)
    try:
        Tensor([1.0]).exp()
        Tensor([1.0]).exp()
    finally:
        h.remove()
        handles[0].remove()
    assert calls == ["registrar", "registrar", "late"]


def test_an_exception_in_forward_skips_post_hooks():
    r = Recorder()
    with tt.hooks(r.post, pre=r.pre):
        with pytest.raises(ValueError):
            Tensor(np.zeros(3)) + Tensor(np.zeros(4))
    assert len(r.pre_calls) == 1 and r.post_calls == []


@pytest.mark.parametrize("args, kwargs, exc", [
    ((), {}, ValueError),
    ((42,), {}, TypeError),
    ((), {"pre": "not callable"}, TypeError),
])
def test_register_hook_validates(args, kwargs, exc):
    before = active_hooks()
    with pytest.raises(exc):
        register_hook(*args, **kwargs)
    assert active_hooks() == before


def test_remove_hook_rejects_non_handles():
    with pytest.raises(TypeError, match="HookHandle"):
        remove_hook(lambda: None)


# ------------------------------------------------------------ primitives


def test_custom_primitive_with_params_saved_and_flops():
    def fwd(x, *, scale):
        return x * scale, {"scale_used": scale}

    prim = Primitive("scale", fwd, saves=True, flops=lambda ins, out, p: 7 * out.size)
    r = Recorder()
    with tt.hooks(r.post, pre=r.pre):
        out = apply(prim, (Tensor([1.0, 2.0]),), {"scale": 3.0})
    assert out.tolist() == [3.0, 6.0] and isinstance(out, Tensor)
    op, inputs, o, params, saved = r.post_calls[0]
    assert op is prim and params == {"scale": 3.0} and saved == {"scale_used": 3.0}
    assert prim.flops([inputs[0].data], o.data, params) == 14
    assert repr(prim) == "Primitive('scale')"


def test_primitive_defaults_and_numpy_scalar_results():
    prim = Primitive("total", lambda x: np.sum(x))  # NumPy returns a scalar, not an array
    out = prim(Tensor([1.0, 2.0, 3.0]))
    assert isinstance(out.data, np.ndarray) and out.shape == () and out.item() == 6.0
    assert prim.differentiable and not prim.saves
    assert prim.flops([np.zeros(3)], np.zeros(()), {}) == 1  # one per output element
    cmp = Primitive("cmp", np.less, differentiable=False)
    assert cmp.flops([np.zeros(3)], np.zeros(3), {}) == 0


def test_primitives_registry():
    assert tt.PRIMITIVES["add"] is ops.ADD and tt.PRIMITIVES["matmul"] is ops.MATMUL
    assert all(isinstance(p, Primitive) and p.name == n for n, p in tt.PRIMITIVES.items())
    not_diff = {n for n, p in tt.PRIMITIVES.items() if not p.differentiable}
    assert not_diff == {"eq", "ne", "lt", "le", "gt", "ge", "argmax", "argmin"}
    assert len(tt.PRIMITIVES) == len({id(p) for p in tt.PRIMITIVES.values()})


@pytest.mark.parametrize("op, inputs, expected", [
    (ops.MATMUL, [np.zeros((2, 3)), np.zeros((3, 4))], 2 * 2 * 4 * 3),
    (ops.MATMUL, [np.zeros((5, 2, 3)), np.zeros((3, 4))], 2 * 5 * 2 * 4 * 3),
    (ops.ADD, [np.zeros((2, 3)), np.zeros(3)], 6),
    (ops.SUM, [np.zeros((4, 5))], 20),
    (ops.RESHAPE, [np.zeros((4, 5))], 0),
    (ops.EQ, [np.zeros(3), np.zeros(3)], 0),
])
def test_flop_counts(op, inputs, expected):
    out = apply(op, tuple(Tensor(a) for a in inputs),
                {"axis": None, "keepdims": False} if op is ops.SUM
                else {"shape": (20,)} if op is ops.RESHAPE else {})
    assert op.flops(inputs, out.data, {}) == expected
