"""CharTokenizer: vocabulary, round-trips, unknown characters, save/load."""

import json
import os

import numpy as np
import pytest

from tinytorch.text import UNK_PLACEHOLDER, CharTokenizer

ROUND_TRIP_TEXTS = [
    "",
    "a",
    "hello world",
    "To be, or not to be: that is the question.\n",
    "naïve café — déjà vu",
    "Ελληνικά, русский, 日本語, 한국어",
    "emoji 🙂👍🏽 and flags 🇫🇷",
    "tabs\tand\r\nnewlines\n\n",
    "\x00 control \x7f chars",
    "lone \ud800 surrogate",
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_round_trip_on_own_vocabulary(text):
    tok = CharTokenizer().build_vocab(text or "x")
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert tok.decode(ids) == text
    arr = tok.encode_array(text)
    assert arr.dtype == np.int64 and arr.shape == (len(text),)
    assert arr.tolist() == ids
    assert tok.decode(arr) == text


def test_vocab_is_sorted_and_ids_are_positions():
    tok = CharTokenizer().build_vocab("hello world")
    assert tok.chars == (" ", "d", "e", "h", "l", "o", "r", "w")
    assert tok.encode("hello") == [3, 2, 4, 4, 5]
    assert tok.vocab_size == len(tok) == 8
    assert tok.unk_id is None


@pytest.mark.parametrize(
    "corpus",
    [
        ["cab", "bad"],
        ("bad", "cab"),
        iter(["ab", "cd", "", "ba"]),
        "dcba",
    ],
)
def test_vocab_is_deterministic_for_str_or_iterable(corpus):
    tok = CharTokenizer().build_vocab(corpus)
    assert list(tok.chars) == sorted(set(tok.chars))
    assert tok.chars[0] == "a"


def test_same_corpus_in_any_order_gives_same_ids():
    a = CharTokenizer().build_vocab(["xyz", "abc"])
    b = CharTokenizer().build_vocab(["cba", "zyx"])
    assert a.chars == b.chars
    assert a.encode("zax") == b.encode("zax")


def test_unknown_character_error_names_character_and_position():
    tok = CharTokenizer().build_vocab("abc")
    with pytest.raises(ValueError, match=r"'z' \(U\+007A\) at position 3"):
        tok.encode("abcz")
    with pytest.raises(ValueError, match=r"position 0"):
        tok.encode("\U0010ffff")  # above the table: clipped onto the sentinel


def test_unknown_character_token_policy():
    tok = CharTokenizer(unk="token").build_vocab("abc")
    assert tok.vocab_size == 4 and tok.unk_id == 3
    assert tok.vocab == ["a", "b", "c", "<unk>"]
    ids = tok.encode("a🙂c\x00")
    assert ids == [0, 3, 2, 3]
    assert tok.decode(ids) == "a" + UNK_PLACEHOLDER + "c" + UNK_PLACEHOLDER
    # character ids do not depend on the policy
    assert CharTokenizer().build_vocab("abc").encode("cab") == tok.encode("cab")


def test_encode_array_of_a_megabyte_matches_python_lookup():
    rng = np.random.default_rng(0)
    alphabet = np.array(list("abcdefghij \néü"))
    text = "".join(rng.choice(alphabet, size=1 << 20))
    tok = CharTokenizer().build_vocab(text)
    ids = tok.encode_array(text)
    stoi = {c: i for i, c in enumerate(tok.chars)}
    assert ids[:1000].tolist() == [stoi[c] for c in text[:1000]]
    assert tok.decode(ids) == text


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (lambda: CharTokenizer(unk="ignore"), ValueError, "unk must be one of"),
        (lambda: CharTokenizer().build_vocab(""), ValueError, "empty corpus"),
        (lambda: CharTokenizer().build_vocab([]), ValueError, "empty corpus"),
        (lambda: CharTokenizer().build_vocab(b"bytes"), TypeError, "corpus must be a str"),
        (lambda: CharTokenizer().build_vocab(42), TypeError, "corpus must be a str"),
        (lambda: CharTokenizer().build_vocab(["ok", 3]), TypeError, "corpus item 1"),
        (lambda: CharTokenizer().encode("a"), RuntimeError, "build_vocab"),
        (lambda: CharTokenizer().decode([0]), RuntimeError, "build_vocab"),
        (lambda: CharTokenizer().build_vocab("ab").encode(["a"]), TypeError, "text must be a str"),
        (
            lambda: CharTokenizer().build_vocab("ab").decode([0, 2]),
            ValueError,
            "id 2 at position 1",
        ),
        (lambda: CharTokenizer().build_vocab("ab").decode([-1]), ValueError, "id -1 at position 0"),
        (lambda: CharTokenizer().build_vocab("ab").decode([0.0]), TypeError, "integers"),
        (lambda: CharTokenizer().build_vocab("ab").decode([[0, 1]]), ValueError, "one-dimensional"),
        (lambda: CharTokenizer().build_vocab("ab").decode("01"), TypeError, "sequence of ints"),
    ],
)
def test_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_decode_empty_ids():
    tok = CharTokenizer().build_vocab("ab")
    assert tok.decode([]) == ""
    assert tok.decode(np.zeros(0, dtype=np.int64)) == ""


