"""Conversion of results to JSON-ready values (files are written with
:func:`tinytorch.tensor.atomic_write`)."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["to_jsonable", "dumps"]


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
