"""Benchmark: train the digits MLP for 20 epochs, tinytorch vs PyTorch CPU.

The workload of milestone 3 (``milestones/m03_mlp_digits.py``): the bundled
8x8 digits (1438 training images after the stratified 80/20 split,
standardised), an MLP ``64 -> 128 -> ReLU -> 10``, cross-entropy, Adam
(lr 3e-3), batch 32, 20 epochs (900 optimizer steps). Both frameworks run
the same plain training loop::

    for each epoch, for each batch of 32 (the same shuffled order for both):
        loss = cross_entropy(model(x), y); zero_grad(); loss.backward(); step()

from the same initial weights (tinytorch's, copied into ``torch.nn.Linear``,
which stores the same ``(out, in)`` layout) over the same batches, so both reach
(nearly, float32 rounding aside) the same test accuracy, printed as a check
that the two runs did the same work. One more tinytorch row times the same
training through the milestone's path (``tinytorch.data.DataLoader`` +
``tinytorch.optim.Trainer``, which draws the same shuffles), whose
bookkeeping (loss checks, history) is part of what a user pays.

PyTorch is timed with its default number of intra-op threads and with one
thread; the faster of the two is the reference (at this size threads cannot
help, and on shared cores they wait on each other at every op).

Each full training run is timed on its own; the configurations alternate
(``--repeat`` runs each, after one warm-up run) and the median is reported.
Target: tinytorch (plain loop) <= 1.5x PyTorch's time. Nothing is asserted:
the figures are printed.

Usage (from the repository root)::

    python benchmarks/bench_mlp.py [--repeat 5] [--epochs 20] [--optimizer adam|sgd]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import format_seconds, print_table, use_source_tree  # noqa: E402

use_source_tree()

from tinytorch import nn  # noqa: E402
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.data import DataLoader, TensorDataset, digits_split  # noqa: E402
from tinytorch.optim import SGD, Adam, Trainer  # noqa: E402
from tinytorch.tensor import Generator, Tensor, manual_seed  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

TARGET_RATIO = 1.5


def load_digits_standardised(seed: int = 0):
    """``(X_train, y_train, X_test, y_test)``: float32 ``(N, 64)`` standardised
    with the training pixels' mean/std, int64 labels (the milestone-3 split)."""
    train, test = digits_split(test_fraction=0.2, seed=seed)
    mean, std = train.data.mean(), train.data.std()
    X_train = ((train.data - mean) / std).astype(np.float32)
    X_test = ((test.data - mean) / std).astype(np.float32)
    return X_train, train.targets.astype(np.int64), X_test, test.targets.astype(np.int64)


def epoch_orders(n: int, epochs: int, batch: int, seed: int) -> list[list[np.ndarray]]:
    """The batches of every epoch, as index arrays: one seeded shuffle per epoch."""
    rng = np.random.default_rng(seed)
    orders = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        orders.append([perm[i:i + batch] for i in range(0, n, batch)])
    return orders


def initial_weights(hidden: int, seed: int) -> list[np.ndarray]:
    """tinytorch's default initialisation of ``64 -> hidden -> 10``, as arrays
    ``[W1 (hidden, 64), b1, W2 (10, hidden), b2]`` (``(out, in)`` layouts)."""
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    return [p.numpy().copy() for p in model.parameters()]


# ------------------------------------------------------------------ tinytorch


def tinytorch_model(weights: list[np.ndarray]) -> nn.Sequential:
    model = nn.Sequential(nn.Linear(64, weights[0].shape[0]), nn.ReLU(),
                          nn.Linear(weights[0].shape[0], 10))
    for p, w in zip(model.parameters(), weights):
        p.data[...] = w
    return model


def tinytorch_optimizer(params, name: str, lr: float):
    return Adam(params, lr=lr) if name == "adam" else SGD(params, lr=lr, momentum=0.9)


def train_tinytorch(data, weights, orders, optimizer: str, lr: float) -> float:
    """The plain loop; returns the test accuracy."""
    X_train, y_train, X_test, y_test = data
    model = tinytorch_model(weights)
    opt = tinytorch_optimizer(model.parameters(), optimizer, lr)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for batches in orders:
        for idx in batches:
            loss = loss_fn(model(Tensor(X_train[idx])), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with no_grad():
        pred = model(Tensor(X_test)).numpy().argmax(axis=1)
    return float(np.mean(pred == y_test))


def train_tinytorch_trainer(data, weights, epochs: int, batch: int, seed: int,
                            optimizer: str, lr: float) -> float:
    """The milestone's path: DataLoader + Trainer; returns the test accuracy."""
    X_train, y_train, X_test, y_test = data
    model = tinytorch_model(weights)
    opt = tinytorch_optimizer(model.parameters(), optimizer, lr)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch, shuffle=True,
                        generator=Generator(seed))
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), progress=False)
    trainer.fit(loader, epochs)
    return float(trainer.evaluate(DataLoader(TensorDataset(X_test, y_test),
                                             batch_size=len(y_test)))["accuracy"])


