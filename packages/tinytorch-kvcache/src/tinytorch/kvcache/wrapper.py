"""Enabling a KV cache on a GPT by module swaps, and the cached modules.

``enable_kv_cache(model)`` swaps, in every block ``i``::

    model.blocks[i].attn  ->  CachedMultiHeadAttention   (reads and writes layer i of the cache)
    model.blocks[i]       ->  CachedTransformerBlock     (a TransformerBlock: the fused decode step)

Each cached module stands in the tree for its original and registers the
original's children as its own: the very same objects, under the same
names, so ``named_parameters()``, ``state_dict()``, ``load_state_dict()``
and an optimizer see exactly what they saw before, and nothing is copied. A
submodule swapped on a cached module (``set_submodule``) is swapped on the
original too. No class is patched; ``disable_kv_cache(model)`` puts the
original objects back.

The position travels as an argument
-----------------------------------
``GPT.forward(tokens, start_pos)`` calls ``block(x, mask, start_pos)``, and
a block calls ``attn(h, mask, start_pos)``. Layer 0 checks ``start_pos``
against the cache:

* ``start_pos == 0``: a new sequence. The cache is reset (re-allocated if the
  batch size changed), then filled with the prompt (prefill).
* ``start_pos == cache.seq_len``: the step continues the cached sequence.
* anything else: ``ValueError`` naming both numbers (the keys of the
  positions in between would be missing or stale).

Every layer writes its keys and values through the public protocol of
:class:`~tinytorch.kvcache.KVCache` (``cache.update``, or, in the fused
decode step, ``cache.update_unchecked`` on arguments checked once per
sequence and step), and the last layer commits the step with
``cache.advance(T)``.

The paths
---------
1. **Grad mode on** (training): the original ``forward`` runs unchanged; the
   cache is never read or written, so gradients are those of the uncached model.
2. **No grad, any T** (prefill, chunks, or a decode step the fused path does
   not cover): the original's ``project_qkv``, ``cache.update``, the fused
   ``scaled_dot_product_attention`` over every cached key (with the causal
   mask offset for the cached past), the original's ``project_output``.
   Submodules are called, never read, so any module that behaves like a
   ``Linear`` (a quantized one) works.
3. **Decode, fused** (no grad, one token, no mask, a standard block: plain
   ``LayerNorm``/``Linear``/``GELU``/``Dropout`` with biases, no hooks on
   them, dropout inactive, weights of the cache's dtype):
   :data:`~tinytorch.kvcache.decode.DECODE_QKV`, ``cache.update_unchecked``,
   :data:`~tinytorch.kvcache.decode.DECODE_BLOCK`. The write's arguments are
   checked when the step is set up for a sequence (layer, heads, head size,
   dtypes) and at each step (batch size, the input's dtype), not inside it.
   Extension point: in place of a plain ``Linear``, any layer that follows the
   row-kernel protocol (``in_features``, ``out_features`` and
   ``forward_rows(x: ndarray (B, in)) -> ndarray (B, out)``, see
   :data:`~tinytorch.kvcache.decode.ROW_KERNEL_METHOD`) is accepted; the fused
   step calls its ``forward_rows`` (a quantized ``Linear`` does so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch.autograd import is_grad_enabled
from tinytorch.nn import GELU, Dropout, LayerNorm, Linear, Module, Parameter
from tinytorch.tensor import Tensor, apply, wrap
from tinytorch.transformers import (
    MLP,
    MultiHeadAttention,
    TransformerBlock,
    scaled_dot_product_attention,
    validate_mask,
)

from .cache import KVCache
from .decode import DECODE_BLOCK, DECODE_QKV, ROW_KERNEL_METHOD

__all__ = [
    "CachedMultiHeadAttention",
    "CachedTransformerBlock",
    "enable_kv_cache",
    "disable_kv_cache",
    "is_kv_cache_enabled",
]


class _StandIn(Module):
    """A module that takes ``original``'s place in the tree, holding the same
    children and parameters (registered again, the same objects).

    ``original`` is kept unregistered (it is not a submodule). Assigning a
    submodule or a parameter to the stand-in assigns it to the original too,
    so that the two never disagree and ``disable_kv_cache`` restores an
    original that holds the current submodules.
    """

    def __init__(self, original: Module) -> None:
        super().__init__()
        object.__setattr__(self, "original", original)  # not a submodule
        for name, child in original.named_children():
            self.add_module(name, child)
        for name, param in original.named_parameters(recurse=False):
            self.register_parameter(name, param)
        buffers = list(original.named_buffers(recurse=False))
        if buffers:
            saved = original.state_dict()  # persistent buffers are the saved ones
            for name, buf in buffers:
                self.register_buffer(name, buf, persistent=name in saved)
        self.training = original.training

    def __setattr__(self, name: str, value) -> None:
        super().__setattr__(name, value)
        original = self.__dict__.get("original")
        if (original is not None and isinstance(value, (Module, Parameter))
                and getattr(original, name, None) is not value):
            setattr(original, name, value)

    def synced_original(self) -> Module:
        """The original, in this module's training mode (``model.train()``
        reaches the stand-in, which is in the tree, not the original)."""
        original = self.original
        if original.training != self.training:
            original.training = self.training
        return original


class CachedMultiHeadAttention(_StandIn):
    """A ``MultiHeadAttention`` that reads and writes layer ``layer_idx`` of a
    :class:`KVCache`.

    Built by :func:`enable_kv_cache`, not by hand; it adds no parameter and
    changes no name in ``state_dict``. ``forward(x, mask=None,
    start_pos=None)``: ``(B, T, E) -> (B, T, E)``, the contract of
    ``MultiHeadAttention.forward``; see the module docstring for the paths.

    Raises (forward, under ``no_grad``):
        RuntimeError: no ``start_pos`` (the model was not called through its
            own forward), or a layer writing twice in one step.
        ValueError: ``start_pos`` differs from the cache's ``seq_len`` (and is
            not 0), a batch size other than the cache's in a continuing step,
            a cache overflow, layers writing different ``T``, a mask that
            does not fit ``(T, T)``.
        TypeError: keys of a dtype other than the cache's.
    """

    def __init__(self, original: MultiHeadAttention, cache: KVCache, layer_idx: int,
                 previous_generation_cache=None) -> None:
        super().__init__(original)
        self.cache = cache
        self.layer_idx = layer_idx
        self.previous_generation_cache = previous_generation_cache  # restored by disable
        self.embed_dim = original.embed_dim
        self.num_heads = original.num_heads
        self.head_dim = original.head_dim
        self.dropout = original.dropout

    def forward(self, x, mask=None, start_pos=None) -> Tensor:
        original = self.synced_original()
        if is_grad_enabled():  # path 1: training never touches the cache
            return original.forward(x, mask, start_pos)
        q, k, v = original.project_qkv(x)  # (B, H, T, D) each; checks x
        b, _, t, _ = q.shape
        self.begin_step(start_pos, b)
        keys, values = self.cache.update(self.layer_idx, k, v)  # (B, H, start + T, D)
        if mask is not None:
            mask = _mask_with_past(mask, b, self.num_heads, t, keys.shape[2] - t)
        p = original.dropout if original.training else 0.0
        out, _ = scaled_dot_product_attention(q, wrap(keys), wrap(values), mask, p)
        y = original.project_output(out)  # (B, T, E)
        self.end_step(t)
        return y

    def begin_step(self, start_pos, batch: int) -> None:
        """Check ``start_pos`` and the batch size against the cache. Layer 0
        starts a new sequence at ``start_pos == 0`` (re-allocating the cache
        for another batch size); the later layers of the step only check
        that they continue it."""
        cache = self.cache
        if self.layer_idx:
            if start_pos != cache.seq_len:
                self._position_error(start_pos)
            if batch != cache.batch_size:
                self._batch_error(batch)
            return
        if isinstance(start_pos, bool) or not isinstance(start_pos, (int, np.integer)):
            self._position_error(start_pos)
        if start_pos == 0:  # a new sequence: forget the cached one
            if batch != cache.batch_size:
                cache.reallocate(batch_size=batch)
            else:
                cache.reset()
            return
        if start_pos != cache.seq_len:
            self._position_error(start_pos)
        if batch != cache.batch_size:
            self._batch_error(batch)
        if cache.pending:
            cache.crop(cache.seq_len)  # drop the writes of an interrupted step

    def _batch_error(self, batch: int):
        raise ValueError(
            f"KV cache batch mismatch: {batch} sequence(s) continue a cached batch of "
            f"{self.cache.batch_size}; restart with start_pos=0 to use another batch size")

    def _position_error(self, start_pos):
        if start_pos is None:
            raise RuntimeError(
                "KV cache: no start position was given for this forward. With a KV cache "
                "enabled, run the model itself (model(tokens, start_pos=...)) under no_grad, "
                "or pass start_pos to the block or attention module")
        if isinstance(start_pos, bool) or not isinstance(start_pos, (int, np.integer)):
            raise TypeError(f"KV cache: start_pos must be an int, got {start_pos!r}")
        seq_len = self.cache.seq_len
        raise ValueError(
            f"KV cache position mismatch: the model was called with start_pos={start_pos} "
            f"but the cache holds {seq_len} position(s); continue with start_pos={seq_len}, "
            "or restart the sequence with start_pos=0")

    def end_step(self, t: int) -> None:
        """The last layer commits the step of ``t`` tokens."""
        if self.layer_idx == self.cache.num_layers - 1:
            self.cache.advance(t)

    def extra_repr(self) -> str:
        return (f"layer={self.layer_idx}, embed_dim={self.embed_dim}, "
                f"num_heads={self.num_heads}, cache_max_seq_len={self.cache.max_seq_len}")


def _mask_with_past(mask, b: int, h: int, t: int, past: int):
    """A ``(T, T)``-compatible mask of the new tokens, widened to
    ``(B, H, T, past + T)``: the cached past is visible to every new query."""
    m = validate_mask(mask, (b, h, t, t), "CachedMultiHeadAttention")
    if past:
        m = np.broadcast_to(m, (b, h, t, t))
        attend = (np.ones if m.dtype == np.bool_ else np.zeros)((b, h, t, past), m.dtype)
        m = np.concatenate([attend, m], axis=-1)  # True, or 0 for an additive mask
    return wrap(m)


@dataclass(frozen=True)
class _FusedStep:
    """What a block's fused decode step needs: its attention and the inputs
    and parameters of the two primitives."""

    attn: CachedMultiHeadAttention
    cache: KVCache
    layer: int  # attn's layer in the cache
    dtype: np.dtype  # of the cache and of every floating-point weight of the block
    qkv_inputs: tuple  # ln1.weight, ln1.bias, qkv.weight, qkv.bias
    qkv_params: dict
    block_inputs: tuple  # out_proj, ln2, fc, proj weights and biases
    block_params: dict


class CachedTransformerBlock(_StandIn):
    """A ``TransformerBlock`` whose decode step is two fused dispatches.

    Built by :func:`enable_kv_cache`; holds the original block's children (so
    its ``attn`` is the :class:`CachedMultiHeadAttention`). ``forward(x,
    mask=None, start_pos=None)`` is the original's, except for a decode step
    (``no_grad``, one token, no mask) of a standard block, which runs
    ``DECODE_QKV``, ``cache.update_unchecked`` and ``DECODE_BLOCK`` (see the
    module docstring). ``fused=False`` turns that off (the benchmark measures what
    fusion gains).

    Whether the block is standard takes a walk over a dozen submodules, as
    costly as a layer norm at small sizes, so it is decided at the first step
    of each sequence (``start_pos == 0``) and reused by the decode steps that
    follow (in training mode, at every step). Swap a submodule or register a
    hook on one *between* sequences; in-place weight updates and
    ``load_state_dict`` are seen at once.

    Raises: as :class:`CachedMultiHeadAttention`.
    """

    def __init__(self, original: TransformerBlock, fused: bool = True) -> None:
        super().__init__(original)
        self.fused = fused
        self._step = None  # the _FusedStep of the current sequence, or None

    def forward(self, x, mask=None, start_pos=None) -> Tensor:
        if not is_grad_enabled() and start_pos is not None:
            if start_pos == 0 or self.training:
                self._step = self._fused_step() if self.fused else None
            step = self._step
            if step is not None and mask is None and isinstance(x, Tensor):
                data = x.data
                shape = data.shape
                if len(shape) == 3 and shape[1] == 1 and data.dtype == step.dtype:
                    return self._decode(x, start_pos, step)  # one new token per sequence
        return self.synced_original().forward(x, mask, start_pos)

    def _decode(self, x: Tensor, start_pos, step: _FusedStep) -> Tensor:
        step.attn.begin_step(start_pos, x.data.shape[0])  # the position and the batch size
        qkv = apply(DECODE_QKV, (x, *step.qkv_inputs), step.qkv_params)  # (B, 3, H, 1, D)
        new = qkv.data
        # The write. update()'s argument checks hold by construction: the
        # layer, H, D and the dtype were checked when the step was set up,
        # the batch size and x's dtype just now.
        keys, values = step.cache.update_unchecked(step.layer, new[:, 1], new[:, 2])
        y = apply(DECODE_BLOCK, (x, qkv, *step.block_inputs),
                  {**step.block_params, "keys": keys, "values": values})
        step.attn.end_step(1)
        return y

    def _fused_step(self) -> _FusedStep | None:
        """The fused step's inputs when this block is standard, else None."""
        ln1, attn, ln2, mlp = self.ln1, self.attn, self.ln2, self.mlp
        if not (type(ln1) is LayerNorm and type(ln2) is LayerNorm and type(mlp) is MLP
                and type(attn) is CachedMultiHeadAttention):
            return None
        qkv, out_proj, fc, proj = attn.qkv, attn.out_proj, mlp.fc, mlp.proj
        act, drop1, drop2 = mlp.act, attn.resid_dropout, mlp.drop
        linears = (qkv, out_proj, fc, proj)
        if not (all(type(m) is Linear or _row_kernel(m) is not None for m in linears)
                and type(act) is GELU and type(drop1) is Dropout and type(drop2) is Dropout):
            return None
        parts = (ln1, attn, ln2, mlp, qkv, out_proj, fc, proj, act, drop1, drop2)
        if any(m.has_forward_hooks() for m in parts):
            return None  # a hook must see its module called
        if (attn.training and attn.dropout > 0) or any(d.training and d.p > 0
                                                       for d in (drop1, drop2)):
            return None  # active dropout: the general path draws its masks
        e = attn.embed_dim
        if any(m.weight is None or m.bias is None for m in (ln1, ln2)) or (
                ln1.normalized_shape != (e,) or ln2.normalized_shape != (e,)):
            return None
        lin = [_linear_inputs(m) for m in linears]  # ((weight, bias), rows) each
        if any(x is None for x in lin):
            return None
        rows = tuple(r for _, r in lin)
        (wq, bq), (wo, bo), (wf, bf), (wp, bp) = (wb for wb, _ in lin)
        # What the unchecked cache write relies on: the keys' H and D, and
        # the activations' dtype (a row-kernel layer keeps its input's dtype).
        cache = attn.cache
        weights = [ln1.weight, ln1.bias, ln2.weight, ln2.bias,
                   *(t for (wb, r) in lin if r is None for t in wb)]
        if ((attn.num_heads, attn.head_dim) != (cache.num_heads, cache.head_dim)
                or wq.shape[0] != 3 * e or any(t.dtype != cache.dtype for t in weights)):
            return None
        block_params = {"scale": 1.0 / float(np.sqrt(attn.head_dim)), "eps": ln2.eps,
                        "approximate": act.approximate}
        if any(r is not None for r in rows[1:]):
            block_params["rows"] = rows[1:]
        return _FusedStep(
            attn=attn, cache=cache, layer=attn.layer_idx, dtype=cache.dtype,
            qkv_inputs=(ln1.weight, ln1.bias, wq, bq),
            qkv_params={"eps": ln1.eps, "num_heads": attn.num_heads,
                        **({"rows": rows[0]} if rows[0] is not None else {})},
            block_inputs=(wo, bo, ln2.weight, ln2.bias, wf, bf, wp, bp),
            block_params=block_params,
        )


