"""Optimizers, schedules and gradient clipping against torch.optim, in float64."""

import warnings

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

from tinytorch import optim  # noqa: E402
from tinytorch.tensor import Tensor  # noqa: E402

pytestmark = pytest.mark.parity

SHAPES = [(4, 3), (3,), (2, 2, 2)]
STEPS = 25


def quadratic_problem(seed=0):
    """Initial parameters and the coefficients of a fixed loss whose gradient
    depends on the parameters (nonlinearly; the loss is bounded below):
    L = sum(a * p**2) / 2 + sum(c * p) + sum(p**4) / 12."""
    rng = np.random.default_rng(seed)
    p0 = [rng.normal(size=s) for s in SHAPES]
    a = [rng.uniform(0.5, 2.0, size=s) for s in SHAPES]
    c = [rng.normal(size=s) for s in SHAPES]
    return p0, a, c


def tt_loss(ps, a, c):
    total = None
    for p, ai, ci in zip(ps, a, c):
        ai, ci = Tensor(ai, dtype=np.float64), Tensor(ci, dtype=np.float64)
        term = (ai * p * p).sum() * 0.5 + (ci * p).sum() + (p * p * p * p).sum() * (1.0 / 12)
        total = term if total is None else total + term
    return total


def torch_loss(ps, a, c):
    return sum((torch.from_numpy(ai) * p * p).sum() * 0.5 + (torch.from_numpy(ci) * p).sum()
               + (p * p * p * p).sum() * (1.0 / 12) for p, ai, ci in zip(ps, a, c))


# (tinytorch factory, torch factory): both get the same list (or groups) of params
CASES = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.05), lambda ps: torch.optim.SGD(ps, lr=0.05)),
    "sgd-momentum": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9)),
    "sgd-dampening": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3),
                      lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3)),
    "sgd-nesterov": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
                     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True)),
    "sgd-weight-decay": (lambda ps: optim.SGD(ps, lr=0.05, weight_decay=0.1),
                         lambda ps: torch.optim.SGD(ps, lr=0.05, weight_decay=0.1)),
    "sgd-nesterov-decay": (
        lambda ps: optim.SGD(ps, lr=0.03, momentum=0.7, nesterov=True, weight_decay=0.05),
        lambda ps: torch.optim.SGD(ps, lr=0.03, momentum=0.7, nesterov=True, weight_decay=0.05)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.02), lambda ps: torch.optim.Adam(ps, lr=0.02)),
    "adam-weight-decay": (
        lambda ps: optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda ps: torch.optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "adamw": (lambda ps: optim.AdamW(ps, lr=0.02), lambda ps: torch.optim.AdamW(ps, lr=0.02)),
    "adamw-strong-decay": (
        lambda ps: optim.AdamW(ps, lr=0.02, betas=(0.85, 0.98), weight_decay=0.5),
        lambda ps: torch.optim.AdamW(ps, lr=0.02, betas=(0.85, 0.98), weight_decay=0.5)),
}


def run_both(tt_factory, torch_factory, steps=STEPS, groups=None):
    p0, a, c = quadratic_problem()
    tt_ps = [Tensor(p.copy(), dtype=np.float64, requires_grad=True) for p in p0]
    th_ps = [torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True) for p in p0]
    wrap = groups or (lambda ps: ps)
    tt_opt, th_opt = tt_factory(wrap(tt_ps)), torch_factory(wrap(th_ps))
    for _ in range(steps):
        tt_opt.zero_grad()
        tt_loss(tt_ps, a, c).backward()
        tt_opt.step()
        th_opt.zero_grad()
        torch_loss(th_ps, a, c).backward()
        th_opt.step()
    return tt_ps, th_ps, tt_opt, th_opt


@pytest.mark.parametrize("name", sorted(CASES))
def test_optimizer_matches_torch(name):
    tt_ps, th_ps, tt_opt, th_opt = run_both(*CASES[name])
    p0, a, c = quadratic_problem()
    start = tt_loss([Tensor(p, dtype=np.float64) for p in p0], a, c).item()
    assert tt_loss(tt_ps, a, c).item() < start  # a real descent, not a shared blow-up
    for p, q in zip(tt_ps, th_ps):
        assert np.all(np.isfinite(p.data))
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-14)
    # the optimizer state too (momentum buffers, Adam moments, step counts)
    for p, q in zip(tt_ps, th_ps):
        mine, theirs = tt_opt.state.get(p, {}), th_opt.state[q]
        for key, value in mine.items():
            ref = theirs[key]
            ref = ref.item() if key == "step" else ref.numpy()
            np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-14)


