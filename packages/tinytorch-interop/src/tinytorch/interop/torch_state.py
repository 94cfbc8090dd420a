"""PyTorch state dicts, both ways.

Every tinytorch layer stores its tensors under PyTorch's names and in
PyTorch's layouts, so a tinytorch model and the ``torch.nn`` model built
from the same layers have the same state-dict keys and shapes::

    tinytorch                     torch.nn                     key: shape
    Linear(in, out)               Linear(in, out)              weight: (out, in), bias: (out,)
    Conv2d(cin, cout, k)          Conv2d(cin, cout, k)         weight: (cout, cin, kh, kw)
    BatchNorm2d(c)                BatchNorm2d(c)               weight, bias, running_mean,
                                                               running_var: (c,);
                                                               num_batches_tracked: () int64
    LayerNorm(E)                  LayerNorm(E)                 weight, bias: (E,)
    Embedding(V, E)               Embedding(V, E)              weight: (V, E)
    GPT                           a torch module tree with the same child names
                                  (tok_emb, pos_emb, blocks.i.{ln1, attn.qkv,
                                  attn.out_proj, ln2, mlp.fc, mlp.proj}, ln_f, head)

A tied weight appears under each of its names, as in ``torch``'s own state
dict. The conversion is therefore a copy into contiguous NumPy arrays one
way, and a checked copy into the model's arrays the other way: O(number of
parameters) time and one copy of the weights.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from tinytorch.nn import Module, StateDictError
from tinytorch.tensor import Tensor

__all__ = ["to_torch_state_dict", "load_torch_state_dict", "as_numpy"]


def _check_module(model, where: str) -> Module:
    if not isinstance(model, Module):
        raise TypeError(f"{where}: expected a tinytorch.nn.Module, got {type(model).__name__}")
    return model


def as_numpy(value, key: str = "value") -> np.ndarray:
    """A NumPy array holding ``value``: a ``torch.Tensor`` (detached, moved to
    the CPU; bfloat16 widened to float32, which NumPy lacks), a tinytorch
    ``Tensor``, an ndarray or anything ``np.asarray`` reads.

    torch is never imported: a torch tensor is recognised by its methods.

    Raises:
        TypeError: the value is not numeric (the message names ``key``).
    """
    if isinstance(value, Tensor):
        arr = value.data
    elif hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        t = value.detach().cpu()
        if str(t.dtype) == "torch.bfloat16":
            t = t.float()
        arr = t.numpy()
    else:
        arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{key!r} is not numeric: dtype {arr.dtype}")
    return arr


def to_torch_state_dict(model: Module) -> OrderedDict[str, np.ndarray]:
    """``model``'s tensors keyed and shaped as the equivalent ``torch.nn`` model's.

    Returns an ``OrderedDict`` of C-contiguous NumPy copies, in PyTorch's
    order (each module's parameters, then its persistent buffers, then its
    children). ``{k: torch.from_numpy(v) for k, v in sd.items()}`` is then
    accepted by ``torch_model.load_state_dict(..., strict=True)``; BatchNorm's
    ``num_batches_tracked`` is a 0-d int64 array, as torch keeps it.

    Raises:
        TypeError: ``model`` is not a tinytorch Module.
    """
    _check_module(model, "to_torch_state_dict")
    # np.array(order="C") keeps 0-d arrays 0-d (np.ascontiguousarray makes them 1-d).
    return OrderedDict(
        (key, np.array(value, order="C", copy=True)) for key, value in model.state_dict().items()
    )


def state_dict_problems(expected: Mapping[str, tuple], given: Mapping[str, np.ndarray],
                        strict: bool = True, unreadable=()) -> list[str]:
    """Every difference between the keys/shapes a model expects and a state dict.

    ``expected`` maps key -> shape. Returns readable problem strings (empty
    when the state dict fits): missing and unexpected keys (when ``strict``)
    and every shape mismatch. Keys in ``unreadable`` were given but could
    not be read: they are neither missing nor compared.
    """
    problems = []
    missing = [k for k in expected if k not in given and k not in unreadable]
    unexpected = [k for k in (*given, *unreadable) if k not in expected]
    if strict and missing:
        problems.append(f"missing keys: {missing}")
    if strict and unexpected:
        problems.append(f"unexpected keys: {unexpected}")
    bad = [f"{k!r} expects {tuple(shape)} but got {tuple(given[k].shape)}"
           for k, shape in expected.items() if k in given and tuple(given[k].shape) != tuple(shape)]
    if bad:
        problems.append("shape mismatches: " + ", ".join(bad))
    return problems


def load_torch_state_dict(model: Module, state_dict: Mapping, strict: bool = True):
    """Copy a PyTorch state dict (``torch.Tensor`` or NumPy values) into ``model``.

    Values are copied into the model's existing arrays (they keep the
    model's dtype, so a float64 torch model loads into a float32 tinytorch
    one). Nothing is written unless every check passes.

    Returns:
        ``IncompatibleKeys(missing_keys, unexpected_keys)``, both empty
        when ``strict``, as ``torch.nn.Module.load_state_dict``.

    Raises:
        TypeError: ``model`` is not a Module, ``state_dict`` not a mapping.
        StateDictError (a KeyError and a ValueError): one error listing
            every non-numeric value, missing key and unexpected key (when
            ``strict``) and every shape mismatch.
    """
    _check_module(model, "load_torch_state_dict")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_torch_state_dict: expected a mapping of name -> tensor, "
                        f"got {type(state_dict).__name__}")
    arrays, non_numeric, unreadable = {}, [], []
    for key, value in state_dict.items():
        try:
            arrays[key] = as_numpy(value, key)
        except TypeError as exc:
            non_numeric.append(str(exc))
            unreadable.append(key)
    if non_numeric:
        expected = {k: v.shape for k, v in model.state_dict().items()}
        problems = [f"non-numeric values: {non_numeric}"]
        problems += state_dict_problems(expected, arrays, strict, unreadable)
        raise StateDictError(f"error loading state dict into {type(model).__name__}: "
                             + "; ".join(problems))
    # Module.load_state_dict reports every missing, unexpected and
    # mis-shaped key in one StateDictError, and writes nothing on failure.
    return model.load_state_dict(arrays, strict=strict)
