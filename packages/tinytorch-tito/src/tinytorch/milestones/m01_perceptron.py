"""Milestone 1 (1957): Rosenblatt's perceptron.

History. In 1957 Frank Rosenblatt, at the Cornell Aeronautical Laboratory,
described the perceptron: one artificial neuron that sums weighted inputs and
fires when the sum crosses a threshold, ``y = sign(w . x + b)``. Its weights
were not designed but *learned*, by a rule simple enough to build in
hardware (the Mark I Perceptron): when the neuron answers wrongly on an
example ``(x, y)`` with ``y`` in ``{-1, +1}``, move the weights towards the
right answer,

    w <- w + lr * y * x,        b <- b + lr * y.

The idea. A mistake on a positive example tilts ``w`` towards ``x``; one on
a negative example tilts it away. Novikoff (1962) proved that when some line
separates the two classes with a margin ``gamma``, the rule stops making
mistakes after at most ``(R / gamma)^2`` updates (``R`` the largest ``|x|``):
learning provably works, for data a single line can split.

This script generates two seeded, linearly separable clusters of 2-D points,
trains one neuron (a ``tinytorch.nn.Linear(2, 1)``) with the perceptron rule
and checks it classifies held-out points with at least 95% accuracy. The
rule is applied to all the mistakes of a pass at once (the *batch*
perceptron: the sum of the per-example updates), so each pass is one matrix
product instead of a Python loop over examples; it converges on separable
data as the per-example rule does.

    python milestones/m01_perceptron.py            # 1000 points
    python milestones/m01_perceptron.py --quick    # 400 points
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from tinytorch import nn
from tinytorch.autograd import no_grad
from tinytorch.tensor import Tensor

from . import _common

ACCURACY_BAR = 0.95  # the milestone: >= 95% of the held-out points right
MIDDLE = np.array([1.0, 2.0])  # the clusters sit at MIDDLE + OFFSET and MIDDLE - OFFSET
OFFSET = np.array([1.0, 0.5])


def make_clusters(n: int, seed: int, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clusters of 2-D points that a line separates.

    The clusters are centred at ``m + c`` (label +1) and ``m - c`` (label
    -1) with unit variance (``m = MIDDLE``, ``c = OFFSET``); every point
    closer than ``margin`` to the line ``c . (x - m) = 0`` between them, or
    on the wrong side of it, is redrawn. So that line separates the classes
    with margin ``margin``: the data is linearly separable by construction,
    and because the line misses the origin the bias has to be learned too.

    Returns:
        ``X`` float32 ``(n, 2)`` and ``y`` float32 ``(n,)`` in ``{-1, +1}``,
        the two classes of equal size (``n`` even), shuffled.
    """
    rng = np.random.default_rng(seed)
    middle, offset = MIDDLE, OFFSET
    unit = offset / np.linalg.norm(offset)
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    X = np.empty((n, 2))
    todo = np.arange(n)
    while todo.size:  # rejection sampling, vectorised over the points still to draw
        X[todo] = middle + y[todo, None] * offset + rng.standard_normal((todo.size, 2))
        distance = y[todo] * ((X[todo] - middle) @ unit)  # signed distance to the line
        todo = todo[distance < margin]
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order].astype(np.float32)


def predict(neuron: nn.Linear, X: Tensor) -> np.ndarray:
    """The perceptron's answers ``sign(w . x + b)`` in ``{-1, +1}``: ``(N,)``."""
    with no_grad():
        scores = neuron(X).numpy()[:, 0]  # (N,)
    return np.where(scores > 0, 1.0, -1.0).astype(np.float32)


def train_perceptron(
    neuron: nn.Linear, X: Tensor, y: Tensor, lr: float = 1.0, max_epochs: int = 1000
) -> int:
    """Rosenblatt's rule, summed over each pass: ``w += lr * sum_mistakes y_i x_i``.

    Args:
        neuron: a ``Linear(2, 1)``; its weight ``(2, 1)`` and bias ``(1,)``
            are updated in place.
        X: ``(N, 2)`` float32 points. y: ``(N, 1)`` float32 labels in {-1, +1}.

    Returns:
        The number of passes made (the last one made no mistake, unless
        ``max_epochs`` ran out). One pass costs O(N) (two small GEMMs).
    """
    with no_grad():  # the perceptron rule is not gradient descent: no graph needed
        for epoch in range(1, max_epochs + 1):
            scores = neuron(X)  # (N, 1)
            # A point exactly on the line (score 0) counts as a mistake, as in
            # Rosenblatt's rule: the all-zero starting weights get updated.
            wrong = (y * scores <= 0).astype(np.float32)  # (N, 1), 1 where misclassified
            if wrong.sum().item() == 0:
                return epoch
            push = y * wrong  # (N, 1): y_i on the mistakes, 0 elsewhere
            neuron.weight.data += lr * (push.T @ X).numpy()  # (1, 2), (out, in)
            neuron.bias.data += lr * push.sum(axis=0).numpy()  # (1,)
    return max_epochs


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer points (for tests)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--points", type=int, default=None, help="training + test points")
    args = parser.parse_args(argv)
    n = args.points if args.points is not None else (400 if args.quick else 1000)
    if n < 8:
        parser.error(f"--points must be >= 8 (some to train on, some held out), got {n}")
    n -= n % 2

    start = time.perf_counter()
    X, y = make_clusters(n, args.seed)
    n_train = int(0.75 * n)  # 75% to learn from, 25% held out to measure
    X_train, y_train = Tensor(X[:n_train]), Tensor(y[:n_train, None])

    neuron = nn.Linear(2, 1)
    nn.init.zeros_(neuron.weight)  # Rosenblatt started from zero weights
    nn.init.zeros_(neuron.bias)
    epochs = train_perceptron(neuron, X_train, y_train)

    train_acc = float(np.mean(predict(neuron, X_train) == y[:n_train]))
    test_acc = float(np.mean(predict(neuron, Tensor(X[n_train:])) == y[n_train:]))
    elapsed = time.perf_counter() - start
    # The rule's weights grow with every update; only the line they define
    # matters, so it is printed with a unit normal vector.
    norm = float(np.linalg.norm(neuron.weight.numpy()))
    w = neuron.weight.numpy()[0] / norm
    b = float(neuron.bias.numpy()[0]) / norm
    passed = test_acc >= ACCURACY_BAR

    print("Milestone 1 (1957): Rosenblatt's perceptron on two separable clusters")
    print(f"  {n_train} training points, {n - n_train} held out, seed {args.seed}")
    unit = OFFSET / np.linalg.norm(OFFSET)
    print(f"  learned line: {w[0]:+.3f}*x1 {w[1]:+.3f}*x2 {b:+.3f} = 0 after {epochs} passes")
    print(f"  (the data was drawn around {unit[0]:+.3f}*x1 {unit[1]:+.3f}*x2 "
          f"{-unit @ MIDDLE:+.3f} = 0)")
    print(f"  train accuracy {train_acc:.1%}, test accuracy {test_acc:.1%} "
          f"(bar {ACCURACY_BAR:.0%}) in {elapsed:.2f} s: {_common.verdict(passed)}")
    return _common.result("m01_perceptron", passed, accuracy=test_acc, train_accuracy=train_acc,
                          epochs=epochs, seconds=elapsed, bar=ACCURACY_BAR)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
