"""BPETokenizer: learned merges, round-trips, compression, errors, save/load."""

import json
import os
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tinytorch.text import BPETokenizer, pretokenize

REPO_ROOT = Path(__file__).resolve().parents[3]


def find_shakespeare():
    """Path of shakespeare.txt: $TINYTORCH_SHAKESPEARE, the shared data folder, a package's copy."""
    candidates = []
    if os.environ.get("TINYTORCH_SHAKESPEARE"):
        candidates.append(Path(os.environ["TINYTORCH_SHAKESPEARE"]))
    candidates.append(REPO_ROOT.parent / "shared" / "data" / "shakespeare.txt")
    candidates.extend(sorted(REPO_ROOT.glob("packages/*/src/**/shakespeare.txt")))
    for path in candidates:
        if path.is_file():
            return path
    pytest.skip("shakespeare.txt not found (set TINYTORCH_SHAKESPEARE)")


def naive_bpe(corpus, n_merges):
    """Reference trainer: recount every pair after every merge (slow, obviously right).

    ``corpus`` is a str or a list of str. Returns the merges and the final
    segmentation of each distinct chunk.
    """
    texts = [corpus] if isinstance(corpus, str) else corpus
    freq = Counter(chunk for text in texts for chunk in pretokenize(text))
    words = {c: list(c.encode("utf-8")) for c in freq}
    merges = []
    for k in range(n_merges):
        counts = Counter()
        for chunk, ids in words.items():
            for pair in zip(ids, ids[1:]):
                counts[pair] += freq[chunk]
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest
        merges.append(best)
        new_id = 256 + k
        for chunk, ids in words.items():
            out, i = [], 0
            while i < len(ids):
                if i + 1 < len(ids) and (ids[i], ids[i + 1]) == best:
                    out.append(new_id)
                    i += 2
                else:
                    out.append(ids[i])
                    i += 1
            words[chunk] = out
    return merges, words


# ------------------------------------------------------------------ merges


def test_most_frequent_pair_is_merged_first():
    # one chunk "aaabdaaabac": (a, a) occurs 4 times, more than any other pair
    tok = BPETokenizer(260).train("aaabdaaabac")
    a, b, c = ord("a"), ord("b"), ord("c")
    assert tok.merges == [
        (a, a),  # 4 occurrences -> 256 "aa"
        (a, b),  # 2, ties with (256, a) and the smaller pair wins -> 257 "ab"
        (256, 257),  # "aa" "ab" twice -> 258 "aaab"
        (a, c),  # all remaining pairs occur once; (97, 99) is the smallest
    ]
    assert tok.vocab[256:] == [b"aa", b"ab", b"aaab", b"ac"]
    assert tok.encode("aaabdaaabac") == [258, ord("d"), 258, 259]


def test_merges_never_cross_word_boundaries():
    tok = BPETokenizer(263).train("low lower lowest " * 20)
    assert tok.merges[:4] == [(ord("l"), ord("o")), (256, ord("w")), (32, 257), (258, ord("e"))]
    for token in tok.vocab[256:]:
        # a space may only start a token: it belongs to the word after it
        assert b" " not in token[1:]


@pytest.mark.parametrize(
    "corpus, n_merges",
    [
        ("aaaa aaa aa a aaaaaaa", 8),  # overlapping pairs of one symbol
        ("abababab abab ba ba bab", 10),
        ("the cat sat on the mat; the cat ate the rat. " * 3, 40),
        (["héllo wörld 🙂🙂", "ünïcödé ☃☃☃", "日本語日本語"], 30),
    ],
    ids=["one-symbol-runs", "alternating", "english", "unicode-texts"],
)
def test_incremental_training_equals_full_recount(corpus, n_merges):
    expected_merges, expected_words = naive_bpe(corpus, n_merges)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # tiny corpora may run out of pairs
        tok = BPETokenizer(256 + n_merges).train(corpus)
    assert tok.merges == expected_merges
    for chunk, ids in expected_words.items():
        assert tok.encode(chunk) == ids


def test_incremental_training_equals_full_recount_on_shakespeare_slice():
    text = find_shakespeare().read_text(encoding="utf-8")[:30_000]
    expected_merges, expected_words = naive_bpe(text, 60)
    tok = BPETokenizer(256 + 60).train(text)
    assert tok.merges == expected_merges
    assert tok.encode(text) == [i for c in pretokenize(text) for i in expected_words[c]]


