"""Milestone 5b (Transformer, 2017): a character-level GPT writes Shakespeare.

A GPT (default 4 layers, 128 dims, 4 heads, context 128 characters) learns
to predict the next character of eight Shakespeare plays (1.1 M characters,
shipped offline with tinytorch-data). The recipe is nanoGPT's, scaled to a
CPU:

* data: the corpus split 90% train / 10% validation (the last 10%, never
  trained on); random windows of ``context + 1`` characters;
* model: ``tinytorch.transformers.GPT``;
* optimiser: ``tinytorch.optim.AdamW`` (betas 0.9/0.99, weight decay 0.1
  on matrices only), learning rate by ``cosine_with_warmup``: linear warm-up,
  then a cosine decay sized to ``--steps``, or else to the time budget
  (re-estimated from the measured step time), gradient clipping at 1.0;
* a progress bar with the loss and tokens/s, the validation loss in
  nats/char at regular intervals, and at the end on the whole held-out split;
* an atomic checkpoint (model, optimiser, config, vocabulary) and a sample.

Bar: validation loss < 1.8 nats/char within the budget (10 minutes, 2 CPU
cores). ``--quick`` trains a tiny model for a few seconds and checks that
the validation loss falls by at least ``QUICK_MARGIN`` nats instead.

Usage (from the repository root)::

    python milestones/05_transformer/shakespeare.py                 # 10 minutes
    python milestones/05_transformer/shakespeare.py --steps 600     # exactly 600 steps
    python milestones/05_transformer/shakespeare.py --quick

``--minutes`` trains for a wall-clock budget, so how far it gets depends on
the machine and on what else runs on it. ``--steps N`` trains exactly N
steps with the learning-rate schedule sized to N: with the same seed (and
the default single BLAS thread) it reaches the same loss on any machine,
only sooner or later. Given both, the schedule follows ``--steps`` and the
budget only cuts the run short.

``main(argv) -> dict`` returns the losses, the speed and ``passed``; run as a
script, the exit status is 0 when the bar is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

import tinytorch.autograd  # noqa: F401  (gradients on)
from tinytorch.autograd import no_grad
from tinytorch.nn import CrossEntropyLoss
from tinytorch.optim import AdamW, clip_grad_norm_, cosine_with_warmup, save_state
from tinytorch.tensor import manual_seed
from tinytorch.text import CharTokenizer, LanguageModelDataset
from tinytorch.transformers import GPT

from . import _common

NAME = "05_transformer/shakespeare"  # the "milestone" of the result dict
TARGET_VAL_LOSS = 1.8  # nats per character
QUICK_MARGIN = 0.8  # nats: how much the quick run's validation loss must fall


def load_corpus(path: str | None) -> str:
    """The corpus: ``path`` if given, else the copy shipped with tinytorch-data."""
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    from tinytorch.data import load_shakespeare

    return load_shakespeare()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="tiny model, a few seconds; checks that the loss falls")
    p.add_argument("--corpus", default=None,
                   help="a UTF-8 text file (default: tinytorch.data.load_shakespeare())")
    p.add_argument("--minutes", type=float, default=None,
                   help="training time budget, evaluations included (default 10 without "
                        "--steps, none with it; quick 0.5)")
    p.add_argument("--steps", type=int, default=None,
                   help="train exactly this many steps, the schedule sized to them (the "
                        "loss then depends on the seed, not on the machine's speed)")
    p.add_argument("--target-loss", type=float, default=TARGET_VAL_LOSS,
                   help=f"the validation loss to beat (default {TARGET_VAL_LOSS}: the milestone's "
                        f"bar for 10 minutes; shorter budgets deserve a looser one)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--context", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=6e-3, help="peak learning rate")
    p.add_argument("--min-lr", type=float, default=None, help="final lr (default lr / 10)")
    p.add_argument("--warmup", type=int, default=100, help="warm-up steps")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-interval", type=int, default=100, help="steps between evaluations")
    p.add_argument("--eval-batches", type=int, default=8,
                   help="batches per periodic evaluation (the final one uses the whole split)")
    p.add_argument("--checkpoint", default="checkpoints/shakespeare_gpt.npz",
                   help="where to save the trained model ('' to skip)")
    p.add_argument("--sample-chars", type=int, default=400)
    p.add_argument("--prompt", default="ROMEO:")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default 1: fastest for these small matrices, and "
                        "robust when other processes share the cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    if args.quick:
        for name, value in dict(layers=1, embed=32, heads=4, context=32, batch=16,
                                eval_interval=50, eval_batches=8, sample_chars=80,
                                warmup=10).items():
            if p.get_default(name) == getattr(args, name):
                setattr(args, name, value)
        args.steps = args.steps or 200
        args.minutes = args.minutes or 0.5
    if args.steps is not None and args.steps < 1:
        p.error(f"--steps must be a positive number of steps, got {args.steps}")
    if args.minutes is None:
        args.minutes = math.inf if args.steps else 10.0
    if not args.minutes > 0:
        p.error(f"--minutes must be positive, got {args.minutes:g}")
    args.min_lr = args.lr / 10 if args.min_lr is None else args.min_lr
    return args


def param_groups(model: GPT, weight_decay: float) -> list[dict]:
    """Weight decay on matrices (Linear weights, embeddings), none on biases
    and LayerNorm parameters (decaying those only hurts; nanoGPT does the same)."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def evaluate(model: GPT, batches, loss_fn) -> float:
    """Mean cross-entropy (nats/char) over ``batches`` of ``(x, y)``, no_grad, eval mode."""
    model.eval()
    total, count = 0.0, 0
    with no_grad():
        for x, y in batches:
            total += loss_fn(model(x), y).item() * y.size
            count += y.size
    model.train()
    return total / count


