"""Draw docs/weight_grid.png: one trained layer's weights and their int8 grids.

The first Linear layer (64 -> 128) of the digits MLP of milestone 3, trained
here for 20 epochs (seed 0). Top: the histogram of all its weights, with the
per-tensor int8 grid (one scale for the whole matrix) drawn as ticks.
Bottom: the weights of the two output rows with the smallest and the largest
range, each with its own per-channel grid. Rerun to regenerate:

    python packages/tinytorch-quant/docs/make_figure.py
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinytorch.quant import MinMaxObserver, PerChannelMinMaxObserver  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / "weight_grid.png"


def trained_weight() -> np.ndarray:
    spec = importlib.util.spec_from_file_location("_fig_m07",
                                                  ROOT / "milestones" / "m07_quantization.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    model, _, _ = mod.train_classifier("mlp", epochs=20)
    return model[0].weight.data  # (128, 64)


def main() -> None:
    w = trained_weight()
    tensor_obs = MinMaxObserver(symmetric=True)
    tensor_obs.observe(w)
    s_tensor = float(tensor_obs.calculate_qparams()[0])
    chan_obs = PerChannelMinMaxObserver(axis=0)
    chan_obs.observe(w)
    s_chan = chan_obs.calculate_qparams()[0]
    rows = [int(np.argmin(s_chan)), int(np.argmax(s_chan))]

    fig, axes = plt.subplots(2, 1, figsize=(9, 6.5))
    ax = axes[0]
    ax.hist(w.ravel(), bins=200, color="#4c72b0")
    top = ax.get_ylim()[1]
    ax.vlines(np.arange(-128, 128) * s_tensor, 0, top * 0.08, color="#c44e52", lw=0.6)
    ax.set_title(f"digits MLP, Linear(64 -> 128): all {w.size} weights; per-tensor int8 grid "
                 f"(step {s_tensor:.4f}, red ticks)", fontsize=10)
    ax.set_xlabel("weight value")
    ax = axes[1]
    for r, color in zip(rows, ("#55a868", "#8172b2"), strict=True):
        ax.hist(w[r], bins=40, alpha=0.6, color=color,
                label=f"row {r}: per-channel step {s_chan[r]:.4f}")
        g = np.arange(-128, 128) * s_chan[r]
        g = g[(g >= w[r].min() - s_chan[r]) & (g <= w[r].max() + s_chan[r])]
        ax.vlines(g, 0, 0.6, color=color, lw=0.6)
    ax.set_title(f"two output rows, each with its per-channel grid; the per-tensor step is "
                 f"{s_tensor / s_chan[rows[0]]:.1f}x the narrow row's", fontsize=10)
    ax.set_xlabel("weight value")
    ax.legend(fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}: per-tensor step {s_tensor:.5f}, per-channel steps "
          f"{s_chan.min():.5f}..{s_chan.max():.5f}")


if __name__ == "__main__":
    main()
