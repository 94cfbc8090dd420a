"""Stateless functions behind the layers: ``tinytorch.nn.functional``.

Every function checks its arguments at this public boundary (clear
``ValueError`` / ``TypeError`` / ``IndexError`` naming shapes, dtypes and
values) and then applies primitives through the dispatch path: tensor-package
primitives (matmul, getitem, mul, ...) or the fused primitives of this
package (linear, layer norm, cross-entropy, conv2d, pooling, batch norm, BCE).

Layouts follow PyTorch: ``linear`` takes ``weight`` as
``(out_features, in_features)`` (``y = x @ W.T + b``); images are NCHW and
conv weights ``(out, in, kh, kw)``.
"""

from __future__ import annotations

import numbers

import numpy as np

import tinytorch.autograd  # noqa: F401  (importing it enables autograd)
from tinytorch import tensor as tt
from tinytorch.tensor import Tensor, apply, deprecated_alias, wrap

from . import _fused
from ._validate import probability

__all__ = [
    "linear", "relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "dropout",
    "layer_norm", "embedding", "cross_entropy", "mse_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm",
]

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ helpers


def _tensor(x, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except TypeError as exc:
        raise TypeError(f"{name} must be a Tensor or array-like: {exc}") from None


def _float_tensor(x, name: str, fn: str) -> Tensor:
    if not isinstance(x, Tensor):  # (the usual case, a Tensor, without a second call)
        x = _tensor(x, name)
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be floating point, got dtype {x.dtype}")
    return x


def _check_reduction(reduction, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _int_array(x, name: str, fn: str) -> np.ndarray:
    """Class ids / token ids as an integer ndarray (TypeError for floats)."""
    arr = x.data if isinstance(x, Tensor) else np.asarray(x)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: {name} must hold integers, got dtype {arr.dtype}")
    return arr


# ----------------------------------------------------------- linear, activations


def linear(x, weight, bias=None) -> Tensor:
    """``x @ weight.T + bias``: ``(*, in) -> (*, out)``, with ``weight`` of shape
    ``(out, in)`` and ``bias`` ``(out,)``, exactly as ``torch.nn.functional.linear``.

    One fused primitive: the leading dims are flattened into rows and the
    product is a single BLAS GEMM that reads ``weight`` transposed in place
    (no copy), with the bias added in place. Cost ``2 * rows * in * out``
    FLOPs, plus ``rows * out`` for the bias.

    Raises:
        TypeError: an argument is not a floating-point Tensor or array.
        ValueError: ``weight`` not 2-D, ``x.shape[-1] != in``, or ``bias`` not ``(out,)``.
    """
    x = _float_tensor(x, "input", "linear")
    weight = _float_tensor(weight, "weight", "linear")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not match weight of shape "
            f"{weight.shape} (out, in): the last dim of the input must be "
            f"in_features={weight.shape[1]}"
        )
    if bias is None:
        return apply(_fused.LINEAR, (x, weight), {})
    bias = _float_tensor(bias, "bias", "linear")
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return apply(_fused.LINEAR, (x, weight, bias), {})


def relu(x) -> Tensor:
    """``max(x, 0)`` elementwise."""
    return tt.relu(_tensor(x, "input"))


def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))``, overflow-free."""
    return tt.sigmoid(_tensor(x, "input"))


def tanh(x) -> Tensor:
    return tt.tanh(_tensor(x, "input"))


def gelu(x, approximate: str = "tanh") -> Tensor:
    """GELU; ``approximate`` is ``"tanh"`` (GPT-2) or ``"none"`` (exact erf form).

    Deliberate difference from PyTorch: the default is ``"tanh"``, not
    ``"none"``, because GPT-2 (the model this stack trains and loads) was
    trained with the tanh form; pass ``approximate="none"`` for
    ``torch.nn.functional.gelu``'s default.
    """
    return tt.gelu(_tensor(x, "input"), approximate)


def softmax(x, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Stable softmax along ``dim`` (``axis`` is an alias; None means -1).

    Deliberate difference from PyTorch: no dim means the last one, where
    PyTorch guesses one from the number of dims and warns.

    Raises:
        TypeError: ``dim`` and ``axis`` both given, or a non-int dim.
        IndexError: a dim out of range.
    """
    return tt.softmax(_tensor(x, "input"), dim, axis=axis)