def whole_split_batches(tokens: np.ndarray, context: int, batch: int):
    """Every non-overlapping window of the split, in batches (the final evaluation)."""
    ds = LanguageModelDataset(tokens, block_size=context)
    starts = np.arange(len(ds)) * context
    index = starts[:, None] + np.arange(context + 1)  # (N, T + 1)
    windows = tokens[index]
    for s in range(0, len(windows), batch):
        w = windows[s:s + batch]
        yield w[:, :-1], w[:, 1:]


def main(argv=None) -> dict:
    """Run the milestone; returns what was achieved (``result["passed"]`` is the bar)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with _common.blas_threads(args.threads):
        return train(args)


def _data(args):
    """The corpus split 90/10, the tokenizer, the training windows and the
    fixed validation batches."""
    text = load_corpus(args.corpus)
    tokenizer = CharTokenizer().build_vocab(text)
    ids = tokenizer.encode_array(text)
    n_val = len(ids) // 10
    train_ids, val_ids = ids[:-n_val], ids[-n_val:]
    train_ds = LanguageModelDataset(train_ids, block_size=args.context)
    val_ds = LanguageModelDataset(val_ids, block_size=args.context)
    val_rng = np.random.default_rng(1234)  # the same validation batches at every evaluation
    val_batches = [val_ds.random_batch(args.batch, val_rng) for _ in range(args.eval_batches)]
    print(f"shakespeare: {len(ids):,} characters ({tokenizer.vocab_size} distinct), "
          f"{len(train_ids):,} train / {len(val_ids):,} validation")
    return tokenizer, train_ds, val_ids, val_batches


def _train_loop(args, model, opt, loss_fn, train_ds, val_batches, history):
    """Train until the time budget (or ``--steps``) is spent; returns
    ``(steps, seconds)``, or ``(steps, None)`` when the loss diverged."""
    rng = np.random.default_rng(args.seed)
    tokens_per_step = args.batch * args.context
    budget = 60.0 * args.minutes
    max_steps = args.steps or 10**9  # refined from the measured speed below
    bar = _common.Progress(args.steps, "train", every=25, enabled=not args.no_progress)
    t0 = time.perf_counter()
    step, smooth, val = 0, None, history[-1][1]
    while step < max_steps:
        elapsed = time.perf_counter() - t0
        if elapsed >= budget:
            break
        if step >= 10 and not args.steps:
            # Size the cosine to the budget: steps done + steps the rest allows.
            est = step + int((budget - elapsed) / (elapsed / step))
            max_steps = est
            bar.set_total(max_steps)
        lr = cosine_with_warmup(step, max(max_steps, args.warmup + 1), args.warmup,
                                args.lr, args.min_lr)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = train_ds.random_batch(args.batch, rng)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        value = loss.item()
        if not math.isfinite(value):
            bar.close()
            print(f"shakespeare: the loss became {value} at step {step}; lower --lr")
            return step, None
        smooth = value if smooth is None else 0.95 * smooth + 0.05 * value
        rate = step * tokens_per_step / (time.perf_counter() - t0)
        bar.update(loss=f"{smooth:.3f}", tok_s=f"{rate:,.0f}", lr=f"{lr:.1e}",
                   val=f"{val:.3f}")
        if step % args.eval_interval == 0:
            val = evaluate(model, val_batches, loss_fn)
            history.append((step, val))
            bar.write(f"step {step:6d}  train loss {smooth:.3f}  validation loss {val:.3f} "
                      f"nats/char  {rate:,.0f} tokens/s  {time.perf_counter() - t0:.0f} s")
    bar.close()
    return step, time.perf_counter() - t0


def _save_and_sample(args, model, opt, tokenizer, step: int, final_val: float) -> str:
    """Write the checkpoint (``--checkpoint``) and print a sample (``--sample-chars``)."""
    if args.checkpoint:
        path = Path(args.checkpoint)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_state(path, {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "config": asdict(model.config),
            "vocab": list(tokenizer.chars),
            "step": step,
            "val_loss": final_val,
        })
        print(f"checkpoint saved to {path}")
    sample = ""
    if args.sample_chars > 0:
        prompt = args.prompt if all(c in tokenizer.chars for c in args.prompt) else "\n"
        out = model.generate(tokenizer.encode_array(prompt), args.sample_chars,
                             temperature=0.8, top_k=20, generator=args.seed)
        sample = tokenizer.decode(out.numpy())
        print("--- sample " + "-" * 60)
        print(sample)
        print("-" * 71)
    return sample


def train(args) -> dict:
    manual_seed(args.seed)
    tokenizer, train_ds, val_ids, val_batches = _data(args)
    model = GPT(tokenizer.vocab_size, args.embed, args.layers, args.heads, args.context,
                dropout=args.dropout)
    opt = AdamW(param_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.99))
    loss_fn = CrossEntropyLoss()
    tokens_per_step = args.batch * args.context
    budget = 60.0 * args.minutes
    print(f"model: {args.layers} layers, {args.embed} dims, {args.heads} heads, context "
          f"{args.context}, {model.num_parameters():,} parameters; batch {args.batch} x "
          f"{args.context} = {tokens_per_step} tokens/step; "
          + (f"{args.steps} steps" if args.steps else "")
          + (" within " if args.steps and math.isfinite(budget) else "")
          + (f"{args.minutes:g} min" if math.isfinite(budget) else ""))

    first_val = evaluate(model, val_batches, loss_fn)
    print(f"step 0: validation loss {first_val:.3f} nats/char "
          f"(uniform would be {math.log(tokenizer.vocab_size):.3f})")
    history = [(0, first_val)]
    step, train_time = _train_loop(args, model, opt, loss_fn, train_ds, val_batches, history)
    if train_time is None:
        return _common.result(NAME, False, val_loss=float("nan"), steps=step)

    t_eval = time.perf_counter()
    if args.quick:
        final_val = evaluate(model, val_batches, loss_fn)  # the same batches as step 0
        where = "the periodic validation batches"
    else:
        final_val = evaluate(model, whole_split_batches(val_ids, args.context, args.batch),
                             loss_fn)
        where = "the whole held-out 10%"
    eval_time = time.perf_counter() - t_eval
    print(f"trained {step} steps ({step * tokens_per_step:,} tokens) in {train_time:.0f} s; "
          f"final validation loss {final_val:.3f} nats/char on {where} "
          f"({eval_time:.0f} s to evaluate)")
    sample = _save_and_sample(args, model, opt, tokenizer, step, final_val)

    if args.quick:
        drop = first_val - final_val
        ok = drop >= QUICK_MARGIN
        print(f"shakespeare (quick): validation loss {first_val:.3f} -> {final_val:.3f} "
              f"(fell by {drop:.3f}; bar: >= {QUICK_MARGIN}): {_common.verdict(ok)}")
    else:
        ok = final_val < args.target_loss
        within = (f"{args.steps} steps" if args.steps and step == args.steps
                  else f"{args.minutes:g} min")
        print(f"shakespeare: validation loss {final_val:.3f} nats/char after {step} steps, "
              f"{train_time / 60:.1f} min (bar: < {args.target_loss:g} within {within}): "
              f"{_common.verdict(ok)}")
    tokens = step * tokens_per_step
    return _common.result(
        NAME, ok, first_val_loss=first_val, val_loss=final_val, history=history, steps=step,
        tokens=tokens, seconds=train_time,
        tokens_per_second=tokens / train_time if train_time else 0.0,
        bar=QUICK_MARGIN if args.quick else args.target_loss, sample=sample)

if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
