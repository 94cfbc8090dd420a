"""Benchmark tinytorch.nn.Conv2d (forward + backward) against PyTorch CPU.

Two layers, batch 32, 3x3 kernels, padding 1, float32, the same weights and
inputs in both frameworks:

1. (1, 8, 8)   -> 16 channels  (small: Python and dispatch overhead dominate)
2. (3, 32, 32) -> 32 channels  (CIFAR-sized first layer: im2col + GEMM dominate)

One step is ``y = conv(x)`` followed by ``y.backward(g)`` with a fixed
random ``g``, computing dx, dW and db. The two frameworks are timed in
alternating rounds (so a busy machine slows both alike) and the median over
all rounds is reported, with the ratio tinytorch / PyTorch (target <= 3x).
Before timing, outputs and gradients are compared, to be sure both compute
the same thing. Nothing is asserted: figures are printed.

Usage (from the repository root)::

    python benchmarks/bench_conv.py [--rounds 5] [--repeat 20] [--threads N]

``--threads N`` runs both frameworks with N threads (PyTorch's intra-op
pool and NumPy's BLAS); on a machine busy with other work, ``--threads 1``
gives the steadiest comparison of the work each framework does.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Conv2d forward + backward vs PyTorch CPU")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds")
    parser.add_argument("--repeat", type=int, default=20, help="timed calls per round")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both frameworks (default: each one's default)")
    return parser.parse_args()


ARGS = _parse_args() if __name__ == "__main__" else None

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import (  # noqa: E402  # noqa: E402
    format_seconds,
    limit_threads,
    median_time,
    print_table,
    thread_pools,
    use_source_tree,
)

use_source_tree()
import tinytorch.autograd  # noqa: E402, F401  (enables autograd)
from tinytorch import nn  # noqa: E402
from tinytorch.tensor import Tensor  # noqa: E402

CASES = [
    # (label, batch, in_channels, height, width, out_channels)
    ("(1,8,8)->16", 32, 1, 8, 8, 16),
    ("(3,32,32)->32", 32, 3, 32, 32, 32),
]
TARGET = 3.0


def make_steps(batch, cin, h, w, cout, torch):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((batch, cin, h, w)).astype(np.float32)
    ours = nn.Conv2d(cin, cout, 3, padding=1)
    theirs = torch.nn.Conv2d(cin, cout, 3, padding=1)
    with torch.no_grad():  # same weights (same (out, in, kh, kw) layout)
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(ours.bias.data))
    g_np = rng.standard_normal((batch, cout, h, w)).astype(np.float32)

    x = Tensor(x_np, requires_grad=True)
    g = Tensor(g_np)
    xt = torch.from_numpy(x_np.copy()).requires_grad_(True)
    gt = torch.from_numpy(g_np)

    def ours_step():
        x.grad = None
        ours.zero_grad()
        ours(x).backward(g)

    def torch_step():
        xt.grad = None
        theirs.zero_grad(set_to_none=True)
        theirs(xt).backward(gt)

    # Same computation? (float32: compare with a relative tolerance)
    ours_step()
    torch_step()
    errors = [
        np.abs(x.grad.data - xt.grad.numpy()).max() / (np.abs(xt.grad.numpy()).max() + 1e-12),
        np.abs(ours.weight.grad.data - theirs.weight.grad.numpy()).max()
        / (np.abs(theirs.weight.grad.numpy()).max() + 1e-12),
    ]
    return ours_step, torch_step, max(errors)


def main(args: argparse.Namespace) -> None:
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install torch==2.13.0 to compare")
        return
    with limit_threads(args.threads):  # BLAS, numexpr and torch alike (threadpoolctl)
        print(f"Conv2d forward + backward, float32, 3x3, padding 1\nthread pools: "
              f"{thread_pools()}\n")
        rows = []
        for label, batch, cin, h, w, cout in CASES:
            ours_step, torch_step, rel_err = make_steps(batch, cin, h, w, cout, torch)
            ours_t, torch_t = [], []
            for _ in range(args.rounds):
                ours_t.append(median_time(ours_step, warmup=3, repeat=args.repeat))
                torch_t.append(median_time(torch_step, warmup=3, repeat=args.repeat))
            ot, tt = statistics.median(ours_t), statistics.median(torch_t)
            ratio = ot / tt
            rows.append((f"N={batch} {label}", format_seconds(ot), format_seconds(tt),
                         f"{ratio:.2f}x", "yes" if ratio <= TARGET else "NO", f"{rel_err:.1e}"))
    print_table(rows, headers=("case", "tinytorch", "torch", "ratio", f"<= {TARGET:g}x",
                               "max rel grad diff"))


if __name__ == "__main__":
    main(ARGS)
