"""In-place writes after the forward: backward refuses instead of returning
a gradient computed from the new values (PyTorch's version counters)."""

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401  (enables autograd)
from tinytorch.tensor import Tensor

STALE = "modified by an inplace operation"


def _setitem(x):
    x[...] = 0


def _assign_data(x):
    x.data = np.zeros_like(x.data)


def _bump(x):
    x.data[...] = 0  # a direct write, then the documented notice
    x.bump_version()


@pytest.mark.parametrize("write", [_setitem, _assign_data, _bump,
                                   lambda x: x.zero_(), lambda x: x.fill_(2.0),
                                   lambda x: x.add_(1.0), lambda x: x.mul_(3.0),
                                   lambda x: x.copy_(np.ones(3, np.float32))])
def test_write_after_forward_makes_backward_raise(write):
    # The repro: w.grad used to be silently [0, 0, 0].
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = Tensor([4.0, 5.0, 6.0])
    loss = (w * x).sum()
    write(x)
    with pytest.raises(RuntimeError, match=STALE) as info:
        loss.backward()
    assert "is at version 1; expected version 0" in str(info.value)
    assert w.grad is None


def test_write_before_forward_is_fine():
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = Tensor([4.0, 5.0, 6.0])
    x[...] = 1.0
    (w * x).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("op", [lambda w, x: (w + x).sum(), lambda w, x: (w - x).sum(),
                                lambda w, x: (w + x[:2].sum()).sum()])
def test_ops_whose_backward_reads_only_shapes_are_not_refused(op):
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = Tensor([4.0, 5.0, 6.0])
    loss = op(w, x)
    x[...] = 0
    loss.backward()
    assert w.grad is not None


def test_optimizer_like_step_on_a_saved_leaf_is_caught_on_second_backward():
    w = Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    w.data -= 0.1 * w.grad.data  # assigning .data bumps the version
    with pytest.raises(RuntimeError, match="input 0 of 'mul'"):
        loss.backward()


def test_recording_keeps_versions_per_node():
    w = Tensor([1.0], requires_grad=True)
    x = Tensor([2.0])
    x[...] = 5.0
    y = w * x
    assert y.grad_fn.versions == (0, 1)
    assert (w + x).grad_fn.versions is None  # add reads shapes only
