"""init.skip_init: build a module without drawing its initial values."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.nn import BatchNorm2d, Conv2d, Linear, Sequential, init
from tinytorch.tensor import Tensor, manual_seed


def test_no_draws_and_a_working_module():
    manual_seed(0)
    expected = Linear(4, 3).weight.data.copy()
    manual_seed(0)
    skipped = init.skip_init(Linear, 4, 3)
    assert skipped.weight.shape == (3, 4) and skipped.weight.data.dtype == np.float32
    fresh = Linear(4, 3)  # the default generator was not advanced by skip_init
    np.testing.assert_array_equal(fresh.weight.data, expected)
    skipped.load_state_dict({"weight": np.ones((3, 4)), "bias": np.zeros(3)})
    np.testing.assert_array_equal(skipped(Tensor(np.ones((2, 4), np.float32))).data, 4.0)


def test_only_inside_the_call_and_buffers_still_set():
    model = init.skip_init(Sequential, Conv2d(1, 2, 3), BatchNorm2d(2))  # children built outside
    assert np.abs(model[0].weight.data).sum() > 0
    bn = init.skip_init(BatchNorm2d, 3)
    np.testing.assert_array_equal(bn.running_var.data, 1.0)
    t = init.normal_(Tensor(np.zeros(5, np.float32)))
    assert np.abs(t.data).sum() > 0  # back to normal after the call


def test_errors():
    with pytest.raises(TypeError, match="module class"):
        init.skip_init(Linear(2, 2))
    with pytest.raises(ValueError):
        init.skip_init(Linear, 0, 3)  # the constructor's own checks still run
