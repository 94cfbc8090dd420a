"""A tour of tinytorch.perf on the digits data: measure, compare, score.

Trains two MLPs (a wide baseline and a narrow candidate) for a few epochs,
then measures them with the Profiler, compares them with the Benchmark
(latency, memory, accuracy, SingleStream, Offline), computes the normalized
scores and the Olympic events they qualify for, and writes a JSON report, a
Chrome trace and (with matplotlib) two plots into ``--out``.

Every figure printed is measured by this run on this machine.

    python packages/tinytorch-perf/examples/perf_tour.py [--out perf_tour_out] [--quick]

Uses the bundled digits of tinytorch-data when it is installed, otherwise a
seeded synthetic 10-class problem of the same shape.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

try:
    from tinytorch.perf import Benchmark
except ImportError:  # not installed: run from the source tree
    root = Path(__file__).resolve().parents[3]
    sys.path[:0] = [str(p) for p in sorted(root.glob("packages/*/src"))]

from tinytorch import nn
from tinytorch import tensor as tt
from tinytorch.perf import (
    Benchmark,
    MatplotlibMissingError,
    OlympicEvent,
    Profiler,
    calculate_normalized_scores,
    plot_latency_distribution,
    plot_pareto_frontier,
    qualifies_event,
    render_table,
    save_json,
    system_info,
)

SEED = 0


def load_data():
    """(x_train, y_train, x_test, y_test), float32 features scaled to [0, 1]."""
    try:
        from tinytorch.data import load_digits
    except ImportError:
        rng = np.random.default_rng(SEED)
        centers = rng.standard_normal((10, 64)).astype(np.float32)
        y = rng.integers(0, 10, 1797)
        x = centers[y] + 0.8 * rng.standard_normal((1797, 64)).astype(np.float32)
        source = "synthetic (tinytorch-data not installed)"
    else:
        x, y = load_digits()
        x = np.asarray(x, dtype=np.float32).reshape(len(x), -1) / 16.0
        y = np.asarray(y)
        source = "digits (tinytorch-data)"
    order = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[order], y[order]
    split = int(0.8 * len(x))
    print(f"data: {source}, {split} train / {len(x) - split} test samples")
    return x[:split], y[:split], x[split:], y[split:]


def mlp(sizes, seed):
    gen = tt.Generator(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, generator=gen))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def train(model, x, y, epochs, lr=0.1, batch=64):
    """Plain minibatch SGD with autograd (no optimizer package needed)."""
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(SEED)
    params = list(model.parameters())
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            model.zero_grad()
            loss = loss_fn(model(tt.Tensor(x[idx])), y[idx])
            loss.backward()
            for p in params:
                p.data -= lr * p.grad.data
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="perf_tour_out", help="output directory")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and runs")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    info = system_info()
    blas = (info.get("blas") or {}).get("name")
    print(f"machine: {info['cpu_model']}, {info['cpu_count_logical']} CPUs, "
          f"Python {info['python']}, NumPy {info['numpy']} ({blas})")

    x_tr, y_tr, x_te, y_te = load_data()
    epochs = 3 if args.quick else 20
    t0 = time.perf_counter()
    models = {
        "wide": train(mlp((64, 256, 256, 10), SEED), x_tr, y_tr, epochs),
        "narrow": train(mlp((64, 32, 10), SEED), x_tr, y_tr, epochs),
    }
    print(f"trained both models for {epochs} epochs in {time.perf_counter() - t0:.2f} s")
    for m in models.values():
        m.eval()

    # ---- measure one model
    profiler = Profiler()
    wide = models["wide"]
    batch = x_te[:64]
    print(f"\nwide MLP: {profiler.count_parameters(wide)} parameters, "
          f"{profiler.count_flops(wide, batch)} FLOPs per batch of 64")
    mem = profiler.measure_memory(wide, batch)
    print(f"memory: parameters {mem['parameter_bytes']} B, peak activations "
          f"{mem['activation_peak_bytes']} B, peak {mem['peak_memory_mb']:.3f} MiB")
    print(profiler.measure_latency(wide, batch, warmup=10,
                                   iterations=30 if args.quick else 200).summary())
    print()
    print(profiler.profile_forward_pass(wide, batch, iterations=20))
    print()
    print(profiler.profile_backward_pass(wide, batch, iterations=5))
    trace_path = out / "trace.json"
    with profiler.trace(trace_path, wide):
        wide(tt.Tensor(batch)).sum().backward()
    wide.zero_grad()
    print(f"\nChrome trace: {trace_path} (open it in https://ui.perfetto.dev)")

    # ---- compare
    bench = Benchmark(models, {"test": (x_te, y_te)}, warmup_runs=5,
                      measurement_runs=10 if args.quick else 50, profiler=profiler, seed=SEED)
    bench.run_latency_benchmark(batch_size=1)
    bench.run_memory_benchmark(batch_size=1)
    bench.run_accuracy_benchmark()
    print()
    print(render_table(bench.results["latency_ms"], title="latency of one sample (ms)"))
    for metric in ("latency", "memory", "accuracy"):
        print()
        print(render_table(bench.compare_models(metric), title=f"ranking by {metric}"))
    stream = {name: bench.single_stream(name, "test", min_duration_s=0.2 if args.quick else 2.0)
              for name in models}
    offline = {name: bench.offline(name, "test") for name in models}
    print()
    for name in models:
        s, o = stream[name], offline[name]
        print(f"{name:>6}: SingleStream p90 {s.p90:.4f} ms over {s.n} queries; "
              f"Offline {o.median:,.0f} samples/s")

    # ---- score
    raw = bench.raw_metrics("test")
    raw_ss = {k: dict(v, latency_ms=stream[k].p90) for k, v in raw.items()}
    scores = calculate_normalized_scores(raw_ss["wide"], raw_ss["narrow"])
    print("\nnarrow vs wide (SingleStream p90 latency): "
          + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
    for event in OlympicEvent:
        ok, reasons = qualifies_event(scores, event)
        print(f"  {event.value:<17} {'QUALIFIES' if ok else 'no':<9} " + "; ".join(reasons))

    report_path = save_json({"raw_metrics": raw_ss, "scores": scores,
                             "benchmark": bench.results}, out / "results.json")
    print(f"\nresults: {report_path}")
    try:
        plot_latency_distribution(stream, out / "latency.png",
                                  title="SingleStream latency per query")
        plot_pareto_frontier([dict(v, name=k) for k, v in raw_ss.items()], out / "pareto.png")
        print(f"plots: {out / 'latency.png'}, {out / 'pareto.png'}")
    except MatplotlibMissingError as exc:
        print(f"plots skipped: {exc}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MPLBACKEND", "Agg")
    raise SystemExit(main())
