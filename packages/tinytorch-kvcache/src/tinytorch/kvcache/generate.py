"""``generate``: cached text generation for a GPT, whether or not the cache is on.

    generate(model, prompt, 100)          # enables the cache for this call only
    enable_kv_cache(model); model.generate(prompt, 100)   # or keep it on

Both run ``GPT.generate``'s own loop (the same sampling code, so a seed gives
the same tokens with and without the cache); the cache changes only how
each step's logits are computed:

    prefill   forward(prompt, start_pos=0)          T0 tokens, fills the cache
    decode    forward(new_token, start_pos=n)       1 token, attends to n cached keys
    ...                                             n = T0, T0 + 1, ...

Context-overflow policy (that of ``GPT.generate``): when the sequence would
outgrow the model's ``max_seq_len``, the cache is reset and re-filled with
the last ``max_seq_len`` tokens (a sliding window; learned absolute
positions restart at 0, so every cached key has to be recomputed). That is
the uncached context exactly, so the logits agree at every step; each step
past the window therefore costs a full prefill. A cache enabled with a
smaller ``max_seq_len`` than the model's slides the same way within its own
capacity: the context is then that many tokens.
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor

from .wrapper import disable_kv_cache, enable_kv_cache, is_kv_cache_enabled

__all__ = ["generate"]


def generate(model, prompt_tokens, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, seed: int | None = None,
             use_cache: bool = True) -> Tensor:
    """Continue ``prompt_tokens`` by ``max_new_tokens`` tokens with a KV cache.

    Args:
        model: a ``tinytorch.transformers.GPT``.
        prompt_tokens: ``(B, T0)`` or ``(T0,)`` integer ids; any batch size
            (the cache is allocated, or re-allocated, for it).
        max_new_tokens, temperature, top_k, seed: as ``GPT.generate``
            (``temperature=0`` is greedy; ``seed`` makes sampling reproducible).
        use_cache: False runs the uncached loop (every step recomputes the
            whole context), for comparison.

    Returns:
        An int64 Tensor ``(B, T0 + max_new_tokens)`` (1-D for a 1-D prompt).

    If the model's cache is not enabled, it is enabled for this call and
    disabled afterwards (even on error), leaving the model as it was; if it
    is, it stays enabled. The cache is reset at the start of every call.

    Cost: ``O(T0^2)`` for the prefill, then ``O(n)`` attention work for the
    ``n``-th new token, instead of ``O(n^2)`` without the cache.

    Raises:
        TypeError: ``model`` is not a GPT-like model with ``generate``.
        TypeError / ValueError: bad prompt or sampling arguments (from
            ``GPT.generate``).
    """
    if not callable(getattr(model, "generate", None)):
        raise TypeError(f"generate expects a GPT-like model with a generate() method, got "
                        f"{type(model).__name__}")
    if not use_cache:
        return model.generate(prompt_tokens, max_new_tokens, temperature, top_k, seed,
                              use_cache=False)
    ids = prompt_tokens.data if isinstance(prompt_tokens, Tensor) else np.asarray(prompt_tokens)
    batch = ids.shape[0] if ids.ndim == 2 and ids.shape[0] >= 1 else 1
    enabled_here = not is_kv_cache_enabled(model)
    cache = enable_kv_cache(model, batch_size=batch) if enabled_here else model.generation_cache
    try:
        cache.reset()
        return model.generate(prompt_tokens, max_new_tokens, temperature, top_k, seed,
                              use_cache=True)
    finally:
        if enabled_here:
            disable_kv_cache(model)
