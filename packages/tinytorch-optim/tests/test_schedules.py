"""Learning-rate schedules: hand values, warm-up hand-over, state dicts, validation."""

import math

import numpy as np
import pytest

from tinytorch.optim import (
    SGD,
    CosineSchedule,
    LambdaSchedule,
    LinearWarmup,
    StepSchedule,
    cosine_with_warmup,
)
from tinytorch.tensor import Tensor


def make_opt(*lrs):
    lrs = lrs or (0.1,)
    return SGD([{"params": [Tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs],
               lr=lrs[0])


def lrs_of(schedule, steps, group=0):
    """lr of ``group`` at steps 0..steps-1 (the value each optimizer step uses)."""
    out = []
    for _ in range(steps):
        out.append(schedule.optimizer.param_groups[group]["lr"])
        schedule.step()
    return out


HAND = [
    ("step", lambda o: StepSchedule(o, step_size=2, gamma=0.5), 6,
     [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]),
    ("cosine", lambda o: CosineSchedule(o, T_max=4), 5,
     [0.1, 0.1 * (1 + math.cos(math.pi / 4)) / 2, 0.05, 0.1 * (1 + math.cos(3 * math.pi / 4)) / 2,
      0.0]),
    ("cosine-eta-min", lambda o: CosineSchedule(o, T_max=2, eta_min=0.02), 5,
     [0.1, 0.06, 0.02, 0.06, 0.1]),  # periodic past T_max, as torch
    ("warmup", lambda o: LinearWarmup(o, 4), 6, [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]),
    ("warmup-0", lambda o: LinearWarmup(o, 0), 2, [0.1, 0.1]),
    ("warmup-step", lambda o: LinearWarmup(o, 2, after=StepSchedule(o, 2, gamma=0.1)), 7,
     [0.05, 0.1, 0.1, 0.1, 0.01, 0.01, 0.001]),
    ("lambda", lambda o: LambdaSchedule(o, lambda t: 1.0 / (t + 1)), 4,
     [0.1, 0.05, 0.1 / 3, 0.025]),
]


@pytest.mark.parametrize("name,make,steps,expected", HAND, ids=[h[0] for h in HAND])
def test_hand_values(name, make, steps, expected):
    np.testing.assert_allclose(lrs_of(make(make_opt(0.1)), steps), expected, rtol=1e-12,
                               atol=1e-15)


def test_every_group_follows_its_own_base_lr():
    opt = make_opt(0.1, 0.4)
    sched = StepSchedule(opt, step_size=1, gamma=0.5)
    sched.step()
    assert sched.get_last_lr() == [0.05, 0.2]
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.2]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.4]


def test_warmup_and_successor_share_the_base_lr():
    opt = make_opt(0.2)
    cosine = CosineSchedule(opt, T_max=10)
    warm = LinearWarmup(opt, 5, after=cosine)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.04)  # warm-up's step 0, not cosine's
    lrs_of(warm, 7)
    assert cosine.last_step == 2  # driven by the warm-up
    assert cosine.get_last_lr() == warm.get_last_lr()


@pytest.mark.parametrize("warmup,max_steps", [(0, 10), (3, 10), (10, 10), (5, 6)])
def test_cosine_with_warmup_equals_the_composed_schedules(warmup, max_steps):
    base, low = 0.3, 0.01
    opt = make_opt(base)
    after = CosineSchedule(opt, T_max=max_steps - warmup, eta_min=low) \
        if max_steps > warmup else None
    sched = LinearWarmup(opt, warmup, after=after)
    composed = lrs_of(sched, max_steps)
    functional = [cosine_with_warmup(t, max_steps, warmup, base, low) for t in range(max_steps)]
    np.testing.assert_allclose(functional, composed, rtol=1e-12)
    # and the functional stays at min_lr afterwards
    assert cosine_with_warmup(max_steps, max_steps, warmup, base, low) == low
    assert cosine_with_warmup(max_steps + 7, max_steps, warmup, base, low) == low


