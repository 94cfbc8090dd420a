"""Benchmark the core of the stack (tinytorch.tensor + tinytorch.autograd) against PyTorch CPU.

Three workloads, each a forward pass plus a backward pass, timed for
tinytorch and for PyTorch in the same run, in alternating rounds (median
of many calls; float32; ``torch.set_num_threads`` left at its default):

1. dispatch overhead: ``c = a + b`` on (4, 4) tensors that require grad, then
   ``c.backward(ones)``. The arithmetic is nothing; this measures the Python
   cost of one op through the dispatch path, the graph recorder and the engine.
   Target: no slower than PyTorch.
2. MLP training step: batch 64, 784 -> 256 -> 10, ReLU,
   ``y = relu(x @ W1 + b1) @ W2 + b2`` and a cross-entropy loss
   (``-log_softmax(y)[rows, labels].mean()``), forward + backward.
   Target: <= 1.5x PyTorch.
3. batched matmul: (8, 64, 64) @ (8, 64, 64), forward + backward of the sum.
   Target: <= 1.5x PyTorch.

Nothing is asserted: figures are printed. A missed target is reported as
such, followed by a cProfile summary of the tinytorch step (pass
``--profile`` to print it for every workload).

A last table justifies the speed tricks the library keeps although they
cost some readability: each trick against its plain form, in alternating
rounds, with the time of the public call it sits in (one token, no_grad)
and the share of that call the trick saves. A trick that saves nothing
measurable is not kept in the library.

Usage (from the repository root)::

    python benchmarks/bench_core.py [--repeat 200] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import numbers
import pstats
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import format_seconds, median_time, print_table, use_source_tree  # noqa: E402

use_source_tree()
import tinytorch.autograd  # noqa: E402, F401  (enables autograd)
from tinytorch import nn  # noqa: E402
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.nn import functional as F  # noqa: E402
from tinytorch.nn._validate import probability  # noqa: E402  (tricks measured below)
from tinytorch.nn.layers import _param  # noqa: E402
from tinytorch.tensor import Tensor, log_softmax, relu  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


# ------------------------------------------------------------------ workloads
# Each builder returns (tinytorch_step, torch_step); a step runs one forward
# and one backward and drops the gradients, so every call does the same work.


def dispatch_overhead(rng):
    a_np = rng.standard_normal((4, 4)).astype(np.float32)
    b_np = rng.standard_normal((4, 4)).astype(np.float32)
    a = Tensor(a_np, requires_grad=True)
    b = Tensor(b_np, requires_grad=True)
    ones = Tensor(np.ones((4, 4), np.float32))

    def tt_step():
        a.grad = b.grad = None
        c = a + b
        c.backward(ones)

    def torch_step():
        ta.grad = tb.grad = None
        c = ta + tb
        c.backward(tones)

    if torch is not None:
        ta = torch.tensor(a_np, requires_grad=True)
        tb = torch.tensor(b_np, requires_grad=True)
        tones = torch.ones(4, 4)
    return tt_step, torch_step


def mlp_step(rng, batch=64, n_in=784, n_hidden=256, n_out=10):
    x_np = rng.standard_normal((batch, n_in)).astype(np.float32)
    labels = rng.integers(0, n_out, size=batch)
    params_np = [
        (rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)).astype(np.float32),
        np.zeros(n_hidden, np.float32),
        (rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)).astype(np.float32),
        np.zeros(n_out, np.float32),
    ]
    x = Tensor(x_np)
    W1, b1, W2, b2 = (Tensor(p.copy(), requires_grad=True) for p in params_np)
    rows = np.arange(batch)

    def tt_step():
        for p in (W1, b1, W2, b2):
            p.grad = None
        y = relu(x @ W1 + b1) @ W2 + b2  # (64, 10)
        loss = -log_softmax(y, axis=-1)[rows, labels].mean()
        loss.backward()

    def torch_step():
        for p in tparams:
            p.grad = None
        tW1, tb1, tW2, tb2 = tparams
        y = torch.relu(tx @ tW1 + tb1) @ tW2 + tb2
        loss = -torch.log_softmax(y, dim=-1)[trows, tlabels].mean()
        loss.backward()

    if torch is not None:
        tx = torch.tensor(x_np)
        tparams = [torch.tensor(p, requires_grad=True) for p in params_np]
        trows = torch.tensor(rows)
        tlabels = torch.tensor(labels)
    return tt_step, torch_step


def batched_matmul(rng, shape=(8, 64, 64)):
    a_np = rng.standard_normal(shape).astype(np.float32)
    b_np = rng.standard_normal(shape).astype(np.float32)
    a = Tensor(a_np, requires_grad=True)
    b = Tensor(b_np, requires_grad=True)

    def tt_step():
        a.grad = b.grad = None
        (a @ b).sum().backward()

    def torch_step():
        ta.grad = tb.grad = None
        (ta @ tb).sum().backward()

    if torch is not None:
        ta = torch.tensor(a_np, requires_grad=True)
        tb = torch.tensor(b_np, requires_grad=True)
    return tt_step, torch_step


WORKLOADS = [
    # (name, builder, target ratio tinytorch / torch, how the target reads)
    ("a + b (4, 4) fwd+bwd", dispatch_overhead, 1.0, "no slower than PyTorch"),
    ("MLP 64x784-256-10 step", mlp_step, 1.5, "<= 1.5x PyTorch"),
    ("bmm (8,64,64)@(8,64,64) fwd+bwd", batched_matmul, 1.5, "<= 1.5x PyTorch"),
]


def interleaved(fn_a, fn_b, warmup: int, repeat: int, rounds: int) -> tuple[float, float]:
    """Median times of ``fn_a`` and ``fn_b`` measured in alternating rounds.

    On a shared machine the load changes from second to second; alternating
    ``rounds`` blocks of ``repeat // rounds`` calls exposes both functions to
    the same conditions, and the fastest round median of each (the least
    disturbed) is reported.
    """
    per_round = max(1, repeat // rounds)
    best_a = best_b = float("inf")
    for r in range(rounds):
        best_a = min(best_a, median_time(fn_a, warmup if r == 0 else 2, per_round))
        best_b = min(best_b, median_time(fn_b, warmup if r == 0 else 2, per_round))
    return best_a, best_b


def profile_summary(fn, calls: int = 200, top: int = 12) -> str:
    """cProfile ``calls`` calls of ``fn``; the ``top`` entries by own (tottime) time."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).strip_dirs().sort_stats("tottime").print_stats(top)
    return out.getvalue()


