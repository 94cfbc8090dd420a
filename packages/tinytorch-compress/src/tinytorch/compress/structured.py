"""Structured pruning: remove whole neurons, channels, heads and MLP units.

The result is a new model whose shapes really shrink. A unit removed from
one layer takes its row of that layer's weight (and bias, and BatchNorm
entries) and its column(s) of the next layer's weight with it, so the
smaller model computes exactly what the original computes when the next
layer ignores the removed units (their columns zeroed: the "masked
original").

Understood architectures:
* ``nn.Sequential`` of ``Linear``, ``Conv2d``, ``BatchNorm2d``, ``Flatten``
  (after a conv: each channel owns ``H*W`` consecutive inputs of the next
  Linear), ``MaxPool2d``, ``AvgPool2d`` and the per-unit activations
  ``ReLU``, ``GELU``, ``Tanh``, ``Sigmoid``, ``Dropout``, ``Identity``. Every
  Linear/Conv2d but the last loses units (the last one's outputs are the
  model's).
* ``tinytorch.transformers.GPT``: attention heads of every block (the
  ``qkv`` rows and ``out_proj`` columns of the head) and MLP hidden units
  (``fc`` rows and ``proj`` columns). The residual width stays.
"""

from __future__ import annotations

import copy

import numpy as np

from tinytorch import nn
from tinytorch.nn import Module
from tinytorch.tensor import Tensor
from tinytorch.transformers import GPT, MultiHeadAttention

from .prune import _check_model, _Masked, check_amount, remove_pruning

__all__ = ["structured_prune", "PrunedMultiHeadAttention", "unit_scores", "SUPPORTED"]

_PASS = (nn.ReLU, nn.GELU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity,
         nn.MaxPool2d, nn.AvgPool2d)
SUPPORTED = ("Sequential of Linear, Conv2d, BatchNorm2d, Flatten, MaxPool2d, AvgPool2d, ReLU, "
             "GELU, Tanh, Sigmoid, Dropout, Identity", "tinytorch.transformers.GPT")


def unit_scores(weight: np.ndarray, norm: int) -> np.ndarray:
    """Norm of each output unit's weights: ``weight`` ``(out, ...)`` -> ``(out,)``."""
    flat = np.asarray(weight, np.float64).reshape(weight.shape[0], -1)
    return np.linalg.norm(flat, ord=norm, axis=1)


def _keep(scores: np.ndarray, amount: float) -> np.ndarray:
    """Sorted indices of the units kept: all but the ``round(amount*n)`` lowest
    scores, at least one unit. Ties go to the lower index (stable sort)."""
    n = scores.size
    drop = min(round(amount * n), n - 1)
    order = np.argsort(scores, kind="stable")
    return np.sort(order[drop:])


def _check_norm(norm) -> int:
    if norm not in (1, 2):
        raise ValueError(f"structured_prune: norm must be 1 or 2, got {norm!r}")
    return norm


def structured_prune(model: Module, amount: float, *, norm: int = 2, heads: float | None = None,
                     mlp: float | None = None, layers=None) -> Module:
    """A new, smaller model with the ``amount`` fraction of units of each layer removed.

    Units are ranked by the ``norm`` (1 or 2) of their outgoing-unit weights:
    a Linear's rows, a Conv2d's output filters, a head's ``qkv`` rows and
    ``out_proj`` columns, an MLP unit's ``fc`` row and ``proj`` column. Each
    layer keeps at least one unit. Masked layers are made permanent first.

    Args:
        model: an ``nn.Sequential`` or a ``GPT`` (see the module docstring).
        amount: fraction in [0, 1) of each layer's units to remove.
        heads, mlp: for a GPT, separate fractions for attention heads and MLP
            hidden units (default ``amount`` for both).
        layers: for a Sequential, the indices of the Linear/Conv2d layers whose
            units to remove (default all but the last), e.g. only the convs.

    Returns:
        A new model of the same kind; the input is untouched. Its forward
        equals the original's with the removed units' outgoing weights zeroed.

    Raises:
        TypeError: model not a Module. ValueError: an architecture or a layer
            it does not understand (the message lists what it does), amount
            outside [0, 1), norm not 1 or 2, Flatten after a conv whose next
            Linear's inputs are not a multiple of the channels.

    Cost: O(P) for the P parameters (one norm per unit, one slice per weight).
    """
    where = "structured_prune"
    _check_model(model, where)
    amount = check_amount(amount, where)
    norm = _check_norm(norm)
    if isinstance(model, GPT):
        return _prune_gpt(model, check_amount(amount if heads is None else heads, where),
                          check_amount(amount if mlp is None else mlp, where), norm)
    if type(model) is not nn.Sequential:
        raise ValueError(f"{where}: cannot prune a {type(model).__name__}; it understands "
                         f"{SUPPORTED[0]}, and {SUPPORTED[1]}")
    if heads is not None or mlp is not None:
        raise ValueError(f"{where}: heads= and mlp= apply to a GPT only")
    return _prune_sequential(model, amount, norm, layers)


