"""Small models and data shared by the tests."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch import tensor as tt
from tinytorch.autograd import active_backward_hooks


def _make_mlp(seed=0, sizes=(8, 16, 4)):
    gen = tt.Generator(seed)
    linears = [nn.Linear(a, b, generator=gen) for a, b in zip(sizes[:-1], sizes[1:])]
    # a ReLU after every Linear but the last
    return nn.Sequential(*[m for lin in linears[:-1] for m in (lin, nn.ReLU())], linears[-1])


class Exploding(nn.Module):
    """Raises in its forward: for the exception-safety tests."""

    def forward(self, x):
        raise RuntimeError("boom")


class BufferCounter(nn.Module):
    """Mutates a buffer and reads the training flag in its forward, like BatchNorm."""

    def __init__(self):
        super().__init__()
        self.register_buffer("count", np.zeros(1, dtype=np.float32))
        self.seen_training = []

    def forward(self, x):
        self.count.data += 1.0
        self.seen_training.append(self.training)
        return x


def _hook_state(model=None):
    """Every hook registry the profiler touches, as comparable snapshots."""
    state = {
        "tensor": tuple(tuple(h) for h in tt.active_hooks()),
        "module_global": nn.active_module_hooks(),
        "backward": active_backward_hooks(),
    }
    if model is not None:
        # nn's public view of a module's own hooks (its registries are private)
        state["per_module"] = tuple(
            (name, m.has_forward_hooks()) for name, m in model.named_modules()
        )
    return state


@pytest.fixture
def make_mlp():
    """``make_mlp(seed=0, sizes=(8, 16, 4))``: Linear/ReLU stack, seeded."""
    return _make_mlp


@pytest.fixture
def hook_state():
    """``hook_state(model=None)``: snapshot of every hook registry."""
    return _hook_state


@pytest.fixture
def exploding():
    return Exploding


@pytest.fixture
def buffer_counter():
    return BufferCounter


@pytest.fixture
def mlp():
    return _make_mlp()


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((32, 8)).astype(np.float32)
