"""One exception policy at the public boundary of tinytorch.tensor.

A wrong type is a TypeError, a bad value a ValueError, a dim out of range an
IndexError (as Python's and PyTorch's indexing). The exception class must be
exactly that one, and the message must name the function and the argument.
"""

import numpy as np
import pytest

import tinytorch.tensor as tt
from tinytorch.tensor import Generator, Tensor
from tinytorch.tensor.testing import assert_raises

X = Tensor(np.ones((2, 3), np.float32))

ERRORS = [
    # dims and flags of reductions
    ("sum str dim", lambda: tt.sum(X, dim="0"), TypeError, ["sum", "dim", "int"]),
    ("mean float dim", lambda: X.mean(dim=1.0), TypeError, ["mean", "dim"]),
    ("max dim range", lambda: X.max(dim=2), IndexError, ["max", "dim 2"]),
    ("min repeated dims", lambda: X.min(dim=(0, -2)), ValueError, ["min", "repeated dim"]),
    ("argmax int keepdim", lambda: X.argmax(dim=0, keepdim=1), TypeError, ["keepdim", "bool"]),
    ("sum dim and axis", lambda: X.sum(dim=0, axis=1), TypeError, ["dim=0", "axis=1"]),
    ("mean keepdim and keepdims", lambda: X.mean(keepdim=True, keepdims=False), TypeError,
     ["keepdim=True", "keepdims=False"]),
    ("var float correction", lambda: X.var(correction=0.5), TypeError, ["var", "correction"]),
    ("std negative correction", lambda: X.std(correction=-1), ValueError, ["std", "correction"]),
    ("var str unbiased", lambda: X.var(unbiased="yes"), TypeError, ["unbiased", "bool"]),
    ("var correction and unbiased", lambda: X.var(correction=1, unbiased=True), TypeError,
     ["correction=1", "unbiased=True"]),
    # dims of shape ops
    ("softmax dim range", lambda: tt.softmax(X, dim=-3), IndexError, ["softmax", "dim -3"]),
    ("softmax dim and axis", lambda: X.softmax(dim=0, axis=1), TypeError, ["dim=0", "axis=1"]),
    ("cat dim and axis", lambda: tt.cat([X, X], dim=0, axis=1), TypeError, ["dim=0", "axis=1"]),
    ("stack str dim", lambda: tt.stack([X, X], dim="1"), TypeError, ["stack", "dim"]),
    ("split dim range", lambda: X.split(1, dim=3), IndexError, ["split", "dim 3"]),
    ("squeeze non-1 dim", lambda: X.squeeze(dim=0), ValueError, ["squeeze", "size 2"]),
    ("unsqueeze missing dim", lambda: tt.unsqueeze(X), TypeError, ["unsqueeze", "dim"]),
    ("transpose dim range", lambda: X.transpose(0, 2), IndexError, ["dim1 2"]),
    ("flatten str start_dim", lambda: X.flatten("0"), TypeError, ["start_dim"]),
    # creation and random sources
    ("zeros float size", lambda: tt.zeros(2.0, 3), TypeError, ["shape"]),
    ("ones negative size", lambda: tt.ones(-1), ValueError, ["shape", "non-negative"]),
    ("randn int generator", lambda: tt.randn(2, generator=3), TypeError, ["generator"]),
    ("rand str generator", lambda: tt.rand(2, generator="g"), TypeError, ["generator"]),
    ("Generator float seed", lambda: Generator(1.5), TypeError, ["seed", "int"]),
    ("Generator negative seed", lambda: Generator(-1), ValueError, ["seed", ">= 0"]),
    ("as_numpy_generator list", lambda: tt.as_numpy_generator([1], "caller"), TypeError,
     ["caller", "generator"]),
]


@pytest.mark.parametrize("desc, call, exc, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_raise_the_policy_exception(desc, call, exc, words):
    assert_raises(exc, call, words, desc=desc)


@pytest.mark.parametrize("generator", [None, Generator(3), np.random.default_rng(3)])
def test_as_numpy_generator_accepts_the_three_random_sources(generator):
    assert isinstance(tt.as_numpy_generator(generator), np.random.Generator)


def test_generator_and_numpy_generator_of_one_seed_draw_the_same():
    a = tt.randn(5, generator=Generator(11)).numpy()
    b = tt.randn(5, generator=np.random.default_rng(11)).numpy()
    np.testing.assert_array_equal(a, b)