def test_training_is_deterministic_and_list_equals_concatenation():
    texts = ["one fish two fish", " red fish blue fish"]
    a = BPETokenizer(270).train(texts)
    b = BPETokenizer(270).train(texts)
    assert a.merges == b.merges
    # the second text starts with a space, so no chunk spans the seam
    assert BPETokenizer(270).train("".join(texts)).merges == a.merges


def test_training_stops_early_with_a_warning_when_pairs_run_out():
    with pytest.warns(UserWarning, match="stopped after 2 merges"):
        tok = BPETokenizer(1000).train("abc")
    assert tok.merges == [(ord("a"), ord("b")), (256, ord("c"))]
    assert tok.vocab_size == 258
    assert tok.target_vocab_size == 1000


def test_vocab_size_256_learns_nothing_and_still_round_trips():
    tok = BPETokenizer(256).train("anything")
    assert tok.merges == [] and tok.vocab_size == 256
    assert tok.encode("hé") == list("hé".encode())
    assert tok.decode(tok.encode("hé")) == "hé"


def test_retraining_replaces_previous_merges():
    tok = BPETokenizer(257).train("xx")
    assert tok.merges == [(ord("x"), ord("x"))]
    tok.train("yy")
    assert tok.merges == [(ord("y"), ord("y"))]
    assert tok.encode("xx") == [ord("x"), ord("x")]


def test_verbose_prints_each_merge(capsys):
    BPETokenizer(258).train("aaab", verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("merge 1/2: (97, 97) -> 256 b'aa'")


# -------------------------------------------------------------- round trip


@pytest.fixture(scope="module")
def trained():
    corpus = (
        "The quick brown fox jumps over the lazy dog. It's 2024, isn't it? "
        "Ünïcödé: naïve café, Ελληνικά, 日本語, emoji 🙂👍🏽!\n\tindented   spaces  "
    ) * 5
    return BPETokenizer(360).train(corpus)


ROUND_TRIP_TEXTS = [
    "",
    " ",
    "a",
    "The quick brown fox",
    "unseen words: xylophone zephyr",
    "naïve café — déjà vu",
    "Ελληνικά, русский, 日本語, 한국어",
    "emoji 🙂👍🏽 flags 🇫🇷 zwj 👩‍👩‍👧",
    "tabs\tand\r\nnewlines\n\n   trailing   ",
    "\x00\x01 control \x7f",
    "snake_case_name __dunder__ it's we'll THEY'RE",
    "numbers 3.14159 1,000,000 ٣٤٥ ²",
    "\U0010ffff max code point",
]


@pytest.mark.parametrize("text", ROUND_TRIP_TEXTS)
def test_round_trip(trained, text):
    ids = trained.encode(text)
    assert all(0 <= i < trained.vocab_size for i in ids)
    assert trained.decode(ids) == text
    assert trained.decode(np.array(ids, dtype=np.int64)) == text
    assert trained.encode_array(text).tolist() == ids


def test_pretokenize_covers_the_text():
    text = "Hello world, it's 2024!  x_y\n\n"
    assert pretokenize("Hello world, it's 2024!") == [
        "Hello",
        " world",
        ",",
        " it",
        "'s",
        " 2024",
        "!",
    ]
    assert "".join(pretokenize(text)) == text


def test_encode_uses_merges():
    tok = BPETokenizer(258).train("hello hello hello")
    assert len(tok.encode("hello")) < len(b"hello")
    assert tok.decode(tok.encode("hello")) == "hello"


def test_clear_cache_does_not_change_encodings(trained):
    text = "The quick brown fox, unseen words"
    before = trained.encode(text)
    trained.clear_cache()
    assert trained.encode(text) == before


def test_decode_invalid_utf8_replaces(trained):
    # 0xE6 0x97 0xA5 is "日"; its first two bytes alone are an invalid sequence
    assert trained.decode([0xE6, 0x97]) == "\ufffd"
    assert trained.decode([ord("a"), 0xFF, ord("b")]) == "a\ufffdb"


def test_compresses_shakespeare():
    text = find_shakespeare().read_text(encoding="utf-8")
    tok = BPETokenizer(512).train(text[:100_000])
    held_out = text[200_000:250_000]
    n_bytes = len(held_out.encode("utf-8"))
    ids = tok.encode(held_out)
    assert tok.decode(ids) == held_out
    assert len(ids) < n_bytes
    # 256 merges of English text already save more than a third of the tokens
    assert len(ids) < 0.67 * n_bytes


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (lambda: BPETokenizer(255), ValueError, "at least 256"),
        (lambda: BPETokenizer(0), ValueError, "at least 256"),
        (lambda: BPETokenizer(300.0), TypeError, "vocab_size must be an int"),
        (lambda: BPETokenizer(True), TypeError, "vocab_size must be an int"),
        (lambda: BPETokenizer(300).encode("a"), RuntimeError, "not trained"),
        (lambda: BPETokenizer(300).decode([1]), RuntimeError, "not trained"),
        (lambda: BPETokenizer(300).train(b"bytes"), TypeError, "corpus must be a str"),
        (lambda: BPETokenizer(300).train(["a", None]), TypeError, "corpus item 1"),
        (
            lambda: BPETokenizer(300).train(["ok", "bad \udc80"]),
            ValueError,
            "corpus text 1 .* position 4",
        ),
        (
            lambda: BPETokenizer(257).train("aa").encode("x\ud800"),
            ValueError,
            "lone surrogate .* position 1",
        ),
        (lambda: BPETokenizer(257).train("aa").encode(None), TypeError, "text must be a str"),
        (
            lambda: BPETokenizer(257).train("aa").decode([0, 257]),
            ValueError,
            "id 257 at position 1",
        ),
        (lambda: BPETokenizer(257).train("aa").decode([-3]), ValueError, "id -3 at position 0"),
        (lambda: BPETokenizer(257).train("aa").decode([1.5]), TypeError, "integers"),
    ],
)
def test_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# --------------------------------------------------------------- save/load


