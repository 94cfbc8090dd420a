"""The fused decode primitives: a transformer block for one new token in two dispatches.

A decode step feeds one token through the model. Composed from the
modules of the stack, one pre-norm block takes about twenty dispatches (two
layer norms, the QKV Linear, reshape, permute, three slices, attention, the
merge of the heads, the output Linear, the MLP's two Linears and GELU, two
residual adds), each with its argument checks and a few microseconds of
Python before NumPy does any work. At small model sizes that overhead *is*
the cost of a token, so a standard block's decode step is two primitives
around the cache write::

    x (B, 1, E)                                   the new token's residual stream
      │ DECODE_QKV     LayerNorm_1(x) @ W_qkv.T + b_qkv
      ▼
    qkv (B, 3, H, 1, D)                           the token's query, key and value per head
      │ keys, values = cache.update_unchecked(layer, k, v)
      │                                           THE CACHE WRITE: a separate, visible step
      ▼                                           (B, H, L, D): the past and the new token
      │ DECODE_BLOCK   h = x + attention(q, keys, values) @ W_out.T + b_out
      │                y = h + GELU(LayerNorm_2(h) @ W_fc.T + b_fc) @ W_proj.T + b_proj
      ▼
    y (B, 1, E)

Both primitives are functions of their inputs and parameters: they read the
cache's views (``keys``/``values`` params) and write nothing but their output.

Every formula has one definition in the stack; the decode step either calls
it or is tested equal to it. LayerNorm, Linear, attention and the tanh GELU
are evaluated here by row kernels specialised for one token per sequence
(:func:`layer_norm_rows`, :func:`linear_rows`, :func:`attend_one_query`,
:func:`gelu_rows`; the exact GELU calls the ``gelu`` primitive's own
forward): on rows of 32 to 512 numbers each NumPy call costs more than its
arithmetic, and the general forwards make more calls (reductions over any
number of axes, ``matmul``'s ufunc layer, the masking and dropout branches
of attention, the saved tensors of the backward). ``benchmarks/bench_kvcache.py``
prints both timings per call and what the kernels save per block. The tests
check each kernel against its canonical forward (``tinytorch.nn.LAYER_NORM.forward``,
``tinytorch.nn.LINEAR.forward``, ``tinytorch.transformers.SDPA.forward``,
``tinytorch.tensor.PRIMITIVES["gelu"].forward``) on random inputs, and the
cached logits against the uncached model's.

What fusion saves is the work *around* the formulas: the module calls, the
argument checks of the functional API, the dispatch of every reshape,
permute and slice, and the Tensor objects in between (the kvcache README
quantifies it).

Both go through the dispatch path like any op (``apply``), so the profiler
times them and counts their FLOPs, but they are inference-only
(``differentiable=False``): autograd never records them, and the cached
modules use them only under ``no_grad``.

Cost per block and token: ``2 B E (3E + E + 2 hidden)`` FLOPs for the GEMMs
plus ``4 B E L`` for attention over ``L`` cached positions: linear in ``L``.
"""

from __future__ import annotations

import functools

import numpy as np

from tinytorch.tensor import PRIMITIVES, Primitive
from tinytorch.tensor.kernels import GELU_A, GELU_C

__all__ = ["DECODE_QKV", "DECODE_BLOCK", "layer_norm_rows", "linear_rows", "attend_one_query",
           "gelu_rows", "ROW_KERNEL_METHOD"]

#: The row-kernel protocol: a layer that is not a plain ``Linear`` takes part in
#: the fused decode step when it has ``in_features``, ``out_features`` and a
#: method of this name, ``forward_rows(x) -> y``: ``x`` a 2-D float ndarray
#: ``(B, in_features)`` (not to be modified), ``y`` a new float ndarray
#: ``(B, out_features)`` of the same dtype, equal to the layer's ``forward`` on
#: those rows (a quantized ``Linear``, say). The primitives then call it where
#: they would call :func:`linear_rows`; its weight and bias inputs are
#: placeholders of shape ``(out, 0)`` and ``(0,)`` (read for the FLOP count only).
ROW_KERNEL_METHOD = "forward_rows"

_gelu = PRIMITIVES["gelu"].forward  # the canonical GELU: (y, saved)

# How the row kernels keep NumPy's per-call cost low (each is measured by
# ``benchmarks/bench_kvcache.py``, "row kernel tricks", against its plain form):
#
# * operands of the same rank: a ``(1, E)`` row times a ``(E,)`` vector takes
#   NumPy's general broadcasting loop, which costs about twice a same-rank
#   ``(1, E) * (1, E)`` on rows this short, so vectors enter as ``(1, E)`` views;
# * ``ndarray.dot`` rather than ``np.dot``, whose Python dispatcher layer
#   costs as much as the GEMV itself at these sizes.