def test_param_groups_match_torch():
    def groups(ps):
        return [{"params": ps[:1], "lr": 0.1, "weight_decay": 0.2}, {"params": ps[1:]}]

    tt_ps, th_ps, _, _ = run_both(lambda g: optim.Adam(g, lr=0.01),
                                  lambda g: torch.optim.Adam(g, lr=0.01), groups=groups)
    for p, q in zip(tt_ps, th_ps):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------ schedules
def lr_sequences(tt_make, torch_make, steps, base_lrs=(0.1,)):
    tt_opt = optim.SGD([{"params": [Tensor(np.zeros(1), requires_grad=True)], "lr": lr}
                        for lr in base_lrs], lr=base_lrs[0])
    th_opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                              for lr in base_lrs], lr=base_lrs[0])
    tt_sched, th_sched = tt_make(tt_opt), torch_make(th_opt)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's deprecated step(0) internally
        for _ in range(steps):
            ours.append([g["lr"] for g in tt_opt.param_groups])
            theirs.append([g["lr"] for g in th_opt.param_groups])
            tt_opt.step()
            th_opt.step()
            tt_sched.step()
            th_sched.step()
    np.testing.assert_allclose(tt_sched.get_last_lr(), th_sched.get_last_lr(), rtol=1e-12)
    return np.array(ours), np.array(theirs)


LRS = torch.optim.lr_scheduler if torch is not None else None

SCHEDULES = {
    "step": (lambda o: optim.StepSchedule(o, step_size=3, gamma=0.5),
             lambda o: LRS.StepLR(o, step_size=3, gamma=0.5), 20),
    "cosine": (lambda o: optim.CosineSchedule(o, T_max=10, eta_min=0.01),
               lambda o: LRS.CosineAnnealingLR(o, T_max=10, eta_min=0.01), 35),
    "warmup": (lambda o: optim.LinearWarmup(o, warmup_steps=5),
               lambda o: LRS.LinearLR(o, start_factor=1 / 5, end_factor=1.0, total_iters=4), 12),
    "warmup-cosine": (
        lambda o: optim.LinearWarmup(o, 4, after=optim.CosineSchedule(o, T_max=12,
                                                                      eta_min=1e-3)),
        lambda o: LRS.SequentialLR(o, [LRS.LinearLR(o, start_factor=1 / 4, total_iters=3),
                                       LRS.CosineAnnealingLR(o, T_max=12, eta_min=1e-3)],
                                   milestones=[4]), 16),
    "lambda": (lambda o: optim.LambdaSchedule(o, lambda t: 0.95**t),
               lambda o: LRS.LambdaLR(o, lambda t: 0.95**t), 15),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("base_lrs", [(0.1,), (0.1, 0.03)])
def test_schedule_matches_torch(name, base_lrs):
    tt_make, torch_make, steps = SCHEDULES[name]
    ours, theirs = lr_sequences(tt_make, torch_make, steps, base_lrs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-15)


# -------------------------------------------------------------------- clipping
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=s) for s in SHAPES]
    tt_ps = [Tensor(np.zeros(s), dtype=np.float64, requires_grad=True) for s in SHAPES]
    th_ps = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES]
    for p, q, g in zip(tt_ps, th_ps, grads):
        p.grad = Tensor(g.copy(), dtype=np.float64)
        q.grad = torch.from_numpy(g.copy())
    ours = optim.clip_grad_norm_(tt_ps, max_norm, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(th_ps, max_norm, norm_type).item()
    assert ours == pytest.approx(theirs, rel=1e-12)
    for p, q in zip(tt_ps, th_ps):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_clip_grad_value_matches_torch():
    rng = np.random.default_rng(4)
    g = rng.normal(size=(5, 4))
    p = Tensor(np.zeros((5, 4)), dtype=np.float64, requires_grad=True)
    q = torch.zeros((5, 4), dtype=torch.float64, requires_grad=True)
    p.grad, q.grad = Tensor(g.copy(), dtype=np.float64), torch.from_numpy(g.copy())
    optim.clip_grad_value_([p], 0.7)
    torch.nn.utils.clip_grad_value_([q], 0.7)
    np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
