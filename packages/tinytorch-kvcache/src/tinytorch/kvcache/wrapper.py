"""Enabling a KV cache on a GPT by module swaps, and the cached modules.

``enable_kv_cache(model)`` replaces every ``model.blocks[i].attn`` (a
``MultiHeadAttention``) by a :class:`CachedMultiHeadAttention`, and every
``model.blocks[i]`` (a ``TransformerBlock``) by a
:class:`CachedTransformerBlock`. Each wrapper *is a second view of the same
module*: it shares the original's parameter, buffer, submodule and hook
registries (the very same dict objects), so ``named_parameters()``,
``state_dict()`` and ``load_state_dict()`` see exactly what they saw
before, and an optimizer step updates the arrays both views use. Nothing is
copied and no class is patched. ``disable_kv_cache(model)`` puts the
original objects back.

How the wrappers know the position
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

The last layer commits the step (``cache.advance(T)``).

The three paths
---------------
1. **Grad mode on** (training, or any forward recording a graph): the
   original ``forward`` runs unchanged; the cache is never read or written,
   so gradients are exactly those of the uncached model.
2. **Prefill / chunk** (``no_grad``, ``T > 1`` new tokens, or a step whose
   mask or dropout needs the general path): Q, K, V of the ``T`` tokens by
   the original's ``project_qkv``; K and V written to the cache at
   ``start_pos``; the fused ``scaled_dot_product_attention`` over all
   ``start_pos + T`` cached keys with the causal mask (offset for the
   cached past); the original's ``project_output``.
3. **Decode** (``no_grad``, ``T == 1``): the token is projected, its K/V
   written at ``seq_len`` and attention taken over ``cache[:seq_len+1]``
   (no mask: one query sees the whole past). A decode step is dominated by
   the Python cost of each op, so it runs as few dispatches as possible:
   one :data:`~tinytorch.kvcache.decode.DECODE_BLOCK` per standard block
   (layer norms, attention, MLP and residuals), or, when a block has
   non-standard parts or hooks on its submodules, the block's own forward
   with one :data:`~tinytorch.kvcache.decode.DECODE_ATTENTION` for the
   attention.
"""

from __future__ import annotations

import numpy as np

from tinytorch.autograd import is_grad_enabled
from tinytorch.nn import GELU, Dropout, LayerNorm, Linear, Module
from tinytorch.tensor import Tensor, apply, wrap
from tinytorch.transformers import (
    MLP,
    MultiHeadAttention,
    TransformerBlock,
    scaled_dot_product_attention,
    validate_mask,
)

from .cache import KVCache
from .decode import DECODE_ATTENTION, DECODE_BLOCK

__all__ = [
    "CachedMultiHeadAttention",
    "CachedTransformerBlock",
    "enable_kv_cache",
    "disable_kv_cache",
    "is_kv_cache_enabled",
]

# The registries a wrapper shares with the module it wraps (same dict objects).
_SHARED = ("_parameters", "_buffers", "_non_persistent", "_modules",
           "_forward_pre_hooks", "_forward_hooks")


def _share(wrapper: Module, original: Module) -> None:
    for name in _SHARED:  # one state, two views
        object.__setattr__(wrapper, name, getattr(original, name))
    object.__setattr__(wrapper, "training", original.training)
    object.__setattr__(wrapper, "original", original)


def _sync_mode(wrapper: Module) -> Module:
    # model.train()/eval() reaches the wrapper (it is in the tree), not the
    # original: carry the mode over before the original runs.
    orig = wrapper.original
    if orig.training is not wrapper.training:
        object.__setattr__(orig, "training", wrapper.training)
    return orig


