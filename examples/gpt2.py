"""Run GPT-2 on TinyTorch: load a Hugging Face GPT-2 folder, generate with the KV cache.

    python examples/gpt2.py FOLDER [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]
    python examples/gpt2.py --random [--tokens N]

FOLDER holds ``config.json`` and ``model.safetensors`` (and, for text in and
out, GPT-2's ``vocab.json`` and ``merges.txt``), e.g. the hub's
``openai-community/gpt2`` downloaded where there is internet::

    hf download openai-community/gpt2 config.json model.safetensors \\
        vocab.json merges.txt --local-dir gpt2

Without a folder (``--random``), the model is a randomly initialised GPT-2
of the real small size (124M parameters: 12 layers, 768 wide, 12 heads,
50257 tokens, 1024 positions) fed a random prompt: its text is noise, but
its speed is GPT-2 small's. Generation runs with the KV cache and prints
tokens per second (prefill included); ``--threads`` limits BLAS's threads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def use_source_tree() -> None:
    """Import tinytorch from this checkout when it is not installed."""
    try:
        import tinytorch.interop  # noqa: F401
    except ImportError:
        root = Path(__file__).resolve().parent.parent
        sys.path[:0] = [str(p) for p in sorted(root.glob("packages/*/src"))]


use_source_tree()

from tinytorch.interop import load_gpt2  # noqa: E402
from tinytorch.kvcache import enable_kv_cache  # noqa: E402
from tinytorch.tensor import manual_seed  # noqa: E402
from tinytorch.text import BPETokenizer  # noqa: E402
from tinytorch.transformers import GPT  # noqa: E402

GPT2_SMALL = {"vocab_size": 50257, "embed_dim": 768, "num_layers": 12, "num_heads": 12,
              "max_seq_len": 1024, "tie_embeddings": True, "head_bias": False}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", nargs="?", type=Path, help="a Hugging Face GPT-2 folder")
    p.add_argument("--random", action="store_true",
                   help="no folder: a random GPT-2 of the real 124M size")
    p.add_argument("--prompt", default="Hello, I'm a language model,")
    p.add_argument("--tokens", type=int, default=40, help="new tokens to generate")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    p.add_argument("--top-k", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (threadpoolctl)")
    args = p.parse_args(argv)
    if (args.folder is None) == (not args.random):
        p.error("give either a GPT-2 folder or --random")
    if args.tokens < 1:
        p.error("--tokens must be >= 1")
    return args


def load(args):
    """(model, tokenizer or None, prompt ids (1, T0))."""
    if args.random:
        manual_seed(args.seed)
        model = GPT(**GPT2_SMALL).eval()
        prompt = np.random.default_rng(args.seed).integers(0, model.vocab_size, size=(1, 16))
        return model, None, prompt
    model = load_gpt2(args.folder)
    vocab, merges = args.folder / "vocab.json", args.folder / "merges.txt"
    if not (vocab.is_file() and merges.is_file()):
        sys.exit(f"{args.folder} has no vocab.json / merges.txt: cannot encode the prompt")
    tok = BPETokenizer.from_gpt2(vocab, merges)
    return model, tok, np.array([tok.encode(args.prompt)], dtype=np.int64)


def main(argv=None) -> None:
    args = parse_args(argv)
    t = time.perf_counter()
    model, tok, prompt = load(args)
    n_params = model.num_parameters()
    print(f"model: {n_params / 1e6:.1f}M parameters ({model.extra_repr()}), "
          f"ready in {time.perf_counter() - t:.1f} s")
    total = prompt.shape[1] + args.tokens
    if total > model.max_seq_len:
        sys.exit(f"prompt + tokens = {total} exceeds the model's {model.max_seq_len} positions")
    enable_kv_cache(model, max_seq_len=total)
    limits = None
    if args.threads is not None:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(limits=args.threads)
    t = time.perf_counter()
    out = model.generate(prompt, args.tokens, temperature=args.temperature, top_k=args.top_k,
                         generator=args.seed).data[0]
    seconds = time.perf_counter() - t
    if limits is not None:
        limits.restore_original_limits()
    new = out[prompt.shape[1]:]
    if tok is not None:
        print(repr(tok.decode(out)))
    else:
        print("new token ids:", new.tolist())
    print(f"{args.tokens} new tokens in {seconds:.2f} s: {args.tokens / seconds:.1f} tok/s "
          f"(KV cache, prompt of {prompt.shape[1]} tokens, batch 1)")


if __name__ == "__main__":
    main()
