"""Multi-head attention: every head in one batched 4-D computation.

::

    x (B, T, E)
      │ qkv: one Linear E -> 3E            (a single GEMM for Q, K and V)
      ▼
    (B, T, 3E) ─reshape─> (B, T, 3, H, D) ─permute─> (3, B, H, T, D)
      │ q, k, v = [0], [1], [2]            each (B, H, T, D), D = E / H
      ▼
    scaled_dot_product_attention(q, k, v, mask)   one fused primitive,
      │                                           batched over B and H
      ▼
    (B, H, T, D) ─permute─> (B, T, H, D) ─reshape─> (B, T, E)   heads side by side
      │ out_proj: Linear E -> E
      ▼
    y (B, T, E)

The heads are a batch dimension, never a Python loop: H heads of size D cost
the same GEMMs as one head of size E, split differently.

Extension point (used by a KV cache, which swaps this module for a wrapper
sharing its weights): ``forward`` is exactly ``project_qkv`` ->
:func:`~tinytorch.transformers.scaled_dot_product_attention` ->
``project_output``, and it receives ``start_pos``, the absolute position of
``x[:, 0]`` (unused here), so a wrapper can run::

    q, k, v = attn.project_qkv(x)           # (B, H, T, D) each
    k, v = cache.update(layer, k, v)        # (B, H, start_pos + T, D): past + new
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    y = attn.project_output(out)            # (B, T, E)
"""

from __future__ import annotations

from tinytorch.nn import Dropout, Linear, Module
from tinytorch.tensor import Tensor

from ._validate import positive_int as _positive_int
from ._validate import probability as _probability
from .functional import scaled_dot_product_attention, validate_mask

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(Module):
    """Multi-head self-attention with a fused QKV projection.

    Args:
        embed_dim: E, the model width.
        num_heads: H; must divide ``embed_dim`` (head size ``D = E // H``).
        dropout: dropout probability on the attention weights and on the
            output projection (training mode only).
        bias: whether the two Linear layers have biases.

    Parameters (PyTorch's Linear layout, ``(out, in)``): ``qkv.weight``
    ``(3E, E)`` (rows ``[0:E]`` make Q, ``[E:2E]`` K, ``[2E:3E]`` V; within
    each, head ``h`` owns rows ``h*D:(h+1)*D``), ``qkv.bias`` ``(3E,)``,
    ``out_proj.weight`` ``(E, E)``,
    ``out_proj.bias`` ``(E,)``.

    Attributes for wrappers: ``embed_dim``, ``num_heads``, ``head_dim``.

    Cost per forward: ``8 B T E^2`` FLOPs for the projections plus
    ``4 B T^2 E`` for attention (quadratic in T).

    Raises:
        ValueError: ``embed_dim % num_heads != 0`` or non-positive sizes.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True) -> None:
        super().__init__()
        where = "MultiHeadAttention"
        self.embed_dim = _positive_int(embed_dim, "embed_dim", where)
        self.num_heads = _positive_int(num_heads, "num_heads", where)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"{where}: embed_dim ({self.embed_dim}) must be divisible by num_heads "
                f"({self.num_heads}); each head gets embed_dim // num_heads features"
            )
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout = _probability(dropout, where)
        self.qkv = Linear(self.embed_dim, 3 * self.embed_dim, bias=bias)
        self.out_proj = Linear(self.embed_dim, self.embed_dim, bias=bias)
        self.resid_dropout = Dropout(self.dropout)

    def project_qkv(self, x) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of every head: ``(B, T, E)`` -> 3 x ``(B, H, T, D)``.

        Raises:
            ValueError: ``x`` is not 3-D or its last dim is not ``embed_dim``.
        """
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim != 3 or x.shape[-1] != self.embed_dim:
            raise ValueError(
                f"MultiHeadAttention: expected input of shape (B, T, {self.embed_dim}) "
                f"(embed_dim={self.embed_dim}), got {x.shape}"
            )
        b, t, _ = x.shape
        qkv = self.qkv(x)  # (B, T, 3E)
        qkv = qkv.reshape(b, t, 3, self.num_heads, self.head_dim)  # (B, T, 3, H, D)
        qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, B, H, T, D)
        return qkv[0], qkv[1], qkv[2]  # each (B, H, T, D)

    def project_output(self, attn) -> Tensor:
        """Merge the heads and project: ``(B, H, T, D)`` -> ``(B, T, E)``.

        Raises:
            ValueError: ``attn`` is not ``(B, num_heads, T, head_dim)``.
        """
        if attn.ndim != 4 or attn.shape[1] != self.num_heads or attn.shape[3] != self.head_dim:
            raise ValueError(
                f"MultiHeadAttention.project_output: expected (B, {self.num_heads}, T, "
                f"{self.head_dim}), got {attn.shape}"
            )
        b, _, t, _ = attn.shape
        y = attn.permute(0, 2, 1, 3).reshape(b, t, self.embed_dim)  # (B, T, E), heads concatenated
        return self.resid_dropout(self.out_proj(y))  # (B, T, E)

    def forward(self, x, mask=None, start_pos=None) -> Tensor:
        """Self-attention over ``x`` ``(B, T, E)`` -> ``(B, T, E)``.

        ``mask``: None, bool (``True`` = attend) or additive float, of shape
        ``(T, T)`` or broadcastable to ``(B, H, T, T)``; see
        :mod:`tinytorch.transformers.functional` for the convention.
        ``start_pos``: the absolute position of ``x[:, 0]``. Unused here
        (every key this module attends to is in ``x``); part of the
        signature so that a cached attention swapped in its place receives
        the position as an argument (``TransformerBlock`` passes it on).

        Raises:
            ValueError: wrong input shape, or a mask that does not fit.
        """
        q, k, v = self.project_qkv(x)  # (B, H, T, D) each
        if mask is not None:
            b, h, t, _ = q.shape
            mask = validate_mask(mask, (b, h, t, t), "MultiHeadAttention")
        p = self.dropout if self.training else 0.0
        out, _ = scaled_dot_product_attention(q, k, v, mask, p)  # (B, H, T, D)
        return self.project_output(out)  # (B, T, E)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"head_dim={self.head_dim}, dropout={self.dropout}")
