"""tinytorch.nn: modules, layers, losses, initialisation and state dicts.

Layer 2 of the TinyTorch stack, built on ``tinytorch.tensor`` (the ops) and
``tinytorch.autograd`` (their gradients). A model is a tree of
:class:`Module` objects holding :class:`Parameter` tensors; layers that
deserve it (LayerNorm, cross-entropy, Conv2d, pooling, BatchNorm) are fused
primitives with hand-written, gradchecked backward rules.

>>> import numpy as np
>>> from tinytorch.tensor import Tensor
>>> from tinytorch import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> loss = nn.CrossEntropyLoss()(model(Tensor(np.ones((2, 4)))), np.array([0, 2]))
>>> loss.backward()
>>> model[0].weight.grad.shape  # (out_features, in_features), as PyTorch
(8, 4)
"""

from . import functional, init, serialization
from ._fused import (
    AVG_POOL2D,
    BATCH_NORM,
    BCE,
    BCE_WITH_LOGITS,
    CONV2D,
    CROSS_ENTROPY,
    LAYER_NORM,
    LINEAR,
    MAX_POOL2D,
)
from .conv import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d
from .layers import (
    GELU,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    LogSoftmax,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import (
    IncompatibleKeys,
    Module,
    RemovableHandle,
    StateDictError,
    active_module_hooks,
    register_module_forward_hook,
    register_module_forward_hooks,
    register_module_forward_pre_hook,
)
from .parameter import Parameter

__version__ = "0.2.4"

__all__ = [
    "Module", "Parameter", "RemovableHandle", "StateDictError", "IncompatibleKeys",
    "active_module_hooks", "register_module_forward_hooks", "register_module_forward_pre_hook",
    "register_module_forward_hook",
    "Linear", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "Dropout",
    "Sequential", "ModuleList", "Flatten", "Identity", "LayerNorm", "Embedding",
    "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d",
    "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
    "functional", "init", "serialization",
    # The fused primitives behind the layers (``tinytorch.tensor.Primitive``):
    # their ``forward`` is the one definition of each formula, for code that
    # computes on arrays (a fused inference kernel) and must agree with the layers.
    "LINEAR", "LAYER_NORM", "CROSS_ENTROPY", "CONV2D", "MAX_POOL2D", "AVG_POOL2D",
    "BATCH_NORM", "BCE", "BCE_WITH_LOGITS",
]
