"""The backward engine on small cases whose gradients are known exactly."""

import gc

import numpy as np
import pytest

import tinytorch.autograd as ag
import tinytorch.tensor as tt
from tinytorch.tensor import Primitive, Tensor, apply, ops


def leaf(values, dtype=np.float64):
    return Tensor(values, dtype=dtype, requires_grad=True)


# ----------------------------------------------------------- the graph


def test_recorded_node_describes_the_op():
    x = leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0], dtype=np.float64)
    y = x * c
    node = y.grad_fn
    assert isinstance(node, ag.Node)
    assert node.op is ops.MUL and node.name == "mul" and repr(node) == "<mulBackward>"
    assert node.inputs[0] is x and node.inputs[1] is c
    assert node.needs == (True, False)
    np.testing.assert_array_equal(node.out, y.data)
    assert y.requires_grad and not y.is_leaf and x.is_leaf
    assert "grad_fn=<mul>" in repr(y)


def test_ops_on_constants_record_nothing():
    y = Tensor([1.0]) * 2.0
    assert y.grad_fn is None and not y.requires_grad


def test_non_differentiable_ops_record_nothing():
    x = leaf([1.0, -2.0])
    for out in (x > 0, x == x, x.argmax(), x.argmin()):
        assert out.grad_fn is None and not out.requires_grad


def test_simple_chain_rule():
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x * 3.0 + x).sum()  # dy/dx = 6x + 1
    y.backward()
    assert x.grad.tolist() == [7.0, 13.0, 19.0]


def test_unused_input_gets_no_gradient():
    x, unused, via_compare = leaf([1.0, 2.0]), leaf([3.0, 4.0]), leaf([5.0, 6.0])
    mask = via_compare > 5.5  # non-differentiable: no path for gradients
    y = (tt.where(mask, x, 0.0) * 2.0).sum()
    y.backward()
    assert x.grad.tolist() == [0.0, 2.0]
    assert unused.grad is None
    assert via_compare.grad is None


@pytest.mark.parametrize("fn, expected", [
    (lambda x: x * x, [2.0, 4.0]),  # 2x
    (lambda x: x + x, [2.0, 2.0]),
    (lambda x: x - x, [0.0, 0.0]),
    (lambda x: x * x * x, [3.0, 12.0]),  # 3x^2
    (lambda x: (x * 2.0) + (x * 3.0) + x.exp().log(), [6.0, 6.0]),  # three branches
    (lambda x: tt.concat([x, x, x]), [3.0, 3.0]),
    (lambda x: tt.stack([x, x * 2.0]), [3.0, 3.0]),
    (lambda x: x @ x, [2.0, 4.0]),
])
def test_a_reused_input_accumulates(fn, expected):
    x = leaf([1.0, 2.0])
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, expected)


def test_a_reused_intermediate_accumulates_before_its_rule_runs():
    x = leaf([2.0])
    h = x * 3.0  # dz/dh = 2h + 1 = 13 ; dh/dx = 3
    z = h * h + h
    calls = []
    with ag.register_backward_hook(pre=lambda node: calls.append(node.name)):
        z.backward()
    assert x.grad.tolist() == [39.0]
    assert calls.count("mul") == 2 and calls.count("add") == 1  # h's rule ran once


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0, 8.0]
    (x * 10.0).sum().backward()
    assert x.grad.tolist() == [14.0, 18.0]
    x.zero_grad()
    (x * 10.0).sum().backward()
    assert x.grad.tolist() == [10.0, 10.0]


def test_leaf_grad_is_a_copy_not_an_alias():
    x, y = leaf([1.0]), leaf([2.0])
    (x + y).sum().backward()  # add hands the same array to both inputs
    x.grad.data += 100.0
    assert y.grad.tolist() == [1.0]


def test_backward_on_a_non_scalar_without_gradient_is_a_clear_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"one-element.*\(2,\)"):
        (x * 2.0).backward()


