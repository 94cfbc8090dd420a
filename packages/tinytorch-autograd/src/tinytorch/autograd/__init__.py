"""tinytorch.autograd: reverse-mode automatic differentiation for tinytorch.tensor.

Layer 1 of the TinyTorch stack. It adds, without editing tinytorch.tensor:

* a backward rule for every differentiable primitive (``_rules.py``),
  registered against the primitive objects (``register_backward``);
* a dispatch post hook that records the graph while grad mode is on;
* the backward engine behind ``Tensor.backward`` (``_engine.py``);
* ``no_grad`` / ``enable_grad`` / ``set_grad_enabled``;
* ``gradcheck``, the numerical test of every rule.

Importing the package enables it; ``disable_autograd()`` unplugs both the
hook and the engine and ``enable_autograd()`` plugs them back (both are
idempotent).

>>> import tinytorch.autograd
>>> from tinytorch.tensor import Tensor
>>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]
"""

from tinytorch import tensor as _tensor

from . import _rules  # noqa: F401  (registers the rules)
from ._engine import (
    BackwardHookHandle,
    Node,
    active_backward_hooks,
    backward,
    get_backward,
    mark_shape_only,
    record,
    register_backward,
    register_backward_hook,
)
from ._mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ._rules import expand_reduced, scatter_add_rows, unbroadcast
from .gradcheck import GradcheckError, gradcheck, numerical_gradient

__version__ = "0.2.1"

__all__ = [
    "enable_autograd", "disable_autograd", "is_autograd_enabled",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "backward", "register_backward", "get_backward", "register_backward_hook",
    "active_backward_hooks", "mark_shape_only",
    "BackwardHookHandle", "Node", "gradcheck", "GradcheckError", "numerical_gradient",
    "unbroadcast", "expand_reduced", "scatter_add_rows", "missing_rules",
]

_handle = None


def enable_autograd() -> None:
    """Plug the graph recorder into the dispatch path and the engine into
    ``Tensor.backward``. Calling it again does nothing."""
    global _handle
    if _handle is None:
        _handle = _tensor.register_hook(record)
    _tensor.set_backward_engine(backward)


def disable_autograd() -> None:
    """Unplug autograd: ops record nothing and ``backward()`` raises.
    Calling it again does nothing."""
    global _handle
    if _handle is not None:
        _tensor.remove_hook(_handle)
        _handle = None
    if _tensor.get_backward_engine() is backward:
        _tensor.set_backward_engine(None)


def is_autograd_enabled() -> bool:
    return _handle is not None


def missing_rules() -> list[str]:
    """Names of differentiable tensor primitives without a backward rule."""
    return sorted(
        name for name, op in _tensor.PRIMITIVES.items()
        if op.differentiable and get_backward(op) is None
    )


enable_autograd()
