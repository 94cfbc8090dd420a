"""Training at real shapes: tinytorch against PyTorch eager, in the same run.

Workloads (float32, the same initial weights and the same batches for both
frameworks):

1. ``gpt``: the milestone-5 GPT training step: 4 layers x 128 dims, 4 heads,
   context 128, vocabulary 65, batch 16 x 128 tokens, cross-entropy, AdamW
   (betas 0.9/0.99, weight decay 0.1), gradient clipping at 1.0. Reported in
   tokens/s.
2. ``cnn``: the digits CNN of milestone 4 at CIFAR size: (3, 32, 32) inputs,
   Conv 3->16, ReLU, MaxPool 2, Conv 16->32, ReLU, MaxPool 2, Linear
   2048->64, ReLU, Linear 64->10, batch 32, Adam. Reported in images/s.
3. ``forward``: the GPT above, batch 1, T 128, forward under no_grad
   (``bench_transformers.bench_latency`` measures it; one place).
4. ``conv``: Conv2d (32, 3, 32, 32) -> 32 channels, 3x3, padding 1, forward
   + backward (``bench_conv.make_steps``; one place).
5. ``kernels``: the tanh GELU forward + backward of one GPT MLP
   (16 x 128 x 512 float32) on each ``tinytorch.tensor.kernels`` backend
   installed, against ``torch.nn.functional.gelu`` forward + backward.

Every workload runs with 1 and with 2 threads for BOTH frameworks (NumPy's
BLAS and numexpr through ``_timing.limit_threads``, PyTorch through
``torch.set_num_threads``); the pools are printed. The frameworks alternate
rounds (``--rounds``, each timing ``--steps`` steps or calls, each after a
short sleep so that the other framework's spinning workers are idle and
0.2 s of untimed steps that bring its own to their steady state), so a
machine busy with other work slows both alike; medians over the rounds of the wall
time and of the process CPU time per step, and their ratios tinytorch /
PyTorch, are printed with the load average. The targets are judged on wall
time; on a machine busier than its cores, the 1-thread CPU-time ratio is the
steadier measure of the work each framework does.

After the timing, tinytorch's per-op profile of one training step
(``tinytorch.perf.Profiler.profile_backward_pass``: forward ops and backward
rules) shows where the time goes. Nothing is asserted: figures are printed.

Usage (from the repository root)::

    python benchmarks/bench_train.py [--threads 1,2] [--rounds 7] [--steps 3]
                                     [--only gpt,cnn,forward,conv] [--no-profile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing and the sibling benchmarks
from _timing import (  # noqa: E402
    limit_threads,
    load_average,
    print_table,
    thread_pools,
    use_source_tree,  # noqa: E402
)

use_source_tree()

import tinytorch.autograd  # noqa: E402, F401  (enables autograd)
from tinytorch import nn  # noqa: E402
from tinytorch.optim import Adam, AdamW, clip_grad_norm_  # noqa: E402
from tinytorch.perf import Profiler  # noqa: E402
from tinytorch.tensor import manual_seed  # noqa: E402
from tinytorch.transformers import GPT  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

WORKLOADS = ("gpt", "cnn", "forward", "conv", "kernels")
VOCAB, EMBED, LAYERS, HEADS, CONTEXT, BATCH = 65, 128, 4, 4, 128, 16
CNN_BATCH = 32


def _parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="training at real shapes vs PyTorch eager")
    p.add_argument("--threads", default="1,2", help="thread counts to run, e.g. 1,2")
    p.add_argument("--rounds", type=int, default=7, help="alternating rounds per workload")
    p.add_argument("--steps", type=int, default=3, help="steps (or calls) timed per round")
    p.add_argument("--only", default=",".join(WORKLOADS), help="workloads, comma-separated")
    p.add_argument("--no-profile", action="store_true", help="skip the per-op profiles")
    args = p.parse_args(argv)
    args.threads = [int(t) for t in args.threads.split(",")]
    args.only = [w for w in args.only.split(",") if w]
    unknown = set(args.only) - set(WORKLOADS)
    if unknown or args.rounds < 1 or args.steps < 1 or min(args.threads) < 1:
        p.error(f"bad arguments (unknown workloads {sorted(unknown)}; rounds, steps and "
                "threads must be >= 1)")
    return args


# ------------------------------------------------------------- workloads
#
# Each builder returns (tinytorch_step, torch_step, units_per_step): two
# closures that run one training step of their framework on the same data.


def _decay_groups(named, weight_decay: float) -> list[dict]:
    """The milestone's AdamW groups: decay matrices, not biases/norms/embeddings."""
    decay, no_decay = [], []
    for name, p in named:
        (decay if p.ndim >= 2 and "emb" not in name else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def gpt_steps():
    from bench_transformers import torch_gpt

    manual_seed(0)
    model = GPT(VOCAB, EMBED, LAYERS, HEADS, CONTEXT)
    rng = np.random.default_rng(0)
    stream = rng.integers(0, VOCAB, size=200_000)
    loss_fn = nn.CrossEntropyLoss()
    opt = AdamW(_decay_groups(model.named_parameters(), 0.1), lr=1e-3, betas=(0.9, 0.99))

    def batch():
        starts = rng.integers(0, stream.size - CONTEXT - 1, size=BATCH)
        w = stream[starts[:, None] + np.arange(CONTEXT + 1)]
        return w[:, :-1], w[:, 1:]

    def tt_step():
        x, y = batch()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    pt_step = None
    if torch is not None:
        tmodel = torch_gpt(model)
        topt = torch.optim.AdamW(_decay_groups(tmodel.named_parameters(), 0.1), lr=1e-3,
                                 betas=(0.9, 0.99))

        def pt_step():
            x, y = (torch.from_numpy(a) for a in batch())
            loss = torch.nn.functional.cross_entropy(tmodel(x).reshape(-1, VOCAB),
                                                     y.reshape(-1))
            topt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(tmodel.parameters(), 1.0)
            topt.step()

    profile = (model, lambda: batch(), loss_fn)
    return tt_step, pt_step, BATCH * CONTEXT, "tokens/s", profile


def _tt_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (N, 16, 16, 16)
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 8, 8)
        nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 10))


