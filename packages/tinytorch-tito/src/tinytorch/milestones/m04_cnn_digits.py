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
import time

import numpy as np

from tinytorch import nn
from tinytorch.data import DataLoader, TensorDataset, digits_split
from tinytorch.optim import Adam, CosineSchedule, Trainer
from tinytorch.tensor import Generator, manual_seed

ACCURACY_BAR = 0.98
TIME_BAR = 120.0  # seconds
SPLIT_SEED = 0  # the held-out split is the same whatever the training seed


def load_data() -> tuple[TensorDataset, TensorDataset]:
    """The digits as standardised float32 ``(1, 8, 8)`` images: ``(train, test)``.

    Mean and standard deviation are those of the *training* pixels (one
    scalar each): the test set must not leak into training.
    """
    train, test = digits_split(test_fraction=0.2, seed=SPLIT_SEED, images=True)
    mean, std = train.data.mean(), train.data.std()

    def standardise(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    return (TensorDataset(standardise(train.data), train.targets),
            TensorDataset(standardise(test.data), test.targets))


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


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="15 epochs instead of 20")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
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

    model = build_model()
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
    print("Milestone 4 (1998): LeNet-style CNN on the 8x8 digits")
    print(f"  model {model.num_parameters():,} parameters: "
          "conv 3x3 (16) -> pool -> conv 3x3 (32) -> pool -> 128 -> 64 -> 10")
    print(f"  {len(train_set)} training / {len(test_set)} held-out images, {epochs} epochs, "
          f"batch {args.batch_size}, Adam lr {args.lr:g} with cosine decay, seed {args.seed}")
    print(f"  train loss {history['train_loss'][0]:.3f} (epoch 1) -> "
          f"{history['train_loss'][-1]:.4f} (epoch {epochs}); test loss {result['loss']:.4f}")
    print(f"  test accuracy {accuracy:.2%} (bar {ACCURACY_BAR:.0%}) in {elapsed:.1f} s "
          f"(bar {TIME_BAR:.0f} s): {'PASSED' if passed else 'FAILED'}")
    return {
        "milestone": "m04_cnn_digits",
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
