"""Creating tensors: constants, ranges and seeded random numbers.

Random tensors come from a :class:`Generator` (a seeded NumPy PCG64). Pass
one explicitly for reproducible code that does not depend on global state,
or seed the default one with :func:`manual_seed`.
"""

from __future__ import annotations

import numpy as np

from ._tensor import Tensor, _wrap
from .validate import check_int

__all__ = [
    "Generator", "manual_seed", "default_generator", "as_numpy_generator",
    "tensor", "zeros", "ones", "full", "arange", "eye", "zeros_like", "ones_like",
    "full_like", "randn", "rand", "randint",
]


class Generator:
    """A seeded source of random numbers (wraps ``numpy.random.Generator``).

    ``Generator(seed)``; ``manual_seed(seed)`` re-seeds it in place.
    ``numpy`` gives the underlying NumPy generator for code that needs it.
    """

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> Generator:
        """Re-seed in place and return self.

        Raises:
            TypeError: a seed that is not an int (or None).
            ValueError: a negative seed.
        """
        if seed is not None:
            seed = check_int(seed, "seed", "Generator.manual_seed", minimum=0)
        self.seed = seed
        self.numpy = np.random.default_rng(self.seed)
        return self

    def __repr__(self) -> str:
        return f"Generator(seed={self.seed})"


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Re-seed the default generator (used when no ``generator`` is passed)."""
    return default_generator.manual_seed(seed)


def as_numpy_generator(generator=None, where: str = "generator") -> np.random.Generator:
    """The NumPy generator behind a ``generator=`` argument.

    ``generator`` is what every random function of the stack accepts under
    that keyword (PyTorch's name for the random source): a tinytorch
    :class:`Generator`, a ``numpy.random.Generator`` (used as is), or None for
    tinytorch's :data:`default_generator` (seeded by :func:`manual_seed`).
    ``where`` names the caller in the error message.

    Raises:
        TypeError: anything else (an int seed included: wrap it as
            ``Generator(seed)``).
    """
    if generator is None:
        return default_generator.numpy
    if isinstance(generator, Generator):
        return generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"{where}: generator must be a tinytorch Generator, a numpy.random.Generator or "
        f"None, got {type(generator).__name__} {generator!r}"
    )


_rng = as_numpy_generator


def _shape(shape) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"shape must be non-negative ints, got {shape!r}")
        if s < 0:
            raise ValueError(f"shape must be non-negative ints, got {shape!r}")
        out.append(int(s))
    return tuple(out)


def _float_dtype(dtype) -> np.dtype:
    dt = np.dtype(np.float32 if dtype is None else dtype)
    return dt


def _new(arr: np.ndarray, requires_grad: bool) -> Tensor:
    # The array already has the dtype asked for: keep it (Tensor(arr) alone
    # would turn a requested float64 into the float32 default).
    return Tensor(arr, dtype=arr.dtype, requires_grad=requires_grad)


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """Same as ``Tensor(data, dtype, requires_grad)``."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` is given)."""
    return _new(np.zeros(_shape(shape), _float_dtype(dtype)), requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_shape(shape), _float_dtype(dtype)), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,))
    if dtype is None:
        dtype = np.float32 if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _new(np.full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    return _new(np.zeros(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    return _new(np.ones(a.shape, a.dtype if dtype is None else dtype), requires_grad)


def full_like(t, fill_value, dtype=None) -> Tensor:
    a = t.data if isinstance(t, Tensor) else np.asarray(t)
    return _new(np.full(a.shape, fill_value, a.dtype if dtype is None else dtype), False)


def arange(start, stop=None, step=1, dtype=None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``: int64 for ints, else float32."""
    if stop is None:
        start, stop = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    arr = np.arange(start, stop, step)
    if dtype is not None:
        arr = arr.astype(dtype)
    elif arr.dtype.kind == "f":
        arr = arr.astype(np.float32)
    return _wrap(arr)


def eye(n: int, m: int | None = None, dtype=None) -> Tensor:
    """The identity matrix ``(n, m)`` (``m`` defaults to ``n``)."""
    _shape((n,) if m is None else (n, m))
    return _wrap(np.eye(n, m, dtype=_float_dtype(dtype)))


def _draw_float(draw, shape: tuple, dt: np.dtype) -> np.ndarray:
    # NumPy's generators draw float32 and float64 natively (no float64
    # temporary for a float32 request); float16 is drawn as float32.
    native = dt if dt in (np.float32, np.float64) else np.dtype(np.float32)
    arr = draw(shape, dtype=native)
    return arr if native == dt else arr.astype(dt)


def randn(*shape, dtype=None, generator: Generator | None = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples, float32 by default, drawn directly in that
    dtype (a float32 request allocates no float64 array)."""
    dt = _float_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"randn needs a floating dtype, got {dt}")
    arr = _draw_float(_rng(generator).standard_normal, _shape(shape), dt)
    return _new(arr, requires_grad)


def rand(*shape, dtype=None, generator: Generator | None = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform samples in ``[0, 1)``, float32 by default (drawn in that dtype)."""
    dt = _float_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"rand needs a floating dtype, got {dt}")
    arr = _draw_float(_rng(generator).random, _shape(shape), dt)
    return _new(arr, requires_grad)


def randint(low: int, high: int, shape, generator: Generator | None = None) -> Tensor:
    """Uniform integers in ``[low, high)`` (int64)."""
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = _shape((shape,) if isinstance(shape, (int, np.integer)) else (shape,))
    return _wrap(_rng(generator).integers(low, high, size=shape, dtype=np.int64))