class _Session:
    """State shared by the wrappers of one model: the cache, the position of
    the current forward (recorded by the ``pos_emb`` pre-hook), the step in
    progress, and what ``disable_kv_cache`` must restore."""

    __slots__ = ("cache", "num_layers", "start_pos", "step_len", "sequence", "hook",
                 "previous_cache")

    def __init__(self, cache: KVCache, num_layers: int, previous_cache) -> None:
        self.cache = cache
        self.num_layers = num_layers
        self.start_pos = None  # set by the pos_emb pre-hook, consumed by layer 0
        self.step_len = 0  # T of the step in progress (0: none)
        self.sequence = 0  # counts the sequences started (start_pos == 0)
        self.hook = None
        self.previous_cache = previous_cache

    def record_position(self, module, args) -> None:
        # Forward pre-hook of pos_emb: args = (x, start_pos).
        self.start_pos = args[1] if len(args) > 1 else 0

    def begin(self, layer: int, b: int, t: int) -> int:
        """Start (layer 0) or join (later layers) the step of ``t`` tokens;
        returns its write position, after checking it against the cache."""
        cache = self.cache
        if layer:
            if t != self.step_len:
                raise RuntimeError(
                    f"KV cache (layer {layer}): got {t} token(s) but layer 0 started a step "
                    f"of {self.step_len}; a cached forward must run every layer, in order, "
                    "on the same tokens"
                )
            return cache.seq_len
        start = self.start_pos
        self.start_pos = None  # consumed: a later forward must record its own
        if start is None:
            raise RuntimeError(
                "KV cache: no start position was recorded for this forward. With a KV cache "
                "enabled, run the model itself (model(tokens, start_pos=...)) under no_grad, "
                "not a block or an attention module alone"
            )
        if start == 0:  # a new sequence: forget the cached one
            self.sequence += 1
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
        self.step_len = t
        return start

    def finish(self, layer: int, t: int) -> None:
        """The last layer commits the step."""
        if layer == self.num_layers - 1:
            self.cache.advance(t)
            self.step_len = 0


def _no_hooks(*modules) -> bool:
    for m in modules:
        if m._forward_pre_hooks or m._forward_hooks:
            return False
    return True


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

    def __init__(self, original: MultiHeadAttention, session: _Session, layer_idx: int) -> None:
        super().__init__()
        _share(self, original)
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "layer_idx", layer_idx)

    # The geometry of the wrapped attention.
    embed_dim = property(lambda self: self.original.embed_dim)
    num_heads = property(lambda self: self.original.num_heads)
    head_dim = property(lambda self: self.original.head_dim)
    dropout = property(lambda self: self.original.dropout)

    def forward(self, x, mask=None) -> Tensor:
        orig = _sync_mode(self)
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
        layer = self.layer_idx
        session.begin(layer, b, t)
        p = orig.dropout if self.training else 0.0
        y = None
        if t == 1 and mask is None and p == 0.0:
            y = self._decode(x)  # path 3 (None if the layers are not plain Linear)
        if y is None:
            y = self._prefill(x, mask, p, b, t)  # path 2
        session.finish(layer, t)
        return y

    def _decode(self, x) -> Tensor | None:
        """Path 3: one fused dispatch (see :mod:`tinytorch.kvcache.decode`)."""
        orig = self.original
        mods = orig._modules
        qkv, out_proj = mods["qkv"], mods["out_proj"]
        if type(qkv) is not Linear or type(out_proj) is not Linear or not _no_hooks(
                qkv, out_proj, mods["resid_dropout"]):
            return None
        qb, ob = qkv._parameters.get("bias"), out_proj._parameters.get("bias")
        if (qb is None) != (ob is None):
            return None
        w = (qkv._parameters["weight"], out_proj._parameters["weight"])
        inputs = (x, w[0], qb, w[1], ob) if qb is not None else (x, *w)
        cache = self.session.cache
        layer = self.layer_idx
        pos = cache._claim(layer, 1)  # the slot of the new token: seq_len
        return apply(DECODE_ATTENTION, inputs, {
            "keys": cache._keys[layer], "values": cache._values[layer], "pos": pos,
            "num_heads": orig.num_heads, "scale": 1.0 / np.sqrt(orig.head_dim),
            "has_bias": qb is not None,
        })

    def _prefill(self, x, mask, p: float, b: int, t: int) -> Tensor:
        """Path 2: the original's projections, K/V written, attention over the cache."""
        orig = self.original
        cache = self.session.cache
        layer = self.layer_idx
        q, k, v = orig.project_qkv(x)  # (B, H, T, D) each
        if k.dtype != cache.dtype:
            raise TypeError(f"KV cache: the model computes {k.dtype} keys but the cache "
                            f"holds {cache.dtype}; enable the cache again after a dtype change")
        start = cache._claim(layer, t)  # == the step's start position
        keys, values = cache._keys[layer], cache._values[layer]
        keys[:, :, start:start + t] = k.data
        values[:, :, start:start + t] = v.data
        if mask is not None:
            h = orig.num_heads
            m = validate_mask(mask, (b, h, t, t), "CachedMultiHeadAttention")
            if start:
                # The cached past is visible to every new query: prepend
                # "attend" columns (True, or 0 for an additive mask).
                m = np.broadcast_to(m, (b, h, t, t))
                past = (np.ones if m.dtype == np.bool_ else np.zeros)((b, h, t, start), m.dtype)
                m = np.concatenate([past, m], axis=-1)  # (B, H, T, start + T)
            mask = wrap(m)
        k_all = wrap(keys[:, :, :start + t])  # (B, H, start + T, D)
        v_all = wrap(values[:, :, :start + t])
        out, _ = scaled_dot_product_attention(q, k_all, v_all, mask, p)  # (B, H, T, D)
        return orig.project_output(out)  # (B, T, E)

    def extra_repr(self) -> str:
        c = self.session.cache
        return (f"layer={self.layer_idx}, embed_dim={self.embed_dim}, "
                f"num_heads={self.num_heads}, cache_max_seq_len={c.max_seq_len}")


