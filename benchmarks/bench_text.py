"""Benchmark tinytorch.text on the Shakespeare corpus (1.1 MB).

Measures, and prints (nothing is asserted):
- BPE training to a vocabulary of 1000 ids (744 merges): wall time;
- BPE encoding and decoding of the whole corpus: time, tokens, compression
  ratio (UTF-8 bytes per token), and that the round trip is exact;
- CharTokenizer: building the vocabulary and encoding the whole corpus.

Usage (from the repository root)::

    python benchmarks/bench_text.py [--corpus PATH] [--vocab-size 1000] [--repeats 3]

The corpus defaults to the copy tinytorch-data ships
(``tinytorch.data.load_shakespeare()``); ``--corpus PATH`` reads a file instead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing
from _timing import use_source_tree  # noqa: E402

use_source_tree()
from tinytorch.text import BPETokenizer, CharTokenizer  # noqa: E402


def timed(fn, repeats):
    """Run ``fn`` ``repeats`` times; return (last result, list of wall times in seconds)."""
    times = []
    result = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, times


def fmt(times):
    if len(times) == 1:
        return f"{times[0]:.3f} s"
    return (
        f"median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}, n={len(times)})"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help="UTF-8 text file (default: the corpus shipped with tinytorch-data)",
    )
    parser.add_argument("--vocab-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each measurement")
    parser.add_argument("--merges-shown", type=int, default=20)
    args = parser.parse_args(argv)

    if args.corpus is None:
        from tinytorch.data import load_shakespeare

        text, source = load_shakespeare(), "tinytorch.data.load_shakespeare()"
    elif not args.corpus.is_file():
        parser.error(f"corpus not found: {args.corpus} (pass --corpus PATH)")
    else:
        text, source = args.corpus.read_text(encoding="utf-8"), str(args.corpus)
    n_bytes = len(text.encode("utf-8"))
    print(f"corpus: {source} ({len(text):,} characters, {n_bytes:,} UTF-8 bytes)")
    print(f"python {sys.version.split()[0]}, repeats={args.repeats}")

    # --- BPE -----------------------------------------------------------
    print(f"\nBPETokenizer({args.vocab_size}): {args.vocab_size - 256} merges")
    bpe, t_train = timed(lambda: BPETokenizer(args.vocab_size).train(text), args.repeats)
    print(f"  train         : {fmt(t_train)}")

    def encode_cold():
        bpe.clear_cache()  # measure the first encode of the corpus, not cache hits
        return bpe.encode(text)

    ids, t_encode = timed(encode_cold, args.repeats)
    print(f"  encode        : {fmt(t_encode)}  ({len(ids):,} tokens)")
    _, t_encode_warm = timed(lambda: bpe.encode(text), args.repeats)
    print(f"  encode (warm) : {fmt(t_encode_warm)}  (chunk cache filled)")
    decoded, t_decode = timed(lambda: bpe.decode(ids), args.repeats)
    print(f"  decode        : {fmt(t_decode)}  (round trip exact: {decoded == text})")
    print(
        f"  compression   : {n_bytes / len(ids):.3f} bytes/token "
        f"({n_bytes:,} bytes -> {len(ids):,} tokens)"
    )
    vocab = bpe.vocab
    shown = min(args.merges_shown, len(bpe.merges))
    print(f"  first {shown} merges:")
    for k, (a, b) in enumerate(bpe.merges[:shown]):
        print(f"    {256 + k:5d} = {vocab[a]!r:>10} + {vocab[b]!r:<10} -> {vocab[256 + k]!r}")
    longest = sorted(range(256, len(vocab)), key=lambda i: (-len(vocab[i]), i))[:10]
    print("  longest tokens: " + ", ".join(repr(vocab[i]) for i in longest))

    # --- characters ------------------------------------------------------
    print("\nCharTokenizer")
    char, t_build = timed(lambda: CharTokenizer().build_vocab(text), args.repeats)
    print(f"  build_vocab   : {fmt(t_build)}  ({char.vocab_size} characters)")
    arr, t_char = timed(lambda: char.encode_array(text), args.repeats)
    print(
        f"  encode_array  : {fmt(t_char)}  ({arr.size:,} ids, "
        f"{len(text) / statistics.median(t_char) / 1e6:.0f} M chars/s)"
    )
    back, t_char_dec = timed(lambda: char.decode(arr), args.repeats)
    print(f"  decode        : {fmt(t_char_dec)}  (round trip exact: {back == text})")


if __name__ == "__main__":
    main()
