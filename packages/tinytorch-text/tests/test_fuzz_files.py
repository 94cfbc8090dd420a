"""Fuzz the tokenizer loaders: any file either loads or raises ValueError
naming the path, within a time bound; the file is never changed."""

from __future__ import annotations

import json
import time

import pytest

from tinytorch.text import PRETOKENIZE_PATTERN, BPETokenizer, CharTokenizer

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
TIME_BOUND = 5.0


def check(cls, path):
    before = path.read_bytes()
    start = time.perf_counter()
    try:
        cls.load(path)
    except ValueError as exc:
        assert str(path) in str(exc)
    assert time.perf_counter() - start < TIME_BOUND
    assert path.read_bytes() == before


ids = st.integers(-2, 300)
merges = st.lists(st.one_of(st.lists(ids, min_size=2, max_size=2),
                            st.lists(st.integers(255, 300), min_size=2, max_size=2),
                            st.lists(ids, max_size=3), st.text(max_size=3), st.none()),
                  max_size=60)
bpe_docs = st.fixed_dictionaries(
    {"type": st.sampled_from(["BPETokenizer", "CharTokenizer"]),
     "format_version": st.sampled_from([1, 2, "1"]),
     "target_vocab_size": st.one_of(st.integers(200, 400), st.just(10**12), st.text(max_size=2)),
     "pattern": st.sampled_from([PRETOKENIZE_PATTERN, "x"]),
     "merges": merges})
char_docs = st.fixed_dictionaries(
    {"type": st.sampled_from(["CharTokenizer", "BPETokenizer"]),
     "format_version": st.sampled_from([1, 0]),
     "unk": st.sampled_from(["error", "replace", "skip", "bogus"]),
     "chars": st.one_of(st.lists(st.characters(), max_size=30),
                        st.lists(st.text(max_size=2), max_size=10))})


@settings(**SETTINGS)
@given(doc=bpe_docs, drop=st.sampled_from([None, "merges", "pattern", "target_vocab_size"]))
def test_bpe_documents(tmp_path_factory, doc, drop):
    if drop:
        doc.pop(drop)
    path = tmp_path_factory.mktemp("fuzz") / "bpe.json"
    path.write_text(json.dumps(doc))
    check(BPETokenizer, path)


@settings(**SETTINGS)
@given(doc=char_docs)
def test_char_documents(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("fuzz") / "char.json"
    path.write_text(json.dumps(doc))
    check(CharTokenizer, path)


@settings(**SETTINGS)
@given(data=st.binary(max_size=300), cls=st.sampled_from([BPETokenizer, CharTokenizer]))
def test_arbitrary_bytes(tmp_path_factory, data, cls):
    path = tmp_path_factory.mktemp("fuzz") / "tok.json"
    path.write_bytes(data)
    check(cls, path)