def test_backward_on_a_one_element_non_scalar_is_allowed():
    x = leaf([[3.0]])
    (x * x).backward()
    assert x.grad.tolist() == [[6.0]]


def test_explicit_gradient_is_used_and_may_be_array_or_list():
    x = leaf([1.0, 2.0])
    (x * 3.0).backward(Tensor([1.0, 10.0], dtype=np.float64))
    assert x.grad.tolist() == [3.0, 30.0]
    x.zero_grad()
    (x * 3.0).backward(np.array([2.0, 0.0]))
    assert x.grad.tolist() == [6.0, 0.0]
    x.zero_grad()
    (x * 3.0).backward([1.0, 1.0])
    assert x.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("grad_shape", [(3,), (2, 1), (), (1, 2)])
def test_wrong_gradient_shape_is_a_value_error(grad_shape):
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"shape"):
        (x * 2.0).backward(np.ones(grad_shape))


def test_backward_on_a_tensor_without_grad_is_a_clear_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


def test_backward_on_a_leaf():
    x = leaf([1.0, 2.0])
    x.backward(np.array([5.0, 6.0]))
    assert x.grad.tolist() == [5.0, 6.0]


def test_freed_graph_raises_and_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    x.zero_grad()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.tolist() == [6.0, 12.0]
    with pytest.raises(RuntimeError, match="freed"):
        z.backward()


def test_backward_frees_saved_arrays():
    x = leaf([1.0, 2.0])
    h = x.gelu()
    y = h.sum()
    y.backward()
    assert h.grad_fn.inputs is None and h.grad_fn.saved is None and h.grad_fn.out is None


def test_backward_through_part_of_a_graph():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    a = (h * 3.0).sum()
    b = (h * 5.0).sum()
    a.backward(retain_graph=True)
    assert x.grad.tolist() == [6.0, 6.0]
    b.backward()
    assert x.grad.tolist() == [16.0, 16.0]


def test_deep_chain_has_no_recursion_limit():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad.data, [1.0001 ** 10_000], rtol=1e-9)


def test_deep_retained_graph_can_be_dropped():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y + 1.0
    y.backward(retain_graph=True)
    assert x.grad.tolist() == [1.0]
    del y  # a 10_000-deep chain of nodes is released without a crash
    gc.collect()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_grad_has_the_shape_and_dtype_of_data(dtype):
    x = Tensor(np.ones((2, 3)), dtype=dtype, requires_grad=True)
    b = Tensor(np.ones(3), dtype=dtype, requires_grad=True)
    ((x * 2.0 + b).sigmoid() * 3).mean().backward()
    assert x.grad.dtype == dtype and x.grad.shape == (2, 3)
    assert b.grad.dtype == dtype and b.grad.shape == (3,)
    assert isinstance(x.grad, Tensor) and not x.grad.requires_grad


def test_float32_grad_through_a_float64_cast_comes_back_float32():
    x = leaf([1.0, 2.0], dtype=np.float32)
    (x.double() * 3.0).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0]


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.data is x.data
    y = (x * 2.0 + d * 3.0 + (x * 4.0).detach()).sum()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]
    assert d.grad is None


def test_requires_grad_on_integer_tensors_is_refused():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError, match="floating-point"):
        Tensor([1, 2], requires_grad=True)


def test_requires_grad_false_stops_recording():
    x = leaf([1.0]).requires_grad_(False)
    assert (x * 2.0).grad_fn is None


def test_integer_inputs_mixed_with_float_leaves():
    x = leaf([1.0, 2.0])
    idx = Tensor([1, 1, 0])
    (x[idx] * Tensor([1, 2, 3])).sum().backward()  # int tensor is cast, gets no grad
    assert x.grad.tolist() == [3.0, 3.0]


# -------------------------------------------------- exact rule corner cases


