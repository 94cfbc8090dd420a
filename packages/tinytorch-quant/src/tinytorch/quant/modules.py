"""Quantized layers: ordinary Modules whose state is integers plus scales.

Each layer keeps, as buffers (so ``state_dict``/``save``/``load`` and
``model_size_bytes`` see them), only what inference needs:

    QuantizedLinear      weight_int8 (N, K) int8, weight_scale (N,) float32, bias (N,)
                         [+ input_scale () float32, input_zero_point () int32 if static]
    QuantizedConv2d      weight_int8 (OC, C, KH, KW) int8, weight_scale (OC,), bias (OC,) [+ ...]
    QuantizedEmbedding   weight_int8 (V, E) int8, weight_scale (V,) float32
    QuantizedPositionalEncoding  weight_int8 (L, E) int8, weight_scale (L,) float32
    WeightOnlyLinear     weight_codes (N, G*gs/2) uint8 (4 bits) or (N, G*gs) int8 (8 bits),
                         weight_scale (N, G) float16, bias (N,)
    WeightOnlyEmbedding  the same, one row per token

Nothing of the float weights is kept. Forward signatures are those of the
float layers (``(*, in) -> (*, out)`` for Linear), so a quantized layer drops
into any model by a module swap (``Module.set_submodule``).
"""

from __future__ import annotations

import numpy as np

from tinytorch.nn import (
    Conv2d,
    Embedding,
    Linear,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
    active_module_hooks,
)
from tinytorch.tensor import Tensor, apply
from tinytorch.transformers import PositionalEncoding

from . import _kernels as K
from .observers import PerChannelMinMaxObserver
from .qtensor import quantize_per_channel

__all__ = ["QuantizedLinear", "QuantizedConv2d", "QuantizedEmbedding",
           "QuantizedPositionalEncoding", "QuantizedSequential", "WeightOnlyLinear",
           "WeightOnlyEmbedding", "InferenceMaxPool2d", "quantize_weight_per_channel"]


def quantize_weight_per_channel(w: np.ndarray, axis: int = 0):
    """Symmetric int8 per-channel quantization of a float weight (PyTorch's
    default ``per_channel_symmetric`` qint8 recipe): ``(int8 codes, (C,) float32 scales)``."""
    obs = PerChannelMinMaxObserver(axis=axis, dtype="int8", symmetric=True)
    obs.observe(w)
    scale, zp = obs.calculate_qparams()
    q = quantize_per_channel(w, scale, zp, axis, "int8")
    return q.int_repr(), q.scale


def _float_spec(cls, params) -> dict:
    """The float layer a quantized layer stands in for: its type name and the
    ``[name, shape, "float32"]`` of the parameters it would hold."""
    return {"type": f"{cls.__module__}.{cls.__qualname__}", "buffers": [],
            "parameters": [[n, [int(d) for d in shape], "float32"] for n, shape in params
                           if shape is not None]}


