"""Input checks shared by the tokenizers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np


def iter_corpus(corpus: Any) -> Iterator[str]:
    """Yield the texts of a corpus given as one ``str`` or an iterable of ``str``.

    Raises:
        TypeError: ``corpus`` is neither, or one of its items is not a str
            (the message gives the item's index and type).
    """
    if isinstance(corpus, str):
        yield corpus
        return
    if isinstance(corpus, (bytes, bytearray)) or not isinstance(corpus, Iterable):
        raise TypeError(f"corpus must be a str or an iterable of str, got {type(corpus).__name__}")
    for i, text in enumerate(corpus):
        if not isinstance(text, str):
            raise TypeError(f"corpus item {i} must be a str, got {type(text).__name__}")
        yield text


def check_text(text: Any) -> str:
    """Return ``text`` if it is a str; raise TypeError otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return text


def ids_to_array(ids: Any, vocab_size: int) -> np.ndarray:
    """Convert token ids (list, tuple or integer array) to a 1-D int64 array.

    Raises:
        TypeError: ``ids`` is a str/bytes, or its values are not integers.
        ValueError: ``ids`` is not one-dimensional, or an id is outside
            ``[0, vocab_size)`` (the message gives the first bad id and its
            position).
    """
    if isinstance(ids, (str, bytes, bytearray)):
        raise TypeError(f"ids must be a sequence of ints, got {type(ids).__name__}")
    arr = np.asarray(ids)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"ids must be one-dimensional, got shape {arr.shape}")
    bad = (arr < 0) | (arr >= vocab_size)
    if bad.any():
        pos = int(np.argmax(bad))
        raise ValueError(
            f"token id {int(arr[pos])} at position {pos} is out of range "
            f"for a vocabulary of size {vocab_size} (valid ids: 0..{vocab_size - 1})"
        )
    return arr.astype(np.int64, copy=False)