class CachedTransformerBlock(Module):
    """A ``TransformerBlock`` whose decode step is one fused dispatch.

    Built by :func:`enable_kv_cache`; shares every registry of ``original``
    (so its ``attn`` is the :class:`CachedMultiHeadAttention`). ``forward(x,
    mask=None)`` is the original's, except for a decode step (``no_grad``,
    one token, no mask), which runs
    :data:`~tinytorch.kvcache.decode.DECODE_BLOCK` (layer norms, cached
    attention, MLP and both residuals in one op) when the block is standard:
    ``LayerNorm``, ``Linear``, ``GELU`` and ``Dropout`` submodules with
    biases, no hooks on any of them, dropout inactive.

    That check walks a dozen submodules, which costs as much as a layer norm
    at small sizes, so it is made once per cached sequence (at its first
    step) and reused by the following decode steps. Swap a submodule or
    register a hook on one *between* sequences (before a ``generate`` call
    or a ``start_pos=0`` forward); in-place weight updates and
    ``load_state_dict`` are seen at once.

    Raises: as :class:`CachedMultiHeadAttention`.
    """

    def __init__(self, original: TransformerBlock, session: _Session) -> None:
        super().__init__()
        _share(self, original)
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "_plan", None)  # (sequence number, fused plan)

    def forward(self, x, mask=None) -> Tensor:
        orig = _sync_mode(self)
        if mask is None and not is_grad_enabled() and isinstance(x, Tensor):
            shape = x.data.shape
            if len(shape) == 3 and shape[1] == 1:  # one new token per sequence
                session = self.session
                plan = self._plan
                if (plan is None or plan[0] != session.sequence
                        or session.start_pos == 0 or self.training):
                    plan = None
                    fused = self._fused_plan(shape[2])  # a new sequence: decide again
                else:
                    fused = plan[1]
                if fused is not None:
                    y = self._decode(x, *fused)
                    if plan is None:  # stamped after the step, which may start a sequence
                        object.__setattr__(self, "_plan", (session.sequence, fused))
                    return y
        return orig.forward(x, mask)

    def _fused_plan(self, e: int):
        """``(attn, weights, params)`` when this block can decode as one
        DECODE_BLOCK, else None (the submodules then run one by one)."""
        mods = self._modules
        ln1, attn, ln2, mlp = mods["ln1"], mods["attn"], mods["ln2"], mods["mlp"]
        if not (type(ln1) is LayerNorm and type(ln2) is LayerNorm and type(mlp) is MLP
                and type(attn) is CachedMultiHeadAttention):
            return None
        a, m = attn._modules, mlp._modules
        qkv, out_proj, fc, proj = a["qkv"], a["out_proj"], m["fc"], m["proj"]
        act, drop1, drop2 = m["act"], a["resid_dropout"], m["drop"]
        if not (type(qkv) is Linear and type(out_proj) is Linear and type(fc) is Linear
                and type(proj) is Linear and type(act) is GELU and type(drop1) is Dropout
                and type(drop2) is Dropout):
            return None
        if not _no_hooks(ln1, attn, ln2, mlp, qkv, out_proj, fc, proj, act, drop1, drop2):
            return None
        if self.training and (attn.original.dropout > 0 or drop2.p > 0):
            return None  # dropout active: the general path draws its masks
        weights = []
        for mod in (ln1, qkv, out_proj, ln2, fc, proj):
            w, b = mod._parameters.get("weight"), mod._parameters.get("bias")
            if w is None or b is None:
                return None
            weights += (w, b)
        if ln1.normalized_shape != (e,) or ln2.normalized_shape != (e,):
            return None
        orig_attn = attn.original
        return attn, tuple(weights), {
            "num_heads": orig_attn.num_heads, "scale": 1.0 / np.sqrt(orig_attn.head_dim),
            "eps1": ln1.eps, "eps2": ln2.eps, "approximate": act.approximate,
        }

    def _decode(self, x, attn: CachedMultiHeadAttention, weights: tuple,
                params: dict) -> Tensor:
        session, layer = attn.session, attn.layer_idx
        cache = session.cache
        session.begin(layer, x.shape[0], 1)
        pos = cache._claim(layer, 1)  # the slot of the new token: seq_len
        y = apply(DECODE_BLOCK, (x, *weights), dict(
            params, keys=cache._keys[layer], values=cache._values[layer], pos=pos))
        session.finish(layer, 1)
        return y


