"""Tokenizer files from an untrusted source: bounded work, and a ValueError
that names the file for anything malformed."""

from __future__ import annotations

import json
import time

import pytest

from tinytorch.text import (
    MAX_TOKEN_BYTES,
    MAX_VOCAB_SIZE,
    PRETOKENIZE_PATTERN,
    BPETokenizer,
    CharTokenizer,
)


def bpe_doc(merges, target=None):
    return {"type": "BPETokenizer", "format_version": 1,
            "target_vocab_size": 256 + len(merges) if target is None else target,
            "pattern": PRETOKENIZE_PATTERN, "merges": merges}


def write(tmp_path, doc, name="tok.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_doubling_merges_are_refused_quickly(tmp_path):
    # The repro: each merge joins the last token with itself, so a file of a
    # few hundred bytes asked for 2**40 bytes of token table.
    merges = [[97, 97]] + [[256 + k, 256 + k] for k in range(40)]
    path = write(tmp_path, bpe_doc(merges))
    assert path.stat().st_size < 700
    start = time.perf_counter()
    with pytest.raises(ValueError, match="MAX_TOKEN_BYTES") as info:
        BPETokenizer.load(path)
    assert time.perf_counter() - start < 1.0
    assert str(path) in str(info.value)
    assert "merges[10]" in str(info.value)  # 2**11 bytes > 1024


def test_longest_allowed_token_loads(tmp_path):
    merges = [[97, 97]] + [[256 + k, 256 + k] for k in range(9)]  # 2**10 = 1024 bytes
    tok = BPETokenizer.load(write(tmp_path, bpe_doc(merges)))
    assert len(tok.vocab[-1]) == MAX_TOKEN_BYTES


@pytest.mark.parametrize("target", [MAX_VOCAB_SIZE + 1, 10**12, 255])
def test_vocab_size_limits(tmp_path, target):
    with pytest.raises(ValueError, match="target_vocab_size"):
        BPETokenizer.load(write(tmp_path, bpe_doc([], target=target)))
    with pytest.raises(ValueError, match="vocab_size"):
        BPETokenizer(target)


def test_too_many_merges_are_refused_before_checking_each(tmp_path):
    merges = [[0, 1]] * (MAX_VOCAB_SIZE - 255)
    with pytest.raises(ValueError, match="MAX_VOCAB_SIZE"):
        BPETokenizer.load(write(tmp_path, bpe_doc(merges, target=MAX_VOCAB_SIZE)))


def test_save_refuses_a_token_load_would_refuse(tmp_path):
    tok = BPETokenizer(256 + 12).train("a" * 5000)
    assert max(len(t) for t in tok.vocab) > MAX_TOKEN_BYTES
    with pytest.raises(ValueError, match="MAX_TOKEN_BYTES"):
        tok.save(tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()


@pytest.mark.parametrize("cls", [BPETokenizer, CharTokenizer])
@pytest.mark.parametrize("content", ids=lambda c: repr(c)[:20], argvalues=[
    b"",                                   # empty
    b'{"type": "BPETokenizer", "form',     # truncated
    b"\xff\xfe\x00garbage",                # not UTF-8
    b"PK\x03\x04" + bytes(60),             # a zip header: not JSON at all
    b"[" * 100_000 + b"]" * 100_000,       # deep nesting
    b"null",
])
def test_malformed_files_raise_value_error_naming_the_path(tmp_path, cls, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        cls.load(path)
    assert str(path) in str(info.value)


def test_missing_file_is_still_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        CharTokenizer.load(tmp_path / "nope.json")