# ------------------------------------------------------------- row kernels


def linear_rows(x, w, b):
    """``x @ w.T + b`` for ``x`` ``(B, in)``, ``w`` ``(out, in)``: ``(B, out)``.

    ``tinytorch.nn.LINEAR.forward`` on 2-D input. ``dot`` reads ``w.T`` in
    place (one GEMM, no copy) without ``matmul``'s ufunc layer."""
    y = x.dot(w.T)
    y += b.reshape(1, -1)  # same rank as y: see the note above
    return y


def _linear(x, w, b, rows):
    """``rows(x)`` for a row-kernel layer, else :func:`linear_rows`."""
    return linear_rows(x, w, b) if rows is None else rows(x)


#: The most multiply-adds (``B E^2``) for which :func:`layer_norm_rows` centres
#: its rows with one GEMM by ``I - 1/E`` rather than subtracting their means (a
#: GEMV by a column, then a broadcast subtraction): below this, BLAS's call
#: overhead dwarfs the ``E^2`` work, and every later step runs on same-shape
#: operands (one token: ``E <= 128``). ``benchmarks/bench_kvcache.py`` prints
#: both forms' timings.
CENTRING_MAX_WORK = 16384


@functools.lru_cache(maxsize=32)
def _mean_column(n: int, dtype: np.dtype) -> np.ndarray:
    col = np.full((n, 1), 1.0 / n, dtype)
    col.flags.writeable = False  # shared between calls (cached)
    return col


