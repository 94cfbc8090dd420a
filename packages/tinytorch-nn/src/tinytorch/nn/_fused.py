"""Fused primitives of tinytorch.nn: forward on NumPy arrays, hand-written backward.

Each one is a :class:`tinytorch.tensor.Primitive` (so it goes through the one
dispatch path: autograd records it, the profiler times it and counts its
FLOPs) whose backward rule is registered with
:func:`tinytorch.autograd.register_backward`. They are fused because one
NumPy pass with saved intermediates is faster, and numerically safer, than
the graph of small ops the same math would otherwise build.

Public wrappers with argument checks live in :mod:`tinytorch.nn.functional`;
these functions trust their inputs.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from tinytorch.autograd import register_backward
from tinytorch.tensor import Primitive, kernels

__all__ = ["LINEAR", "LAYER_NORM", "CROSS_ENTROPY", "CONV2D", "MAX_POOL2D", "AVG_POOL2D",
           "BATCH_NORM", "BCE", "BCE_WITH_LOGITS"]


def _reduce_loss(values: np.ndarray, reduction: str, count) -> np.ndarray:
    if reduction == "none":
        return values
    total = values.sum(dtype=values.dtype)
    if reduction == "sum":
        return np.asarray(total)
    with np.errstate(invalid="ignore", divide="ignore"):  # no counted target: nan, as PyTorch
        return np.asarray(total / values.dtype.type(count))


# -------------------------------------------------------------------- linear
#
# y = x W^T + b with W stored (out, in), PyTorch's layout. The leading dims of
# x are flattened into rows so that the product is ONE GEMM whatever the
# batch shape; ``W.T`` is a transposed view, which BLAS reads through its
# transpose flag, so no copy of the weight is ever made. With g = dL/dy:
#   dx = g W           (rows, out) @ (out, in)
#   dW = g^T x         (out, rows) @ (rows, in): again a view, one GEMM
#   db = sum of g over the rows


def _linear_fwd(x, w, *b):
    rows = x.reshape(-1, x.shape[-1])  # (R, in): a view when x is contiguous
    y = rows @ w.T  # (R, out): one GEMM, W read transposed in place
    if b:
        y += b[0]
    return y.reshape(*x.shape[:-1], w.shape[0])


def _linear_flops(inputs, out, params) -> int:
    x, w = inputs[0], inputs[1]
    rows = x.size // x.shape[-1]
    flops = 2 * rows * w.shape[0] * w.shape[1]
    if len(inputs) == 3:
        flops += rows * w.shape[0]
    return int(flops)


def _linear_bwd(g, node):
    x, w = node.inputs[0].data, node.inputs[1].data
    g2 = g.reshape(-1, w.shape[0])  # (R, out)
    grads = [None, None]
    if node.needs[0]:
        grads[0] = (g2 @ w).reshape(x.shape).astype(x.dtype, copy=False)
    if node.needs[1]:
        grads[1] = (g2.T @ x.reshape(-1, x.shape[-1])).astype(w.dtype, copy=False)
    if len(node.inputs) == 3:
        grads.append(g2.sum(axis=0) if node.needs[2] else None)
    return tuple(grads)


LINEAR = Primitive("linear", _linear_fwd, flops=_linear_flops)
register_backward(LINEAR, _linear_bwd)


# ---------------------------------------------------------------- layer norm
#
# y = xhat * w + b,  xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),
# mean and var over the last ``n_axes`` dims. The backward must treat mean
# and var as functions of x: with dxhat = g * w and D elements per group,
#   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
# The second term is the path through the mean, the third the path through
# the variance (d var / dx = 2 (x - mean) / D).


@functools.lru_cache(maxsize=32)
def _mean_vector(n: int, dtype: np.dtype) -> np.ndarray:
    vector = np.full(n, 1.0 / n, dtype=dtype)
    vector.flags.writeable = False  # shared between calls (cached)
    return vector


def _row_means(rows: np.ndarray) -> np.ndarray:
    """Means along the last axis of ``rows`` ``(R, D)``: ``(R,)``. A GEMV by a
    column of ``1/D``, one BLAS call; on rows as short as a model width (D
    in the hundreds) it is about three times as fast as ``np.mean``, whose
    inner loop restarts on every row, and it needs no scaling after."""
    return rows @ _mean_vector(rows.shape[-1], rows.dtype)


def _layer_norm_fwd(x, *wb, n_axes, eps, has_weight, has_bias):
    nd = x.ndim
    group = x.shape[-1] if n_axes == 1 else math.prod(x.shape[nd - n_axes:])
    stat_shape = x.shape[:nd - n_axes] + (1,) * n_axes  # a keepdims reduction's shape
    rows = x.reshape(-1, group)  # (R, D): a view when x is contiguous
    # Two full-size arrays in all: xc becomes xhat in place (saved for the
    # backward), and the scratch holding xc^2 becomes the output y.
    xc = rows - _row_means(rows)[:, None]
    y = np.multiply(xc, xc)
    rstd = _row_means(y)  # (R,): the variance, made 1 / sqrt(var + eps) in place
    rstd += eps
    np.power(rstd, -0.5, out=rstd)
    xhat = xc
    xhat *= rstd[:, None]
    if has_weight:
        np.multiply(xhat, wb[0].reshape(-1), out=y, casting="same_kind")
        if has_bias:
            np.add(y, wb[1].reshape(-1), out=y, casting="same_kind")
    elif has_bias:
        np.add(xhat, wb[0].reshape(-1), out=y, casting="same_kind")
    else:
        np.copyto(y, xhat)  # xhat is saved: the output must not alias it
    return y.reshape(x.shape), (xhat.reshape(x.shape), rstd.reshape(stat_shape))


def _layer_norm_flops(inputs, out, params) -> int:
    return 8 * int(inputs[0].size)


def _layer_norm_bwd(g, node):
    p = node.params
    xhat, rstd = node.saved
    n_axes = p["n_axes"]
    norm_shape = g.shape[g.ndim - n_axes:]
    group = math.prod(norm_shape)
    weight = node.inputs[1].data if p["has_weight"] else None
    grads = [None]
    gx = dweight = None
    if weight is not None and node.needs[1]:
        gx = np.multiply(g, xhat)
        dweight = np.add.reduce(gx.reshape(-1, group), axis=0).reshape(norm_shape)
    if node.needs[0]:
        # dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), in
        # two full-size buffers: dxhat becomes dx, a scratch holds products.
        dxhat = g * weight if weight is not None else g.copy()
        scratch = gx if gx is not None and gx.dtype == dxhat.dtype else np.empty_like(dxhat)
        stat_shape = rstd.shape
        m1 = _row_means(dxhat.reshape(-1, group)).reshape(stat_shape)
        np.multiply(dxhat, xhat, out=scratch)
        m2 = _row_means(scratch.reshape(-1, group)).reshape(stat_shape)
        np.multiply(xhat, m2, out=scratch)
        dxhat -= scratch
        dxhat -= m1
        dxhat *= rstd
        grads[0] = dxhat.astype(g.dtype, copy=False)
    if p["has_weight"]:
        grads.append(dweight)
    if p["has_bias"]:
        grads.append(np.add.reduce(g.reshape(-1, group), axis=0).reshape(norm_shape)
                     if node.needs[len(grads)] else None)
    return tuple(grads)


LAYER_NORM = Primitive("layer_norm", _layer_norm_fwd, flops=_layer_norm_flops, saves=True)
register_backward(LAYER_NORM, _layer_norm_bwd)


# ------------------------------------------------------------- cross entropy
#
# Logits arrive as (M, C) (the functional moves the class axis last and
# flattens). log p = z - max(z) - log(sum(exp(z - max(z)))): the max shift
# makes exp() overflow-free, and the loss never takes log of a probability
# that underflowed to 0. With label smoothing eps the target distribution is
# q = (1 - eps) onehot + eps / C, and the loss is -sum(q * log p).
# Backward: d loss_i / d z_i = (softmax(z_i) - q_i) * scale_i, where scale_i
# is the upstream gradient of row i (divided by the count for 'mean'), and 0
# for rows whose target is ignore_index.


def _cross_entropy_fwd(z, *, target, valid, reduction, label_smoothing, count):
    m = z.shape[0]
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    sumexp = e.sum(axis=1, keepdims=True)
    logp = shifted - np.log(sumexp)
    rows = np.arange(m)
    nll = -logp[rows, target]
    if label_smoothing:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * logp.mean(axis=1)
    if valid is not None:
        nll = np.where(valid, nll, 0.0)
    nll = nll.astype(z.dtype, copy=False)
    probs = e / sumexp
    return _reduce_loss(nll, reduction, count), probs


def _cross_entropy_flops(inputs, out, params) -> int:
    return 5 * int(inputs[0].size)


def _cross_entropy_bwd(g, node):
    p = node.params
    probs = node.saved
    m, c = probs.shape
    target, valid, eps = p["target"], p["valid"], p["label_smoothing"]
    reduction = p["reduction"]
    if reduction == "none":
        scale = g.reshape(m, 1)
    elif reduction == "sum":
        scale = g.reshape(1, 1)
    else:
        scale = g.reshape(1, 1) / max(p["count"], 1)  # count 0: every row is masked anyway
    grad = probs.copy()  # the softmax - onehot step happens in place
    if eps:
        grad -= eps / c
    grad[np.arange(m), target] -= 1.0 - eps
    if valid is not None:
        grad *= valid[:, None]
    grad *= scale
    return (grad.astype(probs.dtype, copy=False),)


CROSS_ENTROPY = Primitive(
    "cross_entropy", _cross_entropy_fwd, flops=_cross_entropy_flops, saves=True
)
register_backward(CROSS_ENTROPY, _cross_entropy_bwd)


# -------------------------------------------------------------------- conv2d
#
# im2col turns the convolution into matrix products. For every image n,
# kernel offset (c, i, j) and output pixel (oh, ow), the column array holds
# the input value that offset sees:
#
#   cols[n, (c, i, j), (oh, ow)] = x_padded[n, c, oh*sh + i, ow*sw + j]
#   out[n, o, (oh, ow)]          = sum_(c,i,j) W[o, (c, i, j)] * cols[n, (c, i, j), (oh, ow)]
#
# i.e. out (N, OC, OH*OW) = W (OC, C*KH*KW) @ cols (N, C*KH*KW, OH*OW): one
# BLAS GEMM per image, written straight into the (N, OC, OH, OW) output (no
# transpose copy), and the backward reads the gradient in the same layout.
# The columns (KH*KW times the input for stride 1) are kept for dW.
#
# The bias rides inside the GEMMs: cols gets one extra row of ones and W one
# extra column holding b, so the forward GEMM adds b (no separate pass over
# the output), and in the backward the GEMM that gives dW gives db too
# (g @ ones = the sum of g over the pixels) for one more row of work.
# dW is computed transposed, cols @ g^T ((K, OH*OW) @ (OH*OW, OC) per
# image): BLAS runs that orientation of the skinny product faster.
#
# Two ways to move data between images and columns:
# - general (any stride, padding): a strided window view of the padded
#   images (``sliding_window_view``), one copy out of it; col2im is one
#   strided slice-add per kernel offset, clipped to the unpadded image.
# - "flat" (stride 1 and OW == W, i.e. 2*pw == KW - 1, as in 'same'
#   convolutions): with rows of the same width W in the image and in the
#   output, kernel offset (i, j) is a plain shift s = (ph - i)*W + (pw - j)
#   of the flattened (H*W) image, so each offset is ONE contiguous copy (or
#   add) of whole images, with no padded buffer. Entries that a shift wraps
#   around a row end are exactly those that fall in the width padding: they
#   are set to zero (columns ow < pw - j or ow >= W + pw - j of that offset).
# Images are independent: with several kernel threads each takes a share
# of the batch (tinytorch.tensor.kernels.split_work).


def _conv_out_size(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _pad(x: np.ndarray, ph: int, pw: int, value=0.0) -> np.ndarray:
    if not ph and not pw:
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=x.dtype)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


def _windows(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """Strided view (N, C, OH, OW, KH, KW) of every kernel window; no copy."""
    return np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def _is_flat(kernel, stride, padding) -> bool:
    """Whether the flat (shift) layout applies: stride 1 and OW == W."""
    return tuple(stride) == (1, 1) and 2 * padding[1] == kernel[1] - 1


def _flat_shifts(kh: int, kw: int, ph: int, pw: int, w: int):
    """``(i, j, s)`` for every kernel offset: image pixel p feeds column
    entry p - s of offset (i, j) in the flattened layout."""
    return [(i, j, (ph - i) * w + (pw - j)) for i in range(kh) for j in range(kw)]


def _zero_wrapped(c6: np.ndarray, pw: int) -> None:
    """Zero the entries of ``c6`` (n, C, KH, KW, OH, W) that a flat shift
    wraps around a row end: for offset j, columns ow < pw - j or
    ow >= W + pw - j (their pixel lies in the width padding)."""
    w = c6.shape[5]
    for j in range(c6.shape[3]):
        s = pw - j
        if s > 0:
            c6[:, :, :, j, :, :min(s, w)] = 0
        elif s < 0:
            c6[:, :, :, j, :, max(w + s, 0):] = 0


def _im2col_flat(x: np.ndarray, cv: np.ndarray, kernel, padding) -> None:
    """Flat im2col: ``cv`` (n, C, KH, KW, OH*W) from unpadded ``x`` (n, C, H, W),
    one contiguous copy per kernel offset. O(n C KH KW OH W)."""
    n, c, h, w = x.shape
    (kh, kw), (ph, pw) = kernel, padding
    size, out = h * w, cv.shape[4]
    xf = x.reshape(n, c, size)  # a view for contiguous x, a copy otherwise
    for i, j, s in _flat_shifts(kh, kw, ph, pw, w):
        lo, hi = max(0, s), min(out, size + s)  # entries whose pixel is in the image
        if lo >= hi:
            cv[:, :, i, j] = 0
            continue
        cv[:, :, i, j, lo:hi] = xf[:, :, lo - s:hi - s]
        cv[:, :, i, j, :lo] = 0  # rows in the height padding
        cv[:, :, i, j, hi:] = 0
    _zero_wrapped(cv.reshape(n, c, kh, kw, out // w, w), pw)


def _weight_matrix(w: np.ndarray, b: np.ndarray | None, dtype) -> np.ndarray:
    """The GEMM's left operand: W as (OC, C*KH*KW), plus a last column
    holding ``b`` when there is a bias (it meets the row of ones of the
    columns). A small copy, of ``dtype``."""
    oc = w.shape[0]
    k = w.size // oc
    wk = np.empty((oc, k + (b is not None)), dtype=dtype)
    wk[:, :k] = w.reshape(oc, k)
    if b is not None:
        wk[:, k] = b
    return wk


def _im2col(x: np.ndarray, cols: np.ndarray, kernel, stride, padding) -> None:
    """Fill ``cols`` (n, C*KH*KW [+1], OH*OW) from the unpadded images ``x``
    (n, C, H, W) (flat or general path, the same values); a last row, if
    ``cols`` has one, is set to ones (the bias row). O(n C KH KW OH OW)."""
    n, c = x.shape[:2]
    kh, kw = kernel
    k = c * kh * kw
    if _is_flat(kernel, stride, padding):
        _im2col_flat(x, cols[:, :k].reshape(n, c, kh, kw, -1), kernel, padding)
    else:
        win = _windows(_pad(x, *padding), kh, kw, *stride)  # (n, C, OH, OW, KH, KW) view
        oh, ow = win.shape[2], win.shape[3]
        np.copyto(cols[:, :k].reshape(n, c, kh, kw, oh, ow), win.transpose(0, 1, 4, 5, 2, 3))
    if cols.shape[1] > k:
        cols[:, k] = 1


def _conv2d_fwd(x, w, *b, stride, padding):
    n, c, h, wd = x.shape
    oc, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    oh, ow = _conv_out_size(h, kh, sh, ph), _conv_out_size(wd, kw, sw, pw)
    dtype = np.result_type(x, w)
    wk = _weight_matrix(w, b[0] if b else None, dtype)  # (OC, K)
    cols = np.empty((n, wk.shape[1], oh * ow), dtype=dtype)
    y = np.empty((n, oc, oh, ow), dtype=dtype)

    def images(lo: int, hi: int) -> None:  # images lo..hi-1, into cols and y
        _im2col(x[lo:hi], cols[lo:hi], (kh, kw), stride, padding)
        np.matmul(wk, cols[lo:hi], out=y[lo:hi].reshape(hi - lo, oc, oh * ow))

    kernels.split_work(images, kernels.parts(n, cols.size))
    return y, (cols, wk)


def _conv2d_flops(inputs, out, params) -> int:
    w = inputs[1]
    n, oc, oh, ow = out.shape
    flops = 2 * n * oc * oh * ow * w.shape[1] * w.shape[2] * w.shape[3]
    if len(inputs) == 3:
        flops += out.size
    return int(flops)


def _offset_span(i: int, out: int, size: int, s: int, p: int):
    """Which outputs of one axis kernel offset ``i`` reaches inside the
    unpadded input, and where: ``(outputs slice, input slice)``, or None
    when every one of them lands in the padding."""
    lo = max(0, -((i - p) // s))  # first o with o*s + i - p >= 0
    hi = min(out, (size - 1 + p - i) // s + 1)  # one past the last o with o*s + i - p < size
    if lo >= hi:
        return None
    start = lo * s + i - p
    return slice(lo, hi), slice(start, start + s * (hi - lo - 1) + 1, s)


def _col2im_strided(dcols: np.ndarray, dx: np.ndarray, stride, padding) -> None:
    """General col2im: one strided slice-add per kernel offset, clipped to
    the unpadded image (no padded buffer, no final crop)."""
    h, wd = dx.shape[2], dx.shape[3]
    kh, kw, oh, ow = dcols.shape[2:]
    (sh, sw), (ph, pw) = stride, padding
    dx[...] = 0
    for i in range(kh):
        rows = _offset_span(i, oh, h, sh, ph)
        for j in range(kw):
            cols = _offset_span(j, ow, wd, sw, pw)
            if rows is not None and cols is not None:
                dx[:, :, rows[1], cols[1]] += dcols[:, :, i, j, rows[0], cols[0]]


def _col2im_flat(dcols: np.ndarray, dx: np.ndarray, padding) -> None:
    """Flat col2im: one contiguous add per kernel offset; the wrapped
    entries of ``dcols`` are zeroed first (it is overwritten)."""
    n, c, h, w = dx.shape
    kh, kw, oh, _ = dcols.shape[2:]
    ph, pw = padding
    _zero_wrapped(dcols, pw)
    d = dcols.reshape(n, c, kh, kw, oh * w)
    xf = dx.reshape(n, c, h * w)
    size, out = h * w, oh * w
    shifts = _flat_shifts(kh, kw, ph, pw, w)
    if ph < kh and oh >= h:  # offset (ph, pw) (shift 0) reaches every pixel: copy it
        shifts.remove((ph, pw, 0))
        np.copyto(xf, d[:, :, ph, pw, :size])
    else:
        xf[...] = 0
    for i, j, s in shifts:
        lo, hi = max(0, -s), min(size, out - s)  # pixels that entries of this offset reach
        if lo < hi:
            xf[:, :, lo:hi] += d[:, :, i, j, lo + s:hi + s]


def _col2im(dcols: np.ndarray, dx: np.ndarray, stride, padding) -> None:
    """Adjoint of im2col, written into ``dx`` (n, C, H, W), which must be
    contiguous: add each column entry back to the pixel it came from.
    ``dcols`` is (n, C, KH, KW, OH, OW) and may be overwritten. KH*KW NumPy
    calls, each over all images, channels and pixels; overlapping windows
    (stride < kernel) accumulate, as they must. O(n C KH KW OH OW)."""
    kernel = dcols.shape[2:4]
    if _is_flat(kernel, stride, padding):
        _col2im_flat(dcols, dx, padding)
    else:
        _col2im_strided(dcols, dx, stride, padding)


def _conv2d_bwd(g, node):
    x = node.inputs[0].data
    cols, wk = node.saved  # (N, K, OH*OW), (OC, K); K = C*KH*KW (+1 with a bias)
    oc, c, kh, kw = node.inputs[1].shape
    k = c * kh * kw
    n, _, oh, ow = g.shape
    g3 = g.reshape(n, oc, oh * ow)  # (N, OC, OH*OW): the output's own layout
    has_bias = len(node.inputs) == 3
    need_x, need_w = node.needs[0], node.needs[1]
    need_b = has_bias and node.needs[2]
    dx = np.empty(x.shape, dtype=g.dtype) if need_x else None

    def images(lo: int, hi: int):  # dx of images lo..hi-1; their share of [dW^T; db]
        if need_x:  # (n, K, OH*OW); a bias row in K is computed and ignored
            dcols = np.matmul(wk.T, g3[lo:hi])
            _col2im(dcols[:, :k].reshape(hi - lo, c, kh, kw, oh, ow), dx[lo:hi],
                    node.params["stride"], node.params["padding"])
        if need_w:  # sum over images of (K, OH*OW) @ (OH*OW, OC)
            return np.matmul(cols[lo:hi], g3[lo:hi].transpose(0, 2, 1)).sum(axis=0)
        return None

    terms = kernels.split_work(images, kernels.parts(n, cols.size))
    dw = db = None
    if need_w:
        dwt = sum(terms) if len(terms) > 1 else terms[0]  # (K, OC)
        dw = np.ascontiguousarray(dwt[:k].T).reshape(node.inputs[1].shape)
        db = dwt[k].copy() if need_b else None
    elif need_b:
        db = g3.sum(axis=(0, 2))
    return (dx, dw, db) if has_bias else (dx, dw)


CONV2D = Primitive("conv2d", _conv2d_fwd, flops=_conv2d_flops, saves=True)
register_backward(CONV2D, _conv2d_bwd)


# ------------------------------------------------------------------- pooling
#
# Both pools read the KH*KW strided shifts of the (padded) input: shift
# (i, j) holds, for every output pixel, the input value at kernel offset
# (i, j) of its window. Average pooling sums them and divides by KH*KW
# (padding counts, as PyTorch's default count_include_pad=True). Max
# pooling keeps a running maximum over the shifts and, per output pixel, the
# offset k = i*KW + j it came from (saved for the backward, which routes
# every output gradient to exactly that input). A shift replaces the
# maximum only when strictly greater, so the first maximum wins ties; a NaN
# wins over everything and the last NaN wins among NaNs: PyTorch's rule
# (``val > max || isnan(val)``). Every call is over an output-sized array:
# no window copy, no argmax over a short axis (which NumPy runs row by row).


def _pool_geometry(x, kernel, stride, padding):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    return (kh, kw, sh, sw, ph, pw,
            _conv_out_size(x.shape[2], kh, sh, ph), _conv_out_size(x.shape[3], kw, sw, pw))


def _shifts(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> list:
    """The KH*KW strided views (N, C, OH, OW) of ``xp``, offset k = i*KW + j."""
    return [xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            for i in range(kh) for j in range(kw)]


def _max_pool2d_fwd(x, *, kernel, stride, padding):
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, kernel, stride, padding)
    shifts = _shifts(_pad(x, ph, pw, -np.inf), kh, kw, sh, sw, oh, ow)
    out = np.array(shifts[0])  # the running maximum, (N, C, OH, OW)
    arg = np.zeros(out.shape, dtype=np.int32 if kh * kw > 255 else np.uint8)
    better = np.empty(out.shape, dtype=np.bool_)
    offset = np.empty_like(arg)
    # Offsets come in increasing order, so "arg = k where better" is
    # arg = max(arg, k * better): arithmetic, where a masked write (copyto
    # with where=, or a boolean index) is about a hundred times slower on
    # a random mask.
    for k, shift in enumerate(shifts[1:], start=1):
        np.greater(shift, out, out=better)
        np.maximum(out, shift, out=out)  # the values of "out = shift where better"; NaN spreads
        np.multiply(better, arg.dtype.type(k), out=offset)
        np.maximum(arg, offset, out=arg)
    nan = np.isnan(out)
    if nan.any():  # NaN compares False: give NaN windows PyTorch's offset, their last NaN
        for k, shift in enumerate(shifts):
            np.multiply(np.isnan(shift) & nan, arg.dtype.type(k), out=offset)
            np.maximum(arg, offset, out=arg)  # a NaN window's arg is below its first NaN
    return out, arg


def _pool_flops(inputs, out, params) -> int:
    kh, kw = params["kernel"]
    return int(out.size * kh * kw)


def _max_pool2d_bwd(g, node):
    x = node.inputs[0].data
    arg = node.saved
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, node.params["kernel"],
                                                    node.params["stride"],
                                                    node.params["padding"])
    n, c, h, wd = x.shape
    if sh >= kh and sw >= kw and not ph and not pw:
        # Windows do not overlap: each input gets at most one output's
        # gradient, so each offset's share is written, not added. An exact
        # tiling covers every input; otherwise the rest stays 0.
        covers = sh == kh and sw == kw and h == oh * kh and wd == ow * kw
        dx = (np.empty if covers else np.zeros)(x.shape, dtype=g.dtype)
        for k, view in enumerate(_shifts(dx, kh, kw, sh, sw, oh, ow)):
            np.multiply(g, arg == k, out=view)
        return (dx,)
    dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=g.dtype)
    zero = np.zeros((), dtype=g.dtype)
    for k, view in enumerate(_shifts(dxp, kh, kw, sh, sw, oh, ow)):
        view += np.where(arg == k, g, zero)  # overlapping windows add up
    return (dxp[:, :, ph:ph + h, pw:pw + wd],)


def _avg_pool2d_fwd(x, *, kernel, stride, padding):
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, kernel, stride, padding)
    xp = _pad(x, ph, pw)
    out = np.zeros((x.shape[0], x.shape[1], oh, ow), dtype=x.dtype)
    for i in range(kh):  # sum of the KH*KW strided shifts = every window's sum
        for j in range(kw):
            out += xp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
    out *= x.dtype.type(1.0 / (kh * kw))
    return out


def _avg_pool2d_bwd(g, node):
    x = node.inputs[0].data
    kh, kw, sh, sw, ph, pw, oh, ow = _pool_geometry(x, node.params["kernel"],
                                                    node.params["stride"],
                                                    node.params["padding"])
    n, c, h, wd = x.shape
    gs = g * g.dtype.type(1.0 / (kh * kw))
    dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += gs
    return (dxp[:, :, ph:ph + h, pw:pw + wd],)


MAX_POOL2D = Primitive("max_pool2d", _max_pool2d_fwd, flops=_pool_flops, saves=True)
AVG_POOL2D = Primitive("avg_pool2d", _avg_pool2d_fwd, flops=_pool_flops)
register_backward(MAX_POOL2D, _max_pool2d_bwd)
register_backward(AVG_POOL2D, _avg_pool2d_bwd)


# ---------------------------------------------------------------- batch norm
#
# Statistics per channel (axis 1) over every other axis. Training: batch mean
# and biased variance normalise; the running averages are updated in place
# (unbiased variance, as PyTorch) from the same pass. The backward is the
# layer-norm one over the reduced axes, mean and variance being functions of
# x. Evaluation: running statistics are constants, so dx = g * w * rstd.


def _bn_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _batch_norm_fwd(x, *wb, training, eps, momentum, running_mean, running_var,
                    has_weight, has_bias):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = _bn_shape(x)
    if training:
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        if running_mean is not None:
            count = x.size // x.shape[1]
            running_mean *= 1.0 - momentum
            running_mean += momentum * mean.reshape(-1)
            running_var *= 1.0 - momentum
            running_var += (momentum * count / max(count - 1, 1)) * var.reshape(-1)
    else:
        xc = x - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    rstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    xhat = xc * rstd
    y = xhat
    i = 0
    if has_weight:
        y = y * wb[0].reshape(shape)
        i = 1
    if has_bias:
        y = y + wb[i].reshape(shape)
    if y is xhat:
        y = xhat.copy()
    return y.astype(x.dtype, copy=False), (xhat, rstd)


def _batch_norm_flops(inputs, out, params) -> int:
    return (8 if params["training"] else 4) * int(inputs[0].size)


def _batch_norm_bwd(g, node):
    p = node.params
    xhat, rstd = node.saved
    axes = (0,) + tuple(range(2, g.ndim))
    shape = _bn_shape(g)
    weight = node.inputs[1].data.reshape(shape) if p["has_weight"] else None
    grads = [None]
    if node.needs[0]:
        dxhat = g * weight if weight is not None else g
        if p["training"]:
            dx = rstd * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                         - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
        else:
            dx = dxhat * rstd
        grads[0] = dx.astype(g.dtype, copy=False)
    if p["has_weight"]:
        grads.append((g * xhat).sum(axis=axes) if node.needs[1] else None)
    if p["has_bias"]:
        grads.append(g.sum(axis=axes) if node.needs[len(grads)] else None)
    return tuple(grads)


BATCH_NORM = Primitive("batch_norm", _batch_norm_fwd, flops=_batch_norm_flops, saves=True)
register_backward(BATCH_NORM, _batch_norm_bwd)


# --------------------------------------------------------------- binary CE
#
# Elementwise losses; the functional applies the reduction with the tensor
# package's mean/sum primitives.
#   BCE(p, t) = -(t log p + (1 - t) log(1 - p)), logs clamped at -100 (PyTorch)
#     d/dp = (p - t) / (p (1 - p)),  d/dt = log(1 - p) - log p
#   BCE-with-logits(x, t) = max(x, 0) - x t + log(1 + exp(-|x|))   (no overflow)
#     d/dx = sigmoid(x) - t,  d/dt = -x


def _bce_fwd(p, t):
    with np.errstate(divide="ignore"):
        logp = np.maximum(np.log(p), -100.0)
        log1mp = np.maximum(np.log1p(-p), -100.0)
    return (-(t * logp + (1.0 - t) * log1mp)).astype(p.dtype, copy=False)


def _bce_bwd(g, node):
    p, t = node.inputs[0].data, node.inputs[1].data
    gp = gt = None
    if node.needs[0]:
        # Clamped like the logs, so p = 0 or 1 gives a large finite gradient.
        denom = np.maximum(p * (1.0 - p), np.finfo(p.dtype).eps)
        gp = (g * (p - t) / denom).astype(p.dtype, copy=False)
    if node.needs[1]:
        with np.errstate(divide="ignore"):
            gt = g * (np.maximum(np.log1p(-p), -100.0) - np.maximum(np.log(p), -100.0))
    return gp, gt


def _bce_logits_fwd(x, t):
    return (np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))).astype(x.dtype, copy=False)


def _bce_logits_bwd(g, node):
    x, t = node.inputs[0].data, node.inputs[1].data
    gx = gt = None
    if node.needs[0]:
        sig = np.exp(-np.logaddexp(0, -x))
        gx = (g * (sig - t)).astype(x.dtype, copy=False)
    if node.needs[1]:
        gt = -g * x
    return gx, gt


def _scaled(k):
    return lambda inputs, out, params: int(k * out.size)


BCE = Primitive("binary_cross_entropy", _bce_fwd, flops=_scaled(6))
BCE_WITH_LOGITS = Primitive("binary_cross_entropy_with_logits", _bce_logits_fwd,
                            flops=_scaled(6))
register_backward(BCE, _bce_bwd)
register_backward(BCE_WITH_LOGITS, _bce_logits_bwd)
