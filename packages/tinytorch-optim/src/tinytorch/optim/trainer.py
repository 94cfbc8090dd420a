"""The training loop, written once: ``Trainer.fit`` runs epochs of

    for each batch (inputs, targets):
        loss = loss_fn(model(inputs), targets)          # model.train()
        (loss / accumulation_steps).backward()           # grads add up over the group
        every accumulation_steps batches (and at the epoch's end):
            every gradient finite? (else NonFiniteGradientError)
            clip_grad_norm(params, grad_clip_norm)       # optional
            optimizer.step(); optimizer.zero_grad()
            scheduler.step()                             # per step (or per epoch)

then evaluates on a validation loader (``model.eval()`` under ``no_grad``),
records the epoch in ``history`` and reports progress (a tqdm bar when tqdm
is installed, one plain line per epoch otherwise). ``save_checkpoint`` /
``load_checkpoint`` write and restore everything needed to resume exactly:
model, optimizer and schedule state, epoch, step count and history.
"""

from __future__ import annotations

import math
import numbers
import time

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.tensor import Tensor

from .checkpoint import load_state, save_state
from .clip import clip_grad_norm

__all__ = ["Trainer", "NonFiniteLossError", "NonFiniteGradientError"]

_CHECKPOINT_KIND = "tinytorch.optim.Trainer"
_HISTORY_KEYS = ("epoch", "train_loss", "val_loss", "val_accuracy", "lr", "time")


def _load_tqdm():
    """The ``tqdm`` class, or None when tqdm is not installed (it is optional)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class NonFiniteLossError(FloatingPointError):
    """The loss of a training batch was NaN or infinite.

    Attributes: ``loss`` (the value), ``epoch`` (1-based), ``batch``
    (1-based, within the epoch).
    """

    def __init__(self, loss: float, epoch: int, batch: int) -> None:
        self.loss, self.epoch, self.batch = loss, epoch, batch
        super().__init__(
            f"the loss is {loss} at epoch {epoch}, batch {batch}: training diverged "
            "(lower the learning rate, clip gradients with grad_clip_norm=..., or check "
            "that batch's inputs and targets); the parameters were not updated with it"
        )


class NonFiniteGradientError(FloatingPointError):
    """A parameter's gradient held NaN or inf before an optimizer step (the
    loss itself may be finite). No parameter was updated with it.

    Attributes: ``parameter`` (its name, e.g. ``"blocks.0.attn.qkv.weight"``),
    ``epoch`` (1-based), ``batch`` (1-based, the batch that closed the
    accumulation group).
    """

    def __init__(self, parameter: str, epoch: int, batch: int) -> None:
        self.parameter, self.epoch, self.batch = parameter, epoch, batch
        super().__init__(
            f"the gradient of parameter {parameter!r} is not finite (NaN or inf) at epoch "
            f"{epoch}, batch {batch}, although the loss was: the step was skipped and the "
            "gradients dropped (look for a log, sqrt or division at 0 in the model or loss, "
            "or lower the learning rate)"
        )


def _first_non_finite(named_params) -> str | None:
    """The name of the first parameter whose gradient has a NaN or inf.

    Cost: one sum per gradient (no temporary array); only a non-finite sum,
    which an overflow of finite values can also give, is confirmed with
    ``np.isfinite``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        for name, p in named_params:
            g = p.grad
            if g is None:
                continue
            g = g.data
            if not np.isfinite(np.add.reduce(g, axis=None)) and not np.isfinite(g).all():
                return name
    return None


def _loss_value(loss) -> float:
    if not isinstance(loss, Tensor):
        raise TypeError(f"loss_fn must return a Tensor, got {type(loss).__name__}")
    if loss.data.size != 1:
        raise ValueError(f"loss_fn must return a one-element Tensor (a reduced loss), got "
                         f"shape {loss.shape}")
    return float(loss.data.reshape(()))


def _unpack(batch, index: int, what: str):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        desc = f"a {len(batch)}-element {type(batch).__name__}" \
            if isinstance(batch, (tuple, list)) else f"a {type(batch).__name__}"
        raise TypeError(f"each batch of the {what} loader must be an (inputs, targets) pair; "
                        f"batch {index + 1} is {desc}")
    return batch[0], batch[1]


def _array(x):
    return x.data if isinstance(x, Tensor) else x


def _batch_size(targets) -> int:
    shape = getattr(_array(targets), "shape", ())
    return int(shape[0]) if len(shape) else 1


