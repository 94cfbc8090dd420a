"""The quantized primitives: forward math on NumPy arrays, FLOP counts.

Each is a :class:`tinytorch.tensor.Primitive`, so it goes through the one
dispatch path and the profiler times it and counts its FLOPs. The quantized
inference ops are not differentiable (a quantized model is for inference;
training goes through fake quantization, :mod:`.qat`).

Exact integer accumulation on a float GEMM
------------------------------------------
Activations are uint8 with a zero point, so ``q - zp`` lies in [-255, 255];
int8 weights lie in [-128, 127]. Every product is an integer of magnitude at
most ``255 * 128 = 32640`` and a sum of K of them at most ``K * 32640``.
float32 represents every integer up to ``2**24`` exactly, so as long as
``K * 32640 < 2**24`` (K <= 514) every product, every partial sum in any
order, and every fused multiply-add of a float32 GEMM is exact: the BLAS
result IS the int32 result. Above that bound we use a float64 GEMM, exact up
to ``2**53 / 32640`` (K < 2.7e11). :func:`int_matmul` returns the int32
array and ``test_kernels.py`` compares it with NumPy's integer matmul.
"""

from __future__ import annotations

import threading

import numpy as np

from tinytorch.tensor import Primitive

__all__ = ["int_matmul", "exact_float_dtype", "quantize_activation", "widen", "pack_groups",
           "unpack_groups", "QUANTIZED_LINEAR", "QUANTIZED_LINEAR_CHAIN", "QUANTIZED_CONV2D",
           "QUANTIZED_EMBEDDING", "WEIGHT_ONLY_LINEAR", "WEIGHT_ONLY_EMBEDDING", "PRODUCT_BOUND",
           "WORKSPACE_ELEMENTS"]

#: Largest |(q_x - zp_x) * q_w|: uint8 activations centred, int8 weights.
PRODUCT_BOUND = 255 * 128
_F32_EXACT = 2 ** 24
_F64_EXACT = 2 ** 53


def exact_float_dtype(k: int) -> type:
    """The cheapest float dtype whose GEMM sums ``k`` bounded products exactly.

    Raises: ValueError if even float64 could round (k >= 2**53 / 32640)."""
    if k * PRODUCT_BOUND < _F32_EXACT:
        return np.float32
    if k * PRODUCT_BOUND < _F64_EXACT:
        return np.float64
    raise ValueError(f"a reduction over {k} terms could round even in float64")


#: The most float elements the per-thread widening workspace holds (4 MiB of
#: float32): a larger weight matrix is widened and multiplied in tiles of
#: output rows, so the workspace stays in the cache and its size bounded.
WORKSPACE_ELEMENTS = 1 << 20


class _Workspace(threading.local):
    """One scratch buffer per thread and float dtype, grown to the largest
    request and reused by every layer: widening int8 codes to floats costs
    no allocation, and the buffer stays hot in the cache across the layers
    of a decode step. Per thread, so concurrent forwards never share it."""

    def __init__(self) -> None:
        self.buffers: dict = {}

    def get(self, n: int, dtype) -> np.ndarray:
        buf = self.buffers.get(dtype)
        if buf is None or buf.size < n:
            buf = self.buffers[dtype] = np.empty(n, dtype)
        return buf[:n]


_WORKSPACE = _Workspace()


def widen(codes: np.ndarray, dtype) -> np.ndarray:
    """``codes`` (any shape, integer) as ``dtype`` floats, written into the
    thread's workspace: a view valid until the next ``widen`` call on this
    thread (read it at once, never keep it). Exact (|codes| < 2**24). O(size)."""
    view = _WORKSPACE.get(codes.size, dtype).reshape(codes.shape)
    np.copyto(view, codes)  # int8 -> float is a safe cast
    return view


