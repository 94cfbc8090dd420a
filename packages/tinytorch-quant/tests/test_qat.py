"""Fake quantization with a straight-through estimator; prepare_qat / convert."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.quant import (
    QATLinear,
    QuantizedLinear,
    WeightOnlyLinear,
    convert,
    fake_quantize,
    prepare_qat,
)
from tinytorch.tensor import Tensor, manual_seed

RNG = np.random.default_rng(0)


def test_fake_quantize_forward_is_quantize_then_dequantize():
    x = Tensor(np.array([-2.0, -0.26, 0.0, 0.24, 0.26, 5.0], np.float32))
    y = fake_quantize(x, 0.1, 0, -10, 10)
    assert np.allclose(y.data, [-1.0, -0.3, 0.0, 0.2, 0.3, 1.0])


def test_straight_through_gradient_passes_inside_and_stops_where_clamped():
    x = Tensor(np.array([-2.0, -0.26, 0.0, 0.24, 0.26, 5.0], np.float32), requires_grad=True)
    y = fake_quantize(x, 0.1, 0, -10, 10)
    (y * Tensor(np.arange(1, 7, dtype=np.float32))).sum().backward()
    assert x.grad.tolist() == [0.0, 2.0, 3.0, 4.0, 5.0, 0.0]


def test_gradcheck_where_the_derivative_is_defined():
    # In the clamped region the function is constant: its true derivative 0
    # is what the rule returns. (Inside the grid rounding is piecewise
    # constant, so the STE is by design not the derivative there.)
    x = Tensor(np.concatenate([RNG.uniform(2, 3, 5), RNG.uniform(-3, -2, 5)]),
               dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda t: fake_quantize(t, 0.1, 0, -10, 10), [x])
    # Composed with a differentiable op: d/dw sum(fq(x) * w) = fq(x), exact.
    w = Tensor(RNG.normal(size=10), dtype=np.float64, requires_grad=True)
    xc = Tensor(RNG.normal(size=10), dtype=np.float64)
    assert gradcheck(lambda t: (fake_quantize(xc, 0.1, 0, -10, 10) * t).sum(), [w])


@pytest.mark.parametrize("kwargs,match", [
    (dict(scale=0.0), "scale"), (dict(scale=float("nan")), "scale"),
    (dict(zero_point=20), "zero_point"), (dict(qmin=5, qmax=5, zero_point=5), "qmin < qmax"),
])
def test_fake_quantize_rejects_bad_parameters(kwargs, match):
    args = dict(scale=0.1, zero_point=0, qmin=-10, qmax=10) | kwargs
    with pytest.raises(ValueError, match=match):
        fake_quantize(Tensor(np.ones(3, np.float32)), **args)


def mlp():
    manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


@pytest.mark.parametrize("bits,group_size,cls", [(8, None, QuantizedLinear),
                                                 (4, None, WeightOnlyLinear),
                                                 (4, 32, WeightOnlyLinear)])
def test_convert_holds_exactly_the_weights_qat_trained_through(bits, group_size, cls):
    model = mlp()
    qat = prepare_qat(model, bits=bits, group_size=group_size)
    assert all(type(m) is not QATLinear for m in model.modules())
    assert len(list(qat.parameters())) == 4
    x = Tensor(RNG.normal(size=(16, 64)).astype(np.float32))
    out = qat(x)
    out.sum().backward()
    assert all(p.grad is not None for p in qat.parameters())
    q = convert(qat)
    assert all(type(q[i]) is cls for i in (0, 2))
    if bits == 4:  # weight-only: the same float weights, so the same outputs
        assert np.allclose(q(x).data, qat(x).data, atol=1e-5)
        assert np.array_equal(q[0].dequantized_weight(), qat[0].quantized_weight().data)
    else:
        deq = q[0].weight_int8.data.astype(np.float32) * q[0].weight_scale.data[:, None]
        assert np.array_equal(deq, qat[0].quantized_weight().data)


def test_qat_errors():
    with pytest.raises(ValueError, match="nothing to quantize"):
        prepare_qat(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        prepare_qat(mlp(), bits=2)
    with pytest.raises(ValueError, match="multiple of group_size"):
        prepare_qat(mlp(), bits=4, group_size=48)
    with pytest.raises(ValueError, match="prepare_qat first"):
        convert(mlp())


def _mlp_and_batches():
    manual_seed(3)
    model = nn.Sequential(nn.Linear(16, 24), nn.ReLU(), nn.Linear(24, 4))
    return model, [RNG.normal(size=(32, 16)).astype(np.float32) for _ in range(3)]


@pytest.mark.parametrize("bits,abits,cls", [(4, 4, WeightOnlyLinear), (4, 8, WeightOnlyLinear),
                                            (8, 8, QuantizedLinear)])
def test_activation_quantized_qat_converts_to_what_it_trained_through(bits, abits, cls):
    """W4A4 / W4A8 / W8A8: the QAT layer fake-quantizes its input on a grid
    calibrated once; the converted model rounds its inputs onto the same
    grid, so it computes what the QAT model computed (up to float32 order)."""
    model, calib = _mlp_and_batches()
    qat = prepare_qat(model, bits=bits, activation_bits=abits, calibration_data=calib)
    lin = [m for m in qat.modules() if isinstance(m, QATLinear)]
    assert all(m.activation_bits == abits and m.input_scale.data > 0 for m in lin)
    assert lin[1].input_zero_point.data == 0  # after a ReLU the range starts at 0
    x = Tensor(RNG.normal(size=(20, 16)).astype(np.float32))
    q = convert(qat.eval())
    layers = [m for m in q.modules() if isinstance(m, cls)]
    assert len(layers) == 2
    if cls is WeightOnlyLinear:
        assert all(m.activation_bits == abits for m in layers)
    np.testing.assert_allclose(q(x).data, qat(x).data, rtol=1e-4, atol=1e-4)
    # the input really is rounded: coarser than the weight-only model's
    plain = convert(prepare_qat(model, bits=bits).eval())
    assert not np.allclose(q(x).data, plain(x).data, atol=1e-6)


def test_the_activation_grid_rounds_the_input_of_a_weight_only_layer():
    model, calib = _mlp_and_batches()
    q = convert(prepare_qat(model, bits=4, activation_bits=4, calibration_data=calib).eval())
    first = q[0]
    s, zp = float(first.input_scale.data), int(first.input_zero_point.data)
    x = RNG.normal(size=(5, 16)).astype(np.float32)
    codes = np.clip(np.rint(x * np.float32(1 / np.float32(s))) + zp, 0, 15) - zp
    ref = (codes.astype(np.float32) * np.float32(s)) @ first.dequantized_weight().T
    ref += first.bias.data
    np.testing.assert_allclose(first(Tensor(x)).data, ref, rtol=1e-5, atol=1e-5)
    assert first.forward_rows(x[:1]).shape == (1, 24)
    np.testing.assert_array_equal(first.forward_rows(x), first(Tensor(x)).data)


def test_activation_qat_errors():
    model, calib = _mlp_and_batches()
    with pytest.raises(ValueError, match="activation_bits must be None, 4 or 8"):
        prepare_qat(model, bits=4, activation_bits=3, calibration_data=calib)
    with pytest.raises(ValueError, match="needs calibration_data"):
        prepare_qat(model, bits=4, activation_bits=4)
    with pytest.raises(ValueError, match="calibration_data is empty"):
        prepare_qat(model, bits=4, activation_bits=4, calibration_data=[])
    with pytest.raises(ValueError, match="observer must be one of"):
        prepare_qat(model, bits=4, activation_bits=4, calibration_data=calib, observer="x")