def log_softmax(x, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """Stable ``x - logsumexp(x)`` along ``dim`` (arguments as :func:`softmax`)."""
    return tt.log_softmax(_tensor(x, "input"), dim, axis=axis)


def dropout(x, p: float = 0.5, training: bool = True, generator=None, *, rng=None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the
    survivors by ``1 / (1 - p)``, so the expected value is unchanged and
    evaluation needs no rescaling.

    The Bernoulli mask is drawn from ``generator`` (a tinytorch
    ``Generator``, a NumPy ``Generator``, or None for tinytorch's default
    generator; ``rng=`` is a deprecated alias) and applied as one ``mul``
    through the dispatch path, so its backward is the same mask. Identity
    when ``training`` is False or ``p == 0``.

    Raises:
        TypeError: ``p`` not a number, non-float input, a bad generator.
        ValueError: ``p`` outside ``[0, 1]``.
    """
    if rng is not None:
        # ``rng=`` was the keyword before the stack settled on PyTorch's ``generator=``.
        generator = deprecated_alias(generator, rng, "generator", "rng", "dropout")
    p = probability(p, "p", "dropout")
    x = _float_tensor(x, "input", "dropout")
    if not training or p == 0.0:
        return x
    gen = tt.as_numpy_generator(generator, "dropout")
    if p == 1.0:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = gen.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        mask = (keep >= p).astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - p))
    return x * wrap(mask)


# ---------------------------------------------------------------- layer norm


def _normalized_shape(normalized_shape) -> tuple[int, ...]:
    if (type(normalized_shape) is tuple and len(normalized_shape) == 1
            and type(normalized_shape[0]) is int and normalized_shape[0] > 0):
        # Already valid (LayerNorm's own, every call): the general parse
        # below is a large share of a LayerNorm call on one token, as
        # benchmarks/bench_core.py prints ("layer_norm shape fast path").
        return normalized_shape
    if _is_int(normalized_shape):
        normalized_shape = (int(normalized_shape),)
    if not isinstance(normalized_shape, (tuple, list)) or not all(
            map(_is_int, normalized_shape)):
        raise TypeError(f"normalized_shape must be an int or a tuple of ints, "
                        f"got {normalized_shape!r}")
    shape = tuple(int(s) for s in normalized_shape)
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"normalized_shape must be non-empty and positive, got {shape}")
    return shape


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` dims.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the (biased)
    mean and variance of each group of ``prod(normalized_shape)`` elements.
    One fused primitive: O(numel) time, saves ``xhat`` and ``1/std`` for the
    backward, which includes the paths through the mean and the variance.
    About 8 FLOPs per element.

    Raises:
        ValueError: trailing dims of ``x`` differ from ``normalized_shape``, or
            ``weight``/``bias`` do not have shape ``normalized_shape``; eps <= 0.
    """
    x = _float_tensor(x, "input", "layer_norm")
    shape = _normalized_shape(normalized_shape)
    n = len(shape)
    if x.ndim < n or tuple(x.shape[x.ndim - n:]) != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end with "
                         f"normalized_shape {shape}")
    if not eps > 0:
        raise ValueError(f"layer_norm: eps must be positive, got {eps!r}")
    inputs = [x]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            t = _float_tensor(t, name, "layer_norm")
            if tuple(t.shape) != shape:
                raise ValueError(f"layer_norm: {name} must have shape {shape}, got {t.shape}")
            inputs.append(t)
    return apply(_fused.LAYER_NORM, tuple(inputs), {
        "n_axes": n, "eps": float(eps),
        "has_weight": weight is not None, "has_bias": bias is not None,
    })


# ----------------------------------------------------------------- embedding


def embedding(ids, weight, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` picked by integer ``ids``: ``(*ids.shape, dim)``.

    A gather through the tensor ``getitem`` primitive (``weight[ids]``); its
    backward is a sorted scatter-add (``tinytorch.autograd.scatter_add_rows``)
    that sums the gradients of repeated ids, O(n log n) with no Python loop.
    With ``padding_idx``, positions holding that id pass no gradient to its row.

    Raises:
        TypeError: non-integer ids. IndexError: an id < 0 or >= num_embeddings
            (the message names the id and ``num_embeddings``).
    """
    weight = _float_tensor(weight, "weight", "embedding")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), "
                         f"got shape {weight.shape}")
    arr = _int_array(ids, "ids", "embedding")
    num = weight.shape[0]
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        bad = lo if lo < 0 else (hi if hi >= num else None)
        if bad is not None:
            raise IndexError(f"embedding: id {bad} is out of range for num_embeddings={num} "
                             f"(ids must be in [0, {num - 1}])")
    out = tt.getitem(weight, arr)  # (*ids.shape, dim)
    if padding_idx is not None and weight.requires_grad:
        pad = arr == padding_idx
        if pad.any():
            # Same values, but the padding positions take the constant branch.
            out = tt.where(~pad[..., None], out, wrap(out.data))
    return out


# ------------------------------------------------------------------- losses


def _class_layout(logits_shape, target_shape, fn: str) -> int:
    """Where the class axis is: the last one (``(*, C)`` with target ``(*)``) or
    axis 1 (PyTorch's ``(N, C, d1, ...)`` with target ``(N, d1, ...)``)."""
    nd = len(logits_shape)
    if nd < 1:
        raise ValueError(f"{fn}: logits must have at least 1 dim (classes), got a scalar")
    if tuple(logits_shape[:-1]) == tuple(target_shape):
        return nd - 1
    if nd >= 3 and len(target_shape) == nd - 1 and logits_shape[0] == target_shape[0] \
            and tuple(logits_shape[2:]) == tuple(target_shape[1:]):
        return 1
    raise ValueError(
        f"{fn}: target of shape {tuple(target_shape)} does not match logits of shape "
        f"{tuple(logits_shape)}; expected logits (*, C) with target (*), or logits "
        f"(N, C, d1, ...) with target (N, d1, ...)"
    )


def cross_entropy(logits, target, reduction: str = "mean", ignore_index: int | None = None,
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of integer class targets, from unnormalised logits.

    Shapes: logits ``(N, C)`` with target ``(N,)``; any ``(*, C)`` with
    ``(*)`` (e.g. ``(B, T, V)`` with ``(B, T)``); or PyTorch's
    ``(N, C, d1, ...)`` with ``(N, d1, ...)``. When both readings fit, the
    class axis is the last one.

    Deliberate differences from ``torch.nn.functional.cross_entropy``: the
    class-last layout is accepted too, because a language model's logits are
    ``(B, T, V)`` and transposing them to ``(B, V, T)`` would copy the
    largest tensor of the step; and ``ignore_index`` defaults to None
    (nothing ignored) rather than PyTorch's -100, so a negative id is
    reported as out of range instead of silently skipped.

    One fused, stable log-softmax + NLL primitive (max-shifted
    log-sum-exp; about 5 FLOPs per logit) whose backward is
    ``(softmax - onehot) * scale`` from the saved probabilities.

    Args:
        reduction: ``'mean'`` (over targets that are not ``ignore_index``),
            ``'sum'`` or ``'none'`` (losses of the target's shape).
        ignore_index: targets with this value contribute 0 loss and 0 gradient.
        label_smoothing: ``eps`` in [0, 1): the target becomes
            ``(1 - eps) onehot + eps / C``.

    Raises:
        TypeError: non-float logits or non-integer targets.
        ValueError: mismatched shapes, a target outside ``[0, C)`` (other than
            ``ignore_index``), bad reduction or label_smoothing.
    """
    fn = "cross_entropy"
    logits = _float_tensor(logits, "logits", fn)
    tgt = _int_array(target, "target", fn)
    _check_reduction(reduction, fn)
    if not isinstance(label_smoothing, numbers.Real) or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"{fn}: label_smoothing must be in [0, 1), got {label_smoothing!r}")
    axis = _class_layout(logits.shape, tgt.shape, fn)
    c = logits.shape[axis]
    if c == 0:
        raise ValueError(f"{fn}: logits have 0 classes (shape {logits.shape})")
    flat_t = tgt.reshape(-1)
    valid = None
    if ignore_index is not None:
        valid = flat_t != ignore_index
        checked = flat_t[valid]
        if valid.all():
            valid = None
    else:
        checked = flat_t
    if checked.size:
        lo, hi = int(checked.min()), int(checked.max())
        if lo < 0 or hi >= c:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{fn}: target {bad} is out of range for {c} classes "
                             f"(targets must be in [0, {c - 1}])")
    if valid is not None:
        flat_t = np.where(valid, flat_t, 0)  # any in-range index; masked out anyway
    count = int(valid.sum()) if valid is not None else flat_t.size

    z = logits
    if axis != logits.ndim - 1:
        order = (0,) + tuple(range(2, logits.ndim)) + (1,)
        z = z.permute(*order)
    if z.ndim != 2:
        z = z.reshape(-1, c)
    out = apply(_fused.CROSS_ENTROPY, (z,), {
        "target": flat_t, "valid": valid, "reduction": reduction,
        "label_smoothing": float(label_smoothing), "count": count,
    })
    if reduction == "none" and out.shape != tgt.shape:
        out = out.reshape(tgt.shape)
    return out


def _check_same_shape(a: Tensor, b: Tensor, fn: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{fn}: input of shape {a.shape} and target of shape {b.shape} "
                         f"must have the same shape")


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def mse_loss(input, target, reduction: str = "mean") -> Tensor:
    """Mean squared error ``(input - target)^2``, reduced.

    Raises:
        ValueError: different shapes or a bad reduction. TypeError: non-float input.
    """
    input = _float_tensor(input, "input", "mse_loss")
    target = _float_tensor(target, "target", "mse_loss")
    _check_reduction(reduction, "mse_loss")
    _check_same_shape(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def _target_like(target, input: Tensor, fn: str) -> Tensor:
    """BCE targets: a float Tensor of the input's shape (converted to its dtype)."""
    t = target if isinstance(target, Tensor) else Tensor(np.asarray(target), dtype=input.dtype)
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: target must be numeric, got dtype {t.dtype}")
    _check_same_shape(input, t, fn)
    if t.dtype != input.dtype:
        t = t.astype(input.dtype)
    return t


def binary_cross_entropy(input, target, reduction: str = "mean") -> Tensor:
    """``-(t log p + (1 - t) log(1 - p))`` for probabilities ``p = input``.

    The logs are clamped at -100 (as PyTorch), so p = 0 or 1 stays finite.
    Prefer :func:`binary_cross_entropy_with_logits` on raw scores: it is exact
    where this one saturates. One fused elementwise primitive plus the reduction.

    Raises:
        ValueError: shapes differ, input outside [0, 1], bad reduction.
        TypeError: non-float input.
    """
    fn = "binary_cross_entropy"
    input = _float_tensor(input, "input", fn)
    _check_reduction(reduction, fn)
    target = _target_like(target, input, fn)
    if input.size and (input.data.min() < 0 or input.data.max() > 1):
        raise ValueError(f"{fn}: input must hold probabilities in [0, 1], got values in "
                         f"[{input.data.min():.4g}, {input.data.max():.4g}] "
                         f"(use binary_cross_entropy_with_logits for raw scores)")
    return _reduce(apply(_fused.BCE, (input, target), {}), reduction)


def binary_cross_entropy_with_logits(input, target, reduction: str = "mean") -> Tensor:
    """BCE on raw scores ``x``: ``max(x, 0) - x t + log(1 + exp(-|x|))``.

    Algebraically ``BCE(sigmoid(x), t)`` but never overflows and keeps full
    precision for large ``|x|``; the gradient is ``sigmoid(x) - t``.

    Raises:
        ValueError: shapes differ or bad reduction. TypeError: non-float input.
    """
    fn = "binary_cross_entropy_with_logits"
    input = _float_tensor(input, "input", fn)
    _check_reduction(reduction, fn)
    target = _target_like(target, input, fn)
    return _reduce(apply(_fused.BCE_WITH_LOGITS, (input, target), {}), reduction)


# -------------------------------------------------------- convolution, pooling


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _pair(value, name: str, fn: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each ``>= minimum`` (TypeError / ValueError)."""
    pair = (value, value) if _is_int(value) else value
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(map(_is_int, pair))):
        raise TypeError(f"{fn}: {name} must be an int >= {minimum} or a pair of them, "
                        f"got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{fn}: {name} must be an int >= {minimum} or a pair of them, "
                         f"got {value!r}")
    return int(pair[0]), int(pair[1])


def _nchw(x, fn: str) -> Tensor:
    x = _float_tensor(x, "input", fn)
    if x.ndim != 4:
        raise ValueError(f"{fn}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    return x


def _check_output_size(x, kernel, padding, fn: str) -> None:
    for dim, size, k, p in zip(("height", "width"), x.shape[2:], kernel, padding):
        if size + 2 * p < k:
            raise ValueError(f"{fn}: kernel {dim} {k} is larger than the padded input {dim} "
                             f"{size + 2 * p} (input shape {x.shape}, padding {padding})")


def conv2d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """2-D cross-correlation (PyTorch's conv2d): NCHW in, NCHW out.

    Shapes: x ``(N, C, H, W)``, weight ``(OC, C, KH, KW)``, bias ``(OC,)``;
    output ``(N, OC, OH, OW)`` with ``OH = (H + 2 ph - KH) // sh + 1``.

    One fused primitive: im2col (one copy into per-image
    ``(C*KH*KW [+1], OH*OW)`` column matrices; the extra row of ones carries
    the bias) and a GEMM per image; the backward computes dW and db with one
    GEMM against the saved columns and dx with a GEMM plus col2im (one add
    per kernel offset, no loop over images or pixels).
    Cost: ``2 N OC OH OW C KH KW`` FLOPs; extra memory ``KH*KW/(sh*sw)`` times
    the input for the columns.

    Raises:
        ValueError: wrong ranks, channel mismatch (names both shapes), bad
            bias shape, stride < 1, padding < 0, or a kernel larger than the
            padded input. TypeError: non-float tensors.
    """
    fn = "conv2d"
    x = _nchw(x, fn)
    weight = _float_tensor(weight, "weight", fn)
    if weight.ndim != 4:
        raise ValueError(f"{fn}: weight must be 4-D (out_channels, in_channels, kh, kw), "
                         f"got shape {weight.shape}")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"{fn}: input of shape {x.shape} has {x.shape[1]} channels but "
                         f"weight of shape {weight.shape} expects {weight.shape[1]}")
    stride = _pair(stride, "stride", fn, 1)
    padding = _pair(padding, "padding", fn, 0)
    _check_output_size(x, weight.shape[2:], padding, fn)
    inputs = (x, weight)
    if bias is not None:
        bias = _float_tensor(bias, "bias", fn)
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"{fn}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
        inputs = (x, weight, bias)
    return apply(_fused.CONV2D, inputs, {"stride": stride, "padding": padding})


def _pool_args(x, kernel_size, stride, padding, fn):
    x = _nchw(x, fn)
    kernel = _pair(kernel_size, "kernel_size", fn, 1)
    stride = kernel if stride is None else _pair(stride, "stride", fn, 1)
    padding = _pair(padding, "padding", fn, 0)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{fn}: padding {padding} must be at most half the kernel size "
                         f"{kernel}")
    _check_output_size(x, kernel, padding, fn)
    return x, {"kernel": kernel, "stride": stride, "padding": padding}


def max_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """Maximum over each ``kernel_size`` window (stride defaults to the kernel).

    Padding is -inf (never selected). The backward sends each output's
    gradient to its window's argmax (saved by the forward; first maximum on
    ties). Input ``(N, C, H, W)`` -> ``(N, C, OH, OW)``.

    Raises:
        ValueError: non-4-D input, padding larger than half the kernel, a
            kernel larger than the padded input.
    """
    x, params = _pool_args(x, kernel_size, stride, padding, "max_pool2d")
    return apply(_fused.MAX_POOL2D, (x,), params)


def avg_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """Mean over each window; zero padding counts in the divisor (PyTorch's
    ``count_include_pad=True``). Same shapes and errors as :func:`max_pool2d`."""
    x, params = _pool_args(x, kernel_size, stride, padding, "avg_pool2d")
    return apply(_fused.AVG_POOL2D, (x,), params)


def batch_norm(x, running_mean=None, running_var=None, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation per channel (axis 1) of ``(N, C)`` or ``(N, C, H, W)``.

    Training (or no running statistics given): normalise with the batch
    mean and biased variance over every axis but 1, and update
    ``running_mean`` / ``running_var`` in place (if given) with
    ``r = (1 - momentum) r + momentum * stat``, the variance unbiased (as
    PyTorch). Evaluation: normalise with the running statistics. One fused
    primitive; the training backward includes the mean and variance paths.

    Raises:
        ValueError: input of rank < 2; running stats / weight / bias not of
            shape ``(C,)``; training with a single value per channel; only
            one of the running statistics given.
    """
    fn = "batch_norm"
    x = _float_tensor(x, "input", fn)
    if x.ndim < 2:
        raise ValueError(f"{fn}: input must be (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: give both running_mean and running_var, or neither")
    stats = []
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None:
            arr = t.data if isinstance(t, Tensor) else t
            if not isinstance(arr, np.ndarray) or arr.shape != (c,):
                raise ValueError(f"{fn}: {name} must be an array of shape ({c},), got "
                                 f"{getattr(arr, 'shape', type(arr).__name__)}")
            stats.append(arr)
        else:
            stats.append(None)
    use_batch = training or running_mean is None
    if use_batch and x.size // max(c, 1) <= 1:
        raise ValueError(f"{fn}: expected more than 1 value per channel when training, got "
                         f"input of shape {x.shape}")
    inputs = [x]
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            t = _float_tensor(t, name, fn)
            if t.shape != (c,):
                raise ValueError(f"{fn}: {name} must have shape ({c},), got {t.shape}")
            inputs.append(t)
    return apply(_fused.BATCH_NORM, tuple(inputs), {
        "training": bool(use_batch), "eps": float(eps), "momentum": float(momentum),
        "running_mean": stats[0], "running_var": stats[1],
        "has_weight": weight is not None, "has_bias": bias is not None,
    })
