"""Small models shared by the tests (a helper module, not a test file)."""

from __future__ import annotations

import numpy as np

from tinytorch import nn
from tinytorch.tensor import Tensor, manual_seed, wrap


def digits_mlp() -> nn.Module:
    manual_seed(0)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).eval()


def digits_cnn() -> nn.Module:
    manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    ).eval()


def random(shape, seed: int = 0) -> Tensor:
    return wrap(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


class Chain(nn.Module):
    """Linear, then ``relu(y * 2 + 1)``, then an unused op and a transposed weight."""

    def __init__(self) -> None:
        super().__init__()
        manual_seed(1)
        self.fc = nn.Linear(8, 8)
        self.w = nn.Parameter(np.random.default_rng(2).standard_normal((8, 8))
                              .astype(np.float32))

    def forward(self, x):
        y = self.fc(x)
        _unused = y.exp()  # dead code
        y = (y * 2.0 + 1.0).relu()
        return y @ self.w.T  # the transpose depends on a parameter only


class ValueBranch(nn.Module):
    """Python control flow on a tensor value (invisible to the dispatch hooks)."""

    def forward(self, x):
        if int(np.argmax(x.numpy())) == 0:
            return x * 2.0
        return x - 1.0


class ValueConstant(nn.Module):
    """Builds an array from a tensor's value outside the ops."""

    def forward(self, x):
        return x * wrap(np.asarray(x.numpy().mean(), dtype=np.float32))


class InPlace(nn.Module):
    """Writes into an intermediate in place (bypasses the dispatch path)."""

    def forward(self, x):
        y = x * 2.0
        y.add_(1.0)
        return y
