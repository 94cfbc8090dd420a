"""Milestone 4 (1998): a LeNet-style convolutional network reads digits.

History. Yann LeCun and colleagues at Bell Labs trained convolutional
networks on handwritten ZIP codes from 1989; "Gradient-based learning
applied to document recognition" (LeCun, Bottou, Bengio & Haffner, 1998)
presented LeNet-5, which read a large share of the cheques written in the
United States in the late 1990s. Its design (convolutions, pooling, then a
small classifier) is the template of the deep vision networks of 2012 on.

The idea. A convolution slides the same small filter (here 3x3) over every
position of the image: a stroke is detected wherever it appears, with few
weights (weight sharing), and each output depends only on a neighbourhood
(locality). Max pooling keeps the strongest response of each 2x2 block, so
the features tolerate small shifts, and halves the resolution::

    (N, 1, 8, 8) --Conv 3x3, 16--> (N, 16, 8, 8) --ReLU, MaxPool 2--> (N, 16, 4, 4)
                 --Conv 3x3, 32--> (N, 32, 4, 4) --ReLU, MaxPool 2--> (N, 32, 2, 2)
                 --Flatten--> (N, 128) --Linear, ReLU--> (N, 64) --Linear--> logits (N, 10)

``tinytorch.nn.Conv2d`` computes a convolution as im2col (every 3x3 patch
laid out as a row) followed by one matrix product, and its backward as the
transposed products; ``MaxPool2d`` routes each gradient to the maximum it
came from.

The data: the bundled 8x8 digits as ``(1, 8, 8)`` images, the same seeded,
stratified 80/20 split as milestone 3, standardised with the training
pixels' mean and standard deviation. The bar: >= 98% test accuracy in
under 120 s.

    python milestones/m04_cnn_digits.py
    python milestones/m04_cnn_digits.py --quick     # fewer epochs
"""

from __future__ import annotations

import argparse
import sys

from tinytorch import nn
from tinytorch.data import TensorDataset

from . import _common

ACCURACY_BAR = 0.98
TIME_BAR = 120.0  # seconds
SPLIT_SEED = _common.DIGITS_SPLIT_SEED  # the held-out split is the same whatever the seed


def load_data() -> tuple[TensorDataset, TensorDataset]:
    """The digits as standardised float32 ``(1, 8, 8)`` images: ``(train, test)``.

    Mean and standard deviation are those of the *training* pixels (one
    scalar each): the test set must not leak into training.
    """
    return _common.digits_data(images=True)


def build_model(c1: int = 16, c2: int = 32, hidden: int = 64) -> nn.Sequential:
    """Two conv/ReLU/max-pool stages, then a two-layer classifier (see the diagram)."""
    return nn.Sequential(
        nn.Conv2d(1, c1, kernel_size=3, padding=1),  # (N, c1, 8, 8)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, c1, 4, 4)
        nn.Conv2d(c1, c2, kernel_size=3, padding=1),  # (N, c2, 4, 4)
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, c2, 2, 2)
        nn.Flatten(),  # (N, c2 * 4)
        nn.Linear(c2 * 4, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),  # logits (N, 10)
    )


def _build(args: argparse.Namespace) -> tuple[nn.Module, str]:
    return build_model(), "conv 3x3 (16) -> pool -> conv 3x3 (32) -> pool -> 128 -> 64 -> 10"


def main(argv: list[str] | None = None) -> dict:
    """Train the CNN (``--help`` lists the options); returns the result dict."""
    return _common.digits_main(
        argv, name="m04_cnn_digits", description=__doc__.splitlines()[0],
        title="Milestone 4 (1998): LeNet-style CNN on the 8x8 digits",
        build=_build, images=True, accuracy_bar=ACCURACY_BAR, time_bar=TIME_BAR)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
