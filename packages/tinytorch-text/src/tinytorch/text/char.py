"""Character-level tokenizer: one token per Unicode code point.

The vocabulary is the sorted set of characters seen in a corpus. Encoding is
vectorised: the text becomes an array of code points (one ``str.encode`` to
UTF-32), and a lookup table indexed by code point gives each character's id
in a single NumPy gather::

    vocabulary of "hello":  e=0  h=1  l=2  o=3
    "hello"  --utf-32-->  [104 101 108 108 111]  --lut[.]-->  [1 0 2 2 3]

Cost: O(n) for a text of n characters, O(V) to build the table, and a table
of ``max code point + 2`` int64 entries (1 KB for ASCII, at most 9 MB when the
vocabulary holds a character near U+10FFFF).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._common import check_text, ids_to_array, iter_corpus
from ._io import FORMAT_VERSION, atomic_write_json, read_json_document, require_field

UNK_TOKEN = "<unk>"
"""Name of the unknown-character token in :attr:`CharTokenizer.vocab`."""

UNK_PLACEHOLDER = "\ufffd"
"""What the ``<unk>`` id decodes to: U+FFFD REPLACEMENT CHARACTER."""

_UNK_POLICIES = ("error", "token")


class CharTokenizer:
    """Map each character of a text to an integer id, and back.

    Args:
        unk: what :meth:`encode` does with a character missing from the
            vocabulary. ``"error"`` (default) raises a ValueError naming the
            character and its position. ``"token"`` appends one extra id,
            ``<unk>`` (id ``len(chars)``, the last id), that every unknown
            character maps to and that decodes to :data:`UNK_PLACEHOLDER`
            (U+FFFD). Character ids are the same under both policies.

    Ids: character ``chars[i]`` has id ``i``; ``chars`` is sorted by code
    point, so the same corpus always gives the same ids.

    Example::

        >>> tok = CharTokenizer().build_vocab("hello world")
        >>> tok.encode("hello")
        [3, 2, 4, 4, 5]
        >>> tok.decode([3, 2, 4, 4, 5])
        'hello'

    Raises:
        ValueError: ``unk`` is not ``"error"`` or ``"token"``.
    """

    def __init__(self, unk: str = "error") -> None:
        if unk not in _UNK_POLICIES:
            raise ValueError(f"unk must be one of {_UNK_POLICIES}, got {unk!r}")
        self.unk = unk
        self._chars: tuple[str, ...] = ()
        self._codepoints = np.zeros(0, dtype=np.int64)  # (V_chars,) sorted
        self._lut = np.zeros(0, dtype=np.int64)  # code point -> id, -1 if unknown
        self._decode_table = np.zeros(0, dtype=np.uint32)  # id -> code point
        self._built = False

    # ------------------------------------------------------------------ vocab

    def build_vocab(self, corpus: str | Any) -> CharTokenizer:
        """Set the vocabulary to the sorted distinct characters of ``corpus``.

        Args:
            corpus: a str, or an iterable of str (every text contributes).

        Returns:
            ``self``, so that ``CharTokenizer().build_vocab(text)`` chains.

        Cost: O(total characters) (``set`` of each text), O(V log V) to sort.

        Raises:
            TypeError: ``corpus`` is not a str or an iterable of str.
            ValueError: the corpus holds no characters at all.
        """
        seen: set[str] = set()
        for text in iter_corpus(corpus):
            seen.update(text)
        if not seen:
            raise ValueError("cannot build a vocabulary from an empty corpus")
        self._set_chars(sorted(seen))
        return self

    def _set_chars(self, chars: list[str]) -> None:
        self._chars = tuple(chars)
        cps = np.array([ord(c) for c in chars], dtype=np.int64)
        self._codepoints = cps
        n = len(chars)
        # One slot past the largest code point is the "unknown" sentinel;
        # code points above the vocabulary are clipped onto it.
        lut = np.full(int(cps[-1]) + 2, -1, dtype=np.int64)
        lut[cps] = np.arange(n, dtype=np.int64)
        self._lut = lut
        table = cps.astype(np.uint32)
        if self.unk == "token":
            table = np.append(table, np.uint32(ord(UNK_PLACEHOLDER)))
        self._decode_table = table
        self._built = True

    def _require_vocab(self) -> None:
        if not self._built:
            raise RuntimeError(
                "CharTokenizer has no vocabulary yet: "
                "call build_vocab(corpus) or CharTokenizer.load(path) first"
            )

    @property
    def chars(self) -> tuple[str, ...]:
        """The characters of the vocabulary, in id order (sorted by code point)."""
        return self._chars

    @property
    def vocab(self) -> list[str]:
        """Every token in id order: the characters, then ``"<unk>"`` if ``unk="token"``."""
        return list(self._chars) + ([UNK_TOKEN] if self.unk == "token" and self._built else [])

    @property
    def unk_id(self) -> int | None:
        """Id of ``<unk>`` (the last id) when ``unk="token"``, else None."""
        if self.unk != "token" or not self._built:
            return None
        return len(self._chars)

    @property
    def vocab_size(self) -> int:
        """Number of ids: the characters, + 1 for ``<unk>`` if enabled (0 before build_vocab)."""
        if not self._built:
            return 0
        return len(self._chars) + (1 if self.unk == "token" else 0)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size}, unk={self.unk!r})"

    # ------------------------------------------------------------- encoding

    def encode_array(self, text: str) -> np.ndarray:
        """Encode ``text`` to a 1-D int64 array of ids, shape ``(len(text),)``.

        Vectorised: one UTF-32 encode, one table gather, O(len(text)).
        ``surrogatepass`` lets lone surrogates (valid in a Python str) be
        tokenised like any other code point.

        Raises:
            RuntimeError: no vocabulary yet.
            TypeError: ``text`` is not a str.
            ValueError: with ``unk="error"``, a character is not in the
                vocabulary (the message names the first one and its position).
        """
        self._require_vocab()
        check_text(text)
        if not text:
            return np.zeros(0, dtype=np.int64)
        cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        ids = self._lut[np.minimum(cps, len(self._lut) - 1)]  # (n,) int64, -1 = unknown
        unknown = ids < 0
        if unknown.any():
            if self.unk == "error":
                pos = int(np.argmax(unknown))
                raise ValueError(
                    f"character {text[pos]!r} (U+{ord(text[pos]):04X}) at position {pos} "
                    f"is not in the vocabulary; use CharTokenizer(unk='token') to map "
                    f"unknown characters to {UNK_TOKEN}"
                )
            ids[unknown] = len(self._chars)
        return ids

    def encode(self, text: str) -> list[int]:
        """Encode ``text`` to a list of ids (see :meth:`encode_array` for errors)."""
        return self.encode_array(text).tolist()

    def decode(self, ids: Any) -> str:
        """Decode ids (list or integer array) back to a string.

        Vectorised: one gather of code points, one UTF-32 decode. The
        ``<unk>`` id decodes to :data:`UNK_PLACEHOLDER`.

        Raises:
            RuntimeError: no vocabulary yet.
            TypeError: ``ids`` are not integers.
            ValueError: ``ids`` is not 1-D, or an id is outside
                ``[0, vocab_size)`` (the message gives the id and its position).
        """
        self._require_vocab()
        arr = ids_to_array(ids, self.vocab_size)
        return self._decode_table[arr].tobytes().decode("utf-32-le", "surrogatepass")

    # ------------------------------------------------------------ save/load

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the vocabulary and the unknown policy as JSON, atomically.

        Raises:
            RuntimeError: no vocabulary yet.
            OSError: the file cannot be written (the previous file is kept).
        """
        self._require_vocab()
        atomic_write_json(
            path,
            {
                "type": "CharTokenizer",
                "format_version": FORMAT_VERSION,
                "unk": self.unk,
                "chars": list(self._chars),
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CharTokenizer:
        """Load a tokenizer written by :meth:`save`.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: the file is malformed: not JSON, wrong type or
                version, missing fields, an unknown ``unk`` policy, or a
                ``chars`` list that is empty, holds non-single-character
                entries, or is not strictly sorted (the message says which).
        """
        what = "CharTokenizer"
        doc = read_json_document(path, what)
        unk = require_field(doc, "unk", str, path, what)
        if unk not in _UNK_POLICIES:
            raise ValueError(
                f"{os.fspath(path)!r}: field 'unk' must be one of {_UNK_POLICIES}, got {unk!r}"
            )
        chars = require_field(doc, "chars", list, path, what)
        if not chars:
            raise ValueError(f"{os.fspath(path)!r}: field 'chars' is empty")
        for i, c in enumerate(chars):
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(
                    f"{os.fspath(path)!r}: chars[{i}] must be a single character, got {c!r}"
                )
        for i in range(1, len(chars)):
            if chars[i - 1] >= chars[i]:
                raise ValueError(
                    f"{os.fspath(path)!r}: 'chars' must be strictly sorted without duplicates "
                    f"(chars[{i - 1}]={chars[i - 1]!r}, chars[{i}]={chars[i]!r})"
                )
        tok = cls(unk=unk)
        tok._set_chars(chars)
        return tok
