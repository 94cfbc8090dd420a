"""Benchmark GPT-2 small (124M, random weights): tinytorch against Hugging Face transformers.

Workloads, measured in one run (rounds alternate between the two libraries):

1. Generation: prompt of 16 tokens, 64 new tokens, greedy, batch 1.
   tinytorch: ``load_gpt2`` + ``enable_kv_cache`` + ``GPT.generate``;
   HF: ``GPT2LMHeadModel.generate(use_cache=True, do_sample=False)``, eager
   PyTorch (no compilation) with ``attn_implementation="eager"``.
   Tokens per second of the new tokens (prefill included), median of
   ``--rounds`` rounds, at 1 and 2 threads (threadpoolctl for NumPy's BLAS,
   ``torch.set_num_threads`` for PyTorch). Target: tinytorch >= 1.0x HF.
   Both must produce the same tokens (checked and printed).
2. Memory, one fresh process per library (a process's resident-set
   high-water mark never falls): the peak while loading and the resident
   size after loading, above the process's size before; the high-water mark
   of one generation above the loaded size (Linux: ``/proc/self/clear_refs``
   resets the mark); for tinytorch also ``tracemalloc``'s peak during the
   generation (NumPy reports its buffers to tracemalloc; PyTorch does not).
3. Loading the 124M checkpoint, written by this script with
   ``save_pretrained``: ``load_gpt2`` seconds against ``from_pretrained``
   (median of ``--load-rounds``, alternating).

Nothing is asserted; figures are printed, with the load average (the
machine is shared: compare the ratios, measured side by side).

Usage (from the repository root)::

    python benchmarks/bench_gpt2.py [--rounds 3] [--load-rounds 3] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _timing import limit_threads, load_average, print_table, thread_pools, use_source_tree

use_source_tree()

import torch  # noqa: E402
import transformers  # noqa: E402

from tinytorch.interop import load_gpt2  # noqa: E402
from tinytorch.kvcache import disable_kv_cache, enable_kv_cache  # noqa: E402

PROMPT, NEW = 16, 64


def rss_bytes(field: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process in bytes (None off Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to VmRSS
        return True
    except OSError:
        return False


def hf_generate(model, prompt: np.ndarray) -> np.ndarray:
    ids = torch.from_numpy(prompt)
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW,
                             min_new_tokens=NEW, do_sample=False, use_cache=True,
                             pad_token_id=0)
    return out.numpy()


def tt_generate(model, prompt: np.ndarray) -> np.ndarray:
    return model.generate(prompt, NEW, temperature=0.0).data


def timed(fn) -> tuple[float, object]:
    gc.collect()
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def bench_generation(tt, hf, prompt, threads: int, rounds: int) -> list:
    times = {"tinytorch": [], "hf": []}
    outs = {}
    with limit_threads(threads):
        tt_generate(tt, prompt[:, :4])  # warm-up: BLAS threads, first-call paths
        hf_generate(hf, prompt[:, :4])
        for _ in range(rounds):
            for name, fn in (("tinytorch", lambda: tt_generate(tt, prompt)),
                             ("hf", lambda: hf_generate(hf, prompt))):
                seconds, outs[name] = timed(fn)
                times[name].append(seconds)
        pools = thread_pools()
    print(f"threads={threads}: {pools}")
    same = np.array_equal(outs["tinytorch"], outs["hf"])
    t_tt, t_hf = statistics.median(times["tinytorch"]), statistics.median(times["hf"])
    return [f"{threads}", f"{NEW / t_tt:.1f}", f"{NEW / t_hf:.1f}", f"{t_hf / t_tt:.2f}x",
            "yes" if same else "NO"]


def memory_child(library: str, folder: Path) -> None:
    """Run in a fresh process: load one library's model and generate once
    (1 thread), printing its memory figures as JSON on the last line."""
    base = rss_bytes("VmRSS")
    with limit_threads(1):
        if library == "tinytorch":
            model = load_gpt2(folder)
            enable_kv_cache(model, max_seq_len=PROMPT + NEW)
            run = tt_generate
        else:
            model = transformers.GPT2LMHeadModel.from_pretrained(
                folder, attn_implementation="eager").eval()
            run = hf_generate
        load_peak, loaded = rss_bytes("VmHWM"), rss_bytes("VmRSS")
        prompt = np.random.default_rng(0).integers(0, 50257, size=(1, PROMPT))
        reset = reset_peak_rss()
        if library == "tinytorch":
            tracemalloc.start()
        run(model, prompt)
        traced = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
    print(json.dumps({"base": base, "load_peak": load_peak, "loaded": loaded,
                      "gen_peak": rss_bytes("VmHWM") if reset else None, "traced": traced}))


def peak_memory(folder: Path) -> list:
    """One fresh process per library (a process's high-water mark only rises)."""
    rows = []
    for library, label in (("tinytorch", "tinytorch"), ("hf", "HF transformers")):
        out = subprocess.run([sys.executable, __file__, "--memory-child", library, str(folder)],
                             capture_output=True, text=True, check=True)
        m = json.loads(out.stdout.strip().splitlines()[-1])
        mib = 2.0 ** 20
        rows.append([
            label, f"{(m['load_peak'] - m['base']) / mib:.0f}",
            f"{(m['loaded'] - m['base']) / mib:.0f}",
            "n/a" if m["gen_peak"] is None else f"{(m['gen_peak'] - m['loaded']) / mib:.1f}",
            "n/a (not NumPy)" if m["traced"] is None else f"{m['traced'] / mib:.1f}",
        ])
    return rows


def bench_load(folder: Path, rounds: int) -> list:
    times = {"load_gpt2": [], "from_pretrained": []}
    with limit_threads(1):
        for _ in range(rounds):
            for name, fn in (("load_gpt2", lambda: load_gpt2(folder)),
                             ("from_pretrained", lambda: transformers.GPT2LMHeadModel
                              .from_pretrained(folder))):
                seconds, model = timed(fn)
                del model
                times[name].append(seconds)
    t_tt, t_hf = statistics.median(times["load_gpt2"]), statistics.median(times["from_pretrained"])
    return [[f"{t_tt:.2f}", f"{t_hf:.2f}", f"{t_tt / t_hf:.2f}x"]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--load-rounds", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--memory-child", nargs=2, metavar=("LIBRARY", "FOLDER"),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if args.memory_child:
        memory_child(args.memory_child[0], Path(args.memory_child[1]))
        return
    print(f"GPT-2 small, random weights; prompt {PROMPT}, {NEW} new tokens, greedy, batch 1")
    print(load_average())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.manual_seed(0)
        made = transformers.GPT2LMHeadModel(transformers.GPT2Config(
            bos_token_id=None, eos_token_id=None))
        made.save_pretrained(folder)
        print(f"checkpoint: {sum(p.numel() for p in made.parameters()) / 1e6:.1f}M parameters, "
              f"{(folder / 'model.safetensors').stat().st_size / 2**20:.0f} MiB")
        del made

        print("\n3. load the checkpoint (1 thread, median of "
              f"{args.load_rounds}, alternating)")
        print_table(bench_load(folder, args.load_rounds),
                    headers=("load_gpt2 s", "from_pretrained s", "ratio (lower is faster)"))

        hf = transformers.GPT2LMHeadModel.from_pretrained(
            folder, attn_implementation="eager").eval()
        tt = load_gpt2(folder)
        enable_kv_cache(tt, max_seq_len=PROMPT + NEW)
        prompt = np.random.default_rng(0).integers(0, tt.vocab_size, size=(1, PROMPT))

        print(f"\n1. generation, tok/s (median of {args.rounds} rounds, alternating)")
        rows = [bench_generation(tt, hf, prompt, n, args.rounds) for n in args.threads]
        print_table(rows, headers=("threads", "tinytorch tok/s", "HF eager tok/s",
                                   "tinytorch / HF (target >= 1.0x)", "same tokens"))
        disable_kv_cache(tt)
        del tt, hf
        gc.collect()

        print("\n2. memory, MiB above the fresh process's RSS (one process per library, "
              "1 thread)")
        print_table(peak_memory(folder),
                    headers=("library", "peak while loading", "after loading",
                             "generation peak above loaded", "tracemalloc peak (generation)"))


if __name__ == "__main__":
    main()
