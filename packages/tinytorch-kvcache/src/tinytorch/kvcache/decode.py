"""The fused decode primitives: one dispatch per block per new token.

A decode step feeds one token through the model. Composed from the
primitives of the stack, one pre-norm block would take about twenty
dispatches (two layer norms, the QKV Linear, reshape, permute, three slices,
attention, the merge of the heads, the output Linear, the MLP's two Linears
and GELU, two residual adds), each a few microseconds of Python before NumPy
does any work. At small model sizes that overhead *is* the cost of a token,
so a block's decode step is one primitive, :data:`DECODE_BLOCK`::

    x (B, 1, E)                                    the new token's residual stream
      │ a = LayerNorm_1(x)                         (B, E)
      │ a @ W_qkv.T + b_qkv                        (B, 3E)      one GEMM
      ▼
    q, k, v  (B, H, D) each                        views of the row
      │ keys[:, :, pos] = k ; values[:, :, pos] = v     the cache write, in place
      ▼
    K, V = keys[:, :, :pos+1], values[:, :, :pos+1]     (B, H, L, D) views, L = pos + 1
      │ softmax(q K^T / sqrt(D)) V                 (B, H, 1, L) -> (B, H, 1, D)
      │                                            no mask: one query sees the whole past
      │ (B, H*D) @ W_out.T + b_out                 heads side by side, projected
      ▼
    h = x + attention                              (B, E)
    y = h + GELU(LayerNorm_2(h) @ W_fc.T + b_fc) @ W_proj.T + b_proj     (B, 1, E)

:data:`DECODE_ATTENTION` is the attention part alone (from ``a`` to the
output projection), used when a block cannot be fused as a whole (hooks on
its submodules, non-standard layers).

Both go through the dispatch path like any op (``apply``), so the profiler
times them and counts their FLOPs, but they are inference-only
(``differentiable=False``): autograd never records them, and the cached
modules use them only under ``no_grad``. The arithmetic is that of the
unfused modules: LayerNorm's formula (biased variance), the ``gelu``
primitive's own forward, the max-subtracted softmax of the fused SDPA; the
cached and uncached logits agree to float rounding.

Side effect, by design: the forward writes the new key and value into the
cache arrays passed as parameters. The caller books the slot first
(:meth:`KVCache._claim`), so the cache's position bookkeeping stays the
single source of truth.

Cost per call: ``2 B E (3E + E + 2 hidden)`` FLOPs for the GEMMs plus
``4 B E L`` for attention: linear in the cached length ``L``.
"""

from __future__ import annotations

import functools

import numpy as np

from tinytorch.tensor import PRIMITIVES, Primitive

__all__ = ["DECODE_ATTENTION", "DECODE_BLOCK"]


