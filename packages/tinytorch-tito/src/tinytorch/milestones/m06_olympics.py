"""Milestone 6 (2018): MLPerf, and the first TorchPerf Olympics.

History. In May 2018 researchers from Google, Baidu, Harvard, Stanford,
Berkeley and others announced MLPerf, a common benchmark suite for machine
learning systems; the first training results followed in December 2018 and
the first inference results (v0.5) in 2019. Its rules made results
comparable: fixed models and quality targets, fixed *scenarios* describing
how queries arrive (SingleStream: one query at a time, scored by the
90th-percentile latency; Offline: everything at once, scored by
throughput), and two *divisions*: **closed** (the reference model, so that
systems are compared) and **open** (any model).

The idea. An optimization is only as good as its measurement. Each entry
here is measured against its own baseline, on the same machine, in the same
run, by one measurement path (``tinytorch.perf``), and reported as ratios
(speedup, compression) that travel between machines better than raw
milliseconds do::

    baseline ─┐    SingleStream (ms) · Offline (samples/s) · memory · accuracy
              ├──▶ normalized scores ──▶ event qualification ──▶ submission.json
    optimized ┘                                                   └─▶ validated

The entries:

* the tiny GPT (a character-level language model trained briefly on the
  bundled Shakespeare), generating 48 tokens per query without and with the
  KV cache of ``tinytorch.kvcache``: the one optimization the stack has;
* the digits CNN of milestone 4, trained briefly, against the same CNN
  quantized with ``tinytorch.quant.quantize_static`` (int8 weights per output
  channel, calibrated int8 activations; index-free max pooling): the same
  architecture, entered in the memory challenge;
* the digits MLP of milestone 3 against an exact copy of itself: an A/A
  control whose "speedup" shows how much two identical runs differ;
* the same MLP compressed with ``tinytorch.compress`` in Deep Compression's
  order: 90% of its weights pruned gradually while training, fine-tuned
  with the masks held, then stored sparse (``to_sparse``: only the nonzeros,
  as int8 codes with a scale per row, and their column indices): the same
  architecture, a closed-division entry, where the memory it saves (over 4x)
  is paid for in latency at batch 1 (a gather per nonzero);
* the digits CNN structurally pruned (``structured_prune``: half the
  filters and hidden units removed, so the shapes really shrink), fine-tuned,
  then compiled (``tinytorch.accel.compile``): a smaller architecture, an
  open-division entry in LATENCY_SPRINT. At batch 1 most of its speedup is
  the compiler's (per-op Python overhead); pruning adds the smaller shapes.

The GPT entry and the pruned-and-quantized MLP are each entered in the most
demanding event their measured scores qualify for (the order of
``tinytorch.olympics.EVENT_PREFERENCE``: EXTREME_PUSH, ALL_AROUND,
LATENCY_SPRINT, MEMORY_CHALLENGE, ACCURACY_CONTEST); the pruned CNN in
LATENCY_SPRINT, the quantized CNN as a closed-division MEMORY_CHALLENGE
submission. The bar: all four validate.

    python milestones/m06_olympics.py
    python milestones/m06_olympics.py --quick          # shorter training and measurement
    python milestones/m06_olympics.py --output-dir out --github-repo https://github.com/you/tinytorch
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from tinytorch.accel import compile as compile_model
from tinytorch.autograd import no_grad
from tinytorch.compress import compress_model, measure_sparsity, to_sparse
from tinytorch.data import DataLoader, TensorDataset, digits_split
from tinytorch.olympics import (
    format_report,
    generate_submission,
    utc_timestamp,
    validate_submission,
)
from tinytorch.olympics.pairings import (
    Pairing,
    digits_cnn,
    digits_cnn_int8,
    digits_mlp,
    tiny_gpt,
)
from tinytorch.perf import OlympicEvent, qualifies_event
from tinytorch.quant import model_size_bytes
from tinytorch.tensor import Generator, Tensor

from . import _common

DEFAULT_REPO = "https://github.com/your-name/tinytorch"
# (quick, full): epochs for the classifiers, AdamW steps for the GPT.
TRAINING = {"mlp": (5, 15), "cnn": (2, 8), "gpt": (40, 300), "cnn-finetune": (4, 12)}


def _digits_train_loader(images: bool, seed: int) -> tuple[DataLoader, np.ndarray]:
    """The training 80% of the digits, standardised exactly as the pairings'
    held-out data is (mean and std of the training pixels): a shuffled
    DataLoader of batches of 32, and the first 512 inputs for calibration."""
    train, _ = digits_split(test_fraction=0.2, seed=0, images=images)
    x = ((train.data - train.data.mean()) / train.data.std()).astype(np.float32)
    loader = DataLoader(TensorDataset(x, np.asarray(train.targets)), batch_size=32,
                        shuffle=True, generator=Generator(seed))
    return loader, x[:512]


def mlp_pruned_int8(epochs: int, seed: int, amount: float = 0.9, tile: int = 64) -> Pairing:
    """The digits MLP (baseline, trained ``epochs`` epochs) against the same
    MLP with ``amount`` of its weights pruned gradually over ``epochs``
    epochs of training, fine-tuned ``epochs // 2`` epochs at a lower rate with
    the masks held, then stored sparse: each Linear keeps only its nonzeros
    as int8 codes (one scale per row) with their column indices
    (``to_sparse``, CSR, ``tile`` nonzeros at a time). Same architecture."""
    base = digits_mlp(epochs=epochs, seed=seed)
    loader, _ = _digits_train_loader(images=False, seed=seed)
    pruned, report = compress_model(base.baseline, [
        ("prune", {"amount": amount, "scope": "global", "data": loader, "epochs": epochs,
                   "lr": 1e-3}),
        ("finetune", {"data": loader, "epochs": max(1, epochs // 2), "lr": 3e-4}),
    ], verbose=False)
    optimized = to_sparse(pruned, int8=True, tile=tile)
    sizes = (model_size_bytes(base.baseline), model_size_bytes(optimized))
    return Pairing(
        name="mlp-pruned-int8", baseline=base.baseline, optimized=optimized, data=base.data,
        techniques=["magnitude-pruning", "fine-tuning", "int8-weight-quantization",
                    "sparse-storage"],
        optimization=(f"tinytorch.compress.compress_model: {' -> '.join(report.steps)}; "
                      f"sparsity {report.after.sparsity:.2f}; to_sparse: int8 nonzeros + "
                      f"column indices (CSR), {sizes[0]:,} -> {sizes[1]:,} bytes of weights"),
        descriptions=(base.descriptions[0],
                      f"the same MLP, {amount:.0%} of its weights pruned and fine-tuned, "
                      f"int8 nonzeros stored sparse"),
        training=base.training)


def cnn_structured(epochs: int, seed: int, amount: float = 0.5, finetune: int = 3) -> Pairing:
    """The digits CNN (baseline, trained ``epochs`` epochs) against a smaller
    CNN: ``structured_prune`` removes ``amount`` of the filters of both convs
    and of the hidden units (ranked by L1 norm), ``finetune`` epochs of Adam
    recover the accuracy, and ``tinytorch.accel.compile`` captures its
    forward once and replays it as one flat function of NumPy calls. A
    different architecture: an open-division entry."""
    base = digits_cnn(epochs=epochs, seed=seed)
    loader, x = _digits_train_loader(images=True, seed=seed)
    pruned, _ = compress_model(base.baseline, [
        ("structured", {"amount": amount, "norm": 1}),
        ("finetune", {"data": loader, "epochs": finetune}),
    ], verbose=False)
    with no_grad():  # one sample: the SingleStream query's shape (others retrace)
        optimized = compile_model(pruned.eval(), (Tensor(x[:1]),))
    counts = (measure_sparsity(base.baseline).elements, measure_sparsity(pruned).elements)
    return Pairing(
        name="cnn-structured", baseline=base.baseline, optimized=optimized, data=base.data,
        techniques=["structured-pruning", "fine-tuning", "compile"],
        optimization=(f"structured pruning (tinytorch.compress.structured_prune, L1 norm): "
                      f"{amount:.0%} of the conv filters and hidden units removed, "
                      f"{counts[0]:,} -> {counts[1]:,} parameters, {finetune} epochs of "
                      f"fine-tuning; then tinytorch.accel.compile (captured once, replayed "
                      f"without the per-op Python overhead)"),
        descriptions=(base.descriptions[0],
                      f"the CNN with {amount:.0%} of its units removed (shapes shrink), "
                      f"fine-tuned {finetune} epochs, compiled"),
        training=base.training)


def _events(scores) -> list[str]:
    return [e.value for e in OlympicEvent if qualifies_event(scores, e).qualified]


HEADER = ("", "SS ms", "", "Offline /s", "", "memory MiB", "", "accuracy", "",
          "speedup", "compress", "d acc", "effic.")
SUBHEADER = ("", "base", "opt", "base", "opt", "base", "opt", "base", "opt", "", "", "pts", "")


def _cells(name: str, sub: dict) -> tuple[str, ...]:
    b, o, s = sub["baseline"], sub["optimized"], sub["normalized_scores"]

    def off(m):
        return f"{m['offline']['throughput_sps']:,.0f}" if m.get("offline") else "-"

    return (name, f"{b['latency_ms']:.3f}", f"{o['latency_ms']:.3f}", off(b), off(o),
            f"{b['memory_mb']:.3f}", f"{o['memory_mb']:.3f}", f"{b['accuracy']:.2%}",
            f"{o['accuracy']:.2%}", f"{s['speedup']:.2f}x", f"{s['compression_ratio']:.2f}x",
            f"{s['accuracy_delta'] * 100:+.2f}", f"{s['efficiency_score']:.3f}")


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                        for i, (c, w) in enumerate(zip(r, widths)))).rstrip()
                     for r in rows)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="shorter training, 64-query SingleStream without a minimum duration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default=".", help="where the submission is written")
    parser.add_argument("--athlete", default="TinyTorch milestone 6")
    parser.add_argument("--github-repo", default=DEFAULT_REPO,
                        help="https URL of the repository holding your code")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.output_dir):
        parser.error(f"--output-dir {args.output_dir!r} is not a directory")

    start = time.perf_counter()
    level = 0 if args.quick else 1
    measure = (dict(warmup_runs=2, measurement_runs=3, min_duration_s=0.0) if args.quick
               else dict(warmup_runs=5, measurement_runs=10, min_duration_s=1.0))
    print("Milestone 6 (2018): MLPerf and the first TorchPerf Olympics")
    print(f"  SingleStream: >= 64 queries{', >= 1 s' if not args.quick else ''} per model, "
          f"both models interleaved, round-median latency; Offline: all samples at once, "
          f"{measure['measurement_runs']} timed runs; seed {args.seed}")

    pairings = [
        digits_mlp(epochs=TRAINING["mlp"][level], seed=args.seed),
        digits_cnn_int8(epochs=TRAINING["cnn"][level], seed=args.seed),
        mlp_pruned_int8(epochs=TRAINING["mlp"][level], seed=args.seed),
        cnn_structured(epochs=TRAINING["cnn"][level], seed=args.seed,
                       finetune=TRAINING["cnn-finetune"][level]),
        tiny_gpt(steps=TRAINING["gpt"][level], seed=args.seed),
    ]
    results: dict[str, dict] = {}
    paths: dict[str, str] = {}
    stamp = utc_timestamp().replace(":", "").replace("-", "")
    written = {"gpt": ("auto", f"m06_submission_gpt_kvcache_{stamp}.json"),
               "cnn-int8": ("memory_challenge", f"m06_submission_cnn_int8_{stamp}.json"),
               "mlp-pruned-int8": ("auto", f"m06_submission_mlp_pruned_int8_{stamp}.json"),
               "cnn-structured": ("latency_sprint",
                                  f"m06_submission_cnn_structured_{stamp}.json")}
    # The structurally pruned CNN changes the architecture: the open division.
    divisions = {"cnn-structured": "open"}
    for pairing in pairings:
        unit = "steps" if pairing.name == "gpt" else "epochs"
        amount = pairing.training.get("steps", pairing.training.get("epochs"))
        print(f"\n[{pairing.name}] baseline: {pairing.descriptions[0]} "
              f"({amount} {unit}, {pairing.training['seconds']:.1f} s)")
        print(f"[{pairing.name}] optimization: {pairing.optimization}")
        event, filename = written.get(pairing.name, ("auto", None))
        if filename is not None:
            paths[pairing.name] = os.path.join(args.output_dir, filename)
        sub = generate_submission(
            pairing.baseline, pairing.optimized, pairing.data,
            divisions.get(pairing.name, "closed"),
            event=event, athlete_name=args.athlete, github_repo=args.github_repo,
            techniques=pairing.techniques, honor_code=True,
            output_path=paths.get(pairing.name),
            seed=args.seed, notes=pairing.optimization, descriptions=pairing.descriptions,
            **measure)
        results[pairing.name] = sub

    print()
    print(_table([HEADER, SUBHEADER, *(_cells(n, sub) for n, sub in results.items())]))
    gpt = results["gpt"]
    print(f"\n  tiny GPT: {gpt['optimized']['tokens_per_s']:.0f} tokens/s with the KV cache vs "
          f"{gpt['baseline']['tokens_per_s']:.0f} without (SingleStream median); Offline "
          f"{gpt['optimized']['offline_tokens_per_s']:.0f} vs "
          f"{gpt['baseline']['offline_tokens_per_s']:.0f} tokens/s")
    s = results["mlp"]["normalized_scores"]["speedup"]
    print(f"  mlp A/A control: 'speedup' {s:.3f}x between two identical models: "
          f"timing noise of {abs(s - 1) * 100:.1f}% on this machine")
    cnn = results["cnn-int8"]
    kib = [cnn[k]["memory_mb"] * 1024 for k in ("baseline", "optimized")]
    print(f"  cnn int8: {cnn['normalized_scores']['compression_ratio']:.2f}x less peak memory "
          f"({kib[0]:.1f} -> {kib[1]:.1f} KiB at batch 1: weights plus activations), accuracy "
          f"{cnn['baseline']['accuracy']:.2%} -> {cnn['optimized']['accuracy']:.2%}")
    for name in ("mlp-pruned-int8", "cnn-structured"):
        sub, sc = results[name], results[name]["normalized_scores"]
        print(f"  {name}: {sc['speedup']:.2f}x faster, {sc['compression_ratio']:.2f}x less peak "
              f"memory, accuracy {sub['baseline']['accuracy']:.2%} -> "
              f"{sub['optimized']['accuracy']:.2%} ({sub['division']} division, entered in "
              f"{sub['event']})")

    print("\n  event qualification (every event each entry's scores reach):")
    qualified = {name: _events(sub["normalized_scores"]) for name, sub in results.items()}
    for name, events in qualified.items():
        print(f"    {name:15s} {', '.join(events) if events else 'no event'}")

    reports = {}
    for name in paths:
        sub = results[name]
        reports[name] = validate_submission(sub)
        print(f"\n  submission: {paths[name]}")
        print(f"  athlete {sub['athlete_name']!r}, repo {sub['github_repo']}, division "
              f"{sub['division']}, event {sub['event']}, techniques {sub['techniques']}")
        print(format_report(reports[name]))
    report = reports["gpt"]
    if args.github_repo == DEFAULT_REPO:
        print(f"  (the repository URL is the default {DEFAULT_REPO}: pass --github-repo "
              f"with your own)")
    elapsed = time.perf_counter() - start
    passed = all(r["valid"] for r in reports.values())
    print(f"\n  the {len(reports)} submissions (GPT, quantized CNN, pruned-and-quantized "
          f"MLP, structurally pruned CNN) {'validate' if passed else 'do NOT all validate'} "
          f"({elapsed:.1f} s): {_common.verdict(passed)}")
    return _common.result(
        "m06_olympics", passed, submission_path=paths["gpt"], submission_paths=paths,
        valid=passed, report=report, reports=reports,
        scores={name: sub["normalized_scores"] for name, sub in results.items()},
        events=qualified, event=gpt["event"],
        accuracy={name: sub["optimized"]["accuracy"] for name, sub in results.items()},
        seconds=elapsed)


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
