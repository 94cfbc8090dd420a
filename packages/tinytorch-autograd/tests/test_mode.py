"""Grad mode (no_grad, enable_grad, set_grad_enabled) and enable/disable_autograd."""

import numpy as np
import pytest

import tinytorch.autograd as ag
import tinytorch.tensor as tt
from tinytorch.tensor import Tensor


def leaf():
    return Tensor([1.0, 2.0], requires_grad=True)


def test_no_grad_records_no_graph():
    x = leaf()
    with ag.no_grad():
        assert not ag.is_grad_enabled()
        y = x * 2.0
    assert y.grad_fn is None and not y.requires_grad
    assert ag.is_grad_enabled()
    z = x * 2.0
    assert z.grad_fn is not None


def test_no_grad_as_a_decorator():
    @ag.no_grad()
    def infer(t):
        assert not ag.is_grad_enabled()
        return t * 2.0

    y = infer(leaf())
    assert y.grad_fn is None
    assert ag.is_grad_enabled()
    assert infer(leaf()).grad_fn is None  # the decorator works on every call


def test_a_recursive_decorated_function_restores_the_mode():
    @ag.no_grad()
    def depth(n):
        assert not ag.is_grad_enabled()
        return 0 if n == 0 else 1 + depth(n - 1)

    assert depth(3) == 3
    assert ag.is_grad_enabled()


def test_one_instance_entered_twice_restores_the_mode():
    ng = ag.no_grad()
    with ng:
        with ng:
            assert not ag.is_grad_enabled()
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf()
    with ag.no_grad():
        with ag.enable_grad():
            assert ag.is_grad_enabled()
            y = x * 2.0
        assert not ag.is_grad_enabled()
        z = x * 2.0
    assert y.grad_fn is not None and z.grad_fn is None
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_enable_grad_as_a_decorator_inside_no_grad():
    @ag.enable_grad()
    def train_step(t):
        return (t * t).sum()

    x = leaf()
    with ag.no_grad():
        loss = train_step(x)
        assert not ag.is_grad_enabled()
    loss.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_nested_modes_restore_on_exit_and_on_exception():
    states = []
    with ag.no_grad():
        states.append(ag.is_grad_enabled())
        with ag.enable_grad():
            states.append(ag.is_grad_enabled())
            with ag.no_grad():
                states.append(ag.is_grad_enabled())
            states.append(ag.is_grad_enabled())
        states.append(ag.is_grad_enabled())
    states.append(ag.is_grad_enabled())
    assert states == [False, True, False, True, False, True]
    with pytest.raises(KeyError):
        with ag.no_grad():
            raise KeyError
    assert ag.is_grad_enabled()


def test_set_grad_enabled_as_call_context_and_decorator():
    with ag.set_grad_enabled(False):
        assert not ag.is_grad_enabled()
        with ag.set_grad_enabled(True):
            assert ag.is_grad_enabled()
        assert not ag.is_grad_enabled()
    assert ag.is_grad_enabled()

    @ag.set_grad_enabled(False)
    def f():
        return ag.is_grad_enabled()

    assert ag.is_grad_enabled()  # decorating does not switch the mode
    assert f() is False
    assert ag.is_grad_enabled()

    ag.set_grad_enabled(False)  # a plain call switches until told otherwise
    try:
        assert not ag.is_grad_enabled()
        assert (leaf() * 2.0).grad_fn is None
    finally:
        ag.set_grad_enabled(True)
    assert ag.is_grad_enabled()


def test_backward_still_works_for_graphs_built_before_no_grad():
    x = leaf()
    y = (x * 3.0).sum()
    with ag.no_grad():
        y.backward()  # backward itself is allowed under no_grad
    assert x.grad.tolist() == [3.0, 3.0]


# -------------------------------------------------- enable/disable autograd


def _record_hooks():
    return [h for h in tt.active_hooks()[1] if h is ag.record]


def test_disable_autograd_unplugs_recording_and_backward():
    x = leaf()
    ag.disable_autograd()
    ag.disable_autograd()  # idempotent
    assert not ag.is_autograd_enabled()
    assert _record_hooks() == []
    assert tt.get_backward_engine() is None
    y = x * 2.0
    assert y.grad_fn is None and not y.requires_grad  # nothing recorded
    with pytest.raises(RuntimeError, match="tinytorch-autograd"):
        (x * x).sum().backward()

    ag.enable_autograd()
    ag.enable_autograd()  # idempotent: still one hook
    assert ag.is_autograd_enabled()
    assert len(_record_hooks()) == 1
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_disable_then_enable_many_times_keeps_one_hook():
    for _ in range(5):
        ag.disable_autograd()
        ag.enable_autograd()
    assert len(_record_hooks()) == 1
    x = leaf()
    (x * 3.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_disable_leaves_a_foreign_backward_engine_alone():
    def other(tensor, gradient, retain_graph):
        pass

    ag.disable_autograd()
    tt.set_backward_engine(other)
    try:
        ag.disable_autograd()
        assert tt.get_backward_engine() is other
    finally:
        tt.set_backward_engine(None)
        ag.enable_autograd()
    assert tt.get_backward_engine() is ag.backward


def test_a_graph_recorded_before_disable_can_backward_after_enable():
    x = leaf()
    y = (x * np.float32(4.0)).sum()
    ag.disable_autograd()
    ag.enable_autograd()
    y.backward()
    assert x.grad.tolist() == [4.0, 4.0]
