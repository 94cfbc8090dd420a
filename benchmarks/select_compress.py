"""How bench_compress.py's recipes were chosen: on a validation split, never the test split.

The digits training split (80% of the data) is cut again, stratified and
seeded: 80% to train, 20% (287 images) to validate. Each candidate recipe is
run for several training seeds (one validation image is 0.35 points, so a
single seed cannot tell recipes apart) and the mean accuracy drop against the
unpruned model on the validation images is printed; bench_compress.py uses
the best. The test split is never used here.

    python benchmarks/select_compress.py [--rows 14] [--seeds 6]

Row 1 (LeNet-300-100 shape, 90% global, gradual + fine-tune): the prune
phase's epochs and Adam rate, the fine-tune phase's epochs and rate, Adam or
SGD with momentum. Row 4 (CNN, 50% of the conv filters removed, fine-tuned):
ranking by L2 or L1 norm, the fine-tune rate and length, distillation from
the unpruned CNN. Row 5 (distillation, ``--rows 5``, 3 seeds): MLP or CNN
teacher and student, plain or one-pixel-shifted batches (the same for the
student alone and the distilled one).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import limit_threads, load_average, use_source_tree  # noqa: E402

use_source_tree()

from tinytorch import nn  # noqa: E402
from tinytorch.compress import GradualPruning, distill, structured_prune  # noqa: E402
from tinytorch.data import DataLoader, TensorDataset  # noqa: E402
from tinytorch.milestones import m03_mlp_digits, m04_cnn_digits  # noqa: E402
from tinytorch.milestones import m07_quantization as M  # noqa: E402
from tinytorch.optim import SGD, Adam, CosineSchedule, Trainer  # noqa: E402
from tinytorch.tensor import Generator, manual_seed  # noqa: E402


def validation_split(train: TensorDataset, fraction: float = 0.2, seed: int = 0):
    """``(fit, val)``: a stratified, seeded cut of the training split."""
    x, y = train.arrays
    rng = np.random.default_rng(seed)
    val = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:round(fraction * (y == c).sum())]
                          for c in np.unique(y)])
    keep = np.setdiff1d(np.arange(len(y)), val)
    return TensorDataset(x[keep], y[keep]), TensorDataset(x[np.sort(val)], y[np.sort(val)])


def loader(ds, seed: int) -> DataLoader:
    return DataLoader(ds, batch_size=32, shuffle=True, generator=Generator(seed))


def optimizer(model, kind: str, lr: float):
    params = model.parameters()
    return Adam(params, lr=lr) if kind == "adam" else SGD(params, lr=lr, momentum=0.9)


def fit(model, data, epochs: int, lr: float, kind: str = "adam", seed: int = 0):
    manual_seed(seed)
    opt = optimizer(model, kind, lr)
    Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=CosineSchedule(
        opt, T_max=epochs * len(data)), progress=False).fit(data, epochs)
    return model.eval()


def lenet():
    return nn.Sequential(nn.Linear(64, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                         nn.Linear(100, 10))


# name: (prune epochs, prune lr, fine-tune epochs, fine-tune lr, optimizer)
ROW1 = {
    "previous: 10 + 10 epochs, Adam 1e-3 / 1e-3": (10, 1e-3, 10, 1e-3, "adam"),
    "20 + 10, Adam 1e-3 / 3e-4": (20, 1e-3, 10, 3e-4, "adam"),
    "20 + 10, Adam 2e-3 / 3e-4": (20, 2e-3, 10, 3e-4, "adam"),
    "40 + 10, Adam 1e-3 / 3e-4": (40, 1e-3, 10, 3e-4, "adam"),
    "20 + 20, Adam 3e-4 / 1e-4": (20, 3e-4, 20, 1e-4, "adam"),
    "20 + 10, SGD+momentum 1e-2 / 3e-3": (20, 1e-2, 10, 3e-3, "sgd"),
}


def row1(fit_set, val, seeds: int) -> None:
    drops = {k: [] for k in ROW1}
    for seed in range(seeds):
        manual_seed(seed)
        base = fit(lenet(), loader(fit_set, seed), 20, 3e-3, seed=seed)
        a0 = M.accuracy(base, val)
        for name, (pe, plr, fe, flr, kind) in ROW1.items():
            model, data = copy.deepcopy(base).train(), loader(fit_set, 10 + seed)
            manual_seed(10 + seed)
            end = int(0.75 * pe * len(data))  # the cubic ramp over 3/4 of the phase
            Trainer(model, optimizer(model, kind, plr), nn.CrossEntropyLoss(),
                    scheduler=GradualPruning(model, 0.9, 0, end, frequency=max(1, end // 20)),
                    progress=False).fit(data, pe)
            fit(model.train(), loader(fit_set, 20 + seed), fe, flr, kind, seed=20 + seed)
            drops[name].append(100 * (a0 - M.accuracy(model, val)))
    report("row 1: LeNet-300-100 shape, 90% global, gradual + fine-tune", drops)


ROW4 = {
    "previous: L2 ranking, 20 epochs Adam 3e-3": dict(norm=2),
    "L1 ranking, 20 epochs Adam 3e-3": dict(norm=1),
    "L1 ranking, 40 epochs Adam 3e-3": dict(norm=1, epochs=40),
    "L2 ranking, 20 epochs Adam 1e-3": dict(norm=2, lr=1e-3),
    "L2 ranking + distillation (T=4, alpha=0.9)": dict(norm=2, teacher=True),
    "L1 ranking + distillation (T=4, alpha=0.9)": dict(norm=1, teacher=True),
}


def row4(fit_set, val, seeds: int) -> None:
    drops = {k: [] for k in ROW4}
    for seed in range(seeds):
        manual_seed(seed)
        cnn = fit(m04_cnn_digits.build_model(), loader(fit_set, seed), 20, 3e-3, seed=seed)
        a0 = M.accuracy(cnn, val)
        convs = [i for i, m in enumerate(cnn) if isinstance(m, nn.Conv2d)]
        for name, o in ROW4.items():
            small = structured_prune(cnn, 0.5, layers=convs, norm=o["norm"])
            epochs, lr, data = o.get("epochs", 20), o.get("lr", 3e-3), loader(fit_set, 2)
            if o.get("teacher"):
                manual_seed(2)
                opt = Adam(small.parameters(), lr=lr)
                distill(cnn, small, data, epochs=epochs, temperature=4.0, alpha=0.9,
                        optimizer=opt, scheduler=CosineSchedule(opt, T_max=epochs * len(data)))
            else:
                fit(small, data, epochs, lr, seed=2)
            drops[name].append(100 * (a0 - M.accuracy(small.eval(), val)))
    report("row 4: CNN, 50% of the conv filters removed + fine-tune", drops)


def mlp(*sizes) -> nn.Sequential:
    """An MLP on the (N, 1, 8, 8) images: Flatten, then Linear/ReLU pairs."""
    layers = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


# name: (teacher, student builder, shifted batches, epochs)
ROW5 = {
    "previous: MLP teacher, MLP 64-64-10, plain, 20 ep": ("mlp", lambda: mlp(64, 64, 10), 0.0, 20),
    "MLP teacher, MLP 64-128-10, plain, 20 ep": ("mlp", lambda: mlp(64, 128, 10), 0.0, 20),
    "CNN teacher, MLP 64-128-10, plain, 20 ep": ("cnn", lambda: mlp(64, 128, 10), 0.0, 20),
    "CNN teacher, MLP 64-128-10, shifted, 20 ep": ("cnn", lambda: mlp(64, 128, 10), 0.5, 20),
    "CNN teacher, CNN 8-16-32, shifted, 30 ep": (
        "cnn", lambda: m04_cnn_digits.build_model(8, 16, 32), 0.5, 30),
    "CNN teacher, CNN 12-24-48, plain, 30 ep": (
        "cnn", lambda: m04_cnn_digits.build_model(12, 24, 48), 0.0, 30),
    "CNN teacher, CNN 12-24-48, shifted, 30 ep": (
        "cnn", lambda: m04_cnn_digits.build_model(12, 24, 48), 0.5, 30),
}


def row5(fit_set, val, seeds: int) -> None:
    """Distilled minus trained alone (T=4, alpha=0.9; both students on the same
    batches): the teachers are LeNet-300-100's shape (50,610 parameters) and
    a CNN 32-64-128 trained with shifts (53,002); every student is <= 1/4."""
    from bench_compress import ShiftedDigits, fit_on

    def batches(seed, shift):
        return ShiftedDigits(fit_set, seed, shift) if shift else loader(fit_set, seed)

    manual_seed(0)
    teachers = {"mlp": fit(mlp(64, 300, 100, 10), loader(fit_set, 0), 20, 3e-3),
                "cnn": fit_on(m04_cnn_digits.build_model(32, 64, 128),
                              ShiftedDigits(fit_set, 0, 0.5), 30, seed=0)}
    print("  teachers' validation accuracy: " + ", ".join(
        f"{k} {M.accuracy(t, val):.2%}" for k, t in teachers.items()))
    gains = {k: [] for k in ROW5}
    for seed in range(seeds):
        for name, (teacher, build, shift, epochs) in ROW5.items():
            manual_seed(100 + seed)
            student = build()
            twin = copy.deepcopy(student)
            alone = M.accuracy(fit_on(student, batches(seed, shift), epochs, seed=seed), val)
            data = batches(seed, shift)
            opt = Adam(twin.parameters(), lr=3e-3)
            manual_seed(seed)
            distill(teachers[teacher], twin, data, epochs=epochs, temperature=4.0, alpha=0.9,
                    optimizer=opt, scheduler=CosineSchedule(opt, T_max=epochs * len(data)))
            gains[name].append(100 * (alone - M.accuracy(twin.eval(), val)))
    report("row 5: distilled against trained alone", gains,
           "validation accuracy, trained alone minus distilled, in points: lower is better")


def report(title: str, drops: dict,
           what: str = "validation accuracy drop in points, per seed") -> None:
    print(f"{title} ({what})")
    best = min(drops, key=lambda k: np.mean(drops[k]))
    for name, v in drops.items():
        print(f"  {name:<46} mean {np.mean(v):+.2f}  "
              f"[{', '.join(f'{d:+.2f}' for d in v)}]{'  <- best' if name == best else ''}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", default="145")
    p.add_argument("--seeds", type=int, default=6)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    print(f"select_compress: threads {args.threads}, seeds {args.seeds}, {load_average()}")
    with limit_threads(args.threads):
        if "1" in args.rows:
            row1(*validation_split(m03_mlp_digits.load_data()[0]), args.seeds)
        if "4" in args.rows:
            row4(*validation_split(m04_cnn_digits.load_data()[0]), args.seeds)
        if "5" in args.rows:
            row5(*validation_split(m04_cnn_digits.load_data()[0]), min(args.seeds, 3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
