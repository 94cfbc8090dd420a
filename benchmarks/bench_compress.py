"""Compression benchmark: pruning, structured pruning, int8 + compressed storage,
distillation and a pruned GPT, each against its uncompressed original in one run.

Rows (targets from the compression issue; every figure is measured here):
1. digits MLP 64-300-100-10 (LeNet-300-100's hidden sizes, Deep Compression's
   anchor for a 90% cut), 90% of the weights (biases excluded, as
   torch.nn.utils.prune and Deep Compression count them) pruned globally,
   gradual + fine-tune: accuracy drop <= 0.5 points.
2. digits CNN (milestone 4), 80% global unstructured, gradual + fine-tune:
   accuracy drop <= 0.5 points.
3. digits MLP 64-300-100-10 (LeNet-300-100's hidden sizes), pruned 90% + int8 +
   save_compressed: file on disk against the float ``.npz`` >= 15x, drop <= 1 point.
4. digits CNN, 50% of channels removed (structured, ranked by the L1 norm of
   each filter) + fine-tune: latency at batch 64 against the original >= 1.6x
   faster (median of alternating rounds), drop <= 1 point.
5. digits, a student with <= 1/4 of the teacher's parameters, distilled
   against trained alone (mean over 3 seeds): distilled better, and within 1
   point of the teacher. Teacher and students are CNNs; both students see the
   same batches, with one-pixel random shifts: the teacher's soft targets on
   shifted digits are what the hard labels cannot give.
6. Shakespeare GPT, 25% of heads and MLP units removed + fine-tuning: validation
   loss increase <= 0.05 nats/char, tokens/s faster (the unpruned model
   fine-tuned as long is printed as the control).
7. PyTorch torch.nn.utils.prune on an identical MLP: masks and accuracy side by side.

The recipes of rows 1, 4 and 5 were chosen on a validation split carved from
the training set (``benchmarks/select_compress.py`` reruns that selection and
prints it); the test split is only used for the figures printed here.

    python benchmarks/bench_compress.py [--epochs 20] [--gpt-steps 250] [--gpt-finetune 500]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import limit_threads, load_average, use_source_tree  # noqa: E402

use_source_tree()

from tinytorch import nn  # noqa: E402
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.compress import (  # noqa: E402
    MaskedConv2d,
    MaskedLinear,
    compress_model,
    distill,
    magnitude_prune,
    measure_sparsity,
    prunable_layers,
    save_compressed,
    structured_prune,
)
from tinytorch.data import DataLoader  # noqa: E402
from tinytorch.milestones import m04_cnn_digits  # noqa: E402
from tinytorch.milestones import m07_quantization as M  # noqa: E402
from tinytorch.optim import Adam, AdamW, CosineSchedule, Trainer, clip_grad_norm_  # noqa: E402
from tinytorch.tensor import Generator, Tensor, manual_seed  # noqa: E402


def check(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def loader(dataset, seed: int = 0) -> DataLoader:
    return DataLoader(dataset, batch_size=32, shuffle=True, generator=Generator(seed))


def fit(model, train_set, epochs: int, seed: int = 0, lr: float = 3e-3):
    """Adam with cosine decay, batch 32: the recipe of milestones 3, 4 and 7."""
    manual_seed(seed)
    data = loader(train_set, seed)
    opt = Adam(model.parameters(), lr=lr)
    Trainer(model, opt, nn.CrossEntropyLoss(),
            scheduler=CosineSchedule(opt, T_max=epochs * len(data)), progress=False).fit(
        data, epochs)
    return model.eval()


def prune_and_finetune(model, train_set, amount: float, epochs: int):
    """Gradual global pruning over ``epochs`` (the cubic ramp takes the first
    3/4, Adam at 1e-3), then ``epochs`` of fine-tuning with cosine decay; the
    masks hold throughout."""
    data = loader(train_set, 1)
    pruned, _ = compress_model(model, [("prune", {"amount": amount, "scope": "global",
                                                  "data": data, "epochs": epochs,
                                                  "lr": 1e-3})], verbose=False)
    return fit(pruned, train_set, epochs, seed=1, lr=1e-3)


#: Row 1's recipe, chosen on the validation split (select_compress.py): a
#: longer ramp at a higher rate, then fine-tuning at a lower one.
ROW1 = {"prune_epochs": 20, "prune_lr": 2e-3, "finetune_epochs": 10, "finetune_lr": 3e-4}


def gradual_prune(model, train_set, amount: float, prune_epochs: int, prune_lr: float,
                  finetune_epochs: int, finetune_lr: float):
    """Gradual global pruning of the weights (Zhu & Gupta's cubic ramp over the
    first 3/4 of ``prune_epochs`` of Adam at ``prune_lr``), then
    ``finetune_epochs`` of Adam at ``finetune_lr`` with cosine decay; the masks
    hold throughout."""
    data = loader(train_set, 1)
    pruned, _ = compress_model(model, [("prune", {"amount": amount, "scope": "global",
                                                  "data": data, "epochs": prune_epochs,
                                                  "lr": prune_lr})], verbose=False)
    return fit(pruned, train_set, finetune_epochs, seed=1, lr=finetune_lr)


def weight_sparsity(model) -> float:
    """Zeros over elements of the Linear / Conv2d weights alone (biases excluded)."""
    ws = [m.effective_weight() if isinstance(m, (MaskedLinear, MaskedConv2d)) else m.weight.data
          for _, m in prunable_layers(model)]
    return 1.0 - sum(np.count_nonzero(w) for w in ws) / sum(w.size for w in ws)


def mlp_row(lenet, train, test) -> None:
    pruned = gradual_prune(lenet, train, 0.9, **ROW1)
    a0, a1 = M.accuracy(lenet, test), M.accuracy(pruned, test)
    drop = 100 * (a0 - a1)
    print(f"1. digits MLP 64-300-100-10, 90% global unstructured, gradual "
          f"({ROW1['prune_epochs']} epochs, Adam {ROW1['prune_lr']:g}) + fine-tune "
          f"({ROW1['finetune_epochs']} epochs, Adam {ROW1['finetune_lr']:g}, cosine): accuracy "
          f"{a0:.2%} -> {a1:.2%}, drop {drop:+.2f} points (target <= 0.5: "
          f"{check(drop <= 0.5)}); weight sparsity measured {weight_sparsity(pruned):.3f} "
          f"(all tensors, biases included: {measure_sparsity(pruned).sparsity:.3f})")


def cnn_unstructured_row(cnn, train, test, epochs: int) -> None:
    pruned = prune_and_finetune(cnn, train, 0.8, epochs)
    a0, a1 = M.accuracy(cnn, test), M.accuracy(pruned, test)
    drop = 100 * (a0 - a1)
    print(f"2. digits CNN, 80% global unstructured, gradual + fine-tune: "
          f"accuracy {a0:.2%} -> {a1:.2%}, drop {drop:+.2f} points (target <= 0.5: "
          f"{check(drop <= 0.5)}); weight sparsity measured {weight_sparsity(pruned):.3f}")


def file_size(write) -> int:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "m")
        write(path)
        return os.path.getsize(path)


def train_lenet(train, epochs: int):
    """LeNet-300-100's hidden sizes on the 64 digit pixels, Adam + cosine, seed 0."""
    manual_seed(0)
    lenet = nn.Sequential(nn.Linear(64, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                          nn.Linear(100, 10))
    return fit(lenet, train, epochs)


def lenet_row(lenet, train, test, epochs: int) -> None:
    pruned = prune_and_finetune(lenet, train, 0.9, epochs // 2)
    small, _ = compress_model(pruned, [("quantize", {"mode": "dynamic"})], verbose=False)
    float_file = file_size(lenet.save)
    small_file = file_size(lambda p: save_compressed(small, p))
    a0, a1 = M.accuracy(lenet, test), M.accuracy(small, test)
    ratio, drop = float_file / small_file, 100 * (a0 - a1)
    print(f"3. digits MLP 64-300-100-10, 90% pruned + int8 + save_compressed: file "
          f"{float_file:,} B (float .npz) -> {small_file:,} B = {ratio:.1f}x (target >= 15x: "
          f"{check(ratio >= 15)}); accuracy {a0:.2%} -> {a1:.2%}, drop {drop:+.2f} points "
          f"(target <= 1: {check(drop <= 1.0)})")


def structured_row(cnn, train, test, epochs: int, rounds: int) -> None:
    convs = [i for i, m in enumerate(cnn) if isinstance(m, nn.Conv2d)]
    # L1 ranking: chosen on the validation split (select_compress.py)
    small = fit(structured_prune(cnn, 0.5, layers=convs, norm=1), train, epochs, seed=2,
                lr=3e-3)
    x = Tensor(test.arrays[0][:64])
    lat = M.median_latency({"original": cnn, "pruned": small}, x, rounds=rounds)
    speed = lat["original"] / lat["pruned"]
    a0, a1 = M.accuracy(cnn, test), M.accuracy(small, test)
    drop = 100 * (a0 - a1)
    print(f"4. digits CNN, 50% of the conv channels removed (L1 ranking) + {epochs} fine-tune "
          f"epochs: "
          f"{cnn.num_parameters():,} -> {small.num_parameters():,} parameters; batch 64 "
          f"{1e6 * lat['original']:.0f} us -> {1e6 * lat['pruned']:.0f} us = {speed:.2f}x "
          f"(median of {rounds} alternating rounds; target >= 1.6x: {check(speed >= 1.6)}); "
          f"accuracy {a0:.2%} -> {a1:.2%}, drop {drop:+.2f} (target <= 1: {check(drop <= 1)})")


class ShiftedDigits:
    """Shuffled batches of 32 digit images, each moved by one pixel in a random
    direction (of the 8 neighbours) with probability ``p``, the border filled with
    the background value; redrawn every epoch (seeded). An iterable with a
    length, as the Trainer needs. Shapes: ``(N, 1, 8, 8)`` float32 in and out.
    One fancy-indexing gather per epoch: no Python loop over images."""

    def __init__(self, dataset, seed: int, p: float = 0.5, batch_size: int = 32) -> None:
        self.x, self.y = dataset.arrays
        self.rng, self.p, self.batch_size = np.random.default_rng(seed), p, batch_size
        self.background = float(self.x.min())  # the standardised value of a 0 pixel

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        n, (h, w) = len(self.y), self.x.shape[-2:]
        padded = np.pad(self.x, ((0, 0), (0, 0), (1, 1), (1, 1)),
                        constant_values=self.background)  # (N, 1, h+2, w+2)
        moved = self.rng.random(n) < self.p
        dy = np.where(moved, self.rng.integers(0, 3, n), 1)  # 1 = not moved
        dx = np.where(moved, self.rng.integers(0, 3, n), 1)
        rows = (dy[:, None] + np.arange(h))[:, None, :, None]  # (N, 1, h, 1)
        cols = (dx[:, None] + np.arange(w))[:, None, None, :]  # (N, 1, 1, w)
        images = padded[np.arange(n)[:, None, None, None], 0, rows, cols]  # (N, 1, h, w)
        order = self.rng.permutation(n)
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size]
            yield Tensor(images[idx]), Tensor(self.y[idx])


#: Row 5's setting, chosen on the validation split (select_compress.py --rows 5):
#: a CNN teacher trained with one-pixel shifts, a CNN student of 0.15 of its
#: parameters, both students fed the same shifted batches.
ROW5 = {"teacher": (32, 64, 128), "student": (12, 24, 48), "epochs": 30, "temperature": 4.0,
        "alpha": 0.9, "shift": 0.5}


def fit_on(model, data, epochs: int, seed: int, lr: float = 3e-3):
    """``fit`` on any iterable of batches with a length (Adam, cosine decay)."""
    manual_seed(seed)
    opt = Adam(model.parameters(), lr=lr)
    Trainer(model, opt, nn.CrossEntropyLoss(),
            scheduler=CosineSchedule(opt, T_max=epochs * len(data)), progress=False).fit(
        data, epochs)
    return model.eval()


def distill_row(train, test) -> None:
    r = ROW5
    manual_seed(0)
    teacher = fit_on(m04_cnn_digits.build_model(*r["teacher"]),
                     ShiftedDigits(train, 0, r["shift"]), r["epochs"], seed=0)
    alone, distilled = [], []
    for seed in range(3):
        manual_seed(100 + seed)
        student = m04_cnn_digits.build_model(*r["student"])
        twin = copy.deepcopy(student)
        # The identical pipeline for both: same initial weights, same shifted batches.
        alone.append(M.accuracy(fit_on(student, ShiftedDigits(train, seed, r["shift"]),
                                       r["epochs"], seed=seed), test))
        data = ShiftedDigits(train, seed, r["shift"])
        opt = Adam(twin.parameters(), lr=3e-3)
        manual_seed(seed)
        distill(teacher, twin, data, epochs=r["epochs"], temperature=r["temperature"],
                alpha=r["alpha"], optimizer=opt,
                scheduler=CosineSchedule(opt, T_max=r["epochs"] * len(data)))
        distilled.append(M.accuracy(twin.eval(), test))
    t_acc = M.accuracy(teacher, test)
    share = twin.num_parameters() / teacher.num_parameters()
    a, d = float(np.mean(alone)), float(np.mean(distilled))
    print(f"5. digits, teacher CNN {'-'.join(map(str, r['teacher']))} "
          f"({teacher.num_parameters():,} parameters), student CNN "
          f"{'-'.join(map(str, r['student']))} ({twin.num_parameters():,} = {share:.2f} of the "
          f"teacher's; target <= 0.25: {check(share <= 0.25)}), {r['epochs']} epochs, both on "
          f"the same one-pixel-shifted batches (p={r['shift']}), seeds 0-2: trained alone "
          f"{a:.2%} ({', '.join(f'{v:.2%}' for v in alone)}), distilled (T={r['temperature']:g}, "
          f"alpha={r['alpha']:g}) {d:.2%} ({', '.join(f'{v:.2%}' for v in distilled)}), teacher "
          f"{t_acc:.2%}: distilled better: {check(d > a)}; within 1 point of the teacher: "
          f"{check(d >= t_acc - 0.01)}")


def gpt_finetune(model, train_ds, loss_fn, steps: int, seed: int = 5):
    rng = np.random.default_rng(seed)
    model.train()
    opt = AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = 1e-3 * 0.5 * (1 + np.cos(np.pi * step / steps))
        x, y = train_ds.random_batch(16, rng)
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval()


def gpt_row(steps: int, finetune: int, rounds: int) -> None:
    t0 = time.perf_counter()
    model, train_ds, val_batches, loss_fn = M.train_gpt(steps, 128, 4, 128, batch=16)
    base = M.val_loss(model, val_batches, loss_fn)
    pruned = gpt_finetune(structured_prune(model, 0.25), train_ds, loss_fn, finetune)
    control = gpt_finetune(copy.deepcopy(model), train_ds, loss_fn, finetune)
    l_p, l_c = (M.val_loss(m, val_batches, loss_fn) for m in (pruned, control))
    x = val_batches[0][0][:16]
    lat = M.median_latency({"original": model, "pruned": pruned}, x, rounds=rounds)
    tok = {k: x.size / v for k, v in lat.items()}
    d = l_p - base
    print(f"6. Shakespeare GPT (4 layers, 128 dims, 4 heads, context 128), trained {steps} "
          f"steps, then 25% of heads and MLP units removed + {finetune} fine-tune steps "
          f"({time.perf_counter() - t0:.0f} s): {model.num_parameters():,} -> "
          f"{pruned.num_parameters():,} parameters; validation loss {base:.4f} -> {l_p:.4f} "
          f"nats/char ({d:+.4f}; target <= +0.05: {check(d <= 0.05)}); the unpruned model "
          f"fine-tuned as long: {l_c:.4f} ({l_p - l_c:+.4f} for pruning); forward 16 x 128 "
          f"tokens: {tok['original']:,.0f} -> {tok['pruned']:,.0f} tok/s = "
          f"{tok['pruned'] / tok['original']:.2f}x "
          f"(faster: {check(lat['pruned'] < lat['original'])})")


def torch_row(mlp, test) -> None:
    import torch
    from torch.nn.utils import prune as tprune
    tm = torch.nn.Sequential(torch.nn.Linear(64, mlp[0].out_features), torch.nn.ReLU(),
                             torch.nn.Linear(mlp[0].out_features, 10))
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in mlp.state_dict().items()})
    tprune.global_unstructured([(tm[0], "weight"), (tm[2], "weight")],
                               pruning_method=tprune.L1Unstructured, amount=0.9)
    ours = magnitude_prune(mlp, 0.9, scope="global")
    differ = sum(int((ours[i].mask() != (tm[i].weight_mask.numpy() != 0)).sum()) for i in (0, 2))
    x, y = test.arrays
    with torch.no_grad():
        t_acc = float((tm(torch.from_numpy(x)).argmax(1).numpy() == y).mean())
    with no_grad():
        o_acc = M.accuracy(ours, test)
    print("7. the milestone-3 MLP, 90% global L1 one shot (no fine-tune), side by side")
    print(f"   {'':10} {'kept weights':>13} {'accuracy':>9}")
    for name, kept, acc in (("PyTorch", sum(int(tm[i].weight_mask.sum()) for i in (0, 2)), t_acc),
                            ("tinytorch", sum(int(ours[i].mask().sum()) for i in (0, 2)), o_acc)):
        print(f"   {name:10} {kept:>13,} {acc:>9.2%}")
    print(f"   masks differ in {differ} of {ours[0].mask().size + ours[2].mask().size:,} weights")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=20, help="digits training epochs")
    p.add_argument("--prune-epochs", type=int, default=10, help="gradual pruning epochs")
    p.add_argument("--gpt-steps", type=int, default=250)
    p.add_argument("--gpt-finetune", type=int, default=500)
    p.add_argument("--rounds", type=int, default=200, help="latency rounds")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", default="1234567", help="which rows to run, e.g. 145")
    args = p.parse_args(argv)
    print(f"bench_compress: threads {args.threads}, {load_average()}")
    with limit_threads(args.threads):
        mlp, train_mlp, test_mlp = M.train_classifier("mlp", args.epochs)
        cnn, train_cnn, test_cnn = M.train_classifier("cnn", args.epochs)
        lenet = train_lenet(train_mlp, args.epochs) if set("13") & set(args.rows) else None
        if "1" in args.rows:
            mlp_row(lenet, train_mlp, test_mlp)
        if "2" in args.rows:
            cnn_unstructured_row(cnn, train_cnn, test_cnn, args.prune_epochs)
        if "3" in args.rows:
            lenet_row(lenet, train_mlp, test_mlp, args.epochs)
        if "4" in args.rows:
            structured_row(cnn, train_cnn, test_cnn, args.epochs, args.rounds)
        if "5" in args.rows:
            distill_row(train_cnn, test_cnn)
        if "6" in args.rows:
            gpt_row(args.gpt_steps, args.gpt_finetune, max(5, args.rounds // 20))
        if "7" in args.rows:
            torch_row(mlp, test_mlp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