def cnn_steps():
    manual_seed(0)
    model = _tt_cnn()
    rng = np.random.default_rng(0)
    images = rng.standard_normal((512, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 10, size=512)
    loss_fn = nn.CrossEntropyLoss()
    opt = Adam(model.parameters(), lr=1e-3)

    def batch():
        idx = rng.integers(0, len(images), size=CNN_BATCH)
        return images[idx], labels[idx]

    def tt_step():
        x, y = batch()
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    pt_step = None
    if torch is not None:
        tnn = torch.nn
        tmodel = tnn.Sequential(
            tnn.Conv2d(3, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(32 * 8 * 8, 64), tnn.ReLU(), tnn.Linear(64, 10))
        with torch.no_grad():  # the same initial weights, whatever layout each stores
            for p, tp in zip(model.parameters(), tmodel.parameters()):
                w = p.data if p.data.shape == tuple(tp.shape) else p.data.T
                tp.copy_(torch.from_numpy(np.ascontiguousarray(w)))
        topt = torch.optim.Adam(tmodel.parameters(), lr=1e-3)

        def pt_step():
            x, y = batch()
            loss = tnn.functional.cross_entropy(tmodel(torch.from_numpy(x)),
                                                torch.from_numpy(y))
            topt.zero_grad()
            loss.backward()
            topt.step()

    profile = (model, lambda: batch(), loss_fn)
    return tt_step, pt_step, CNN_BATCH, "images/s", profile


def forward_steps():
    from bench_transformers import torch_gpt

    manual_seed(0)
    model = GPT(VOCAB, EMBED, LAYERS, HEADS, CONTEXT).eval()
    tokens = np.random.default_rng(1).integers(0, VOCAB, size=(1, CONTEXT))

    def tt_step():
        with tinytorch.autograd.no_grad():
            model(tokens)

    pt_step = None
    if torch is not None:
        tmodel = torch_gpt(model).eval()
        ttok = torch.from_numpy(tokens)
        with torch.no_grad():
            np.testing.assert_allclose(tmodel(ttok).numpy(), model(tokens).data,
                                       rtol=1e-3, atol=1e-4)

        def pt_step():
            with torch.no_grad():
                tmodel(ttok)

    return tt_step, pt_step, CONTEXT, "tokens/s", None


def conv_steps():
    from bench_conv import make_steps

    if torch is None:
        return None
    tt_step, pt_step, rel_err = make_steps(32, 3, 32, 32, 32, torch)
    if rel_err > 1e-3:
        raise RuntimeError(f"conv2d gradients differ from PyTorch's (max rel {rel_err:.1e})")
    return tt_step, pt_step, 32, "images/s", None


def kernel_steps():
    """GELU forward + backward through tinytorch's kernels (the backend in
    use; ``TINYTORCH_KERNELS=numexpr`` selects the other) and through torch."""
    from tinytorch.tensor import kernels

    x = np.random.default_rng(0).standard_normal((BATCH, CONTEXT, 4 * EMBED)).astype(np.float32)
    g = np.ones_like(x)

    def tt_step():
        _, t = kernels.gelu_tanh(x)
        kernels.gelu_tanh_grad(g, x, t)

    pt_step = None
    if torch is not None:
        xt = torch.from_numpy(x.copy()).requires_grad_(True)
        gt = torch.from_numpy(g)

        def pt_step():
            xt.grad = None
            torch.nn.functional.gelu(xt, approximate="tanh").backward(gt)

    return tt_step, pt_step, x.size, "elements/s", None


BUILDERS = {"gpt": gpt_steps, "cnn": cnn_steps, "forward": forward_steps, "conv": conv_steps,
            "kernels": kernel_steps}
TITLES = {
    "gpt": f"GPT training step ({LAYERS}L x {EMBED}, {HEADS} heads, T {CONTEXT}, batch {BATCH}, "
           "AdamW, clip 1.0)",
    "cnn": f"CNN training step at CIFAR size (3x32x32, batch {CNN_BATCH}, Adam)",
    "forward": f"GPT forward ({LAYERS}L x {EMBED}, T {CONTEXT}, batch 1, no_grad)",
    "conv": "Conv2d (32, 3, 32, 32) -> 32, 3x3, padding 1, forward + backward",
    "kernels": f"tanh GELU forward + backward, ({BATCH}, {CONTEXT}, {4 * EMBED}) float32",
}
TARGETS = {"gpt": 1.2, "forward": 1.2, "conv": 1.3, "cnn": None, "kernels": None}


# ----------------------------------------------------------------- timing


def _timed(step, n: int) -> tuple[float, float]:
    """Wall and CPU seconds per step over ``n`` steps. CPU time (every thread
    of the process) does not count the time the process waited for a core, so
    on a busy machine it is the steadier measure of the work done; with more
    than one thread it also counts threads spinning while they wait."""
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


# Seconds of sleep before each timed round. After its last job, a thread
# pool's workers spin for a while before they sleep (OpenBLAS, OpenMP): a
# round that starts at once is timed while the other framework's workers
# still spin on the second core, which slows whichever framework runs second.
# After the sleep, untimed steps for WARM_S seconds (at least one) bring the
# round to its steady state: on a VM, a core left idle for even 10 ms needs
# about 0.1-0.2 s of load before thread hand-offs to it are fast again (a
# Conv2d step at 2 threads measured 3.8 ms after 20 ms of warm-up and 2.1 ms
# after 200 ms, as in a loop without pauses). A training loop runs in that
# steady state, so both frameworks are timed there.
SETTLE_S = 0.25
WARM_S = 0.2


def _settled(step, steps: int) -> tuple[float, float]:
    time.sleep(SETTLE_S)
    until = time.perf_counter() + WARM_S
    step()
    while time.perf_counter() < until:
        step()
    return _timed(step, steps)


def measure(tt_step, pt_step, rounds: int, steps: int) -> dict:
    """Medians over alternating rounds: ``{"tt": (wall, cpu), "pt": (wall, cpu) or None}``."""
    for _ in range(2):  # warm-up: caches, optimizer state, thread pools
        tt_step()
        if pt_step is not None:
            pt_step()
    tt, pt = [], []
    for _ in range(rounds):
        tt.append(_settled(tt_step, steps))
        if pt_step is not None:
            pt.append(_settled(pt_step, steps))

    def med(rows):
        return tuple(statistics.median(col) for col in zip(*rows)) if rows else None

    return {"tt": med(tt), "pt": med(pt)}


def print_profile(model, batch, loss_fn, max_rows: int = 14) -> None:
    """tinytorch's per-op table of one training step: forward ops, backward rules."""
    x, y = batch()
    report = Profiler().profile_backward_pass(model, x, lambda out: loss_fn(out, y),
                                              warmup=1, iterations=2)
    for phase in (report.forward, report):
        wall = phase.wall_time_s
        print(f"  tinytorch {phase.phase} per op (2 steps, {wall * 1e3:.1f} ms wall, with hooks):")
        rows = [(o.name, o.calls, f"{o.total_s * 1e3 / 2:.2f}", f"{100 * o.total_s / wall:.1f}%")
                for o in phase.ops[:max_rows]]
        print_table(rows, headers=("  op", "calls", "ms/step", "share"))


def main(argv=None) -> int:
    args = _parse_args(argv)
    print(f"numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch is not None else ", torch not installed"))
    summary = []
    for name in args.only:
        built = BUILDERS[name]()
        if built is None:
            print(f"\n{name}: skipped (needs torch)")
            continue
        tt_step, pt_step, units, unit_name, profile = built
        for n in args.threads:
            with limit_threads(n):
                print(f"\n{TITLES[name]}, {n} thread(s)\n  pools: {thread_pools()}\n"
                      f"  before: {load_average()}")
                m = measure(tt_step, pt_step, args.rounds, args.steps)
                (tt, tt_cpu), pt_pair = m["tt"], m["pt"]
                rows = [("tinytorch", f"{tt * 1e3:.2f} ms", f"{tt_cpu * 1e3:.2f} ms",
                         f"{units / tt:,.0f} {unit_name}")]
                pt = pt_cpu = None
                if pt_pair is not None:
                    pt, pt_cpu = pt_pair
                    rows.append(("pytorch", f"{pt * 1e3:.2f} ms", f"{pt_cpu * 1e3:.2f} ms",
                                 f"{units / pt:,.0f} {unit_name}"))
                print_table(rows, headers=("  framework", "wall/step", "CPU/step", "throughput"))
                ratio = tt / pt if pt else float("nan")
                cpu_ratio = tt_cpu / pt_cpu if pt_cpu else float("nan")
                target = TARGETS[name]
                print(f"  ratio tinytorch / pytorch: wall {ratio:.2f}x"
                      + (f" (target <= {target}x)" if target else "")
                      + f", CPU time {cpu_ratio:.2f}x   after: {load_average()}")
                summary.append((name, n, f"{tt * 1e3:.2f}", f"{pt * 1e3:.2f}" if pt else "-",
                                f"{ratio:.2f}x", f"{cpu_ratio:.2f}x",
                                f"<= {target}x" if target else "-"))
                if profile is not None and not args.no_profile and n == args.threads[-1]:
                    print_profile(*profile)
    print(f"\nsummary (medians of {args.rounds} alternating rounds of {args.steps} steps):")
    print_table(summary, headers=("workload", "threads", "tinytorch ms", "pytorch ms",
                                  "wall ratio", "CPU ratio", "target"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