def _float_input(x, who: str, last: int | None = None, ndim: int | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: input must be a Tensor, got {type(x).__name__}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{who}: input must be floating point, got {x.data.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{who}: input must be {ndim}-D, got shape {x.shape}")
    if last is not None and (x.ndim == 0 or x.shape[-1 if ndim is None else 1] != last):
        raise ValueError(f"{who}: expected {last} input features/channels, got shape {x.shape}")
    if x.data.dtype != np.float32:
        x = Tensor(x.data.astype(np.float32))
    return x


class _CachedBuffers(Module):
    """The buffers a forward reads (``_STATE``, by name), as one tuple in the
    instance dict, ``self._state``: a Module attribute lookup of a buffer
    costs about half a microsecond, which a decode step or a small batch
    pays per layer and per buffer. The tuple holds the buffer Tensors
    themselves, so in-place updates (``load_state_dict``, ``to(dtype)``) are
    seen; the three ways a buffer Tensor can be replaced (assignment,
    deletion, ``register_buffer``) refresh it. Call ``_refresh_state()`` at
    the end of ``__init__``."""

    _STATE: tuple = ()

    def _refresh_state(self, changed: str | None = None) -> None:
        """Rebuild ``self._state`` (after ``__init__``, or when ``changed`` is
        one of the cached names; a no-op for any other name)."""
        if changed is None or (changed in self._STATE and "_state" in self.__dict__):
            object.__setattr__(self, "_state",
                               tuple(getattr(self, n, None) for n in self._STATE))

    def __setattr__(self, name: str, value) -> None:
        super().__setattr__(name, value)
        self._refresh_state(name)

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        self._refresh_state(name)

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        super().register_buffer(name, tensor, persistent)
        self._refresh_state(name)


class _Int8Codes(Module):
    """Int8 codes with one float32 scale per row (axis 0: an output channel,
    a token, a position), the ``weight_int8`` and ``weight_scale`` buffers:
    the state every int8 layer shares, and nothing float."""

    def _init_codes(self, shape: tuple) -> None:
        self.register_buffer("weight_int8", np.zeros(shape, np.int8))
        self.register_buffer("weight_scale", np.ones((shape[0],), np.float32))

    def _set_codes(self, w: np.ndarray):
        """Quantize the float ``w`` (symmetric, per row) into the buffers; ``self``."""
        codes, scale = quantize_weight_per_channel(w, axis=0)
        self.weight_int8.data[...] = codes
        self.weight_scale.data[...] = scale
        return self

    @property
    def weight(self) -> Tensor:
        """The float32 weights the int8 codes stand for, computed on access
        (nothing float is stored); read by code that only wants the dtype/shape."""
        codes = self.weight_int8.data
        s = self.weight_scale.data.reshape(-1, *([1] * (codes.ndim - 1)))
        return Tensor(codes.astype(np.float32) * s)


class _Int8Layer(_CachedBuffers, _Int8Codes):
    """Shared state of the int8 layers: codes, scales, optional bias and
    static activation parameters."""

    def _init_state(self, wshape, out: int, bias: bool, static: bool) -> None:
        self._init_codes(wshape)
        self.register_buffer("bias", np.zeros((out,), np.float32) if bias else None)
        self.static = bool(static)
        if self.static:
            self.register_buffer("input_scale", np.ones((), np.float32))
            self.register_buffer("input_zero_point", np.zeros((), np.int32))
        self._refresh_state()

    _STATE = ("weight_int8", "weight_scale", "bias", "input_scale", "input_zero_point")

    def _set_weights(self, w: np.ndarray, b, act_qparams) -> None:
        self._set_codes(w)
        if b is not None:
            self.bias.data[...] = b
        if self.static:
            if act_qparams is None:
                raise ValueError(f"{type(self).__name__}: a static layer needs input qparams")
            self.input_scale.data[...] = act_qparams[0]
            self.input_zero_point.data[...] = act_qparams[1]

    def float_architecture(self) -> dict:
        """The float layer this one quantizes (``type``, ``parameters``,
        ``buffers``): the architecture it computes, at lower precision. A
        benchmark's closed division compares models by this (quantization
        keeps the architecture, as in MLPerf's closed division)."""
        cls = Linear if isinstance(self, QuantizedLinear) else Conv2d
        return _float_spec(cls, [("weight", self.weight_int8.shape),
                                 ("bias", None if self.bias is None else self.bias.shape)])

    #: Widen at most this many int8 weights to floats at a time (None: all
    #: at once, one GEMM). A smaller value lowers peak memory at small
    #: batches and costs one GEMM per tile; ``quantize_static(weight_tile=)``.
    weight_tile: int | None = None

    def _act_params(self) -> dict:
        if not self.static:
            return {"act_scale": None, "act_zp": None, "tile": self.weight_tile}
        return {"act_scale": np.float32(self.input_scale.data),
                "act_zp": int(self.input_zero_point.data), "tile": self.weight_tile}

    def _inputs(self) -> tuple:
        b = () if self.bias is None else (self.bias,)
        return (self.weight_int8, self.weight_scale, *b)


class QuantizedLinear(_Int8Layer):
    """``y = (s_x * s_w) * (Q(x) - zp_x) @ W_int8^T + b``: int8 per-output-channel
    weights, uint8 activations quantized per call (dynamic) or with calibrated
    parameters (``static=True``); exact int32 accumulation (see ``_kernels``).

    Shapes: ``(*, in_features) -> (*, out_features)`` float32.
    Cost: one GEMM (2*R*N*K FLOPs) plus O(R*K + N*K) to quantize the input and
    widen the weights. Not differentiable (use :func:`prepare_qat` to train).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 static: bool = False) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self._init_state((self.out_features, self.in_features), self.out_features, bias, static)

    @classmethod
    def from_float(cls, linear: Linear, act_qparams=None) -> QuantizedLinear:
        """Quantize a float :class:`Linear` (its weights are read, not changed)."""
        q = cls(linear.in_features, linear.out_features, linear.bias is not None,
                static=act_qparams is not None)
        q._set_weights(linear.weight.data, None if linear.bias is None else linear.bias.data,
                       act_qparams)
        return q

    def _chain_entry(self, relu: bool) -> tuple[tuple, tuple]:
        """This static layer's part of a ``QUANTIZED_LINEAR_CHAIN`` call: its
        input tensors and its ``(input scale, zero point, has_bias, relu,
        tile)``."""
        w, ws, b, s, zp = self._state
        spec = (float(s.data), float(zp.data), b is not None, relu, self.weight_tile)
        return ((w, ws) if b is None else (w, ws, b)), spec

    def forward(self, x) -> Tensor:
        x = _float_input(x, "QuantizedLinear", self.in_features)
        return apply(K.QUANTIZED_LINEAR, (x, *self._inputs()), self._act_params())

    def forward_rows(self, x: np.ndarray) -> np.ndarray:
        """``forward`` on a float32 ndarray ``(B, in_features)`` -> ``(B, out_features)``
        float32, without the Tensor and dispatch layer: the row-kernel protocol
        of ``tinytorch.kvcache``'s fused decode step (one token per sequence,
        where the per-call overhead is the cost). The same kernel as
        ``forward``, so the same numbers; the input is not modified.
        No checks: the caller passes 2-D float32 rows of the right width."""
        w, ws, b = self._state[:3]
        b = () if b is None else (b.data,)
        if not self.static:
            return K.QUANTIZED_LINEAR.forward(x, w.data, ws.data, *b, act_scale=None,
                                              act_zp=None, tile=self.weight_tile)
        return K.QUANTIZED_LINEAR.forward(x, w.data, ws.data, *b, **self._act_params())

    def extra_repr(self) -> str:
        return (f"{self.in_features}, {self.out_features}, bias={self.bias is not None}, "
                f"{'static' if self.static else 'dynamic'}")


def _is_static_linear(m) -> bool:
    return type(m) is QuantizedLinear and m.static


def linked_runs(modules: list) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of ``modules`` that can execute as one
    chain: two or more static :class:`QuantizedLinear`, each followed
    directly by the next or by one ``ReLU`` and then the next, with matching
    widths. O(len(modules))."""
    runs, i = [], 0
    while i < len(modules):
        j = i
        while _is_static_linear(modules[j]):
            k = j + 2 if j + 1 < len(modules) and type(modules[j + 1]) is ReLU else j + 1
            if k >= len(modules) or not _is_static_linear(modules[k]) or (
                    modules[k].in_features != modules[j].out_features):
                break
            j = k
        if j > i:
            runs.append((i, j + 1))
        i = j + 1
    return runs


class QuantizedSequential(Sequential):
    """A ``Sequential`` holding static int8 layers, whose runs of static
    :class:`QuantizedLinear` (optionally with a ``ReLU`` between two of them)
    execute as one primitive, ``QUANTIZED_LINEAR_CHAIN``: the activations
    stay as integer codes from one layer to the next (a ReLU is the codes'
    lower bound) and are dequantized at the run's end, as int8 inference
    engines do. Same children, names and state dict as the ``Sequential``
    it replaces (``quantize_static`` swaps it in), and the same outputs,
    bit for bit, as calling the children one by one; only the float
    hand-over between layers and the separate ReLU pass are gone.

    A run whose modules carry forward hooks, or any run while global module
    hooks are registered (a profiler), is executed module by module, so the
    hooks see every call. ``(*, in) -> (*, out)`` like the Sequential."""

    def float_architecture(self) -> dict:
        """The ``Sequential`` this one stands for (no parameters of its own)."""
        return _float_spec(Sequential, [])

    def forward(self, x):
        mods = tuple(self.children())
        plan = self.__dict__.get("_plan")
        if plan is None or plan[0] != mods:  # the runs, found again when a child changes
            plan = self._plan = (mods, dict(linked_runs(list(mods))))
        runs, hooked = plan[1], any(active_module_hooks())
        i = 0
        while i < len(mods):
            stop = runs.get(i)
            if stop is None or hooked or any(m.has_forward_hooks() for m in mods[i:stop]):
                x, i = mods[i](x), i + 1
                continue
            x, i = _run_chain(mods[i:stop], x), stop
        return x


def _run_chain(mods: list, x) -> Tensor:
    """One ``QUANTIZED_LINEAR_CHAIN`` call over a linked run ``mods`` (static
    QuantizedLinear and ReLU modules, starting and ending with a Linear)."""
    x = _float_input(x, "QuantizedSequential", mods[0].in_features)
    inputs, layers = [x], []
    for j, m in enumerate(mods):
        if type(m) is not ReLU:
            arrays, spec = m._chain_entry(j + 1 < len(mods) and type(mods[j + 1]) is ReLU)
            inputs += arrays
            layers.append(spec)
    return apply(K.QUANTIZED_LINEAR_CHAIN, tuple(inputs), {"layers": tuple(layers)})


class QuantizedConv2d(_Int8Layer):
    """Int8 convolution: the input is quantized (dynamic or static) and centred,
    im2col builds (N*OH*OW, C*KH*KW) columns, one exact GEMM with the int8
    weights (OC, C*KH*KW), then the rescale. ``(N, C, H, W) -> (N, OC, OH, OW)``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=(1, 1),
                 padding=(0, 0), bias: bool = True, static: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.padding = (tuple(kernel_size), tuple(stride),
                                                       tuple(padding))
        self._init_state((self.out_channels, self.in_channels, *self.kernel_size),
                         self.out_channels, bias, static)

    @classmethod
    def from_float(cls, conv: Conv2d, act_qparams=None) -> QuantizedConv2d:
        q = cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                conv.padding, conv.bias is not None, static=act_qparams is not None)
        q._set_weights(conv.weight.data, None if conv.bias is None else conv.bias.data,
                       act_qparams)
        return q

    def forward(self, x) -> Tensor:
        x = _float_input(x, "QuantizedConv2d", self.in_channels, ndim=4)
        params = {"stride": self.stride, "padding": self.padding, **self._act_params()}
        return apply(K.QUANTIZED_CONV2D, (x, *self._inputs()), params)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, "
                f"{'static' if self.static else 'dynamic'}")


def _ids(ids, num: int, who: str) -> np.ndarray:
    arr = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: ids must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= num):
        raise IndexError(f"{who}: ids must be in [0, {num - 1}], got "
                         f"{int(arr.min() if arr.min() < 0 else arr.max())}")
    return arr


class QuantizedEmbedding(_Int8Codes):
    """Int8 embedding table with one scale per row (per token):
    ``(*ids.shape) -> (*ids.shape, E)`` float32, O(len(ids) * E)."""

    def __init__(self, num_embeddings: int, embedding_dim: int) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self._init_codes((self.num_embeddings, self.embedding_dim))

    @classmethod
    def from_float(cls, emb: Embedding) -> QuantizedEmbedding:
        return cls(emb.num_embeddings, emb.embedding_dim)._set_codes(emb.weight.data)

    def float_architecture(self) -> dict:
        """The float ``Embedding`` this one quantizes (see ``QuantizedLinear``)."""
        return _float_spec(Embedding, [("weight", self.weight_int8.shape)])

    def forward(self, ids) -> Tensor:
        arr = _ids(ids, self.num_embeddings, "QuantizedEmbedding")
        return apply(K.QUANTIZED_EMBEDDING, (self.weight_int8, self.weight_scale), {"ids": arr})

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, int8"


class QuantizedPositionalEncoding(_Int8Codes):
    """Int8 learned position table (``tinytorch.transformers.PositionalEncoding``)
    with one scale per row (per position), as :class:`QuantizedEmbedding`.

    ``forward(x, start_pos=0)``: ``x`` ``(..., T, E)`` float ->
    ``x + table[start_pos:start_pos+T]`` float32; only the T rows read are
    widened, O(T * E) plus the add.

    Raises (forward): TypeError for a non-Tensor or non-float ``x`` or a
    non-int ``start_pos``; ValueError when the last dim is not E,
    ``start_pos < 0`` or ``start_pos + T > max_seq_len``.
    """

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        self.max_seq_len, self.embed_dim = int(max_seq_len), int(embed_dim)
        self._init_codes((self.max_seq_len, self.embed_dim))

    @classmethod
    def from_float(cls, pos: PositionalEncoding) -> QuantizedPositionalEncoding:
        return cls(pos.max_seq_len, pos.embed_dim)._set_codes(pos.weight.data)

    def float_architecture(self) -> dict:
        """The float ``PositionalEncoding`` this one quantizes (see ``QuantizedLinear``)."""
        return _float_spec(PositionalEncoding, [("weight", self.weight_int8.shape)])

    def forward(self, x, start_pos: int = 0) -> Tensor:
        who = "QuantizedPositionalEncoding"
        x = _float_input(x, who, self.embed_dim)
        if x.ndim < 2:
            raise ValueError(f"{who}: expected input of shape (..., T, {self.embed_dim}), "
                             f"got {x.shape}")
        if isinstance(start_pos, bool) or not isinstance(start_pos, (int, np.integer)):
            raise TypeError(f"{who}: start_pos must be an int, got {start_pos!r}")
        t = x.shape[-2]
        if start_pos < 0 or start_pos + t > self.max_seq_len:
            raise ValueError(f"{who}: positions {start_pos}..{start_pos + t - 1} are outside "
                             f"0..{self.max_seq_len - 1} (start_pos={start_pos}, length {t})")
        rows = apply(K.QUANTIZED_EMBEDDING, (self.weight_int8, self.weight_scale),
                     {"ids": np.arange(start_pos, start_pos + t)})  # (T, E)
        return x + rows

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}, int8"


def _check_bits(bits, group_size) -> None:
    if isinstance(bits, bool) or bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits!r}")
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2 or (
            group_size % 2):
        raise ValueError(f"group_size must be an even int >= 2, got {group_size!r}")


class WeightOnlyLinear(_CachedBuffers):
    """Weight-only grouped quantization (llama.cpp Q4_0-like for 4 bits): the
    weights are stored as 4- or 8-bit codes with a float16 scale per group of
    ``group_size`` inputs and widened to float32 on each call; activations stay
    float. ``(*, in) -> (*, out)``; cost one GEMM plus O(N*K) to unpack.

    ``activation_bits`` (4 or 8, with calibrated ``input_scale`` and
    ``input_zero_point`` buffers): the input is also rounded onto a static
    affine grid of ``2**activation_bits`` levels (a W4A4 / W4A8 layer, what
    ``convert`` makes of a QAT layer trained with fake-quantized inputs)."""

    def __init__(self, in_features: int, out_features: int, bits: int = 4,
                 group_size: int = 32, bias: bool = True,
                 activation_bits: int | None = None) -> None:
        super().__init__()
        _check_bits(bits, group_size)
        if activation_bits is not None:
            _check_bits(activation_bits, 2)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.bits, self.group_size = bits, group_size
        g = -(-self.in_features // group_size)
        width = g * group_size // 2 if bits == 4 else g * group_size
        self.register_buffer("weight_codes", np.zeros((self.out_features, width),
                                                      np.uint8 if bits == 4 else np.int8))
        self.register_buffer("weight_scale", np.zeros((self.out_features, g), np.float16))
        self.register_buffer("bias", np.zeros((self.out_features,), np.float32) if bias
                             else None)
        self.activation_bits = activation_bits
        if activation_bits is not None:
            self.register_buffer("input_scale", np.ones((), np.float32))
            self.register_buffer("input_zero_point", np.zeros((), np.int32))
        self._refresh_state()

    @classmethod
    def from_float(cls, linear: Linear, bits: int = 4, group_size: int = 32,
                   act_qparams=None, activation_bits: int | None = None):
        """Quantize a float :class:`Linear`; ``act_qparams`` ``(scale,
        zero_point)`` on the ``activation_bits`` grid when inputs are quantized too."""
        q = cls(linear.in_features, linear.out_features, bits, group_size,
                linear.bias is not None, activation_bits)
        codes, scales = K.pack_groups(linear.weight.data, bits, group_size)
        q.weight_codes.data[...] = codes
        q.weight_scale.data[...] = scales
        if linear.bias is not None:
            q.bias.data[...] = linear.bias.data
        if activation_bits is not None:
            q.input_scale.data[...] = act_qparams[0]
            q.input_zero_point.data[...] = act_qparams[1]
        return q

    def dequantized_weight(self) -> np.ndarray:
        """The float32 (out, in) weights the codes stand for."""
        return K.unpack_groups(self.weight_codes.data, self.weight_scale.data, self.bits,
                               self.group_size, self.in_features)

    def float_architecture(self) -> dict:
        """The float ``Linear`` this one quantizes (see ``QuantizedLinear``)."""
        return _float_spec(Linear, [("weight", (self.out_features, self.in_features)),
                                    ("bias", None if self.bias is None else self.bias.shape)])

    @property
    def weight(self) -> Tensor:
        """``dequantized_weight()`` as a Tensor, computed on access (not stored)."""
        return Tensor(self.dequantized_weight())

    _STATE = ("weight_codes", "weight_scale", "bias", "input_scale", "input_zero_point")

    def _params(self) -> dict:
        s, zp = self._state[3:]
        act = None if self.activation_bits is None else (
            float(s.data), float(zp.data), 2 ** self.activation_bits - 1)
        return {"bits": self.bits, "group_size": self.group_size,
                "in_features": self.in_features, "act": act}

    def forward(self, x) -> Tensor:
        x = _float_input(x, "WeightOnlyLinear", self.in_features)
        b = () if self.bias is None else (self.bias,)
        return apply(K.WEIGHT_ONLY_LINEAR, (x, self.weight_codes, self.weight_scale, *b),
                     self._params())

    def forward_rows(self, x: np.ndarray) -> np.ndarray:
        """``forward`` on a float32 ndarray ``(B, in_features)`` -> ``(B,
        out_features)``: the row-kernel protocol of ``tinytorch.kvcache`` (see
        :meth:`QuantizedLinear.forward_rows`). No checks; ``x`` is not modified."""
        codes, scales, b = self._state[:3]
        b = () if b is None else (b.data,)
        return K.WEIGHT_ONLY_LINEAR.forward(x, codes.data, scales.data, *b, **self._params())

    def extra_repr(self) -> str:
        acts = "" if self.activation_bits is None else f", activation_bits={self.activation_bits}"
        return (f"{self.in_features}, {self.out_features}, bits={self.bits}, "
                f"group_size={self.group_size}{acts}")


class WeightOnlyEmbedding(Module):
    """Grouped 4- or 8-bit embedding table; only the looked-up rows are unpacked."""

    def __init__(self, num_embeddings: int, embedding_dim: int, bits: int = 4,
                 group_size: int = 32) -> None:
        super().__init__()
        _check_bits(bits, group_size)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.bits, self.group_size = bits, group_size
        g = -(-self.embedding_dim // group_size)
        width = g * group_size // 2 if bits == 4 else g * group_size
        self.register_buffer("weight_codes", np.zeros((self.num_embeddings, width),
                                                      np.uint8 if bits == 4 else np.int8))
        self.register_buffer("weight_scale", np.zeros((self.num_embeddings, g), np.float16))

    @classmethod
    def from_float(cls, emb: Embedding, bits: int = 4, group_size: int = 32):
        q = cls(emb.num_embeddings, emb.embedding_dim, bits, group_size)
        codes, scales = K.pack_groups(emb.weight.data, bits, group_size)
        q.weight_codes.data[...] = codes
        q.weight_scale.data[...] = scales
        return q

    def float_architecture(self) -> dict:
        """The float ``Embedding`` this one quantizes (see ``QuantizedLinear``)."""
        return _float_spec(Embedding, [("weight", (self.num_embeddings, self.embedding_dim))])

    @property
    def weight(self) -> Tensor:
        """The float32 table the codes stand for, computed on access (not stored)."""
        return Tensor(K.unpack_groups(self.weight_codes.data, self.weight_scale.data, self.bits,
                                      self.group_size, self.embedding_dim))

    def forward(self, ids) -> Tensor:
        arr = _ids(ids, self.num_embeddings, "WeightOnlyEmbedding")
        return apply(K.WEIGHT_ONLY_EMBEDDING, (self.weight_codes, self.weight_scale),
                     {"ids": arr, "bits": self.bits, "group_size": self.group_size,
                      "dim": self.embedding_dim})

    def extra_repr(self) -> str:
        return (f"{self.num_embeddings}, {self.embedding_dim}, bits={self.bits}, "
                f"group_size={self.group_size}")


class InferenceMaxPool2d(Module):
    """``MaxPool2d`` for a model that only runs inference: the max of each
    window is read from a strided view, with no window copy and no saved
    argmax (which ``MaxPool2d`` keeps for its backward). Same outputs, same
    shapes ``(N, C, H, W) -> (N, C, OH, OW)``; O(N*C*OH*OW*KH*KW), not
    differentiable. ``quantize_static(..., inference_pooling=True)`` swaps it in."""

    def __init__(self, kernel_size, stride, padding) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = (tuple(kernel_size), tuple(stride),
                                                       tuple(padding))

    @classmethod
    def from_float(cls, pool: MaxPool2d) -> InferenceMaxPool2d:
        return cls(pool.kernel_size, pool.stride, pool.padding)

    def float_architecture(self) -> dict:
        """The ``MaxPool2d`` this one replaces (no parameters)."""
        return _float_spec(MaxPool2d, [])

    def forward(self, x) -> Tensor:
        x = _float_input(x, "InferenceMaxPool2d", ndim=4)
        return apply(K.MAX_POOL2D_INFERENCE, (x,), {
            "kernel": self.kernel_size, "stride": self.stride, "padding": self.padding})

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
