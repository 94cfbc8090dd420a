"""The error function on NumPy arrays (NumPy has none; SciPy is not a dependency).

erf(x) is odd, so work with |x|:

* |x| <= 2.5: the Maclaurin series
  erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)),
  evaluated with Horner's rule in x^2 (45 terms: the last term is below
  1e-17 at x = 2.5; the alternating signs cost at most exp(x^2) ~ 500x in
  rounding, so the result stays within ~1e-13 in float64).
* |x| > 2.5: erf(x) = 1 - erfc(x) with the Laplace continued fraction
  erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
  evaluated bottom-up with a fixed depth (80 levels converge to double
  precision for x >= 2.5, where erfc(x) < 4.1e-4).

Both paths are vectorised over the array; the loops run over series terms,
never over elements.
"""

from __future__ import annotations

import math

import numpy as np

_SERIES_TERMS = 45
_CF_DEPTH = 80
_SPLIT = 2.5
# Coefficients of the series in z = x^2, highest power first for Horner.
_SERIES = [(-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(_SERIES_TERMS)][::-1]
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf(x: np.ndarray) -> np.ndarray:
    """Elementwise error function; float64 accuracy ~1e-13, dtype preserved."""
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    ax = np.abs(x.astype(np.float64))
    out = np.empty_like(ax)

    small = ax <= _SPLIT
    xs = ax[small]
    z = xs * xs
    acc = np.full_like(z, _SERIES[0])
    for c in _SERIES[1:]:
        acc = acc * z + c
    out[small] = _TWO_OVER_SQRT_PI * xs * acc

    large = ~small
    xl = ax[large]
    with np.errstate(over="ignore", invalid="ignore"):
        frac = np.zeros_like(xl)
        for k in range(_CF_DEPTH, 0, -1):
            frac = (k / 2.0) / (xl + frac)
        erfc = np.exp(-xl * xl) / math.sqrt(math.pi) / (xl + frac)
    out[large] = np.where(np.isinf(xl), 1.0, 1.0 - erfc)
    return (np.sign(x) * out).astype(dtype, copy=False)
