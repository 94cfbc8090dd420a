"""tinytorch.tensor.testing: the helpers other packages' tests rely on.

Each helper must fail when it should (a check that cannot fail checks
nothing), and pass when it should.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tinytorch
from tinytorch.tensor import Tensor, kernels
from tinytorch.tensor.testing import (
    BROADCAST_SHAPES,
    DOMAINS,
    MATMUL_SHAPES,
    REDUCTION_AXES,
    UNARY_SHAPES,
    assert_close,
    assert_raises,
    corrupt_file,
    kernel_backend_fixture,
    random_arrays,
)

# ------------------------------------------------------------ assert_close


@pytest.mark.parametrize("actual, expected", [
    (np.float64(1.0) + 1e-13, 1.0),
    (np.array([1.0, 2.0], np.float32) * np.float32(1 + 1e-6), [1.0, 2.0]),
    (Tensor([1.0, 2.0]), np.array([1.0, 2.0])),
    (np.array([3, 4]), Tensor([3, 4])),
])
def test_assert_close_accepts_rounding_of_the_dtype(actual, expected):
    assert_close(actual, expected)


@pytest.mark.parametrize("actual, expected, kwargs", [
    (np.float64(1.0) + 1e-9, 1.0, {}),  # float64 tolerates 1e-12, not 1e-9
    (np.array([1.0], np.float32) * np.float32(1 + 1e-4), [1.0], {}),
    (np.array([3, 4]), [3, 5], {}),  # integers: exact
    (np.zeros(3), np.zeros(4), {}),  # shapes differ
    (np.float64(1.1), 1.0, {"rtol": 0.05}),
])
def test_assert_close_rejects_what_is_out_of_tolerance(actual, expected, kwargs):
    with pytest.raises(AssertionError):
        assert_close(actual, expected, **kwargs)


def test_assert_close_message_carries_msg():
    with pytest.raises(AssertionError, match="gradient of input 1"):
        assert_close(np.ones(2), np.zeros(2), msg="gradient of input 1")


# ----------------------------------------------------------- assert_raises


def _raise(exc):
    def call():
        raise exc
    return call


def test_assert_raises_returns_the_exception():
    error = assert_raises(ValueError, _raise(ValueError("bad dim 3")), ["dim", "3"])
    assert str(error) == "bad dim 3"


@pytest.mark.parametrize("exc, call, words, message", [
    (ValueError, lambda: None, (), "nothing raised, expected ValueError"),
    (ValueError, _raise(TypeError("x")), (), "TypeError is not ValueError"),
    # a subclass is not the policy's exception
    (ValueError, _raise(UnicodeError("x")), (), "UnicodeError is not ValueError"),
    (ValueError, _raise(ValueError("bad dim")), ["shape"], "'shape' not in 'bad dim'"),
])
def test_assert_raises_fails_on_anything_else(exc, call, words, message):
    with pytest.raises(AssertionError, match="case 7: " + message):
        assert_raises(exc, call, words, desc="case 7")


def test_assert_raises_wants_a_list_of_words():
    with pytest.raises(TypeError, match="list of strings"):
        assert_raises(ValueError, _raise(ValueError("bad dim")), "dim")


def test_assert_raises_silences_only_the_named_warnings():
    def call():
        warnings.warn("old name", DeprecationWarning, stacklevel=2)
        raise TypeError("x")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_raises(TypeError, call, ignore=[DeprecationWarning])
        assert caught == []
        assert_raises(TypeError, call)
        assert [w.category for w in caught] == [DeprecationWarning]


# ----------------------------------------------------------- random inputs


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_random_arrays_are_reproducible_float64_of_the_shapes(domain):
    shapes = [(), (3, 4), (0, 2)]
    first = random_arrays(shapes, domain, seed=3)
    again = random_arrays(shapes, domain, seed=3)
    assert [a.shape for a in first] == shapes
    for a, b in zip(first, again):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(random_arrays([(50,)], domain, seed=4)[0],
                              random_arrays([(50,)], domain, seed=5)[0])


@pytest.mark.parametrize("domain, check", [
    ("pos", lambda a: np.all((a >= 0.5) & (a < 2.0))),
    ("away", lambda a: np.all((np.abs(a) >= 0.2) & (np.abs(a) < 2.0))),
    ("int", lambda a: np.all(a == np.round(a)) and a.min() >= -3 and a.max() <= 3
     and len(np.unique(a)) < a.size),  # ties happen
])
def test_random_arrays_stay_in_their_domain(domain, check):
    (a,) = random_arrays([(400,)], domain)
    assert check(a)


def test_random_arrays_rejects_an_unknown_domain():
    assert_raises(ValueError, lambda: random_arrays([(2,)], "positive"), ["positive", "pos"])


def test_shape_tables_hold_valid_cases():
    for a, b in BROADCAST_SHAPES:
        np.broadcast_shapes(a, b)  # raises if a pair does not broadcast
    for a, b in MATMUL_SHAPES:
        np.matmul(np.zeros(a), np.zeros(b))
    x = np.zeros((2, 3, 4))
    for axis in REDUCTION_AXES:
        x.sum(axis=axis)
    assert () in UNARY_SHAPES and any(0 in s for s in UNARY_SHAPES)
    assert len(set(BROADCAST_SHAPES)) == len(BROADCAST_SHAPES)
    assert len(set(MATMUL_SHAPES)) == len(MATMUL_SHAPES)


# ---------------------------------------------------------- kernel backends

START_BACKEND = kernels.get_backend()
backend = kernel_backend_fixture()
other = kernel_backend_fixture("other_backend")


def test_kernel_backend_fixture_sets_the_backend(backend, request):
    assert backend == request.node.callspec.params["backend"]
    assert kernels.get_backend() == backend


def test_kernel_backend_fixture_takes_a_name(other_backend):
    assert kernels.get_backend() == other_backend


def test_kernel_backend_is_restored_after_the_test():
    assert kernels.get_backend() == START_BACKEND


def test_kernel_backend_fixture_runs_once_per_backend(tmp_path):
    """In a separate pytest run: one test, one case per backend, numexpr's
    case skipped (not failed, not dropped) when numexpr is missing."""
    (tmp_path / "test_two.py").write_text(
        "from tinytorch.tensor import kernels\n"
        "from tinytorch.tensor.testing import kernel_backend_fixture\n"
        "backend = kernel_backend_fixture()\n"
        "def test_it(backend):\n"
        "    assert kernels.get_backend() == backend\n")
    # the namespace package spans one folder per installed (or PYTHONPATH) package
    path = [os.path.dirname(p) for p in tinytorch.__path__]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "test_two.py")],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    missing = len(kernels.BACKENDS) - len(kernels.available_backends())
    want = f"{len(kernels.BACKENDS) - missing} passed" + (f", {missing} skipped" if missing
                                                          else "")
    assert want in run.stdout, run.stdout + run.stderr


# -------------------------------------------------------------- corrupt_file


def test_corrupt_file_overwrites_then_cuts(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(10)))
    out = corrupt_file(path, [(0.0, 255), (0.55, 7)], cut=0.8)
    assert out == path.read_bytes() == bytes([255, 1, 2, 3, 4, 7, 6, 7])


def test_corrupt_file_without_changes_keeps_the_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    assert corrupt_file(path) == b"abc"
    assert corrupt_file(tmp_path / "f.bin", cut=0.0) == b""
    assert corrupt_file(path, [(0.5, 1)]) == b""  # empty: nothing to overwrite


@pytest.mark.parametrize("flips, cut, words", [
    ([(1.0, 3)], None, "fraction"),
    ([(0.5, 256)], None, "byte"),
    ([(-0.1, 3)], None, "fraction"),
    ((), 1.5, "cut"),
])
def test_corrupt_file_rejects_out_of_range_arguments(tmp_path, flips, cut, words):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abcdef")
    assert_raises(ValueError, lambda: corrupt_file(path, flips, cut), [words])
    assert path.read_bytes() == b"abcdef"
