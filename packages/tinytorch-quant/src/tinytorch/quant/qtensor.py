"""Quantized tensors: the affine map between float32 and 8-bit integers.

    q = clamp(round(x / scale) + zero_point, qmin, qmax)        (quantize)
    x' = (q - zero_point) * scale                               (dequantize)

Inside the clamp range, ``|x - x'| <= scale / 2``: rounding moves a value by
at most half a step. Outside it, the error is the distance to the range.

PyTorch's numerics, bit for bit (``test_parity_qtensor.py`` checks ties):

* ``torch.quantize_per_tensor`` computes, in float32, ``x * inv + zp`` with
  ONE rounding (a fused multiply-add), ``inv = float32(1) / float32(scale)``,
  then rounds half to even.
* ``torch.quantize_per_channel`` computes ``float32(x * inv)``, then adds the
  zero point in float32 (TWO roundings), then rounds half to even.

A float64 ``round(x / scale)`` differs from both near ties. We emulate the
fused multiply-add exactly with NumPy: the product of two float32 numbers is
exact in float64 (24 + 24 bits < 53); the sum with the zero point is rounded
once to float64 and its exact error is recovered with TwoSum; the float64
value is then rounded to float32, and the only case where two roundings differ
from one (the float64 sum lands exactly halfway between two float32 numbers
while the exact sum does not) is corrected with the sign of the TwoSum error.
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor

__all__ = ["QuantizedTensor", "quantize_per_tensor", "quantize_per_channel", "qrange",
           "QDTYPES"]

#: Integer dtypes a QuantizedTensor may hold, with their ``(qmin, qmax)``.
QDTYPES = {"int8": (-128, 127), "uint8": (0, 255)}


def qrange(dtype: str) -> tuple[int, int]:
    """``(qmin, qmax)`` of ``"int8"`` or ``"uint8"``.

    Raises:
        TypeError: ``dtype`` is not a str. ValueError: an unknown dtype.
    """
    if not isinstance(dtype, str):
        raise TypeError(f"dtype must be 'int8' or 'uint8' (a str), got {type(dtype).__name__}")
    if dtype not in QDTYPES:
        raise ValueError(f"dtype must be 'int8' or 'uint8', got {dtype!r}")
    return QDTYPES[dtype]


def _float_input(x, fn: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.data
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{fn}: x must be a floating-point Tensor or ndarray, got "
                        f"{type(x).__name__}" + (f" of dtype {x.dtype}" if hasattr(x, "dtype")
                                                 else ""))
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{fn}: x holds NaN or infinite values, which have no quantized value")
    return x.astype(np.float32, copy=False)


def check_scale(scale, fn: str) -> np.ndarray:
    """``scale`` as a float32 array after checking every entry is finite and > 0."""
    arr = np.asarray(scale)
    if arr.dtype.kind not in "iuf" or arr.dtype == np.bool_:
        raise TypeError(f"{fn}: scale must be a positive float, got {type(scale).__name__}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise ValueError(f"{fn}: scale must be finite and > 0, got {arr[bad].ravel()[0]!r}")
    # PyTorch casts the scale to float32; 1/scale must stay finite in float32.
    s32 = arr.astype(np.float32)
    if np.any(s32 == 0) or not np.all(np.isfinite(np.float32(1.0) / s32)):
        raise ValueError(f"{fn}: scale {arr.ravel()[0]!r} underflows float32")
    return s32


def check_zero_point(zero_point, dtype: str, fn: str) -> np.ndarray:
    """``zero_point`` as an int64 array after checking it lies in ``qrange(dtype)``."""
    arr = np.asarray(zero_point)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{fn}: zero_point must be an integer, got {zero_point!r}")
    qmin, qmax = qrange(dtype)
    bad = (arr < qmin) | (arr > qmax)
    if bad.any():
        raise ValueError(f"{fn}: zero_point {int(arr[bad].ravel()[0])} is out of range for "
                         f"{dtype} (must be in [{qmin}, {qmax}])")
    return arr.astype(np.int64)


def fma_round(x: np.ndarray, inv: np.ndarray, zp) -> np.ndarray:
    """``rint(fl32(x * inv + zp))`` with ONE float32 rounding, as a fused
    multiply-add computes it; float32 ``x``/``inv``, integer ``zp`` (broadcast).

    Returns float64 integers. O(n), about ten NumPy passes.
    """
    p = x.astype(np.float64) * inv.astype(np.float64)  # exact: 48 significant bits
    z = np.asarray(zp, dtype=np.float64)
    s = p + z  # one float64 rounding
    bb = s - p
    err = (p - (s - bb)) + (z - bb)  # TwoSum: s + err == p + z exactly
    f = s.astype(np.float32)  # second rounding, to nearest even
    fd = f.astype(np.float64)
    # Two roundings differ from one only when s is exactly a float32 midpoint
    # and the exact sum is not: then the exact sum lies on err's side of s.
    up = (err > 0) & (fd < s)
    down = (err < 0) & (fd > s)
    if up.any() or down.any():
        nxt_up = np.nextafter(f, np.float32(np.inf))
        nxt_dn = np.nextafter(f, np.float32(-np.inf))
        up &= nxt_up.astype(np.float64) - s == s - fd
        down &= s - nxt_dn.astype(np.float64) == fd - s
        f = np.where(up, nxt_up, np.where(down, nxt_dn, f))
    return np.rint(f.astype(np.float64))


def _broadcast_along(v: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[axis] = v.shape[0]
    return v.reshape(shape)


class QuantizedTensor:
    """An integer array with the affine parameters that give it meaning.

    Attributes:
        scale: float32 scalar (per tensor) or ``(C,)`` float32 array (per channel).
        zero_point: int scalar or ``(C,)`` int64 array.
        axis: ``None`` (per tensor) or the channel axis.
        dtype: ``"int8"`` or ``"uint8"``.
    """

    __slots__ = ("_q", "scale", "zero_point", "axis", "dtype")

    def __init__(self, q: np.ndarray, scale, zero_point, axis: int | None, dtype: str) -> None:
        self._q, self.scale, self.zero_point, self.axis, self.dtype = (
            q, scale, zero_point, axis, dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._q.shape

    def int_repr(self) -> np.ndarray:
        """The integer array (int8 or uint8), a copy."""
        return self._q.copy()

    def dequantize(self) -> Tensor:
        """``(q - zero_point) * scale`` as a float32 Tensor (no gradient)."""
        q = self._q.astype(np.float32)
        if self.axis is None:
            return Tensor((q - np.float32(self.zero_point)) * np.float32(self.scale))
        s = _broadcast_along(np.asarray(self.scale, np.float32), self.axis, q.ndim)
        z = _broadcast_along(np.asarray(self.zero_point, np.float32), self.axis, q.ndim)
        return Tensor((q - z) * s)

    @property
    def nbytes(self) -> int:
        """Bytes stored: the integers plus the scales and zero points (float32, int32)."""
        n_params = 1 if self.axis is None else np.asarray(self.scale).size
        return int(self._q.nbytes + 8 * n_params)

    def __repr__(self) -> str:
        kind = "per_tensor" if self.axis is None else f"per_channel(axis={self.axis})"
        return f"QuantizedTensor(shape={self.shape}, dtype={self.dtype}, {kind})"


def quantize_per_tensor(x, scale, zero_point, dtype: str = "int8") -> QuantizedTensor:
    """Quantize ``x`` with one ``scale`` and ``zero_point``, as
    ``torch.quantize_per_tensor`` does, bit for bit.

    Args:
        x: float Tensor or ndarray, any shape (converted to float32).
        scale: a finite float > 0. zero_point: an int in ``qrange(dtype)``.
        dtype: ``"int8"`` (-128..127) or ``"uint8"`` (0..255).

    O(n). Raises:
        TypeError: x not floating point; scale/zero_point of a wrong type.
        ValueError: scale 0, negative or NaN; zero_point out of range; x not finite.
    """
    fn = "quantize_per_tensor"
    qmin, qmax = qrange(dtype)
    s = check_scale(scale, fn)
    z = check_zero_point(zero_point, dtype, fn)
    if s.ndim or z.ndim:
        raise ValueError(f"{fn}: scale and zero_point must be scalars (use quantize_per_channel)")
    x = _float_input(x, fn)
    inv = np.float32(1.0) / s
    q = np.clip(fma_round(x, inv, int(z)), qmin, qmax).astype(dtype)
    return QuantizedTensor(q, np.float32(s), int(z), None, dtype)


def quantize_per_channel(x, scales, zero_points, axis: int, dtype: str = "int8"
                         ) -> QuantizedTensor:
    """Quantize each slice of ``x`` along ``axis`` with its own scale and zero
    point, as ``torch.quantize_per_channel`` does, bit for bit:
    ``rint(fl32(fl32(x * inv) + zp))`` (two float32 roundings).

    Args:
        x: float Tensor or ndarray with ``ndim >= 1``.
        scales: ``(C,)`` finite floats > 0, ``C = x.shape[axis]``.
        zero_points: ``(C,)`` ints in ``qrange(dtype)``.
        axis: the channel axis (negative counts from the end).

    O(n). Raises:
        TypeError: x not floating point, axis not an int.
        ValueError: a bad scale or zero point, lengths that do not match
            ``x.shape[axis]``, x not finite. IndexError: axis out of range.
    """
    fn = "quantize_per_channel"
    qmin, qmax = qrange(dtype)
    x = _float_input(x, fn)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{fn}: axis must be an int, got {type(axis).__name__}")
    if not -x.ndim <= axis < x.ndim:
        raise IndexError(f"{fn}: axis {axis} is out of range for a {x.ndim}-D input")
    axis = int(axis) % x.ndim
    s = np.atleast_1d(check_scale(scales, fn))
    z = np.atleast_1d(check_zero_point(zero_points, dtype, fn))
    c = x.shape[axis]
    if s.shape != (c,) or z.shape != (c,):
        raise ValueError(f"{fn}: scales {s.shape} and zero_points {z.shape} must both have "
                         f"shape ({c},), the size of axis {axis}")
    inv = _broadcast_along(np.float32(1.0) / s, axis, x.ndim)
    zf = _broadcast_along(z.astype(np.float32), axis, x.ndim)
    q = np.rint((x * inv).astype(np.float32) + zf)  # two float32 roundings, as PyTorch
    q = np.clip(q, qmin, qmax).astype(dtype)
    return QuantizedTensor(q, s, z, axis, dtype)


