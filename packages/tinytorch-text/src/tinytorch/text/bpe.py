"""Byte-level byte-pair encoding (BPE), the tokenizer family of GPT-2.

Base vocabulary: the 256 byte values. Any string is first encoded to UTF-8,
so every string (any script, emoji, the empty string) has an encoding and
``decode(encode(s)) == s``. Training then repeats one step: find the most
frequent adjacent pair of ids and replace it everywhere by a new id::

    corpus "low lower lowest" -> chunks "low", " lower", " lowest"
    merge 1: (l, o)     3 times -> 256 = b"lo"     (ties go to the smaller pair)
    merge 2: (lo, w)    3 times -> 257 = b"low"
    merge 3: (' ', low) 2 times -> 258 = b" low"
    merge 4: (' low', e) 2 times -> 259 = b" lowe"
    " lowest" = [' lowe', s, t]:  7 bytes, 3 tokens

Pre-tokenization splits the text into words, numbers, punctuation runs and
whitespace with a GPT-2-like regular expression, so that no merge ever
crosses a word boundary ("dog." and "dog!" share the token " dog").

Training cost. Let U be the number of *distinct* chunks (about 16 000 for
1.1 MB of Shakespeare, against 300 000 chunks in total) and M the number of
merges. Each distinct chunk is stored once with its count. Pair counts are
built once, then updated incrementally: a merge rewrites only the chunks
that contain the merged pair (an inverted index pair -> chunks) and adjusts
the counts of the pairs in those chunks. The best pair is taken from a heap
with lazy deletion (stale entries are skipped when popped). Total cost is
O(text) for pre-tokenization plus O(sum over merges of the length of the
affected chunks), instead of the O(M x text) of recounting after each merge.

Encoding cost: each chunk is merged greedily by rank (the pair merged
earliest in training first), O(L^2) for a chunk of L bytes; chunks are short
and repeat, and a per-chunk cache makes a repeated chunk O(1).
"""

from __future__ import annotations

import heapq
import os
import re
import warnings
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from ._common import check_text, ids_to_array, iter_corpus
from ._io import FORMAT_VERSION, atomic_write_json, read_json_document, require_field
from .gpt2 import bytes_to_unicode, gpt2_pattern, read_gpt2_files

# GPT-2's pattern is
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# The stdlib `re` has no \p{..} classes, so letters are written [^\W\d_]
# ("word characters that are neither digits nor underscore") and the
# "anything else" class is ([^\s\w]|_). Every character is whitespace, a
# letter, a digit, an underscore or "other", so the chunks always cover the
# text: "".join(PATTERN.findall(s)) == s.
PRETOKENIZE_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
_PATTERN = re.compile(PRETOKENIZE_PATTERN)

N_BYTES = 256
_CACHE_LIMIT = 100_000  # distinct chunks kept by the encoding cache

#: The largest vocabulary a BPETokenizer holds (256 bytes + merges): above
#: GPT-2's 50,257 and the 200k of the largest byte-level vocabularies in use.
MAX_VOCAB_SIZE = 262_144
#: The longest token, in bytes, a tokenizer file may define. A merge's bytes
#: are its pair's bytes laid end to end, so without a limit a file of a few
#: hundred bytes whose every merge doubles the last token would ask for
#: 2 ** (number of merges) bytes. With both limits the decoding table of a
#: loaded file holds at most MAX_VOCAB_SIZE * MAX_TOKEN_BYTES bytes.
MAX_TOKEN_BYTES = 1024


def pretokenize(text: str) -> list[str]:
    """Split ``text`` into the chunks BPE merges within (never across).

    ``"".join(pretokenize(s)) == s`` for every string ``s``.

    Example::

        >>> pretokenize("Hello world, it's 2024!")
        ['Hello', ' world', ',', ' it', "'s", ' 2024', '!']
    """
    return _PATTERN.findall(check_text(text))