@pytest.mark.parametrize("fn, x, expected", [
    (lambda x: x.max(), [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),  # ties share (torch.amax)
    (lambda x: x.min(), [2.0, 2.0, 2.0, 5.0], [1 / 3, 1 / 3, 1 / 3, 0.0]),
    (lambda x: x.reshape(2, 2).max(axis=1), [1.0, 1.0, 0.0, 2.0], [0.5, 0.5, 0.0, 1.0]),
    (lambda x: tt.maximum(x, Tensor([1.0, 1.0, 1.0], dtype=np.float64)),
     [0.0, 1.0, 2.0], [0.0, 0.5, 1.0]),
    (lambda x: tt.minimum(x, 1.0), [0.0, 1.0, 2.0], [1.0, 0.5, 0.0]),
    (lambda x: x.relu(), [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),  # relu'(0) = 0
    (lambda x: x.abs(), [-1.0, 0.0, 2.0], [-1.0, 0.0, 1.0]),
    (lambda x: x.clip(0.0, 1.0), [-1.0, 0.0, 1.0, 2.0], [0.0, 1.0, 1.0, 0.0]),  # bounds pass
    (lambda x: x[[0, 0, 2, 0]], [1.0, 2.0, 3.0], [3.0, 0.0, 1.0]),  # duplicates add up
    (lambda x: x.reshape(2, 2)[[1, 1], [0, 0]], [1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 2.0, 0.0]),
    (lambda x: x[np.array([True, False, True])], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0]),
    (lambda x: x[::-2], [1.0, 2.0, 3.0], [1.0, 0.0, 1.0]),
    (lambda x: x.var(correction=0) * 3.0, [1.0, 2.0, 3.0], [-2.0, 0.0, 2.0]),
    (lambda x: x.mean(), [1.0, 2.0, 3.0, 4.0], [0.25] * 4),
])
def test_exact_gradients(fn, x, expected):
    t = leaf(x)
    fn(t).sum().backward()
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12)


def test_pow_exponent_gradient_at_zero_base_is_zero_not_nan():
    base = leaf([0.0, 2.0])
    p = leaf([2.0, 3.0])
    (base ** p).sum().backward()
    np.testing.assert_allclose(p.grad.data, [0.0, 8.0 * np.log(2.0)])
    np.testing.assert_allclose(base.grad.data, [0.0, 12.0])


def test_softmax_with_minus_inf_entries_has_finite_gradients():
    x = leaf([[-np.inf, 0.0, 1.0], [2.0, 3.0, -np.inf]])
    w = Tensor(np.arange(6.0).reshape(2, 3), dtype=np.float64)
    (x.softmax() * w).sum().backward()
    assert np.all(np.isfinite(x.grad.data))
    assert x.grad.data[0, 0] == 0.0 and x.grad.data[1, 2] == 0.0
    x.zero_grad()
    ls = x.log_softmax()
    ls[[0, 1], [2, 0]].sum().backward()  # pick finite entries (a cross-entropy)
    assert np.all(np.isfinite(x.grad.data))
    assert x.grad.data[0, 0] == 0.0 and x.grad.data[1, 2] == 0.0


def test_split_pieces_backpropagate_into_one_gradient():
    x = leaf(np.arange(6.0))
    a, b, c = x.split(2)
    (a * 1.0 + b * 2.0 + c * 3.0).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]


