"""GPT: a decoder-only transformer language model, and text generation.

::

    tokens (B, T) int
      │ tok_emb: Embedding(V, E)                    (B, T, E)
      │ pos_emb: + learned positions start_pos..start_pos+T-1
      │ drop
      ▼
    ┌─────────────────────────────┐
    │ TransformerBlock  x L       │  causal mask (T, T): token t sees 0..t
    │   x + attn(ln1(x), mask)    │
    │   x + mlp(ln2(x))           │
    └─────────────────────────────┘
      │ ln_f: LayerNorm(E)
      │ head: Linear(E, V)
      ▼
    logits (B, T, V): row t scores the token at position t + 1

Cost of a forward: about ``2 * params * B * T`` FLOPs for the weights plus
``4 * L * B * T^2 * E`` for attention: linear in T for short contexts,
quadratic once ``T`` approaches ``6 E``.

Generation and the cache protocol
---------------------------------
:meth:`GPT.generate` samples one token at a time under ``no_grad``. Without a
cache, every step runs the full (cropped) context: O(T^2) work per new token.
A KV cache (a later package) plugs in through one documented attribute:

``GPT.generation_cache`` (default ``None``). When it is not None and
``use_cache=True``, ``generate`` calls ``cache.reset()``, runs one *prefill*
forward on the cropped prompt with ``start_pos=0``, then, for each new token,
a forward on that single token with ``start_pos`` = the number of tokens
already processed. When the sequence would exceed ``max_seq_len``, the cache
is reset and re-filled with the last ``max_seq_len`` tokens (a sliding
window: absolute positions restart at 0, so the cached keys must be
recomputed). That is exactly the context the uncached path feeds, so cached
and uncached logits agree at every step; past the window each step costs a
full forward. A cache whose ``max_seq_len`` attribute is smaller than the
model's slides the same way within its own capacity (a smaller context,
never an overflow in the middle of a generation). The cache object needs only
``reset()`` (and optionally ``max_seq_len``); the modules it swaps in do the
rest: every block is called as ``block(x, mask, start_pos)`` and passes
``start_pos`` on to its attention, so the position of a chunk reaches a
cached attention as an argument. This package never imports the cache.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn import Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, init
from tinytorch.tensor import Generator, Tensor, as_numpy_generator, deprecated_alias

from ._validate import int_at_least as _int_arg
from ._validate import non_negative_float
from ._validate import positive_int as _positive_int
from ._validate import probability as _probability
from .block import TransformerBlock
from .functional import create_causal_mask
from .positional import PositionalEncoding

__all__ = ["GPTConfig", "GPT", "sample_next_token"]


@dataclass
class GPTConfig:
    """The hyperparameters of a :class:`GPT` (``GPT.from_config(cfg)``)."""

    vocab_size: int
    embed_dim: int
    num_layers: int
    num_heads: int
    max_seq_len: int
    dropout: float = 0.0
    mlp_ratio: float = 4
    # GPT-2's options; the defaults are this GPT's original architecture.
    bias: bool = True  # biases in the attention and MLP Linears
    layer_norm_eps: float = 1e-5
    gelu_approximate: str = "tanh"  # "tanh" (GPT-2's gelu_new) or "none" (exact erf)
    tie_embeddings: bool = False  # head.weight is tok_emb.weight (GPT-2: True)
    head_bias: bool = True  # GPT-2's lm_head has none


def _flag(value, name: str, where: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be a bool, got {value!r}")
    return bool(value)


def sample_next_token(logits, temperature: float = 1.0, top_k: int | None = None,
                      generator=None, *, rng=None) -> np.ndarray:
    """Pick one token per row of ``logits`` ``(B, V)`` -> int64 ``(B,)``.

    ``temperature == 0`` is greedy (argmax, ties to the lowest id); otherwise
    the logits are divided by ``temperature``, all but the ``top_k`` largest
    are dropped (if ``top_k`` is given), and one id per row is drawn from the
    softmax by inverting its CDF with one uniform number per row (vectorised
    over the batch, no Python loop).

    ``generator`` is the random source: a ``tinytorch.tensor.Generator``, a
    ``numpy.random.Generator``, or None for tinytorch's default generator
    (seeded by ``manual_seed``). ``rng=`` is its deprecated alias.

    Edge cases, all defined (never a NaN draw):

    * a tiny temperature (even ``1e-310``) behaves like greedy decoding: the
      row maximum is subtracted *before* dividing, so the best logit becomes
      0 and every other one a large negative number or ``-inf``, never
      ``inf - inf``. Exact ties for the maximum stay equally likely.
    * ``+inf`` logits mark certain tokens: the draw is uniform among a row's
      ``+inf`` entries (greedy picks the lowest such id).
    * ``-inf`` logits are impossible tokens; a row whose logits are all
      ``-inf`` has nothing to draw and raises ValueError.

    Cost: O(B * V) NumPy work (plus O(B * V) for the ``top_k`` partition).

    Raises:
        ValueError: logits not 2-D or containing NaN, a row of only ``-inf``,
            a negative or non-finite temperature, ``top_k < 1``.
        TypeError: a temperature that is not a real number, a non-int
            ``top_k``, a bad generator, or both ``generator`` and ``rng``.
    """
    if rng is not None:
        generator = deprecated_alias(generator, rng, "generator", "rng", "sample_next_token")
    z = np.asarray(logits.data if isinstance(logits, Tensor) else logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"sample_next_token: logits must be (B, V), got shape {z.shape}")
    temperature = non_negative_float(temperature, "temperature", "sample_next_token")
    if top_k is not None:
        top_k = _int_arg(top_k, "top_k", "sample_next_token", 1)
    zmax = z.max(axis=-1, keepdims=True)  # (B, 1); NaN for a row holding a NaN
    # Both checks read the B row maxima, not the B x V logits: the maximum
    # propagates NaN, and a row's maximum is -inf only if all of it is.
    lowest = float(zmax.min())
    if math.isnan(lowest):
        raise ValueError("sample_next_token: the logits contain NaN")
    if lowest == -math.inf:
        row = int(np.flatnonzero(np.isneginf(zmax[:, 0]))[0])
        raise ValueError(f"sample_next_token: every logit of row {row} is -inf: "
                         "no token can be drawn")
    if temperature == 0:
        return z.argmax(axis=-1).astype(np.int64)  # the method: np.argmax adds a wrapper layer
    # Overflow to -inf is the intended result of a tiny temperature, and the
    # NaNs of inf - inf in rows with +inf are replaced by np.where: no warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isposinf(zmax).any():
            # Certain tokens: 0 for the +inf entries of such rows, -inf for the rest.
            certain = np.isposinf(zmax)
            z = np.where(certain, np.where(np.isposinf(z), 0.0, -np.inf), z - zmax)
        else:
            z = z - zmax  # <= 0 everywhere, 0 at the maximum
        z /= temperature  # <= 0 stays <= 0: a tiny temperature gives -inf, never NaN
    v = z.shape[1]
    if top_k is not None and top_k < v:
        kth = np.partition(z, v - top_k, axis=-1)[:, v - top_k : v - top_k + 1]  # (B, 1)
        z = np.where(z < kth, -np.inf, z)
    p = np.exp(z)  # the maximum is exp(0) = 1, so each row sums to >= 1
    cdf = np.cumsum(p, axis=-1)  # (B, V), unnormalised
    gen = as_numpy_generator(generator, "sample_next_token")
    u = gen.random((z.shape[0], 1)) * cdf[:, -1:]  # uniform in [0, total)
    return np.minimum((cdf <= u).sum(axis=-1), v - 1).astype(np.int64)


def _sampling_args(max_new_tokens, temperature, top_k, generator) -> tuple:
    """The checked sampling arguments of ``GPT.generate`` and its NumPy
    generator (an int ``generator`` seeds a fresh one)."""
    where = "GPT.generate"
    max_new = _int_arg(max_new_tokens, "max_new_tokens", where, 0)
    temperature = non_negative_float(temperature, "temperature", where)
    if top_k is not None:
        top_k = _int_arg(top_k, "top_k", where, 1)
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        generator = Generator(int(generator))
    return max_new, temperature, top_k, as_numpy_generator(generator, where)


class GPT(Module):
    """A GPT-2-style language model (pre-norm blocks, learned positions).

    Args:
        vocab_size: V. embed_dim: E. num_layers: L. num_heads: H (divides E).
        max_seq_len: the longest context (positions 0 .. max_seq_len - 1).
        dropout: on embeddings, attention weights and residual branches.
        mlp_ratio: MLP width multiplier (default 4).
        bias: biases in every attention and MLP Linear (default True).
        layer_norm_eps: the ``eps`` of every LayerNorm (default 1e-5).
        gelu_approximate: the MLP's GELU, ``"tanh"`` (default) or ``"none"``.
        tie_embeddings: the head shares ``tok_emb.weight`` (one ``(V, E)``
            parameter, as GPT-2; default False: a separate head matrix).
        head_bias: whether the head has a bias (default True; GPT-2: False).

    GPT-2 is ``tie_embeddings=True, head_bias=False`` with the other defaults
    (``tinytorch.interop.load_gpt2`` builds it from a Hugging Face folder).

    Children: ``tok_emb`` (Embedding V x E), ``pos_emb``
    (:class:`PositionalEncoding`), ``drop``, ``blocks`` (a ModuleList of
    :class:`TransformerBlock`, each with ``.attn`` a MultiHeadAttention),
    ``ln_f`` (LayerNorm), ``head`` (Linear E -> V). Initialisation follows
    GPT-2: weights N(0, 0.02), biases 0, and the two projections that write
    into the residual stream (``attn.out_proj``, ``mlp.proj``) N(0, 0.02 /
    sqrt(2 L)) so the stream's variance does not grow with depth. Draws
    come from tinytorch's default generator (``tinytorch.tensor.manual_seed``).

    ``generation_cache``: the KV-cache extension point (see the module
    docstring): None, or an object with ``reset()`` (and optionally
    ``max_seq_len``) used by :meth:`generate`. ``forward`` calls each block
    as ``block(x, mask, start_pos)``: the absolute position of the chunk
    travels down to the attention as an argument (part of the contract that
    cached modules rely on).
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_layers: int, num_heads: int,
                 max_seq_len: int, dropout: float = 0.0, mlp_ratio: float = 4, *,
                 bias: bool = True, layer_norm_eps: float = 1e-5,
                 gelu_approximate: str = "tanh", tie_embeddings: bool = False,
                 head_bias: bool = True) -> None:
        super().__init__()
        where = "GPT"
        self.config = GPTConfig(
            vocab_size=_positive_int(vocab_size, "vocab_size", where),
            embed_dim=_positive_int(embed_dim, "embed_dim", where),
            num_layers=_positive_int(num_layers, "num_layers", where),
            num_heads=_positive_int(num_heads, "num_heads", where),
            max_seq_len=_positive_int(max_seq_len, "max_seq_len", where),
            dropout=_probability(dropout, where),
            mlp_ratio=mlp_ratio,
            bias=_flag(bias, "bias", where),
            layer_norm_eps=layer_norm_eps,
            gelu_approximate=gelu_approximate,
            tie_embeddings=_flag(tie_embeddings, "tie_embeddings", where),
            head_bias=_flag(head_bias, "head_bias", where),
        )
        c = self.config
        if c.embed_dim % c.num_heads:
            raise ValueError(f"GPT: embed_dim ({c.embed_dim}) must be divisible by num_heads "
                             f"({c.num_heads})")
        self.vocab_size, self.max_seq_len = c.vocab_size, c.max_seq_len
        self.tok_emb = Embedding(c.vocab_size, c.embed_dim)
        self.pos_emb = PositionalEncoding(c.max_seq_len, c.embed_dim)
        self.drop = Dropout(c.dropout)
        self.blocks = ModuleList(
            TransformerBlock(c.embed_dim, c.num_heads, c.mlp_ratio, c.dropout, c.bias,
                             c.layer_norm_eps, c.gelu_approximate)
            for _ in range(c.num_layers)
        )
        self.ln_f = LayerNorm(c.embed_dim, eps=c.layer_norm_eps)
        self.head = Linear(c.embed_dim, c.vocab_size, bias=c.head_bias)
        if c.tie_embeddings:  # one (V, E) parameter: Embedding rows = Linear (out, in)
            self.head.weight = self.tok_emb.weight
        self.generation_cache = None  # the KV-cache extension point
        self._init_weights()

    @classmethod
    def from_config(cls, config: GPTConfig) -> GPT:
        """Build a GPT from a :class:`GPTConfig`."""
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT.from_config expects a GPTConfig, got {type(config).__name__}")
        return cls(**asdict(config))

    def _init_weights(self) -> None:
        resid_std = 0.02 / math.sqrt(2 * self.config.num_layers)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                init.zeros_(p)
            elif name.endswith(("ln1.weight", "ln2.weight", "ln_f.weight")):
                init.ones_(p)
            elif name.endswith(("attn.out_proj.weight", "mlp.proj.weight")):
                init.normal_(p, 0.0, resid_std)
            else:
                init.normal_(p, 0.0, 0.02)

    # ------------------------------------------------------------- forward
    def _token_array(self, tokens, where: str) -> tuple[np.ndarray, bool]:
        if isinstance(tokens, Tensor):
            arr = tokens.data
        else:
            try:
                arr = np.asarray(tokens)
            except ValueError:  # NumPy's "inhomogeneous shape"
                raise ValueError(
                    f"{where}: tokens must be a rectangular batch (B, T); the rows have "
                    "different lengths (pad them to one length, or generate one at a time)"
                ) from None
        if arr.dtype == np.bool_ or arr.dtype.kind not in "iu":
            raise TypeError(f"{where}: tokens must be integer ids, got dtype {arr.dtype}")
        if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or arr.size == 0:
            raise ValueError(
                f"{where}: tokens must have shape (B, T) or (T,) with T >= 1, got {arr.shape}"
            )
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= self.vocab_size:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"{where}: token id {bad} is out of range for vocab_size={self.vocab_size} "
                f"(ids must be in [0, {self.vocab_size - 1}])"
            )
        unbatched = arr.ndim == 1
        return (arr[None, :] if unbatched else arr), unbatched

    def forward(self, tokens, start_pos: int = 0) -> Tensor:
        """Logits for every position: ``(B, T)`` ids -> ``(B, T, V)`` (``(T,)`` -> ``(T, V)``).

        Args:
            tokens: integer ids (Tensor, ndarray or list) in ``[0, V)``.
            start_pos: absolute position of ``tokens[:, 0]`` (for chunked or
                cached processing). Each block is called as ``block(x, mask,
                start_pos)``: the causal mask of the ``T`` new positions,
                ``(T, T)`` (None when ``T == 1``: one query may see every key),
                and the position, which a cached attention needs.

        Raises:
            TypeError: non-integer tokens or start_pos.
            ValueError: bad shape, ids out of range, ``start_pos < 0`` or
                ``start_pos + T > max_seq_len``.
        """
        ids, unbatched = self._token_array(tokens, "GPT.forward")
        if isinstance(start_pos, bool) or not isinstance(start_pos, (int, np.integer)):
            raise TypeError(f"GPT.forward: start_pos must be an int, got {start_pos!r}")
        t = ids.shape[1]
        if start_pos < 0 or start_pos + t > self.max_seq_len:
            raise ValueError(
                f"GPT.forward: {t} tokens at start_pos={start_pos} need positions up to "
                f"{start_pos + t - 1}, beyond max_seq_len={self.max_seq_len} (crop the context "
                f"to the last {self.max_seq_len} tokens)"
            )
        start_pos = int(start_pos)
        x = self.tok_emb(ids)  # (B, T, E)
        x = self.drop(self.pos_emb(x, start_pos))  # (B, T, E)
        mask = create_causal_mask(t) if t > 1 else None  # (T, T), True = attend
        for block in self.blocks:
            x = block(x, mask, start_pos)  # (B, T, E)
        logits = self.head(self.ln_f(x))  # (B, T, V)
        return logits[0] if unbatched else logits

    # ---------------------------------------------------------- generation
    def generate(self, prompt_tokens, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, generator=None, use_cache: bool = True, *,
                 seed: int | None = None) -> Tensor:
        """Continue ``prompt_tokens`` by ``max_new_tokens`` sampled tokens.

        Runs under ``no_grad`` in evaluation mode (dropout off; the previous
        mode is restored afterwards). The context fed to the model is cropped
        to the last ``max_seq_len`` tokens.

        Args:
            prompt_tokens: ``(B, T0)`` or ``(T0,)`` integer ids; B > 1 samples
                B continuations at once.
            max_new_tokens: how many tokens to add (>= 0).
            temperature: 0 = greedy (argmax); 1 = the model's distribution;
                higher is more random. Any real number (``numpy.float32``
                too); see :func:`sample_next_token` for tiny values and
                infinite logits.
            top_k: keep only the ``top_k`` most likely tokens before sampling.
            generator: the random source (PyTorch's keyword): a
                ``tinytorch.tensor.Generator``, a ``numpy.random.Generator``,
                or None for tinytorch's default generator (seeded by
                ``manual_seed``). An int seeds a fresh generator for this call
                only: the same int gives the same tokens, whatever else draws
                random numbers.
            use_cache: use ``self.generation_cache`` when one is installed
                (prefill once, then one token per step; see the module
                docstring for the protocol and the sliding window).
            seed: deprecated alias: ``seed=s`` is ``generator=s``.

        Returns:
            An int64 Tensor ``(B, T0 + max_new_tokens)`` (or 1-D for a 1-D
            prompt): the prompt followed by the new tokens.

        Cost: without a cache, step ``n`` runs a forward on ``min(n,
        max_seq_len)`` tokens (quadratic attention each time); with a cache,
        one token per step attends to the cached keys.

        Raises:
            TypeError / ValueError: bad prompt (as :meth:`forward`), a
            non-int ``max_new_tokens`` / ``top_k``, a temperature that is not
            a real number, or a bad generator (TypeError);
            ``max_new_tokens < 0``, a negative or non-finite temperature,
            ``top_k < 1`` (ValueError). A tiny temperature decodes greedily.
        """
        if seed is not None:
            generator = deprecated_alias(generator, seed, "generator", "seed", "GPT.generate")
        ids, unbatched = self._token_array(prompt_tokens, "GPT.generate")
        max_new, temperature, top_k, rng = _sampling_args(max_new_tokens, temperature, top_k,
                                                          generator)
        out = self._sample(ids, max_new, temperature, top_k, rng, use_cache)
        return Tensor(out[0] if unbatched else out)

    def _window(self, cache) -> int:
        """The longest context a step may hold: ``max_seq_len``, or the
        cache's capacity when the cache has a smaller ``max_seq_len``."""
        capacity = getattr(cache, "max_seq_len", None)
        if isinstance(capacity, (int, np.integer)) and 1 <= capacity < self.max_seq_len:
            return int(capacity)
        return self.max_seq_len

    def _sample(self, ids: np.ndarray, max_new: int, temperature: float, top_k, rng,
                use_cache: bool) -> np.ndarray:
        """The generation loop of :meth:`generate` on checked arguments:
        ``(B, T0)`` ids -> ``(B, T0 + max_new)``."""
        b, t0 = ids.shape
        out = np.empty((b, t0 + max_new), dtype=np.int64)
        out[:, :t0] = ids
        n = t0  # tokens in `out` so far
        cache = self.generation_cache if use_cache else None
        window = self._window(cache)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                if max_new and cache is not None:
                    cache.reset()
                    logits = self(out[:, max(0, n - window):n], start_pos=0)  # prefill
                    cached = min(n, window)  # positions held by the cache
                for step in range(max_new):
                    if cache is None:
                        logits = self(out[:, max(0, n - window):n])  # the full context
                    nxt = sample_next_token(logits.data[:, -1], temperature, top_k, rng)
                    out[:, n] = nxt
                    n += 1
                    if cache is None or step == max_new - 1:
                        continue
                    if cached + 1 > window:
                        # Sliding window: the context drops its oldest token
                        # and every position shifts, so each cached key is
                        # stale. Re-fill on the last `window` tokens: exactly
                        # the uncached context, so the logits are the same
                        # (and past the window a step costs a full forward).
                        cache.reset()
                        logits = self(out[:, n - window:n], start_pos=0)
                        cached = window
                    else:
                        logits = self(out[:, n - 1:n], start_pos=cached)  # decode one token
                        cached += 1
        finally:
            self.train(was_training)
        return out

    def extra_repr(self) -> str:
        c = self.config
        return (f"vocab_size={c.vocab_size}, embed_dim={c.embed_dim}, "
                f"num_layers={c.num_layers}, num_heads={c.num_heads}, "
                f"max_seq_len={c.max_seq_len}"
                + (", tie_embeddings=True" if c.tie_embeddings else ""))
