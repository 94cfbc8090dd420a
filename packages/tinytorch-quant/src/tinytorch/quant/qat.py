"""Quantization-aware training: train through the rounding, then convert.

``prepare_qat`` swaps every ``Linear`` for a :class:`QATLinear`, which keeps
float weights (trainable Parameters) but uses, in its forward, their
*fake-quantized* values: quantize then dequantize, so the loss sees exactly
the weights the converted model will hold.

Rounding has derivative 0 almost everywhere, which would stop learning. The
straight-through estimator (Bengio et al., 2013) passes the gradient through
the rounding unchanged inside the representable range and blocks it where
the value was clamped:

    forward:  y = (clamp(rint(x / s + zp), qmin, qmax) - zp) * s
    backward: dL/dx = dL/dy * [qmin <= rint(x / s + zp) <= qmax]

``FAKE_QUANTIZE`` is a primitive like any other, and that rule is registered
with ``tinytorch.autograd.register_backward``. ``convert`` then builds the
quantized model from the trained weights.
"""

from __future__ import annotations

import copy

import numpy as np

from tinytorch.autograd import register_backward
from tinytorch.nn import Embedding, Linear, Module, Parameter
from tinytorch.nn import functional as F
from tinytorch.tensor import Primitive, Tensor, apply

from .modules import (
    QuantizedEmbedding,
    QuantizedLinear,
    WeightOnlyEmbedding,
    WeightOnlyLinear,
    _check_bits,
)
from .observers import qparams_from_range
from .quantize import _observe_inputs

__all__ = ["FAKE_QUANTIZE", "fake_quantize", "QATLinear", "prepare_qat", "convert"]


def _fake_quant_fwd(x, scale, *, zero_point, qmin, qmax):
    inv = np.asarray(1.0 / scale, dtype=x.dtype)
    t = np.rint(x * inv + x.dtype.type(zero_point))
    inside = (t >= qmin) & (t <= qmax)
    np.clip(t, qmin, qmax, out=t)
    return ((t - zero_point) * scale).astype(x.dtype, copy=False), inside


def _fake_quant_bwd(g, node):
    # Straight-through inside the grid, zero where clamped; the scale is a
    # statistic of the weights, not trained (no gradient).
    return (g * node.saved if node.needs[0] else None), None


FAKE_QUANTIZE = Primitive("fake_quantize", _fake_quant_fwd, saves=True,
                          flops=lambda inputs, out, params: int(4 * out.size))
register_backward(FAKE_QUANTIZE, _fake_quant_bwd)


def fake_quantize(x: Tensor, scale, zero_point: int, qmin: int, qmax: int) -> Tensor:
    """Quantize-dequantize ``x`` with a straight-through gradient.

    ``scale``: a float or an array broadcasting against ``x`` (per channel,
    per group), every entry finite and non-zero. O(n).

    Raises: TypeError (x not a float Tensor), ValueError (a zero or
    non-finite scale, qmin >= qmax, zero_point outside [qmin, qmax])."""
    if not isinstance(x, Tensor) or x.data.dtype.kind != "f":
        raise TypeError("fake_quantize: x must be a floating-point Tensor")
    s = np.asarray(scale, dtype=x.data.dtype)
    if not np.all(np.isfinite(s)) or np.any(s == 0):
        raise ValueError("fake_quantize: scale must be finite and non-zero")
    if not qmin < qmax or not qmin <= zero_point <= qmax:
        raise ValueError(f"fake_quantize: need qmin < qmax and zero_point in [qmin, qmax], "
                         f"got {qmin}, {qmax}, {zero_point}")
    return apply(FAKE_QUANTIZE, (x, Tensor(s, dtype=s.dtype)),
                 {"zero_point": int(zero_point), "qmin": int(qmin), "qmax": int(qmax)})


def _weight_qparams(w: np.ndarray, bits: int, gs: int | None):
    """Scale (broadcasting against the weight grid) and (zp, qmin, qmax)
    matching what ``convert`` will store, computed from the current weights."""
    if bits == 8:  # int8 per output channel, symmetric: QuantizedLinear's recipe
        amax = np.maximum(np.abs(w).max(axis=1), 0.0)
        scale = np.maximum(amax / 127.5, np.finfo(np.float32).eps).astype(np.float32)
        return scale[:, None], (0, -128, 127)
    # 4 bits, Q4_0-like groups: d = signed absmax / -8 rounded to float16
    grp = w.reshape(w.shape[0], -1, gs)
    idx = np.abs(grp).argmax(axis=2)[..., None]
    d = (np.take_along_axis(grp, idx, axis=2)[..., 0] / -8.0).astype(np.float16).astype(np.float32)
    d[d == 0] = 1.0  # an all-zero group: any scale reproduces its zeros
    return d, (8, 0, 15)


