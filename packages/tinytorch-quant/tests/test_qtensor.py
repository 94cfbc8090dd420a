"""Quantized tensors and observers: the affine map, its error bound, bad input."""

import numpy as np
import pytest

from tinytorch.quant import (
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
    qparams_from_range,
    quantize_per_channel,
    quantize_per_tensor,
)
from tinytorch.tensor import Tensor

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype,zp", [("int8", 0), ("int8", -7), ("uint8", 128), ("uint8", 3)])
def test_roundtrip_error_is_at_most_half_a_step_inside_the_range(dtype, zp):
    scale = 0.037
    x = RNG.normal(size=4000).astype(np.float32)
    q = quantize_per_tensor(x, scale, zp, dtype)
    assert q.int_repr().dtype == np.dtype(dtype)
    back = q.dequantize().data
    qmin, qmax = (-128, 127) if dtype == "int8" else (0, 255)
    inside = (x >= (qmin - zp) * scale) & (x <= (qmax - zp) * scale)
    assert inside.sum() > 1000
    assert np.max(np.abs(back[inside] - x[inside])) <= scale / 2 * (1 + 1e-6)
    # outside the range the value is clamped to the end of the grid
    assert np.all(back[~inside] == np.where(x[~inside] > 0, (qmax - zp) * np.float32(scale),
                                            (qmin - zp) * np.float32(scale)))


def test_per_channel_uses_each_channel_scale():
    x = RNG.normal(size=(3, 5, 4)).astype(np.float32) * np.array([1, 10, 100])[:, None, None]
    scales = np.abs(x).reshape(3, -1).max(axis=1) / 127
    q = quantize_per_channel(x, scales, [0, 0, 0], axis=0)
    err = np.abs(q.dequantize().data - x)
    assert np.all(err <= scales[:, None, None] / 2 * (1 + 1e-5))
    assert q.axis == 0 and q.scale.shape == (3,)


BAD_TENSOR = [
    (dict(scale=0.0), ValueError, "scale"),
    (dict(scale=-0.1), ValueError, "scale"),
    (dict(scale=float("nan")), ValueError, "scale"),
    (dict(scale="0.1"), TypeError, "scale"),
    (dict(zero_point=128), ValueError, "zero_point 128 is out of range"),
    (dict(zero_point=-1, dtype="uint8"), ValueError, "zero_point -1"),
    (dict(zero_point=0.5), TypeError, "zero_point"),
    (dict(dtype="int4"), ValueError, "dtype"),
    (dict(x=np.arange(3)), TypeError, "floating-point"),
    (dict(x=np.array([1.0, np.inf])), ValueError, "NaN or infinite"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD_TENSOR)
def test_quantize_per_tensor_rejects_bad_input(kwargs, exc, match):
    args = dict(x=np.ones(3, np.float32), scale=0.1, zero_point=0, dtype="int8") | kwargs
    with pytest.raises(exc, match=match):
        quantize_per_tensor(**args)


BAD_CHANNEL = [
    (dict(axis=2), IndexError, "axis 2 is out of range"),
    (dict(axis=-3), IndexError, "axis -3"),
    (dict(axis=1.0), TypeError, "axis"),
    (dict(scales=[0.1, 0.0]), ValueError, "scale"),
    (dict(scales=[0.1, 0.1, 0.1]), ValueError, r"shape \(2,\)"),
    (dict(zero_points=[0, 300]), ValueError, "zero_point 300"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD_CHANNEL)
def test_quantize_per_channel_rejects_bad_input(kwargs, exc, match):
    args = dict(x=np.ones((2, 3), np.float32), scales=[0.1, 0.2], zero_points=[0, 0],
                axis=0) | kwargs
    with pytest.raises(exc, match=match):
        quantize_per_channel(**args)


def test_tensor_input_and_dequantize_dtype():
    q = quantize_per_tensor(Tensor([0.5, -0.25]), 0.25, 1, "uint8")
    assert q.int_repr().tolist() == [3, 0]
    assert q.dequantize().dtype == np.float32
    assert q.dequantize().tolist() == [0.5, -0.25]


# ------------------------------------------------------------------ observers

@pytest.mark.parametrize("symmetric", [False, True])
def test_minmax_qparams_cover_the_range_and_zero(symmetric):
    obs = MinMaxObserver(dtype="int8", symmetric=symmetric)
    obs.observe(np.array([-1.0, 0.5], np.float32))
    obs.observe(np.array([3.0], np.float32))
    scale, zp = obs.calculate_qparams()
    if symmetric:
        assert zp == 0 and scale == pytest.approx(3.0 / 127.5)
    else:
        assert scale == pytest.approx(4.0 / 255)
        assert zp == -128 - round(-1.0 / float(scale))
    q = quantize_per_tensor(np.array([-1.0, 0.0, 3.0], np.float32), scale, int(zp))
    assert q.dequantize().data[1] == 0.0  # zero is exactly representable
    assert np.allclose(q.dequantize().data, [-1, 0, 3], atol=float(scale) / 2 + 1e-7)


def test_moving_average_moves_towards_new_batches():
    obs = MovingAverageMinMaxObserver(averaging_constant=0.5)
    obs.observe(np.array([0.0, 1.0], np.float32))
    obs.observe(np.array([0.0, 3.0], np.float32))
    assert obs.hi == pytest.approx(2.0)


def test_per_channel_observer_gives_one_scale_per_channel():
    w = np.array([[1.0, -2.0], [0.1, 0.05]], np.float32)
    obs = PerChannelMinMaxObserver(axis=0)
    obs.observe(w)
    scale, zp = obs.calculate_qparams()
    assert scale.shape == (2,) and np.all(zp == 0)
    assert np.allclose(scale, [2.0 / 127.5, 0.1 / 127.5])


def test_histogram_observer_clips_outliers():
    x = np.concatenate([RNG.normal(size=100000), [1000.0]]).astype(np.float32)
    hist, mm = HistogramObserver(percentile=99.9), MinMaxObserver()
    for o in (hist, mm):
        o.observe(x[:50000])
        o.observe(x[50000:])
    assert hist.calculate_qparams()[0] < mm.calculate_qparams()[0] / 50


@pytest.mark.parametrize("make", [MinMaxObserver, MovingAverageMinMaxObserver,
                                  PerChannelMinMaxObserver, HistogramObserver])
def test_observer_errors(make):
    obs = make()
    with pytest.raises(ValueError, match="nothing observed"):
        obs.calculate_qparams()
    with pytest.raises(TypeError):
        obs.observe([1, 2])
    with pytest.raises(ValueError, match="empty"):
        obs.observe(np.zeros((0, 2), np.float32))


def test_qparams_from_range_degenerate_range_keeps_a_positive_scale():
    scale, zp = qparams_from_range(0.0, 0.0)
    assert scale > 0 and zp == -128
