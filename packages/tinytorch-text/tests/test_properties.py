"""Property tests: decode(encode(s)) == s for arbitrary text."""

import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tinytorch.text import UNK_PLACEHOLDER, BPETokenizer, CharTokenizer, pretokenize  # noqa: E402

# every code point, lone surrogates included (a Python str may hold them)
any_str = st.text(alphabet=st.characters(blacklist_categories=()), max_size=60)
# valid Unicode text: what UTF-8 (and so byte-level BPE) can encode
unicode_text = st.text(max_size=80)

_BPE = BPETokenizer(320).train(
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, "
    "must be in want of a wife. Ünïcödé 日本語 🙂🙂 x_y 3.14\n\n" * 3
)


@settings(max_examples=150, deadline=None)
@given(unicode_text)
def test_bpe_round_trip(text):
    ids = _BPE.encode(text)
    assert _BPE.decode(ids) == text
    assert len(ids) <= len(text.encode("utf-8"))  # merges only ever shorten


@settings(max_examples=40, deadline=None)
@given(st.lists(unicode_text, min_size=1, max_size=4), unicode_text)
def test_bpe_trained_on_arbitrary_text_round_trips(corpus, text):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tok = BPETokenizer(270).train(corpus)
    for s in [*corpus, text]:
        assert tok.decode(tok.encode(s)) == s


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 319), max_size=40))
def test_bpe_decode_of_arbitrary_ids_never_fails(ids):
    out = _BPE.decode(ids)
    assert isinstance(out, str)
    assert out.encode("utf-8", "surrogatepass") is not None


@settings(max_examples=150, deadline=None)
@given(any_str)
def test_pretokenize_covers_any_string(text):
    assert "".join(pretokenize(text)) == text


@settings(max_examples=150, deadline=None)
@given(any_str.filter(bool))
def test_char_round_trip(text):
    tok = CharTokenizer().build_vocab(text)
    ids = tok.encode_array(text)
    assert ids.shape == (len(text),)
    assert tok.decode(ids) == text


@settings(max_examples=100, deadline=None)
@given(any_str.filter(bool), any_str)
def test_char_unknown_characters_become_placeholder(corpus, text):
    tok = CharTokenizer(unk="token").build_vocab(corpus)
    ids = np.array(tok.encode(text), dtype=np.int64)
    known = set(corpus)
    assert tok.decode(ids) == "".join(c if c in known else UNK_PLACEHOLDER for c in text)
    assert ((ids == tok.unk_id) == np.array([c not in known for c in text], dtype=bool)).all()
