"""Version counter, in-place methods and validated ``.data`` assignment."""

import numpy as np
import pytest

from tinytorch.tensor import Tensor, ones


def test_new_tensors_start_at_version_zero():
    assert Tensor([1.0]).version == 0
    assert (ones(3) + 1).version == 0


@pytest.mark.parametrize("write", [
    lambda t: t.__setitem__(0, 5.0),
    lambda t: setattr(t, "data", np.zeros(3, np.float32)),
    lambda t: t.bump_version(),
    lambda t: t.zero_(),
    lambda t: t.fill_(1.5),
    lambda t: t.copy_([1.0, 2.0, 3.0]),
    lambda t: t.add_(Tensor([1.0, 1.0, 1.0]), alpha=2),
    lambda t: t.mul_(2.0),
])
def test_every_in_place_write_bumps_the_version(write):
    t = Tensor([1.0, 2.0, 3.0])
    write(t)
    assert t.version == 1
    write(t)
    assert t.version == 2


def test_in_place_methods_compute_and_return_self():
    t = Tensor([1.0, 2.0, 3.0])
    assert t.add_([1.0, 1.0, 1.0], alpha=2).mul_(2.0) is t
    np.testing.assert_array_equal(t.data, [6.0, 8.0, 10.0])
    t.copy_(np.float32(7.0))
    np.testing.assert_array_equal(t.data, [7.0, 7.0, 7.0])
    assert t.zero_().data.sum() == 0


def test_version_is_read_only():
    with pytest.raises(AttributeError):
        Tensor([1.0]).version = 3


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.add_(np.ones(4)), ValueError, "does not broadcast"),
    (lambda t: t.copy_(np.ones((2, 3))), ValueError, "does not broadcast"),
    (lambda t: t.fill_([1, 2]), ValueError, "scalar"),
])
def test_in_place_shape_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(Tensor([1.0, 2.0, 3.0]))


def test_fractional_into_integer_tensor_is_a_type_error():
    t = Tensor([1, 2, 3])
    with pytest.raises(TypeError, match="int64"):
        t.fill_(1.5)
    assert t.version == 0


def test_in_place_methods_refuse_graph_tensors():
    t = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        t.zero_()


@pytest.mark.parametrize("value, match", [
    ([1.0, 2.0], "numpy.ndarray"),
    (Tensor([1.0]), "numpy.ndarray"),
    (np.array(["a", "b"]), "numeric"),
    (np.array([object()]), "numeric"),
])
def test_data_assignment_checks_type_and_dtype(value, match):
    t = Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=match):
        t.data = value
    assert t.version == 0


def test_data_assignment_keeps_float_for_grad_tensors():
    t = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        t.data = np.array([1, 2])
    t.data = np.array([3.0, 4.0])  # float64 is fine: a float
    assert t.version == 1


def test_numpy_scalar_data_is_accepted():
    t = Tensor(1.0)
    t.data = np.float32(2.0)
    assert isinstance(t.data, np.ndarray) and t.item() == 2.0
