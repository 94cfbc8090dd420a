"""tinytorch.milestones: the historical milestones of the course, as a package.

Each milestone is a module with a ``main(argv=None) -> dict`` that trains a
model end to end and reports whether it met the milestone's bar (key
``"passed"``); ``tito milestone run N`` and the scripts in the repository's
``milestones/`` folder both call it. :data:`MILESTONES` lists them in order.
Shipped in the ``tinytorch-tito`` distribution, whose version this is.

>>> from tinytorch.milestones import find
>>> find("1").module
'tinytorch.milestones.m01_perceptron'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

__version__ = "0.1.3"


@dataclass(frozen=True)
class Milestone:
    """One milestone: ``key`` is what ``tito milestone run`` takes ("1", "5b")."""

    key: str
    year: str
    title: str
    bar: str
    module: str  # importable module name holding main(argv) -> dict

    def load(self) -> ModuleType:
        """Import the milestone's module (it trains nothing until ``main`` runs)."""
        return importlib.import_module(self.module)


_P = "tinytorch.milestones."
MILESTONES: tuple[Milestone, ...] = (
    Milestone("1", "1957", "Rosenblatt's perceptron learns a line between two clusters",
              ">= 95% held-out accuracy", _P + "m01_perceptron"),
    Milestone("2", "1969", "XOR: a single layer fails, a 2-layer MLP learns it",
              "single layer < 100%, MLP 100%", _P + "m02_xor"),
    Milestone("3", "1986", "an MLP trained by backpropagation reads 8x8 digits",
              ">= 97% test accuracy, < 60 s", _P + "m03_mlp_digits"),
    Milestone("4", "1998", "a LeNet-style CNN on the digits",
              ">= 98% test accuracy, < 120 s", _P + "m04_cnn_digits"),
    Milestone("5a", "2017", "a small transformer learns to reverse sequences",
              ">= 95% token accuracy, < 60 s", _P + "m05_reverse"),
    Milestone("5b", "2017", "a character-level GPT learns Shakespeare",
              "validation loss < 1.8 nats/char within 10 minutes", _P + "m05_shakespeare"),
    Milestone("6", "2018", "MLPerf-style benchmarking: validated TorchPerf Olympics submissions",
              "both submissions validate", _P + "m06_olympics"),
    Milestone("7", "", "quantization: float32 vs int8 vs int4 (PTQ and QAT)",
              "int8 MLP loses <= 1 point and is >= 3.5x smaller", _P + "m07_quantization"),
)


def find(key: str) -> Milestone:
    """The milestone called ``key`` ("1", "01", "5a", "m03_mlp_digits"; "5" is "5a").

    Raises:
        ValueError: no milestone has that key; the message lists them.
    """
    if not isinstance(key, str):
        raise TypeError(f"a milestone key is a str, got {type(key).__name__}")
    wanted = key.strip().lower().lstrip("m").lstrip("0") or "0"
    for m in MILESTONES:
        short = m.module.rsplit(".", 1)[1]
        if wanted in (m.key, m.key.rstrip("a")) or key.strip().lower() == short:
            return m
    keys = ", ".join(m.key for m in MILESTONES)
    raise ValueError(f"no milestone {key!r}: choose one of {keys}")


__all__ = ["__version__", "Milestone", "MILESTONES", "find"]
