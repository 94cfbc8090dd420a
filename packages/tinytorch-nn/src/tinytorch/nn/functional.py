"""Stateless functions behind the layers: ``tinytorch.nn.functional``.

Every function checks its arguments at this public boundary (clear
``ValueError`` / ``TypeError`` / ``IndexError`` naming shapes, dtypes and
values) and then applies primitives through the dispatch path: tensor-package
primitives (matmul, getitem, mul, ...) or the fused primitives of this
package (layer norm, cross-entropy, conv2d, pooling, batch norm, BCE).

Layouts: ``linear`` takes ``weight`` as ``(in_features, out_features)``
(``y = x @ W + b``); images are NCHW and conv weights ``(out, in, kh, kw)``
as in PyTorch.
"""

from __future__ import annotations

import numbers

import numpy as np

import tinytorch.autograd  # noqa: F401  (importing it enables autograd)
from tinytorch import tensor as tt
from tinytorch.tensor import Generator, Tensor, apply, wrap

from . import _fused

__all__ = [
    "linear", "relu", "sigmoid", "tanh", "gelu", "softmax", "log_softmax", "dropout",
    "layer_norm", "embedding", "cross_entropy", "mse_loss",
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


def _numpy_rng(rng) -> np.random.Generator:
    if rng is None:
        return tt.default_generator.numpy
    if isinstance(rng, Generator):
        return rng.numpy
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a tinytorch Generator, a numpy Generator or None, "
                    f"got {type(rng).__name__}")


# ----------------------------------------------------------- linear, activations


def linear(x, weight, bias=None) -> Tensor:
    """``x @ weight + bias``: ``(*, in) @ (in, out) -> (*, out)``.

    One matmul primitive (BLAS GEMM, ``2 * rows * in * out`` FLOPs) plus a
    broadcast add for the bias.

    Raises:
        ValueError: ``weight`` not 2-D, ``x.shape[-1] != in``, or ``bias`` not ``(out,)``.
    """
    x = _float_tensor(x, "input", "linear")
    weight = _float_tensor(weight, "weight", "linear")
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (in, out), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[0]:
        raise ValueError(
            f"linear: input of shape {x.shape} does not match weight of shape "
            f"{weight.shape}: the last dim of the input must be in_features={weight.shape[0]}"
        )
    y = x @ weight
    if bias is not None:
        bias = _float_tensor(bias, "bias", "linear")
        if bias.shape != (weight.shape[1],):
            raise ValueError(f"linear: bias must have shape ({weight.shape[1]},), "
                             f"got {bias.shape}")
        y = y + bias
    return y


def relu(x) -> Tensor:
    """``max(x, 0)`` elementwise."""
    return tt.relu(_tensor(x, "input"))


def sigmoid(x) -> Tensor:
    """``1 / (1 + exp(-x))``, overflow-free."""
    return tt.sigmoid(_tensor(x, "input"))


def tanh(x) -> Tensor:
    return tt.tanh(_tensor(x, "input"))


def gelu(x, approximate: str = "tanh") -> Tensor:
    """GELU; ``approximate`` is ``"tanh"`` (GPT-2) or ``"none"`` (exact erf form)."""
    return tt.gelu(_tensor(x, "input"), approximate)


def softmax(x, dim: int = -1) -> Tensor:
    """Stable softmax along ``dim``."""
    return tt.softmax(_tensor(x, "input"), dim)


def log_softmax(x, dim: int = -1) -> Tensor:
    """Stable ``x - logsumexp(x)`` along ``dim``."""
    return tt.log_softmax(_tensor(x, "input"), dim)


def dropout(x, p: float = 0.5, training: bool = True, rng=None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the
    survivors by ``1 / (1 - p)``, so the expected value is unchanged and
    evaluation needs no rescaling.

    The Bernoulli mask is drawn from ``rng`` (a tinytorch ``Generator``, a
    NumPy ``Generator``, or None for tinytorch's default generator) and
    applied as one ``mul`` through the dispatch path, so its backward is the
    same mask. Identity when ``training`` is False or ``p == 0``.

    Raises:
        ValueError: ``p`` outside ``[0, 1]``. TypeError: non-float input.
    """
    if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    x = _float_tensor(x, "input", "dropout")
    if not training or p == 0.0:
        return x
    gen = _numpy_rng(rng)
    if p == 1.0:
        mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = gen.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        mask = (keep >= p).astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - p))
    return x * wrap(mask)


# ---------------------------------------------------------------- layer norm


def _normalized_shape(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    try:
        shape = tuple(int(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"normalized_shape must be an int or a tuple of ints, "
                        f"got {normalized_shape!r}") from None
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
