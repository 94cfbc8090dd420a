"""Milestone 7: quantization. The same models, 4x to 7x smaller, measured in one run.

The idea. A trained network's weights need far fewer than 32 bits each:
store them as 8-bit integers with one float scale per output channel (int8),
or as 4-bit codes with one scale per group of 32 weights (int4, llama.cpp's
Q4_0 layout), and the model shrinks 4x to 7x while its predictions barely
move. Quantization-aware training (QAT) trains through the rounding so the
4-bit model loses even less.

This script trains, in one run and seeded, the digits MLP (milestone 3), the
digits CNN (milestone 4) and a small character GPT on Shakespeare (a few
hundred steps: no trained checkpoint is shipped), then prints for each:
float against int8 against int4 -- ``model_size_bytes``, test accuracy (or
validation loss in nats/char) and the median latency of one forward.

    python milestones/m07_quantization.py
    python milestones/m07_quantization.py --quick     # smaller GPT, fewer steps
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

import numpy as np

from tinytorch import nn
from tinytorch.autograd import no_grad
from tinytorch.data import DataLoader, load_shakespeare
from tinytorch.optim import Adam, AdamW, CosineSchedule, Trainer, clip_grad_norm_
from tinytorch.quant import (
    convert,
    model_size_bytes,
    prepare_qat,
    quantize_dynamic,
    quantize_static,
    quantize_weights,
)
from tinytorch.tensor import Generator, Tensor, manual_seed
from tinytorch.text import CharTokenizer, LanguageModelDataset
from tinytorch.transformers import GPT

from . import _common


def _load(name: str):
    return importlib.import_module(f"tinytorch.milestones.{name}")


def train_classifier(kind: str, epochs: int, seed: int = 0):
    """The milestone-3 MLP or milestone-4 CNN, trained with Adam and cosine decay.
    Returns ``(model, train_set, test_set)``."""
    mod = _load("m03_mlp_digits" if kind == "mlp" else "m04_cnn_digits")
    manual_seed(seed)
    train_set, test_set = mod.load_data()
    model = mod.build_model()
    loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=Generator(seed))
    opt = Adam(model.parameters(), lr=3e-3)
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(),
                      scheduler=CosineSchedule(opt, T_max=epochs * len(loader)), progress=False)
    trainer.fit(loader, epochs)
    return model.eval(), train_set, test_set


def accuracy(model, dataset) -> float:
    with no_grad():
        logits = model(Tensor(dataset.arrays[0])).data
    return float((logits.argmax(axis=1) == dataset.arrays[1]).mean())


def median_latency(models: dict, x: Tensor, rounds: int = 15) -> dict:
    """Median seconds of one forward per model, the models alternating each
    round so that drift on a shared machine hits them all alike."""
    times = {k: [] for k in models}
    with no_grad():
        for m in models.values():
            m(x)  # warm-up
        for _ in range(rounds):
            for k, m in models.items():
                t = time.perf_counter()
                m(x)
                times[k].append(time.perf_counter() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def qat_finetune(model, train_set, bits: int, group_size, epochs: int, seed: int = 0):
    """prepare_qat, a short fine-tune with the Trainer, convert."""
    manual_seed(seed)
    qat = prepare_qat(model, bits=bits, group_size=group_size)
    loader = DataLoader(train_set, batch_size=32, shuffle=True, generator=Generator(seed))
    opt = Adam(qat.parameters(), lr=5e-4)
    Trainer(qat, opt, nn.CrossEntropyLoss(), progress=False).fit(loader, epochs)
    return convert(qat.eval()).eval()


def classifier_rows(kind: str, epochs: int) -> list[dict]:
    model, train_set, test_set = train_classifier(kind, epochs)
    calib = [train_set.arrays[0][i:i + 128] for i in range(0, 512, 128)]
    variants = {"float32": model, "int8 static": quantize_static(model, calib)}
    if kind == "mlp":
        variants["int4 PTQ per-channel"] = convert(prepare_qat(model, bits=4)).eval()
        variants["int4 QAT per-channel"] = qat_finetune(model, train_set, 4, None, 3)
    else:
        variants["int4 weights g32"] = quantize_weights(model, bits=4, group_size=32)
    x = Tensor(test_set.arrays[0][:256])
    lat = median_latency(variants, x)
    return [{"model": f"digits {kind.upper()}", "variant": k, "bytes": model_size_bytes(m),
             "accuracy": accuracy(m, test_set), "latency_ms": 1e3 * lat[k]}
            for k, m in variants.items()]


# ----------------------------------------------------------------------- GPT


def train_gpt(steps: int, embed: int, layers: int, context: int, seed: int = 0,
              batch: int = 16):
    """A small character GPT trained for ``steps`` AdamW steps on Shakespeare
    (90/10 split). Returns ``(model, train_ds, val_batches, loss_fn)``."""
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    text = load_shakespeare()
    tok = CharTokenizer().build_vocab(text)
    ids = tok.encode_array(text)
    n_val = len(ids) // 10
    train_ds = LanguageModelDataset(ids[:-n_val], block_size=context)
    val_ds = LanguageModelDataset(ids[-n_val:], block_size=context)
    vrng = np.random.default_rng(1234)
    val_batches = [val_ds.random_batch(32, vrng) for _ in range(8)]
    model = GPT(tok.vocab_size, embed, layers, 4, context)
    opt = AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = 3e-3 * 0.5 * (1 + np.cos(np.pi * step / steps))
        x, y = train_ds.random_batch(batch, rng)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval(), train_ds, val_batches, loss_fn


def val_loss(model, batches, loss_fn) -> float:
    with no_grad():
        return float(np.mean([loss_fn(model(x), y).item() for x, y in batches]))


def gpt_qat(model, train_ds, loss_fn, steps: int, seed: int = 0):
    """Int4 (group 32) QAT fine-tune of the GPT's Linear layers, then convert."""
    rng = np.random.default_rng(seed + 1)
    qat = prepare_qat(model, bits=4, group_size=32).train()
    opt = AdamW(qat.parameters(), lr=3e-4, weight_decay=0.0)
    for _ in range(steps):
        x, y = train_ds.random_batch(16, rng)
        loss = loss_fn(qat(x), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(qat.parameters(), 1.0)
        opt.step()
    return convert(qat.eval()).eval()


def gpt_rows(steps: int, embed: int, layers: int, context: int, qat_steps: int) -> list[dict]:
    model, train_ds, val_batches, loss_fn = train_gpt(steps, embed, layers, context)
    variants = {"float32": model, "int8 weights (dynamic)": quantize_dynamic(model),
                "int4 weights g32": quantize_weights(model, bits=4, group_size=32),
                "int4 QAT g32": gpt_qat(model, train_ds, loss_fn, qat_steps)}
    x = Tensor(val_batches[0][0][:8])
    lat = median_latency(variants, x, rounds=7)
    desc = f"Shakespeare GPT ({layers}L {embed}d ctx {context}, {steps} steps)"
    return [{"model": desc, "variant": k, "bytes": model_size_bytes(m),
             "val_loss": val_loss(m, val_batches, loss_fn), "latency_ms": 1e3 * lat[k]}
            for k, m in variants.items()]


def print_table(rows: list[dict]) -> None:
    base = {}
    for r in rows:
        base.setdefault(r["model"], r)
        b = base[r["model"]]
        metric = (f"accuracy {r['accuracy']:.2%} ({100 * (r['accuracy'] - b['accuracy']):+.2f} pt)"
                  if "accuracy" in r else
                  f"val loss {r['val_loss']:.4f} ({r['val_loss'] - b['val_loss']:+.4f} nats/char)")
        print(f"  {r['model']:<40} {r['variant']:<24} {r['bytes']:>9,} B "
              f"({b['bytes'] / r['bytes']:4.2f}x smaller)  {metric}  "
              f"{r['latency_ms']:.3f} ms/forward")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs and GPT steps")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS threads (default 1: fastest at these sizes, steady timings)")
    args = parser.parse_args(argv)
    with _common.blas_threads(args.threads):  # a note, not an error, without threadpoolctl
        return run(args)


def run(args) -> dict:
    start = time.perf_counter()
    epochs = 8 if args.quick else 20
    rows = classifier_rows("mlp", epochs) + classifier_rows("cnn", epochs)
    if args.quick:
        rows += gpt_rows(steps=60, embed=32, layers=1, context=32, qat_steps=20)
    else:
        rows += gpt_rows(steps=400, embed=64, layers=2, context=64, qat_steps=100)
    print("Milestone 7: quantization (float32 vs int8 vs int4, one run, seed 0)")
    print_table(rows)
    elapsed = time.perf_counter() - start
    mlp = [r for r in rows if r["model"] == "digits MLP"]
    int8_drop = 100 * (mlp[0]["accuracy"] - mlp[1]["accuracy"])
    passed = int8_drop <= 1.0 and mlp[0]["bytes"] / mlp[1]["bytes"] >= 3.5
    print(f"  int8 MLP: {int8_drop:+.2f} points lost, "
          f"{mlp[0]['bytes'] / mlp[1]['bytes']:.2f}x smaller; {elapsed:.0f} s: "
          f"{_common.verdict(passed)}")
    return _common.result("m07_quantization", passed, rows=rows, seconds=elapsed)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
