"""Knowledge distillation (Hinton, Vinyals & Dean, 2015).

The student matches the teacher's softened distribution at temperature ``T``
and the true labels::

    L = alpha * T^2 * KL(softmax(t / T) || softmax(s / T))  +  (1 - alpha) * CE(s, y)

The ``T^2`` keeps the soft term's gradient on the scale of the hard one's
(the soft gradients shrink as ``1/T^2``). The KL is averaged over samples
(PyTorch's ``reduction="batchmean"``).
"""

from __future__ import annotations

import numbers

import numpy as np

from tinytorch.autograd import no_grad
from tinytorch.nn import Module
from tinytorch.nn import functional as F
from tinytorch.optim import Adam, Trainer
from tinytorch.tensor import Tensor

from .prune import _check_model

__all__ = ["distillation_loss", "distill", "DistillationModel"]


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"distillation_loss: {name} must be a number, got {type(value).__name__}")
    if not value > 0 or not np.isfinite(value):
        raise ValueError(f"distillation_loss: {name} must be > 0, got {value}")
    return float(value)


def distillation_loss(student_logits, teacher_logits, targets, temperature: float = 4.0,
                      alpha: float = 0.9) -> Tensor:
    """Hinton's distillation loss, a scalar Tensor (differentiable in the student).

    Args:
        student_logits: Tensor ``(N, C)`` or ``(..., C)``.
        teacher_logits: array or Tensor of the same shape (treated as a
            constant: no gradient flows to the teacher).
        targets: integer class indices, ``student_logits.shape[:-1]``.
        temperature: T > 0. alpha: weight of the soft term, in [0, 1].

    Raises:
        TypeError: non-numeric temperature/alpha, logits not numeric.
        ValueError: temperature <= 0, alpha outside [0, 1], student and
            teacher logits of different shapes (class counts).

    Cost: O(N C), two log-softmaxes and a cross-entropy.
    """
    t_val = _positive(temperature, "temperature")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"distillation_loss: alpha must be a number, got {type(alpha).__name__}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"distillation_loss: alpha must be in [0, 1], got {alpha}")
    s = student_logits if isinstance(student_logits, Tensor) else Tensor(student_logits)
    t = np.asarray(teacher_logits.data if isinstance(teacher_logits, Tensor) else teacher_logits)
    if s.ndim < 1 or t.shape != s.shape:
        what = "different class counts" if t.shape[-1:] != s.shape[-1:] else "different shapes"
        raise ValueError(f"distillation_loss: student logits {s.shape} and teacher logits "
                         f"{t.shape} have {what}")
    classes = s.shape[-1]
    s2 = s.reshape(-1, classes)  # (N, C)
    n = s2.shape[0]
    t2 = t.reshape(-1, classes).astype(s.data.dtype) / t_val
    log_pt = t2 - t2.max(axis=1, keepdims=True)
    log_pt = log_pt - np.log(np.exp(log_pt).sum(axis=1, keepdims=True))  # (N, C), stable
    pt = np.exp(log_pt)
    log_ps = F.log_softmax(s2 * (1.0 / t_val), dim=-1)  # (N, C)
    dt = s.data.dtype
    kl = (Tensor(pt, dtype=dt) * (Tensor(log_pt, dtype=dt) - log_ps)).sum() * (t_val * t_val / n)
    ce = F.cross_entropy(s2, np.asarray(targets).reshape(-1))
    return kl * float(alpha) + ce * (1.0 - float(alpha))


class DistillationModel(Module):
    """The student, plus a frozen teacher run alongside it (not a submodule:
    its parameters are neither trained nor saved with the student).

    ``forward(x)`` returns the student's logits and keeps the teacher's,
    computed under ``no_grad``, in ``teacher_logits`` for the loss.
    """

    def __init__(self, teacher: Module, student: Module) -> None:
        super().__init__()
        self.student = student
        self.frozen = (teacher,)  # a tuple: Module does not register what it holds
        self.teacher_logits = None

    def forward(self, x) -> Tensor:
        with no_grad():
            self.teacher_logits = self.frozen[0](x).data
        return self.student(x)


def distill(teacher: Module, student: Module, data, *, epochs: int = 1, temperature: float = 4.0,
            alpha: float = 0.9, optimizer=None, lr: float = 1e-3, scheduler=None,
            val_data=None, progress=False) -> dict:
    """Train ``student`` (in place) on ``data`` with :func:`distillation_loss`
    against ``teacher``, through ``tinytorch.optim.Trainer``.

    The teacher is frozen: eval mode and ``requires_grad`` off during the run
    (both restored afterwards), its forward under ``no_grad``.

    Args:
        data / val_data: iterables of ``(inputs, targets)`` batches.
        optimizer: default ``Adam(student.parameters(), lr)``.
        scheduler: optional LR schedule of that optimizer, stepped after every
            optimizer step (the Trainer's ``scheduler``).

    Returns:
        The Trainer's history (``train_loss``, ``val_loss``, ``val_accuracy``...).

    Raises:
        TypeError: teacher or student not a Module. ValueError: a temperature
            <= 0, alpha outside [0, 1], or teacher and student with different
            class counts (checked on the first batch).
    """
    _check_model(teacher, "distill (teacher)")
    _check_model(student, "distill (student)")
    _positive(temperature, "temperature")
    if teacher is student:
        raise ValueError("distill: teacher and student are the same model")
    wrapper = DistillationModel(teacher, student)

    def loss_fn(outputs, targets):
        return distillation_loss(outputs, wrapper.teacher_logits, targets, temperature, alpha)

    was_training = teacher.training
    grads = [(p, p.requires_grad) for p in teacher.parameters()]
    teacher.eval()
    teacher.requires_grad_(False)
    try:
        opt = optimizer if optimizer is not None else Adam(list(student.parameters()), lr=lr)
        trainer = Trainer(wrapper, opt, loss_fn, scheduler=scheduler, progress=progress)
        return trainer.fit(data, epochs, val_loader=val_data)
    finally:
        teacher.train(was_training)
        for p, flag in grads:
            p.requires_grad = flag
