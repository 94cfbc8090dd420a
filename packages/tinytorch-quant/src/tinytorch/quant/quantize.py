"""Three ways to quantize a model, and what it really weighs.

Each function deep-copies the model, swaps layers for their quantized
versions (``Module.set_submodule``, the module-swap extension point) and
returns the copy: the input model is never touched.

    quantize_dynamic(model)                 int8 weights, activations quantized per call
    quantize_static(model, calibration)     int8 weights, activation ranges calibrated
    quantize_weights(model, bits=4, gs=32)  weight-only grouped codes (Q4_0-like)
"""

from __future__ import annotations

import copy
from collections import OrderedDict

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn import Conv2d, Embedding, Linear, MaxPool2d, Module, Sequential
from tinytorch.tensor import Tensor
from tinytorch.transformers import PositionalEncoding

from . import modules as qm
from .observers import HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver

__all__ = ["quantize_dynamic", "quantize_static", "quantize_weights", "model_size_bytes",
           "OBSERVERS"]

#: Activation observers ``quantize_static`` accepts by name (uint8, affine).
OBSERVERS = {
    "minmax": lambda: MinMaxObserver(dtype="uint8"),
    "moving_average": lambda: MovingAverageMinMaxObserver(0.1, dtype="uint8"),
    "histogram": lambda: HistogramObserver(99.99, dtype="uint8"),
}


