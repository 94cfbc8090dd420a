"""tinytorch.tensor: the Tensor on NumPy, every primitive op, and the dispatch hook.

Layer 0 of the TinyTorch stack. Everything else (autograd, layers, the
profiler) plugs into the dispatch path defined here; see :mod:`._dispatch`.

>>> from tinytorch.tensor import Tensor
>>> x = Tensor([[1.0, 2.0], [3.0, 4.0]])
>>> (x @ x).sum().item()
54.0
"""

from . import kernels, memory, ops, validate
from ._dispatch import (
    Primitive,
    active_hooks,
    apply,
    get_backward_engine,
    hooks,
    register_hook,
    remove_hook,
    set_backward_engine,
)
from ._handle import HookHandle, HookRegistry
from ._tensor import Tensor, bool_, float16, float32, float64, int32, int64
from ._tensor import _wrap as wrap
from .creation import (
    Generator,
    arange,
    as_numpy_generator,
    default_generator,
    eye,
    full,
    full_like,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .files import atomic_write
from .ops import (
    PRIMITIVES,
    abs,
    add,
    argmax,
    argmin,
    astype,
    broadcast_to,
    clip,
    clone,
    concat,
    div,
    eq,
    exp,
    expand,
    flatten,
    ge,
    gelu,
    getitem,
    gt,
    le,
    log,
    log_softmax,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    softmax,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .validate import deprecated_alias

cat = concat
clamp = clip

__version__ = "0.2.5"

# NumPy temporaries reuse freed heap memory instead of fresh pages (see .memory).
memory._apply_at_import()

__all__ = [
    "Tensor", "Primitive", "HookHandle", "HookRegistry", "apply", "register_hook", "remove_hook",
    "hooks",
    "active_hooks", "set_backward_engine", "get_backward_engine", "wrap", "ops", "kernels",
    "memory", "PRIMITIVES",
    "atomic_write", "validate", "deprecated_alias",
    "float16", "float32", "float64", "int32", "int64", "bool_",
    "Generator", "manual_seed", "default_generator", "as_numpy_generator", "tensor", "zeros",
    "ones", "full",
    "full_like", "arange", "eye", "zeros_like", "ones_like", "randn", "rand", "randint",
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "eq", "ne", "lt", "le", "gt", "ge",
    "sum", "mean", "max", "min", "var", "std", "argmax", "argmin", "reshape", "transpose",
    "permute", "getitem", "concat", "cat", "stack", "split", "broadcast_to", "expand",
    "squeeze", "unsqueeze", "flatten", "exp", "log", "sqrt", "abs", "clip", "clamp",
    "maximum", "minimum", "where", "astype", "clone", "relu", "sigmoid", "tanh", "gelu",
    "softmax", "log_softmax",
]
