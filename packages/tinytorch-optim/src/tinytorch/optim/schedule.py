"""Learning-rate schedules: closed-form functions of the step count that set
``group["lr"]`` of an optimizer's parameter groups.

Usage is the ``torch.optim.lr_scheduler`` protocol::

    sched = CosineSchedule(opt, T_max=1000)   # sets lr for step 0 right away
    for batch in loader:
        ...; opt.step()
        sched.step()                          # lr for the next step

Every schedule here is a *closed form* ``lr_t = f(t, base_lr)``: ``step()``
increments ``last_step`` and writes ``f(last_step)`` into each group. The
values equal those of torch's (recursive) schedulers, and a schedule restored
from ``state_dict()`` continues exactly. Because each ``step()`` overwrites
``lr``, two schedules stepping one optimizer do not compose; chain them with
``LinearWarmup(..., after=other)`` instead.

The base learning rate of each group is ``group["initial_lr"]``, set from
``group["lr"]`` by the first schedule built on the optimizer (as torch does),
so that a warm-up and the schedule it hands over to share it.
"""

from __future__ import annotations

import math

from ._validate import check_hyperparameter
from ._validate import check_int as _check_int
from .optimizer import Optimizer

__all__ = ["LRSchedule", "StepSchedule", "CosineSchedule", "LinearWarmup", "LambdaSchedule",
           "cosine_with_warmup"]