def test_unbroadcast_matches_a_reference():
    rng = np.random.default_rng(0)
    g = rng.standard_normal((4, 2, 3))
    np.testing.assert_allclose(ag.unbroadcast(g, (3,)), g.sum(axis=(0, 1)))
    np.testing.assert_allclose(ag.unbroadcast(g, (2, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_allclose(ag.unbroadcast(g, (1, 1, 1)), g.sum().reshape(1, 1, 1))
    np.testing.assert_allclose(ag.unbroadcast(g, ()), g.sum())
    assert ag.unbroadcast(g, g.shape) is g


@pytest.mark.parametrize("axis, keepdims", [(None, False), (None, True), (1, False),
                                            ((0, 2), False), ((0, 2), True)])
def test_expand_reduced(axis, keepdims):
    x = np.zeros((2, 3, 4))
    g = np.sum(np.ones((2, 3, 4)), axis=axis, keepdims=keepdims)
    out = ag.expand_reduced(g, x.shape, axis, keepdims)
    assert out.shape == x.shape
    np.testing.assert_array_equal(out, np.broadcast_to(
        np.sum(np.ones((2, 3, 4)), axis=axis, keepdims=True), x.shape))


@pytest.mark.parametrize("index", [[0, 0, 3, 1, 3, 3], [], [4], [2, 1, 0]])
def test_scatter_add_rows_matches_np_add_at(index):
    rng = np.random.default_rng(0)
    index = np.array(index, dtype=np.int64)
    g = rng.standard_normal((len(index), 3)).astype(np.float32)
    expected = np.zeros((5, 3), np.float32)
    np.add.at(expected, index, g)
    out = ag.scatter_add_rows(5, index, g)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)


# ------------------------------------------------- rules and backward hooks


def test_a_primitive_without_a_rule_raises_at_backward():
    prim = Primitive("no_rule_yet", lambda x: x * 2)
    y = apply(prim, (leaf([1.0]),), {})
    assert y.grad_fn is not None
    with pytest.raises(RuntimeError, match="no_rule_yet"):
        y.sum().backward()


def test_register_backward_extends_autograd_with_a_new_primitive():
    def _fwd(x, *, alpha):
        return np.where(x > 0, x, alpha * x)

    leaky = Primitive("leaky_relu_test", _fwd)
    ag.register_backward(leaky, lambda g, node: (
        g * np.where(node.inputs[0].data > 0, 1.0, node.params["alpha"]),))
    assert ag.get_backward(leaky) is not None
    x = leaf([-2.0, 3.0])
    apply(leaky, (x,), {"alpha": 0.1}).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.1, 1.0])
    xs = leaf(np.random.default_rng(0).uniform(0.2, 2, 5) * [-1, 1, -1, 1, 1])
    assert ag.gradcheck(lambda t: leaky(t, alpha=0.3), [xs])


def test_register_backward_rejects_non_callables():
    with pytest.raises(TypeError, match="callable"):
        ag.register_backward(Primitive("x", np.negative), "not a rule")


def test_backward_hooks_fire_once_per_node_in_reverse_order():
    x = leaf([1.0, 2.0])
    h = x * x  # one mul node, used twice below
    z = (h + h).sum()
    pre, post = [], []

    def on_post(node, grads):
        post.append((node.name, len(grads)))

    with ag.register_backward_hook(on_post, pre=lambda node: pre.append(node.name)):
        z.backward()
    assert pre == ["sum", "add", "mul"]
    assert post == [("sum", 1), ("add", 2), ("mul", 2)]
    assert x.grad.tolist() == [4.0, 8.0]


def test_backward_hook_sees_the_rule_outputs_and_can_be_removed():
    x = leaf([3.0])
    seen = []
    handle = ag.register_backward_hook(lambda node, grads: seen.append(grads[0].tolist()))
    (x * 2.0).sum().backward()
    handle.remove()
    handle.remove()  # idempotent
    (x * 2.0).sum().backward()
    assert seen == [[1.0], [2.0]]


def test_nodes_no_gradient_reaches_do_not_fire_hooks():
    x = leaf([1.0])
    c = Tensor([2.0], dtype=np.float64, requires_grad=True)
    y = x * 3.0
    side = (c * 5.0).sum()  # not part of y's graph
    fired = []
    with ag.register_backward_hook(pre=lambda node: fired.append(node.name)):
        y.sum().backward()
    assert fired == ["sum", "mul"]
    assert c.grad is None and side.grad_fn is not None


def test_register_backward_hook_needs_a_hook():
    with pytest.raises(ValueError, match="hook"):
        ag.register_backward_hook()


# ------------------------------------------------------------ gradcheck


