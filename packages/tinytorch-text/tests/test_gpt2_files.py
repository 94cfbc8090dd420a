"""BPETokenizer.from_gpt2 on small hand-written files: table, pattern, ids, errors."""

from __future__ import annotations

import json

import pytest

from tinytorch.text import BPETokenizer, bytes_to_unicode, gpt2_pattern

TABLE = bytes_to_unicode()


def write(tmp_path, merges, extra=(), header=True):
    """vocab.json (bytes in table order, then each merge's result, then extra) and merges.txt."""
    tokens = [TABLE[b] for b in sorted(TABLE, key=lambda b: ord(TABLE[b]))]
    tokens += [a + b for a, b in merges] + list(extra)
    (tmp_path / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    lines = (["#version: 0.2"] if header else []) + [f"{a} {b}" for a, b in merges]
    (tmp_path / "merges.txt").write_text("\n".join(lines) + "\n")
    return tmp_path / "vocab.json", tmp_path / "merges.txt"


def test_byte_table_is_gpt2s():
    assert len(set(TABLE.values())) == 256
    assert TABLE[ord(" ")] == "Ġ" and TABLE[ord("\n")] == "Ċ" and TABLE[ord("A")] == "A"
    assert TABLE[0] == "Ā" and TABLE[173] == "Ń"


@pytest.mark.parametrize("text, chunks", [
    ("Hello world, it's 2024!", ["Hello", " world", ",", " it", "'s", " 2024", "!"]),
    ("x² ½Ⅻ", ["x", "²", " ½Ⅻ"]),  # No and Nl are numbers (\p{N}), not letters
    ("a\x1cb", ["a", "\x1c", "b"]),  # U+001C is not White_Space
    ("a  \n b", ["a", "  \n", " b"]),  # \s+(?!\S) leaves one space to the next word
    ("e\u0301t_x", ["e", "\u0301", "t", "_", "x"]),  # a combining mark is "other"
    ("I'M don't", ["I", "'", "M", " don", "'t"]),  # contractions are lower case only
])
def test_pretokenizer_matches_gpt2s_regex(text, chunks):
    assert gpt2_pattern().findall(text) == chunks


def test_encode_uses_the_files_ids_and_merge_order(tmp_path):
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("t", "h")]
    tok = BPETokenizer.from_gpt2(*write(tmp_path, merges, extra=["<|endoftext|>"]))
    vocab = json.loads((tmp_path / "vocab.json").read_text())
    # " the": (Ġ,t) rank 0 first, then (h,e), then (Ġt,he); (t,h) never fires.
    assert tok.encode(" the") == [vocab["Ġthe"]]
    assert tok.encode("the") == [vocab["t"], vocab["he"]]
    assert tok.vocab_size == 256 + 4 + 1
    assert tok.decode([vocab["<|endoftext|>"], vocab["Ġthe"]]) == "<|endoftext|> the"
    assert tok.merges[0] == (vocab["Ġ"], vocab["t"])
    text = "then the other thing ✓ \n"
    assert tok.decode(tok.encode(text)) == text


def test_no_header_line_is_accepted(tmp_path):
    tok = BPETokenizer.from_gpt2(*write(tmp_path, [("a", "b")], header=False))
    assert tok.encode("ab") == [256]


@pytest.mark.parametrize("merges, needle", [
    ([("a", "bc")], "neither a byte nor the result"),
])
def test_bad_merges(tmp_path, merges, needle):
    with pytest.raises(ValueError, match=needle):
        BPETokenizer.from_gpt2(*write(tmp_path, merges))


def test_merge_result_missing_from_vocab(tmp_path):
    vocab, merges = write(tmp_path, [("a", "b")])
    merges.write_text("#version: 0.2\na b\nab c\n")
    with pytest.raises(ValueError, match="'abc' is not in the vocab"):
        BPETokenizer.from_gpt2(vocab, merges)


def test_malformed_files(tmp_path):
    vocab, merges = write(tmp_path, [("a", "b")])
    merges.write_text("#version: 0.2\na b c\n")
    with pytest.raises(ValueError, match="line 2"):
        BPETokenizer.from_gpt2(vocab, merges)
    vocab.write_text(json.dumps({"a": 0}))
    merges.write_text("")
    with pytest.raises(ValueError, match="byte values"):
        BPETokenizer.from_gpt2(vocab, merges)
    vocab.write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        BPETokenizer.from_gpt2(vocab, merges)
    with pytest.raises(FileNotFoundError):
        BPETokenizer.from_gpt2(tmp_path / "nope.json", merges)


def test_save_refers_to_the_files(tmp_path):
    tok = BPETokenizer.from_gpt2(*write(tmp_path, [("a", "b")]))
    with pytest.raises(ValueError, match="vocab.json and merges.txt"):
        tok.save(tmp_path / "tok.json")
