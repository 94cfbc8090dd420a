"""Compressed storage: the zeros of a pruned (and quantized) model cost one bit.

File layout (an ``.npz``, deflated by default, written atomically)::

    __spec__      uint8 JSON: format, version, architecture (or null), and for
                  every state tensor its shape, dtype, encoding and offsets
    bits          np.packbits of every bitmask-encoded tensor's (t != 0), one
                  bit per element, the tensors one after the other
    v:<dtype>     their nonzero values (C order), per dtype, concatenated
    d:<dtype>     the densely stored tensors, per dtype, concatenated

A tensor is bitmask-encoded when ``nnz * itemsize + ceil(n / 8)`` is smaller
than ``n * itemsize`` (sparsity above ``1 / (8 * itemsize)``: 3% for float32,
12.5% for int8). Without deflate the file holds exactly these bytes plus a
zip/npy header per member (~250 bytes); with it, less. Sizes are always
measured on the written file. Loading rebuilds the
same arrays bit for bit, hence bit-identical outputs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

from tinytorch import nn
from tinytorch.nn import Module
from tinytorch.nn.serialization import read_npz
from tinytorch.quant import QuantizedConv2d, QuantizedLinear, QuantizedSequential
from tinytorch.tensor import atomic_write

from .lowrank import LowRankLinear
from .prune import _check_model, _Masked, remove_pruning

__all__ = ["save_compressed", "load_compressed", "CompressedFile", "describe_architecture"]

FORMAT, VERSION = "tinytorch-compressed", 1

# containers: type name -> class, built from their children in order
_CONTAINERS = {"Sequential": nn.Sequential, "QuantizedSequential": QuantizedSequential}

# type name -> (class, attributes that are its constructor's arguments)
_LAYERS = {
    "Linear": (nn.Linear, ("in_features", "out_features", "bias?")),
    "Conv2d": (nn.Conv2d, ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                           "bias?")),
    "BatchNorm2d": (nn.BatchNorm2d, ("num_features", "eps", "momentum")),
    "ReLU": (nn.ReLU, ()), "Tanh": (nn.Tanh, ()), "Sigmoid": (nn.Sigmoid, ()),
    "Identity": (nn.Identity, ()), "GELU": (nn.GELU, ("approximate",)),
    "Dropout": (nn.Dropout, ("p",)), "Flatten": (nn.Flatten, ("start_dim", "end_dim")),
    "MaxPool2d": (nn.MaxPool2d, ("kernel_size", "stride", "padding")),
    "AvgPool2d": (nn.AvgPool2d, ("kernel_size", "stride", "padding")),
    "LowRankLinear": (LowRankLinear, ("in_features", "out_features", "rank", "bias?")),
    "QuantizedLinear": (QuantizedLinear, ("in_features", "out_features", "bias?", "static")),
    "QuantizedConv2d": (QuantizedConv2d, ("in_channels", "out_channels", "kernel_size",
                                          "stride", "padding", "bias?", "static")),
}


@dataclass
class CompressedFile:
    """What :func:`save_compressed` wrote: ``file_bytes`` on disk (measured),
    ``payload_bytes`` of array data, ``dense_bytes`` of the same state stored
    densely, and how many tensors were bitmask-encoded."""

    path: str
    file_bytes: int
    payload_bytes: int
    dense_bytes: int
    bitmask_tensors: int
    dense_tensors: int


def _json_value(v):
    return list(v) if isinstance(v, tuple) else v


def describe_architecture(model: Module):
    """A JSON description of ``model`` if it is built only from the layers
    :func:`load_compressed` can rebuild (nested ``Sequential`` or
    ``QuantizedSequential`` of those), else None."""
    if _CONTAINERS.get(type(model).__name__) is type(model):
        children = [describe_architecture(m) for m in model.children()]
        return None if any(c is None for c in children) else {"type": type(model).__name__,
                                                               "children": children}
    entry = _LAYERS.get(type(model).__name__)
    if entry is None or type(model) is not entry[0]:
        return None
    args = {}
    for attr in entry[1]:
        if attr.endswith("?"):
            args[attr[:-1]] = getattr(model, attr[:-1]) is not None
        else:
            args[attr] = _json_value(getattr(model, attr))
    return {"type": type(model).__name__, "args": args}


def _build(spec) -> Module:
    if not isinstance(spec, dict) or "type" not in spec:
        raise ValueError(f"load_compressed: malformed architecture entry {spec!r}")
    if spec["type"] in _CONTAINERS:
        return _CONTAINERS[spec["type"]](*[_build(c) for c in spec.get("children", [])])
    if spec["type"] not in _LAYERS:
        raise ValueError(f"load_compressed: unknown layer type {spec['type']!r} in the file")
    cls, _ = _LAYERS[spec["type"]]
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.get("args", {}).items()}
    try:
        return cls(**args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"load_compressed: bad arguments for {spec['type']}: {exc}") from None


def _encode(state: dict) -> tuple[dict, dict]:
    """Pack every tensor into a few arrays: one bit string for all the masks,
    one values array and one dense array per dtype (a zip member costs ~250
    bytes of headers, as much as a small layer's weights).

    Returns ``(arrays, tensors)``: the members to write and, per tensor, its
    shape, dtype, encoding and offsets into them."""
    masks, values, dense, tensors = [], {}, {}, {}
    bit_offset = 0
    for name, arr in state.items():
        nz = arr != 0
        nnz = int(np.count_nonzero(nz))
        info = {"shape": list(arr.shape), "dtype": arr.dtype.str}
        key = arr.dtype.str
        if nnz * arr.itemsize + (arr.size + 7) // 8 < arr.nbytes:
            held = values.setdefault(key, [])
            info.update(encoding="bitmask", bits=bit_offset,
                        at=sum(v.size for v in held), count=nnz)
            masks.append(nz.ravel())
            held.append(arr[nz])
            bit_offset += arr.size
        else:
            held = dense.setdefault(key, [])
            info.update(encoding="dense", at=sum(v.size for v in held), count=arr.size)
            held.append(arr.ravel())
        tensors[name] = info
    arrays = {"bits": np.packbits(np.concatenate(masks)) if masks else np.zeros(0, np.uint8)}
    for prefix, table in (("v:", values), ("d:", dense)):
        for key, parts in table.items():
            arrays[prefix + key] = np.concatenate(parts)
    return arrays, tensors


def save_compressed(model: Module, path, *, deflate: bool = True) -> CompressedFile:
    """Write ``model``'s state with its zeros bitmask-encoded, atomically.

    Masked layers are saved with their masks folded in (as ``remove_pruning``).
    A model built from the layers ``describe_architecture`` knows (Sequential
    of Linear, Conv2d, BatchNorm2d, activations, pooling, Flatten,
    LowRankLinear, tinytorch.quant's QuantizedLinear / QuantizedConv2d) also
    stores its architecture, so :func:`load_compressed` needs only the path;
    any other model is loaded into a model you pass.

    ``deflate`` (default) also compresses the zip members (zlib): a 10%-dense
    bitmask holds ~0.47 bits of information per bit, and small integer codes
    repeat. ``deflate=False`` gives a file of exactly the payload plus headers.

    Returns: :class:`CompressedFile` (sizes measured on the written file).

    Raises: TypeError if ``model`` is not a Module; FileNotFoundError if the
    folder does not exist. Cost: O(P).
    """
    _check_model(model, "save_compressed")
    if any(isinstance(m, _Masked) for m in model.modules()):
        model = remove_pruning(model)
    arrays, tensors = _encode(model.state_dict())
    spec = {"format": FORMAT, "version": VERSION,
            "architecture": describe_architecture(model), "tensors": tensors}
    arrays["__spec__"] = np.frombuffer(json.dumps(spec).encode(), np.uint8)
    atomic_write(path, lambda f: (np.savez_compressed if deflate else np.savez)(f, **arrays))
    dense = sum(int(np.prod(t["shape"])) * np.dtype(t["dtype"]).itemsize
                for t in tensors.values())
    return CompressedFile(os.fspath(path), os.stat(path).st_size,
                          sum(a.nbytes for k, a in arrays.items() if k != "__spec__"), dense,
                          sum(t["encoding"] == "bitmask" for t in tensors.values()),
                          sum(t["encoding"] == "dense" for t in tensors.values()))


def _decode(name: str, info: dict, arrays: dict, bits: np.ndarray, path: str) -> np.ndarray:
    """Rebuild one tensor from the packed arrays; ValueError if anything is off."""
    bad = ValueError(f"load_compressed: {path}: tensor {name!r} is missing or corrupt")
    try:
        shape, dtype = tuple(int(d) for d in info["shape"]), np.dtype(info["dtype"])
        at, count = int(info["at"]), int(info["count"])
        size = int(np.prod(shape))
        prefix = "d:" if info["encoding"] == "dense" else "v:"
        held = arrays.get(prefix + info["dtype"])
    except (KeyError, TypeError, ValueError):
        raise bad from None
    if held is None or held.dtype != dtype or at < 0 or at + count > held.size:
        raise bad
    if info["encoding"] == "dense":
        if count != size:
            raise bad
        return held[at:at + count].reshape(shape).copy()
    start = int(info.get("bits", -1))
    if info["encoding"] != "bitmask" or start < 0 or start + size > bits.size:
        raise bad
    mask = bits[start:start + size].astype(bool)
    if int(mask.sum()) != count:
        raise ValueError(f"load_compressed: {path}: tensor {name!r} has {count} values for "
                         f"{int(mask.sum())} nonzeros (corrupt file)")
    out = np.zeros(size, dtype)
    out[mask] = held[at:at + count]
    return out.reshape(shape)


def load_compressed(path, model: Module | None = None) -> Module:
    """Read a file written by :func:`save_compressed`; returns the model in eval mode.

    Args:
        model: where to load the state; needed when the file stores no
            architecture (the error says so), else a fresh model is built.

    Raises:
        FileNotFoundError: no such file. ValueError: not a compressed-model
            file, a corrupt or inconsistent tensor, no architecture and no
            ``model``. StateDictError: ``model``'s tensors differ from the file's.
        TypeError: ``model`` is not a Module.
    """
    if model is not None:
        _check_model(model, "load_compressed")
    arrays = read_npz(path, "compressed model file")
    path = os.fspath(path)
    try:
        spec = json.loads(arrays["__spec__"].tobytes().decode())
        ok = spec.get("format") == FORMAT and isinstance(spec.get("tensors"), dict)
    except (KeyError, ValueError, AttributeError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise ValueError(f"load_compressed: {path} is not a file written by save_compressed")
    if spec.get("version") != VERSION:
        raise ValueError(f"load_compressed: {path} has format version {spec.get('version')}, "
                         f"this reader knows {VERSION}")
    if model is None:
        if spec.get("architecture") is None:
            raise ValueError(f"load_compressed: {path} stores no architecture (the model was "
                             f"not a Sequential of known layers); pass model= to load into")
        model = _build(spec["architecture"])
    bits = np.unpackbits(arrays.get("bits", np.zeros(0, np.uint8)))
    state = {name: _decode(name, info, arrays, bits, path)
             for name, info in spec["tensors"].items()}
    model.load_state_dict(state)
    return model.eval()