class QATLinear(Module):
    """A ``Linear`` trained through fake-quantized weights.

    Holds ``weight`` (out, in) and ``bias`` Parameters like ``Linear``.
    ``bits=8``: int8 per output channel (converts to :class:`QuantizedLinear`);
    ``bits=4``: 4-bit groups of ``group_size`` inputs, or one group per row
    when ``group_size`` is None (converts to :class:`WeightOnlyLinear`).
    ``(*, in) -> (*, out)``."""

    def __init__(self, linear: Linear, bits: int = 8, group_size: int | None = None,
                 activation_bits: int | None = None, act_qparams=None) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        gs = group_size if group_size is not None else self.in_features + self.in_features % 2
        _check_bits(bits, gs)
        if bits == 4 and self.in_features % gs:
            raise ValueError(f"QATLinear: in_features {self.in_features} must be a multiple of "
                             f"group_size {gs}")
        self.bits, self.group_size = bits, gs
        self.weight = Parameter(linear.weight.data.copy())
        self.bias = None if linear.bias is None else Parameter(linear.bias.data.copy())
        self.activation_bits = activation_bits
        if activation_bits is not None:  # the input's static grid, calibrated, not trained
            self.register_buffer("input_scale", np.asarray(act_qparams[0], np.float32))
            self.register_buffer("input_zero_point", np.asarray(act_qparams[1], np.int32))

    def quantized_weight(self) -> Tensor:
        """The fake-quantized weight (out, in), differentiable by the STE."""
        scale, (zp, qmin, qmax) = _weight_qparams(self.weight.data, self.bits, self.group_size)
        if self.bits == 8:
            return fake_quantize(self.weight, scale, zp, qmin, qmax)
        grouped = self.weight.reshape(self.out_features, -1, self.group_size)
        return fake_quantize(grouped, scale[..., None], zp, qmin, qmax).reshape(
            self.out_features, self.in_features)

    def forward(self, x) -> Tensor:
        if self.activation_bits is not None:  # the input as the converted layer rounds it
            x = fake_quantize(x, self.input_scale.data, int(self.input_zero_point.data), 0,
                              2 ** self.activation_bits - 1)
        return F.linear(x, self.quantized_weight(), self.bias)

    def to_float(self) -> Linear:
        lin = Linear(self.in_features, self.out_features, self.bias is not None)
        lin.weight.data[...] = self.weight.data
        if self.bias is not None:
            lin.bias.data[...] = self.bias.data
        return lin

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, bits={self.bits}, "
                f"group_size={self.group_size}")


def prepare_qat(model: Module, bits: int = 8, group_size: int | None = None, *,
                activation_bits: int | None = None, calibration_data=None,
                observer: str = "histogram") -> Module:
    """A copy of ``model`` with every ``Linear`` replaced by a :class:`QATLinear`
    (its weights copied); train it like any model, then :func:`convert` it.

    ``activation_bits`` (4 or 8): each Linear's input is also fake-quantized
    onto a static affine grid of ``2**activation_bits`` levels, whose range is
    observed on ``calibration_data`` (an iterable of float batches, as for
    ``quantize_static``; ``observer`` as there) and then fixed: W4A4 / W4A8
    quantization-aware training. Without training, ``convert`` of this
    model is plain post-training quantization with the same recipe.

    Raises: TypeError (not a Module, bad calibration data), ValueError (bits
    or activation_bits not 4 or 8, a bad group size, no Linear layer,
    activation_bits without calibration data)."""
    if not isinstance(model, Module):
        raise TypeError(f"prepare_qat: model must be a Module, got {type(model).__name__}")
    _check_bits(bits, 32 if group_size is None else group_size)
    if activation_bits is not None and (isinstance(activation_bits, bool)
                                        or activation_bits not in (4, 8)):
        raise ValueError(f"prepare_qat: activation_bits must be None, 4 or 8, got "
                         f"{activation_bits!r}")
    if activation_bits is not None and calibration_data is None:
        raise ValueError("prepare_qat: activation_bits needs calibration_data to fix the "
                         "activation ranges")
    names = [n for n, m in model.named_modules() if n and type(m) is Linear]
    if not names:
        raise ValueError("prepare_qat: the model has nothing to quantize (no Linear layer)")
    act = {name: None for name in names}
    if activation_bits is not None:
        observed = _observe_inputs(model, names, calibration_data, observer, "prepare_qat")
        qmax = 2 ** activation_bits - 1
        for name, obs in observed.items():
            lo, hi = obs.observed_range()
            act[name] = qparams_from_range(lo, hi, "uint8", qmax=qmax)
    new = copy.deepcopy(model)
    for name in names:
        new.set_submodule(name, QATLinear(new.get_submodule(name), bits, group_size,
                                          activation_bits, act[name]))
    return new


def convert(model: Module, *, embeddings: bool = True) -> Module:
    """The quantized model of a QAT-trained one: every :class:`QATLinear`
    becomes a :class:`QuantizedLinear` (8 bits) or :class:`WeightOnlyLinear`
    (4 bits) holding exactly the weights the fake quantization showed; with
    ``embeddings``, each ``Embedding`` is quantized the same way (8 bits per
    row, or 4-bit groups). Returns a new model.

    Raises: TypeError (not a Module), ValueError (no QATLinear: call prepare_qat)."""
    if not isinstance(model, Module):
        raise TypeError(f"convert: model must be a Module, got {type(model).__name__}")
    qat = [(n, m) for n, m in model.named_modules() if isinstance(m, QATLinear)]
    if not qat:
        raise ValueError("convert: the model has no QATLinear layer (call prepare_qat first)")
    new = copy.deepcopy(model)
    for name, m in qat:
        lin = new.get_submodule(name).to_float()
        act = None if m.activation_bits is None else (m.input_scale.data,
                                                      m.input_zero_point.data)
        if m.bits == 8 and m.activation_bits in (None, 8):  # int8 dynamic or static
            q = QuantizedLinear.from_float(lin, act_qparams=act)
        else:
            q = WeightOnlyLinear.from_float(lin, m.bits, m.group_size, act, m.activation_bits)
        new.set_submodule(name, q)
    if embeddings:
        bits = qat[0][1].bits
        for name, emb in [(n, e) for n, e in new.named_modules() if n and type(e) is Embedding]:
            q = (QuantizedEmbedding.from_float(emb) if bits == 8
                 else WeightOnlyEmbedding.from_float(emb, 4, 32))
            new.set_submodule(name, q)
    return new
