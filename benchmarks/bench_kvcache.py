"""Benchmark KV-cached generation: tinytorch and PyTorch CPU, cached and uncached.

Greedy decoding, batch 1, a prompt of 8 tokens, tokens per second of the new
tokens (prefill included in the time), measured in the same run for:

* tinytorch cached:    ``tinytorch.kvcache.generate(model, ...)``
* tinytorch cached, unfused: the same cache with ``enable_kv_cache(model,
  fused=False)``, every decode step through the block's submodules (what the
  fused decode primitives gain)
* tinytorch uncached:  ``model.generate(..., use_cache=False)`` (full context every step)
* PyTorch cached, two ways, both eager under ``torch.inference_mode`` with
  the same weights:
  - "eager nn.Module + torch.cat cache": the GPT as a typical PyTorch user
    writes it (``nn.Embedding``, ``nn.LayerNorm``, ``nn.Linear``,
    ``nn.GELU(approximate="tanh")``), its cache grown with ``torch.cat``;
  - "lean functional + preallocated cache": ``torch.nn.functional`` calls on
    pre-transposed weights and a cache written in place (little Python
    per token: the stricter baseline)
* PyTorch uncached:    the same PyTorch model re-run on the full context

Each figure is the median of ``--repeat`` rounds, the generators
alternating within each round; the table also shows tokens per CPU-second
(process time), which a busy machine disturbs less than wall time.

Workloads:

1. tiny: 2 layers, embed 32, 4 heads, vocab 65, 200 new tokens.
   Target: tinytorch cached >= PyTorch cached (the ratio is printed against
   both PyTorch cached baselines); goal 1.5x the nn.Module one.
2. medium: 4 layers, embed 128, 4 heads, vocab 65, 200 new tokens.
   Targets: tinytorch cached >= 0.8x PyTorch cached (both baselines),
   >= 5x tinytorch uncached.
3. the decode step's row kernels against the canonical forwards they are
   tested equal to (LayerNorm, Linear, attention over 100 cached positions),
   microseconds per call at the tiny and medium widths: what the kernels
   specialised for one token save per block.
4. tokens/s against the generation length (64, 128, 256, 512 new tokens),
   medium model, cached and uncached (best of 2), as a table, and a plot
   (``tinytorch_kvcache_scaling.png`` in the temporary directory, or
   ``--plot PATH``) when matplotlib is installed.

Both libraries run with the same number of threads (``--threads``, default
1: at these sizes threads only add synchronisation, and on a shared machine
they make timings erratic). All four generators must produce the same
tokens (checked and printed): the benchmark compares equal work. Nothing is
asserted; figures are printed. A missed target is followed by a cProfile
summary of the tinytorch cached generation.

Usage (from the repository root)::

    python benchmarks/bench_kvcache.py [--repeat 3] [--threads 1] [--profile] [--plot PATH]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import (  # noqa: E402
    limit_threads,
    median_time,
    print_table,
    thread_pools,
    use_source_tree,
)

use_source_tree()
import tinytorch.autograd  # noqa: E402, F401
from tinytorch.kvcache import KVCache, enable_kv_cache, generate  # noqa: E402
from tinytorch.kvcache.decode import (  # noqa: E402
    attend_one_query,
    gelu_rows,
    layer_norm_rows,
    linear_rows,
)
from tinytorch.nn import LAYER_NORM, LINEAR  # noqa: E402
from tinytorch.tensor import PRIMITIVES, manual_seed  # noqa: E402
from tinytorch.transformers import GPT, SDPA  # noqa: E402

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None

PROMPT_LEN = 8
VOCAB = 65
# The two PyTorch cached baselines (rows of the tables).
TORCH_MODULE = "PyTorch cached: eager nn.Module + torch.cat cache"
TORCH_LEAN = "PyTorch cached: lean functional + preallocated cache"
UNFUSED = "tinytorch cached, unfused"


# ----------------------------------------------------------- the PyTorch twin


def build_torch_gpt(model):
    """An eager PyTorch GPT with the weights of the tinytorch ``model``
    (both libraries store a Linear weight as ``(out, in)``)."""
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.state_dict().items()}
    cfg = model.config

    class TorchGPT(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.E, self.H = cfg.embed_dim, cfg.num_heads
            self.D = self.E // self.H
            self.L = cfg.num_layers
            self.max_seq_len = cfg.max_seq_len
            self.cache_k = self.cache_v = None

        def p(self, name):
            return sd[name]

        def ln(self, x, prefix):
            return TF.layer_norm(x, (self.E,), self.p(prefix + ".weight"),
                                 self.p(prefix + ".bias"), 1e-5)

        def lin(self, x, prefix):
            return TF.linear(x, self.wt[prefix], self.p(prefix + ".bias"))

        def prepare(self):
            # torch.nn.functional.linear takes (out, in), the layout both store.
            self.wt = {k[: -len(".weight")]: v.contiguous()
                       for k, v in sd.items() if k.endswith(".weight") and v.ndim == 2
                       and not k.startswith(("tok_emb", "pos_emb"))}
            return self

        def forward(self, idx, start_pos=0, use_cache=False):
            b, t = idx.shape
            x = self.p("tok_emb.weight")[idx] + self.p("pos_emb.weight")[start_pos:start_pos + t]
            for i in range(self.L):
                pre = f"blocks.{i}"
                h = self.ln(x, pre + ".ln1")
                qkv = self.lin(h, pre + ".attn.qkv").view(b, t, 3, self.H, self.D)
                q, k, v = qkv.permute(2, 0, 3, 1, 4)  # (B, H, T, D) each
                if use_cache:
                    self.cache_k[i][:, :, start_pos:start_pos + t] = k
                    self.cache_v[i][:, :, start_pos:start_pos + t] = v
                    k = self.cache_k[i][:, :, :start_pos + t]
                    v = self.cache_v[i][:, :, :start_pos + t]
                    causal = t > 1  # one query sees every cached key
                else:
                    causal = True
                a = TF.scaled_dot_product_attention(q, k, v, is_causal=causal)
                a = a.transpose(1, 2).reshape(b, t, self.E)
                x = x + self.lin(a, pre + ".attn.out_proj")
                h = self.ln(x, pre + ".ln2")
                h = self.lin(TF.gelu(self.lin(h, pre + ".mlp.fc"), approximate="tanh"),
                             pre + ".mlp.proj")
                x = x + h
            return self.lin(self.ln(x, "ln_f"), "head")

        @torch.inference_mode()
        def generate(self, prompt, max_new, use_cache):
            out = torch.as_tensor(prompt)
            b, n = out.shape
            out = torch.cat([out, torch.zeros(b, max_new, dtype=out.dtype)], 1)
            if use_cache:
                shape = (b, self.H, self.max_seq_len, self.D)
                self.cache_k = [torch.zeros(shape) for _ in range(self.L)]
                self.cache_v = [torch.zeros(shape) for _ in range(self.L)]
                logits = self(out[:, :n], 0, True)
            for step in range(max_new):
                if not use_cache:
                    logits = self(out[:, max(0, n - self.max_seq_len):n])
                out[:, n] = logits[:, -1].argmax(-1)
                n += 1
                if use_cache and step < max_new - 1:
                    logits = self(out[:, n - 1:n], n - 1, True)
            return out

    return TorchGPT().prepare()


def build_torch_module_gpt(model):
    """The same GPT written as a typical PyTorch user writes it: ``nn.Module``
    layers (``nn.Embedding``, ``nn.LayerNorm``, ``nn.Linear`` for qkv, out,
    fc and proj, ``nn.GELU(approximate="tanh")``), and a KV cache grown with
    ``torch.cat`` per layer. Same weights as the tinytorch ``model``
    (both store Linear weights as ``(out, in)``, so the state dict maps one to one)."""
    nn = torch.nn
    sd = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in model.state_dict().items()}
    cfg = model.config
    e, heads = cfg.embed_dim, cfg.num_heads
    hidden = int(e * cfg.mlp_ratio)

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(e, 3 * e)
            self.out_proj = nn.Linear(e, e)

        def forward(self, x, past=None):
            b, t, _ = x.shape
            q, k, v = self.qkv(x).view(b, t, 3, heads, e // heads).permute(2, 0, 3, 1, 4)
            if past is not None:  # the cached keys and values of the earlier positions
                k = torch.cat([past[0], k], dim=2)
                v = torch.cat([past[1], v], dim=2)
            a = TF.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
            return self.out_proj(a.transpose(1, 2).reshape(b, t, e)), (k, v)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(e), nn.LayerNorm(e)
            self.attn = Attention()
            self.mlp = nn.Sequential(nn.Linear(e, hidden), nn.GELU(approximate="tanh"),
                                     nn.Linear(hidden, e))

        def forward(self, x, past=None):
            a, present = self.attn(self.ln1(x), past)
            x = x + a
            return x + self.mlp(self.ln2(x)), present

    class TorchModuleGPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok_emb = nn.Embedding(cfg.vocab_size, e)
            self.pos_emb = nn.Embedding(cfg.max_seq_len, e)
            self.blocks = nn.ModuleList(Block() for _ in range(cfg.num_layers))
            self.ln_f = nn.LayerNorm(e)
            self.head = nn.Linear(e, cfg.vocab_size)

        def forward(self, idx, start_pos=0, past=None):
            t = idx.shape[1]
            pos = torch.arange(start_pos, start_pos + t)
            x = self.tok_emb(idx) + self.pos_emb(pos)
            presents = []
            for i, block in enumerate(self.blocks):
                x, present = block(x, None if past is None else past[i])
                presents.append(present)
            return self.head(self.ln_f(x)), presents

        @torch.inference_mode()
        def generate(self, prompt, max_new, use_cache=True):
            out = torch.as_tensor(prompt)
            logits, past = self(out)
            for step in range(max_new):
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                out = torch.cat([out, nxt], dim=1)
                if step < max_new - 1:
                    logits, past = self(nxt, out.shape[1] - 1, past)
            return out

    tm = TorchModuleGPT()
    state = {}
    for k, v in sd.items():
        if k == "pos_emb.weight":
            state[k] = v
        else:
            state[k.replace("mlp.fc", "mlp.0").replace("mlp.proj", "mlp.2")] = v
    tm.load_state_dict(state, strict=True)
    return tm.eval()


# ----------------------------------------------------------------- measuring


def make_model(layers: int, embed: int, heads: int, max_seq_len: int):
    manual_seed(0)
    return GPT(VOCAB, embed, layers, heads, max_seq_len)


def measure(model, tmodel, new_tokens: int, repeat: int, warmup: bool = True,
            tmodule=None, unfused=None) -> dict:
    """Tokens/s of each generator, median of ``repeat`` rounds. The rounds
    interleave the generators, so a burst of load on the machine hits all of
    them rather than one; ``warmup`` adds an untimed first round. ``unfused``
    is a copy of ``model`` whose cache is enabled with ``fused=False``."""
    prompt = np.random.default_rng(0).integers(0, VOCAB, (1, PROMPT_LEN))
    runs = {
        "tinytorch cached": lambda: generate(model, prompt, new_tokens, temperature=0).data,
        "tinytorch uncached": lambda: model.generate(
            prompt, new_tokens, temperature=0, use_cache=False).data,
    }
    if unfused is not None:
        runs[UNFUSED] = lambda: unfused.generate(prompt, new_tokens, temperature=0).data
    if tmodel is not None:
        runs[TORCH_LEAN] = lambda: tmodel.generate(prompt, new_tokens, True).numpy()
        if tmodule is not None:
            runs[TORCH_MODULE] = lambda: tmodule.generate(prompt, new_tokens).numpy()
        runs["PyTorch uncached"] = lambda: tmodel.generate(prompt, new_tokens, False).numpy()
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    outs = {}
    for round_ in range(repeat + warmup):
        for name, fn in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            outs[name] = np.asarray(fn())
            if round_ >= warmup:
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    rows = {name: new_tokens / statistics.median(t) for name, t in wall.items()}
    rows["cpu"] = {name: new_tokens / statistics.median(t) for name, t in cpu.items()}
    ref = outs["tinytorch cached"]
    rows["same tokens"] = all(np.array_equal(ref, o) for o in outs.values())
    return rows


def kernel_rows(embed: int, heads: int, cached: int = 100) -> list[tuple]:
    """``(kernel, row kernel us, canonical forward us, saved us per block)``
    for one token: the decode step's kernels against the forwards they are
    tested equal to (a block calls LayerNorm twice, Linear four times, the
    attention once)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, embed)).astype(np.float32)
    w, b = np.ones(embed, np.float32), np.zeros(embed, np.float32)
    w_fc = rng.standard_normal((4 * embed, embed)).astype(np.float32)
    b_fc = np.zeros(4 * embed, np.float32)
    q = rng.standard_normal((1, heads, 1, embed // heads)).astype(np.float32)
    k = rng.standard_normal((1, heads, cached, embed // heads)).astype(np.float32)
    scale = 1.0 / math.sqrt(embed // heads)
    h = rng.standard_normal((1, 4 * embed)).astype(np.float32)
    slot = type("Slot", (), {})()  # receives SDPA's attention weights
    pairs = {
        "layer_norm (x2 per block)": (
            lambda: layer_norm_rows(x, w, b, 1e-5),
            lambda: LAYER_NORM.forward(x, w, b, n_axes=1, eps=1e-5, has_weight=True,
                                       has_bias=True), 2),
        "linear E -> 4E (x4 per block)": (
            lambda: linear_rows(x, w_fc, b_fc), lambda: LINEAR.forward(x, w_fc, b_fc), 4),
        f"attention over {cached} (x1 per block)": (
            lambda: attend_one_query(q, k, k, scale),
            lambda: SDPA.forward(q, k, k, mask=None, scale=scale, dropout_mask=None,
                                 weights_out=slot), 1),
        "tanh GELU of 4E (x1 per block)": (
            lambda: gelu_rows(h, "tanh"),
            lambda: PRIMITIVES["gelu"].forward(h, approximate="tanh"), 1),
    }
    rows = []
    for name, (fast, canonical, per_block) in pairs.items():
        t_fast = median_time(fast, warmup=200, repeat=2000) * 1e6
        t_canon = median_time(canonical, warmup=200, repeat=2000) * 1e6
        rows.append((name, t_fast, t_canon, per_block * (t_canon - t_fast)))
    return rows


# The plain forms of the row kernels' speed tricks: each trick stays only
# while the table of ``trick_rows`` shows that it saves time.


def _linear_np_dot(x, w, b):  # np.dot (its Python dispatcher) and a (out,) bias
    y = np.dot(x, w.T)
    y += b
    return y


def _linear_vector_bias(x, w, b):  # ndarray.dot, but the (out,) bias broadcast
    y = x.dot(w.T)
    y += b
    return y


def _layer_norm_vector_affine(x, weight, bias, eps, centre, mean):  # (E,) weight and bias
    xc = x.dot(centre)
    std = (xc * xc).dot(mean)
    std += eps
    np.sqrt(std, out=std)
    xc /= std
    xc *= weight
    xc += bias
    return xc


def paired_cpu_us(fast, plain, rounds: int = 15, calls: int = 300) -> tuple[float, float]:
    """Median CPU microseconds per call of ``fast`` and ``plain``, timed in
    alternating rounds of ``calls`` calls (a load burst hits both)."""
    times = {fast: [], plain: []}
    for fn in (fast, plain):  # warm-up
        for _ in range(calls):
            fn()
    for _ in range(rounds):
        for fn in (fast, plain):
            c0 = time.process_time()
            for _ in range(calls):
                fn()
            times[fn].append((time.process_time() - c0) / calls * 1e6)
    return statistics.median(times[fast]), statistics.median(times[plain])


def trick_rows(embed: int, heads: int, cached: int = 100) -> list[tuple]:
    """``(trick, with it us, plain form us, calls per block)`` for one token at
    width ``embed``: each speed trick of the decode step against its plain form."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, embed)).astype(np.float32)
    w, b = rng.standard_normal(embed).astype(np.float32), np.zeros(embed, np.float32)
    w_fc = rng.standard_normal((4 * embed, embed)).astype(np.float32)
    b_fc = np.zeros(4 * embed, np.float32)
    mean = np.full((embed, embed), 1.0 / embed, np.float32)  # layer_norm_rows' centring
    centre = np.eye(embed, dtype=np.float32) - mean
    cache = KVCache(1, cached + 1, 1, heads, embed // heads)
    kv = rng.standard_normal((1, heads, 1, embed // heads)).astype(np.float32)

    def write(update):
        cache.reset()
        update(0, kv, kv)

    pairs = {
        "linear E -> 4E: ndarray.dot, not np.dot": (
            lambda: _linear_vector_bias(x, w_fc, b_fc), lambda: _linear_np_dot(x, w_fc, b_fc),
            4),
        "linear E -> 4E: (1, out) bias view, not (out,)": (
            lambda: linear_rows(x, w_fc, b_fc), lambda: _linear_vector_bias(x, w_fc, b_fc), 4),
        "layer_norm: (1, E) weight/bias views, not (E,)": (
            lambda: layer_norm_rows(x, w, b, 1e-5),
            lambda: _layer_norm_vector_affine(x, w, b, 1e-5, centre, mean), 2),
        "layer_norm: centring GEMM by I - 1/E, not mean column": (
            lambda: layer_norm_rows(x, w, b, 1e-5),
            lambda: layer_norm_rows(x, w, b, 1e-5, centring_max_work=0), 2),
        "cache write: update_unchecked, not update": (
            lambda: write(cache.update_unchecked), lambda: write(cache.update), 1),
    }
    return [(name, *paired_cpu_us(fast, plain), per_block)
            for name, (fast, plain, per_block) in pairs.items()]


def profile_decode(model, new_tokens: int) -> str:
    prompt = np.zeros((1, PROMPT_LEN), np.int64)
    prof = cProfile.Profile()
    prof.enable()
    generate(model, prompt, new_tokens, temperature=0)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS and PyTorch threads for both libraries (default 1)")
    parser.add_argument("--plot", type=Path,
                        default=Path(tempfile.gettempdir()) / "tinytorch_kvcache_scaling.png")
    args = parser.parse_args()
    if torch is None:
        print("PyTorch is not installed: the PyTorch columns are skipped "
              "(pip install torch==2.13.0)")
    else:
        print(f"PyTorch {torch.__version__}")
    with limit_threads(args.threads):  # BLAS, numexpr and torch alike (threadpoolctl)
        print(f"threads: {args.threads} (--threads N); pools: {thread_pools()}")
        run(args)


def run(args) -> None:
    """Every measurement of the benchmark, with the thread pools already limited."""

    results = {}
    for name, (layers, embed, heads) in {"tiny": (2, 32, 4), "medium": (4, 128, 4)}.items():
        model = make_model(layers, embed, heads, max_seq_len=256)
        tmodel = build_torch_gpt(model) if torch is not None else None
        tmodule = build_torch_module_gpt(model) if torch is not None else None
        unfused = make_model(layers, embed, heads, max_seq_len=256)  # the same weights
        enable_kv_cache(unfused, fused=False)
        r = measure(model, tmodel, 200, args.repeat, tmodule=tmodule, unfused=unfused)
        results[name] = (r, model)
        print(f"\n{name}: {layers} layers, embed {embed}, {heads} heads, vocab {VOCAB}, "
              f"prompt {PROMPT_LEN}, 200 new tokens, greedy, batch 1 (tokens/s, median of "
              f"{args.repeat})")
        print_table([(k, v, r["cpu"][k]) for k, v in r.items()
                     if k not in ("same tokens", "cpu")],
                    headers=("generator", "tokens/s (wall)", "tokens per CPU-second"))
        print(f"all generators produced the same tokens: {r['same tokens']}")

    tiny, medium = results["tiny"][0], results["medium"][0]
    targets = []  # (target, wall ratio, CPU-time ratio, goal, workload)

    def ratio(r, a, b):
        return r[a] / r[b], r["cpu"][a] / r["cpu"][b]

    for workload, r in (("tiny", tiny), ("medium", medium)):
        targets.append((f"{workload}: fusion, tinytorch cached / cached unfused (no target)",
                        *ratio(r, "tinytorch cached", UNFUSED), 0.0, workload))
    if torch is not None:
        targets.append(("tiny: tinytorch cached / PyTorch eager nn.Module (goal 1.5)",
                        *ratio(tiny, "tinytorch cached", TORCH_MODULE), 1.5, "goal"))
        for workload, r, goal in (("tiny", tiny, 1.0), ("medium", medium, 0.8)):
            for label, key in (("eager nn.Module + torch.cat", TORCH_MODULE),
                               ("lean functional + prealloc.", TORCH_LEAN)):
                targets.append((f"{workload}: tinytorch cached / PyTorch {label} >= {goal}",
                                *ratio(r, "tinytorch cached", key), goal, workload))
    targets.append(("medium: tinytorch cached / tinytorch uncached >= 5",
                    *ratio(medium, "tinytorch cached", "tinytorch uncached"), 5.0, "medium"))
    print("\ntargets (judged on wall time)")
    print_table([(t, wall, cpu, "-" if not goal else "met" if wall >= goal else "MISSED")
                 for t, wall, cpu, goal, _ in targets],
                headers=("target", "ratio (wall)", "ratio (CPU time)", "status"))
    missed = {w for _, wall, _, goal, w in targets if wall < goal and w != "goal"}
    for w in sorted(missed | ({"tiny", "medium"} if args.profile else set())):
        print(f"\ncProfile of the tinytorch cached generation ({w}):")
        print(profile_decode(results[w][1], 200))

    # 3. the row kernels against the canonical forwards.
    for name, (embed, heads) in {"tiny": (32, 4), "medium": (128, 4)}.items():
        rows = kernel_rows(embed, heads)
        print(f"\ndecode row kernels, {name} width (E={embed}), one token: us per call, "
              "median of 2000")
        print_table(rows + [("total per block", "", "", sum(r[3] for r in rows))],
                    headers=("kernel", "row kernel", "canonical forward",
                             "saved per block (us)"))
    for name, (embed, heads) in {"tiny": (32, 4), "medium": (128, 4)}.items():
        rows = [(t, fast, plain, n * (plain - fast)) for t, fast, plain, n in
                trick_rows(embed, heads)]
        print(f"\nrow kernel tricks, {name} width (E={embed}), one token: CPU us per call, "
              "median of 15 alternating rounds")
        print_table(rows + [("total per block", "", "", sum(r[3] for r in rows))],
                    headers=("trick", "with it", "plain form", "saved per block (us)"))

    # 4. scaling with the generation length (the medium model, context 520).
    lengths = (64, 128, 256, 512)
    model = make_model(4, 128, 4, max_seq_len=PROMPT_LEN + max(lengths))
    tmodel = build_torch_gpt(model) if torch is not None else None
    tmodule = build_torch_module_gpt(model) if torch is not None else None
    rows, series = [], {k: [] for k in ("tinytorch cached", "tinytorch uncached",
                                        TORCH_MODULE, TORCH_LEAN, "PyTorch uncached")}
    for n in lengths:
        r = measure(model, tmodel, n, repeat=2, warmup=False, tmodule=tmodule)
        rows.append((n, *(r.get(k, float("nan")) for k in series),
                     r["tinytorch cached"] / r["tinytorch uncached"]))
        for k in series:
            series[k].append(r.get(k, float("nan")))
    print("\nscaling: medium model (4 layers, embed 128), prompt 8, tokens/s by generation "
          "length")
    print_table(rows, headers=("new tokens", "tt cached", "tt uncached",
                               "PT cached nn.Module+cat", "PT cached lean prealloc.",
                               "PT uncached", "tt speed-up"))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, ys in series.items():
        if not all(math.isnan(y) for y in ys):
            ax.plot(lengths, ys, marker="o", linestyle="-" if "un" not in k else "--", label=k)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("new tokens generated")
    ax.set_ylabel("tokens / s")
    ax.set_title("Greedy generation, 4 layers, embed 128, batch 1")
    ax.legend()
    fig.tight_layout()
    tmp = args.plot.with_name(args.plot.stem + ".tmp" + args.plot.suffix)
    fig.savefig(tmp, dpi=120)
    tmp.replace(args.plot)  # atomic: a half-written plot never replaces a good one
    print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