def _row_kernel(m: Module):
    """``m.forward_rows`` when ``m`` follows the row-kernel protocol
    (:data:`~tinytorch.kvcache.decode.ROW_KERNEL_METHOD`), else None."""
    rows = getattr(m, ROW_KERNEL_METHOD, None)
    if not callable(rows) or not all(isinstance(getattr(m, a, None), (int, np.integer))
                                     for a in ("in_features", "out_features")):
        return None
    return rows


def _linear_inputs(m: Module):
    """``((weight, bias), None)`` of a plain ``Linear`` with a bias,
    ``((placeholder (out, 0), placeholder (0,)), forward_rows)`` of a row-kernel
    layer, None for a ``Linear`` without bias."""
    if type(m) is Linear:
        return None if m.bias is None else ((m.weight, m.bias), None)
    shape = (int(m.out_features), 0)  # read by the FLOP counts only
    return (Tensor(np.empty(shape, np.float32)), Tensor(np.empty((0,), np.float32))), \
        _row_kernel(m)


# ------------------------------------------------------------ enable, disable


def _blocks_of(model) -> list[tuple[str, Module]]:
    """``(name, block)`` of a GPT-like model's blocks, checked."""
    blocks = getattr(model, "blocks", None) if isinstance(model, Module) else None
    children = list(blocks.named_children()) if isinstance(blocks, Module) else []
    if not children:
        raise TypeError(
            "enable_kv_cache expects a GPT-like model: a Module with `blocks` (a ModuleList "
            f"of transformer blocks, each with an `attn`), got {type(model).__name__}")
    for name, block in children:
        attn = getattr(block, "attn", None)
        if not isinstance(attn, (MultiHeadAttention, CachedMultiHeadAttention)):
            raise TypeError(f"enable_kv_cache: blocks.{name}.attn must be a MultiHeadAttention, "
                            f"got {type(attn).__name__}")
    return children


