"""Sparse inference: a pruned ``Linear`` that keeps only its nonzero weights.

A model pruned to 90% still multiplies by every zero and holds every zero in
memory. :class:`SparseLinear` stores the weight in CSR form (compressed sparse
rows, the layout of ``scipy.sparse.csr_matrix`` and ``torch.sparse_csr``)::

    W (out, in), nnz nonzeros        values   (nnz,)   float32, or int8 codes
                                     columns  (nnz,)   uint8 / uint16 / int32
                                     row_ptr  (out+1,) the same, narrowest for nnz: row r is
                                                       values[row_ptr[r]:row_ptr[r+1]]
                                     scale    (out,)   float32 (int8 only)

and computes ``y = x @ W.T + b`` as one gather, one product and one segmented
sum (``np.add.reduceat``), all in NumPy::

    g = x[:, columns] * values      # (B, nnz)
    y[:, r] = sum of g over row r   # (B, out), times scale[r] for int8

Memory: ``nnz * (value + column bytes) + 4 (out + 1)`` (plus ``4 out`` for the
int8 scales and the bias) instead of ``4 out * in``; at 90% sparsity with int8
values and one-byte columns that is about 20x less than the float weight. Work:
O(B * nnz) instead of O(B * out * in). It is an inference layer (no backward):
prune and fine-tune with :func:`~tinytorch.compress.magnitude_prune` first,
then convert with :func:`to_sparse`.
"""

from __future__ import annotations

import copy

import numpy as np

from tinytorch.nn import Linear, Module
from tinytorch.tensor import Primitive, Tensor, apply

from .prune import MaskedLinear, _check_model

__all__ = ["SparseLinear", "to_sparse", "SPARSE_LINEAR"]


def _tiles(row_ptr: np.ndarray, tile: int | None) -> np.ndarray:
    """Row boundaries ``[r0, r1, ..., out]`` of consecutive row ranges holding
    about ``tile`` nonzeros each (whole rows; one range when ``tile`` is None)."""
    nnz, out = int(row_ptr[-1]), row_ptr.size - 1
    if tile is None or nnz <= tile:
        return np.array([0, out])
    first_rows = np.searchsorted(row_ptr, np.arange(0, nnz, tile), side="right") - 1
    return np.unique(np.concatenate([[0], first_rows, [out]]))


def _sparse_linear_fwd(x, values, columns, row_ptr, bounds, *rest, has_scale, out_features):
    """x (*, K) float32 -> (*, N) float32 with the CSR weight (module docstring);
    ``bounds`` from :func:`_tiles`."""
    rows = x.reshape(-1, x.shape[-1])  # (B, K)
    y = np.zeros((rows.shape[0], out_features), np.float32)
    # One pass per tile of ~`tile` nonzeros (usually one): the temporaries
    # (gathered inputs, the index copy take makes) are (B, tile), not (B, nnz).
    for r0, r1 in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        lo, hi = int(row_ptr[r0]), int(row_ptr[r1])
        if hi == lo:
            continue
        g = np.take(rows, columns[lo:hi], axis=1)  # (B, hi - lo)
        g *= values[lo:hi]  # int8 codes widen inside the ufunc
        starts = row_ptr[r0:r1]
        filled = row_ptr[r0 + 1:r1 + 1] > starts
        # reduceat needs non-empty segments: empty rows keep their 0.
        y[:, r0:r1][:, filled] = np.add.reduceat(g, starts[filled] - lo, axis=1)
    if has_scale:
        y *= rest[0]
    if len(rest) > has_scale:
        y += rest[-1]
    return y.reshape(*x.shape[:-1], out_features)


def _sparse_linear_flops(inputs, out, params) -> int:
    x, values = inputs[0], inputs[1]
    rows = x.size // x.shape[-1]
    return int(2 * rows * values.size + 2 * out.size)  # a MAC per nonzero, scale and bias


SPARSE_LINEAR = Primitive("sparse_linear", _sparse_linear_fwd, differentiable=False,
                          flops=_sparse_linear_flops)


def _index_dtype(largest: int) -> type:
    """The narrowest integer type (uint8, uint16, int32, int64) that holds ``0 .. largest``."""
    for dt in (np.uint8, np.uint16):
        if largest <= np.iinfo(dt).max:
            return dt
    return np.int32 if largest <= np.iinfo(np.int32).max else np.int64


