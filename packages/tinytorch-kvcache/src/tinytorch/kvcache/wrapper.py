"""Enabling a KV cache on a GPT by a module swap, and the cached attention.

``enable_kv_cache(model)`` replaces every ``model.blocks[i].attn`` (a
``MultiHeadAttention``) by a :class:`CachedMultiHeadAttention` that *is a
second view of the same module*: it shares the original's parameter,
buffer, submodule and hook registries (the very same dict objects), so
``named_parameters()``, ``state_dict()`` and ``load_state_dict()`` see
exactly what they saw before, and an optimizer step updates the arrays both
views use. Nothing is copied and no class is patched.
``disable_kv_cache(model)`` puts the original objects back.

How the wrapper knows the position
----------------------------------
``GPT.forward(tokens, start_pos)`` hands ``start_pos`` to its positional
encoding (``pos_emb(x, start_pos)``) and not to the blocks. A forward
pre-hook on ``model.pos_emb`` (the documented hook of ``tinytorch.nn``)
records it for the step; the first layer checks it against the cache:

* ``start_pos == 0``: a new sequence. The cache is reset (re-allocated if the
  batch size changed), then filled with the prompt (prefill).
* ``start_pos == cache.seq_len``: the step continues the cached sequence.
* anything else: ``ValueError`` naming both numbers (the keys of the
  positions in between would be missing or stale).

The three paths of ``CachedMultiHeadAttention.forward(x, mask)``
----------------------------------------------------------------
1. **Grad mode on** (training, or any forward recording a graph): the
   original ``forward`` runs unchanged; the cache is never read or written,
   so gradients are exactly those of the uncached model.
2. **Prefill / chunk** (``no_grad``, ``T > 1`` new tokens, or any step whose
   mask or dropout needs the general path): Q, K, V of the ``T`` tokens by
   the original's ``project_qkv``; K and V written to the cache at
   ``start_pos``; the fused ``scaled_dot_product_attention`` over all
   ``start_pos + T`` cached keys with the causal mask (offset for the
   cached past); the original's ``project_output``.
3. **Decode** (``no_grad``, ``T == 1``, no mask, dropout inactive): one
   :data:`~tinytorch.kvcache.decode.DECODE_ATTENTION` dispatch projects the
   token, writes its K/V at ``seq_len`` and attends over ``cache[:seq_len+1]``.

The last layer commits the step (``cache.advance(T)``).
"""

from __future__ import annotations

import numpy as np
from tinytorch.autograd import is_grad_enabled
from tinytorch.nn import Linear, Module
from tinytorch.tensor import Tensor, apply, wrap
from tinytorch.transformers import (
    MultiHeadAttention,
    scaled_dot_product_attention,
    validate_mask,
)

from .cache import KVCache
from .decode import DECODE_ATTENTION

__all__ = [
    "CachedMultiHeadAttention",
    "enable_kv_cache",
    "disable_kv_cache",
    "is_kv_cache_enabled",
]

# The registries a wrapper shares with the module it wraps (same dict objects).
_SHARED = ("_parameters", "_buffers", "_non_persistent", "_modules",
           "_forward_pre_hooks", "_forward_hooks")


class _Session:
    """State shared by the wrappers of one model: the cache, the position of
    the current forward (recorded by the ``pos_emb`` pre-hook), and what
    ``disable_kv_cache`` must restore."""

    __slots__ = ("cache", "start_pos", "step_len", "hook", "previous_cache")

    def __init__(self, cache: KVCache, previous_cache) -> None:
        self.cache = cache
        self.start_pos = None  # set by the pos_emb pre-hook, consumed by layer 0
        self.step_len = 0  # T of the step in progress (0: none)
        self.hook = None
        self.previous_cache = previous_cache

    def record_position(self, module, args) -> None:
        # Forward pre-hook of pos_emb: args = (x, start_pos).
        self.start_pos = args[1] if len(args) > 1 else 0