def _utf8(text: str, what: str = "text") -> bytes:
    """UTF-8 bytes of ``text``; a ValueError names a lone surrogate (UTF-8 cannot hold one)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{what} contains the lone surrogate {text[exc.start]!r} at position {exc.start}, "
            f"which is not valid Unicode text and cannot be encoded as UTF-8"
        ) from None


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each non-overlapping ``pair`` in ``ids`` (scanning left to right) by ``new_id``."""
    a, b = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Byte-level BPE tokenizer with ``vocab_size`` ids (256 bytes + merges).

    Args:
        vocab_size: the size to train to, at least 256. ``vocab_size - 256``
            merges are learned.

    Ids: 0..255 are the bytes; merge number ``k`` (0-based, in training
    order) creates id ``256 + k``, whose bytes are the concatenation of its
    pair's bytes.

    Example::

        >>> tok = BPETokenizer(260).train("low lower lowest " * 10)
        >>> tok.vocab[256:]
        [b'lo', b'low', b' low', b' lowe']
        >>> tok.encode(" lowest")
        [259, 115, 116]
        >>> tok.decode([259, 115, 116])
        ' lowest'

    Raises:
        TypeError: ``vocab_size`` is not an int.
        ValueError: ``vocab_size`` < 256 or > ``MAX_VOCAB_SIZE`` (262,144).
    """

    def __init__(self, vocab_size: int) -> None:
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < N_BYTES:
            raise ValueError(
                f"vocab_size must be at least {N_BYTES} (one id per byte), got {vocab_size}"
            )
        if vocab_size > MAX_VOCAB_SIZE:
            raise ValueError(
                f"vocab_size must be at most MAX_VOCAB_SIZE={MAX_VOCAB_SIZE}, got {vocab_size}"
            )
        self.target_vocab_size = int(vocab_size)
        self._pattern = _PATTERN
        self._set_merges([])
        self._trained = False

    # ------------------------------------------------------------- state

    def _set_merges(self, merges: list[tuple[int, int]]) -> None:
        """Install a merge list and rebuild every table derived from it."""
        self._merges = list(merges)
        # pair -> id it merges into; a smaller id means an earlier merge (its rank)
        self._pair_to_id = {pair: N_BYTES + k for k, pair in enumerate(self._merges)}
        token_bytes = [bytes([i]) for i in range(N_BYTES)]
        for a, b in self._merges:
            token_bytes.append(token_bytes[a] + token_bytes[b])
        self._token_bytes = token_bytes
        # Decoding tables: all tokens' bytes laid end to end, with each
        # token's offset and length, so decode is a NumPy gather.
        lengths = np.fromiter((len(t) for t in token_bytes), dtype=np.int64, count=len(token_bytes))
        self._lengths = lengths
        self._offsets = np.cumsum(lengths) - lengths
        self._flat = np.frombuffer(b"".join(token_bytes), dtype=np.uint8)
        self._cache: dict[str, list[int]] = {}
        # A tokenizer read by from_gpt2 speaks the file's ids: internal id ->
        # GPT-2 id, and the number of GPT-2 ids (None: the ids are internal).
        self._to_external: np.ndarray | None = None
        self._n_ids: int | None = None

    def _require_trained(self) -> None:
        if not self._trained:
            raise RuntimeError(
                "BPETokenizer is not trained: call train(corpus) or BPETokenizer.load(path) first"
            )

    @property
    def vocab_size(self) -> int:
        """Number of ids: 256 + number of merges learned (256 before training).

        Equals the requested ``vocab_size`` after training unless the corpus
        ran out of pairs to merge (``train`` warns in that case).
        """
        if self._n_ids is not None:
            return self._n_ids
        return N_BYTES + len(self._merges)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def merges(self) -> list[tuple[int, int]]:
        """The learned merges in training order: ``merges[k]`` became id ``256 + k``
        (for a tokenizer read by :meth:`from_gpt2`: pairs of GPT-2 ids, in
        ``merges.txt`` order)."""
        if self._to_external is not None:
            ext = self._to_external
            return [(int(ext[a]), int(ext[b])) for a, b in self._merges]
        return list(self._merges)

    @property
    def vocab(self) -> list[bytes]:
        """The bytes of every id, ``vocab[i]`` for id ``i``."""
        return list(self._token_bytes)

    def __repr__(self) -> str:
        state = f"vocab_size={self.vocab_size}" if self._trained else "untrained"
        return f"BPETokenizer(target_vocab_size={self.target_vocab_size}, {state})"

    # ---------------------------------------------------------- training

    def train(self, corpus: str | Any, verbose: bool = False) -> BPETokenizer:
        """Learn ``target_vocab_size - 256`` merges from ``corpus`` (replacing any previous ones).

        Args:
            corpus: a str, or an iterable of str (chunks never span two texts).
            verbose: print every merge (pair, new id, its bytes, its count).

        Returns:
            ``self``.

        Ties between equally frequent pairs go to the smallest pair
        ``(a, b)``, so training is deterministic. Training stops early, with
        a ``UserWarning``, if no adjacent pair is left to merge.

        Cost: see the module docstring; about a second or two for 1.1 MB
        of English to 1000 ids.

        Raises:
            TypeError: ``corpus`` is not a str or an iterable of str.
            ValueError: a text holds a lone surrogate (not encodable as UTF-8).
        """
        n_merges = self.target_vocab_size - N_BYTES
        words, freqs = _chunk_words(_count_chunks(corpus))
        index = _PairIndex(words, freqs)
        merges = _learn_merges(index, n_merges, verbose)
        if len(merges) < n_merges:
            warnings.warn(
                f"BPE training stopped after {len(merges)} merges (vocab_size "
                f"{N_BYTES + len(merges)} < requested {self.target_vocab_size}): "
                f"the corpus has no adjacent pair left to merge",
                UserWarning,
                stacklevel=2,
            )
        self._pattern = _PATTERN
        self._set_merges(merges)
        self._trained = True
        return self

    @classmethod
    def from_gpt2(cls, vocab_json: str | os.PathLike[str],
                  merges_txt: str | os.PathLike[str]) -> BPETokenizer:
        """GPT-2's tokenizer from its ``vocab.json`` and ``merges.txt`` (or any
        byte-level BPE saved in that format, e.g. by HF ``tokenizers``).

        Encodes and decodes exactly as Hugging Face's GPT-2 tokenizer: the
        same pre-tokenizer (:func:`~tinytorch.text.gpt2.gpt2_pattern`), the
        same byte-to-unicode table and the same merge order (rank = line of
        ``merges.txt``), and the ids of ``vocab.json``. Tokens no merge
        produces (``<|endoftext|>``) decode to their text but are never
        produced by ``encode``, which treats all text as ordinary text.
        Such a tokenizer is saved as those two files: :meth:`save` refuses it.

        Raises:
            FileNotFoundError: a file is missing.
            ValueError: malformed files; a byte missing from the vocab; a
                merge whose parts are neither bytes nor earlier merges, or
                whose result is not in the vocab (the message names it).
        """
        vocab, merge_strs = read_gpt2_files(vocab_json, merges_txt)
        byte_chars = bytes_to_unicode()
        missing = [b for b, c in byte_chars.items() if c not in vocab]
        if missing:
            raise ValueError(f"{os.fspath(vocab_json)!r} lacks the tokens of {len(missing)} "
                             f"byte values (first: {missing[:5]}); byte-level BPE needs all 256")
        internal = {c: b for b, c in byte_chars.items()}  # token string -> internal id
        merges, to_external = [], [vocab[byte_chars[b]] for b in range(N_BYTES)]
        for k, (a, b) in enumerate(merge_strs):
            if a not in internal or b not in internal:
                raise ValueError(f"{os.fspath(merges_txt)!r} merge {k} ({a!r} {b!r}): a part "
                                 f"is neither a byte nor the result of an earlier merge")
            if a + b not in vocab:
                raise ValueError(f"{os.fspath(merges_txt)!r} merge {k} ({a!r} {b!r}): its "
                                 f"result {a + b!r} is not in the vocab")
            merges.append((internal[a], internal[b]))
            internal.setdefault(a + b, N_BYTES + k)
            to_external.append(vocab[a + b])
        tok = cls(N_BYTES + len(merges))
        tok._set_merges(merges)
        tok._pattern = gpt2_pattern()
        tok._to_external = np.array(to_external, dtype=np.int64)
        tok._n_ids = max(vocab.values()) + 1
        decoder = {c: b for b, c in byte_chars.items()}
        token_bytes = [b""] * tok._n_ids  # ids absent from the vocab decode to nothing
        for token, i in vocab.items():
            token_bytes[i] = (bytes(decoder[c] for c in token) if all(c in decoder for c in token)
                              else token.encode("utf-8"))
        tok._lengths = np.fromiter(map(len, token_bytes), dtype=np.int64, count=len(token_bytes))
        tok._offsets = np.cumsum(tok._lengths) - tok._lengths
        tok._flat = np.frombuffer(b"".join(token_bytes), dtype=np.uint8)
        tok._token_bytes = token_bytes
        tok._trained = True
        return tok

    # ---------------------------------------------------------- encoding

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Encode one pre-tokenized chunk by applying merges in rank order."""
        ids = list(chunk.encode("utf-8"))
        rank = self._pair_to_id
        missing = 1 << 62  # sorts after every real rank
        while len(ids) >= 2:
            # The pair merged earliest in training is applied first: this
            # reproduces the training segmentation.
            pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, missing))
            new_id = rank.get(pair)
            if new_id is None:
                break
            ids = _merge(ids, pair, new_id)
        if self._to_external is not None:
            return self._to_external[ids].tolist()
        return ids

    def encode(self, text: str) -> list[int]:
        """Encode ``text`` to a list of ids.

        Cost: O(len(text)) to pre-tokenize, then a cache lookup per chunk
        and O(L^2) for each new distinct chunk of L bytes.

        Raises:
            RuntimeError: not trained.
            TypeError: ``text`` is not a str.
            ValueError: ``text`` holds a lone surrogate (not encodable as UTF-8).
        """
        self._require_trained()
        _utf8(check_text(text))
        cache = self._cache
        out: list[int] = []
        for chunk in self._pattern.findall(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = self._encode_chunk(chunk)
                if len(cache) >= _CACHE_LIMIT:
                    cache.clear()  # bound memory on an endless stream of new chunks
                cache[chunk] = ids
            out.extend(ids)
        return out

    def clear_cache(self) -> None:
        """Forget the per-chunk encoding cache (it refills as text is encoded)."""
        self._cache.clear()

    def encode_array(self, text: str) -> np.ndarray:
        """Encode ``text`` to a 1-D int64 array (same ids and errors as :meth:`encode`)."""
        return np.array(self.encode(text), dtype=np.int64)

    def decode(self, ids: Any) -> str:
        """Decode ids (list or integer array) to a string.

        The bytes of all ids are gathered with one NumPy fancy index and
        decoded as UTF-8 with ``errors="replace"``: an arbitrary id sequence
        may cut a multi-byte character, and its bytes then become U+FFFD.
        Ids produced by :meth:`encode` always decode to the original text.

        Raises:
            RuntimeError: not trained.
            TypeError: ``ids`` are not integers.
            ValueError: ``ids`` is not 1-D, or an id is outside
                ``[0, vocab_size)`` (the message gives the id and its position).
        """
        self._require_trained()
        arr = ids_to_array(ids, self.vocab_size)  # (n,)
        lengths = self._lengths[arr]  # (n,) bytes per token
        # Byte k of the output belongs to token t(k) and reads
        # flat[offsets[t] + (k - out_start[t])]; np.repeat spreads the
        # per-token shift (offsets - out_start) over that token's bytes.
        out_start = np.cumsum(lengths) - lengths
        shift = np.repeat(self._offsets[arr] - out_start, lengths)
        index = shift + np.arange(shift.size, dtype=np.int64)
        return self._flat[index].tobytes().decode("utf-8", errors="replace")

    # --------------------------------------------------------- save/load

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the merges as JSON, atomically (temporary file + ``os.replace``).

        Raises:
            RuntimeError: not trained.
            ValueError: a token is longer than ``MAX_TOKEN_BYTES`` (such a
                file could not be loaded back).
            OSError: the file cannot be written (the previous file is kept).
        """
        self._require_trained()
        if self._to_external is not None:
            raise ValueError("a tokenizer read by BPETokenizer.from_gpt2 is stored as its "
                             "vocab.json and merges.txt; keep those two files")
        longest = int(self._lengths.max())
        if longest > MAX_TOKEN_BYTES:
            raise ValueError(f"cannot save: a token is {longest} bytes long, more than "
                             f"MAX_TOKEN_BYTES={MAX_TOKEN_BYTES} that load() accepts")
        atomic_write_json(
            path,
            {
                "type": "BPETokenizer",
                "format_version": FORMAT_VERSION,
                "target_vocab_size": self.target_vocab_size,
                "pattern": PRETOKENIZE_PATTERN,
                "merges": [list(pair) for pair in self._merges],
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Load a tokenizer written by :meth:`save`.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            ValueError: the file is malformed: not JSON, wrong type or
                version, missing fields, a different pre-tokenization
                pattern, a target_vocab_size outside [256, MAX_VOCAB_SIZE],
                more merges than that allows, a merge that is not a pair of
                known ids, repeats an earlier merge or makes a token longer
                than ``MAX_TOKEN_BYTES`` (the message gives its index).

        Cost: O(file size + merges); the limits bound the memory a file can
        ask for, whatever it holds.
        """
        what = "BPETokenizer"
        p = os.fspath(path)
        doc = read_json_document(path, what)
        target = require_field(doc, "target_vocab_size", int, path, what)
        pattern = require_field(doc, "pattern", str, path, what)
        merges_raw = require_field(doc, "merges", list, path, what)
        if pattern != PRETOKENIZE_PATTERN:
            raise ValueError(
                f"{p!r}: it was trained with a different pre-tokenization pattern {pattern!r}"
            )
        if not N_BYTES <= target <= MAX_VOCAB_SIZE:
            raise ValueError(f"{p!r}: target_vocab_size {target} is outside "
                             f"[{N_BYTES}, MAX_VOCAB_SIZE={MAX_VOCAB_SIZE}]")
        if N_BYTES + len(merges_raw) > MAX_VOCAB_SIZE:
            raise ValueError(f"{p!r}: {len(merges_raw)} merges make more than "
                             f"MAX_VOCAB_SIZE={MAX_VOCAB_SIZE} tokens")
        merges: list[tuple[int, int]] = []
        seen: set[tuple[int, int]] = set()
        lengths = [1] * N_BYTES  # bytes per token, to refuse a token that grows too long
        for k, m in enumerate(merges_raw):
            known = N_BYTES + k  # ids that exist before merge k
            if (
                not isinstance(m, list)
                or len(m) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in m)
                or not all(0 <= x < known for x in m)
            ):
                raise ValueError(
                    f"{p!r}: merges[{k}] must be a pair of ids in [0, {known}), got {m!r}"
                )
            pair = (m[0], m[1])
            if pair in seen:
                raise ValueError(f"{p!r}: merges[{k}] repeats the earlier merge {pair}")
            seen.add(pair)
            merges.append(pair)
            lengths.append(lengths[pair[0]] + lengths[pair[1]])
            if lengths[-1] > MAX_TOKEN_BYTES:
                raise ValueError(f"{p!r}: merges[{k}] makes a token of {lengths[-1]} bytes, "
                                 f"more than MAX_TOKEN_BYTES={MAX_TOKEN_BYTES}")
        if target < N_BYTES + len(merges):
            raise ValueError(
                f"{p!r}: target_vocab_size {target} is smaller than 256 + {len(merges)} merges"
            )
        tok = cls(target)
        tok._set_merges(merges)
        tok._trained = True
        return tok