def _exact_gemm(a: np.ndarray, w: np.ndarray, tile: int | None = None) -> np.ndarray:
    """``a @ w.T`` for integer-valued ``a`` (R, K) and int8 ``w`` (N, K), exact,
    as a new float array (float32 when K <= 514, else float64).

    BLAS has no int8 GEMM, so the codes are widened into the thread's
    workspace (:func:`widen`) and one float GEMM follows; at most ``tile``
    weights (default and cap :data:`WORKSPACE_ELEMENTS`), and at least one
    output row, are widened at a time, one GEMM per tile."""
    n, k = w.shape
    dt = np.float32 if k * PRODUCT_BOUND < _F32_EXACT else exact_float_dtype(k)
    if a.dtype != dt:
        a = a.astype(dt)
    if tile is None and w.size <= WORKSPACE_ELEMENTS:  # one GEMM (every decode step)
        wf = _WORKSPACE.get(w.size, dt).reshape(n, k)
        np.copyto(wf, w)
        return np.dot(a, wf.T)  # BLAS reads the transpose in place
    rows = max(min(tile or WORKSPACE_ELEMENTS, WORKSPACE_ELEMENTS) // k, 1)
    if rows >= n:
        return np.dot(a, widen(w, dt).T)
    out = np.empty((a.shape[0], n), dt)
    for o in range(0, n, rows):  # ceil(N / rows) GEMMs, each over every row of a
        np.matmul(a, widen(w[o:o + rows], dt).T, out=out[:, o:o + rows])
    return out


def int_matmul(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The int32 product ``a @ w.T`` of centred activations ``a`` (R, K)
    (integers in [-255, 255]) and int8 weights ``w`` (N, K), computed by the
    same float GEMM as the quantized layers. Returns int32 (R, N).

    Raises: ValueError if ``a`` leaves [-255, 255] or ``w`` is not int8."""
    if w.dtype != np.int8:
        raise ValueError(f"int_matmul: w must be int8, got {w.dtype}")
    if a.size and (a.min() < -255 or a.max() > 255 or np.any(a != np.round(a))):
        raise ValueError("int_matmul: a must hold integers in [-255, 255]")
    return _exact_gemm(a, w).astype(np.int32)


def quantize_activation(x: np.ndarray, scale, zero_point, out=None,
                        relu: bool = False, qmax: int = 255) -> np.ndarray:
    """Centred uint8 codes ``q - zp = clamp(rint(fl32(x / s)), -zp, qmax - zp)`` as
    float32 (``x / s`` computed as ``x * fl32(1 / s)``, rounded half to even);
    scale and zero point are scalars or broadcast against ``x`` (per row).
    ``relu``: the codes of ``max(x, 0)`` (the lower bound becomes 0), with
    no extra pass. ``qmax``: 255 (uint8), or 15 for 4-bit activations.

    Rounding before adding the integer zero point gives the same codes as
    rounding after, except where float32 would round ``x / s + zp`` onto a
    tie; this form needs three passes over ``x`` instead of five. O(n)."""
    if not isinstance(scale, np.ndarray) and not isinstance(zero_point, np.ndarray):  # scalars
        zp = np.float32(zero_point)
        q = np.multiply(x, np.float32(1.0) / np.float32(scale), dtype=np.float32, out=out)
        np.rint(q, out=q)
        lo = np.float32(0) if relu else -zp
        return q.clip(lo, np.float32(qmax) - zp, out=q)  # ndarray.clip's fast path
    inv = np.float32(1.0) / np.asarray(scale, np.float32)
    zp = np.asarray(zero_point, np.float32)
    # One new array (or ``out``, which may be x itself); the rest in place.
    q = np.multiply(x, inv, dtype=np.float32, out=out)
    np.rint(q, out=q)
    lo, hi = (np.maximum(-zp, 0) if relu else -zp), np.float32(qmax) - zp
    if q.shape[0] <= 8:  # a few rows: one clip call costs less than two ufunc calls
        q.clip(lo, hi, out=q)
    else:  # many rows with per-row bounds: the two ufuncs beat clip (measured 3x)
        np.maximum(q, lo, out=q)
        np.minimum(q, hi, out=q)
    return q


_EPS32 = float(np.finfo(np.float32).eps)


def dynamic_qparams(x: np.ndarray, per_row: bool = False):
    """Affine uint8 parameters ``(scale, zero_point)`` (float32) from the min and
    max (with 0) of the whole batch (scalars), or of each row of a 2-D ``x``
    (``per_row``: ``(R, 1)`` arrays; one row gives scalars):
    ``s = max((hi - lo) / 255, eps)``, ``zp = rint(-lo / s)`` in float64.

    Per row, a token's codes do not depend on the other tokens of the batch,
    so a KV-cached decode quantizes each token exactly as the full forward does."""
    if per_row and x.shape[0] > 1:
        return _row_qparams(x)
    return _scalar_qparams(float(np.minimum.reduce(x, axis=None)),
                           float(np.maximum.reduce(x, axis=None)))


def _scalar_qparams(lo: float, hi: float):
    """One range's parameters in Python floats: IEEE doubles, so the same
    values as the array arithmetic of :func:`_row_qparams` (``round`` is half
    to even like ``np.rint``), at a tenth of the cost of NumPy calls on
    (1, 1) arrays (a decode step quantizes one row per layer)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max((hi - lo) / 255.0, _EPS32)
    if scale != scale or scale == float("inf"):  # NaN or inf in x: no finite grid
        return np.float32(scale), np.float32(0.0)
    # 0 <= -lo / scale <= 255 since -lo <= hi - lo: no clamp needed
    return np.float32(scale), np.float32(round(-lo / scale))


def _row_qparams(x: np.ndarray):
    """``dynamic_qparams(x, per_row=True)`` for a 2-D ``x`` of several rows:
    the same float64 arithmetic, every step after the two reductions in
    place on (R, 1) arrays."""
    lo = np.minimum.reduce(x, axis=1, keepdims=True).astype(np.float64)
    np.minimum(lo, 0.0, out=lo)
    hi = np.maximum.reduce(x, axis=1, keepdims=True).astype(np.float64)
    np.maximum(hi, 0.0, out=hi)
    scale = np.subtract(hi, lo, out=hi)
    scale /= 255.0
    np.maximum(scale, _EPS32, out=scale)
    zp = np.divide(lo, scale, out=lo)
    np.negative(zp, out=zp)  # -lo / scale, in [0, 255]
    np.rint(zp, out=zp)  # np.round's half-to-even
    return scale.astype(np.float32), zp.astype(np.float32)


# ------------------------------------------------------------- linear (int8)


def _qlinear_fwd(x, w, w_scale, *b, act_scale, act_zp, tile=None):
    """x (*, K) float32, w (N, K) int8, w_scale (N,) -> (*, N) float32.

    Dynamic (``act_scale`` None): each row (token, sample) gets its own
    activation scale from its min and max."""
    rows = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
    if act_scale is not None:
        s, zp = act_scale, act_zp
    elif rows.shape[0] == 1:  # a decode step: the scalar path, same values
        s, zp = _scalar_qparams(float(np.minimum.reduce(rows, axis=None)),
                                float(np.maximum.reduce(rows, axis=None)))
    else:
        s, zp = _row_qparams(rows)
    y = _rescale(_exact_gemm(quantize_activation(rows, s, zp), w, tile), s, w_scale, b)
    return y if x.ndim == 2 else y.reshape(*x.shape[:-1], w.shape[0])


def _rescale(acc: np.ndarray, s, w_scale: np.ndarray, b: tuple) -> np.ndarray:
    """``acc * (s * w_scale) + b`` in float32, in place when ``acc`` is float32:
    the exact integer accumulator (R, N) back to real units."""
    if acc.dtype != np.float32:
        acc = acc.astype(np.float32)
    acc *= w_scale * s  # (N,) float32 times () or (R, 1) float32: float32
    if b:
        acc += b[0]
    return acc


def _qlinear_flops(inputs, out, params) -> int:
    x, w = inputs[0], inputs[1]
    rows = x.size // x.shape[-1]
    # quantize x (~4/elem), the GEMM (2 per MAC), rescale and bias (2 per output)
    return int(2 * rows * w.shape[0] * w.shape[1] + 4 * x.size + 2 * rows * w.shape[0])


QUANTIZED_LINEAR = Primitive("quantized_linear", _qlinear_fwd, differentiable=False,
                             flops=_qlinear_flops)


# ----------------------------------------- a chain of static int8 Linears
#
# Between two static layers the float activation only lives to be quantized
# again, so a chain keeps the codes: layer i's exact accumulator is rescaled
# and immediately rounded onto layer i+1's input grid, and a ReLU between
# them is the clamp's lower bound (on centred codes c = q - zp, ReLU is
# max(c, 0), i.e. max(q, zp)). The arithmetic is exactly that of the layers
# run one by one (rescale, bias, ReLU, quantize), so the outputs are
# bit-identical; what goes is a pass over the activations per ReLU, the
# float hand-over between modules and one dispatch per layer.


def _layer_arrays(arrays: tuple, layers: tuple):
    """``(w, w_scale, bias-tuple)`` of each layer from the flat input list."""
    i = 0
    for spec in layers:
        has_bias = spec[2]
        yield arrays[i], arrays[i + 1], arrays[i + 2:i + 2 + has_bias]
        i += 2 + has_bias


def _qchain_fwd(x, *arrays, layers):
    """x (*, K_0) float32 -> (*, N_last) float32 through L static int8 Linears.

    ``arrays``: each layer's ``w`` (N, K) int8, ``w_scale`` (N,) and, if it
    has one, ``bias`` (N,); ``layers``: per layer ``(input scale, input
    zero point, has_bias, relu_after, weight tile)`` (float32, float32,
    bool, bool, int or None; ``relu_after`` is ignored on the last layer).
    Cost: the layers' GEMMs plus 5 passes over each hidden activation
    (rescale, bias, scale, round, clamp)."""
    rows = x.reshape(-1, x.shape[-1])
    c = quantize_activation(rows, layers[0][0], layers[0][1])
    for i, (w, w_scale, b) in enumerate(_layer_arrays(arrays, layers)):
        y = _rescale(_exact_gemm(c, w, layers[i][4]), layers[i][0], w_scale, b)
        if i + 1 == len(layers):
            return y.reshape(*x.shape[:-1], w.shape[0])
        s_next, zp_next = layers[i + 1][0], layers[i + 1][1]
        c = quantize_activation(y, s_next, zp_next, out=y, relu=layers[i][3])


def _qchain_flops(inputs, out, params) -> int:
    rows, flops = inputs[0].size // inputs[0].shape[-1], 0
    for w, _, _ in _layer_arrays(inputs[1:], params["layers"]):
        n, k = w.shape  # quantize the input, the GEMM, rescale and bias: as QUANTIZED_LINEAR
        flops += 2 * rows * n * k + 4 * rows * k + 2 * rows * n
    return int(flops)


QUANTIZED_LINEAR_CHAIN = Primitive("quantized_linear_chain", _qchain_fwd, differentiable=False,
                                   flops=_qchain_flops)


# ------------------------------------------------------------- conv2d (int8)


def _im2col(x: np.ndarray, kh: int, kw: int, stride, padding) -> tuple[np.ndarray, int, int]:
    """(N, C, H, W) -> columns (N*OH*OW, C*KH*KW), zero padding: one new,
    writeable array (never a view of x)."""
    (sh, sw), (ph, pw) = stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    n, c, oh, ow = win.shape[:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)
    if not cols.flags.writeable:  # a read-only view of x (1x1 kernel): copy it
        cols = cols.copy()
    return cols, oh, ow


def _qconv2d_fwd(x, w, w_scale, *b, stride, padding, act_scale, act_zp, tile=None):
    """x (N, C, H, W) float32, w (OC, C, KH, KW) int8 -> (N, OC, OH, OW) float32.

    im2col on the float input (zero padding), then the columns are quantized
    in place: 0.0 maps to the zero point, so padding is the real 0."""
    s, zp = dynamic_qparams(x) if act_scale is None else (act_scale, act_zp)
    oc, _, kh, kw = w.shape
    cols, oh, ow = _im2col(x, kh, kw, stride, padding)  # a fresh float32 copy
    quantize_activation(cols, s, zp, out=cols)
    y = _rescale(_exact_gemm(cols, w.reshape(oc, -1), tile), s, w_scale, b)  # (N*OH*OW, OC)
    return np.ascontiguousarray(y.reshape(x.shape[0], oh, ow, oc).transpose(0, 3, 1, 2))


def _qconv2d_flops(inputs, out, params) -> int:
    w = inputs[1]
    n, oc, oh, ow = out.shape
    k = w.shape[1] * w.shape[2] * w.shape[3]
    return int(2 * n * oc * oh * ow * k + 4 * inputs[0].size + 2 * out.size)


QUANTIZED_CONV2D = Primitive("quantized_conv2d", _qconv2d_fwd, differentiable=False,
                             flops=_qconv2d_flops)


# ---------------------------------------------------------- embedding (int8)


def _qembedding_fwd(w, w_scale, *, ids):
    """Rows ``ids`` of int8 ``w`` (V, E) times their scale: (*ids.shape, E) float32."""
    return w[ids].astype(np.float32) * w_scale[ids][..., None]


QUANTIZED_EMBEDDING = Primitive("quantized_embedding", _qembedding_fwd, differentiable=False,
                                flops=lambda inputs, out, params: int(out.size))


# ------------------------------------------- grouped weight-only (int4/int8)
#
# Q4_0-like layout: each row of W (N, K) is cut into groups of ``gs`` values
# (the row is zero-padded to a multiple of gs). A group has one float16 scale
# d = absmax / -8 taken with the sign of the value of largest magnitude, and
# codes q = clamp(round(x / d) + 8, 0, 15), so x ~ (q - 8) * d. The 4-bit
# codes of a group are packed two per byte: byte j holds code j in its low
# nibble and code j + gs/2 in its high nibble. 8-bit groups store int8 codes
# round(x / d) with d = absmax / 127.


def pack_groups(w: np.ndarray, bits: int, gs: int) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, scales)`` of ``w`` (N, K): codes uint8 (N, G*gs/2) for 4 bits or
    int8 (N, G*gs) for 8 bits, scales float16 (N, G), G = ceil(K / gs). O(N*K)."""
    n, k = w.shape
    g = -(-k // gs)
    wp = np.zeros((n, g * gs), np.float32)
    wp[:, :k] = w
    grp = wp.reshape(n, g, gs)
    if bits == 4:
        idx = np.abs(grp).argmax(axis=2)[..., None]
        d = (np.take_along_axis(grp, idx, axis=2)[..., 0] / -8.0).astype(np.float16)
    else:
        d = (np.abs(grp).max(axis=2) / 127.0).astype(np.float16)
    d32 = d.astype(np.float32)
    inv = np.divide(1.0, d32, out=np.zeros_like(d32), where=d32 != 0)[..., None]
    if bits == 4:
        q = np.clip(np.rint(grp * inv + 8), 0, 15).astype(np.uint8)
        half = gs // 2
        packed = q[..., :half] | (q[..., half:] << 4)
        return packed.reshape(n, g * half), d
    q = np.clip(np.rint(grp * inv), -127, 127).astype(np.int8)
    return q.reshape(n, g * gs), d


def unpack_groups(codes: np.ndarray, scales: np.ndarray, bits: int, gs: int,
                  k: int) -> np.ndarray:
    """Float32 weights (..., K) from ``pack_groups`` output (leading dims kept). O(N*K)."""
    lead, g = scales.shape[:-1], scales.shape[-1]
    if bits == 4:
        c = codes.reshape(*lead, g, gs // 2)
        q = np.concatenate([c & 0x0F, c >> 4], axis=-1).astype(np.float32) - 8.0
    else:
        q = codes.reshape(*lead, g, gs).astype(np.float32)
    w = q * scales.astype(np.float32)[..., None]
    return w.reshape(*lead, g * gs)[..., :k]


def _wo_linear_fwd(x, codes, scales, *b, bits, group_size, in_features, act=None):
    """x (*, K) float32 -> (*, N) float32. 8-bit codes with one group per row
    (per channel), or few rows of grouped 8-bit codes (a decode step):
    :func:`_wo8_few_rows`; otherwise the weights are unpacked to float32
    (N, K) and one GEMM follows. ``act`` ``(scale, zero_point, qmax)``: the
    input is first rounded onto that static grid (W4A4 / W4A8 layers)."""
    rows = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
    if act is not None:  # static activations on a (qmax + 1)-level grid, dequantized
        s, zp, qmax = act
        rows = quantize_activation(rows, s, zp, qmax=qmax)
        rows *= np.float32(s)
    n, g = scales.shape
    if bits == 8 and (g == 1 or rows.shape[0] * g <= in_features):
        y = _wo8_few_rows(rows, codes, scales, group_size)
    else:
        y = rows @ unpack_groups(codes, scales, bits, group_size, in_features).T
    if b:
        y += b[0]
    return y if x.ndim == 2 else y.reshape(*x.shape[:-1], n)


def _wo8_few_rows(rows, codes, scales, gs):
    """``rows @ W.T`` for 8-bit group codes without scaling the (N, K) weights:
    ``y[:, n] = sum_g d[n, g] * (x_g @ q[n, g])``, one batched GEMM over the G
    groups ((G, R, gs) x (G, gs, N)), then the (G, R, N) partial sums are
    scaled and summed. It saves the unpacked weights' scaling pass (the
    codes are still widened once, into the thread's workspace); its
    temporary is G*R*N floats, which is why the caller keeps it for R*G <= K.
    Equal to the unpacked GEMM up to float32 summation order."""
    n, g = scales.shape
    r, k = rows.shape
    if g == 1:  # per-channel: y = (x @ q.T) * d, one GEMM on the codes, any R
        y = np.dot(rows, widen(codes if k == gs else codes[:, :k], np.float32).T)
        y *= scales.reshape(n).astype(np.float32)
        return y
    if k != g * gs:  # zero-pad the input to whole groups (padded codes are 0)
        rows = np.concatenate([rows, np.zeros((r, g * gs - k), rows.dtype)], axis=1)
    w = widen(codes, np.float32).reshape(n, g, gs)  # the workspace: no allocation
    part = np.matmul(rows.reshape(r, g, gs).transpose(1, 0, 2), w.transpose(1, 2, 0))
    # (G, R, N) times d (G, 1, N); widening the small float16 scales first
    # makes the multiply a same-dtype loop (measured 2x on the GPT's shapes)
    part *= scales.T.astype(np.float32)[:, None, :]
    return np.add.reduce(part, axis=0)


def _wo_linear_flops(inputs, out, params) -> int:
    x, scales = inputs[0], inputs[2]
    k = params["in_features"]
    n = scales.shape[0]
    rows = x.size // x.shape[-1]
    act = 4 * x.size if params.get("act") is not None else 0  # quantize, dequantize
    return int(2 * rows * n * k + 2 * n * k + (rows * n if len(inputs) == 4 else 0) + act)


WEIGHT_ONLY_LINEAR = Primitive("weight_only_linear", _wo_linear_fwd, differentiable=False,
                               flops=_wo_linear_flops)


def _wo_embedding_fwd(codes, scales, *, ids, bits, group_size, dim):
    return unpack_groups(codes[ids], scales[ids], bits, group_size, dim)


WEIGHT_ONLY_EMBEDDING = Primitive("weight_only_embedding", _wo_embedding_fwd,
                                  differentiable=False,
                                  flops=lambda inputs, out, params: int(2 * out.size))


# ------------------------------------------------- index-free max pooling


def _max_pool_inference_fwd(x, *, kernel, stride, padding):
    """Max over windows of a strided view: no window copy and no argmax
    (inference only: there is no backward to route gradients for)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return np.max(win, axis=(4, 5))


MAX_POOL2D_INFERENCE = Primitive(
    "max_pool2d_inference", _max_pool_inference_fwd, differentiable=False,
    flops=lambda inputs, out, params: int(out.size * params["kernel"][0] * params["kernel"][1]))
