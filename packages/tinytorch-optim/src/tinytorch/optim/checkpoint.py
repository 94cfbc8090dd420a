"""Saving nested training state to one ``.npz`` file, atomically, without pickle.

Format (version 1): an uncompressed NumPy ``.npz`` archive holding

* ``__meta__``: a uint8 array, the UTF-8 bytes of a JSON document
  ``{"format": "tinytorch-state", "version": 1, "tree": ...}``;
* ``a0``, ``a1``, ...: every ndarray of the state, with its dtype and shape.

``tree`` is the state with each ndarray replaced by ``{"__array__": "a7"}``.
Lists, str-keyed dicts, strings, bools, ints, floats (NaN and inf included)
and None are stored as JSON; tuples as ``{"__tuple__": [...]}`` and dicts
with non-string keys (an optimizer's ``{param_index: state}``) as
``{"__items__": [[key, value], ...]}``, so a state reads back exactly as it
was written: same types, same dtypes, same bits. NumPy scalars are stored as
the equivalent Python number. Nothing is pickled, so loading a file cannot run
code (``np.load(..., allow_pickle=False)``).

Writes are atomic (:func:`tinytorch.tensor.atomic_write`, re-exported here
as ``atomic_write``): the archive goes to a temporary file in the target's
directory, is flushed to disk, then renamed over the target with
``os.replace``. A crash or an exception mid-write leaves the previous file
intact (and the temporary file is removed when Python gets the chance).
"""

from __future__ import annotations

import json
import os

import numpy as np

from tinytorch.nn.serialization import read_npz
from tinytorch.tensor import atomic_write

__all__ = ["save_state", "load_state", "atomic_write", "FORMAT", "FORMAT_VERSION"]

FORMAT = "tinytorch-state"
FORMAT_VERSION = 1
_META = "__meta__"
_MARKERS = ("__array__", "__tuple__", "__items__")


def _encode(obj, arrays: dict, where: str):
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"cannot save {where}: object arrays would need pickle")
        name = f"a{len(arrays)}"
        arrays[name] = obj
        return {"__array__": name}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k in _MARKERS for k in obj):
            return {k: _encode(v, arrays, f"{where}[{k!r}]") for k, v in obj.items()}
        for k in obj:
            if not (k is None or isinstance(k, (bool, int, float, str, np.integer))):
                raise TypeError(f"cannot save {where}: dict key {k!r} of type "
                                f"{type(k).__name__} (keys must be str, int, float or bool)")
        return {"__items__": [[_encode(k, arrays, where), _encode(v, arrays, f"{where}[{k!r}]")]
                              for k, v in obj.items()]}
    raise TypeError(f"cannot save {where}: a {type(obj).__name__} is not an ndarray, number, "
                    "string, bool, None, list, tuple or dict")


def _decode(obj, arrays):
    """The state tree back from JSON; ValueError for anything ``_encode``
    cannot have written (a marker with the wrong shape, an unknown array)."""
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if len(obj) == 1:
            (key, value), = obj.items()
            if key == "__array__":
                if not isinstance(value, str) or value not in arrays:
                    raise ValueError(f"array {value!r} is missing")
                return arrays[value]
            if key == "__tuple__":
                if not isinstance(value, list):
                    raise ValueError(f"a tuple must be stored as a list, got {value!r}")
                return tuple(_decode(v, arrays) for v in value)
            if key == "__items__":
                if not isinstance(value, list) or not all(
                        isinstance(kv, list) and len(kv) == 2 for kv in value):
                    raise ValueError("dict items must be stored as [key, value] pairs")
                items = [(_decode(k, arrays), _decode(v, arrays)) for k, v in value]
                if not all(k is None or isinstance(k, (bool, int, float, str)) for k, _ in items):
                    raise ValueError("a dict key must be a number, a string, a bool or None")
                return dict(items)
        return {k: _decode(v, arrays) for k, v in obj.items()}
    return obj


def save_state(path, state) -> None:
    """Write ``state`` (nested dicts/lists/tuples of ndarrays and plain values)
    to ``path`` as one ``.npz`` file (format in the module docstring), atomically.

    The path is used as given (no ``.npz`` is appended). Cost: one copy of
    every array into the file.

    Raises:
        TypeError: the state holds something else (a Tensor, an object
            array, a function, ...); the message names where.
        FileNotFoundError: the target directory does not exist.
    """
    arrays: dict = {}
    tree = _encode(state, arrays, "state")
    meta = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "tree": tree})
    arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_state(path):
    """Read a state written by :func:`save_state`; arrays come back as new
    ndarrays with their saved dtype and shape.

    The archive is read with :func:`tinytorch.nn.serialization.read_npz`
    (every member checked before it is read; the arrays may hold at most 64
    times the file's size), so a damaged or hostile file costs bounded work.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not such a state file: empty, truncated, not
            an ``.npz``, no ``__meta__`` entry, metadata that is not UTF-8
            JSON or is nested too deeply, another format or a newer version,
            a malformed tree or a missing array. The message names the path.
    """
    where = os.fspath(path)
    arrays = read_npz(path, "TinyTorch state file")
    meta = arrays.pop(_META, None)
    if meta is None:
        raise ValueError(f"{where!r} is not a TinyTorch state file: no {_META!r} entry")
    try:
        meta = json.loads(meta.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"corrupt state file {where!r}: {exc}") from None
    except RecursionError:
        raise ValueError(f"corrupt state file {where!r}: metadata nested too deeply") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{where!r} is not a {FORMAT!r} file")
    if meta.get("version") != FORMAT_VERSION:
        raise ValueError(f"{where!r} has format version {meta.get('version')!r}; "
                         f"this tinytorch-optim reads version {FORMAT_VERSION}")
    if "tree" not in meta:
        raise ValueError(f"corrupt state file {where!r}: the metadata has no 'tree'")
    try:
        return _decode(meta["tree"], arrays)
    except ValueError as exc:
        raise ValueError(f"corrupt state file {where!r}: {exc}") from None
    except RecursionError:
        raise ValueError(f"corrupt state file {where!r}: the tree is nested too deeply") from None
