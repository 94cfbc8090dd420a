"""Helpers for testing code built on TinyTorch, as ``torch.testing`` is for PyTorch.

Every package's tests must pass in an environment that holds only that
package and its declared dependencies, so one package's tests cannot import
another's test files. What several packages check the same way lives here,
in the layer every package depends on, as a public and documented module:

* ``assert_close``: values equal up to the rounding of their dtype.
* ``assert_raises``: a call raises exactly the policy's exception, and its
  message names the problem.
* ``random_arrays`` and the shape tables ``BROADCAST_SHAPES``,
  ``UNARY_SHAPES``, ``MATMUL_SHAPES``, ``REDUCTION_AXES``: the inputs of the
  table-driven op tests (forward values, gradchecks, PyTorch parity), so the
  three tests of an op see the same cases.
* ``kernel_backend_fixture``: a pytest fixture running a test once per
  backend of :mod:`tinytorch.tensor.kernels`.
* ``corrupt_file``: damage a saved file in place (overwrite bytes, cut the
  tail), for the fuzz tests of every loader.

Only NumPy is needed at import; ``kernel_backend_fixture`` imports pytest
when it is called.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from . import kernels
from ._tensor import Tensor

__all__ = [
    "BROADCAST_SHAPES",
    "DOMAINS",
    "MATMUL_SHAPES",
    "REDUCTION_AXES",
    "UNARY_SHAPES",
    "assert_close",
    "assert_raises",
    "corrupt_file",
    "kernel_backend_fixture",
    "random_arrays",
]

# --------------------------------------------------------------------------- #
# Values
# --------------------------------------------------------------------------- #

# (rtol, atol) by dtype: the rounding left when one formula is computed two
# ways (fused vs plain, one backend vs another), not a loose "close enough".
_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-3),
    np.dtype(np.float32): (2e-6, 2e-6),
    np.dtype(np.float64): (1e-12, 1e-12),
}


def _as_array(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def assert_close(actual, expected, *, rtol: float | None = None, atol: float | None = None,
                 msg: str = "") -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise.

    Args:
        actual, expected: Tensors, ndarrays or anything ``np.asarray`` takes,
            of the same shape (a 0-d value may meet any shape, as in NumPy).
        rtol, atol: the tolerances; by default the rounding of ``actual``'s
            dtype (float64 1e-12, float32 2e-6, float16 1e-3) and exact for
            integer and bool values. Pass them when the two sides are
            different algorithms rather than one formula computed two ways.
        msg: added to the failure message (which names the worst elements).

    Raises:
        AssertionError: the shapes differ or some element is out of tolerance.

    Cost: O(n) time and O(n) temporary memory for n elements.
    """
    a, e = _as_array(actual), _as_array(expected)
    default = _TOLERANCES.get(a.dtype, (0.0, 0.0))
    np.testing.assert_allclose(a, e, rtol=default[0] if rtol is None else rtol,
                               atol=default[1] if atol is None else atol, err_msg=msg)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


def assert_raises(exc: type[Exception], call: Callable[[], object],
                  words: Iterable[str] = (), *, desc: str = "",
                  ignore: Sequence[type[Warning]] = ()) -> Exception:
    """Assert that ``call()`` raises exactly ``exc`` and that its message
    contains every string of ``words``; return the exception.

    The stack's policy is ``TypeError`` for a wrong type and ``ValueError``
    for a bad value, raised at the public boundary with a message that names
    the problem. Neither another type nor a subclass is accepted: a
    ``numpy.exceptions.AxisError`` (a ValueError subclass) escaping from deep
    inside NumPy is exactly the failure this check exists to catch.

    Args:
        exc: the exception class expected.
        call: a function of no arguments, the call under test.
        words: strings the message must contain (argument names, the bad
            value, the expected shape).
        desc: the case's name, put at the start of every failure message.
        ignore: warning categories silenced during the call (for example
            ``DeprecationWarning`` when the case spells a deprecated alias).

    Raises:
        AssertionError: nothing was raised, another type was, or a word is
            missing from the message.
        TypeError: ``words`` is a single str (a list of words is meant).
    """
    if isinstance(words, str):
        raise TypeError(f"words must be a list of strings, not the str {words!r}")
    prefix = f"{desc}: " if desc else ""
    with warnings.catch_warnings():
        for category in ignore:
            warnings.simplefilter("ignore", category)
        try:
            call()
        except Exception as error:  # any type: checked against exc below
            raised = error
        else:
            raise AssertionError(f"{prefix}nothing raised, expected {exc.__name__}")
    if type(raised) is not exc:
        raise AssertionError(f"{prefix}{type(raised).__name__} is not {exc.__name__} "
                             f"({raised})") from raised
    message = str(raised)
    for word in words:
        if word not in message:
            raise AssertionError(f"{prefix}{word!r} not in {message!r}")
    return raised


# --------------------------------------------------------------------------- #
# Inputs of the table-driven op tests
# --------------------------------------------------------------------------- #

