"""The primitives of TinyTorch: each op's forward math on NumPy arrays, defined once.

A :class:`~tinytorch.tensor.Primitive` is a name, a forward function on
ndarrays and a FLOP count. Nothing here checks arguments or builds tensors:
the public functions of :mod:`tinytorch.tensor.ops` validate the arguments
and apply these primitives through the one dispatch path. Backward rules live
in ``tinytorch.autograd``, registered against the objects defined here
(re-exported by :mod:`tinytorch.tensor.ops` as ``ops.ADD``, ``ops.MATMUL``, ...).

Every forward takes ndarrays and keyword parameters named as NumPy names them
(``axis``, ``keepdims``); the public functions accept PyTorch's ``dim`` /
``keepdim`` and translate, so hooks and backward rules see one spelling.
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels as _kernels
from ._dispatch import Primitive
from ._special import erf as _erf

# ---------------------------------------------------------------- FLOP counts


def _matmul_flops(inputs, out, params) -> int:
    a, b = inputs
    k = a.shape[-1]
    # One multiply and one add per (output element, k).
    return int(2 * out.size * k)


def _matmul_f(a, b):
    # A stack of rows times one matrix ((..., m, k) @ (k, n), e.g. Linear on
    # (B, T, E)) is one (rows, k) @ (k, n) GEMM: one BLAS call that its
    # threads split well, instead of NumPy's loop of one small GEMM per item.
    if b.ndim == 2 and a.ndim > 2 and a.flags.c_contiguous:
        k = a.shape[-1]
        return np.matmul(a.reshape(-1, k), b).reshape(a.shape[:-1] + b.shape[1:])
    return np.matmul(a, b)


def _reduce_flops(inputs, out, params) -> int:
    return int(inputs[0].size)


def _zero_flops(inputs, out, params) -> int:
    return 0


def _scaled_flops(factor):
    def flops(inputs, out, params) -> int:
        return int(factor * inputs[0].size)
    return flops


# ------------------------------------------------------- forward functions


def _sum_f(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims)


def _mean_f(x, axis, keepdims):
    return np.mean(x, axis=axis, keepdims=keepdims)


def _max_f(x, axis, keepdims):
    return np.max(x, axis=axis, keepdims=keepdims)


def _min_f(x, axis, keepdims):
    return np.min(x, axis=axis, keepdims=keepdims)


def _var_f(x, axis, keepdims, correction):
    return np.var(x, axis=axis, keepdims=keepdims, ddof=correction)


def _argmax_f(x, axis, keepdims):
    return np.argmax(x, axis=axis, keepdims=keepdims)


def _argmin_f(x, axis, keepdims):
    return np.argmin(x, axis=axis, keepdims=keepdims)


def _reshape_f(x, shape):
    return x.reshape(shape)


def _permute_f(x, axes):
    return x.transpose(axes)


def _getitem_f(x, index):
    return x[index]


def _concat_f(*xs, axis):
    return np.concatenate(xs, axis=axis)


def _stack_f(*xs, axis):
    return np.stack(xs, axis=axis)


def _broadcast_f(x, shape):
    return np.broadcast_to(x, shape)


def _clip_f(x, min, max):
    return np.clip(x, min, max)


def _where_f(x, y, condition):
    return np.where(condition, x, y)


def _astype_f(x, dtype):
    return x.astype(dtype)


def _clone_f(x):
    return x.copy()


def _relu_f(x):
    return np.maximum(x, 0)


def _sigmoid_f(x):
    # exp(-softplus(-x)): exact and overflow-free for any x.
    return np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)


def _gelu_f(x, approximate):
    # Saves tanh(...) or Phi(x) so the backward differentiates the very
    # formula used here without recomputing it.
    if approximate == "tanh":
        return _kernels.gelu_tanh(x)  # (y, t): fused, few passes and temporaries
    cdf = 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))
    return x * cdf, cdf


def _softmax_f(x, axis):
    # Subtracting the max makes exp() overflow-free; -inf entries give 0.
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax_f(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _pow_f(x, y):
    return np.power(x, y)


# ---------------------------------------------------------------- primitives

ADD = Primitive("add", np.add)
SUB = Primitive("sub", np.subtract)
MUL = Primitive("mul", np.multiply)
DIV = Primitive("div", np.true_divide)
POW = Primitive("pow", _pow_f)
NEG = Primitive("neg", np.negative)
MATMUL = Primitive("matmul", _matmul_f, flops=_matmul_flops)

EQ = Primitive("eq", np.equal, differentiable=False)
NE = Primitive("ne", np.not_equal, differentiable=False)
LT = Primitive("lt", np.less, differentiable=False)
LE = Primitive("le", np.less_equal, differentiable=False)
GT = Primitive("gt", np.greater, differentiable=False)
GE = Primitive("ge", np.greater_equal, differentiable=False)

SUM = Primitive("sum", _sum_f, flops=_reduce_flops)
MEAN = Primitive("mean", _mean_f, flops=_reduce_flops)
MAX = Primitive("max", _max_f, flops=_reduce_flops)
MIN = Primitive("min", _min_f, flops=_reduce_flops)
VAR = Primitive("var", _var_f, flops=_scaled_flops(3))
ARGMAX = Primitive("argmax", _argmax_f, differentiable=False)
ARGMIN = Primitive("argmin", _argmin_f, differentiable=False)

RESHAPE = Primitive("reshape", _reshape_f, flops=_zero_flops)
PERMUTE = Primitive("permute", _permute_f, flops=_zero_flops)
GETITEM = Primitive("getitem", _getitem_f, flops=_zero_flops)
CONCAT = Primitive("concat", _concat_f, flops=_zero_flops)
STACK = Primitive("stack", _stack_f, flops=_zero_flops)
BROADCAST_TO = Primitive("broadcast_to", _broadcast_f, flops=_zero_flops)

EXP = Primitive("exp", np.exp)
LOG = Primitive("log", np.log)
SQRT = Primitive("sqrt", np.sqrt)
ABS = Primitive("abs", np.abs)
CLIP = Primitive("clip", _clip_f)
MAXIMUM = Primitive("maximum", np.maximum)
MINIMUM = Primitive("minimum", np.minimum)
WHERE = Primitive("where", _where_f)
ASTYPE = Primitive("astype", _astype_f, flops=_zero_flops)
CLONE = Primitive("clone", _clone_f, flops=_zero_flops)

RELU = Primitive("relu", _relu_f)
SIGMOID = Primitive("sigmoid", _sigmoid_f, flops=_scaled_flops(4))
TANH = Primitive("tanh", np.tanh)
GELU = Primitive("gelu", _gelu_f, flops=_scaled_flops(8), saves=True)
SOFTMAX = Primitive("softmax", _softmax_f, flops=_scaled_flops(5))
LOG_SOFTMAX = Primitive("log_softmax", _log_softmax_f, flops=_scaled_flops(5))

#: Every primitive defined here, by name (autograd checks it has a rule for each).
PRIMITIVES: dict[str, Primitive] = {
    p.name: p for p in list(globals().values()) if isinstance(p, Primitive)
}