# -------------------------------------------------------------------- PyTorch


def train_torch(data, weights, orders, optimizer: str, lr: float) -> float:
    """The same plain loop in PyTorch; returns the test accuracy."""
    X_train, y_train, X_test, y_test = data
    hidden = weights[0].shape[0]
    model = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, 10))
    with torch.no_grad():  # both store Linear weights as (out, in)
        model[0].weight.copy_(torch.from_numpy(weights[0].copy()))
        model[0].bias.copy_(torch.from_numpy(weights[1]))
        model[2].weight.copy_(torch.from_numpy(weights[2].copy()))
        model[2].bias.copy_(torch.from_numpy(weights[3]))
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X_train), torch.from_numpy(y_train)
    model.train()
    for batches in orders:
        for idx in batches:
            i = torch.from_numpy(idx)
            loss = loss_fn(model(Xt[i]), yt[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(X_test)).argmax(dim=1).numpy()
    return float(np.mean(pred == y_test))


def with_threads(threads: int, fn):
    """``fn`` run with ``torch.set_num_threads(threads)``, restoring the setting after.

    PyTorch's intra-op threads cannot speed up matrices this small, and when
    the cores are shared they wait on each other at every op: the faster of
    the default and one thread is PyTorch's best, and the reference.
    """
    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return fn()
        finally:
            torch.set_num_threads(before)
    return run


def timed(fn) -> tuple[float, float]:
    t0 = time.perf_counter()
    acc = fn()
    return time.perf_counter() - t0, acc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--lr", type=float, default=None,
                        help="default 3e-3 for Adam, 0.05 for SGD (momentum 0.9)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    lr = args.lr if args.lr is not None else (3e-3 if args.optimizer == "adam" else 0.05)

    data = load_digits_standardised()
    weights = initial_weights(args.hidden, args.seed)
    orders = epoch_orders(len(data[1]), args.epochs, args.batch_size, args.seed)
    steps = sum(len(b) for b in orders)

    runs = {
        "tinytorch (plain loop)":
            lambda: train_tinytorch(data, weights, orders, args.optimizer, lr),
        "tinytorch (DataLoader + Trainer)":
            lambda: train_tinytorch_trainer(data, weights, args.epochs, args.batch_size,
                                            args.seed, args.optimizer, lr),
    }
    torch_runs = []
    if torch is not None:
        default_threads = torch.get_num_threads()
        for threads in sorted({default_threads, 1}, reverse=True):
            name = f"PyTorch CPU, {threads} thread{'s' if threads > 1 else ''}"
            runs[name] = with_threads(
                threads, lambda: train_torch(data, weights, orders, args.optimizer, lr))
            torch_runs.append(name)

    print(f"MLP digits training: 64 -> {args.hidden} -> 10, {args.optimizer} lr {lr:g}, "
          f"batch {args.batch_size}, {args.epochs} epochs = {steps} steps, "
          f"{len(data[1])} training / {len(data[3])} test images")
    versions = f", torch {torch.__version__}" if torch is not None \
        else " (PyTorch not installed: no comparison)"
    print(f"median of {args.repeat} full training runs each, alternating{versions}")

    for fn in runs.values():  # warm-up: imports, BLAS start-up, allocator
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    accs: dict[str, float] = {}
    for _ in range(args.repeat):
        for name, fn in runs.items():
            seconds, accs[name] = timed(fn)
            times[name].append(seconds)
    medians = {name: statistics.median(t) for name, t in times.items()}

    base = min((medians[name] for name in torch_runs), default=None)  # PyTorch's best
    rows = []
    for name, med in medians.items():
        ratio = "" if base is None else f"{med / base:.2f}x"
        rows.append((name, format_seconds(med), format_seconds(med / steps), ratio,
                     f"{accs[name]:.2%}"))
    print_table(rows, headers=("run", "median time", "per step", "vs torch", "test acc"))
    if base is not None:
        ratio = medians["tinytorch (plain loop)"] / base
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(f"tinytorch / PyTorch = {ratio:.2f}x (target <= {TARGET_RATIO}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
