"""Observers: watch float tensors, then choose ``(scale, zero_point)``.

An observer records a range ``[lo, hi]`` (running min/max, a moving
average of them, per-channel min/max, or a percentile of a histogram that
clips outliers) and maps it onto the integer grid:

    affine:     scale = (hi - lo) / (qmax - qmin),  zero_point = qmin - round(lo / scale)
    symmetric:  scale = max(|lo|, |hi|) / ((qmax - qmin) / 2),  zero_point = 0 (int8)

The range always contains 0, so that 0.0 (padding, ReLU outputs) is exactly
representable, and the scale is at least float32's epsilon (PyTorch's rule).
``observe`` is O(n) and keeps O(1) state (O(C) per channel, O(bins) for the
histogram).
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor

from .qtensor import qrange

__all__ = ["MinMaxObserver", "MovingAverageMinMaxObserver", "PerChannelMinMaxObserver",
           "HistogramObserver", "qparams_from_range"]

_EPS = float(np.finfo(np.float32).eps)


def qparams_from_range(lo, hi, dtype: str = "int8", symmetric: bool = False,
                       qmin: int | None = None, qmax: int | None = None):
    """``(scale, zero_point)`` for the range ``[lo, hi]`` (scalars or ``(C,)`` arrays).

    ``qmin``/``qmax`` narrow the grid (4-bit weights use -8..7 inside int8).
    Returns float32 scale(s) and int64 zero point(s) of the same shape as ``lo``.
    """
    dmin, dmax = qrange(dtype)
    qmin = dmin if qmin is None else qmin
    qmax = dmax if qmax is None else qmax
    lo = np.minimum(np.asarray(lo, np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, np.float64), 0.0)
    if symmetric:
        amax = np.maximum(-lo, hi)
        scale = np.maximum(amax / ((qmax - qmin) / 2.0), _EPS)
        zp = np.full(scale.shape, 0 if dtype == "int8" else (qmin + qmax + 1) // 2, np.int64)
    else:
        scale = np.maximum((hi - lo) / float(qmax - qmin), _EPS)
        zp = np.clip(qmin - np.round(lo / scale), qmin, qmax).astype(np.int64)
    return scale.astype(np.float32), zp


def _array(x, who: str) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.data
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{who}.observe expects a float Tensor or ndarray, got "
                        f"{type(x).__name__}")
    if x.size == 0:
        raise ValueError(f"{who}.observe: empty tensor")
    return x


class _Observer:
    def __init__(self, dtype: str = "int8", symmetric: bool = False) -> None:
        qrange(dtype)  # validates
        if not isinstance(symmetric, bool):
            raise TypeError("symmetric must be a bool")
        self.dtype, self.symmetric = dtype, symmetric
        self.lo = self.hi = None

    def _range(self):
        if self.lo is None:
            raise ValueError(f"{type(self).__name__}.calculate_qparams: nothing observed yet")
        return self.lo, self.hi

    def observed_range(self):
        """``(lo, hi)`` that ``calculate_qparams`` maps onto the grid (after
        percentile clipping for the histogram observer), for another grid
        (4-bit activations).

        Raises: ValueError if ``observe`` was never called."""
        return self._range()

    def calculate_qparams(self):
        """``(scale, zero_point)``: float32 and int64 (scalars, or ``(C,)`` per channel).

        Raises: ValueError if ``observe`` was never called."""
        lo, hi = self._range()
        return qparams_from_range(lo, hi, self.dtype, self.symmetric)

    def __call__(self, x):
        self.observe(x)
        return x


class MinMaxObserver(_Observer):
    """Running minimum and maximum over everything observed (per tensor)."""

    def observe(self, x) -> None:
        x = _array(x, type(self).__name__)
        lo, hi = float(x.min()), float(x.max())
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)


class MovingAverageMinMaxObserver(_Observer):
    """Exponential moving average of each batch's min and max:
    ``lo <- lo + c * (batch_min - lo)``, ``c = averaging_constant`` in (0, 1]."""

    def __init__(self, averaging_constant: float = 0.01, dtype: str = "int8",
                 symmetric: bool = False) -> None:
        super().__init__(dtype, symmetric)
        if not isinstance(averaging_constant, (int, float)) or not 0 < averaging_constant <= 1:
            raise ValueError(f"averaging_constant must be in (0, 1], got {averaging_constant!r}")
        self.c = float(averaging_constant)

    def observe(self, x) -> None:
        x = _array(x, type(self).__name__)
        lo, hi = float(x.min()), float(x.max())
        if self.lo is None:
            self.lo, self.hi = lo, hi
        else:
            self.lo += self.c * (lo - self.lo)
            self.hi += self.c * (hi - self.hi)


class PerChannelMinMaxObserver(_Observer):
    """Running min and max of every slice along ``axis`` (weights: axis 0,
    the output channel). ``calculate_qparams`` returns ``(C,)`` arrays."""

    def __init__(self, axis: int = 0, dtype: str = "int8", symmetric: bool = True) -> None:
        super().__init__(dtype, symmetric)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an int, got {type(axis).__name__}")
        self.axis = axis

    def observe(self, x) -> None:
        x = _array(x, type(self).__name__)
        if not -x.ndim <= self.axis < x.ndim:
            raise IndexError(f"PerChannelMinMaxObserver: axis {self.axis} is out of range "
                             f"for a {x.ndim}-D input")
        rows = np.moveaxis(x, self.axis, 0).reshape(x.shape[self.axis], -1)
        lo, hi = rows.min(axis=1).astype(np.float64), rows.max(axis=1).astype(np.float64)
        if self.lo is not None and self.lo.shape != lo.shape:
            raise ValueError(f"PerChannelMinMaxObserver: {lo.shape[0]} channels observed "
                             f"after {self.lo.shape[0]}")
        self.lo = lo if self.lo is None else np.minimum(self.lo, lo)
        self.hi = hi if self.hi is None else np.maximum(self.hi, hi)


class HistogramObserver(_Observer):
    """Percentile clipping: the range keeps the central ``percentile`` % of
    the observed values, so a few outliers do not stretch the step size.

    Values are binned into a fixed histogram over the running min/max
    (re-binned when the range grows, O(bins) per batch); the range is the
    ``(100 - percentile) / 2`` and ``(100 + percentile) / 2`` quantiles read
    from the cumulative counts.
    """

    def __init__(self, percentile: float = 99.99, bins: int = 2048, dtype: str = "int8",
                 symmetric: bool = False) -> None:
        super().__init__(dtype, symmetric)
        if not isinstance(percentile, (int, float)) or not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
            raise ValueError(f"bins must be an int >= 2, got {bins!r}")
        self.percentile, self.bins = float(percentile), bins
        self.counts = None

    def observe(self, x) -> None:
        x = _array(x, type(self).__name__)
        lo, hi = float(x.min()), float(x.max())
        if self.counts is None:
            self.lo, self.hi = lo, max(hi, lo + _EPS)
            self.counts = np.zeros(self.bins, np.float64)
        elif lo < self.lo or hi > self.hi:
            # Re-bin the old counts (at their bin centres) into the wider range.
            centres = np.linspace(self.lo, self.hi, self.bins + 1)
            centres = (centres[:-1] + centres[1:]) / 2
            self.lo, self.hi = min(lo, self.lo), max(hi, self.hi)
            self.counts = np.histogram(centres, self.bins, (self.lo, self.hi),
                                       weights=self.counts)[0]
        self.counts += np.histogram(x, self.bins, (self.lo, self.hi))[0]

    def _range(self):
        if self.counts is None:
            raise ValueError("HistogramObserver.calculate_qparams: nothing observed yet")
        cdf = np.cumsum(self.counts) / self.counts.sum()
        edges = np.linspace(self.lo, self.hi, self.bins + 1)
        tail = (100.0 - self.percentile) / 200.0
        lo = edges[int(np.searchsorted(cdf, tail, side="right"))]
        hi = edges[int(np.searchsorted(cdf, 1.0 - tail, side="left")) + 1]
        return lo, hi
