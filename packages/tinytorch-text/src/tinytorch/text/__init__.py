"""tinytorch.text: turning text into token ids, and token ids into training windows.

- :class:`CharTokenizer`: one id per character, vectorised with NumPy.
- :class:`BPETokenizer`: byte-level byte-pair encoding (GPT-2 style).
- :func:`tokenize_dataset`: encode a list of texts to int64 arrays.
- :class:`LanguageModelDataset`: ``(input, target)`` windows of a token
  stream, target = input shifted by one, plus nanoGPT-style random batches.

Everything returns NumPy int64 arrays; ``tinytorch.data.DataLoader`` collates
them into Tensors. This package depends on NumPy only.
"""

from .bpe import MAX_TOKEN_BYTES, MAX_VOCAB_SIZE, PRETOKENIZE_PATTERN, BPETokenizer, pretokenize
from .char import UNK_PLACEHOLDER, UNK_TOKEN, CharTokenizer
from .dataset import LanguageModelDataset, tokenize_dataset

__version__ = "0.1.0"

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
    "pretokenize",
    "tokenize_dataset",
]
