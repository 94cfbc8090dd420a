"""Milestone 3 (1986): a multi-layer perceptron trained by backpropagation reads digits.

History. In 1986 David Rumelhart, Geoffrey Hinton and Ronald Williams
published "Learning representations by back-propagating errors" (Nature
323): the chain rule, applied layer by layer from the loss back to the
inputs, gives the gradient of every weight of a multi-layer network in one
backward pass that costs about as much as the forward pass. Hidden layers,
which Minsky and Papert had shown were needed (milestone 2), could now be
trained, and they learned useful internal features on their own.

The idea. An MLP alternates linear maps and nonlinearities::

    x (N, 64) --Linear--> (N, 128) --ReLU--> (N, 128) --Linear--> logits (N, 10)

Cross-entropy compares the logits with the true digit; autograd
(``tinytorch.autograd``) backpropagates its gradient; an optimizer
(``tinytorch.optim.Adam``) moves every weight a little downhill; the
``Trainer`` repeats that over shuffled mini-batches for a number of epochs.

The data: the 1797 8x8 handwritten digits bundled with ``tinytorch.data``
(UCI, 1998), split into a stratified 80% training set and a held-out 20%
test set (seeded). Pixels (0..16) are standardised with the training set's
mean and standard deviation. The bar: >= 97% test accuracy in under 60 s.

    python milestones/m03_mlp_digits.py
    python milestones/m03_mlp_digits.py --quick     # fewer epochs
"""

from __future__ import annotations

import argparse
import sys

from tinytorch import nn
from tinytorch.data import TensorDataset

from . import _common

ACCURACY_BAR = 0.97
TIME_BAR = 60.0  # seconds
SPLIT_SEED = _common.DIGITS_SPLIT_SEED  # the held-out split is the same whatever the seed


def load_data(images: bool = False) -> tuple[TensorDataset, TensorDataset]:
    """The digits as standardised float32 ``(train, test)`` TensorDatasets.

    ``images=False`` gives samples of shape ``(64,)``, ``True`` ``(1, 8, 8)``.
    Mean and standard deviation are those of the *training* pixels (one
    scalar each): the test set must not leak into training.
    """
    return _common.digits_data(images)


def build_model(hidden: int = 128) -> nn.Sequential:
    """``64 -> hidden -> 10`` with a ReLU between the two linear layers."""
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hidden", type=int, default=128)


def _build(args: argparse.Namespace) -> tuple[nn.Module, str]:
    return build_model(args.hidden), f"64 -> {args.hidden} -> 10 (ReLU)"


def main(argv: list[str] | None = None) -> dict:
    """Train the MLP (``--help`` lists the options); returns the result dict."""
    return _common.digits_main(
        argv, name="m03_mlp_digits", description=__doc__.splitlines()[0],
        title="Milestone 3 (1986): MLP trained by backpropagation on the 8x8 digits",
        build=_build, add_arguments=_add_arguments, images=False,
        accuracy_bar=ACCURACY_BAR, time_bar=TIME_BAR)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
