"""tinytorch.text: turning text into token ids, and token ids into training windows.

- :class:`CharTokenizer`: one id per character, vectorised with NumPy.
- :class:`BPETokenizer`: byte-level byte-pair encoding (GPT-2 style);
  ``BPETokenizer.from_gpt2(vocab_json, merges_txt)`` reads GPT-2's own files.
- :func:`tokenize_dataset`: encode a list of texts to int64 arrays.
- :class:`LanguageModelDataset`: ``(input, target)`` windows of a token
  stream, target = input shifted by one, plus nanoGPT-style random batches.

Everything returns NumPy int64 arrays; ``tinytorch.data.DataLoader`` collates
them into Tensors. This package depends on NumPy only.
"""

from .bpe import MAX_TOKEN_BYTES, MAX_VOCAB_SIZE, PRETOKENIZE_PATTERN, BPETokenizer, pretokenize
from .char import UNK_PLACEHOLDER, UNK_TOKEN, CharTokenizer
from .dataset import LanguageModelDataset, tokenize_dataset
from .gpt2 import bytes_to_unicode, gpt2_pattern

__version__ = "0.2.1"

__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "LanguageModelDataset",
    "MAX_TOKEN_BYTES",
    "MAX_VOCAB_SIZE",
    "PRETOKENIZE_PATTERN",
    "UNK_PLACEHOLDER",
    "UNK_TOKEN",
    "__version__",
    "bytes_to_unicode",
    "gpt2_pattern",
    "pretokenize",
    "tokenize_dataset",
]
