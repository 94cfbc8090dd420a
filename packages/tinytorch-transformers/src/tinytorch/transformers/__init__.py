"""tinytorch.transformers: attention, transformer blocks, GPT and generation.

Layer 4 of the TinyTorch stack, built on ``tinytorch.nn``:

* :func:`scaled_dot_product_attention` (one fused primitive with a
  hand-written backward) and :func:`create_causal_mask`; the mask
  convention is **bool True = attend** (or an additive float mask with
  ``-inf`` = blocked), documented in :mod:`.functional`;
* :class:`MultiHeadAttention` (all heads in one batched computation, with
  ``project_qkv`` / ``project_output`` for cache wrappers);
* :class:`PositionalEncoding` (learned) and
  :class:`SinusoidalPositionalEncoding`, both with a ``start_pos`` offset;
* :class:`MLP`, :class:`TransformerBlock` (pre-norm), :class:`GPTConfig`,
  :class:`GPT` with ``generate()`` and the ``generation_cache`` extension point.

>>> import numpy as np
>>> from tinytorch.transformers import GPT
>>> model = GPT(vocab_size=10, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)
>>> model(np.array([[1, 2, 3]])).shape
(1, 3, 10)
"""

from .attention import MultiHeadAttention
from .block import MLP, TransformerBlock
from .functional import SDPA, create_causal_mask, scaled_dot_product_attention, validate_mask
from .gpt import GPT, GPTConfig, sample_next_token
from .positional import PositionalEncoding, SinusoidalPositionalEncoding, sinusoidal_table

__version__ = "0.2.4"

__all__ = [
    "__version__",
    "SDPA",
    "create_causal_mask",
    "scaled_dot_product_attention",
    "validate_mask",
    "MultiHeadAttention",
    "PositionalEncoding",
    "SinusoidalPositionalEncoding",
    "sinusoidal_table",
    "MLP",
    "TransformerBlock",
    "GPTConfig",
    "GPT",
    "sample_next_token",
]
