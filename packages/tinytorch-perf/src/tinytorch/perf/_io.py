"""Atomic file writes and conversion of results to JSON-ready values."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["atomic_write", "to_jsonable", "dumps"]


def atomic_write(path, write: Callable, *, mode: str = "w", suffix: str = "") -> None:
    """Write a file so that an interrupted write never leaves a broken one.

    ``write(f)`` fills a temporary file in the same directory as ``path``
    (same file system, so the final ``os.replace`` is an atomic rename); the
    temporary file is removed if anything fails.

    Raises:
        FileNotFoundError: the directory of ``path`` does not exist.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot write {path!r}: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    try:
        kwargs = {"encoding": "utf-8"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def to_jsonable(obj: Any) -> Any:
    """Convert results to plain JSON values.

    Objects with ``to_dict()`` (BenchmarkResult, ProfileReport) use it;
    dataclasses become dicts, enums their value, NumPy scalars and arrays
    Python numbers and lists, tuples lists; non-finite floats become None
    (JSON has no NaN or infinity). Mapping keys become strings.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if isinstance(obj, Mapping):
        return {str(to_jsonable(k)) if not isinstance(k, str) else k: to_jsonable(v)
                for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "shape") and hasattr(obj, "data"):  # a Tensor
        return to_jsonable(np.asarray(obj.data))
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


def dumps(obj: Any, indent: int | None = 2) -> str:
    """``json.dumps(to_jsonable(obj))``, strict (no NaN) and key order kept."""
    return json.dumps(to_jsonable(obj), indent=indent, allow_nan=False)
