"""Milestone 8: compression. Pruned, shrunk and stored small, measured in one run.

The idea. Most weights of a trained network can go. Magnitude pruning with
persistent masks removes 90% of the digits MLP's weights while it keeps
training; int8 and a bitmask for the zeros then make its file more than 15x
smaller (Deep Compression, Han et al. 2016). Structured pruning removes whole
channels, heads and hidden units, so the model itself gets smaller and faster.

This script trains, in one run and seeded, the digits MLP (milestone 3), the
digits CNN (milestone 4) and a small character GPT on Shakespeare, compresses
each, and prints before and after: weight sparsity, file size on disk,
accuracy (or validation loss in nats/char) and the median latency of one
forward (the two models alternating).

    python milestones/m08_compression.py
    python milestones/m08_compression.py --quick     # fewer epochs, smaller GPT
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

try:  # installed (tinytorch-tito), or a checkout whose packages/*/src are on the path
    import tinytorch.milestones  # noqa: F401
except ImportError:
    root = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(p) for p in sorted(root.glob("packages/*/src"))]

import numpy as np  # noqa: E402

from tinytorch.accel import threads  # noqa: E402
from tinytorch.compress import (  # noqa: E402
    compress_model,
    measure_sparsity,
    save_compressed,
    structured_prune,
)
from tinytorch.data import DataLoader  # noqa: E402
from tinytorch.milestones import m07_quantization as M  # noqa: E402
from tinytorch.optim import AdamW, clip_grad_norm_  # noqa: E402
from tinytorch.tensor import Generator, Tensor  # noqa: E402


def file_bytes(write) -> int:
    """Bytes of the file ``write(path)`` puts on disk."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model")
        write(path)
        return os.path.getsize(path)


def row(model_name, variant, model, size, metric, latency) -> dict:
    weights = [r for r in measure_sparsity(model).layers]
    zeros = sum(r.zeros for r in weights)
    elements = sum(r.elements for r in weights)
    return {"model": model_name, "variant": variant, "sparsity": zeros / elements,
            "parameters": elements, "bytes": size, **metric, "latency_ms": 1e3 * latency}


def classifier_rows(kind: str, epochs: int, rounds: int) -> list[dict]:
    model, train, test = M.train_classifier(kind, epochs)
    data = DataLoader(train, batch_size=32, shuffle=True, generator=Generator(1))
    if kind == "mlp":
        name, variant = "digits MLP", "90% pruned + int8, bitmask file"
        recipe = [("prune", {"amount": 0.9, "data": data, "epochs": max(2, epochs // 2),
                             "lr": 1e-3}),
                  ("finetune", {"data": data, "epochs": max(1, epochs // 4), "lr": 3e-4}),
                  ("quantize", {"mode": "dynamic"})]
    else:
        name, variant = "digits CNN", "50% channels removed"
        recipe = [("structured", {"amount": 0.5}),
                  ("finetune", {"data": data, "epochs": max(2, epochs // 2), "lr": 1e-3})]
    small, _ = compress_model(model, recipe, verbose=False)
    x = Tensor(test.arrays[0][:64])
    lat = M.median_latency({"float": model, "small": small}, x, rounds=rounds)
    return [row(name, "float32", model, file_bytes(model.save),
                {"accuracy": M.accuracy(model, test)}, lat["float"]),
            row(name, variant, small, file_bytes(lambda p: save_compressed(small, p)),
                {"accuracy": M.accuracy(small, test)}, lat["small"])]


def gpt_rows(steps: int, embed: int, layers: int, context: int, finetune: int) -> list[dict]:
    model, train_ds, val_batches, loss_fn = M.train_gpt(steps, embed, layers, context)
    small = structured_prune(model, 0.25).train()
    rng = np.random.default_rng(7)
    opt = AdamW(small.parameters(), lr=1e-3, weight_decay=0.01)
    for _ in range(finetune):
        x, y = train_ds.random_batch(16, rng)
        loss = loss_fn(small(x), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(small.parameters(), 1.0)
        opt.step()
    small.eval()
    x = val_batches[0][0][:8]
    lat = M.median_latency({"float": model, "small": small}, x, rounds=10)
    name = f"Shakespeare GPT ({layers} layers, {embed} dims)"
    return [row(name, "float32", model, file_bytes(model.save),
                {"val_loss": M.val_loss(model, val_batches, loss_fn)}, lat["float"]),
            row(name, f"25% heads+MLP removed, +{finetune} steps", small,
                file_bytes(lambda p: save_compressed(small, p, deflate=False)),
                {"val_loss": M.val_loss(small, val_batches, loss_fn)}, lat["small"])]


def print_table(rows: list[dict]) -> None:
    base = {}
    for r in rows:
        b = base.setdefault(r["model"], r)
        metric = (f"accuracy {r['accuracy']:.2%} ({100 * (r['accuracy'] - b['accuracy']):+.2f} pt)"
                  if "accuracy" in r else
                  f"val loss {r['val_loss']:.4f} ({r['val_loss'] - b['val_loss']:+.4f} nats/char)")
        print(f"  {r['model']:<32} {r['variant']:<36} sparsity {r['sparsity']:5.1%}  "
              f"{r['parameters']:>8,} values  {r['bytes']:>9,} B ({b['bytes'] / r['bytes']:5.1f}x "
              f"smaller)  {metric}  {r['latency_ms']:.3f} ms/forward")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and GPT steps")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of every compute pool (default 1)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        try:  # the stack's one thread control; a note, not an error, without threadpoolctl
            stack.enter_context(threads(args.threads))
        except ImportError as exc:
            print(f"note: --threads {args.threads}: {exc}; the pools keep their defaults")
        return run(args)


def run(args) -> dict:
    start = time.perf_counter()
    epochs, rounds = (6, 20) if args.quick else (20, 100)
    rows = classifier_rows("mlp", epochs, rounds) + classifier_rows("cnn", epochs, rounds)
    if args.quick:
        rows += gpt_rows(steps=40, embed=32, layers=1, context=32, finetune=20)
    else:
        rows += gpt_rows(steps=250, embed=128, layers=4, context=128, finetune=500)
    print("Milestone 8: compression (before vs after, one run, seed 0)")
    print_table(rows)
    elapsed = time.perf_counter() - start
    mlp = [r for r in rows if r["model"] == "digits MLP"]
    drop = 100 * (mlp[0]["accuracy"] - mlp[1]["accuracy"])
    ratio = mlp[0]["bytes"] / mlp[1]["bytes"]
    passed = drop <= (3.0 if args.quick else 1.0) and ratio >= 8
    print(f"  pruned int8 MLP: {drop:+.2f} points lost, file {ratio:.1f}x smaller; "
          f"{elapsed:.0f} s: {'PASSED' if passed else 'FAILED'}")
    return {"milestone": "m08_compression", "rows": rows, "seconds": elapsed, "passed": passed}


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