# ------------------------------------------------------------------ training steps
# BPETokenizer.train runs these four steps in order.


def _count_chunks(corpus) -> Counter[str]:
    """Step 1: pre-tokenize every text and count each distinct chunk once.

    Raises:
        TypeError: ``corpus`` is not a str or an iterable of str.
        ValueError: a text holds a lone surrogate.
    """
    chunk_counts: Counter[str] = Counter()
    for i, text in enumerate(iter_corpus(corpus)):
        _utf8(text, what=f"corpus text {i}")
        chunk_counts.update(_PATTERN.findall(text))
    return chunk_counts


def _chunk_words(chunk_counts: Counter[str]) -> tuple[list[list[int]], list[int]]:
    """Step 2: the distinct chunks as byte-id lists with their counts;
    one-byte chunks hold no pair and are dropped."""
    words: list[list[int]] = []
    freqs: list[int] = []
    for chunk, count in chunk_counts.items():
        b = chunk.encode("utf-8")
        if len(b) >= 2:
            words.append(list(b))
            freqs.append(count)
    return words, freqs


class _PairIndex:
    """Step 3: pair counts (weighted by chunk frequency), the inverted index
    pair -> chunks containing it (which makes each merge local), and a
    max-heap of counts (negated for heapq; ties go to the smallest pair).
    O(total chunk length) to build."""

    def __init__(self, words: list[list[int]], freqs: list[int]) -> None:
        self.words = words
        self.freqs = freqs
        self.pair_counts: dict[tuple[int, int], int] = defaultdict(int)
        self.pair_words: dict[tuple[int, int], set[int]] = defaultdict(set)
        for w, (word, f) in enumerate(zip(words, freqs)):
            for pair in zip(word, word[1:]):
                self.pair_counts[pair] += f
                self.pair_words[pair].add(w)
        self.heap = [(-c, pair) for pair, c in self.pair_counts.items()]
        heapq.heapify(self.heap)

    def pop_best(self) -> tuple[tuple[int, int], int] | None:
        """The most frequent pair and its count, or None when no pair is left.
        Stale heap entries (a count changed after the entry was pushed; a
        fresher entry exists) are skipped."""
        heap, pair_counts = self.heap, self.pair_counts
        while heap:
            neg_count, pair = heapq.heappop(heap)
            if pair_counts.get(pair, 0) == -neg_count:
                return pair, -neg_count
        return None

    def merge(self, best: tuple[int, int], new_id: int) -> None:
        """Rewrite only the chunks containing ``best`` as ``new_id`` and move
        their pair counts from the old spelling to the new one."""
        words, freqs = self.words, self.freqs
        pair_counts, pair_words = self.pair_counts, self.pair_words
        touched: set[tuple[int, int]] = set()
        for w in pair_words.pop(best):
            old, f = words[w], freqs[w]
            new = _merge(old, best, new_id)
            words[w] = new
            old_pairs = list(zip(old, old[1:]))
            new_pairs = list(zip(new, new[1:]))
            for pair in old_pairs:
                pair_counts[pair] -= f
            for pair in new_pairs:
                pair_counts[pair] += f
            old_set, new_set = set(old_pairs), set(new_pairs)
            for pair in old_set - new_set:
                if pair != best:
                    pair_words[pair].discard(w)
            for pair in new_set - old_set:
                pair_words[pair].add(w)
            touched |= old_set
            touched |= new_set
        for pair in touched:
            c = pair_counts[pair]
            if c > 0:
                heapq.heappush(self.heap, (-c, pair))
            else:
                del pair_counts[pair]
                pair_words.pop(pair, None)


def _learn_merges(index: _PairIndex, n_merges: int, verbose: bool) -> list[tuple[int, int]]:
    """Step 4: merge the most frequent pair until ``n_merges`` merges are
    learned or no pair is left; returns the merges in training order."""
    merges: list[tuple[int, int]] = []
    token_bytes = [bytes([i]) for i in range(N_BYTES)]  # only for verbose output
    while len(merges) < n_merges:
        found = index.pop_best()
        if found is None:
            break
        best, best_count = found
        new_id = N_BYTES + len(merges)
        merges.append(best)
        if verbose:
            token_bytes.append(token_bytes[best[0]] + token_bytes[best[1]])
            print(
                f"merge {len(merges)}/{n_merges}: {best} -> {new_id} "
                f"{token_bytes[-1]!r} ({best_count} occurrences)"
            )
        index.merge(best, new_id)
    return merges