def test_gradcheck_detects_a_wrong_rule():
    square = Primitive("square_wrong_rule", lambda x: x * x)
    ag.register_backward(square, lambda g, node: (g * node.inputs[0].data,))  # should be 2x
    x = leaf([0.5, -1.5, 2.0])
    with pytest.raises(ag.GradcheckError, match="mismatch") as info:
        ag.gradcheck(lambda t: square(t), [x])
    assert "input 0" in str(info.value)
    ag.register_backward(square, lambda g, node: (2.0 * g * node.inputs[0].data,))
    assert ag.gradcheck(lambda t: square(t), [x])


def test_gradcheck_detects_a_missing_gradient():
    cut = Primitive("cut_gradient", lambda x, y: x * y)
    ag.register_backward(cut, lambda g, node: (g * node.inputs[1].data, None))
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    with pytest.raises(ag.GradcheckError, match="input 1 received no gradient"):
        ag.gradcheck(lambda x, y: cut(x, y), [a, b])


def test_gradcheck_detects_a_wrong_gradient_shape():
    bad = Primitive("bad_shape_rule", lambda x: x.sum(axis=0))
    ag.register_backward(bad, lambda g, node: (np.broadcast_to(g, (5,) + g.shape)[:1],))
    x = leaf(np.ones((3, 2)))
    with pytest.raises((ag.GradcheckError, RuntimeError)):
        ag.gradcheck(lambda t: bad(t), [x])


def test_gradcheck_works_on_non_contiguous_inputs():
    a = np.random.default_rng(0).standard_normal((3, 4)).T  # a transposed view
    x = Tensor(a, dtype=np.float64, requires_grad=True)
    assert not x.data.flags.c_contiguous
    assert ag.gradcheck(lambda t: (t * t).sum(axis=0), [x])
    np.testing.assert_array_equal(x.data, a)  # perturbations were undone


def test_gradcheck_leaves_inputs_unchanged_and_skips_constants():
    x = leaf([0.3, 0.7])
    c = Tensor([2.0, 3.0], dtype=np.float64)
    before = x.data.copy()
    assert ag.gradcheck(lambda a, b: a * b, [x, c])
    np.testing.assert_array_equal(x.data, before)
    assert c.grad is None


@pytest.mark.parametrize("fn, inputs, exc, word", [
    (lambda t: t, [Tensor([1.0], requires_grad=True)], ValueError, "float64"),
    (lambda t: t, [np.ones(2)], TypeError, "not a Tensor"),
    (lambda t: t, [Tensor([1.0], dtype=np.float64)], ValueError, "no input requires grad"),
    (lambda t: t.data, [Tensor([1.0], dtype=np.float64, requires_grad=True)], TypeError,
     "must return a Tensor"),
    (lambda t: t.detach() * 2.0, [Tensor([1.0], dtype=np.float64, requires_grad=True)],
     ag.GradcheckError, "does not require grad"),
])
def test_gradcheck_argument_errors(fn, inputs, exc, word):
    with pytest.raises(exc, match=word):
        ag.gradcheck(fn, inputs)


def test_gradcheck_accepts_a_single_tensor():
    assert ag.gradcheck(lambda t: t.exp(), leaf([0.1, 0.2]))


def test_backward_hooks_return_the_dispatch_handle_class():
    def post(node, grads):
        return None

    handle = ag.register_backward_hook(post)
    assert type(handle) is tt.HookHandle
    assert ag.BackwardHookHandle is tt.HookHandle  # old name kept
    assert handle.post is post and handle.pre is None and handle.active
    assert post in ag.active_backward_hooks()[1]
    tt.remove_hook(handle)  # the dispatch API removes it too
    assert not handle.active and post not in ag.active_backward_hooks()[1]


@pytest.mark.parametrize("pre, post", [(1, None), (None, "f")])
def test_backward_hook_that_is_not_callable_is_a_type_error(pre, post):
    with pytest.raises(TypeError, match="callable"):
        ag.register_backward_hook(post, pre=pre)