def _check_model(model, fn: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be a tinytorch.nn.Module, got {type(model).__name__}")


def _targets(model: Module, types: tuple, fn: str) -> list[tuple[str, Module]]:
    found = [(n, m) for n, m in model.named_modules() if n and type(m) in types]
    if not found:
        names = ", ".join(t.__name__ for t in types)
        raise ValueError(f"{fn}: the model has nothing to quantize (no {names} layer)")
    return found


def _swap(model: Module, fn: str, types: tuple, make) -> Module:
    """A deep copy of ``model`` with ``make(name, layer)`` in place of every
    layer of one of ``types`` (the root module itself is never swapped)."""
    _check_model(model, fn)
    _targets(model, types, fn)
    new = copy.deepcopy(model)
    for name, layer in _targets(new, types, fn):
        new.set_submodule(name, make(name, layer))
    return new


def quantize_dynamic(model: Module, *, embeddings: bool = True) -> Module:
    """int8 per-channel weights for every ``Linear`` and ``Conv2d`` (and, with
    ``embeddings``, every ``Embedding`` and learned ``PositionalEncoding``
    table, one scale per row); activations are quantized to uint8
    per call from the batch's own min and max. Returns a new model.

    Raises: TypeError (not a Module), ValueError (nothing to quantize)."""
    types = (Linear, Conv2d, Embedding, PositionalEncoding) if embeddings else (Linear, Conv2d)

    def make(name, layer):
        if type(layer) is Embedding:
            return qm.QuantizedEmbedding.from_float(layer)
        if type(layer) is PositionalEncoding:
            return qm.QuantizedPositionalEncoding.from_float(layer)
        cls = qm.QuantizedLinear if type(layer) is Linear else qm.QuantizedConv2d
        return cls.from_float(layer)
    return _swap(model, "quantize_dynamic", types, make)


def _batches(calibration_data, fn: str) -> list[Tensor]:
    if isinstance(calibration_data, (Tensor, np.ndarray)):
        raise TypeError(f"{fn}: calibration_data must be an iterable of batches "
                        "(a list of Tensors, or a DataLoader), not a single tensor")
    try:
        items = list(calibration_data)
    except TypeError:
        raise TypeError(f"{fn}: calibration_data must be an iterable of batches, got "
                        f"{type(calibration_data).__name__}") from None
    if not items:
        raise ValueError(f"{fn}: calibration_data is empty: at least one batch is needed")
    batches = []
    for i, item in enumerate(items):
        x = item[0] if isinstance(item, (tuple, list)) else item
        arr = x.data if isinstance(x, Tensor) else np.asarray(x)
        if arr.dtype.kind != "f":
            raise TypeError(f"{fn}: calibration batch {i} must be floating point, got "
                            f"{arr.dtype}")
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(f"{fn}: calibration batch {i} is empty (shape {arr.shape})")
        if batches and arr.shape[1:] != batches[0].shape[1:]:
            raise ValueError(f"{fn}: calibration batch {i} has shape {arr.shape}, but batch 0 "
                             f"has {batches[0].shape}: batches must differ only in size")
        batches.append(Tensor(arr.astype(np.float32, copy=False)))
    return batches


def _observe_inputs(model: Module, names: list[str], calibration_data, observer: str,
                   fn: str) -> dict:
    """Run ``calibration_data`` through a copy of ``model`` (eval, no grad) and
    return ``{name: observer}`` of the input of each submodule in ``names``
    (``observer`` one of :data:`OBSERVERS`). ``fn`` names the caller in errors.

    Raises: TypeError / ValueError as ``quantize_static`` (bad calibration
    data, an unknown observer)."""
    if observer not in OBSERVERS:
        raise ValueError(f"{fn}: observer must be one of {sorted(OBSERVERS)}, got {observer!r}")
    batches = _batches(calibration_data, fn)
    work = copy.deepcopy(model).eval()
    observers = {name: OBSERVERS[observer]() for name in names}
    handles = [work.get_submodule(name).register_forward_pre_hook(
        lambda mod, args, obs=observers[name]: obs.observe(args[0])) for name in names]
    try:
        with no_grad():
            for i, x in enumerate(batches):
                try:
                    work(x)
                except (ValueError, TypeError, IndexError) as exc:
                    raise ValueError(f"{fn}: calibration batch {i} of shape {x.shape} does "
                                     f"not fit the model: {exc}") from exc
    finally:
        for h in handles:
            h.remove()
    return observers


def quantize_static(model: Module, calibration_data, *, observer: str = "histogram",
                    inference_pooling: bool = False, weight_tile: int | None = None
                    ) -> Module:
    """int8 per-channel weights and uint8 activations whose ranges are
    calibrated on real batches: each ``Linear``/``Conv2d`` input is observed
    over ``calibration_data`` (an iterable of float batches, or of
    ``(x, y)`` pairs such as a DataLoader), then fixed.

    Args:
        observer: ``"minmax"``, ``"moving_average"`` or ``"histogram"``
            (99.99th percentile: clips outliers; the default).
        inference_pooling: also swap every ``MaxPool2d`` for an
            :class:`qm.InferenceMaxPool2d` (same outputs, no saved argmax: less
            memory at inference).
        weight_tile: widen at most this many int8 weights to floats at a
            time (None: the whole matrix, one GEMM). Lower peak memory at
            small batches, one GEMM per tile.

    Raises:
        TypeError: not a Module, calibration data not an iterable of float batches.
        ValueError: an empty calibration set, a batch of the wrong shape (the
            message names the batch and the model's complaint), nothing to
            quantize, an unknown observer.
    """
    fn = "quantize_static"
    _check_model(model, fn)
    if weight_tile is not None and (isinstance(weight_tile, bool) or not isinstance(
            weight_tile, int) or weight_tile < 1):
        raise ValueError(f"{fn}: weight_tile must be None or an int >= 1, got {weight_tile!r}")
    targets = _targets(model, (Linear, Conv2d), fn)
    observers = _observe_inputs(model, [name for name, _ in targets], calibration_data,
                               observer, fn)

    def make(name, layer):
        if type(layer) is MaxPool2d:
            return qm.InferenceMaxPool2d.from_float(layer)
        qparams = observers[name].calculate_qparams()
        cls = qm.QuantizedLinear if type(layer) is Linear else qm.QuantizedConv2d
        q = cls.from_float(layer, act_qparams=qparams)
        q.weight_tile = weight_tile
        return q
    types = (Linear, Conv2d, MaxPool2d) if inference_pooling else (Linear, Conv2d)
    return _link_chains(_swap(model, fn, types, make)).eval()


def _link_chains(model: Module) -> Module:
    """Swap every plain ``Sequential`` of ``model`` (the root included) that
    holds a linked run of static int8 Linears (``linked_runs``) for a
    :class:`QuantizedSequential` with the same children; returns the root
    (a new object when the root itself was swapped)."""
    for name, seq in [(n, m) for n, m in model.named_modules() if type(m) is Sequential]:
        if qm.linked_runs(list(seq.children())):
            linked = qm.QuantizedSequential(OrderedDict(seq.named_children()))
            if not name:  # the root: named_modules listed it first, its children are done
                model = linked
            else:
                model.set_submodule(name, linked)
    return model


def quantize_weights(model: Module, bits: int = 4, group_size: int | None = 32, *,
                     embeddings: bool = True) -> Module:
    """Weight-only grouped quantization of every ``Linear`` (and ``Embedding``):
    ``bits`` 4 (two codes per byte, Q4_0-like) or 8, one float16 scale per
    ``group_size`` weights, or per output row with ``group_size=None`` (one
    group spanning the row, padded to an even width: per-channel weight-only
    quantization, the usual int8 recipe). Activations stay float32. Returns
    a new model.

    Raises: ValueError (bits not 4 or 8, a bad group size, nothing to quantize)."""
    qm._check_bits(bits, 32 if group_size is None else group_size)
    types = (Linear, Embedding) if embeddings else (Linear,)

    def make(name, layer):
        cls = qm.WeightOnlyEmbedding if type(layer) is Embedding else qm.WeightOnlyLinear
        width = layer.embedding_dim if type(layer) is Embedding else layer.in_features
        gs = width + width % 2 if group_size is None else group_size
        return cls.from_float(layer, bits, gs)
    return _swap(model, "quantize_weights", types, make)


def model_size_bytes(model: Module) -> int:
    """Bytes really held by ``model``: every parameter and every buffer
    (quantized codes, scales, zero points, biases), each counted once even if
    shared. A file written by ``Module.save`` holds these bytes plus a small
    per-array header.

    Raises: TypeError if ``model`` is not a Module."""
    _check_model(model, "model_size_bytes")
    seen, total = set(), 0
    for t in (*model.parameters(), *model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.data.nbytes
    return int(total)
