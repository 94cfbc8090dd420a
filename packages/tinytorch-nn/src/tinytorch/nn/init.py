"""Weight initialisation, in place: ``tinytorch.nn.init``.

Each function fills ``tensor.data`` in place (keeping its dtype) and returns
the tensor. Random draws come from ``generator`` (a tinytorch ``Generator``
or a NumPy ``Generator``), or from tinytorch's default generator
(``tinytorch.tensor.manual_seed``) when it is None.

Fan-in and fan-out follow PyTorch's layouts: a 2-D tensor is a Linear
weight ``(out_features, in_features)``; a tensor with more dims is a conv
weight ``(out_channels, in_channels, *kernel)`` whose receptive field
multiplies both fans.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

from tinytorch.tensor import Tensor, as_numpy_generator

__all__ = [
    "calculate_gain", "fan_in_and_fan_out", "uniform_", "normal_", "zeros_", "ones_",
    "constant_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "skip_init",
]

_state = threading.local()  # .skipping: inside skip_init on this thread


def _skippable(fn):
    """Make an in-place init function a no-op (after its type check) while
    :func:`skip_init` builds a module on this thread."""
    @functools.wraps(fn)
    def wrapper(tensor, *args, **kwargs):
        if getattr(_state, "skipping", False):
            return _check(tensor, fn.__name__)
        return fn(tensor, *args, **kwargs)
    return wrapper


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` without initialising its parameters
    (PyTorch's ``torch.nn.utils.skip_init``).

    While the constructor runs, every function of this module leaves its
    tensor as allocated: the values are whatever memory held (``np.empty``),
    so the caller must fill every parameter (``load_state_dict``). What this
    saves is the random draws: for a 124M-parameter GPT, seconds. Buffers
    set without ``init`` (BatchNorm's running stats) are initialised as usual.

    Raises:
        TypeError: ``module_cls`` is not a class.
    """
    if not isinstance(module_cls, type):
        raise TypeError(f"skip_init: expected a module class, got {module_cls!r}")
    previous = getattr(_state, "skipping", False)
    _state.skipping = True
    try:
        return module_cls(*args, **kwargs)
    finally:
        _state.skipping = previous


def _check(tensor, fn: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected a Tensor or Parameter, got {type(tensor).__name__}")
    if tensor.data.dtype.kind != "f":
        raise TypeError(f"{fn}: tensor must be floating point, got dtype {tensor.data.dtype}")
    return tensor


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values  # in place: optimizers may hold this array
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for ``nonlinearity`` (PyTorch's table).

    Raises ValueError for an unknown nonlinearity.
    """
    linear = ("linear", "conv1d", "conv2d", "conv3d", "sigmoid", "identity")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape`` (see the module docstring).

    Raises ValueError for fewer than 2 dims.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan in/out need a tensor with at least 2 dims, got shape {shape}")
    receptive = int(np.prod(shape[2:]))  # 1 for a 2-D (out, in) weight
    return shape[1] * receptive, shape[0] * receptive


@_skippable
def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    _check(tensor, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, as_numpy_generator(generator, "init").uniform(a, b, tensor.shape))


@_skippable
def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, as_numpy_generator(generator, "init").normal(mean, std, tensor.shape))


@_skippable
def constant_(tensor, value: float) -> Tensor:
    _check(tensor, "constant_")
    return _fill(tensor, value)


@_skippable
def zeros_(tensor) -> Tensor:
    return constant_(tensor, 0.0)


@_skippable
def ones_(tensor) -> Tensor:
    return constant_(tensor, 1.0)


@_skippable
def xavier_uniform_(tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(tensor, as_numpy_generator(generator, "init").uniform(-a, a, tensor.shape))


@_skippable
def xavier_normal_(tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, as_numpy_generator(generator, "init").normal(0.0, std, tensor.shape))


def _kaiming_std(tensor, a, mode, nonlinearity, fn) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fn}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor.shape)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"{fn}: cannot initialise a tensor with zero elements ({tensor.shape})")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@_skippable
def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``."""
    _check(tensor, "kaiming_uniform_")
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return _fill(tensor, as_numpy_generator(generator, "init").uniform(-bound, bound, tensor.shape))


@_skippable
def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    _check(tensor, "kaiming_normal_")
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return _fill(tensor, as_numpy_generator(generator, "init").normal(0.0, std, tensor.shape))


def _layer_parameters(weight_shape: tuple[int, ...], bias: bool, dtype: np.dtype,
                      generator=None):
    """``(weight, bias)`` Parameters of a Linear or Conv2d layer, PyTorch's default init.

    ``weight_shape`` is ``(out, in, *kernel)``; weight and bias (``(out,)``,
    or None when ``bias`` is False) are drawn from
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = in * prod(kernel)``
    (what ``kaiming_uniform_(a=sqrt(5))`` gives), through :func:`uniform_`,
    so :func:`skip_init` skips the draws. ``dtype`` is a float dtype.
    """
    from .parameter import Parameter  # parameter imports nothing of nn: no cycle

    bound = 1.0 / math.sqrt(math.prod(weight_shape[1:]))
    weight = Parameter(np.empty(weight_shape, dtype), dtype=dtype)
    uniform_(weight, -bound, bound, generator=generator)
    if not bias:
        return weight, None
    bias_param = Parameter(np.empty(weight_shape[:1], dtype), dtype=dtype)
    uniform_(bias_param, -bound, bound, generator=generator)
    return weight, bias_param