DOMAINS = {
    "any": "standard normal",
    "pos": "uniform in [0.5, 2): log, sqrt, division and fractional powers",
    "away": "|x| uniform in [0.2, 2), either sign: no kink of abs/relu/clip near x",
    "int": "integers -3..3 as floats: ties for max/min, exact zeros for relu/abs",
}

# Pairs of operand shapes covering every broadcasting rule: equal shapes,
# missing leading dims on either side, size-1 dims on both sides, 0-d
# operands, and empty arrays.
BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (3,)),
    ((5,), ()),
    ((2, 3), ()),
    ((), ()),
    ((1,), (5,)),
    ((1,), (2, 3)),
    ((1, 1), (2, 3)),
    ((0, 4), (4,)),
    ((0, 3), (3,)),
    ((2, 0, 3), (1, 3)),
]

# Shapes for elementwise ops: 0-d, 1-D, 3-D, all size-1 and empty.
UNARY_SHAPES = [(), (5,), (2, 3, 4), (1, 1), (0, 3)]

# matmul operand pairs: vector forms, 2-D, batched, broadcast batches, empty.
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3, 4)),
    ((1, 1), (1, 1)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((1, 2, 3), (4, 3, 2)),
    ((3,), (5, 3, 2)),
    ((5, 2, 3), (3,)),
    ((2, 2, 3), (3,)),
    ((0, 3), (3, 4)),
    ((2, 0), (0, 4)),
]

# Every form of the dim argument of a reduction over a 3-D input: all dims,
# each dim, negative dims, tuples in and out of order, and () (no dim: NumPy
# reduces nothing, where torch reads an empty dim list as "every dim").
REDUCTION_AXES = [None, 0, 1, 2, -1, -3, (0, 2), (-1, 0), (0, 1, 2), ()]


def random_arrays(shapes: Sequence[tuple[int, ...]], domain: str = "any",
                  seed: int = 0) -> list[np.ndarray]:
    """One float64 array per shape, drawn from ``domain`` (a key of ``DOMAINS``).

    The same ``(shapes, domain, seed)`` always gives the same values, so the
    forward test, the gradcheck and the parity test of an op can use one case.

    Raises:
        ValueError: ``domain`` is not a key of ``DOMAINS``.
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {sorted(DOMAINS)}")
    rng = np.random.default_rng(seed)
    out = []
    for shape in shapes:
        if domain == "pos":
            a = rng.uniform(0.5, 2.0, shape)
        elif domain == "away":
            a = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
        elif domain == "int":
            a = rng.integers(-3, 4, shape).astype(np.float64)
        else:
            a = rng.standard_normal(shape)
        out.append(a)
    return out


# --------------------------------------------------------------------------- #
# Kernel backends
# --------------------------------------------------------------------------- #


def kernel_backend_fixture(name: str = "backend"):
    """A pytest fixture named ``name`` that runs each test using it once per
    backend of :mod:`tinytorch.tensor.kernels` (``"numpy"``, ``"numexpr"``),
    inside ``kernels.use_backend``, and yields the backend's name. The
    numexpr case is skipped when numexpr is not installed.

    Assign it at module level (pytest finds fixtures by module attribute)::

        backend = kernel_backend_fixture()

        def test_gelu(backend):
            ...
    """
    import pytest  # only the tests need pytest, not the library

    @pytest.fixture(params=kernels.BACKENDS, name=name)
    def _backend(request):
        if request.param not in kernels.available_backends():
            pytest.skip(f"kernel backend {request.param!r} is not installed")
        with kernels.use_backend(request.param):
            yield request.param

    return _backend


# --------------------------------------------------------------------------- #
# Damaged files
# --------------------------------------------------------------------------- #


def corrupt_file(path: str | os.PathLike, flips: Iterable[tuple[float, int]] = (),
                 cut: float | None = None) -> bytes:
    """Damage the file at ``path`` in place and return its new contents.

    Args:
        flips: ``(fraction, byte)`` pairs: the byte at ``int(fraction * size)``
            becomes ``byte`` (fractions in [0, 1), bytes in 0..255), in order;
            an empty file has no byte to overwrite and stays empty.
        cut: when given, the file is then truncated to ``int(cut * size)``
            bytes (a fraction in [0, 1]).

    Raises:
        ValueError: a fraction or a byte out of range.
        OSError: the file cannot be read or written.

    Cost: O(size) time and memory.
    """
    data = bytearray(open(path, "rb").read())
    for frac, byte in flips:
        if not 0.0 <= frac < 1.0 or not 0 <= byte <= 255:
            raise ValueError(f"flip ({frac}, {byte}): fraction must be in [0, 1), "
                             "byte in 0..255")
        if data:
            data[int(frac * len(data))] = byte
    if cut is not None:
        if not 0.0 <= cut <= 1.0:
            raise ValueError(f"cut must be a fraction in [0, 1], got {cut}")
        data = data[: int(cut * len(data))]
    with open(path, "wb") as f:
        f.write(data)
    return bytes(data)
