"""Low rank (Eckart-Young) and distillation (loss, frozen teacher, Trainer)."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.compress import (
    LowRankLinear,
    choose_rank,
    distill,
    distillation_loss,
    low_rank,
    magnitude_prune,
)
from tinytorch.tensor import Tensor, manual_seed

RNG = np.random.default_rng(0)


def mlp(hidden=32, seed=0, dropout=0.0):
    manual_seed(seed)
    return nn.Sequential(nn.Linear(12, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, 5))


@pytest.mark.parametrize("rank", [1, 3, 5, 12])
def test_low_rank_error_is_the_eckart_young_optimum(rank):
    model = mlp().double()
    factored = low_rank(model, rank=rank, parameters=["0"])
    layer = factored[0]
    assert isinstance(layer, LowRankLinear) and layer.rank == rank
    assert layer.first.weight.shape == (rank, 12) and layer.second.weight.shape == (32, rank)
    w = model[0].weight.data
    product = layer.second.weight.data @ layer.first.weight.data
    s = np.linalg.svd(w, compute_uv=False)
    assert np.linalg.norm(w - product) == pytest.approx(np.sqrt(np.sum(s[rank:] ** 2)),
                                                        abs=1e-12)
    if rank < 12:
        assert np.linalg.norm(w - product, 2) == pytest.approx(s[rank], rel=1e-9)
    x = Tensor(RNG.standard_normal((4, 12)), dtype="float64")
    ref = x.data @ product.T + model[0].bias.data
    np.testing.assert_allclose(layer(x).data, ref, atol=1e-12)
    assert isinstance(factored[3], nn.Linear) and isinstance(model[0], nn.Linear)


def test_energy_picks_the_fewest_singular_values():
    s = np.array([3.0, 2.0, 1.0, 0.5])
    power = s ** 2 / np.sum(s ** 2)
    assert choose_rank(s, 1.0) == 4
    assert choose_rank(s, power[0]) == 1
    assert choose_rank(s, power[0] + 1e-6) == 2
    model = low_rank(mlp(), energy=0.9)
    for i in (0, 3):
        sv = np.linalg.svd(mlp()[i].weight.data.astype(np.float64), compute_uv=False)
        assert model[i].rank == choose_rank(sv, 0.9)


def test_low_rank_trains():
    model = low_rank(magnitude_prune(mlp(), 0.2), rank=4)
    x, y = Tensor(RNG.standard_normal((6, 12)).astype(np.float32)), RNG.integers(0, 5, 6)
    nn.CrossEntropyLoss()(model(x), y).backward()
    assert model[0].first.weight.grad is not None and model[0].second.bias.grad is not None
    layer = model[0].double()
    assert gradcheck(lambda a, b, z: layer(z) * 1.0,
                     [layer.first.weight, layer.second.weight,
                      Tensor(RNG.standard_normal((3, 12)), dtype="float64", requires_grad=True)])


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(rank=13), ValueError, "larger than the matrix"),
    (dict(rank=0), ValueError, ">= 1"),
    (dict(rank=2.0), TypeError, "int"),
    (dict(), ValueError, "exactly one"),
    (dict(rank=2, energy=0.5), ValueError, "exactly one"),
    (dict(energy=1.5), ValueError, "energy"),
    (dict(rank=2, parameters=["1"]), ValueError, "not a Linear"),
])
def test_low_rank_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        low_rank(mlp(), **kwargs)


def test_distillation_loss_formula_and_gradient():
    s = RNG.standard_normal((4, 6))
    t = RNG.standard_normal((4, 6)) * 3
    y = RNG.integers(0, 6, 4)
    T, alpha = 2.5, 0.7
    loss = distillation_loss(Tensor(s, dtype="float64"), t, y, T, alpha)

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    pt = np.exp(log_softmax(t / T))
    kl = np.sum(pt * (log_softmax(t / T) - log_softmax(s / T))) / 4
    ce = -np.mean(log_softmax(s)[np.arange(4), y])
    assert float(loss.data) == pytest.approx(alpha * T * T * kl + (1 - alpha) * ce, rel=1e-12)
    assert gradcheck(lambda z: distillation_loss(z, t, y, T, alpha),
                     [Tensor(s, dtype="float64", requires_grad=True)])
    # equal logits and alpha = 1: nothing to learn
    same = distillation_loss(Tensor(t, dtype="float64"), t, y, T, 1.0)
    assert float(same.data) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("args, error, words", [
    (((4, 6), (4, 7)), ValueError, "different class counts"),
    (((4, 6), (3, 6)), ValueError, "different shapes"),
])
def test_distillation_loss_shapes(args, error, words):
    with pytest.raises(error, match=words):
        distillation_loss(Tensor(np.zeros(args[0])), np.zeros(args[1]), np.zeros(4, int))


@pytest.mark.parametrize("kwargs, error", [
    (dict(temperature=0.0), ValueError), (dict(temperature=-1.0), ValueError),
    (dict(temperature="2"), TypeError), (dict(alpha=1.5), ValueError),
    (dict(alpha=-0.1), ValueError),
])
def test_distillation_loss_bad_numbers(kwargs, error):
    with pytest.raises(error):
        distillation_loss(Tensor(np.zeros((2, 3))), np.zeros((2, 3)), np.zeros(2, int), **kwargs)


def batches(n=6, seed=1):
    rng = np.random.default_rng(seed)
    return [(Tensor(rng.standard_normal((16, 12)).astype(np.float32)),
             rng.integers(0, 5, 16)) for _ in range(n)]


def test_distill_trains_the_student_and_freezes_the_teacher():
    teacher = mlp(hidden=64, seed=1, dropout=0.5).train()
    before = teacher.state_dict()
    student = mlp(hidden=8, seed=2)
    s_before = student.state_dict()
    history = distill(teacher, student, batches(), epochs=3, temperature=3.0, alpha=0.8,
                      lr=0.01, val_data=batches(2, seed=9))
    assert len(history["train_loss"]) == 3
    assert history["train_loss"][-1] < history["train_loss"][0]
    for k, v in teacher.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert all(p.grad is None for p in teacher.parameters())
    assert all(p.requires_grad for p in teacher.parameters())  # restored
    assert teacher.training  # restored
    assert any(not np.array_equal(v, s_before[k]) for k, v in student.state_dict().items())


def test_distill_teacher_runs_in_eval_mode():
    # A dropout teacher in training mode would give different logits each call.
    teacher = mlp(hidden=64, seed=1, dropout=0.9).train()
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = teacher

        def forward(self, x):
            seen.append(self.inner.training)
            return self.inner(x)

    distill(Probe(), mlp(hidden=8, seed=2), batches(2), epochs=1)
    assert seen and not any(seen)


def test_distill_bad_input():
    with pytest.raises(ValueError, match="class counts"):
        distill(mlp(), nn.Sequential(nn.Linear(12, 3)), batches(1))
    with pytest.raises(ValueError, match="temperature"):
        distill(mlp(), mlp(seed=3), batches(1), temperature=0)
    with pytest.raises(TypeError, match="Module"):
        distill("teacher", mlp(), batches(1))