@functools.lru_cache(maxsize=32)
def _centring_matrices(n: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(I - J/n, J/n)``, ``(n, n)`` each: ``x @ centre`` subtracts each row's
    mean, ``y @ mean`` puts each row's mean in every column."""
    mean = np.full((n, n), 1.0 / n, dtype)
    centre = np.eye(n, dtype=dtype) - mean
    centre.flags.writeable = mean.flags.writeable = False  # shared between calls (cached)
    return centre, mean


def layer_norm_rows(x, weight, bias, eps, centring_max_work: int = CENTRING_MAX_WORK):
    """LayerNorm over the last dim of ``x`` ``(B, E)``: ``(x - mean) /
    sqrt(var + eps) * weight + bias``, biased variance.

    ``tinytorch.nn.LAYER_NORM.forward`` with one normalised dim and an affine
    transform. Both means are GEMVs (one BLAS call instead of a reduction and
    a scaling): by a column of ``1/E``, or, when ``B E^2 <= centring_max_work``,
    by the ``(E, E)`` matrices of :func:`_centring_matrices` (see
    :data:`CENTRING_MAX_WORK`). The updates are in place."""
    n = x.shape[-1]
    if x.size * n <= centring_max_work:
        centre, mean = _centring_matrices(n, x.dtype)
        xc = x.dot(centre)  # (B, E), centred
        std = (xc * xc).dot(mean)  # (B, E): the biased variance in every column ...
    else:
        col = _mean_column(n, x.dtype)  # (E, 1)
        xc = x - x.dot(col)  # (B, E), centred
        std = (xc * xc).dot(col)  # (B, 1): the biased variance ...
    std += eps
    np.sqrt(std, out=std)  # ... made the standard deviation in place
    xc /= std
    xc *= weight.reshape(1, -1)
    xc += bias.reshape(1, -1)
    return xc


@functools.lru_cache(maxsize=8)
def _gelu_constants(dtype: np.dtype) -> tuple:
    return dtype.type(GELU_C * GELU_A), dtype.type(GELU_C)


def gelu_rows(x, approximate: str):
    """GELU of the rows ``x`` ``(B, n)``, a new array.

    The tanh form, ``0.5 x (1 + tanh(c (x + a x^3)))``, is the same formula
    and order of operations as the ``gelu`` primitive
    (``tinytorch.tensor.PRIMITIVES["gelu"].forward``, tested equal) without
    its saved tensor, its second output array and its thread split, which
    cost as much as the arithmetic on one token's row; the exact (erf) form
    calls the primitive."""
    if approximate != "tanh":
        return _gelu(x, approximate=approximate)[0]
    ca, c = _gelu_constants(x.dtype)
    y = x * x
    y *= ca
    y += c
    y *= x  # c (x + a x^3)
    np.tanh(y, out=y)
    y += 1.0
    y *= x
    y *= 0.5
    return y


def attend_one_query(q, keys, values, scale):
    """``softmax(q K^T * scale) V`` for one query per (sequence, head).

    ``q`` ``(B, H, 1, D)``, ``keys``/``values`` ``(B, H, L, D)`` -> ``(B, H, 1, D)``.
    ``tinytorch.transformers.SDPA.forward`` without mask or dropout, whose
    softmax is the max-subtracted one (no overflow for large scores); the
    ufunc reductions are called directly (the ndarray methods add a Python
    layer per call)."""
    scores = q @ keys.swapaxes(-1, -2)  # (B, H, 1, L)
    scores *= scale
    scores -= np.maximum.reduce(scores, axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= np.add.reduce(scores, axis=-1, keepdims=True)
    return scores @ values


# ------------------------------------------------------------- primitives


def _qkv_forward(x, ln_w, ln_b, w_qkv, b_qkv, *, eps, num_heads, rows=None):
    """``(B, 1, E)`` -> ``(B, 3, H, 1, D)``: ``[:, 0]``, ``[:, 1]``, ``[:, 2]`` are
    Q, K, V of every head, each ``(B, H, 1, D)`` as the cache stores them
    (head ``h`` owns columns ``h*D .. (h+1)*D`` of each third, as in
    ``MultiHeadAttention.project_qkv``)."""
    b, _, e = x.shape
    qkv = _linear(layer_norm_rows(x.reshape(b, e), ln_w, ln_b, eps), w_qkv, b_qkv, rows)  # (B, 3E)
    return qkv.reshape(b, 3, num_heads, 1, e // num_heads)


def _qkv_flops(inputs, out, params) -> int:
    x, w_qkv = inputs[0], inputs[3]
    b, _, e = x.shape
    return int(8 * b * e + 2 * b * e * w_qkv.shape[0] + b * w_qkv.shape[0])


#: Inputs ``(x, ln1.weight, ln1.bias, qkv.weight, qkv.bias)``, ``x`` ``(B, 1, E)``;
#: params ``eps`` (ln1's), ``num_heads`` and ``rows`` (optional: the QKV layer's
#: ``forward_rows``, see :data:`ROW_KERNEL_METHOD`). Output ``(B, 3, H, 1, D)``.
#: Inference only.
DECODE_QKV = Primitive("kv_decode_qkv", _qkv_forward, differentiable=False, flops=_qkv_flops)


def _block_forward(x, qkv, w_out, b_out, ln2_w, ln2_b, w_fc, b_fc, w_proj, b_proj, *,
                   keys, values, scale, eps, approximate, rows=(None, None, None)):
    b, _, e = x.shape
    r_out, r_fc, r_proj = rows
    att = attend_one_query(qkv[:, 0], keys, values, scale)  # (B, H, 1, D)
    h = x.reshape(b, e) + _linear(att.reshape(b, e), w_out, b_out, r_out)  # heads side by side
    m = _linear(layer_norm_rows(h, ln2_w, ln2_b, eps), w_fc, b_fc, r_fc)  # (B, hidden)
    m = gelu_rows(m, approximate)
    h += _linear(m, w_proj, b_proj, r_proj)  # + mlp(ln2(h))
    return h.reshape(b, 1, e)


def _block_flops(inputs, out, params) -> int:
    x, w_out, w_fc = inputs[0], inputs[2], inputs[6]
    b, _, e = x.shape
    length = params["keys"].shape[-2]
    hidden = w_fc.shape[0]
    gemms = 2 * b * e * (w_out.shape[0] + 2 * hidden)
    attn = 4 * b * e * length + 5 * b * params["keys"].shape[1] * length
    elementwise = b * (8 * e + 2 * e + 8 * hidden)  # layer norm, residuals, GELU
    return int(gemms + attn + elementwise)


#: The rest of a pre-norm block for one new token per sequence, after the
#: cache write::
#:
#:     h = x + out_proj(attention(q, keys, values))
#:     y = h + mlp(ln2(h))          mlp = Linear -> GELU -> Linear
#:
#: Inputs ``(x, qkv, out_proj.weight, out_proj.bias, ln2.weight, ln2.bias,
#: fc.weight, fc.bias, proj.weight, proj.bias)`` with ``qkv`` the output of
#: :data:`DECODE_QKV`; params ``keys``/``values`` (the layer's cached
#: ``(B, H, L, D)`` views, the new token included), ``scale``, ``eps`` (ln2's)
#: ``approximate`` (the GELU's) and ``rows`` (optional: ``(out_proj, fc, proj)``,
#: each a layer's ``forward_rows`` or None for a plain ``Linear``; see
#: :data:`ROW_KERNEL_METHOD`). Output ``(B, 1, E)``. Inference only.
DECODE_BLOCK = Primitive("kv_decode_block", _block_forward, differentiable=False,
                         flops=_block_flops)
