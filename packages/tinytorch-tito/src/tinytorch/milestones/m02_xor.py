"""Milestone 2 (1969): XOR, the limit of a single layer, and the hidden layer that lifts it.

History. In *Perceptrons* (1969) Marvin Minsky and Seymour Papert proved
what a single-layer perceptron cannot compute. The smallest example is XOR
("exclusive or": 1 when exactly one input is 1). Their analysis dampened
neural-network research for over a decade. A network with a *hidden layer*
computes XOR easily, but nobody knew a practical way to train one until
backpropagation became widely known (Rumelhart, Hinton & Williams, 1986).

The idea. One linear layer answers with the side of a line ``w . x + b = 0``
a point falls on. XOR needs ``(0,1)`` and ``(1,0)`` on one side and
``(0,0)`` and ``(1,1)`` on the other, which no line does::

    x2                      want  w.x + b > 0  at (0,1) and (1,0)
     1  (0,1)=1   (1,1)=0          w.x + b < 0  at (0,0) and (1,1)
     0  (0,0)=0   (1,0)=1   summing each pair: w1 + w2 + 2b > 0 and w1 + w2 + 2b < 0
         0         1   x1

A contradiction, so the best any line can do is 3 of the 4 points (75%).
A hidden layer maps the points to a new space (a ReLU or tanh feature per
hidden unit) where one line does separate them.

This script (1) checks the 75% ceiling numerically over a dense grid of
lines, (2) trains a single ``Linear(2, 2)`` layer with gradient descent and
shows it stays below 100%, (3) trains ``Linear(2, 8) -> Tanh -> Linear(8, 2)``
with backpropagation to 100%.

    python milestones/m02_xor.py
    python milestones/m02_xor.py --quick      # fewer training steps
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tinytorch import nn
from tinytorch.autograd import no_grad
from tinytorch.optim import Adam
from tinytorch.tensor import Tensor, manual_seed

from . import _common

# The four XOR points and their labels (class ids for CrossEntropyLoss).
X_XOR = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y_XOR = np.array([0, 1, 1, 0], dtype=np.int64)


def best_line_accuracy(n_angles: int = 720, n_offsets: int = 801) -> tuple[float, int]:
    """The best accuracy any line ``cos(t) x1 + sin(t) x2 + b > 0`` gets on XOR.

    Tries every combination of ``n_angles`` directions ``t`` in ``[0, 2 pi)``
    and ``n_offsets`` offsets ``b`` in ``[-2, 2]`` (both orientations of each
    line are covered by the angles): one ``(lines, 4)`` array of
    predictions, no Python loop over lines.

    Returns:
        ``(best_accuracy, lines_tried)``; the best is 0.75 (see the proof in
        the module docstring).
    """
    t = np.linspace(0.0, 2.0 * np.pi, n_angles, endpoint=False)
    W = np.stack([np.cos(t), np.sin(t)], axis=1)  # (A, 2)
    b = np.linspace(-2.0, 2.0, n_offsets)  # (B,)
    scores = (W @ X_XOR.T)[:, None, :] + b[None, :, None]  # (A, B, 4)
    correct = (scores > 0) == (Y_XOR == 1)  # (A, B, 4)
    return float(correct.mean(axis=-1).max()), n_angles * n_offsets


def train(model: nn.Module, steps: int, lr: float) -> float:
    """Full-batch training on the four points with Adam and cross-entropy.

    Returns the final training loss. Cost: ``steps`` forward/backward passes
    over a (4, 2) batch.
    """
    X, y = Tensor(X_XOR), Tensor(Y_XOR)
    loss_fn = nn.CrossEntropyLoss()
    opt = Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = loss_fn(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def accuracy(model: nn.Module) -> tuple[float, np.ndarray]:
    """``(accuracy, predicted classes (4,))`` of ``model`` on the XOR points."""
    with no_grad():
        pred = model(Tensor(X_XOR)).numpy().argmax(axis=1)
    return float(np.mean(pred == Y_XOR)), pred


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer training steps (for tests)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    steps = 300 if args.quick else 1000

    start = time.perf_counter()
    print("Milestone 2 (1969): XOR")
    print("  why one layer fails: a line w.x + b = 0 would need")
    print("    b > -w2 and b > -w1 (class 1 at (0,1), (1,0))  ->  w1 + w2 + 2b > 0")
    print("    b < 0 and w1 + w2 + b < 0 (class 0 at (0,0), (1,1))  ->  w1 + w2 + 2b < 0")
    print("  a contradiction: no line separates the classes, at most 3 of 4 points are right.")
    best, tried = best_line_accuracy()
    print(f"  checked {tried:,} lines: the best gets {best:.0%} of XOR right")

    manual_seed(args.seed)
    single = nn.Linear(2, 2)
    single_loss = train(single, steps, lr=0.05)
    single_acc, single_pred = accuracy(single)
    print(f"  single linear layer, {steps} Adam steps: loss {single_loss:.3f} "
          f"(log 2 = {np.log(2):.3f}: no better than a coin), accuracy {single_acc:.0%}, "
          f"predictions {single_pred.tolist()}")

    manual_seed(args.seed)
    mlp = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    mlp_loss = train(mlp, steps, lr=0.05)
    mlp_acc, mlp_pred = accuracy(mlp)
    elapsed = time.perf_counter() - start
    print(f"  2-layer MLP 2 -> 8 -> 2 (tanh), {steps} Adam steps: loss {mlp_loss:.4f}, "
          f"accuracy {mlp_acc:.0%}, predictions {mlp_pred.tolist()} (targets "
          f"{Y_XOR.tolist()})")

    passed = single_acc < 1.0 and best <= 0.75 and mlp_acc == 1.0
    print(f"  single layer {single_acc:.0%} < 100%, MLP {mlp_acc:.0%} (bar 100%) in "
          f"{elapsed:.2f} s: {_common.verdict(passed)}")
    return _common.result("m02_xor", passed, accuracy=mlp_acc, single_layer_accuracy=single_acc,
                          best_line_accuracy=best, mlp_loss=mlp_loss, steps=steps,
                          seconds=elapsed, bar=1.0)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