# ------------------------------------------------------------------ tricks
# Each row: (name, trick, plain form, the public call the trick sits in).


def _probability_plain(p, name: str, where: str) -> float:
    # nn._validate.probability without its "type(p) is float" shortcut.
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"{where}: {name} must be a probability")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{where}: {name} must be in [0, 1]")
    return float(p)


def readability_tricks(rng):
    x = Tensor(rng.standard_normal((1, 64)).astype(np.float32))  # one token
    lin, ln, emb = nn.Linear(64, 64), nn.LayerNorm(64), nn.Embedding(65, 64)
    ids = np.array([[7]])
    a, inv_d = x.data, np.float32(1.0 / 64)
    w, b = ln.weight, ln.bias
    return [
        ("_param: Linear(64, 64) weight+bias lookup",
         lambda: (_param(lin, "weight"), _param(lin, "bias")),
         lambda: (lin.weight, lin.bias), lambda: lin(x)),
        ("_param: LayerNorm(64) weight+bias lookup",
         lambda: (_param(ln, "weight"), _param(ln, "bias")),
         lambda: (ln.weight, ln.bias), lambda: ln(x)),
        ("_param: Embedding(65, 64) weight lookup",
         lambda: _param(emb, "weight"), lambda: emb.weight, lambda: emb(ids)),
        ("layer_norm mean: np.add.reduce * 1/D vs ndarray.mean",
         lambda: np.add.reduce(a, axis=-1, keepdims=True) * inv_d,
         lambda: a.mean(axis=-1, keepdims=True), lambda: ln(x)),
        ("probability: type(p) is float before numbers.Real",
         lambda: probability(0.1, "p", "dropout"),
         lambda: _probability_plain(0.1, "p", "dropout"),
         lambda: F.dropout(x, 0.1, training=True)),
        ("layer_norm shape fast path: (64,) vs [64]",
         lambda: F.layer_norm(x, (64,), w, b), lambda: F.layer_norm(x, [64], w, b),
         lambda: F.layer_norm(x, (64,), w, b)),
    ]


def print_tricks(warmup: int, repeat: int, rounds: int) -> None:
    rows = []
    with no_grad():
        for name, trick, plain, call in readability_tricks(np.random.default_rng(0)):
            t_trick, t_plain = interleaved(trick, plain, warmup, repeat, rounds)
            t_call = median_time(call, warmup, repeat)
            saved = t_plain - t_trick
            rows.append((name, format_seconds(t_trick), format_seconds(t_plain),
                         format_seconds(saved), format_seconds(t_call),
                         f"{100.0 * saved / t_call:.1f}%"))
    print("\nspeed tricks kept in the library, each against its plain form "
          "(one token, no_grad; 'call' is the public call the trick sits in):")
    print_table(rows, ("speed trick", "trick", "plain", "saved", "call", "saved / call"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="timed calls per measurement")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating tinytorch/torch rounds the calls are split into")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile summary of every tinytorch step")
    args = parser.parse_args(argv)

    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'not installed'}"
          + (f" ({torch.get_num_threads()} threads)" if torch else ""))
    print(f"{args.repeat} calls each, in {args.rounds} alternating rounds (best round median); "
          f"{args.warmup} warm-up calls; float32\n")

    rows, missed = [], []
    for name, build, target, target_text in WORKLOADS:
        tt_step, torch_step = build(np.random.default_rng(0))
        if torch is None:
            t_tt = median_time(tt_step, args.warmup, args.repeat)
            rows.append((name, format_seconds(t_tt), "-", "-", target_text, "-"))
            continue
        t_tt, t_torch = interleaved(tt_step, torch_step, args.warmup, args.repeat, args.rounds)
        ratio = t_tt / t_torch
        met = ratio <= target
        rows.append((name, format_seconds(t_tt), format_seconds(t_torch), f"{ratio:.2f}x",
                     target_text, "met" if met else "MISSED"))
        if not met or args.profile:
            missed.append((name, tt_step, met))

    print_table(rows, ("workload", "tinytorch", "torch", "ratio", "target", ""))
    for name, step, met in missed:
        label = "profile" if met else "target missed; where the time goes"
        print(f"\n--- {name}: {label} (cProfile, 200 calls, by own time; the NumPy/BLAS "
              f"forward of each op counts as apply's own time) ---")
        print(profile_summary(step))
    print_tricks(args.warmup, max(args.repeat, 1000), args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