class CachedMultiHeadAttention(Module):
    """A ``MultiHeadAttention`` that reads and writes a :class:`KVCache`.

    Built by :func:`enable_kv_cache`, not by hand. Shares every registry of
    ``original`` (parameters, buffers, submodules, hooks): it adds no
    parameter and changes no name in ``state_dict``. ``original`` is kept
    (unregistered) to run the training path and to be restored by
    :func:`disable_kv_cache`.

    ``forward(x, mask=None)``: ``(B, T, E) -> (B, T, E)``, the same contract
    as ``MultiHeadAttention.forward``; see the module docstring for the three
    paths.

    Raises (forward, under ``no_grad``):
        ValueError: ``start_pos`` differs from the cache's ``seq_len`` (and is
            not 0), a batch size other than the cache's in a continuing step,
            a cache overflow, a mask that does not fit ``(T, T)``.
        RuntimeError: the forward does not come from the model's own forward
            (no position recorded), or the layers disagree on ``T``.
    """

    def __init__(self, original: MultiHeadAttention, session: _Session, layer_idx: int,
                 num_layers: int) -> None:
        super().__init__()
        for name in _SHARED:  # one state, two views
            object.__setattr__(self, name, getattr(original, name))
        object.__setattr__(self, "training", original.training)
        object.__setattr__(self, "original", original)
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "layer_idx", layer_idx)
        object.__setattr__(self, "is_last", layer_idx == num_layers - 1)

    # The geometry of the wrapped attention.
    embed_dim = property(lambda self: self.original.embed_dim)
    num_heads = property(lambda self: self.original.num_heads)
    head_dim = property(lambda self: self.original.head_dim)
    dropout = property(lambda self: self.original.dropout)

    def forward(self, x, mask=None) -> Tensor:
        orig = self.original
        if orig.training is not self.training:
            # model.train()/eval() reaches the wrapper (it is in the tree), not
            # the original: carry the mode over before the original runs.
            object.__setattr__(orig, "training", self.training)
        session = self.session
        if is_grad_enabled():  # path 1: training never touches the cache
            if self.layer_idx == 0:
                session.start_pos = None
            return orig.forward(x, mask)

        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim != 3 or x.shape[-1] != orig.embed_dim:
            raise ValueError(
                f"CachedMultiHeadAttention: expected input of shape (B, T, {orig.embed_dim}), "
                f"got {x.shape}"
            )
        b, t, _ = x.shape
        cache = session.cache
        if self.layer_idx == 0:
            start = self._begin_step(b, t)
        else:
            if t != session.step_len:
                raise RuntimeError(
                    f"CachedMultiHeadAttention (layer {self.layer_idx}): got {t} token(s) but "
                    f"layer 0 started a step of {session.step_len}; a cached forward must run "
                    "every layer, in order, on the same tokens"
                )
            start = cache.seq_len

        p = orig.dropout if self.training else 0.0
        mods = orig._modules
        qkv, out_proj = mods["qkv"], mods["out_proj"]
        if (t == 1 and mask is None and p == 0.0 and type(qkv) is Linear
                and type(out_proj) is Linear and not (
                    qkv._forward_pre_hooks or qkv._forward_hooks
                    or out_proj._forward_pre_hooks or out_proj._forward_hooks)):
            y = self._decode(x, qkv, out_proj, cache, start)  # path 3
        else:
            y = self._prefill(x, mask, p, cache, start, b, t)  # path 2
        if self.is_last:
            cache.advance(t)
            session.step_len = 0
        return y

    def _begin_step(self, b: int, t: int) -> int:
        """Layer 0: check the position GPT passed against the cache; start a step."""
        session, cache = self.session, self.session.cache
        start = session.start_pos
        session.start_pos = None  # consumed: a later forward must record its own
        if start is None:
            raise RuntimeError(
                "CachedMultiHeadAttention: no start position was recorded for this forward. "
                "With a KV cache enabled, run the model itself (model(tokens, start_pos=...)) "
                "under no_grad, not a block or an attention module alone"
            )
        if start == 0:  # a new sequence: forget the cached one
            if b != cache.batch_size:
                cache.reallocate(batch_size=b)
            else:
                cache.reset()
        elif start != cache.seq_len:
            raise ValueError(
                f"KV cache position mismatch: the model was called with start_pos={start} but "
                f"the cache holds {cache.seq_len} position(s); continue with "
                f"start_pos={cache.seq_len}, or restart the sequence with start_pos=0"
            )
        else:
            if b != cache.batch_size:
                raise ValueError(
                    f"KV cache batch mismatch: {b} sequence(s) continue a cached batch of "
                    f"{cache.batch_size}; restart with start_pos=0 to use another batch size"
                )
            if cache.pending:
                cache.crop(cache.seq_len)  # drop the writes of an interrupted step
        session.step_len = t
        return start

    def _decode(self, x, qkv, out_proj, cache: KVCache, start: int) -> Tensor:
        """Path 3: one fused dispatch (see :mod:`tinytorch.kvcache.decode`)."""
        layer = self.layer_idx
        orig = self.original
        if (qkv.bias is None) != (out_proj.bias is None):  # unusual: the general path
            return self._prefill(x, None, 0.0, cache, start, x.shape[0], 1)
        has_bias = qkv.bias is not None
        inputs = ((x, qkv.weight, qkv.bias, out_proj.weight, out_proj.bias) if has_bias
                  else (x, qkv.weight, out_proj.weight))
        pos = cache._claim(layer, 1)  # the slot of the new token: seq_len
        return apply(DECODE_ATTENTION, inputs, {
            "keys": cache._keys[layer], "values": cache._values[layer], "pos": pos,
            "num_heads": orig.num_heads, "scale": 1.0 / np.sqrt(orig.head_dim),
            "has_bias": has_bias,
        })

    def _prefill(self, x, mask, p, cache: KVCache, start: int, b: int, t: int) -> Tensor:
        pos = cache._claim(self.layer_idx, t)
        return self._prefill_claimed(x, mask, p, cache, pos, b, t)

    def _prefill_claimed(self, x, mask, p, cache: KVCache, start: int, b: int,
                         t: int) -> Tensor:
        """Path 2: the original's projections, K/V written, attention over the cache."""
        orig = self.original
        layer = self.layer_idx
        q, k, v = orig.project_qkv(x)  # (B, H, T, D) each
        keys, values = cache._keys[layer], cache._values[layer]
        keys[:, :, start:start + t] = k.data  # the slot booked by _claim
        values[:, :, start:start + t] = v.data
        length = start + t
        if mask is not None:
            h = orig.num_heads
            m = validate_mask(mask, (b, h, t, t), "CachedMultiHeadAttention")
            if start:
                # The cached past is visible to every new query: prepend
                # "attend" columns (True, or 0 for an additive mask).
                m = np.broadcast_to(m, (b, h, t, t))
                past = (np.ones if m.dtype == np.bool_ else np.zeros)(
                    m.shape[:-1] + (start,), m.dtype)
                m = np.concatenate([past, m], axis=-1)  # (..., T, start + T)
            mask = wrap(m)
        k_all = wrap(keys[:, :, :length])  # (B, H, start + T, D)
        v_all = wrap(values[:, :, :length])
        out, _ = scaled_dot_product_attention(q, k_all, v_all, mask, p)  # (B, H, T, D)
        return orig.project_output(out)  # (B, T, E)

    def extra_repr(self) -> str:
        c = self.session.cache
        return (f"layer={self.layer_idx}, embed_dim={self.embed_dim}, "
                f"num_heads={self.num_heads}, cache_max_seq_len={c.max_seq_len}")


