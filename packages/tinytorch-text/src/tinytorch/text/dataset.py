"""From token ids to training examples for a language model.

A language model learns to predict token ``t+1`` from tokens ``0..t``. One
window of ``block_size + 1`` consecutive tokens gives ``block_size``
predictions at once: the input is the window without its last token, the
target is the window without its first::

    stream   : 10 11 12 13 14 15 16 17 18
    block 4  : x = [10 11 12 13]   y = [11 12 13 14]     (window 0, start 0)
    stride 4 : x = [14 15 16 17]   y = [15 16 17 18]     (window 1, start 4)
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinytorch.tensor import as_numpy_generator, deprecated_alias

from ._validate import positive_int as _positive_int


def tokenize_dataset(
    texts: Iterable[str], tokenizer: Any, max_length: int | None = None
) -> list[np.ndarray]:
    """Encode every text with ``tokenizer``, optionally truncated to ``max_length`` tokens.

    Args:
        texts: an iterable of str (a single str is rejected: it would be
            read as a list of characters).
        tokenizer: anything with ``encode(text) -> list[int]``; its
            ``encode_array`` is used when present (both tokenizers here have one).
        max_length: keep at most this many tokens of each text (the first ones).

    Returns:
        One 1-D int64 array per text, in order; shape ``(min(n_i, max_length),)``.

    Raises:
        TypeError: ``texts`` is a str or holds a non-str, ``tokenizer`` has
            no ``encode``, or ``max_length`` is not an int.
        ValueError: ``max_length`` <= 0.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be an iterable of str, not a single str (wrap it in a list)")
    if not hasattr(tokenizer, "encode"):
        raise TypeError(
            f"tokenizer must have an encode(text) method, got {type(tokenizer).__name__}"
        )
    if max_length is not None:
        max_length = _positive_int(max_length, "max_length")
    encode_array = getattr(tokenizer, "encode_array", None)
    out: list[np.ndarray] = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
        if encode_array is not None:
            ids = np.asarray(encode_array(text), dtype=np.int64)
        else:
            ids = np.asarray(tokenizer.encode(text), dtype=np.int64).reshape(-1)
        if max_length is not None:
            ids = ids[:max_length]
        out.append(ids)
    return out


class LanguageModelDataset:
    """``(input, target)`` windows cut from one stream of token ids.

    Args:
        tokens: 1-D token ids, a list or an integer array (n tokens). It is
            converted to int64 once (no copy if it already is int64) and
            held read-only.
        block_size: T, the length of each input and target.
        stride: distance between the starts of consecutive windows;
            defaults to ``block_size`` (windows do not overlap). A smaller
            stride gives overlapping windows.

    Item ``i`` starts at ``s = i * stride`` and is
    ``(tokens[s : s + T], tokens[s + 1 : s + T + 1])``: two int64 arrays of
    shape ``(T,)``, read-only *views* of the stream (no copy per item).
    ``len(ds) = (n - T - 1) // stride + 1``: every window whose target
    fits; the tail that does not fill a window is not used.

    Raises:
        TypeError: ``tokens`` is not integer-valued, or ``block_size`` /
            ``stride`` is not an int.
        ValueError: ``tokens`` is not 1-D or holds negative ids,
            ``block_size`` / ``stride`` <= 0, or the stream is shorter than
            ``block_size + 1`` tokens.
    """

    def __init__(self, tokens: Any, block_size: int, stride: int | None = None) -> None:
        self.block_size = _positive_int(block_size, "block_size")
        self.stride = self.block_size if stride is None else _positive_int(stride, "stride")
        if isinstance(tokens, (str, bytes, bytearray)):
            raise TypeError(f"tokens must be a sequence of int ids, got {type(tokens).__name__}")
        arr = np.asarray(tokens)
        if arr.ndim != 1:
            raise ValueError(f"tokens must be a 1-D stream of ids, got shape {arr.shape}")
        if arr.size and (arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"tokens must be integer ids, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        if arr.size and int(arr.min()) < 0:
            pos = int(np.argmin(arr))
            raise ValueError(
                f"tokens must be non-negative ids, got {int(arr[pos])} at position {pos}"
            )
        needed = self.block_size + 1
        if arr.size < needed:
            raise ValueError(
                f"the token stream has {arr.size} tokens, fewer than block_size + 1 = {needed} "
                f"needed for one (input, target) window"
            )
        # A read-only view: items are views of it, and must not let a caller
        # silently rewrite the stream (the caller's own array stays writable).
        self.tokens = arr.view()
        self.tokens.flags.writeable = False
        self._len = (arr.size - needed) // self.stride + 1

    def __len__(self) -> int:
        return self._len

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Return window ``index`` as ``(x, y)``, each int64 of shape ``(block_size,)``.

        Negative indices count from the end, as for a list.

        Raises:
            TypeError: ``index`` is not an integer.
            IndexError: ``index`` is outside ``[-len, len)``.
        """
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(
                f"LanguageModelDataset indices must be integers, got {type(index).__name__}"
            ) from None
        n = self._len
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a dataset of {n} windows")
        if i < 0:
            i += n
        s = i * self.stride
        t = self.block_size
        return self.tokens[s : s + t], self.tokens[s + 1 : s + t + 1]

    def random_batch(
        self, batch_size: int, generator=None, *, rng=None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``batch_size`` windows at uniformly random offsets (the nanoGPT way).

        Any start in ``[0, n - T - 1]`` may be drawn, not only multiples of
        ``stride``; the draws are with replacement. The batch is gathered
        with one fancy index of a ``(B, T + 1)`` index matrix, no Python loop.

        Args:
            batch_size: B, the number of windows.
            generator: the random source (PyTorch's keyword): a
                ``tinytorch.tensor.Generator`` (``Generator(seed)``) or a
                ``numpy.random.Generator`` (``np.random.default_rng(seed)``),
                so batches are reproducible; None draws from tinytorch's
                default generator.
            rng: deprecated alias of ``generator``.

        Returns:
            ``(x, y)``, int64 arrays of shape ``(B, T)`` with
            ``y[:, :-1] == x[:, 1:]``; both are views of one fresh ``(B, T + 1)``
            array, not of the stream.

        Raises:
            TypeError: ``generator`` is not a Generator, ``batch_size`` not an
                int, or both ``generator`` and ``rng`` given.
            ValueError: ``batch_size`` <= 0.
        """
        b = _positive_int(batch_size, "batch_size")
        if rng is not None:
            generator = deprecated_alias(generator, rng, "generator", "rng", "random_batch")
        rng = as_numpy_generator(generator, "LanguageModelDataset.random_batch")
        t = self.block_size
        starts = rng.integers(0, self.tokens.size - t, size=b)  # (B,), last start n - T - 1
        index = starts[:, None] + np.arange(t + 1)  # (B, T + 1)
        windows = self.tokens[index]  # (B, T + 1), one gather
        return windows[:, :-1], windows[:, 1:]

    def __repr__(self) -> str:
        return (
            f"LanguageModelDataset(n_tokens={self.tokens.size}, block_size={self.block_size}, "
            f"stride={self.stride}, windows={self._len})"
        )
