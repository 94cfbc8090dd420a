"""Observers against torch.ao.quantization's: the same (scale, zero_point)."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.quant import (  # noqa: E402
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
)

warnings.filterwarnings("ignore", category=DeprecationWarning)
tq = torch.ao.quantization
RNG = np.random.default_rng(0)
BATCHES = [(RNG.normal(size=(16, 8)) * 3 + 1).astype(np.float32) for _ in range(4)]


def _feed(ours, theirs, batches):
    for b in batches:
        ours.observe(b)
        theirs(torch.from_numpy(b))
    s, z = ours.calculate_qparams()
    ts, tz = theirs.calculate_qparams()
    return np.asarray(s), np.asarray(z), ts.numpy(), tz.numpy()


@pytest.mark.parametrize("dtype,symmetric", [("uint8", False), ("int8", False),
                                             ("int8", True)])
def test_minmax_observer_matches_torch(dtype, symmetric):
    scheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    theirs = tq.MinMaxObserver(dtype=torch.quint8 if dtype == "uint8" else torch.qint8,
                               qscheme=scheme)
    s, z, ts, tz = _feed(MinMaxObserver(dtype=dtype, symmetric=symmetric), theirs, BATCHES)
    assert np.allclose(s, ts.reshape(()), rtol=1e-6) and int(z) == int(tz.reshape(()))


def test_moving_average_observer_matches_torch():
    theirs = tq.MovingAverageMinMaxObserver(averaging_constant=0.1, dtype=torch.quint8)
    s, z, ts, tz = _feed(MovingAverageMinMaxObserver(0.1, dtype="uint8"), theirs, BATCHES)
    assert np.allclose(s, ts.reshape(()), rtol=1e-5) and int(z) == int(tz.reshape(()))


def test_per_channel_symmetric_observer_matches_torch():
    theirs = tq.PerChannelMinMaxObserver(ch_axis=0, dtype=torch.qint8,
                                         qscheme=torch.per_channel_symmetric)
    s, z, ts, tz = _feed(PerChannelMinMaxObserver(axis=0), theirs, BATCHES)
    assert np.allclose(s, ts, rtol=1e-6) and np.array_equal(z, tz)
