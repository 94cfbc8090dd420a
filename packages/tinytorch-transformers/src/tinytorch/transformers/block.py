"""The feed-forward MLP and the pre-norm transformer block.

::

    x ─┬─ LayerNorm ─ MultiHeadAttention ─┐          (tokens exchange information)
       └───────────────────────────────── + ─┬─ LayerNorm ─ MLP ─┐   (each token alone)
                                             └─────────────────── + ─> out

Pre-norm (GPT-2): the normalisation sits *inside* each residual branch, so
the residual stream ``x`` is a plain sum of branch outputs and gradients
reach the first layers undisturbed; the original post-norm layout
(``LayerNorm(x + f(x))``) needs a learning-rate warmup to train at all when
deep.
"""

from __future__ import annotations

from tinytorch.nn import GELU, Dropout, LayerNorm, Linear, Module
from tinytorch.tensor import Tensor

from ._validate import positive_int as _positive_int
from ._validate import probability as _probability
from .attention import MultiHeadAttention

__all__ = ["MLP", "TransformerBlock"]


class MLP(Module):
    """Position-wise feed-forward network: ``Linear -> GELU(tanh) -> Linear -> Dropout``.

    Args:
        embed_dim: E (input and output width).
        hidden_dim: the inner width; default ``4 * embed_dim``.
        dropout: dropout probability on the output (training mode only).
        bias: whether both Linear layers have biases.
        gelu_approximate: the GELU's ``approximate`` (``"tanh"``, GPT-2's
            ``gelu_new``, or ``"none"``, the exact erf form).

    Shapes: ``(..., E) -> (..., E)``. Parameters ``fc.weight`` ``(hidden, E)``,
    ``fc.bias``, ``proj.weight`` ``(E, hidden)``, ``proj.bias`` (``(out, in)``
    as ``torch.nn.Linear``). Cost:
    ``4 * rows * E * hidden`` FLOPs.
    """

    def __init__(self, embed_dim: int, hidden_dim: int | None = None,
                 dropout: float = 0.0, bias: bool = True,
                 gelu_approximate: str = "tanh") -> None:
        super().__init__()
        self.embed_dim = _positive_int(embed_dim, "embed_dim", "MLP")
        hidden = 4 * self.embed_dim if hidden_dim is None else hidden_dim
        self.hidden_dim = _positive_int(hidden, "hidden_dim", "MLP")
        self.fc = Linear(self.embed_dim, self.hidden_dim, bias=bias)
        self.act = GELU(approximate=gelu_approximate)
        self.proj = Linear(self.hidden_dim, self.embed_dim, bias=bias)
        self.drop = Dropout(_probability(dropout, "MLP"))

    def forward(self, x) -> Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))  # (..., E)


class TransformerBlock(Module):
    """A pre-norm transformer block: ``x + attn(ln1(x))``, then ``x + mlp(ln2(x))``.

    Args:
        embed_dim: E. num_heads: H (must divide E).
        mlp_ratio: the MLP's hidden width is ``mlp_ratio * E``.
        dropout: used by the attention and the MLP.
        bias: whether the four Linear layers have biases.
        layer_norm_eps: the ``eps`` of both LayerNorms.
        gelu_approximate: the MLP's GELU (``"tanh"`` or ``"none"``).

    Children: ``ln1``, ``attn`` (a :class:`MultiHeadAttention`), ``ln2``,
    ``mlp``. ``forward(x, mask=None, start_pos=None)``: ``(B, T, E) -> (B, T, E)``;
    the mask (bool ``True`` = attend, or additive) and ``start_pos`` (the
    absolute position of ``x[:, 0]``, given by ``GPT.forward``) are passed to
    the attention unchanged, as ``self.attn(h, mask, start_pos)``. The
    attention is called as a module, so swapping ``block.attn`` for a module
    with the same ``forward(x, mask, start_pos)`` (a cached attention) takes
    effect.
    """

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: float = 4,
                 dropout: float = 0.0, bias: bool = True, layer_norm_eps: float = 1e-5,
                 gelu_approximate: str = "tanh") -> None:
        super().__init__()
        embed_dim = _positive_int(embed_dim, "embed_dim", "TransformerBlock")
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or (
            int(mlp_ratio * embed_dim) <= 0
        ):
            raise ValueError(f"TransformerBlock: mlp_ratio must be a positive number, "
                             f"got {mlp_ratio!r}")
        self.ln1 = LayerNorm(embed_dim, eps=layer_norm_eps)
        self.attn = MultiHeadAttention(embed_dim, num_heads, dropout, bias=bias)
        self.ln2 = LayerNorm(embed_dim, eps=layer_norm_eps)
        self.mlp = MLP(embed_dim, int(mlp_ratio * embed_dim), dropout, bias, gelu_approximate)

    def forward(self, x, mask=None, start_pos=None) -> Tensor:
        x = x + self.attn(self.ln1(x), mask, start_pos)  # (B, T, E)
        return x + self.mlp(self.ln2(x))  # (B, T, E)
