"""Benchmark tinytorch.transformers against PyTorch CPU, in the same run.

Prints (nothing is asserted):

1. Training speed: a 1-layer GPT (embed 32, 4 heads, vocab 65, context 32),
   batches of 4 x 32 tokens, Adam lr 1e-3, 500 steps. The same initial
   weights and the same batches for both frameworks; the total wall time of
   the 500 steps (forward, loss, backward, Adam), the ratio tinytorch /
   PyTorch (target <= 1.5x) and both losses first -> last.
2. Forward latency: GPT with 4 layers, 128 dims, 4 heads, context 128, batch
   1, under no_grad: median latency of each and the ratio (target <= 1.5x).

The frameworks run in alternating rounds (training: chunks of steps;
latency: blocks of timed calls), so a machine busy with other work slows
both alike. Before timing, the two models' logits are compared.

Usage (from the repository root)::

    python benchmarks/bench_transformers.py [--steps 500] [--rounds 5] [--repeat 20] [--threads N]

``--threads N`` runs both frameworks with N threads (PyTorch's intra-op pool
and NumPy's BLAS; both default to one per core). On a machine busy with
other work, ``--threads 1`` gives the steadiest comparison.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path


def _parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="tinytorch.transformers vs PyTorch CPU")
    parser.add_argument("--steps", type=int, default=500, help="training steps (default 500)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds (training chunks, latency blocks)")
    parser.add_argument("--repeat", type=int, default=20,
                        help="timed forward passes per latency round (default 20)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both frameworks (default: each one's default)")
    return parser.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import (  # noqa: E402
    format_seconds,
    limit_threads,
    print_table,
    thread_pools,
    use_source_tree,  # noqa: E402
)

use_source_tree()

import tinytorch.autograd  # noqa: E402, F401
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.nn import CrossEntropyLoss  # noqa: E402
from tinytorch.optim import Adam  # noqa: E402
from tinytorch.tensor import manual_seed  # noqa: E402
from tinytorch.transformers import GPT  # noqa: E402

try:
    import torch
except ImportError:  # the figures of tinytorch alone are still useful
    torch = None



# ------------------------------------------------------ the PyTorch model


def torch_gpt(model: GPT):
    """An eager PyTorch GPT with the same architecture and the same weights."""
    nn, F = torch.nn, torch.nn.functional
    c = model.config

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(c.embed_dim, 3 * c.embed_dim)
            self.out_proj = nn.Linear(c.embed_dim, c.embed_dim)

        def forward(self, x):
            b, t, e = x.shape
            h = c.num_heads
            q, k, v = self.qkv(x).view(b, t, 3, h, e // h).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
            return self.out_proj(y.transpose(1, 2).reshape(b, t, e))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            hidden = int(c.mlp_ratio * c.embed_dim)
            self.fc = nn.Linear(c.embed_dim, hidden)
            self.proj = nn.Linear(hidden, c.embed_dim)

        def forward(self, x):
            return self.proj(F.gelu(self.fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.attn = nn.LayerNorm(c.embed_dim), Attention()
            self.ln2, self.mlp = nn.LayerNorm(c.embed_dim), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln1(x))
            return x + self.mlp(self.ln2(x))

    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(c.max_seq_len, c.embed_dim))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_emb = nn.Embedding(c.vocab_size, c.embed_dim)
            self.pos_emb = Positions()
            self.blocks = nn.ModuleList(Block() for _ in range(c.num_layers))
            self.ln_f = nn.LayerNorm(c.embed_dim)
            self.head = nn.Linear(c.embed_dim, c.vocab_size)

        def forward(self, idx):
            x = self.tok_emb(idx) + self.pos_emb.weight[: idx.shape[1]]
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    tmodel = TorchGPT()
    params = dict(tmodel.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            w = p.data  # both store Linear weights as (out, in)
            params[name].copy_(torch.from_numpy(np.ascontiguousarray(w)))
    return tmodel


# -------------------------------------------------------------- 1. training


def bench_training(steps: int, rounds: int) -> None:
    vocab, embed, heads, ctx, batch = 65, 32, 4, 32, 4
    manual_seed(0)
    model = GPT(vocab, embed, 1, heads, ctx)
    tmodel = torch_gpt(model) if torch is not None else None
    rng = np.random.default_rng(0)
    # A learnable stream (a noisy repeating pattern), the same batches for both.
    stream = (np.arange(20_000) * 7 % vocab + (rng.random(20_000) < 0.1)) % vocab
    starts = rng.integers(0, stream.size - ctx - 1, size=(steps, batch))
    windows = stream[starts[..., None] + np.arange(ctx + 1)]  # (steps, B, T + 1)

    opt = Adam(model.parameters(), lr=1e-3)
    loss_fn = CrossEntropyLoss()
    losses, tlosses = [], []

    def tt_steps(lo: int, hi: int) -> float:
        t0 = time.perf_counter()
        for s in range(lo, hi):
            x, y = windows[s, :, :-1], windows[s, :, 1:]
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return time.perf_counter() - t0

    if tmodel is not None:
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)
        data = torch.from_numpy(windows)

    def pt_steps(lo: int, hi: int) -> float:
        t0 = time.perf_counter()
        for s in range(lo, hi):
            x, y = data[s, :, :-1], data[s, :, 1:]
            logits = tmodel(x)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            topt.zero_grad()
            loss.backward()
            topt.step()
            tlosses.append(loss.item())
        return time.perf_counter() - t0

    bounds = np.linspace(0, steps, max(1, rounds) + 1).astype(int)
    tt_time = pt_time = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):  # alternate chunks of steps
        tt_time += tt_steps(lo, hi)
        if tmodel is not None:
            pt_time += pt_steps(lo, hi)

    rows = [("tinytorch", f"{tt_time:.2f} s", f"{1e3 * tt_time / steps:.2f} ms",
             f"{losses[0]:.3f} -> {losses[-1]:.3f}")]
    if tmodel is not None:
        rows.append(("pytorch", f"{pt_time:.2f} s", f"{1e3 * pt_time / steps:.2f} ms",
                     f"{tlosses[0]:.3f} -> {tlosses[-1]:.3f}"))
    print(f"\n1. Training: 1-layer GPT (embed {embed}, {heads} heads, vocab {vocab}, "
          f"context {ctx}), batch {batch} x {ctx} tokens, Adam lr 1e-3, {steps} steps")
    print_table(rows, headers=("framework", "total", "per step", "loss first -> last"))
    if tmodel is not None:
        print(f"ratio tinytorch / pytorch: {tt_time / pt_time:.2f}x (target <= 1.5x)")


# ----------------------------------------------------------- 2. latency


def _block_median(fn, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def bench_latency(rounds: int, repeat: int) -> None:
    vocab, embed, layers, heads, ctx = 65, 128, 4, 4, 128
    manual_seed(0)
    model = GPT(vocab, embed, layers, heads, ctx)
    model.eval()
    tokens = np.random.default_rng(1).integers(0, vocab, size=(1, ctx))

    def tt_forward():
        with no_grad():
            model(tokens)

    if torch is not None:
        tmodel = torch_gpt(model).eval()
        ttok = torch.from_numpy(tokens)
        with torch.no_grad():
            np.testing.assert_allclose(tmodel(ttok).numpy(), model(tokens).data,
                                       rtol=1e-3, atol=1e-4)

        def pt_forward():
            with torch.no_grad():
                tmodel(ttok)

    for _ in range(3):  # warm-up: caches, BLAS and thread-pool start
        tt_forward()
        if torch is not None:
            pt_forward()
    tt_times, pt_times = [], []
    for _ in range(max(1, rounds)):
        tt_times += _block_median(tt_forward, repeat)
        if torch is not None:
            pt_times += _block_median(pt_forward, repeat)
    tt = statistics.median(tt_times)
    rows = [("tinytorch", format_seconds(tt))]
    if torch is not None:
        pt = statistics.median(pt_times)
        rows.append(("pytorch", format_seconds(pt)))
    print(f"\n2. Forward latency: GPT ({layers} layers, {embed} dims, {heads} heads, "
          f"context {ctx}), batch 1, no_grad, median of {len(tt_times)}")
    print_table(rows, headers=("framework", "median latency"))
    if torch is not None:
        print(f"ratio tinytorch / pytorch: {tt / pt:.2f}x (target <= 1.5x)")
    n_params = model.num_parameters()
    flops = 2 * n_params * ctx + 4 * layers * ctx * ctx * embed
    print(f"about {flops / 1e6:.0f} MFLOP per forward: tinytorch "
          f"{flops / tt / 1e9:.2f} GFLOP/s" + (f", pytorch {flops / pt / 1e9:.2f} GFLOP/s"
                                               if torch is not None else ""))


def main(argv=None) -> int:
    args = ARGS if argv is None and ARGS is not None else _parse_args(argv)
    with limit_threads(args.threads):  # BLAS, numexpr and torch alike (threadpoolctl)
        print(f"numpy {np.__version__}; thread pools: {thread_pools()}"
              + ("" if torch is not None else "; torch not installed"))
        bench_training(args.steps, args.rounds)
        bench_latency(args.rounds, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
