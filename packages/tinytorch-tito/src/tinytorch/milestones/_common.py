"""Helpers shared by the milestone modules: the result every ``main``
returns, the digits recipe of milestones 3 and 4, thread pools, progress.

Kept apart from the scripts so that each script reads as the training
recipe and nothing else.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence

import numpy as np

from tinytorch import nn
from tinytorch.accel import threads
from tinytorch.data import DataLoader, TensorDataset, digits_split
from tinytorch.optim import Adam, CosineSchedule, Trainer
from tinytorch.tensor import Generator, manual_seed

DIGITS_SPLIT_SEED = 0  # the held-out split is the same whatever the training seed


def verdict(passed: bool) -> str:
    """``"PASSED"`` or ``"FAILED"``: the last word of every milestone's summary line."""
    return "PASSED" if passed else "FAILED"


def result(milestone: str, passed: bool, **figures) -> dict:
    """The dict a milestone's ``main`` returns: ``{"milestone": milestone,
    **figures, "passed": passed}``, in that order (``"passed"`` is the bar,
    read by ``tito milestone run`` and the scripts' exit code)."""
    return {"milestone": milestone, **figures, "passed": bool(passed)}


def digits_data(images: bool = False) -> tuple[TensorDataset, TensorDataset]:
    """The bundled 8x8 digits as standardised float32 ``(train, test)`` TensorDatasets.

    A stratified 80/20 split, seeded with :data:`DIGITS_SPLIT_SEED`.
    ``images=False`` gives samples of shape ``(64,)``, ``True`` ``(1, 8, 8)``.
    Mean and standard deviation are those of the *training* pixels (one
    scalar each): the test set must not leak into training.
    """
    train, test = digits_split(test_fraction=0.2, seed=DIGITS_SPLIT_SEED, images=images)
    mean, std = train.data.mean(), train.data.std()

    def standardise(x: np.ndarray) -> np.ndarray:
        return ((x - mean) / std).astype(np.float32)

    return (TensorDataset(standardise(train.data), train.targets),
            TensorDataset(standardise(test.data), test.targets))


def digits_main(argv: Sequence[str] | None, *, name: str, title: str, description: str,
                build: Callable[[argparse.Namespace], tuple[nn.Module, str]],
                images: bool, accuracy_bar: float, time_bar: float,
                add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
                ) -> dict:
    """Milestones 3 and 4: parse ``argv``, train a digits classifier, report.

    ``build(args)`` returns the model and the line that describes its
    architecture; ``add_arguments`` adds the milestone's own options. Adam
    with a cosine decay to 0 over the run, cross-entropy, the
    :class:`~tinytorch.optim.Trainer`, then the held-out accuracy against
    ``accuracy_bar`` and the wall time (data, training, evaluation) against
    ``time_bar`` seconds. Returns :func:`result`'s dict with ``accuracy``,
    ``test_loss``, ``train_loss``, ``epochs``, ``seconds``, ``bar`` and
    ``time_bar``. Bad options exit through ``argparse`` (status 2).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="15 epochs instead of 20")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("--progress", action="store_true", help="print one line per epoch")
    args = parser.parse_args(argv)
    epochs = args.epochs if args.epochs is not None else (15 if args.quick else 20)
    if epochs < 1 or args.batch_size < 1 or not args.lr > 0:
        parser.error("--epochs and --batch-size must be >= 1 and --lr > 0")

    start = time.perf_counter()
    manual_seed(args.seed)
    train_set, test_set = digits_data(images)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                              generator=Generator(args.seed))
    test_loader = DataLoader(test_set, batch_size=512)

    model, architecture = build(args)
    optimizer = Adam(model.parameters(), lr=args.lr)
    # Cosine decay of the learning rate to 0 over the run: big steps early,
    # small ones at the end, so the last epochs settle instead of bouncing.
    schedule = CosineSchedule(optimizer, T_max=epochs * len(train_loader))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler=schedule,
                      progress="text" if args.progress else False)
    history = trainer.fit(train_loader, epochs)
    test = trainer.evaluate(test_loader)
    elapsed = time.perf_counter() - start

    accuracy = float(test["accuracy"])
    passed = accuracy >= accuracy_bar and elapsed < time_bar
    print(title)
    print(f"  model {model.num_parameters():,} parameters: {architecture}")
    print(f"  {len(train_set)} training / {len(test_set)} held-out images, {epochs} epochs, "
          f"batch {args.batch_size}, Adam lr {args.lr:g} with cosine decay, seed {args.seed}")
    print(f"  train loss {history['train_loss'][0]:.3f} (epoch 1) -> "
          f"{history['train_loss'][-1]:.4f} (epoch {epochs}); test loss {test['loss']:.4f}")
    print(f"  test accuracy {accuracy:.2%} (bar {accuracy_bar:.0%}) in {elapsed:.1f} s "
          f"(bar {time_bar:.0f} s): {verdict(passed)}")
    return result(name, passed, accuracy=accuracy, test_loss=float(test["loss"]),
                  train_loss=history["train_loss"][-1], epochs=epochs, seconds=elapsed,
                  bar=accuracy_bar, time_bar=time_bar)


class blas_threads:
    """Limit the compute thread pools to ``n`` threads for a block, through
    :func:`tinytorch.accel.threads`: NumPy's BLAS and any OpenMP runtime
    (threadpoolctl), tinytorch's elementwise kernels and numexpr's pool. The
    benchmarks use the same function (``benchmarks/_timing.limit_threads``).

    Why one thread by default: these models multiply small matrices (a few
    hundred rows), where OpenBLAS's threads mostly wait for each other, and
    when other processes share the cores a waiting thread that has been
    descheduled can stall every GEMM by milliseconds (we measured a 10x
    slowdown on a busy 2-core machine). ``--threads 2`` is worth trying on
    an idle machine.

    Without threadpoolctl installed, a note is printed and the pools keep
    their defaults.
    """

    def __init__(self, n: int | None) -> None:
        self.n = n
        self._block = None

    def __enter__(self):
        if self.n is None:
            return self
        block = threads(self.n)
        try:
            block.__enter__()
        except ImportError as exc:
            print(f"note: --threads {self.n}: {exc}; the thread pools keep their defaults")
            return self
        self._block = block
        return self

    def __exit__(self, *exc) -> None:
        if self._block is not None:
            block, self._block = self._block, None
            block.__exit__(*exc)


class Progress:
    """A progress bar: tqdm when it is installed, otherwise a line every
    ``every`` updates (so logs of background runs stay readable)."""

    def __init__(self, total: int | None, desc: str, every: int = 50,
                 enabled: bool = True) -> None:
        self.every, self.count, self.enabled = every, 0, enabled
        self.desc = desc
        self._bar = None
        self._started_at = time.perf_counter()
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, unit="step", dynamic_ncols=True,
                                 mininterval=1.0)

    def update(self, **stats) -> None:
        self.count += 1
        if not self.enabled:
            return
        text = "  ".join(f"{k} {v}" for k, v in stats.items())
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.update(1)
        elif self.count % self.every == 0:
            elapsed = time.perf_counter() - self._started_at
            print(f"{self.desc} step {self.count:6d}  {text}  ({elapsed:.0f} s)", flush=True)

    def set_total(self, total: int) -> None:
        """Change the expected number of updates (a budget re-estimated on the way)."""
        if self._bar is not None and self._bar.total != total:
            self._bar.total = total
            self._bar.refresh()

    def write(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message)
        else:
            print(message, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
