"""``Parameter``: a Tensor that a Module registers as trainable state."""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A trainable tensor. Assigning one as a Module attribute registers it.

    Args:
        data: array-like or Tensor. A Tensor's array is shared (not copied)
            and keeps its dtype; other data follows the Tensor rules (float
            data becomes float32 unless ``dtype`` is given).
        requires_grad: defaults to True (a frozen parameter sets it False).
        dtype: optional dtype override (e.g. ``np.float64`` for gradcheck).

    A Parameter is a leaf of every graph it enters: ops on it return plain
    Tensors, and ``backward()`` accumulates into its ``.grad``.

    Raises:
        TypeError: non-numeric data, or ``requires_grad=True`` on integer data.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None) -> None:
        if isinstance(data, Tensor):
            data = data.data if dtype is None else data.data.astype(dtype)
            super().__init__(data, dtype=data.dtype, requires_grad=requires_grad)
        else:
            super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self) -> str:
        body = np.array2string(
            self.data, precision=4, separator=", ", prefix="Parameter(", threshold=100
        )
        extra = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter({body}, dtype={self.data.dtype}{extra})"

    # Parameters are compared and hashed by identity, like every Tensor.
    __hash__ = Tensor.__hash__
