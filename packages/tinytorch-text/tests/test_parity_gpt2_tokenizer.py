"""BPETokenizer.from_gpt2 against Hugging Face ``tokenizers``' byte-level BPE (GPT-2's).

A byte-level BPE is trained with ``tokenizers`` on Shakespeare, saved as
vocab.json / merges.txt in a temporary folder (no download), read back with
``BPETokenizer.from_gpt2``; both must give the same ids and decodings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

tokenizers = pytest.importorskip("tokenizers")

from tinytorch.text import BPETokenizer  # noqa: E402

UNICODE_SAMPLE = (
    "Héllo wörld! Καλημέρα κόσμε. Привет, мир! 你好，世界。こんにちは 🌍🚀 \U0001F600\U0001F3FD "
    "x² ½ Ⅻ ٣٤ 一二 e\u0301 \x1c\x1d\x1e tab\there  \n\n  spaces   end it's 'll I'M don't "
    "123abc _under_score_ ΑΒΓ\u00a0nbsp\u2003em\u3000ideo \u200b zero-width \r\n\u2028\u0085"
)


def shakespeare() -> str:
    try:
        from tinytorch.data import load_shakespeare
        return load_shakespeare()
    except ImportError:
        root = Path(__file__).resolve().parents[3]
        for p in (root.parent / "shared" / "data" / "shakespeare.txt",):
            if p.is_file():
                return p.read_text(encoding="utf-8")
    pytest.skip("the Shakespeare corpus is not available")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpe")
    text = shakespeare()
    hf = tokenizers.ByteLevelBPETokenizer()  # GPT-2's pre-tokenizer and byte table
    hf.train_from_iterator([text, UNICODE_SAMPLE], vocab_size=1500, min_frequency=2,
                           show_progress=False)
    hf.save_model(str(folder))
    ours = BPETokenizer.from_gpt2(folder / "vocab.json", folder / "merges.txt")
    return hf, ours, text


def test_same_ids_on_shakespeare(pair):
    hf, ours, text = pair
    assert ours.vocab_size == hf.get_vocab_size()
    ids = ours.encode(text)
    assert ids == hf.encode(text).ids
    assert ours.decode(ids) == text == hf.decode(ids)


@pytest.mark.parametrize("text", [UNICODE_SAMPLE, *UNICODE_SAMPLE.split(" "), "", " ", "  \n"])
def test_same_ids_on_unicode(pair, text):
    hf, ours, _ = pair
    assert ours.encode(text) == hf.encode(text).ids
    assert ours.decode(ours.encode(text)) == text


def test_same_decoding_of_arbitrary_ids(pair):
    hf, ours, _ = pair
    ids = list(range(0, ours.vocab_size, 7))
    assert ours.decode(ids) == hf.decode(ids)
