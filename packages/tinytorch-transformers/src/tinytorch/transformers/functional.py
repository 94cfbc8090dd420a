"""Scaled dot-product attention as one fused primitive, and causal masks.

The mask convention (used everywhere in this package)
------------------------------------------------------
A **boolean** mask says where a query may look: ``True`` = attend,
``False`` = blocked (the convention of ``torch.nn.functional.
scaled_dot_product_attention``). A **float** mask is *additive*: it is added
to the scores, so ``0.0`` = attend and ``-inf`` = blocked (finite values are
biases). Blocked scores become exactly ``-inf`` before the softmax, never a
large finite number such as ``-1e9``: in float32, ``score - 1e9`` can swamp
real scores of large magnitude and leak probability into blocked positions.
Integer masks are refused: ``1`` could mean "attend" or "block".

A mask has shape ``(Tq, Tk)`` or any shape that broadcasts to the scores'
shape ``(..., Tq, Tk)`` (``(B, 1, Tq, Tk)`` for a padding mask per sequence,
``(B, H, Tq, Tk)`` for one per head).

:func:`create_causal_mask` builds the boolean causal mask::

    create_causal_mask(4)          key j ->  0 1 2 3
                                   query 0   T . . .
    (True on and below the                 1   T T . .
     diagonal: query i sees                2   T T T .
     keys 0..i, never the future)          3   T T T T

The fused primitive
-------------------
::

    scores  = Q @ K^T / sqrt(D)                    # (..., Tq, Tk)
    scores  = where(mask, scores, -inf)            # or scores + additive mask
    weights = softmax(scores - rowmax(scores))     # (..., Tq, Tk), max-subtracted
    output  = dropout(weights) @ V                 # (..., Tq, Dv)

runs as **one** dispatch (``SDPA``) with a hand-written backward instead of
the seven or eight primitives it would take composed (matmul, transpose,
scale, where, softmax, dropout, matmul): fewer Python round trips, and the
softmax weights are saved once and reused by the backward.

A row whose keys are all blocked has no distribution to normalise. Its
weights and its output are defined as 0 (no NaN in the forward or the
backward), and it passes no gradient.

Cost: ``O(Tq * Tk * (D + Dv))`` time and ``O(Tq * Tk)`` memory per
(batch, head): attention is quadratic in the sequence length.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from tinytorch.autograd import register_backward
from tinytorch.tensor import Primitive, Tensor, apply, as_numpy_generator, kernels, wrap

from ._validate import probability

__all__ = ["create_causal_mask", "scaled_dot_product_attention", "SDPA", "validate_mask"]


# --------------------------------------------------------------------- masks


@functools.lru_cache(maxsize=128)
def _causal_array(seq_len: int, kv_len: int) -> np.ndarray:
    # Query i sits at absolute position (kv_len - seq_len) + i: the keys before
    # it are the cached past plus the chunk's own earlier tokens.
    offset = kv_len - seq_len
    mask = np.arange(kv_len)[None, :] <= (np.arange(seq_len)[:, None] + offset)
    mask.flags.writeable = False  # shared between calls (cached)
    return mask


def create_causal_mask(seq_len: int, kv_len: int | None = None) -> Tensor:
    """The boolean causal mask: ``True`` = attend, ``False`` = blocked.

    Args:
        seq_len: Tq, the number of queries (new positions).
        kv_len: Tk, the number of keys; defaults to ``seq_len``. With
            ``kv_len > seq_len`` the queries are the *last* ``seq_len``
            positions of a ``kv_len``-long sequence (a chunk processed after
            ``kv_len - seq_len`` cached tokens): query ``i`` may attend to keys
            ``0 .. kv_len - seq_len + i``.

    Returns:
        A read-only bool Tensor of shape ``(seq_len, kv_len)``, lower
        triangular for ``kv_len == seq_len``. Masks are cached per shape, so
        building one in every forward costs nothing after the first.

    Raises:
        TypeError: a size that is not an int.
        ValueError: ``seq_len < 1`` or ``kv_len < seq_len``.
    """
    for name, value in (("seq_len", seq_len), ("kv_len", kv_len)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer))
        ):
            raise TypeError(f"create_causal_mask: {name} must be an int, got {value!r}")
    if seq_len < 1:
        raise ValueError(f"create_causal_mask: seq_len must be >= 1, got {seq_len}")
    kv = int(seq_len) if kv_len is None else int(kv_len)
    if kv < seq_len:
        raise ValueError(
            f"create_causal_mask: kv_len ({kv}) must be >= seq_len ({seq_len}): "
            "every query attends at least to itself"
        )
    return wrap(_causal_array(int(seq_len), kv))


def validate_mask(mask, scores_shape: tuple, where: str = "attention") -> np.ndarray | None:
    """Check a mask against the scores' shape ``(..., Tq, Tk)``; return its array.

    Bool arrays are returned as they are; float arrays are returned as they
    are too (the caller casts them to the scores' dtype).

    Raises:
        TypeError: the mask is neither bool nor floating point.
        ValueError: its shape does not broadcast to ``scores_shape``.
    """
    if mask is None:
        return None
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_ and m.dtype.kind != "f":
        raise TypeError(
            f"{where}: the mask must be bool (True = attend) or float (additive, -inf = "
            f"blocked), got dtype {m.dtype}"
        )
    ok = m.ndim <= len(scores_shape)
    if ok and m.shape == tuple(scores_shape[len(scores_shape) - m.ndim:]):
        return m  # the trailing dims exactly (a (Tq, Tk) mask): no broadcast to check
    if ok:
        try:
            ok = np.broadcast_shapes(m.shape, scores_shape) == tuple(scores_shape)
        except ValueError:
            ok = False
    if not ok:
        tq, tk = scores_shape[-2:]
        raise ValueError(
            f"{where}: a mask of shape {m.shape} does not fit attention scores of shape "
            f"{tuple(scores_shape)}; expected ({tq}, {tk}) or a shape broadcastable to "
            f"(..., {tq}, {tk})"
        )
    return m


# ------------------------------------------------------------ the primitive


class _Slot:
    """A second, non-differentiable output of the primitive (the attention
    weights): a primitive returns one array, so the forward hands the weights
    back to :func:`scaled_dot_product_attention` through this slot."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = None


# The batched products go through kernels.matmul: with several kernel threads
# it splits a large stack of small (T x T) products over them, one BLAS
# thread each, instead of letting BLAS split every small product.
#
# Layout: the primitive works on the *transposed* scores S^T = K Q^T, shape
# (..., Tk, Tq). The softmax then reduces over axis -2: its max (when it
# shifts) runs vectorised across contiguous rows (several times faster than
# a reduction along the last axis of short rows), its sums are one product
# with a row of ones, and S^T is already the operand the key gradient needs.
# The weights handed out are the transposed view, (..., Tq, Tk), as
# documented.


@functools.lru_cache(maxsize=32)
def _causal_bias_t(seq_len: int, kv_len: int, dtype: np.dtype) -> np.ndarray:
    """The cached causal mask as an additive bias on the transposed scores:
    ``(Tk, Tq)``, 0 where query ``i`` may see key ``j``, ``-inf`` elsewhere.
    Adding it is one pass over the scores; a masked copy (``copyto`` with
    ``where=``) takes about four times as long."""
    attend_t = np.ascontiguousarray(_causal_array(seq_len, kv_len).T)  # C order, as the scores
    bias = np.where(attend_t, dtype.type(0.0), dtype.type(-np.inf))
    bias.flags.writeable = False  # shared between calls (cached)
    return bias


def _heads_last_buffer(p: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """For 4-D ``(B, H, Tq, Tk) @ (B, H, Tk, Dv)``: the output as a
    ``(B, H, Tq, Dv)`` view of a ``(B, Tq, H, Dv)`` array, the layout in which
    ``MultiHeadAttention`` merges the heads (its permute and reshape are then
    views, not a copy). None (a fresh array) for other shapes."""
    if p.ndim != 4 or v.ndim != 4 or p.shape[:2] != v.shape[:2]:
        return None
    b, h = v.shape[:2]
    buf = np.empty((b, p.shape[2], h, v.shape[3]), dtype=np.result_type(p, v))
    return buf.transpose(0, 2, 1, 3)


def _sdpa_forward(q, k, v, *, mask, scale, dropout_mask, weights_out):
    # Scaling Q (Tq x D) is cheaper than scaling the scores (Tq x Tk) when Tk > D.
    qs = q * scale
    st = kernels.matmul(k, qs.swapaxes(-1, -2))  # S^T: (..., Tk, Tq)
    # softmax(s) = exp(s - c) / sum exp(s - c) for any shift c; the usual
    # shift (each query's max) only keeps exp from overflowing, so it is
    # skipped when no score can overflow. Additive masks may add positive
    # values: they always shift.
    additive = mask is not None and mask.dtype != np.bool_
    shift = additive or kernels.scores_may_overflow(qs, k)
    blocked_t = None
    if additive:
        st += mask.swapaxes(-1, -2)  # already the scores' dtype
    elif mask is not None:
        tq, tk = mask.shape[-2:]
        if not shift and mask.ndim == 2 and mask is _causal_array(tq, tk):
            # The causal mask of create_causal_mask: add its cached 0 / -inf
            # bias. Without the shift every score is finite, so the blocked
            # ones become exactly -inf, as with the masked copy below.
            st += _causal_bias_t(tq, tk, st.dtype)
        else:
            # Blocked entries become exactly -inf inside the kernel (even
            # scores that are not finite). A contiguous transposed mask:
            # copyto is twice as fast with it.
            blocked_t = np.ascontiguousarray((~mask).swapaxes(-1, -2))  # (..., Tk, Tq)
    kernels.attention_softmax_(st, blocked_t, shift=shift)
    weights = st.swapaxes(-1, -2)  # (..., Tq, Tk), rows sum to 1 (or are all 0)
    dropped = weights if dropout_mask is None else weights * dropout_mask
    out = kernels.matmul(dropped, v, out=_heads_last_buffer(dropped, v))  # (..., Tq, Dv)
    weights_out.value = weights
    return out, (st, dropped)


def _sdpa_backward(g, node):
    q, k, v = (t.data for t in node.inputs)
    pt, dropped = node.saved  # P^T (..., Tk, Tq); dropout(P) (..., Tq, Tk)
    scale = node.params["scale"]
    dropout_mask = node.params["dropout_mask"]
    gq = gk = gv = None
    if node.needs[2]:
        gv = kernels.matmul(np.swapaxes(dropped, -1, -2), g)  # (..., Tk, Dv)
    if node.needs[0] or node.needs[1]:
        dst = kernels.matmul(v, np.swapaxes(g, -1, -2))  # dL/d(dropped P)^T, (..., Tk, Tq)
        if dropout_mask is not None:
            dst *= np.swapaxes(dropout_mask, -1, -2)
        # Softmax backward: dS = P * (dP - D), D_i = sum_j dP_ij P_ij per query
        # (axis -2 here). Since O = dropout(P) V and dP = dO V^T (masked like
        # P), D_i = dO_i . O_i: a (Tq x Dv) product instead of a (Tk x Tq)
        # one, and no (Tk x Tq) temporary. Blocked entries have P = 0 and so
        # get 0 (blocked queries too).
        d = np.einsum("...qd,...qd->...q", g, node.out)[..., None, :]  # (..., 1, Tq)
        kernels.softmax_grad_(dst, pt, d)
        # S = (scale Q) K^T: the scale goes onto the (T x D) results.
        if node.needs[0]:
            gq = kernels.matmul(np.swapaxes(dst, -1, -2), k)  # (..., Tq, D)
            gq *= scale
        if node.needs[1]:
            gk = kernels.matmul(dst, q)  # (..., Tk, D)
            gk *= scale
    return gq, gk, gv


def _sdpa_flops(inputs, out, params) -> int:
    q, k, v = inputs
    batch = int(np.prod(q.shape[:-2], dtype=np.int64))
    tq, d = q.shape[-2:]
    tk, dv = k.shape[-2], v.shape[-1]
    per_score = 2 * d  # Q K^T: a multiply and an add per (score, d)
    per_score += 1  # scale
    per_score += 0 if params["mask"] is None else 1  # where / add
    per_score += 4  # softmax: subtract max, exp, sum, divide (the max is a compare)
    per_score += 0 if params["dropout_mask"] is None else 1
    per_score += 2 * dv  # weights @ V
    return int(batch * tq * tk * per_score)


#: The fused attention primitive: inputs ``(Q, K, V)``; params ``mask`` (bool
#: or additive float ndarray, or None), ``scale``, ``dropout_mask`` (ndarray of
#: ``keep / (1 - p)`` or None) and ``weights_out`` (a slot receiving the weights).
SDPA = Primitive("scaled_dot_product_attention", _sdpa_forward, flops=_sdpa_flops, saves=True)
register_backward(SDPA, _sdpa_backward)


def _as_float_tensor(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"scaled_dot_product_attention: {name} must be floating point, "
                        f"got dtype {x.dtype}")
    return x


def _check_qkv(query, key, value) -> tuple[Tensor, Tensor, Tensor]:
    """Query, key and value as float tensors of one dtype and agreeing shapes."""
    q = _as_float_tensor(query, "query")
    k = _as_float_tensor(key, "key")
    v = _as_float_tensor(value, "value")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(
            f"scaled_dot_product_attention: query, key and value must share a dtype, got "
            f"{q.dtype}, {k.dtype} and {v.dtype}"
        )
    qs, ks, vs = q.shape, k.shape, v.shape
    if min(len(qs), len(ks), len(vs)) < 2 or not (len(qs) == len(ks) == len(vs)):
        raise ValueError(
            "scaled_dot_product_attention: query, key and value must have the same number "
            f"(>= 2) of dims, e.g. (B, H, T, D); got {qs}, {ks} and {vs}"
        )
    if qs[:-2] != ks[:-2] or ks[:-2] != vs[:-2] or qs[-1] != ks[-1] or ks[-2] != vs[-2]:
        raise ValueError(
            "scaled_dot_product_attention: shapes disagree: query (..., Tq, D) = "
            f"{qs}, key (..., Tk, D) = {ks}, value (..., Tk, Dv) = {vs}; the leading dims, "
            "D (query/key) and Tk (key/value) must match"
        )
    return q, k, v


def _mask_arg(mask, attn_mask, is_causal, tq: int, tk: int):
    """The one mask given as ``mask=``, ``attn_mask=`` (PyTorch's name) or ``is_causal``."""
    if attn_mask is not None:
        if mask is not None:
            raise TypeError("scaled_dot_product_attention: got both mask= and attn_mask=; "
                            "pass only one (attn_mask= is PyTorch's name for mask=)")
        mask = attn_mask
    if is_causal is True:
        if mask is not None:
            raise ValueError("scaled_dot_product_attention: is_causal=True builds the mask "
                             "itself; pass mask=None")
        return create_causal_mask(tq, tk)
    if is_causal is not False:
        raise TypeError(f"scaled_dot_product_attention: is_causal must be a bool, got "
                        f"{is_causal!r}")
    return mask


def _dropout_mask(p: float, shape: tuple, dtype: np.dtype, generator) -> np.ndarray:
    """Inverted-dropout multipliers of ``shape``: 0 with probability ``p``,
    else ``1 / (1 - p)``, drawn from ``generator``."""
    rng = as_numpy_generator(generator, "scaled_dot_product_attention")
    # Uniforms in the scores' own precision (float32 draws are about twice as
    # fast), then the multipliers written over them: three passes in all.
    u = rng.random(shape, dtype=np.float32 if dtype == np.float32 else np.float64)
    keep = u >= p
    if u.dtype != dtype:
        return keep.astype(dtype) * dtype.type(1.0 / (1.0 - p))
    return np.multiply(keep, dtype.type(1.0 / (1.0 - p)), out=u)


def scaled_dot_product_attention(
    query,
    key,
    value,
    mask=None,
    dropout_p: float = 0.0,
    *,
    scale: float | None = None,
    generator=None,
    is_causal: bool = False,
    attn_mask=None,
) -> tuple[Tensor, Tensor]:
    """Attention ``softmax(Q K^T / sqrt(D) + mask) V`` as one fused primitive.

    Args:
        query: ``(..., Tq, D)``, e.g. ``(B, H, Tq, D)`` or ``(B, Tq, D)``.
        key: ``(..., Tk, D)`` with the same leading dims; ``Tk`` may differ
            from ``Tq`` (a query chunk attending to a longer cached past).
        value: ``(..., Tk, Dv)``.
        mask: None, a bool mask (``True`` = attend) or an additive float mask
            (``-inf`` = blocked), of shape ``(Tq, Tk)`` or broadcastable to
            ``(..., Tq, Tk)``. Masks are constants: they receive no gradient.
        dropout_p: probability of zeroing an attention weight (inverted
            dropout: kept weights are scaled by ``1 / (1 - p)``). Applied
            whenever it is > 0: pass 0 at evaluation (``MultiHeadAttention``
            does so outside training mode).
        scale: the factor applied to ``Q K^T``; default ``1 / sqrt(D)``.
        generator: the source of dropout randomness, a
            ``tinytorch.tensor.Generator`` or ``numpy.random.Generator``
            (default: tinytorch's default generator).
        is_causal: block the future with ``create_causal_mask(Tq, Tk)``
            (instead of ``mask``, which must then be None).
        attn_mask: PyTorch's name for ``mask`` (give one or the other).

    Deliberate differences from ``torch.nn.functional.scaled_dot_product_attention``:
    the weights are returned too (for inspection and plots, at no extra
    cost: the fused forward computes them anyway); and with ``is_causal`` and
    ``Tq < Tk`` the mask is aligned bottom-right (the queries are the last
    ``Tq`` positions, what a KV-cache chunk needs), where PyTorch aligns it
    top-left. The two agree whenever ``Tq == Tk``.

    Returns:
        ``(output, attention_weights)``: ``output`` ``(..., Tq, Dv)`` in the
        inputs' dtype, differentiable w.r.t. Q, K and V; ``attention_weights``
        ``(..., Tq, Tk)``, the softmax probabilities *before* dropout, a
        read-only tensor cut from the graph (for inspection and plots). A
        query whose keys are all blocked gets weights 0 and output 0.

    Cost: ``2 * batch * Tq * Tk * (D + Dv)`` multiply-adds plus the softmax,
    ``O(batch * Tq * Tk)`` memory; one dispatch.

    Raises:
        TypeError: non-float inputs, differing dtypes, an integer mask.
        ValueError: inputs with fewer than 2 dims or disagreeing shapes
            (the message names them), a mask that does not fit the scores,
            ``dropout_p`` outside ``[0, 1)``.
    """
    q, k, v = _check_qkv(query, key, value)
    qs, ks = q.shape, k.shape
    scores_shape = qs[:-1] + (ks[-2],)
    mask = _mask_arg(mask, attn_mask, is_causal, qs[-2], ks[-2])
    m = validate_mask(mask, scores_shape, "scaled_dot_product_attention")
    if m is not None and m.dtype != np.bool_ and m.dtype != q.dtype:
        m = m.astype(q.dtype)
    if scale is None:
        scale = 1.0 / math.sqrt(qs[-1]) if qs[-1] > 0 else 1.0
    p = probability(dropout_p, "scaled_dot_product_attention", "dropout_p")
    dropout_mask = None
    if p > 0.0:  # drawn in the layout of the transposed scores the primitive works on
        transposed = scores_shape[:-2] + (scores_shape[-1], scores_shape[-2])
        dropout_mask = _dropout_mask(p, transposed, q.dtype, generator).swapaxes(-1, -2)
    slot = _Slot()
    out = apply(
        SDPA,
        (q, k, v),
        {"mask": m, "scale": float(scale), "dropout_mask": dropout_mask, "weights_out": slot},
    )
    weights = slot.value.view()
    weights.flags.writeable = False  # the backward reuses this very array
    return out, wrap(weights)

