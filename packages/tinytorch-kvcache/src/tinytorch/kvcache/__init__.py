"""tinytorch.kvcache: fast autoregressive generation with a key/value cache.

Layer 5 of the TinyTorch stack. It extends ``tinytorch.transformers`` without
changing it: ``enable_kv_cache(model)`` swaps each block (and its attention)
for a cached wrapper sharing its weights (and sets ``model.generation_cache``);
``disable_kv_cache(model)`` swaps the originals back.

* :class:`KVCache`: preallocated ``(B, H, max_seq_len, D)`` keys and values
  per layer, written in place (``update`` -> ``get`` -> ``advance``);
* :func:`enable_kv_cache` / :func:`disable_kv_cache` /
  :func:`is_kv_cache_enabled`, and the wrappers they install,
  :class:`CachedMultiHeadAttention` and :class:`CachedTransformerBlock`;
* :func:`generate`: cached generation, enabling the cache for the call if needed;
* :data:`DECODE_QKV` / :data:`DECODE_BLOCK`: the fused, inference-only
  decode primitives (a block for one new token, before and after its cache write).

>>> import numpy as np
>>> from tinytorch.transformers import GPT
>>> from tinytorch.kvcache import generate
>>> model = GPT(vocab_size=10, embed_dim=16, num_layers=2, num_heads=2, max_seq_len=32)
>>> generate(model, np.array([[1, 2, 3]]), max_new_tokens=5, temperature=0).shape
(1, 8)
"""

from .cache import KVCache, kv_cache_bytes
from .decode import DECODE_BLOCK, DECODE_QKV, ROW_KERNEL_METHOD
from .generate import generate
from .wrapper import (
    CachedMultiHeadAttention,
    CachedTransformerBlock,
    disable_kv_cache,
    enable_kv_cache,
    is_kv_cache_enabled,
)

__version__ = "0.2.2"

__all__ = [
    "__version__",
    "KVCache",
    "kv_cache_bytes",
    "CachedMultiHeadAttention",
    "CachedTransformerBlock",
    "enable_kv_cache",
    "disable_kv_cache",
    "is_kv_cache_enabled",
    "generate",
    "DECODE_QKV",
    "ROW_KERNEL_METHOD",
    "DECODE_BLOCK",
]