def _attend(rows, w_qkv, b_qkv, w_out, b_out, keys, values, pos, num_heads, scale):
    """Decode attention of one new token per sequence: ``rows`` (B, E) -> (B, E).

    Writes the token's key and value at ``pos`` of ``keys``/``values``
    ``(B, H, S, D)`` and attends over positions ``0 .. pos`` (the past and
    the token itself)."""
    b, e = rows.shape
    d = e // num_heads
    # (B, 3E); W (3E, E) is read transposed in place. np.dot: 2-D GEMMs
    # without matmul's ufunc layer.
    qkv = np.dot(rows, w_qkv.T)
    if b_qkv is not None:
        qkv += b_qkv
    qkv = qkv.reshape(b, 3, num_heads, d)  # (B, 3, H, D): Q, K, V; head h owns columns h*D..
    keys[:, :, pos] = qkv[:, 1]  # (B, H, D) -> slot pos of (B, H, S, D)
    values[:, :, pos] = qkv[:, 2]
    k = keys[:, :, : pos + 1]  # (B, H, L, D), includes the token just written
    v = values[:, :, : pos + 1]
    q = qkv[:, 0, :, None, :]  # (B, H, 1, D)
    scores = q @ k.swapaxes(-1, -2)  # (B, H, 1, L)
    scores *= scale
    # The max-subtracted softmax of the fused SDPA (ufunc reductions called
    # directly: the ndarray methods add a Python layer per call).
    scores -= np.maximum.reduce(scores, axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= np.add.reduce(scores, axis=-1, keepdims=True)
    out = scores @ v  # (B, H, 1, D)
    y = np.dot(out.reshape(b, e), w_out.T)  # (B, E): heads concatenated, then projected
    if b_out is not None:
        y += b_out
    return y


def _decode_forward(x, w_qkv, *rest, keys, values, pos, num_heads, scale, has_bias):
    if has_bias:
        b_qkv, w_out, b_out = rest
    else:
        (w_out,) = rest
        b_qkv = b_out = None
    b, _, e = x.shape
    y = _attend(x.reshape(b, e), w_qkv, b_qkv, w_out, b_out, keys, values, pos, num_heads,
                scale)
    return y.reshape(b, 1, e)


def _decode_flops(inputs, out, params) -> int:
    x, w_qkv = inputs[0], inputs[1]
    b, _, e = x.shape
    length = params["pos"] + 1
    proj = 2 * b * e * w_qkv.shape[0] + 2 * b * e * e  # the two GEMMs
    attn = b * e * length * 4 + b * params["num_heads"] * length * 5  # QK, PV, softmax
    return int(proj + attn)


#: Inputs ``(x, W_qkv[, b_qkv], W_out[, b_out])`` (biases when ``has_bias``);
#: params ``keys``/``values`` (one layer's cache arrays ``(B, H, S, D)``, written
#: at ``pos``), ``pos``, ``num_heads``, ``scale``, ``has_bias``. Output ``(B, 1, E)``.
DECODE_ATTENTION = Primitive(
    "kv_decode_attention", _decode_forward, differentiable=False, flops=_decode_flops
)


# ------------------------------------------------------- the whole block


@functools.lru_cache(maxsize=32)
def _mean_column(n: int, dtype: np.dtype) -> np.ndarray:
    col = np.full((n, 1), 1.0 / n, dtype)
    col.flags.writeable = False  # shared between calls (cached)
    return col


def _layer_norm_rows(x, weight, bias, eps):
    """``tinytorch.nn.LayerNorm`` over the last dim of ``x`` (B, E): biased
    variance, ``(x - mean) / sqrt(var + eps) * weight + bias``.

    Both means are a GEMV with a column of ``1/E`` (one BLAS call instead of
    a reduction and a scaling: on a short row each NumPy call costs more
    than its arithmetic), and the updates are in place."""
    col = _mean_column(x.shape[-1], x.dtype)  # (E, 1)
    xc = x - np.dot(x, col)  # (B, E), centred
    var = np.dot(xc * xc, col)  # (B, 1), biased
    xc /= np.sqrt(var + eps)
    xc *= weight
    xc += bias
    return xc


def _block_forward(x, ln1_w, ln1_b, w_qkv, b_qkv, w_out, b_out, ln2_w, ln2_b, w_fc, b_fc,
                   w_proj, b_proj, *, keys, values, pos, num_heads, scale, eps1, eps2,
                   approximate):
    b, _, e = x.shape
    h = x.reshape(b, e)  # (B, E): the residual stream of the new token
    a = _attend(_layer_norm_rows(h, ln1_w, ln1_b, eps1), w_qkv, b_qkv, w_out, b_out,
                keys, values, pos, num_heads, scale)
    h = h + a  # x + attn(ln1(x))
    m = np.dot(_layer_norm_rows(h, ln2_w, ln2_b, eps2), w_fc.T)  # (B, hidden)
    m += b_fc
    m = _GELU.forward(m, approximate=approximate)[0]  # the gelu primitive's own formula
    m = np.dot(m, w_proj.T)  # (B, E)
    m += b_proj
    h += m  # + mlp(ln2(.))
    return h.reshape(b, 1, e)


def _block_flops(inputs, out, params) -> int:
    x, w_qkv, w_fc = inputs[0], inputs[3], inputs[9]
    b, _, e = x.shape
    length = params["pos"] + 1
    gemms = 2 * b * e * (w_qkv.shape[0] + e + 2 * w_fc.shape[0])
    attn = b * e * length * 4 + b * params["num_heads"] * length * 5
    elementwise = b * (2 * 8 * e + 2 * e + 8 * w_fc.shape[0])  # 2 layer norms, residuals, GELU
    return int(gemms + attn + elementwise)


_GELU = PRIMITIVES["gelu"]

#: A whole pre-norm transformer block for one new token per sequence::
#:
#:     h = x + attn(ln1(x))      (the attention of DECODE_ATTENTION, cache write included)
#:     y = h + mlp(ln2(h))       mlp = Linear -> GELU -> Linear
#:
#: Inputs ``(x, ln1.weight, ln1.bias, qkv.weight, qkv.bias, out_proj.weight,
#: out_proj.bias, ln2.weight, ln2.bias, fc.weight, fc.bias, proj.weight,
#: proj.bias)``; params as DECODE_ATTENTION plus ``eps1``, ``eps2`` and
#: ``approximate`` (the GELU's). Output ``(B, 1, E)``. Inference only.
DECODE_BLOCK = Primitive(
    "kv_decode_block", _block_forward, differentiable=False, flops=_block_flops
)
