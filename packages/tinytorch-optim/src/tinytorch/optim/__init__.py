"""tinytorch.optim: optimizers, learning-rate schedules, gradient clipping,
a Trainer and atomic checkpoints.

Layer 3 of the TinyTorch stack, on top of ``tinytorch.nn``. Every update is
vectorised NumPy, in place on ``param.data``, and follows ``torch.optim``
step for step (the parity tests compare them in float64).

>>> import numpy as np
>>> from tinytorch.tensor import Tensor
>>> from tinytorch.optim import SGD
>>> w = Tensor(np.array([1.0, -2.0]), dtype=np.float64, requires_grad=True)
>>> opt = SGD([w], lr=0.1)
>>> (w * w).sum().backward()        # grad = 2w = [2, -4]
>>> opt.step()
>>> w.tolist()
[0.8, -1.6]
"""

from .adam import Adam, AdamW
from .checkpoint import atomic_write, load_state, save_state
from .clip import clip_grad_norm, clip_grad_norm_, clip_grad_value_
from .optimizer import Optimizer
from .schedule import (
    CosineSchedule,
    LambdaSchedule,
    LinearWarmup,
    LRSchedule,
    StepSchedule,
    cosine_with_warmup,
)
from .sgd import SGD
from .trainer import NonFiniteGradientError, NonFiniteLossError, Trainer

__version__ = "0.2.2"

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW",
    "clip_grad_norm", "clip_grad_norm_", "clip_grad_value_",
    "LRSchedule", "StepSchedule", "CosineSchedule", "LinearWarmup", "LambdaSchedule",
    "cosine_with_warmup",
    "Trainer", "NonFiniteLossError", "NonFiniteGradientError",
    "save_state", "load_state", "atomic_write",
]
