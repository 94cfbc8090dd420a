"""The Tensor class: construction and dtype rules, properties, conversions.

These tests use tinytorch.tensor alone (never tinytorch.autograd), so they
pass with only tinytorch-tensor installed.
"""

import numpy as np
import pytest

from tinytorch.tensor import Tensor, get_backward_engine, set_backward_engine, wrap

# ------------------------------------------------------------ dtype rules

DTYPE_CASES = [
    # (data, dtype argument, expected dtype)
    (1.5, None, np.float32),
    ([1.0, 2.0], None, np.float32),
    ([1, 2.5], None, np.float32),  # mixed int/float lists are float data
    (np.array([1.0, 2.0]), None, np.float32),  # float64 arrays too
    (np.float64(3.0), None, np.float32),
    (np.array([1.0], np.float16), None, np.float16),  # other float widths are kept
    (3, None, np.int64),
    ([[1, 2], [3, 4]], None, np.int64),
    (np.array([1, 2], np.int32), None, np.int32),  # ints stay the int they are
    (np.array([1, 2], np.uint8), None, np.uint8),
    (True, None, np.bool_),
    ([True, False], None, np.bool_),
    ([1.0, 2.0], np.float64, np.float64),  # an explicit dtype wins
    ([1.0, 2.0], "float64", np.float64),
    ([1.7, 2.2], "int32", np.int32),
    ([1, 2], np.float32, np.float32),
    ([0, 1], "bool", np.bool_),
]


@pytest.mark.parametrize("data, dtype, expected", DTYPE_CASES,
                         ids=[f"{type(d).__name__}-{t}" for d, t, _ in DTYPE_CASES])
def test_dtype_rules(data, dtype, expected):
    t = Tensor(data, dtype=dtype)
    assert t.dtype == np.dtype(expected)
    np.testing.assert_array_equal(t.data, np.asarray(data).astype(expected))


def test_explicit_float64_is_not_downcast():
    t = Tensor([0.1, 0.2], dtype=np.float64)
    assert t.data.tolist() == [0.1, 0.2]  # exact float64 values, not float32-rounded


def test_ndarray_with_target_dtype_is_shared_not_copied():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Tensor(a)
    assert t.data is a
    a[0, 0] = 42.0
    assert t.data[0, 0] == 42.0
    b = np.arange(3, dtype=np.float64)
    assert Tensor(b).data is not b  # converted to float32: necessarily a copy
    assert Tensor(b, dtype=np.float64).data is b


def test_tensor_from_tensor_shares_data():
    a = Tensor([1.0, 2.0])
    assert Tensor(a).data is a.data


BAD_DATA = [
    ("abc", "numeric"),
    (["a", "b"], "numeric"),
    ([1, "a"], "numeric"),
    (None, "numeric"),
    ({"a": 1}, "numeric"),
    ([1 + 2j], "numeric"),
    ([[1, 2], [3]], "rectangular"),  # ragged
    ([[1.0], [2.0, 3.0]], "rectangular"),
]


@pytest.mark.parametrize("data, word", BAD_DATA, ids=[repr(d) for d, _ in BAD_DATA])
def test_bad_data_raises_type_error(data, word):
    with pytest.raises(TypeError, match=word):
        Tensor(data)


@pytest.mark.parametrize("dtype", ["U3", object, "complex64", "no-such-dtype"])
def test_bad_dtype_raises_type_error(dtype):
    with pytest.raises(TypeError, match="dtype"):
        Tensor([1.0], dtype=dtype)


@pytest.mark.parametrize("data, dtype", [([1, 2], None), ([True], None), ([1.0], "int32")])
def test_requires_grad_on_non_float_raises(data, dtype):
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(data, dtype=dtype, requires_grad=True)
    t = Tensor(data, dtype=dtype)
    with pytest.raises(TypeError, match="floating-point"):
        t.requires_grad_()
    assert t.requires_grad is False


def test_requires_grad_flag_and_requires_grad_():
    t = Tensor([1.0], requires_grad=True)
    assert t.requires_grad is True and t.is_leaf and t.grad is None and t.grad_fn is None
    assert t.requires_grad_(False) is t and t.requires_grad is False
    assert t.requires_grad_() is t and t.requires_grad is True


# ------------------------------------------------------------- properties


@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3), (2, 1, 4), (3, 0, 2)])
def test_shape_size_ndim(shape):
    t = Tensor(np.zeros(shape, np.float32))
    assert t.shape == shape
    assert t.ndim == len(shape)
    assert t.size == int(np.prod(shape))
    assert t.memory_footprint() == 4 * t.size
    assert t.numpy() is t.data


def test_memory_footprint_counts_dtype_width():
    assert Tensor(np.zeros((10, 10), np.float64), dtype="float64").memory_footprint() == 800
    assert Tensor(np.zeros((10,), np.int32)).memory_footprint() == 40
    assert Tensor(np.zeros((7,), np.bool_)).memory_footprint() == 7


