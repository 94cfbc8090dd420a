"""Benchmark: tinytorch.accel.compile against eager tinytorch and PyTorch eager.

Workloads (inference, under ``no_grad`` / ``torch.inference_mode``), each with
the same weights in all three frameworks:

| workload | target (compiled vs eager tinytorch / vs PyTorch eager) |
| --- | --- |
| digits MLP 64-128-10, batch 1 | <= 0.5x / <= 1.0x |
| digits CNN (milestone 4), batch 1 | <= 0.7x / <= 1.0x |
| GPT 4 layers x 128, T = 128, batch 1 forward | <= 0.9x / <= 1.2x |

The tiny-GPT decode step with a KV cache is not compiled (see the accel
README: the growing cache length would need a dynamic dimension and the cache
write is not an op); the benchmark says so rather than print a figure.

Then the teaching kernels (``tinytorch.accel.kernels.measure_kernels``, timed
with ``tinytorch.perf.Profiler``): loop vs vectorized vs tiled matmul, fused
vs unfused GELU; ``--plot PATH`` draws them when matplotlib is installed.

Method: the configurations of a workload alternate within each round (the
order rotates every round), each timed over a block of calls; the figure is
the median over rounds of the per-call wall time, with the per-call CPU
time (``time.process_time``) beside it, steadier on a busy machine. Thread
pools are set with threadpoolctl (``--threads``, default 1) and printed.
Nothing is asserted: medians and ratios are printed with their targets.

Usage (from the repository root)::

    python benchmarks/bench_accel.py [--rounds 15] [--threads 1] [--quick] [--plot kernels.png]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import (  # noqa: E402
    format_seconds,
    limit_threads,
    load_average,
    print_table,
    thread_pools,
    use_source_tree,
)

use_source_tree()

from tinytorch import nn  # noqa: E402
from tinytorch.accel import compile  # noqa: E402
from tinytorch.accel.kernels import measure_kernels, plot_kernels  # noqa: E402
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.tensor import manual_seed, wrap  # noqa: E402
from tinytorch.transformers import GPT  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def alternate(fns: dict, rounds: int, calls: int) -> dict:
    """``{name: (median wall s, median cpu s)}`` per call, configurations
    alternating within each round (the order rotates every round)."""
    names = list(fns)
    wall = {n: [] for n in names}
    cpu = {n: [] for n in names}
    for fn in fns.values():  # warm-up: caches, lazy buffers, BLAS start-up
        for _ in range(max(2, calls // 4)):
            fn()
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:
            fn = fns[n]
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(calls):
                fn()
            wall[n].append((time.perf_counter() - w0) / calls)
            cpu[n].append((time.process_time() - c0) / calls)
    return {n: (statistics.median(wall[n]), statistics.median(cpu[n])) for n in names}


def digits_mlp():
    manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).eval()


def digits_cnn():
    manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)).eval()


def torch_sequential(model):
    """The same Sequential in torch.nn, weights copied (both store (out, in))."""
    tn = torch.nn
    layers = []
    for m in model:
        name = type(m).__name__
        if name == "Linear":
            layers.append(tn.Linear(m.in_features, m.out_features))
        elif name == "Conv2d":
            w = m.weight.data
            layers.append(tn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=1))
        elif name == "ReLU":
            layers.append(tn.ReLU())
        elif name == "MaxPool2d":
            layers.append(tn.MaxPool2d(2))
        elif name == "Flatten":
            layers.append(tn.Flatten())
        else:
            raise ValueError(f"no torch counterpart for {name}")
    tm = tn.Sequential(*layers)
    tm.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v))
                        for k, v in model.state_dict().items()})
    return tm.eval()


def torch_gpt(model):
    """The same GPT forward in torch.nn (pre-norm blocks, fused qkv, tanh GELU)."""
    tn, F = torch.nn, torch.nn.functional
    cfg = model.config
    e, heads, hidden = cfg.embed_dim, cfg.num_heads, int(cfg.embed_dim * cfg.mlp_ratio)

    class Block(tn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = tn.LayerNorm(e), tn.LayerNorm(e)
            self.qkv, self.out_proj = tn.Linear(e, 3 * e), tn.Linear(e, e)
            self.fc, self.proj = tn.Linear(e, hidden), tn.Linear(hidden, e)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, heads, e // heads).permute(2, 0, 3,
                                                                                     1, 4)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.out_proj(a.transpose(1, 2).reshape(b, t, e))
            return x + self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))

    class TorchGPT(tn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok_emb = tn.Embedding(cfg.vocab_size, e)
            self.pos_emb = tn.Embedding(cfg.max_seq_len, e)
            self.blocks = tn.ModuleList(Block() for _ in range(cfg.num_layers))
            self.ln_f, self.head = tn.LayerNorm(e), tn.Linear(e, cfg.vocab_size)

        def forward(self, idx):
            x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1]))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    tm = TorchGPT()
    state = {}
    for k, v in model.state_dict().items():
        k = k.replace(".attn.qkv", ".qkv").replace(".attn.out_proj", ".out_proj")
        k = k.replace(".mlp.fc", ".fc").replace(".mlp.proj", ".proj")
        state[k] = torch.from_numpy(np.ascontiguousarray(v))
    tm.load_state_dict(state, strict=True)
    return tm.eval()


WORKLOADS = [
    # name, builder, input maker, calls per block, targets (vs eager, vs torch)
    ("digits MLP, batch 1", digits_mlp, lambda: np.random.default_rng(0).standard_normal(
        (1, 64)).astype(np.float32), 200, (0.5, 1.0)),
    ("digits CNN, batch 1", digits_cnn, lambda: np.random.default_rng(0).standard_normal(
        (1, 1, 8, 8)).astype(np.float32), 100, (0.7, 1.0)),
    ("GPT 4L x 128, T 128, batch 1", None, None, 3, (0.9, 1.2)),
]


def gpt_workload():
    manual_seed(0)
    model = GPT(vocab_size=65, embed_dim=128, num_layers=4, num_heads=4, max_seq_len=128)
    return model.eval()


def bench_models(args) -> list:
    rows = []
    for name, build, make_input, calls, (t_eager, t_torch) in WORKLOADS:
        if build is None:  # the GPT: token ids in
            model = gpt_workload()
            x = np.random.default_rng(0).integers(0, 65, size=(1, 128))
            ours_in, torch_in = x, (torch.from_numpy(x) if torch else None)
            tmodel = torch_gpt(model) if torch else None
        else:
            model = build()
            arr = make_input()
            ours_in, torch_in = wrap(arr), (torch.from_numpy(arr) if torch else None)
            tmodel = torch_sequential(model) if torch else None
        calls = max(1, calls // 4) if args.quick else calls
        fast = compile(model, (ours_in,))
        with no_grad():
            np.testing.assert_allclose(fast(ours_in).numpy(), model(ours_in).numpy(),
                                       rtol=1e-5, atol=1e-6)
        fns = {"eager": partial(model, ours_in), "compiled": partial(fast, ours_in)}
        if tmodel is not None:
            with torch.inference_mode():
                diff = np.max(np.abs(tmodel(torch_in).numpy() - model(ours_in).numpy()))
            if diff > 1e-3:
                raise RuntimeError(f"{name}: the torch model disagrees (max diff {diff})")
            fns["torch"] = partial(tmodel, torch_in)
        with no_grad(), (torch.inference_mode() if torch else _null()):
            times = alternate(fns, args.rounds, calls)
        (ew, ec), (cw, cc) = times["eager"], times["compiled"]
        row = [name, format_seconds(ew), format_seconds(cw), f"{cw / ew:.2f}x (<= {t_eager})",
               f"{cc / ec:.2f}x"]
        if "torch" in times:
            tw, tc = times["torch"]
            row += [format_seconds(tw), f"{cw / tw:.2f}x (<= {t_torch})", f"{cc / tc:.2f}x"]
        else:
            row += ["-", "torch not installed", "-"]
        rows.append(row)
    return rows


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def bench_kernels(args) -> None:
    size = 64 if args.quick else 128
    rows = measure_kernels(matmul_size=size, tiles=(8, 16, 32, 64, 128)[: 4 if args.quick
                                                                          else 5],
                           gelu_size=(1 << 16) if args.quick else (1 << 20),
                           loop_size=16 if args.quick else 32, iterations=args.rounds)
    base = {r["kernel"]: r["seconds"] for r in rows}
    vec, unfused = base["vectorized_matmul"], base["unfused_gelu"]
    table = []
    for r in rows:
        ref = unfused if "gelu" in r["kernel"] else vec
        # The loop's own row is a smaller problem: a ratio to it would mislead.
        ratio = "-" if r["size"] != size and "gelu" not in r["kernel"] \
            else f"{r['seconds'] / ref:.3g}x"
        table.append([r["kernel"], r["size"], format_seconds(r["seconds"]), ratio,
                      r.get("note", "")])
    print_table(table, headers=("kernel", "n", "median", "vs vectorized / unfused", "note"))
    if args.plot:
        try:
            print(f"plot written to {plot_kernels(rows, args.plot)}")
        except ImportError as exc:
            print(f"no plot: {exc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS / torch intra-op threads (threadpoolctl), default 1")
    parser.add_argument("--quick", action="store_true", help="fewer calls, smaller kernels")
    parser.add_argument("--plot", default=None, help="save the kernel chart here (matplotlib)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    with limit_threads(args.threads):
        print(f"threads: {thread_pools()}")
        print(load_average())
        print(f"{args.rounds} alternating rounds; medians of per-call wall time "
              "(CPU-time ratios beside them)\n")
        rows = bench_models(args)
        print_table(rows, headers=("workload", "eager", "compiled", "compiled/eager",
                                   "(cpu)", "torch", "compiled/torch", "(cpu)"))
        print("\ntiny GPT decode with a KV cache: not compiled (the cache length grows every "
              "step and the cache write is not an op; see packages/tinytorch-accel/README.md); "
              "tinytorch-kvcache's fused decode remains the fast path (bench_kvcache.py)\n")
        bench_kernels(args)


if __name__ == "__main__":
    main()
