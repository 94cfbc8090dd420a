"""Milestone 5a (Transformer, 2017): attention learns to reverse a sequence.

Output position ``i`` must copy input position ``n - 1 - i``. No fixed
weight can do that from the token alone: the model has to *route*
information by position, which is exactly what attention does (query ``i``
learns to match the positional key ``n - 1 - i``). A small bidirectional
transformer (token + learned position embeddings, two pre-norm blocks,
no causal mask) learns it from random sequences in seconds::

    input   3 1 4 1 5 9 2 6
    target  6 2 9 5 1 4 1 3

Bar: >= 95% token accuracy on 2,000 held-out random sequences, in under 60 s.

Usage (from the repository root)::

    python milestones/05_transformer/reverse.py            # full run
    python milestones/05_transformer/reverse.py --quick    # a shorter run (tests)

``main(argv) -> dict`` returns the accuracy, the time and ``passed``; run as
a script, the exit status is 0 when the bar is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import tinytorch.autograd  # noqa: F401  (gradients on)
from tinytorch.autograd import no_grad
from tinytorch.nn import CrossEntropyLoss, Embedding, LayerNorm, Linear, Module, ModuleList
from tinytorch.optim import AdamW
from tinytorch.tensor import manual_seed
from tinytorch.transformers import PositionalEncoding, TransformerBlock

from . import _common

TARGET_ACCURACY = 0.95
TIME_LIMIT_S = 60.0


class Reverser(Module):
    """Embedding + positions -> ``num_layers`` unmasked blocks -> per-position classifier.

    ``forward(tokens (B, n)) -> logits (B, n, vocab)``; logits at position
    ``i`` predict the token at input position ``n - 1 - i``.
    """

    def __init__(self, vocab: int, seq_len: int, embed_dim: int, num_heads: int,
                 num_layers: int) -> None:
        super().__init__()
        self.tok_emb = Embedding(vocab, embed_dim)
        self.pos_emb = PositionalEncoding(seq_len, embed_dim)
        self.blocks = ModuleList(TransformerBlock(embed_dim, num_heads, mlp_ratio=2)
                                 for _ in range(num_layers))
        self.ln_f = LayerNorm(embed_dim)
        self.head = Linear(embed_dim, vocab)

    def forward(self, tokens):
        x = self.pos_emb(self.tok_emb(tokens))  # (B, n, E)
        for block in self.blocks:
            x = block(x)  # no mask: every position sees every other (B, n, E)
        return self.head(self.ln_f(x))  # (B, n, vocab)


def accuracy(model: Reverser, x: np.ndarray, batch: int = 500) -> float:
    """Token accuracy of the argmax prediction against ``x`` reversed."""
    model.eval()
    correct = 0
    with no_grad():
        for s in range(0, len(x), batch):
            xb = x[s:s + batch]
            pred = model(xb).data.argmax(-1)  # (b, n)
            correct += int((pred == xb[:, ::-1]).sum())
    model.train()
    return correct / x.size


def main(argv=None) -> dict:
    """Run the milestone; returns what was achieved (``result["passed"]`` is the bar)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a shorter run for the integration tests (same bar)")
    parser.add_argument("--seq-len", type=int, default=None, help="sequence length (default 8)")
    parser.add_argument("--vocab", type=int, default=10, help="distinct tokens (default 10)")
    parser.add_argument("--steps", type=int, default=None, help="max training steps")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1: fastest for these tiny matrices)")
    args = parser.parse_args(argv)
    with _common.blas_threads(args.threads):
        return train(args)


def train(args) -> dict:
    seq_len = args.seq_len or (6 if args.quick else 8)
    max_steps = args.steps or (800 if args.quick else 2000)

    manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = Reverser(args.vocab, seq_len, embed_dim=32, num_heads=4, num_layers=2)
    opt = AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    loss_fn = CrossEntropyLoss()
    test_x = rng.integers(0, args.vocab, size=(2000, seq_len))
    print(f"reverse: sequences of {seq_len} tokens from {args.vocab}, "
          f"{model.num_parameters():,} parameters, up to {max_steps} steps of {args.batch}")

    t0 = time.perf_counter()
    acc = 0.0
    step = 0
    for step in range(1, max_steps + 1):
        # Fresh random sequences every step: the model cannot memorise them.
        x = rng.integers(0, args.vocab, size=(args.batch, seq_len))
        loss = loss_fn(model(x), x[:, ::-1].copy())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == max_steps:
            acc = accuracy(model, test_x)
            print(f"step {step:5d}  loss {loss.item():.4f}  held-out token accuracy {acc:.2%}  "
                  f"({time.perf_counter() - t0:.1f} s)")
            if acc >= 0.995:
                break
    elapsed = time.perf_counter() - t0
    ok = acc >= TARGET_ACCURACY and elapsed < TIME_LIMIT_S
    print(f"reverse: {acc:.2%} token accuracy after {step} steps in {elapsed:.1f} s "
          f"(bar: >= {TARGET_ACCURACY:.0%} in < {TIME_LIMIT_S:.0f} s): "
          f"{_common.verdict(ok)}")
    return _common.result("05_transformer/reverse", ok, accuracy=acc, steps=step,
                          seconds=elapsed, bar=TARGET_ACCURACY, time_bar=TIME_LIMIT_S)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