def test_save_load_round_trip(tmp_path, trained):
    path = tmp_path / "bpe.json"
    trained.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded.merges == trained.merges
    assert loaded.vocab == trained.vocab
    assert loaded.vocab_size == trained.vocab_size
    assert loaded.target_vocab_size == trained.target_vocab_size
    for text in ROUND_TRIP_TEXTS:
        assert loaded.encode(text) == trained.encode(text)
    assert os.listdir(tmp_path) == ["bpe.json"]


def test_interrupted_save_keeps_previous_file(tmp_path, monkeypatch):
    import tinytorch.text._io as io_module

    path = tmp_path / "bpe.json"
    BPETokenizer(257).train("aa").save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io_module.os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        BPETokenizer(258).train("bbb").save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["bpe.json"]


def test_save_before_train_raises(tmp_path):
    with pytest.raises(RuntimeError, match="not trained"):
        BPETokenizer(300).save(tmp_path / "bpe.json")


def _doc(**fields):
    from tinytorch.text import PRETOKENIZE_PATTERN

    base = {
        "type": "BPETokenizer",
        "format_version": 1,
        "target_vocab_size": 300,
        "pattern": PRETOKENIZE_PATTERN,
        "merges": [[97, 97], [256, 98]],
    }
    base.update(fields)
    return json.dumps(base)


@pytest.mark.parametrize(
    "content, pattern",
    [
        ("", "invalid JSON"),
        ('"merges"', "expected a JSON object"),
        (_doc(type="CharTokenizer"), "'type' field is 'CharTokenizer'"),
        (_doc(format_version=2), "unsupported BPETokenizer format_version 2"),
        (_doc(target_vocab_size="300"), "'target_vocab_size' must be int"),
        (_doc(target_vocab_size=257), "smaller than 256 \\+ 2 merges"),
        (_doc(pattern=r"\w+"), "different pre-tokenization pattern"),
        (_doc(merges={"a": 1}), "'merges' must be list"),
        (_doc(merges=[[97, 97], [256, 257]]), r"merges\[1\] must be a pair of ids in \[0, 257\)"),
        (_doc(merges=[[97]]), r"merges\[0\] must be a pair"),
        (_doc(merges=[[97, -1]]), r"merges\[0\] must be a pair"),
        (_doc(merges=[[97, True]]), r"merges\[0\] must be a pair"),
        (_doc(merges=[[97, 97.0]]), r"merges\[0\] must be a pair"),
        (_doc(merges=[[97, 97], [97, 97]]), r"merges\[1\] repeats the earlier merge \(97, 97\)"),
    ],
)
def test_load_malformed_file_raises_clear_error(tmp_path, content, pattern):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=pattern):
        BPETokenizer.load(path)


def test_load_valid_document_encodes_with_its_merges(tmp_path):
    path = tmp_path / "ok.json"
    path.write_text(_doc())
    tok = BPETokenizer.load(path)
    assert tok.vocab[256:] == [b"aa", b"aab"]
    assert tok.encode("aab") == [257]