# ------------------------------------------------------------------ enable


def _blocks_of(model) -> list[tuple[str, Module]]:
    """``(name, block)`` of a GPT-like model's blocks, checked."""
    blocks = model._modules.get("blocks") if isinstance(model, Module) else None
    if blocks is None or not len(blocks._modules):
        raise TypeError(
            "enable_kv_cache expects a GPT-like model: a Module with `blocks` (a ModuleList "
            f"of transformer blocks, each with an `attn`), got {type(model).__name__}"
        )
    for name, block in blocks._modules.items():
        attn = block._modules.get("attn")
        if not isinstance(attn, (MultiHeadAttention, CachedMultiHeadAttention)):
            raise TypeError(
                f"enable_kv_cache: blocks.{name}.attn must be a MultiHeadAttention, got "
                f"{type(attn).__name__}"
            )
    if "pos_emb" not in model._modules:
        raise TypeError(
            "enable_kv_cache expects the model to pass each forward's start_pos to a "
            "`pos_emb` submodule (as tinytorch.transformers.GPT does)"
        )
    return list(blocks._modules.items())


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
    and every ``TransformerBlock`` for a :class:`CachedTransformerBlock`,
    both sharing the originals' weights; registers a pre-hook on ``pos_emb``
    that records each forward's ``start_pos``; sets ``model.generation_cache``
    so that ``model.generate(..., use_cache=True)`` prefills once and then
    decodes one token per step.

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
    blocks = _blocks_of(model)
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
    first = blocks[0][1]._modules["attn"]
    cache = KVCache(batch_size, max_seq_len, len(blocks), first.num_heads, first.head_dim,
                    dtype=first._modules["qkv"].weight.dtype)
    session = _Session(cache, len(blocks), getattr(model, "generation_cache", None))
    container = model._modules["blocks"]
    for i, (name, block) in enumerate(blocks):
        # The attention first: the block wrapper shares the block's _modules,
        # so it sees the cached attention too.
        block.attn = CachedMultiHeadAttention(block._modules["attn"], session, i)
        if type(block) is TransformerBlock:
            setattr(container, name, CachedTransformerBlock(block, session))
    session.hook = model._modules["pos_emb"].register_forward_pre_hook(session.record_position)
    model.generation_cache = cache
    return cache


def disable_kv_cache(model) -> None:
    """Undo :func:`enable_kv_cache`: the original blocks and attention modules
    (the same objects, in the mode the model is now in) go back in place,
    the ``pos_emb`` hook is removed and ``model.generation_cache`` gets its
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
    container = model._modules["blocks"]
    for name, block in list(container._modules.items()):
        if isinstance(block, CachedTransformerBlock):
            object.__setattr__(block.original, "training", block.training)
            setattr(container, name, block.original)
            block = block.original
        attn = block._modules.get("attn")
        if isinstance(attn, CachedMultiHeadAttention):
            object.__setattr__(attn.original, "training", attn.training)
            block.attn = attn.original
    if session.hook is not None:
        session.hook.remove()
    model.generation_cache = session.previous_cache
