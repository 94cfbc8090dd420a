"""Loss modules: thin, configured wrappers over :mod:`tinytorch.nn.functional`."""

from __future__ import annotations

from tinytorch.tensor import Tensor

from . import functional as F
from .module import Module

__all__ = ["MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """``mean((input - target)^2)`` (or sum / none); same shapes required."""

    def forward(self, input, target) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy from logits and integer class targets.

    ``loss(logits, target)`` with logits ``(N, C)`` / target ``(N,)``, logits
    ``(*, C)`` / target ``(*)`` (e.g. a language model's ``(B, T, V)`` and
    ``(B, T)``), or ``(N, C, d1, ...)`` / ``(N, d1, ...)``. Fused, stable
    log-softmax + NLL; see :func:`tinytorch.nn.functional.cross_entropy`.
    """

    def __init__(self, reduction: str = "mean", ignore_index: int | None = None,
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1), "
                             f"got {label_smoothing!r}")
        self.ignore_index = ignore_index
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits, target) -> Tensor:
        return F.cross_entropy(logits, target, self.reduction, self.ignore_index,
                               self.label_smoothing)

    def extra_repr(self) -> str:
        parts = [f"reduction={self.reduction!r}"]
        if self.ignore_index is not None:
            parts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(parts)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] (logs clamped at -100)."""

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of raw scores; stable for any magnitude."""

    def forward(self, input, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)
