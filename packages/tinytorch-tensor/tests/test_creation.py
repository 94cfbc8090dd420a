"""Creation functions: constants, ranges, identity, seeded random numbers."""

import numpy as np
import pytest

import tinytorch.tensor as tt
from tinytorch.tensor import Generator, Tensor

# (name, call, expected ndarray)
CONSTANT_CASES = [
    ("zeros varargs", lambda: tt.zeros(2, 3), np.zeros((2, 3), np.float32)),
    ("zeros tuple", lambda: tt.zeros((2, 3)), np.zeros((2, 3), np.float32)),
    ("zeros scalar", lambda: tt.zeros(()), np.zeros((), np.float32)),
    ("zeros empty", lambda: tt.zeros(0, 4), np.zeros((0, 4), np.float32)),
    ("zeros float64", lambda: tt.zeros(2, dtype=np.float64), np.zeros(2, np.float64)),
    ("zeros int64", lambda: tt.zeros(2, dtype="int64"), np.zeros(2, np.int64)),
    ("ones", lambda: tt.ones(3), np.ones(3, np.float32)),
    ("ones float64", lambda: tt.ones([2, 2], dtype="float64"), np.ones((2, 2), np.float64)),
    ("full float", lambda: tt.full((2, 2), 1.5), np.full((2, 2), 1.5, np.float32)),
    ("full int", lambda: tt.full(3, 7), np.full(3, 7, np.int64)),
    ("full bool", lambda: tt.full((2,), True), np.full(2, True)),
    ("full float64", lambda: tt.full((2,), 0.1, dtype=np.float64), np.full(2, 0.1)),
    ("zeros_like", lambda: tt.zeros_like(Tensor([[1, 2]])), np.zeros((1, 2), np.int64)),
    ("zeros_like float64",
     lambda: tt.zeros_like(Tensor([1.0], dtype="float64")), np.zeros(1, np.float64)),
    ("zeros_like dtype object",
     lambda: tt.zeros_like(Tensor([1.0]), dtype=np.dtype("float64")), np.zeros(1, np.float64)),
    ("ones_like", lambda: tt.ones_like(Tensor([1.0, 2.0])), np.ones(2, np.float32)),
    ("ones_like dtype", lambda: tt.ones_like(Tensor([1.0]), dtype="int32"), np.ones(1, np.int32)),
    ("full_like", lambda: tt.full_like(Tensor([1.0, 2.0]), 3.0), np.full(2, 3.0, np.float32)),
    ("full_like float64", lambda: tt.full_like(Tensor([1.0], dtype="float64"), 0.1),
     np.full(1, 0.1)),
    ("arange int", lambda: tt.arange(5), np.arange(5)),
    ("arange start stop step", lambda: tt.arange(2, 11, 3), np.arange(2, 11, 3)),
    ("arange negative step", lambda: tt.arange(5, 0, -2), np.arange(5, 0, -2)),
    ("arange float", lambda: tt.arange(0, 1, 0.25), np.arange(0, 1, 0.25, dtype=np.float32)),
    ("arange dtype", lambda: tt.arange(3, dtype="float64"), np.arange(3.0)),
    ("arange empty", lambda: tt.arange(0), np.arange(0)),
    ("eye", lambda: tt.eye(3), np.eye(3, dtype=np.float32)),
    ("eye rectangular", lambda: tt.eye(2, 4), np.eye(2, 4, dtype=np.float32)),
    ("eye float64", lambda: tt.eye(2, dtype="float64"), np.eye(2)),
    ("tensor", lambda: tt.tensor([1, 2]), np.array([1, 2])),
]


@pytest.mark.parametrize("name, call, expected", CONSTANT_CASES,
                         ids=[c[0] for c in CONSTANT_CASES])
def test_constant_creation(name, call, expected):
    t = call()
    assert isinstance(t, Tensor)
    assert t.dtype == expected.dtype, f"{name}: dtype {t.dtype} != {expected.dtype}"
    assert t.shape == expected.shape
    np.testing.assert_array_equal(t.data, expected)


