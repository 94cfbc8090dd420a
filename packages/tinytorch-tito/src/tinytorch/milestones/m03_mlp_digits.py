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
import time

import numpy as np

from tinytorch import nn
from tinytorch.data import DataLoader, TensorDataset, digits_split
from tinytorch.optim import Adam, CosineSchedule, Trainer
from tinytorch.tensor import Generator, manual_seed

ACCURACY_BAR = 0.97
TIME_BAR = 60.0  # seconds
SPLIT_SEED = 0  # the held-out split is the same whatever the training seed


def load_data(images: bool = False) -> tuple[TensorDataset, TensorDataset]:
    """The digits as standardised float32 ``(train, test)`` TensorDatasets.

    ``images=False`` gives samples of shape ``(64,)``, ``True`` ``(1, 8, 8)``.
    Mean and standard deviation are those of the *training* pixels (one
    scalar each): the test set must not leak into training.
    """
    train, test = digits_split(test_fraction=0.2, seed=SPLIT_SEED, images=images)
    mean, std = train.data.mean(), train.data.std()

    def standardise(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    return (TensorDataset(standardise(train.data), train.targets),
            TensorDataset(standardise(test.data), test.targets))


def build_model(hidden: int = 128) -> nn.Sequential:
    """``64 -> hidden -> 10`` with a ReLU between the two linear layers."""
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 epochs instead of 20")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--progress", action="store_true", help="print one line per epoch")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (15 if args.quick else 20)
    if epochs < 1 or args.batch_size < 1 or not args.lr > 0:
        parser.error("--epochs and --batch-size must be >= 1 and --lr > 0")

    start = time.perf_counter()
    manual_seed(args.seed)
    train_set, test_set = load_data()
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              generator=Generator(args.seed))
    test_loader = DataLoader(test_set, batch_size=512)

    model = build_model(args.hidden)
    optimizer = Adam(model.parameters(), lr=args.lr)
    # Cosine decay of the learning rate to 0 over the run: big steps early,
    # small ones at the end, so the last epochs settle instead of bouncing.
    schedule = CosineSchedule(optimizer, T_max=epochs * len(train_loader))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler=schedule,
                      progress="text" if args.progress else False)
    history = trainer.fit(train_loader, epochs)
    result = trainer.evaluate(test_loader)
    elapsed = time.perf_counter() - start

    accuracy = float(result["accuracy"])
    passed = accuracy >= ACCURACY_BAR and elapsed < TIME_BAR
    print("Milestone 3 (1986): MLP trained by backpropagation on the 8x8 digits")
    print(f"  model {model.num_parameters():,} parameters: 64 -> {args.hidden} -> 10 (ReLU)")
    print(f"  {len(train_set)} training / {len(test_set)} held-out images, {epochs} epochs, "
          f"batch {args.batch_size}, Adam lr {args.lr:g} with cosine decay, seed {args.seed}")
    print(f"  train loss {history['train_loss'][0]:.3f} (epoch 1) -> "
          f"{history['train_loss'][-1]:.4f} (epoch {epochs}); test loss {result['loss']:.4f}")
    print(f"  test accuracy {accuracy:.2%} (bar {ACCURACY_BAR:.0%}) in {elapsed:.1f} s "
          f"(bar {TIME_BAR:.0f} s): {'PASSED' if passed else 'FAILED'}")
    return {
        "milestone": "m03_mlp_digits",
        "accuracy": accuracy,
        "test_loss": float(result["loss"]),
        "train_loss": history["train_loss"][-1],
        "epochs": epochs,
        "seconds": elapsed,
        "bar": ACCURACY_BAR,
        "time_bar": TIME_BAR,
        "passed": passed,
    }


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