def _cached_attention(model) -> CachedMultiHeadAttention | None:
    """The first block's cached attention, or None when the cache is off."""
    blocks = getattr(model, "blocks", None) if isinstance(model, Module) else None
    if not isinstance(blocks, Module):
        return None
    for _, block in blocks.named_children():
        attn = getattr(block, "attn", None)
        if isinstance(attn, CachedMultiHeadAttention):
            return attn
    return None


def is_kv_cache_enabled(model) -> bool:
    """True when :func:`enable_kv_cache` is in effect on ``model``."""
    return _cached_attention(model) is not None


def _cache_size(model, max_seq_len) -> int:
    model_len = getattr(model, "max_seq_len", None)
    if max_seq_len is None:
        if model_len is None:
            raise TypeError("enable_kv_cache: the model has no max_seq_len; pass max_seq_len")
        max_seq_len = model_len
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, (int, np.integer)):
        raise TypeError(f"enable_kv_cache: max_seq_len must be an int, got {max_seq_len!r}")
    if model_len is not None and max_seq_len > model_len:
        raise ValueError(f"enable_kv_cache: max_seq_len={max_seq_len} exceeds the model's "
                         f"max_seq_len={model_len} (it has no positions beyond)")
    return int(max_seq_len)


def _activation_dtype(model: Module) -> np.dtype:
    """The dtype of the model's first floating-point parameter (its
    activations' dtype; a quantized layer may hold integer weights)."""
    for p in model.parameters():
        if p.dtype.kind == "f":
            return p.dtype
    return np.dtype(np.float32)