@pytest.mark.parametrize("make", [
    lambda: tt.zeros(2, requires_grad=True),
    lambda: tt.ones(2, dtype="float64", requires_grad=True),
    lambda: tt.full((2,), 1.0, requires_grad=True),
    lambda: tt.zeros_like(Tensor([1.0]), requires_grad=True),
    lambda: tt.ones_like(Tensor([1.0]), requires_grad=True),
    lambda: tt.randn(2, requires_grad=True),
    lambda: tt.rand(2, requires_grad=True),
])
def test_requires_grad_argument(make):
    t = make()
    assert t.requires_grad and t.is_leaf


def test_requires_grad_on_int_creation_raises():
    with pytest.raises(TypeError, match="floating-point"):
        tt.zeros(2, dtype="int64", requires_grad=True)


@pytest.mark.parametrize("call, exc, word", [
    (lambda: tt.zeros(-1), ValueError, "non-negative"),
    # a wrong type is a TypeError, a bad value a ValueError (the stack's policy)
    (lambda: tt.ones(2.5), TypeError, "non-negative"),
    (lambda: tt.zeros(True), TypeError, "non-negative"),
    (lambda: tt.arange(0, 5, 0), ValueError, "step"),
    (lambda: tt.eye(-2), ValueError, "non-negative"),
    (lambda: tt.randint(5, 5, (2,)), ValueError, "greater"),
    (lambda: tt.randn(2, dtype="int64"), TypeError, "floating"),
    (lambda: tt.rand(2, dtype="int32"), TypeError, "floating"),
    (lambda: tt.randn(2, generator=42), TypeError, "Generator"),
    (lambda: Generator(-1), ValueError, "seed must be >= 0"),
    (lambda: Generator(1.5), TypeError, "seed must be an int"),
])
def test_creation_errors(call, exc, word):
    with pytest.raises(exc, match=word):
        call()


# ----------------------------------------------------------------- random

RANDOM_CASES = [
    ("randn", lambda g: tt.randn(3, 4, generator=g)),
    ("rand", lambda g: tt.rand((3, 4), generator=g)),
    ("randint", lambda g: tt.randint(0, 10, (3, 4), generator=g)),
    ("randn float64", lambda g: tt.randn(5, dtype="float64", generator=g)),
]


@pytest.mark.parametrize("name, draw", RANDOM_CASES, ids=[c[0] for c in RANDOM_CASES])
def test_generator_is_reproducible(name, draw):
    a = draw(Generator(123))
    b = draw(Generator(123))
    c = draw(Generator(124))
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    g = Generator(7)
    first = draw(g)
    second = draw(g)
    assert not np.array_equal(first.data, second.data)  # the stream advances
    g.manual_seed(7)
    np.testing.assert_array_equal(draw(g).data, first.data)  # and re-seeding rewinds it


@pytest.mark.parametrize("name, draw", RANDOM_CASES, ids=[c[0] for c in RANDOM_CASES])
def test_manual_seed_makes_the_default_generator_reproducible(name, draw):
    tt.manual_seed(2024)
    a = draw(None)
    tt.manual_seed(2024)
    b = draw(None)
    np.testing.assert_array_equal(a.data, b.data)


def test_random_dtypes_shapes_and_ranges():
    g = Generator(0)
    x = tt.randn(1000, generator=g)
    assert x.dtype == np.float32 and x.shape == (1000,)
    assert abs(float(x.data.mean())) < 0.15 and 0.85 < float(x.data.std()) < 1.15
    assert tt.randn(3, dtype="float64", generator=g).dtype == np.float64
    u = tt.rand(1000, generator=g)
    assert u.dtype == np.float32 and u.data.min() >= 0.0 and u.data.max() < 1.0
    r = tt.randint(-3, 3, 1000, generator=g)
    assert r.dtype == np.int64 and r.shape == (1000,)
    assert set(np.unique(r.data).tolist()) == {-3, -2, -1, 0, 1, 2}
    assert tt.randn(generator=g).shape == ()


def test_generator_accepts_numpy_generator_and_repr():
    a = tt.randn(3, generator=np.random.default_rng(5))
    b = tt.randn(3, generator=np.random.default_rng(5))
    np.testing.assert_array_equal(a.data, b.data)
    assert repr(Generator(3)) == "Generator(seed=3)"
    assert isinstance(Generator(3).numpy, np.random.Generator)
    assert Generator(None).seed is None
