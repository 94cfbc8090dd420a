"""tinytorch.quant: INT8 and INT4 quantization with PyTorch's numerics.

Layer 6 of the TinyTorch stack (depends on tensor, autograd and nn). The
public API, stable for the packages built on it (``tinytorch.compress``):

Quantized tensors (``qtensor``)
    ``quantize_per_tensor(x, scale, zero_point, dtype)``,
    ``quantize_per_channel(x, scales, zero_points, axis, dtype)`` -> ``QuantizedTensor``
    (``int_repr()``, ``dequantize()``, ``scale``, ``zero_point``, ``axis``);
    bit for bit equal to ``torch.quantize_per_tensor`` / ``quantize_per_channel``.
Observers (``observers``)
    ``MinMaxObserver``, ``MovingAverageMinMaxObserver``, ``PerChannelMinMaxObserver``,
    ``HistogramObserver`` (percentile clipping); ``observe(x)``,
    ``calculate_qparams()``; ``qparams_from_range(lo, hi, dtype, symmetric)``.
Quantized layers (``modules``)
    ``QuantizedLinear``, ``QuantizedConv2d``, ``QuantizedEmbedding``,
    ``QuantizedPositionalEncoding`` (int8 per
    output channel, exact int32 accumulation), ``WeightOnlyLinear``,
    ``WeightOnlyEmbedding`` (4/8-bit groups, Q4_0-like); each has
    ``from_float(layer, ...)``. ``int_matmul`` is the exact integer GEMM;
    ``widen`` writes int8 codes as floats into the per-thread workspace.
    ``InferenceMaxPool2d``: max pooling without the argmax a backward needs.
    ``QuantizedSequential``: runs of static int8 Linears (a ReLU between
    allowed) as one chain that keeps integer codes between the layers.
    Each declares the float layer it stands for (``float_architecture()``).
Model transformations (each returns a new model)
    ``quantize_dynamic(model)``, ``quantize_static(model, calibration_data)``,
    ``quantize_weights(model, bits=4, group_size=32)``,
    ``prepare_qat(model, bits, group_size)`` / ``convert(model)``;
    ``fake_quantize`` and its primitive ``FAKE_QUANTIZE`` (straight-through).
Sizes
    ``model_size_bytes(model)``: parameters + buffers, as ``Module.save`` writes them.

>>> import numpy as np
>>> from tinytorch.quant import quantize_per_tensor
>>> q = quantize_per_tensor(np.array([-1.0, 0.0, 0.26], np.float32), 0.1, 0)
>>> q.int_repr().tolist()
[-10, 0, 3]
"""

from ._kernels import (
    MAX_POOL2D_INFERENCE,
    QUANTIZED_CONV2D,
    QUANTIZED_EMBEDDING,
    QUANTIZED_LINEAR,
    QUANTIZED_LINEAR_CHAIN,
    WEIGHT_ONLY_EMBEDDING,
    WEIGHT_ONLY_LINEAR,
    WORKSPACE_ELEMENTS,
    exact_float_dtype,
    int_matmul,
    pack_groups,
    unpack_groups,
    widen,
)
from .modules import (
    InferenceMaxPool2d,
    QuantizedConv2d,
    QuantizedEmbedding,
    QuantizedLinear,
    QuantizedPositionalEncoding,
    QuantizedSequential,
    WeightOnlyEmbedding,
    WeightOnlyLinear,
    linked_runs,
    quantize_weight_per_channel,
)
from .observers import (
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    PerChannelMinMaxObserver,
    qparams_from_range,
)
from .qat import FAKE_QUANTIZE, QATLinear, convert, fake_quantize, prepare_qat
from .qtensor import QuantizedTensor, qrange, quantize_per_channel, quantize_per_tensor
from .quantize import (
    OBSERVERS,
    model_size_bytes,
    quantize_dynamic,
    quantize_static,
    quantize_weights,
)

__version__ = "0.1.2"

__all__ = [
    "QuantizedTensor", "quantize_per_tensor", "quantize_per_channel", "qrange",
    "MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
    "HistogramObserver", "qparams_from_range",
    "QuantizedLinear", "QuantizedConv2d", "QuantizedEmbedding", "QuantizedPositionalEncoding",
    "QuantizedSequential", "linked_runs", "WeightOnlyLinear",
    "WeightOnlyEmbedding", "InferenceMaxPool2d", "quantize_weight_per_channel", "int_matmul",
    "exact_float_dtype", "widen", "WORKSPACE_ELEMENTS",
    "pack_groups", "unpack_groups",
    "quantize_dynamic", "quantize_static", "quantize_weights", "OBSERVERS",
    "prepare_qat", "convert", "QATLinear", "fake_quantize", "FAKE_QUANTIZE",
    "model_size_bytes",
    "QUANTIZED_LINEAR", "QUANTIZED_LINEAR_CHAIN", "QUANTIZED_CONV2D", "QUANTIZED_EMBEDDING",
    "WEIGHT_ONLY_LINEAR",
    "WEIGHT_ONLY_EMBEDDING", "MAX_POOL2D_INFERENCE",
]
