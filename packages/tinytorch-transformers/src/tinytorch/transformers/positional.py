"""Positional encodings: telling attention where each token is.

Attention is permutation-invariant: shuffle the keys and the output does not
change. A transformer therefore *adds* a vector that depends on the position
to each token embedding::

    x (B, T, E)  +  P[start_pos : start_pos + T]  (T, E, broadcast over B)

Both encodings take ``start_pos``, the absolute position of the first token
of ``x``: a model that processes a sequence in chunks (or one token at a
time with a KV cache) must give token ``t`` the encoding of position ``t``,
not of its index inside the chunk.

* :class:`PositionalEncoding`: a learned table ``(max_seq_len, E)`` (GPT-2).
* :class:`SinusoidalPositionalEncoding`: the fixed table of "Attention Is
  All You Need", ``P[p, 2i] = sin(p / 10000^(2i/E))``,
  ``P[p, 2i+1] = cos(p / 10000^(2i/E))``; no parameters.
"""

from __future__ import annotations

import numpy as np

from tinytorch.nn import Module, Parameter, init
from tinytorch.tensor import Tensor, wrap

from ._validate import positive_int as _positive_int

__all__ = ["PositionalEncoding", "SinusoidalPositionalEncoding", "sinusoidal_table"]


def _check(x, start_pos, max_seq_len: int, embed_dim: int, where: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim < 2 or x.shape[-1] != embed_dim:
        raise ValueError(
            f"{where}: expected input of shape (..., T, {embed_dim}), got {x.shape}"
        )
    if isinstance(start_pos, bool) or not isinstance(start_pos, (int, np.integer)):
        raise TypeError(f"{where}: start_pos must be an int, got {start_pos!r}")
    if start_pos < 0:
        raise ValueError(f"{where}: start_pos must be >= 0, got {start_pos}")
    t = x.shape[-2]
    if start_pos + t > max_seq_len:
        raise ValueError(
            f"{where}: positions {start_pos}..{start_pos + t - 1} exceed max_seq_len="
            f"{max_seq_len} (start_pos={start_pos}, sequence length {t})"
        )
    return x


class PositionalEncoding(Module):
    """Learned absolute positions: a parameter ``weight`` of shape ``(max_seq_len, E)``.

    ``forward(x, start_pos=0)``: ``x`` ``(..., T, E)`` -> ``x + weight[start_pos:start_pos+T]``.
    Initialised N(0, 0.02) (GPT-2). Cost: one slice and one add, O(T E).

    Raises (forward): ValueError when ``start_pos + T > max_seq_len`` or the
    last dim is not ``E``; TypeError for a non-int ``start_pos``.
    """

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        self.max_seq_len = _positive_int(max_seq_len, "max_seq_len", "PositionalEncoding")
        self.embed_dim = _positive_int(embed_dim, "embed_dim", "PositionalEncoding")
        self.weight = Parameter(np.empty((self.max_seq_len, self.embed_dim), np.float32))
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x, start_pos: int = 0) -> Tensor:
        x = _check(x, start_pos, self.max_seq_len, self.embed_dim, "PositionalEncoding")
        t = x.shape[-2]
        return x + self.weight[start_pos:start_pos + t]  # (T, E) broadcast over the batch

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}"


def sinusoidal_table(max_seq_len: int, embed_dim: int, dtype=np.float32) -> np.ndarray:
    """The fixed sinusoidal table ``(max_seq_len, embed_dim)``.

    Even columns hold sines, odd columns cosines, of ``p * w_i`` with
    frequencies ``w_i = 10000^(-2i/E)``. An odd ``embed_dim`` simply has
    one more sine column than cosine columns.
    """
    pos = np.arange(max_seq_len, dtype=np.float64)[:, None]  # (T, 1)
    freq = np.exp(-np.log(10000.0) * np.arange(0, embed_dim, 2) / embed_dim)  # (ceil(E/2),)
    angles = pos * freq  # (T, ceil(E/2))
    table = np.empty((max_seq_len, embed_dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : embed_dim // 2])
    return table.astype(dtype)


class SinusoidalPositionalEncoding(Module):
    """Fixed sinusoidal positions (no parameters; a non-persistent buffer ``table``).

    ``forward(x, start_pos=0)``: ``x`` ``(..., T, E)`` -> ``x + table[start_pos:start_pos+T]``.
    The table is a constant, rebuilt from the two sizes, so it is kept out of
    ``state_dict``.

    Raises (forward): as :class:`PositionalEncoding`.
    """

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        where = "SinusoidalPositionalEncoding"
        self.max_seq_len = _positive_int(max_seq_len, "max_seq_len", where)
        self.embed_dim = _positive_int(embed_dim, "embed_dim", where)
        self.register_buffer("table", sinusoidal_table(self.max_seq_len, self.embed_dim),
                             persistent=False)

    def forward(self, x, start_pos: int = 0) -> Tensor:
        x = _check(x, start_pos, self.max_seq_len, self.embed_dim, "SinusoidalPositionalEncoding")
        t = x.shape[-2]
        pe = self.table.data[start_pos:start_pos + t]  # (T, E), a constant
        if pe.dtype != x.dtype:
            pe = pe.astype(x.dtype)
        return x + wrap(pe)

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}"