# ------------------------------------------------------------------ enable


def _attention_paths(model) -> list[str]:
    """Dotted paths of the attention modules of a GPT-like model, checked."""
    blocks = model._modules.get("blocks") if isinstance(model, Module) else None
    if blocks is None or not len(blocks._modules):
        raise TypeError(
            "enable_kv_cache expects a GPT-like model: a Module with `blocks` (a ModuleList "
            f"of transformer blocks, each with an `attn`), got {type(model).__name__}"
        )
    paths = []
    for name, block in blocks._modules.items():
        attn = block._modules.get("attn")
        if not isinstance(attn, (MultiHeadAttention, CachedMultiHeadAttention)):
            raise TypeError(
                f"enable_kv_cache: blocks.{name}.attn must be a MultiHeadAttention, got "
                f"{type(attn).__name__}"
            )
        paths.append(f"blocks.{name}.attn")
    if "pos_emb" not in model._modules:
        raise TypeError(
            "enable_kv_cache expects the model to pass each forward's start_pos to a "
            "`pos_emb` submodule (as tinytorch.transformers.GPT does)"
        )
    return paths


def _session_of(model) -> _Session | None:
    blocks = model._modules.get("blocks") if isinstance(model, Module) else None
    if blocks is None:
        return None
    for block in blocks._modules.values():
        attn = block._modules.get("attn")
        if isinstance(attn, CachedMultiHeadAttention):
            return attn.session
    return None


