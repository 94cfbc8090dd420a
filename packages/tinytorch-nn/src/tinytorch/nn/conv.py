"""Image layers (NCHW): Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d."""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Generator, Tensor

from . import functional as F
from . import init
from ._validate import float_dtype as _float_dtype
from ._validate import positive_float, probability
from ._validate import positive_int as _positive_int
from .module import Module
from .parameter import Parameter

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d"]


class Conv2d(Module):
    """2-D convolution: ``(N, in_channels, H, W) -> (N, out_channels, OH, OW)``.

    ``weight`` is ``(out_channels, in_channels, kh, kw)`` and ``bias``
    ``(out_channels,)``, the PyTorch layout, both initialised
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = in_channels*kh*kw``
    (PyTorch's default). Computed as im2col + one GEMM; see
    :func:`tinytorch.nn.functional.conv2d` for cost and memory.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding=0, bias: bool = True, *, dtype=None,
                 generator: Generator | None = None) -> None:
        super().__init__()
        self.in_channels = _positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = _positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = F._pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = F._pair(stride, "stride", "Conv2d", 1)
        self.padding = F._pair(padding, "padding", "Conv2d", 0)
        self.weight, self.bias = init._layer_parameters(
            (self.out_channels, self.in_channels, *self.kernel_size), bias,
            _float_dtype(dtype), generator)

    def forward(self, x) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = F._pair(kernel_size, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None else F._pair(stride, "stride", name, 1)
        self.padding = F._pair(padding, "padding", name, 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over ``kernel_size`` windows (stride defaults to the kernel size)."""

    def forward(self, x) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over ``kernel_size`` windows (zero padding counted, as PyTorch)."""

    def forward(self, x) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class BatchNorm2d(Module):
    """Batch normalisation of ``(N, C, H, W)`` per channel.

    Parameters ``weight`` (ones) and ``bias`` (zeros) of shape ``(C,)``;
    buffers ``running_mean`` (zeros), ``running_var`` (ones) and
    ``num_batches_tracked``, all in the state dict (PyTorch's names).
    Training mode normalises with batch statistics and updates the running
    ones (``momentum`` 0.1 by default; ``None`` for a cumulative average;
    the running variance is unbiased, as PyTorch); eval mode uses the
    running statistics.

    Raises (forward): ValueError for input that is not 4-D with C channels.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 *, dtype=None) -> None:
        super().__init__()
        self.num_features = _positive_int(num_features, "num_features", "BatchNorm2d")
        self.eps = positive_float(eps, "eps", "BatchNorm2d")
        self.momentum = None if momentum is None else probability(momentum, "momentum",
                                                                   "BatchNorm2d")
        dt = _float_dtype(dtype)
        self.weight = Parameter(np.ones(self.num_features, dt), dtype=dt)
        self.bias = Parameter(np.zeros(self.num_features, dt), dtype=dt)
        self.register_buffer("running_mean", np.zeros(self.num_features, dt))
        self.register_buffer("running_var", np.ones(self.num_features, dt))
        self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x) -> Tensor:
        x = F._tensor(x, "input")
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: expected input (N, {self.num_features}, H, W), "
                             f"got shape {x.shape}")
        momentum = self.momentum
        if self.training:
            self.num_batches_tracked.data += 1
            if momentum is None:  # cumulative moving average
                momentum = 1.0 / float(self.num_batches_tracked.data)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, 0.0 if momentum is None else momentum, self.eps)

    def reset_running_stats(self) -> None:
        self.running_mean.data[...] = 0.0
        self.running_var.data[...] = 1.0
        self.num_batches_tracked.data[...] = 0

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"
