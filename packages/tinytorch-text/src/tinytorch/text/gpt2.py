"""GPT-2's byte-level BPE files: the byte-to-unicode table, the pre-tokenizer, vocab and merges.

GPT-2 (and every Hugging Face byte-level BPE) writes its tokens as *strings*:
each byte is shown as one printable character so that ``vocab.json`` and
``merges.txt`` stay plain text::

    byte   33..126, 161..172, 174..255   ->  the character with that code ("!" .. "~", ...)
    every other byte (0..32, 127..160, 173) ->  chr(256 + k), k-th in byte order
                                              (space 32 -> "Ġ" U+0120, "\\n" 10 -> "Ċ" U+010A)

``vocab.json`` maps each token string to its id; ``merges.txt`` lists the
merges in training order, one ``"left right"`` per line after a
``#version`` header, the line number being the merge's rank.

GPT-2's pre-tokenizer splits text with::

    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

The standard library's ``re`` has no ``\\p{..}`` classes and its ``\\s`` is
not Unicode's White_Space (it also matches U+001C..U+001F). The
equivalent here spells the three classes out: letters are the code points
of general category L*, numbers those of N* (Nd, Nl and No: "²", "½",
"Ⅻ" are numbers), whitespace Unicode's White_Space list. Building the
classes scans the Unicode table once (about 0.4 s, cached).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
import unicodedata

__all__ = ["bytes_to_unicode", "gpt2_pattern", "read_gpt2_files"]

# Unicode's White_Space property (the \s of regex engines with Unicode classes).
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + (
    "\u2028\u2029\u202f\u205f\u3000")


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table: byte value (0..255) -> the character that spells it in token strings."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _class_body(code_points: list[int]) -> str:
    """A regex character-class body matching exactly ``code_points`` (sorted),
    as ranges of ``\\U`` escapes (no character needs escaping)."""
    parts, start = [], None
    for i, cp in enumerate(code_points):
        if start is None:
            start = cp
        if i + 1 == len(code_points) or code_points[i + 1] != cp + 1:
            parts.append(f"\\U{start:08x}" if start == cp else f"\\U{start:08x}-\\U{cp:08x}")
            start = None
    return "".join(parts)


@functools.lru_cache(maxsize=1)
def gpt2_pattern() -> re.Pattern:
    """GPT-2's pre-tokenizer as a compiled stdlib ``re`` pattern (see the module docstring)."""
    letters, numbers = [], []
    for cp in range(sys.maxunicode + 1):
        cat = unicodedata.category(chr(cp))
        if cat[0] == "L":
            letters.append(cp)
        elif cat[0] == "N":
            numbers.append(cp)
    lc, nc = _class_body(letters), _class_body(numbers)
    sc = _class_body(sorted(map(ord, _WHITE_SPACE)))
    return re.compile(
        rf"'s|'t|'re|'ve|'m|'ll|'d| ?[{lc}]+| ?[{nc}]+| ?[^{sc}{lc}{nc}]+"
        rf"|[{sc}]+(?![^{sc}])|[{sc}]+"
    )


def read_gpt2_files(vocab_json, merges_txt) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Read and check ``vocab.json`` (token string -> id) and ``merges.txt``.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the vocab is not a JSON object of non-negative int ids
            (or two tokens share an id); a merges line is not two tokens.
    """
    vocab_path, merges_path = os.fspath(vocab_json), os.fspath(merges_txt)
    with open(vocab_path, encoding="utf-8") as f:
        try:
            vocab = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{vocab_path!r} is not valid JSON ({exc})") from None
    if not isinstance(vocab, dict) or not all(
            isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in vocab.values()):
        raise ValueError(f"{vocab_path!r} must be a JSON object of token -> non-negative int id")
    if len(set(vocab.values())) != len(vocab):
        raise ValueError(f"{vocab_path!r}: two tokens share an id")
    merges = []
    with open(merges_path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if (number == 1 and line.startswith("#version")) or not line:
                continue
            parts = line.split(" ")
            if len(parts) != 2 or not all(parts):
                raise ValueError(f"{merges_path!r} line {number}: expected two tokens "
                                 f"separated by one space, got {line!r}")
            merges.append((parts[0], parts[1]))
    return vocab, merges