class SparseLinear(Module):
    """A ``Linear`` whose weight is stored as CSR: only the nonzeros (module docstring).

    Build it with :meth:`from_dense` (or :func:`to_sparse` for a whole model).
    Buffers: ``values`` (nnz,) float32 or int8, ``columns`` (nnz,) uint8 /
    uint16 / int32, ``row_ptr`` (out+1,) the narrowest integer type for nnz,
    ``tile_rows`` the row ranges of the tiles, ``scale`` (out,) float32 for
    int8, ``bias`` (out,) float32 or None.

    ``forward(x)``: ``(*, in_features)`` float -> ``(*, out_features)`` float32,
    O(rows * nnz) time. ``tile=None`` makes one ``(rows, nnz)`` float32
    temporary (and NumPy's int64 copy of the column indices); ``tile=t`` works
    through row ranges of about ``t`` nonzeros, so the temporaries are
    ``(rows, t)``: less peak memory, one more NumPy pass per range.

    Raises (forward): TypeError for a non-Tensor or non-float input, ValueError
    when its last dimension is not ``in_features``.
    """

    def __init__(self, in_features: int, out_features: int, values: np.ndarray,
                 columns: np.ndarray, row_ptr: np.ndarray, scale: np.ndarray | None = None,
                 bias: np.ndarray | None = None, tile: int | None = None) -> None:
        super().__init__()
        if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int)):
            raise TypeError(f"SparseLinear: tile must be None or an int, got "
                            f"{type(tile).__name__}")
        if tile is not None and tile < 1:
            raise ValueError(f"SparseLinear: tile must be >= 1, got {tile}")
        self.tile = tile
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.register_buffer("values", np.asarray(values))
        self.register_buffer("columns", np.asarray(columns))
        row_ptr = np.asarray(row_ptr)
        self.register_buffer("row_ptr", row_ptr.astype(_index_dtype(int(row_ptr[-1]))))
        # Row ranges of ~tile nonzeros each, fixed by the weight: computed once.
        self.register_buffer("tile_rows",
                             _tiles(row_ptr, tile).astype(_index_dtype(row_ptr.size)))
        # None buffers are registered too: they stay out of state_dict and bytes.
        self.register_buffer("scale", None if scale is None else np.asarray(scale, np.float32))
        self.register_buffer("bias", None if bias is None else np.asarray(bias, np.float32))

    @classmethod
    def from_dense(cls, layer: Module, int8: bool = False, tile: int | None = None
                   ) -> SparseLinear:
        """The CSR form of a ``Linear`` or ``MaskedLinear``'s (effective) weight.

        ``int8=True`` stores each row's nonzeros as symmetric int8 codes with
        one float32 scale per row, ``max|w_r| / 127`` (zeros stay exactly 0
        and are not stored). O(out * in).

        Raises: TypeError if ``layer`` is neither a ``Linear`` nor a ``MaskedLinear``.
        """
        if type(layer) not in (Linear, MaskedLinear):
            raise TypeError(f"SparseLinear.from_dense: need a Linear or MaskedLinear, got "
                            f"{type(layer).__name__}")
        w = (layer.effective_weight() if isinstance(layer, MaskedLinear)
             else layer.weight.data).astype(np.float32)  # (out, in)
        rows, cols = np.nonzero(w)  # row-major order: CSR order
        values = w[rows, cols]
        scale = None
        if int8:
            scale = np.abs(w).max(axis=1) / 127.0  # (out,)
            scale[scale == 0] = 1.0  # an all-zero row: any scale, nothing stored
            values = np.clip(np.rint(values / scale[rows]), -127, 127).astype(np.int8)
        row_ptr = np.zeros(w.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=w.shape[0]), out=row_ptr[1:])
        bias = None if layer.bias is None else layer.bias.data
        return cls(w.shape[1], w.shape[0], values, cols.astype(_index_dtype(w.shape[1] - 1)),
                   row_ptr, scale, bias, tile)

    @property
    def nnz(self) -> int:
        """Number of stored (nonzero) weights."""
        return int(self.values.data.size)

    def to_dense_weight(self) -> np.ndarray:
        """The ``(out, in)`` float32 weight it computes with (int8 codes times scales)."""
        w = np.zeros((self.out_features, self.in_features), np.float32)
        rows = np.repeat(np.arange(self.out_features), np.diff(self.row_ptr.data))
        v = self.values.data.astype(np.float32)
        w[rows, self.columns.data] = v if self.scale is None else v * self.scale.data[rows]
        return w

    def float_architecture(self) -> dict:
        """The float ``Linear`` it stands for (type, parameter shapes): a model
        made sparse keeps its architecture, as a quantized one does."""
        params = [["weight", [self.out_features, self.in_features], "float32"]]
        if self.bias is not None:
            params.append(["bias", [self.out_features], "float32"])
        return {"type": f"{Linear.__module__}.{Linear.__qualname__}", "parameters": params,
                "buffers": []}

    def forward(self, x) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"SparseLinear: input must be a Tensor, got {type(x).__name__}")
        if x.data.dtype.kind != "f":
            raise TypeError(f"SparseLinear: input must be floating point, got {x.data.dtype}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"SparseLinear: input's last dimension must be "
                             f"{self.in_features}, got shape {x.shape}")
        if x.data.dtype != np.float32:
            x = Tensor(x.data.astype(np.float32))
        extra = tuple(t for t in (self.scale, self.bias) if t is not None)
        return apply(SPARSE_LINEAR, (x, self.values, self.columns, self.row_ptr,
                                     self.tile_rows, *extra),
                     {"has_scale": self.scale is not None, "out_features": self.out_features})

    def extra_repr(self) -> str:
        dense = self.out_features * self.in_features
        kind = "int8" if self.scale is not None else "float32"
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"nnz={self.nnz} ({1 - self.nnz / max(dense, 1):.3f} sparse), {kind}")


def to_sparse(model: Module, int8: bool = False, tile: int | None = None) -> Module:
    """A copy of ``model`` whose ``Linear`` / ``MaskedLinear`` layers are
    :class:`SparseLinear` (module swaps; everything else is kept). Use it on a
    pruned model for inference: the result has no gradient path through
    those layers. O(total weights).

    Raises: TypeError if ``model`` is not a Module; ValueError if it holds no
    ``Linear`` layer (or is one itself: wrap it in a ``Sequential``).
    """
    _check_model(model, "to_sparse")
    if type(model) in (Linear, MaskedLinear):
        raise ValueError("to_sparse: wrap a single layer in a Sequential so it can be swapped")
    model = copy.deepcopy(model)
    names = [n for n, m in model.named_modules() if type(m) in (Linear, MaskedLinear)]
    if not names:
        raise ValueError("to_sparse: the model has no Linear layer to make sparse")
    for name in names:
        model.set_submodule(name, SparseLinear.from_dense(model.get_submodule(name), int8,
                                                                    tile))
    return model.eval()