# ---------------------------------------------------------------- save/load


@pytest.mark.parametrize("unk", ["error", "token"])
def test_save_load_round_trip(tmp_path, unk):
    tok = CharTokenizer(unk=unk).build_vocab("naïve 🙂 \ud800 text")
    path = tmp_path / "chars.json"
    tok.save(path)
    loaded = CharTokenizer.load(path)
    assert loaded.chars == tok.chars
    assert loaded.unk == unk
    assert loaded.vocab_size == tok.vocab_size
    text = "text 🙂 naïve"
    assert loaded.encode(text) == tok.encode(text)
    assert json.loads(path.read_text())["type"] == "CharTokenizer"


def test_save_leaves_no_temporary_file(tmp_path):
    CharTokenizer().build_vocab("abc").save(tmp_path / "t.json")
    assert os.listdir(tmp_path) == ["t.json"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_interrupted_save_keeps_previous_file(tmp_path, monkeypatch, failing):
    import tinytorch.text._io as io_module

    path = tmp_path / "t.json"
    CharTokenizer().build_vocab("abc").save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(io_module.os, failing, boom)
    with pytest.raises(OSError, match="disk full"):
        CharTokenizer().build_vocab("xyz").save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["t.json"]  # temporary file cleaned up
    assert CharTokenizer.load(path).chars == ("a", "b", "c")


def test_save_before_build_vocab_raises(tmp_path):
    with pytest.raises(RuntimeError, match="build_vocab"):
        CharTokenizer().save(tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()


def test_save_into_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        CharTokenizer().build_vocab("ab").save(tmp_path / "missing" / "t.json")


def _doc(**fields):
    base = {"type": "CharTokenizer", "format_version": 1, "unk": "error", "chars": ["a", "b"]}
    base.update(fields)
    return json.dumps(base)


@pytest.mark.parametrize(
    "content, pattern",
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (_doc(type="BPETokenizer"), "'type' field is 'BPETokenizer'"),
        (_doc(format_version=99), "unsupported CharTokenizer format_version 99"),
        (
            json.dumps({"type": "CharTokenizer", "format_version": 1, "chars": ["a"]}),
            "missing field 'unk'",
        ),
        (
            json.dumps({"type": "CharTokenizer", "format_version": 1, "unk": "error"}),
            "missing field 'chars'",
        ),
        (_doc(chars="ab"), "field 'chars' must be list"),
        (_doc(unk="skip"), "field 'unk' must be one of"),
        (_doc(chars=[]), "'chars' is empty"),
        (_doc(chars=["a", "bc"]), r"chars\[1\] must be a single character"),
        (_doc(chars=["a", 1]), r"chars\[1\] must be a single character"),
        (_doc(chars=["b", "a"]), "strictly sorted"),
        (_doc(chars=["a", "a"]), "strictly sorted"),
    ],
)
def test_load_malformed_file_raises_clear_error(tmp_path, content, pattern):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=pattern):
        CharTokenizer.load(path)


def test_load_missing_file_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        CharTokenizer.load(tmp_path / "nope.json")