def test_cosine_with_warmup_endpoints():
    assert cosine_with_warmup(0, 100, 10, 1.0, 0.0) == pytest.approx(0.1)
    assert cosine_with_warmup(9, 100, 10, 1.0, 0.0) == pytest.approx(1.0)
    assert cosine_with_warmup(10, 100, 10, 1.0, 0.0) == pytest.approx(1.0)
    assert cosine_with_warmup(55, 100, 10, 1.0, 0.0) == pytest.approx(0.5)


MAKERS = {
    "step": lambda o: StepSchedule(o, step_size=3, gamma=0.5),
    "cosine": lambda o: CosineSchedule(o, T_max=7, eta_min=0.001),
    "warmup-cosine": lambda o: LinearWarmup(o, 3, after=CosineSchedule(o, T_max=6)),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_state_dict_resumes_exactly(name):
    ref = MAKERS[name](make_opt(0.1, 0.02))
    expected = [lrs_of(ref, 1) + [g["lr"] for g in ref.optimizer.param_groups]
                for _ in range(10)]
    first = MAKERS[name](make_opt(0.1, 0.02))
    for _ in range(4):
        first.step()
    saved = first.state_dict()
    assert saved["last_step"] == 4 and saved["type"] == type(first).__name__
    second = MAKERS[name](make_opt(0.1, 0.02))
    second.load_state_dict(saved)
    assert second.get_last_lr() == first.get_last_lr()
    assert [g["lr"] for g in second.optimizer.param_groups] == first.get_last_lr()
    resumed = [lrs_of(second, 1) + [g["lr"] for g in second.optimizer.param_groups]
               for _ in range(6)]
    assert resumed == expected[4:]


def test_load_state_dict_rejects_mismatches():
    saved = StepSchedule(make_opt(), step_size=3).state_dict()
    with pytest.raises(ValueError, match="StepSchedule"):
        CosineSchedule(make_opt(), T_max=3).load_state_dict(saved)
    with pytest.raises(ValueError, match="step_size"):
        StepSchedule(make_opt(), step_size=4).load_state_dict(saved)
    with pytest.raises(ValueError, match="group"):
        StepSchedule(make_opt(0.1, 0.2), step_size=3).load_state_dict(saved)
    with pytest.raises(KeyError, match="last_step"):
        StepSchedule(make_opt(), step_size=3).load_state_dict({"type": "StepSchedule",
                                                               "base_lrs": [0.1]})
    warm = LinearWarmup(make_opt(), 2).state_dict()
    opt = make_opt()
    with pytest.raises(ValueError, match="after"):
        LinearWarmup(opt, 2, after=CosineSchedule(opt, 5)).load_state_dict(warm)


BAD = [
    (lambda o: StepSchedule(o, step_size=0), ValueError, "step_size"),
    (lambda o: StepSchedule(o, step_size=1.5), TypeError, "step_size"),
    (lambda o: StepSchedule(o, step_size=2, gamma=-0.1), ValueError, "gamma"),
    (lambda o: CosineSchedule(o, T_max=0), ValueError, "T_max"),
    (lambda o: CosineSchedule(o, T_max=5, eta_min=-1.0), ValueError, "eta_min"),
    (lambda o: LinearWarmup(o, -1), ValueError, "warmup_steps"),
    (lambda o: LinearWarmup(o, 3, after="cosine"), TypeError, "after"),
    (lambda o: LinearWarmup(o, 3, after=CosineSchedule(make_opt(), 4)), ValueError,
     "same optimizer"),
    (lambda o: LambdaSchedule(o, 0.5), TypeError, "callable"),
    (lambda o: StepSchedule("opt", step_size=2), TypeError, "Optimizer"),
]


@pytest.mark.parametrize("make,exc,word", BAD)
def test_bad_arguments(make, exc, word):
    with pytest.raises(exc, match=word):
        make(make_opt())


@pytest.mark.parametrize("args,exc", [
    ((-1, 10, 2, 0.1, 0.0), ValueError),
    ((0, 10, 11, 0.1, 0.0), ValueError),
    ((0, 0, 0, 0.1, 0.0), ValueError),
    ((0, 10, 2, -0.1, 0.0), ValueError),
    ((0.5, 10, 2, 0.1, 0.0), TypeError),
])
def test_cosine_with_warmup_validation(args, exc):
    with pytest.raises(exc):
        cosine_with_warmup(*args)
