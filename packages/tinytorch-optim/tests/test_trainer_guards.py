"""The Trainer never applies a non-finite gradient, and load_state_dict is
all or nothing (every field checked before anything changes)."""

import numpy as np
import pytest

from tinytorch import nn, optim
from tinytorch.tensor import Generator, Tensor

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the bad math is on purpose

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 2)).astype(np.float32)
Y = RNG.integers(0, 3, size=32)
LOADER = [(Tensor(X[i:i + 8]), Tensor(Y[i:i + 8])) for i in range(0, 32, 8)]


def model_and_trainer(seed=0, **kwargs):
    gen = Generator(seed)
    model = nn.Sequential(nn.Linear(2, 8, generator=gen), nn.ReLU(),
                          nn.Linear(8, 3, generator=gen))
    opt = optim.Adam(model.parameters(), lr=0.05)
    return model, optim.Trainer(model, opt, nn.CrossEntropyLoss(), progress=False, **kwargs)


def nan_grad_loss(outputs, targets):
    # sqrt(0) is a finite loss, but its derivative (inf) times 0 is NaN.
    return ((outputs - outputs.detach()) ** 2).sum().sqrt()


@pytest.mark.parametrize("kwargs", [{}, {"grad_clip_norm": 1.0}, {"accumulation_steps": 2}])
def test_finite_loss_with_nan_gradient_is_caught_before_the_step(kwargs):
    model, trainer = model_and_trainer(**kwargs)
    trainer.loss_fn = nan_grad_loss
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(optim.NonFiniteGradientError, match="'0.weight'") as info:
        trainer.train_epoch(LOADER)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert (err.parameter, err.epoch) == ("0.weight", 1)
    assert err.batch == kwargs.get("accumulation_steps", 1)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # not a single weight changed
        assert p.grad is None or not np.any(p.grad.data)  # the gradients were dropped
    assert trainer.global_step == 0


class InfBias(nn.Module):
    """out = x * a + sqrt(b - b.detach()): the value ignores b, its gradient is inf."""

    def __init__(self):
        super().__init__()
        self.a = nn.Parameter(np.ones(3, np.float32))
        self.b = nn.Parameter(np.ones(3, np.float32))

    def forward(self, x):
        return x[:, :1] * self.a + (self.b - self.b.detach()).sqrt()


def test_inf_gradient_in_a_later_parameter_is_named():
    model = InfBias()
    opt = optim.SGD(model.parameters(), lr=0.1)
    trainer = optim.Trainer(model, opt, nn.CrossEntropyLoss(), progress=False)
    with pytest.raises(optim.NonFiniteGradientError, match="'b'"):
        trainer.train_epoch(LOADER)
    np.testing.assert_array_equal(model.a.data, 1.0)  # a's finite gradient was not applied


def test_large_but_finite_gradients_are_not_flagged():
    # The sum overflows float32; each element is finite: no error.
    from tinytorch.optim.trainer import _first_non_finite
    p = nn.Parameter(np.zeros(4, np.float32))
    p.grad = Tensor(np.full(4, 3e38, np.float32))
    assert _first_non_finite([("w", p)]) is None
    p.grad.data[2] = np.nan
    assert _first_non_finite([("w", p)]) == "w"


def trained_state():
    _, trainer = model_and_trainer(seed=1)
    trainer.fit(LOADER, epochs=2)
    return trainer.state_dict()


def corrupt(**changes):
    state = trained_state()
    for key, value in changes.items():
        if key.startswith("history."):
            state["history"][key.split(".", 1)[1]] = value
        else:
            state[key] = value
    return state


@pytest.mark.parametrize("state, match", [
    (corrupt(epoch=-1), "epoch must be an int >= 0"),
    (corrupt(epoch="3"), "epoch must be an int >= 0"),
    (corrupt(epoch=2.5), "epoch must be an int >= 0"),
    (corrupt(epoch=True), "epoch must be an int >= 0"),
    (corrupt(epoch=None), "epoch must be an int >= 0"),
    (corrupt(global_step=-4), "global_step must be an int >= 0"),
    (corrupt(global_step=[1]), "global_step must be an int >= 0"),
    (corrupt(last_lr=float("nan")), "last_lr"),
    (corrupt(last_lr="0.1"), "last_lr"),
    (corrupt(**{"history.lr": 3}), "must be lists"),
    (corrupt(**{"history.lr": [1.0]}), "one entry per epoch"),
])
def test_load_state_dict_validates_everything_before_touching_anything(state, match):
    model, trainer = model_and_trainer(seed=0)
    trainer.fit(LOADER, epochs=1)
    params = [p.data.copy() for p in model.parameters()]
    opt_state = trainer.optimizer.state_dict()
    with pytest.raises(ValueError, match=match):
        trainer.load_state_dict(state)
    for p, b in zip(model.parameters(), params):
        np.testing.assert_array_equal(p.data, b)
    assert trainer.optimizer.state_dict()["state"][0]["step"] == opt_state["state"][0]["step"]
    assert (trainer.epoch, trainer.global_step) == (1, 4)


def test_scheduler_is_rolled_back_when_its_own_state_is_rejected():
    gen = Generator(0)
    model = nn.Linear(2, 3, generator=gen)
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.StepSchedule(opt, step_size=1)
    trainer = optim.Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=sched, progress=False)
    trainer.fit(LOADER, epochs=1)
    state = trainer.state_dict()
    before = sched.state_dict()
    state["scheduler"] = {"nonsense": 1}
    with pytest.raises((ValueError, KeyError, TypeError)):
        trainer.load_state_dict(state)
    assert sched.state_dict() == before


def test_valid_state_still_loads():
    state = trained_state()
    model, trainer = model_and_trainer(seed=0)
    trainer.load_state_dict(state)
    assert (trainer.epoch, trainer.global_step) == (2, 8)
