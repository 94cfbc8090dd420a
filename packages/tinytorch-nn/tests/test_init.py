"""nn.init: in place, seeded, the right scale for each scheme."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.nn import init
from tinytorch.tensor import Generator, Tensor


def param(*shape):
    return nn.Parameter(np.zeros(shape, np.float32))


def test_fans_follow_the_package_layouts():
    assert init.fan_in_and_fan_out((256, 784)) == (784, 256)  # Linear: (out, in)
    assert init.fan_in_and_fan_out((16, 3, 5, 5)) == (75, 400)  # Conv: (out, in, kh, kw)
    with pytest.raises(ValueError):
        init.fan_in_and_fan_out((5,))


# (name, call, expected std): wide tensors, so the sample std is close to it
SCHEMES = [
    ("uniform", lambda p, g: init.uniform_(p, -2, 2, generator=g), 4 / math.sqrt(12)),
    ("normal", lambda p, g: init.normal_(p, 0, 0.5, generator=g), 0.5),
    ("xavier_uniform", lambda p, g: init.xavier_uniform_(p, generator=g),
     math.sqrt(2 / (400 + 300))),
    ("xavier_normal", lambda p, g: init.xavier_normal_(p, gain=2.0, generator=g),
     2 * math.sqrt(2 / (400 + 300))),
    ("kaiming_uniform_relu", lambda p, g: init.kaiming_uniform_(
        p, nonlinearity="relu", generator=g), math.sqrt(2 / 300)),  # (out, in): fan_in 300
    ("kaiming_normal_fan_out", lambda p, g: init.kaiming_normal_(
        p, mode="fan_out", nonlinearity="relu", generator=g), math.sqrt(2 / 400)),
]


@pytest.mark.parametrize("name, call, std", SCHEMES, ids=[s[0] for s in SCHEMES])
def test_scheme_scale_in_place_and_seeded(name, call, std):
    p = param(400, 300)
    array = p.data
    out = call(p, Generator(7))
    assert out is p and p.data is array and p.dtype == np.float32
    assert abs(p.data.std() - std) / std < 0.03
    q = call(param(400, 300), Generator(7))
    np.testing.assert_array_equal(p.data, q.data)


def test_constants_and_errors():
    p = param(3, 2)
    assert np.all(init.ones_(p).data == 1) and np.all(init.zeros_(p).data == 0)
    assert np.all(init.constant_(p, 2.5).data == 2.5)
    with pytest.raises(TypeError):
        init.normal_(np.zeros(3))
    with pytest.raises(TypeError):
        init.uniform_(Tensor(np.zeros(3, dtype=np.int64)))
    with pytest.raises(ValueError):
        init.kaiming_uniform_(p, mode="fan_avg")
    with pytest.raises(ValueError):
        init.calculate_gain("swish")
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
