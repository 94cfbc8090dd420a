"""The bundled Shakespeare corpus: present, complete, and identical to its source."""

from pathlib import Path

from tinytorch.data import load_shakespeare


def test_corpus_size_and_alphabet():
    text = load_shakespeare()
    assert len(text.encode("utf-8")) > 1_000_000
    assert len(set(text)) == 76


def test_plays_are_present():
    text = load_shakespeare()
    for word in ("HAMLET", "MACBETH", "OTHELLO", "ROMEO", "CORIOLANUS", "PROSPERO"):
        assert word in text, word


def test_matches_the_shared_source_when_available():
    source = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "shakespeare.txt"
    if source.exists():
        assert load_shakespeare() == source.read_text(encoding="utf-8")