def is_kv_cache_enabled(model) -> bool:
    """True when :func:`enable_kv_cache` is in effect on ``model``."""
    return _session_of(model) is not None


def enable_kv_cache(model, max_seq_len: int | None = None, batch_size: int = 1) -> KVCache:
    """Give ``model`` (a ``tinytorch.transformers.GPT``) a KV cache.

    Swaps every ``blocks[i].attn`` for a :class:`CachedMultiHeadAttention`
    sharing its weights, registers a pre-hook on ``pos_emb`` that records
    each forward's ``start_pos``, and sets ``model.generation_cache`` so that
    ``model.generate(..., use_cache=True)`` prefills once and then decodes
    one token per step.

    Args:
        model: a GPT (``blocks`` of transformer blocks with a
            ``MultiHeadAttention`` ``attn`` each, and a ``pos_emb``).
        max_seq_len: cache capacity in positions; default (and maximum) the
            model's ``max_seq_len``.
        batch_size: sequences per generation. A forward at ``start_pos=0``
            with another batch size re-allocates the cache for it.

    Returns:
        The :class:`KVCache` (also ``model.generation_cache``); its memory is
        ``2 x layers x heads x head_dim x max_seq_len x batch x itemsize``.

    Idempotent: on a model whose cache is already enabled, nothing is
    swapped again; the cache is re-allocated only if ``max_seq_len`` or
    ``batch_size`` changed. Reversed by :func:`disable_kv_cache`.

    Raises:
        TypeError: the model is not GPT-like; non-int sizes.
        ValueError: ``max_seq_len`` < 1 or larger than the model's; ``batch_size`` < 1.
    """
    paths = _attention_paths(model)
    first = model.get_submodule(paths[0])
    first = first.original if isinstance(first, CachedMultiHeadAttention) else first
    model_len = getattr(model, "max_seq_len", None)
    if max_seq_len is None:
        if model_len is None:
            raise TypeError("enable_kv_cache: the model has no max_seq_len; pass max_seq_len")
        max_seq_len = model_len
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, (int, np.integer)):
        raise TypeError(f"enable_kv_cache: max_seq_len must be an int, got {max_seq_len!r}")
    if model_len is not None and max_seq_len > model_len:
        raise ValueError(
            f"enable_kv_cache: max_seq_len={max_seq_len} exceeds the model's max_seq_len="
            f"{model_len} (it has no positions beyond)"
        )
    session = _session_of(model)
    if session is not None:  # already enabled: adjust the cache only
        cache = session.cache
        if (cache.batch_size, cache.max_seq_len) != (batch_size, max_seq_len):
            cache.reallocate(batch_size=batch_size, max_seq_len=max_seq_len)
        return cache
    cache = KVCache(batch_size, max_seq_len, len(paths), first.num_heads, first.head_dim,
                    dtype=first._modules["qkv"].weight.dtype)
    session = _Session(cache, getattr(model, "generation_cache", None))
    for i, path in enumerate(paths):
        original = model.get_submodule(path)
        model.set_submodule(path, CachedMultiHeadAttention(original, session, i, len(paths)))
    session.hook = model._modules["pos_emb"].register_forward_pre_hook(session.record_position)
    model.generation_cache = cache
    return cache


def disable_kv_cache(model) -> None:
    """Undo :func:`enable_kv_cache`: the original attention modules (the same
    objects, in the mode the model is now in) go back in place, the
    ``pos_emb`` hook is removed and ``model.generation_cache`` gets its
    previous value. The cache's memory is released with it. Does nothing on
    a model without a cache.

    Raises:
        TypeError: ``model`` is not a Module.
    """
    if not isinstance(model, Module):
        raise TypeError(f"disable_kv_cache expects a Module, got {type(model).__name__}")
    session = _session_of(model)
    if session is None:
        return
    for name, block in model._modules["blocks"]._modules.items():
        attn = block._modules.get("attn")
        if isinstance(attn, CachedMultiHeadAttention):
            original = attn.original
            object.__setattr__(original, "training", attn.training)
            block.attn = original
    if session.hook is not None:
        session.hook.remove()
    model.generation_cache = session.previous_cache