def test_item_and_scalar_conversions():
    assert Tensor(2.5).item() == 2.5 and isinstance(Tensor(2.5).item(), float)
    assert Tensor([[7]]).item() == 7 and isinstance(Tensor([[7]]).item(), int)
    assert float(Tensor([1.5])) == 1.5
    assert int(Tensor(3)) == 3
    assert [10, 20, 30][Tensor(1)] == 20  # __index__
    with pytest.raises(ValueError, match=r"exactly one element.*\(2,\)"):
        Tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError, match="integer"):
        [1, 2][Tensor(1.0)]


def test_tolist():
    assert Tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert Tensor(2.0).tolist() == 2.0
    assert Tensor(np.zeros((0, 2))).tolist() == []


def test_array_protocol():
    t = Tensor([1.0, 2.0])
    assert np.asarray(t) is t.data  # no copy when none is needed
    copied = np.array(t)
    copied[0] = 99.0
    assert t.data[0] == 1.0  # np.array copies
    as64 = np.asarray(t, dtype=np.float64)
    assert as64.dtype == np.float64 and as64.tolist() == [1.0, 2.0]
    assert np.concatenate([t, t]).tolist() == [1.0, 2.0, 1.0, 2.0]


def test_len_iter_bool():
    t = Tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, Tensor) for r in rows)
    assert rows[2].tolist() == [5.0, 6.0]
    with pytest.raises(TypeError, match="0-d"):
        len(Tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(Tensor(1.0))
    assert bool(Tensor([1.0])) is True and bool(Tensor(0)) is False
    with pytest.raises(ValueError, match="ambiguous"):
        bool(Tensor([1.0, 2.0]))


def test_hash_is_identity_and_eq_is_elementwise():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 3.0])
    assert len({a, b, a}) == 2
    assert (a == b).tolist() == [True, False]


@pytest.mark.parametrize(
    "t, expected",
    [
        (Tensor([1.0, 2.0]), "Tensor([1., 2.], dtype=float32)"),
        (Tensor([1, 2]), "Tensor([1, 2], dtype=int64)"),
        (Tensor(1.5, requires_grad=True), "Tensor(1.5, dtype=float32, requires_grad=True)"),
        (Tensor([True]), "Tensor([ True], dtype=bool)"),
    ],
)
def test_repr(t, expected):
    assert repr(t) == expected


def test_repr_summarises_large_tensors():
    r = repr(Tensor(np.arange(1000, dtype=np.float32)))
    assert "..." in r and len(r) < 200 and "dtype=float32" in r


def test_wrap_and_detach_share_data():
    a = np.ones(3, np.float64)
    w = wrap(a)
    assert w.data is a and w.dtype == np.float64  # no dtype rule, no copy
    t = Tensor([1.0, 2.0], requires_grad=True)
    d = t.detach()
    assert d.data is t.data and d.requires_grad is False and d.grad_fn is None


def test_zero_grad_drops_grad():
    t = Tensor([1.0], requires_grad=True)
    t.grad = Tensor([5.0])
    t.zero_grad()
    assert t.grad is None


def test_setitem_writes_data_and_refuses_graph_tensors():
    t = Tensor(np.zeros((2, 3), np.float32))
    t[0, 1] = 5.0
    t[1] = Tensor([1.0, 2.0, 3.0])
    t[Tensor([0])] += 1.0
    np.testing.assert_array_equal(t.data, [[1, 6, 1], [1, 2, 3]])
    g = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        g[0] = 3.0


def test_conversion_methods():
    t = Tensor([1.7, -2.2])
    assert t.float().dtype == np.float32
    assert t.double().dtype == np.float64
    assert t.long().dtype == np.int64 and t.long().tolist() == [1, -2]
    assert t.to("float16").dtype == np.float16
    c = t.clone()
    assert c.data is not t.data and c.tolist() == t.tolist()


# ---------------------------------------------- backward without autograd


@pytest.fixture
def no_engine():
    """Remove any installed backward engine for one test (another package's
    tests in the same process may have enabled autograd), then restore it."""
    saved = get_backward_engine()
    set_backward_engine(None)
    yield
    set_backward_engine(saved)


def test_backward_without_autograd_says_what_to_install(no_engine):
    t = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="install tinytorch-autograd") as info:
        t.sum().backward()
    assert "enable_autograd" in str(info.value)


def test_backward_calls_the_installed_engine(no_engine):
    calls = []
    set_backward_engine(lambda tensor, gradient, retain_graph: calls.append(
        (tensor, gradient, retain_graph)))
    t = Tensor([1.0])
    g = Tensor([2.0])
    t.backward(g, retain_graph=True)
    assert calls == [(t, g, True)]
    assert get_backward_engine() is not None


def test_set_backward_engine_rejects_non_callables(no_engine):
    with pytest.raises(TypeError, match="callable"):
        set_backward_engine(42)
    assert get_backward_engine() is None