def _accuracy_counts(outputs, targets):
    """``(correct, total)`` for classification outputs, else None.

    Classification means: outputs of shape ``(*, C)`` with ``C`` scores and
    integer targets of shape ``(*)``; the prediction is the argmax over the
    last axis.
    """
    out, tgt = _array(outputs), _array(targets)
    if not isinstance(out, np.ndarray) or not isinstance(tgt, np.ndarray):
        return None
    if out.ndim < 2 or tgt.dtype.kind not in "iu" or tgt.shape != out.shape[:-1]:
        return None
    return int(np.count_nonzero(out.argmax(axis=-1) == tgt)), int(tgt.size)


def _len_or_none(loader):
    try:
        return len(loader)
    except TypeError:
        return None


class Trainer:
    """Train a model with an optimizer, evaluate it, keep a history, checkpoint it.

    Args:
        model: a ``tinytorch.nn.Module`` (anything with ``__call__``,
            ``parameters()``, ``train()``, ``eval()``, ``state_dict()`` and
            ``load_state_dict()``).
        optimizer: a :class:`~tinytorch.optim.Optimizer` over the model's
            parameters.
        loss_fn: ``loss_fn(outputs, targets) -> one-element Tensor``, a mean
            over the batch (e.g. ``nn.CrossEntropyLoss()``).
        scheduler: optional schedule (``step()``, ``state_dict()``,
            ``load_state_dict()``), stepped after every optimizer step
            (``schedule_every="step"``, the default) or once per epoch
            (``"epoch"``).
        grad_clip_norm: if given (> 0), gradients are clipped to this total
            2-norm before every optimizer step; the norm before clipping is
            kept in ``last_grad_norm``.
        accumulation_steps: batches whose gradients are summed before one
            optimizer step (int >= 1). Each loss is scaled by ``1/k`` for a
            group of ``k`` batches, so ``k`` batches of ``b`` samples make the
            same step as one batch of ``k*b`` samples; a shorter group at
            the end of an epoch (its size is known when the loader has
            ``len``) is scaled by its own size and stepped too.
        progress: ``True`` for a tqdm bar if tqdm is installed and a plain
            line per epoch otherwise; ``"tqdm"`` (needs tqdm), ``"text"``
            (always the plain lines), ``False`` (silent).
        schedule_every: ``"step"`` or ``"epoch"``.

    Loaders are iterables of ``(inputs, targets)`` pairs (e.g. a
    ``tinytorch.data.DataLoader``). Losses are averaged over samples (each
    batch's loss weighted by its size).

    Attributes:
        epoch: completed epochs. ``global_step``: optimizer steps taken.
        history: dict of per-epoch lists: ``epoch``, ``train_loss``,
            ``val_loss`` and ``val_accuracy`` (None without a validation
            loader, or accuracy for non-classification outputs), ``lr`` (of
            group 0, used by the epoch's last step), ``time`` (seconds of the
            epoch, training + evaluation).

    Raises:
        TypeError: a model/optimizer/scheduler missing the methods above,
            a non-callable loss_fn, a non-int accumulation_steps.
        ValueError: ``accumulation_steps < 1``, ``grad_clip_norm <= 0``, an
            unknown ``progress`` or ``schedule_every``.
        ImportError: ``progress="tqdm"`` without tqdm installed.
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None,
                 accumulation_steps: int = 1, progress=True, *,
                 schedule_every: str = "step") -> None:
        missing = [m for m in ("parameters", "train", "eval", "state_dict", "load_state_dict")
                   if not callable(getattr(model, m, None))]
        if missing or not callable(model):
            raise TypeError(f"model must be a tinytorch.nn.Module; a {type(model).__name__} "
                            f"lacks {missing or ['__call__']}")
        for name, obj, methods in (
            ("optimizer", optimizer, ("step", "zero_grad", "state_dict", "load_state_dict")),
            ("scheduler", scheduler, ("step", "state_dict", "load_state_dict")),
        ):
            if obj is None and name == "scheduler":
                continue
            lacking = [m for m in methods if not callable(getattr(obj, m, None))]
            if lacking:
                raise TypeError(f"{name} must provide {', '.join(methods)}; a "
                                f"{type(obj).__name__} lacks {', '.join(lacking)}")
        if not callable(loss_fn):
            raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
        if isinstance(accumulation_steps, bool) or not isinstance(accumulation_steps,
                                                                  numbers.Integral):
            raise TypeError(f"accumulation_steps must be an int, got "
                            f"{type(accumulation_steps).__name__}")
        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be >= 1, got {accumulation_steps}")
        if grad_clip_norm is not None:
            if isinstance(grad_clip_norm, bool) or not isinstance(grad_clip_norm, numbers.Real) \
                    or not grad_clip_norm > 0:
                raise ValueError(f"grad_clip_norm must be None or a number > 0, got "
                                 f"{grad_clip_norm!r}")
            grad_clip_norm = float(grad_clip_norm)
        if not (progress is True or progress is False
                or (isinstance(progress, str) and progress in ("tqdm", "text"))):
            raise ValueError(f"progress must be True, False, 'tqdm' or 'text', got {progress!r}")
        if schedule_every not in ("step", "epoch"):
            raise ValueError(f"schedule_every must be 'step' or 'epoch', got {schedule_every!r}")

        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.scheduler = scheduler
        self.grad_clip_norm = grad_clip_norm
        self.accumulation_steps = int(accumulation_steps)
        self.schedule_every = schedule_every
        self.progress = progress
        self._tqdm = self._resolve_tqdm(progress)
        self.epoch = 0
        self.global_step = 0
        self.last_grad_norm: float | None = None
        self.history: dict[str, list] = {key: [] for key in _HISTORY_KEYS}
        self._last_lr: float | None = None
        self._target_epochs: int | None = None

    @staticmethod
    def _resolve_tqdm(progress):
        if progress is False or progress == "text":
            return None
        tqdm = _load_tqdm()
        if tqdm is None and progress == "tqdm":
            raise ImportError("progress='tqdm' needs tqdm: pip install 'tinytorch-optim[progress]'")
        return tqdm

    # -------------------------------------------------------------- training
    def _params(self) -> list:
        return list(self.model.parameters())

    def _named_params(self) -> list:
        named = getattr(self.model, "named_parameters", None)
        if callable(named):
            return list(named())
        return [(f"parameter {i}", p) for i, p in enumerate(self._params())]

    def _optimizer_step(self, epoch: int, batch: int) -> None:
        bad = _first_non_finite(self._named_params())
        if bad is not None:
            self.optimizer.zero_grad()
            raise NonFiniteGradientError(bad, epoch, batch)
        if self.grad_clip_norm is not None:
            self.last_grad_norm = clip_grad_norm(self._params(), self.grad_clip_norm)
        groups = getattr(self.optimizer, "param_groups", None)
        if groups:
            self._last_lr = float(groups[0]["lr"])
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.global_step += 1
        if self.scheduler is not None and self.schedule_every == "step":
            self.scheduler.step()

    def _epoch_label(self, epoch: int) -> str:
        return f"epoch {epoch}" if self._target_epochs is None \
            else f"epoch {epoch}/{self._target_epochs}"

    def train_epoch(self, loader) -> float:
        """One pass over ``loader`` with ``model.train()``; returns the mean loss.

        Increments ``epoch`` (and steps an ``schedule_every="epoch"``
        scheduler) when the pass completes; ``fit`` adds the evaluation,
        history and logging. Cost: one forward and backward per batch, one
        optimizer step per ``accumulation_steps`` batches.

        Raises:
            NonFiniteLossError (a FloatingPointError): a batch's loss is NaN
                or inf; it names the epoch and batch, and that batch's
                gradients are discarded before any update.
            NonFiniteGradientError (a FloatingPointError): the loss is
                finite but a gradient is not; it names the parameter, and the
                gradients are discarded before any update.
            TypeError: a batch that is not an ``(inputs, targets)`` pair.
            ValueError: the loader yields no batch.
        """
        epoch = self.epoch + 1
        n_batches = _len_or_none(loader)
        accum = self.accumulation_steps
        self.model.train()
        self.optimizer.zero_grad()
        total = 0.0
        count = pending = group = 0
        index = -1
        bar = None
        iterable = loader
        if self._tqdm is not None:
            bar = iterable = self._tqdm(loader, total=n_batches, desc=self._epoch_label(epoch),
                                        leave=False, dynamic_ncols=True)
        try:
            for index, batch in enumerate(iterable):
                inputs, targets = _unpack(batch, index, "training")
                if pending == 0:
                    # Size of the accumulation group this batch opens: the last
                    # group of an epoch may be shorter, and its mean must not shrink.
                    group = accum if n_batches is None else max(1, min(accum, n_batches - index))
                loss = self.loss_fn(self.model(inputs), targets)
                value = _loss_value(loss)
                if not math.isfinite(value):
                    self.optimizer.zero_grad()
                    raise NonFiniteLossError(value, epoch, index + 1)
                (loss if group == 1 else loss * (1.0 / group)).backward()
                n = _batch_size(targets)
                total += value * n
                count += n
                pending += 1
                if pending >= group:
                    self._optimizer_step(epoch, index + 1)
                    pending = 0
                if bar is not None:
                    bar.set_postfix(loss=f"{value:.4f}", refresh=False)
        finally:
            if bar is not None:
                bar.close()
        if index < 0:
            raise ValueError("the training loader yielded no batches")
        if pending:
            self._optimizer_step(epoch, index + 1)
        self.epoch = epoch
        if self.scheduler is not None and self.schedule_every == "epoch":
            self.scheduler.step()
        return total / count

    def evaluate(self, loader) -> dict:
        """Mean loss (and accuracy) over ``loader`` with ``model.eval()``
        under ``no_grad``; the model's previous train/eval mode is restored.

        Returns:
            ``{"loss": float, "accuracy": float | None}``. Accuracy is the
            fraction of argmax-over-the-last-axis predictions equal to the
            integer targets (per token for ``(B, T, C)`` outputs); None if
            any batch is not classification-shaped (regression).

        Raises:
            TypeError: a batch that is not an ``(inputs, targets)`` pair.
            ValueError: the loader yields no batch.
        """
        was_training = bool(getattr(self.model, "training", True))
        self.model.eval()
        total = 0.0
        count = correct = counted = 0
        classification = True
        index = -1
        try:
            with no_grad():
                for index, batch in enumerate(loader):
                    inputs, targets = _unpack(batch, index, "evaluation")
                    outputs = self.model(inputs)
                    value = _loss_value(self.loss_fn(outputs, targets))
                    n = _batch_size(targets)
                    total += value * n
                    count += n
                    counts = _accuracy_counts(outputs, targets) if classification else None
                    if counts is None:
                        classification = False
                    else:
                        correct += counts[0]
                        counted += counts[1]
        finally:
            self.model.train(was_training)
        if index < 0:
            raise ValueError("the evaluation loader yielded no batches")
        accuracy = correct / counted if classification and counted else None
        return {"loss": total / count, "accuracy": accuracy}

    def fit(self, train_loader, epochs: int, val_loader=None, *, checkpoint_path=None) -> dict:
        """Train until ``epochs`` epochs are complete; returns ``history``.

        ``epochs`` is the *total*: a trainer restored from a checkpoint
        taken after epoch 3 and called with ``epochs=10`` runs epochs 4..10,
        exactly as the uninterrupted run would have (given the same batches).
        If ``checkpoint_path`` is given, a checkpoint is saved there
        (atomically) after every epoch.

        Raises:
            TypeError / ValueError: ``epochs`` not an int >= 0; and whatever
                :meth:`train_epoch` and :meth:`evaluate` raise.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
            raise TypeError(f"epochs must be an int, got {type(epochs).__name__}")
        if epochs < 0:
            raise ValueError(f"epochs must be >= 0, got {epochs}")
        self._target_epochs = int(epochs)
        try:
            while self.epoch < epochs:
                start = time.perf_counter()
                train_loss = self.train_epoch(train_loader)
                val = self.evaluate(val_loader) if val_loader is not None else None
                elapsed = time.perf_counter() - start
                self._record(train_loss, val, elapsed)
                self._log_epoch()
                if checkpoint_path is not None:
                    self.save_checkpoint(checkpoint_path)
        finally:
            self._target_epochs = None
        return self.history

    def _record(self, train_loss: float, val: dict | None, elapsed: float) -> None:
        h = self.history
        h["epoch"].append(self.epoch)
        h["train_loss"].append(float(train_loss))
        h["val_loss"].append(None if val is None else float(val["loss"]))
        h["val_accuracy"].append(None if val is None else val["accuracy"])
        h["lr"].append(self._last_lr)
        h["time"].append(float(elapsed))

    def _log_epoch(self) -> None:
        if self.progress is False:
            return
        h = self.history
        parts = [self._epoch_label(h["epoch"][-1]), f"train_loss {h['train_loss'][-1]:.4f}"]
        if h["val_loss"][-1] is not None:
            parts.append(f"val_loss {h['val_loss'][-1]:.4f}")
        if h["val_accuracy"][-1] is not None:
            parts.append(f"val_acc {h['val_accuracy'][-1]:.4f}")
        if h["lr"][-1] is not None:
            parts.append(f"lr {h['lr'][-1]:.3g}")
        parts.append(f"{h['time'][-1]:.2f}s")
        line = "  ".join(parts)
        if self._tqdm is not None:
            self._tqdm.write(line)
        else:
            print(line, flush=True)

    # ----------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Everything a resumed run needs (copies): ``model``, ``optimizer``,
        ``scheduler`` (or None) states, ``epoch``, ``global_step``, ``history``."""
        return {
            "kind": _CHECKPOINT_KIND,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "last_lr": self._last_lr,
            "history": {k: list(v) for k, v in self.history.items()},
            "settings": {"accumulation_steps": self.accumulation_steps,
                         "grad_clip_norm": self.grad_clip_norm,
                         "schedule_every": self.schedule_every},
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`. All or nothing: every plain field
        (kind, epoch, global_step, last_lr, history, the scheduler's
        presence) is checked before anything changes, and if the model,
        optimizer or scheduler then rejects its part, the parts already
        loaded are rolled back.

        Raises:
            KeyError: a missing entry. ValueError: not a Trainer state, an
                epoch or global_step that is not an int >= 0, a last_lr that
                is not None or a finite number, a malformed history, a
                scheduler state without a scheduler (or the reverse), or
                whatever the model/optimizer/scheduler loaders raise.
        """
        epoch, global_step, last_lr, history = self._checked_state(state)
        backup_model = self.model.state_dict()
        backup_optim = self.optimizer.state_dict()
        backup_sched = None if self.scheduler is None else self.scheduler.state_dict()
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
        except BaseException:
            self.model.load_state_dict(backup_model)
            self.optimizer.load_state_dict(backup_optim)
            if self.scheduler is not None:
                self.scheduler.load_state_dict(backup_sched)
            raise
        self.epoch, self.global_step, self._last_lr, self.history = (
            epoch, global_step, last_lr, history)

    def _checked_state(self, state) -> tuple:
        """Validate the plain fields of a Trainer state; returns
        ``(epoch, global_step, last_lr, history)`` ready to assign."""
        if not isinstance(state, dict) or state.get("kind") != _CHECKPOINT_KIND:
            raise ValueError("not a Trainer checkpoint (missing kind "
                             f"{_CHECKPOINT_KIND!r})")
        missing = [k for k in ("model", "optimizer", "scheduler", "epoch", "global_step",
                               "history") if k not in state]
        if missing:
            raise KeyError(f"Trainer checkpoint is missing {missing}")
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise ValueError("the checkpoint was saved " + (
                "without a scheduler, but this Trainer has one" if state["scheduler"] is None
                else "with a scheduler, but this Trainer has none (pass scheduler=...)"))
        counts = {}
        for key in ("epoch", "global_step"):
            value = state[key]
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
                    or value < 0:
                raise ValueError(f"Trainer checkpoint: {key} must be an int >= 0, got {value!r}")
            counts[key] = int(value)
        last_lr = state.get("last_lr")
        if last_lr is not None:
            if isinstance(last_lr, (bool, np.bool_)) or not isinstance(last_lr, numbers.Real) \
                    or not math.isfinite(last_lr):
                raise ValueError(f"Trainer checkpoint: last_lr must be None or a finite "
                                 f"number, got {last_lr!r}")
            last_lr = float(last_lr)
        history = state["history"]
        if not isinstance(history, dict) or set(history) != set(_HISTORY_KEYS):
            raise ValueError(f"checkpoint history must have the keys {list(_HISTORY_KEYS)}")
        bad = [k for k in _HISTORY_KEYS if not isinstance(history[k], (list, tuple))]
        if bad:
            raise ValueError(f"checkpoint history entries {bad} must be lists")
        lengths = {len(history[k]) for k in _HISTORY_KEYS}
        if len(lengths) != 1:
            raise ValueError("checkpoint history lists must all have one entry per epoch")
        return (counts["epoch"], counts["global_step"], last_lr,
                {k: list(history[k]) for k in _HISTORY_KEYS})

    def save_checkpoint(self, path) -> None:
        """Write :meth:`state_dict` to ``path`` as one ``.npz`` file with a
        JSON metadata entry (see :mod:`tinytorch.optim.checkpoint`), atomically:
        an interrupted save leaves the previous checkpoint intact."""
        save_state(path, self.state_dict())

    def load_checkpoint(self, path) -> None:
        """Restore a checkpoint written by :meth:`save_checkpoint` into this
        trainer (same model architecture, optimizer type and schedule type).

        Raises:
            FileNotFoundError, ValueError, KeyError: see :func:`load_state`
                and :meth:`load_state_dict`.
        """
        self.load_state_dict(load_state(path))