def enable_kv_cache(model, max_seq_len: int | None = None, batch_size: int = 1, *,
                    fused: bool = True) -> KVCache:
    """Give ``model`` (a ``tinytorch.transformers.GPT``) a KV cache.

    Swaps every ``blocks[i].attn`` for a :class:`CachedMultiHeadAttention`
    and every ``TransformerBlock`` for a :class:`CachedTransformerBlock`,
    both holding the originals' submodules; sets ``model.generation_cache``
    so that ``model.generate(..., use_cache=True)`` prefills once and then
    decodes one token per step.

    Args:
        model: a GPT (``blocks`` of transformer blocks, each with a
            ``MultiHeadAttention`` ``attn``, called as ``block(x, mask, start_pos)``).
        max_seq_len: cache capacity in positions; default (and maximum) the
            model's ``max_seq_len``. A smaller capacity is a smaller context:
            ``GPT.generate`` slides its window within it.
        batch_size: sequences per generation. A forward at ``start_pos=0``
            with another batch size re-allocates the cache for it.
        fused: use the fused decode step for standard blocks (default); False
            runs every decode step through the submodules.

    Returns:
        The :class:`KVCache` (also ``model.generation_cache``); its memory is
        ``2 x layers x heads x head_dim x max_seq_len x batch x itemsize``.

    Idempotent: on a model whose cache is already enabled, nothing is
    swapped again; the cache is re-allocated only if ``max_seq_len`` or
    ``batch_size`` changed. Reversed by :func:`disable_kv_cache`.

    Raises:
        TypeError: the model is not GPT-like; non-int sizes.
        ValueError: ``max_seq_len`` < 1 or larger than the model's;
            ``batch_size`` < 1; a block or attention with forward hooks of its
            own (the cached module that takes its place would not run them).
    """
    blocks = _blocks_of(model)
    max_seq_len = _cache_size(model, max_seq_len)
    enabled = _cached_attention(model)
    if enabled is not None:  # already enabled: adjust the cache only
        cache = enabled.cache
        if (cache.batch_size, cache.max_seq_len) != (batch_size, max_seq_len):
            cache.reallocate(batch_size=batch_size, max_seq_len=max_seq_len)
        for _, block in blocks:
            if isinstance(block, CachedTransformerBlock):
                block.fused = fused
        return cache
    for name, block in blocks:
        for where, m in ((f"blocks.{name}", block), (f"blocks.{name}.attn", block.attn)):
            if m.has_forward_hooks():
                raise ValueError(
                    f"enable_kv_cache: {where} has forward hooks of its own, which the cached "
                    "module taking its place would not run; remove them, enable the cache, "
                    "and register them on the module in the tree")
    first = blocks[0][1].attn
    cache = KVCache(batch_size, max_seq_len, len(blocks), first.num_heads, first.head_dim,
                    dtype=_activation_dtype(model))
    container = model.blocks
    for i, (name, block) in enumerate(blocks):
        # The attention first: the block's stand-in then holds the cached one.
        block.attn = CachedMultiHeadAttention(block.attn, cache, i, model.generation_cache)
        if type(block) is TransformerBlock:
            setattr(container, name, CachedTransformerBlock(block, fused))
    model.generation_cache = cache
    return cache


def disable_kv_cache(model) -> None:
    """Undo :func:`enable_kv_cache`: the original blocks and attention modules
    (the same objects, holding the current submodules, in the mode the model
    is now in) go back in place and ``model.generation_cache`` gets its
    previous value. The cache's memory is released with it. Does nothing on
    a model without a cache.

    Raises:
        TypeError: ``model`` is not a Module.
    """
    if not isinstance(model, Module):
        raise TypeError(f"disable_kv_cache expects a Module, got {type(model).__name__}")
    enabled = _cached_attention(model)
    if enabled is None:
        return
    container = model.blocks
    for name, block in list(container.named_children()):
        if isinstance(block, CachedTransformerBlock):
            setattr(container, name, block.synced_original())
            block = block.original
        attn = block.attn
        if isinstance(attn, CachedMultiHeadAttention):
            block.attn = attn.synced_original()
    model.generation_cache = enabled.previous_generation_cache