class LRSchedule:
    """Base class: subclasses define ``lr_at(step, base_lr) -> float``.

    Args:
        optimizer: the :class:`~tinytorch.optim.Optimizer` whose groups'
            ``lr`` this schedule sets.

    Attributes:
        last_step: the step whose lr is currently set (0 after construction;
            torch calls it ``last_epoch``).
        base_lrs: one base learning rate per parameter group.

    Raises:
        TypeError: ``optimizer`` is not an Optimizer.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a schedule needs a tinytorch.optim.Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def lr_at(self, step: int, base_lr: float) -> float:
        """The learning rate at ``step`` (0-based) of a group whose base lr is ``base_lr``."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The learning rates of every group at ``last_step``, computed (not read)."""
        return [float(self.lr_at(self.last_step, base)) for base in self.base_lrs]

    def _apply(self) -> None:
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = lrs

    def step(self) -> None:
        """Advance one step and set each group's lr to the new value."""
        self.last_step += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        """The learning rates this schedule last set, one per group."""
        return list(self._last_lr)

    # ------------------------------------------------------------- save/load
    def _hyperparameters(self) -> dict:
        """The constructor's settings saved in the state dict (to detect a
        mismatched schedule on load). Subclasses extend this."""
        return {}

    def state_dict(self) -> dict:
        """``{"type", "last_step", "base_lrs", **settings}``: plain values only."""
        return {"type": type(self).__name__, "last_step": self.last_step,
                "base_lrs": list(self.base_lrs), **self._hyperparameters()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore ``last_step`` and ``base_lrs``, and set the lr they give.

        Raises:
            TypeError: ``state_dict`` is not a dict.
            KeyError: a required entry is missing.
            ValueError: it was saved by a schedule of another type, for a
                different number of parameter groups, or with different
                settings (``T_max``, ``gamma``, ...).
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = [k for k in ("type", "last_step", "base_lrs") if k not in state_dict]
        if missing:
            raise KeyError(f"schedule state_dict is missing {missing}")
        if state_dict["type"] != type(self).__name__:
            raise ValueError(f"state dict of a {state_dict['type']} cannot be loaded into a "
                             f"{type(self).__name__}")
        base_lrs = [float(b) for b in state_dict["base_lrs"]]
        if len(base_lrs) != len(self.optimizer.param_groups):
            raise ValueError(f"schedule state dict has {len(base_lrs)} base lr(s), the "
                             f"optimizer has {len(self.optimizer.param_groups)} group(s)")
        for key, value in self._hyperparameters().items():
            if key in state_dict and state_dict[key] != value:
                raise ValueError(f"schedule state dict has {key}={state_dict[key]!r}, this "
                                 f"schedule has {key}={value!r}")
        last_step = _check_int("last_step", state_dict["last_step"], 0)
        self._load_extra(state_dict)
        self.last_step = last_step
        self.base_lrs = base_lrs
        self._apply()

    def _load_extra(self, state_dict: dict) -> None:
        """Hook for schedules holding other state (a warm-up's successor)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters().items())
        return f"{type(self).__name__}({args}, last_step={self.last_step})"


class StepSchedule(LRSchedule):
    """Multiply the lr by ``gamma`` every ``step_size`` steps (``torch``'s ``StepLR``)::

        lr_t = base_lr * gamma ** (t // step_size)

    Raises:
        TypeError / ValueError: ``step_size`` not an int >= 1, ``gamma < 0``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _check_int("step_size", step_size, 1)
        self.gamma = check_hyperparameter("gamma", gamma)
        super().__init__(optimizer)

    def lr_at(self, step: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (step // self.step_size)

    def _hyperparameters(self) -> dict:
        return {"step_size": self.step_size, "gamma": self.gamma}


class CosineSchedule(LRSchedule):
    """Cosine annealing from the base lr to ``eta_min`` over ``T_max`` steps
    (``torch``'s ``CosineAnnealingLR``)::

        lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2

    As in torch, the curve is not clamped: past ``T_max`` it rises again
    (period ``2 * T_max``). Size ``T_max`` to the run, or use
    :func:`cosine_with_warmup`, which stays at the minimum.

    Raises:
        TypeError / ValueError: ``T_max`` not an int >= 1, ``eta_min < 0``.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _check_int("T_max", T_max, 1)
        self.eta_min = check_hyperparameter("eta_min", eta_min)
        super().__init__(optimizer)

    def lr_at(self, step: int, base_lr: float) -> float:
        cosine = (1 + math.cos(math.pi * step / self.T_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cosine

    def _hyperparameters(self) -> dict:
        return {"T_max": self.T_max, "eta_min": self.eta_min}


class LinearWarmup(LRSchedule):
    """Linear warm-up over ``warmup_steps`` steps, then the ``after`` schedule
    (or the constant base lr)::

        lr_t = base_lr * (t + 1) / warmup_steps     for t < warmup_steps
        lr_t = after.lr_at(t - warmup_steps)        afterwards (base_lr if after is None)

    The first step uses ``base_lr / warmup_steps`` (close to 0, but not 0,
    so that step is not wasted) and step ``warmup_steps - 1`` the full base
    lr. This is torch's ``LinearLR(start_factor=1/warmup_steps,
    total_iters=warmup_steps-1)``, followed through ``SequentialLR`` by
    ``after``. Call only this schedule's ``step()``: it drives ``after``
    (whose ``last_step`` it keeps in sync) and saves it in its state dict.

    Args:
        optimizer: the optimizer.
        warmup_steps: length of the warm-up (int >= 0; 0 means none).
        after: a schedule built on the same optimizer, started (at its own
            step 0) when the warm-up ends.

    Raises:
        TypeError: ``warmup_steps`` not an int, ``after`` not a schedule.
        ValueError: ``warmup_steps < 0``, ``after`` on another optimizer.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int,
                 after: LRSchedule | None = None) -> None:
        self.warmup_steps = _check_int("warmup_steps", warmup_steps, 0)
        if after is not None:
            if not isinstance(after, LRSchedule):
                raise TypeError(f"after must be a schedule (LRSchedule), got "
                                f"{type(after).__name__}")
            if after.optimizer is not optimizer:
                raise ValueError("the `after` schedule must be built on the same optimizer as "
                                 "the warm-up")
        self.after = after
        super().__init__(optimizer)

    def lr_at(self, step: int, base_lr: float) -> float:
        if step < self.warmup_steps:
            return base_lr * (step + 1) / self.warmup_steps
        if self.after is None:
            return base_lr
        return self.after.lr_at(step - self.warmup_steps, base_lr)

    def get_lr(self) -> list[float]:
        if self.after is not None:
            # Keep the successor's view coherent (its get_last_lr, its state).
            self.after.last_step = max(0, self.last_step - self.warmup_steps)
            lrs = [float(self.lr_at(self.last_step, b)) for b in self.base_lrs]
            self.after._last_lr = lrs
            return lrs
        return super().get_lr()

    def _hyperparameters(self) -> dict:
        return {"warmup_steps": self.warmup_steps,
                "after_type": None if self.after is None else type(self.after).__name__}

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["after"] = None if self.after is None else self.after.state_dict()
        return state

    def _load_extra(self, state_dict: dict) -> None:
        saved = state_dict.get("after")
        if (saved is None) != (self.after is None):
            raise ValueError("schedule state dict and this LinearWarmup disagree on whether "
                             "there is an `after` schedule")
        if saved is not None:
            self.after.load_state_dict(saved)


class LambdaSchedule(LRSchedule):
    """``lr_t = base_lr * lr_lambda(t)`` for any function of the step
    (``torch``'s ``LambdaLR``). Its state dict holds the step count, not the
    function: rebuild the schedule with the same function before loading.

    Raises:
        TypeError: ``lr_lambda`` is not callable.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda) -> None:
        if not callable(lr_lambda):
            raise TypeError(f"lr_lambda must be callable, got {type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, step: int, base_lr: float) -> float:
        return base_lr * float(self.lr_lambda(step))


def cosine_with_warmup(step: int, max_steps: int, warmup_steps: int, base_lr: float,
                       min_lr: float) -> float:
    """The learning rate at ``step`` of linear warm-up then cosine decay::

        step < warmup_steps:      base_lr * (step + 1) / warmup_steps
        step >= max_steps:        min_lr
        otherwise, with s = (step - warmup_steps) / (max_steps - warmup_steps):
                                  min_lr + (base_lr - min_lr) * (1 + cos(pi * s)) / 2

    Up to ``max_steps`` this equals ``LinearWarmup(opt, warmup_steps,
    after=CosineSchedule(opt, max_steps - warmup_steps, min_lr))``; after it,
    it stays at ``min_lr``. Use it with :class:`LambdaSchedule`
    (``lambda t: cosine_with_warmup(t, ...) / base_lr``) or to set lr by hand.

    Raises:
        TypeError: a non-int step count.
        ValueError: ``step < 0``, ``max_steps < 1``, ``warmup_steps`` outside
            ``[0, max_steps]``, a negative lr.
    """
    step = _check_int("step", step, 0)
    max_steps = _check_int("max_steps", max_steps, 1)
    warmup_steps = _check_int("warmup_steps", warmup_steps, 0)
    if warmup_steps > max_steps:
        raise ValueError(f"warmup_steps ({warmup_steps}) must be <= max_steps ({max_steps})")
    base_lr = check_hyperparameter("base_lr", base_lr)
    min_lr = check_hyperparameter("min_lr", min_lr)
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if step >= max_steps:
        return min_lr
    progress = (step - warmup_steps) / (max_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2