# ----------------------------------------------------------------- Sequential
def _check_layers(layers: list[Module]) -> None:
    for i, layer in enumerate(layers):
        if isinstance(layer, _Masked):
            continue
        if type(layer) not in (nn.Linear, nn.Conv2d, nn.BatchNorm2d, nn.Flatten, *_PASS):
            raise ValueError(
                f"structured_prune: layer {i} is a {type(layer).__name__}, which it does not "
                f"understand; it understands {SUPPORTED[0]}, and {SUPPORTED[1]}")


def _new_linear(old: nn.Linear, rows, cols) -> nn.Linear:
    w = old.weight.data[rows][:, cols]
    new = nn.Linear(w.shape[1], w.shape[0], bias=old.bias is not None).to(w.dtype)
    new.weight.data[...] = w
    if old.bias is not None:
        new.bias.data[...] = old.bias.data[rows]
    return new


def _new_conv(old: nn.Conv2d, rows, cols) -> nn.Conv2d:
    w = old.weight.data[rows][:, cols]
    new = nn.Conv2d(w.shape[1], w.shape[0], old.kernel_size, old.stride, old.padding,
                    bias=old.bias is not None).to(w.dtype)
    new.weight.data[...] = w
    if old.bias is not None:
        new.bias.data[...] = old.bias.data[rows]
    return new


def _new_batchnorm(old: nn.BatchNorm2d, keep) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(keep), old.eps, old.momentum).to(old.weight.data.dtype)
    state = old.state_dict()
    new.load_state_dict({k: (v if v.ndim == 0 else v[keep]) for k, v in state.items()})
    return new


def _input_columns(layer: Module, keep: np.ndarray, channels: int, flattened: bool):
    """Which inputs of ``layer`` survive when ``keep`` of ``channels`` units do."""
    if not flattened:
        return keep
    per = layer.in_features // channels
    if per * channels != layer.in_features:
        raise ValueError(f"structured_prune: Flatten between a conv of {channels} channels "
                         f"and a Linear of {layer.in_features} inputs (not a multiple)")
    return (keep[:, None] * per + np.arange(per)[None, :]).ravel()


def _prune_sequential(model: nn.Sequential, amount: float, norm: int,
                      chosen=None) -> nn.Sequential:
    layers = list(remove_pruning(model).children())
    _check_layers(layers)
    producers = [i for i, m in enumerate(layers) if isinstance(m, (nn.Linear, nn.Conv2d))]
    if chosen is not None:
        chosen = list(chosen)
        bad = [i for i in chosen if i not in producers[:-1]]
        if bad:
            raise ValueError(f"structured_prune: layers {bad} are not prunable; the prunable "
                             f"ones are the Linear/Conv2d layers but the last: {producers[:-1]}")
    new = [copy.deepcopy(m) for m in layers]
    rows, cols_in = {}, {}  # producer index -> kept output units / kept input columns
    for a, b in zip(producers, producers[1:]):
        src, dst = layers[a], layers[b]
        if isinstance(src, nn.Conv2d) and isinstance(dst, nn.Linear) and \
                not any(isinstance(layers[j], nn.Flatten) for j in range(a + 1, b)):
            raise ValueError(f"structured_prune: Conv2d {a} feeds Linear {b} without a Flatten")
        if chosen is not None and a not in chosen:
            continue
        keep = _keep(unit_scores(src.weight.data, norm), amount)
        flattened = False
        for j in range(a + 1, b):
            if isinstance(layers[j], nn.BatchNorm2d):
                new[j] = _new_batchnorm(layers[j], keep)
            flattened |= isinstance(layers[j], nn.Flatten)
        if isinstance(src, nn.Conv2d) and isinstance(dst, nn.Linear) and not flattened:
            raise ValueError(f"structured_prune: Conv2d {a} feeds Linear {b} without a Flatten")
        cols_in[b] = _input_columns(dst, keep, src.weight.shape[0], flattened)
        rows[a] = keep
    for i in producers:
        make = _new_linear if isinstance(layers[i], nn.Linear) else _new_conv
        new[i] = make(layers[i], rows.get(i, slice(None)), cols_in.get(i, slice(None)))
    out = nn.Sequential(*new)
    return out.train(model.training)


# ------------------------------------------------------------------------ GPT
class PrunedMultiHeadAttention(MultiHeadAttention):
    """Multi-head attention with fewer heads than ``embed_dim // head_dim``.

    ``qkv``: ``Linear(E, 3*H*D)``, ``out_proj``: ``Linear(H*D, E)`` for the
    ``H`` kept heads of width ``D`` (unchanged, so the softmax scale
    ``1/sqrt(D)`` is too). Shapes ``(B, T, E) -> (B, T, E)``.
    """

    def __init__(self, embed_dim: int, num_heads: int, head_dim: int, dropout: float = 0.0,
                 bias: bool = True) -> None:
        Module.__init__(self)  # the parent's __init__ insists on H * D == E
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, head_dim
        self.dropout = dropout
        self.qkv = nn.Linear(embed_dim, 3 * num_heads * head_dim, bias=bias)
        self.out_proj = nn.Linear(num_heads * head_dim, embed_dim, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def project_output(self, attn) -> Tensor:
        """Merge the kept heads and project: ``(B, H, T, D)`` -> ``(B, T, E)``."""
        if attn.ndim != 4 or attn.shape[1] != self.num_heads or attn.shape[3] != self.head_dim:
            raise ValueError(f"PrunedMultiHeadAttention.project_output: expected "
                             f"(B, {self.num_heads}, T, {self.head_dim}), got {attn.shape}")
        b, _, t, _ = attn.shape
        y = attn.permute(0, 2, 1, 3).reshape(b, t, self.num_heads * self.head_dim)
        return self.resid_dropout(self.out_proj(y))

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"head_dim={self.head_dim} (pruned), dropout={self.dropout}")


def _prune_attention(attn: MultiHeadAttention, amount: float, norm: int):
    h, d, e = attn.num_heads, attn.head_dim, attn.embed_dim
    wqkv = attn.qkv.weight.data.reshape(3, h, d, e)  # rows: (q|k|v, head, dim)
    wout = attn.out_proj.weight.data.reshape(e, h, d)  # columns: (head, dim)
    per_head = np.concatenate([wqkv.transpose(1, 0, 2, 3).reshape(h, -1),
                               wout.transpose(1, 0, 2).reshape(h, -1)], axis=1)
    keep = _keep(unit_scores(per_head, norm), amount)
    new = PrunedMultiHeadAttention(e, len(keep), d, attn.dropout, bias=attn.qkv.bias is not None)
    rows = (np.arange(3)[:, None, None] * h * d + keep[None, :, None] * d
            + np.arange(d)[None, None, :]).ravel()  # q, k, v rows of the kept heads
    cols = (keep[:, None] * d + np.arange(d)[None, :]).ravel()
    new.qkv = _new_linear(attn.qkv, rows, slice(None))
    new.out_proj = _new_linear(attn.out_proj, slice(None), cols)
    return new.train(attn.training)


def _prune_gpt(model: GPT, heads: float, mlp: float, norm: int) -> GPT:
    new = remove_pruning(model)  # a deep copy, masks folded in
    for i, block in enumerate(new.blocks):
        attn = block.attn
        if type(attn) not in (MultiHeadAttention, PrunedMultiHeadAttention):
            raise ValueError(f"structured_prune: block {i} has a {type(attn).__name__} "
                             f"attention; remove the KV cache or other wrappers first")
        new.set_submodule(f"blocks.{i}.attn", _prune_attention(attn, heads, norm))
        fc, proj = block.mlp.fc, block.mlp.proj
        units = np.concatenate([fc.weight.data, proj.weight.data.T], axis=1)
        keep = _keep(unit_scores(units, norm), mlp)
        new.set_submodule(f"blocks.{i}.mlp.fc", _new_linear(fc, keep, slice(None)))
        new.set_submodule(f"blocks.{i}.mlp.proj", _new_linear(proj, slice(None), keep))
        block.mlp.hidden_dim = len(keep)
    return new.train(model.training)
