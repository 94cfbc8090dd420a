"""Forward values of every op against NumPy, table-driven.

One table, ``CASES``, holds (name, tinytorch function, NumPy reference,
input shapes, input domain). Each case runs on float32 inputs and checks
the values, the shape and the dtype. Broadcasting, 0-d scalars, size-1
dims and empty arrays appear as shapes in the table.
"""

import math
from typing import NamedTuple

import numpy as np
import pytest

import tinytorch.tensor as tt
from tinytorch.tensor import Tensor, testing


class Case(NamedTuple):
    name: str
    fn: object  # (*Tensors) -> Tensor
    ref: object  # (*ndarrays) -> ndarray
    shapes: tuple  # one shape per input
    domain: str = "any"  # any | pos | int (small ints: ties happen)


def make_inputs(shapes, domain, seed=0):
    """float32 arrays (the default dtype) drawn by ``testing.random_arrays``."""
    return [a.astype(np.float32) for a in testing.random_arrays(shapes, domain, seed)]


def _f32(fn):
    """Reference computed in float64, returned in the input's dtype."""
    def ref(*arrays):
        return np.asarray(fn(*[a.astype(np.float64) for a in arrays])).astype(arrays[0].dtype)
    return ref


def _softmax_ref(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax_ref(a, axis):
    s = a - a.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])

CASES: list[Case] = []

# ---- binary elementwise ops, every broadcasting pattern
# tinytorch function name -> (NumPy reference, input domain)
NAMED_BINARY = {
    "add": (np.add, "any"), "sub": (np.subtract, "any"), "mul": (np.multiply, "any"),
    "div": (np.divide, "pos"), "pow": (np.power, "pos"),
    "maximum": (np.maximum, "int"), "minimum": (np.minimum, "int"),
    "eq": (np.equal, "int"), "ne": (np.not_equal, "int"), "lt": (np.less, "int"),
    "le": (np.less_equal, "int"), "gt": (np.greater, "int"), "ge": (np.greater_equal, "int"),
}
BINARY = [(name, getattr(tt, name), ref, domain) for name, (ref, domain) in NAMED_BINARY.items()]
BINARY += [
    ("op +", lambda a, b: a + b, np.add, "any"),
    ("op -", lambda a, b: a - b, np.subtract, "any"),
    ("op *", lambda a, b: a * b, np.multiply, "any"),
    ("op /", lambda a, b: a / b, np.divide, "pos"),
    ("op **", lambda a, b: a ** b, np.power, "pos"),
    ("op ==", lambda a, b: a == b, np.equal, "int"),
    ("op <", lambda a, b: a < b, np.less, "int"),
    ("op >=", lambda a, b: a >= b, np.greater_equal, "int"),
]
for name, fn, ref, domain in BINARY:
    for shapes in testing.BROADCAST_SHAPES:
        CASES.append(Case(name, fn, ref, shapes, domain))

# ---- unary elementwise ops and activations
UNARY = [
    ("neg", tt.neg, np.negative, "any"),
    ("op -x", lambda a: -a, np.negative, "any"),
    ("exp", tt.exp, np.exp, "any"),
    ("log", tt.log, np.log, "pos"),
    ("sqrt", tt.sqrt, np.sqrt, "pos"),
    ("abs", tt.abs, np.abs, "any"),
    ("op abs()", abs, np.abs, "any"),
    ("clip both", lambda a: tt.clip(a, -0.5, 0.5), lambda a: np.clip(a, -0.5, 0.5), "any"),
    ("clip min", lambda a: a.clip(min=0.1), lambda a: np.maximum(a, np.float32(0.1)), "any"),
    ("clamp max", lambda a: a.clamp(max=0.2), lambda a: np.minimum(a, np.float32(0.2)), "any"),
    ("astype float64", lambda a: a.astype("float64"), lambda a: a.astype(np.float64), "any"),
    ("astype int64", lambda a: tt.astype(a, np.int64), lambda a: a.astype(np.int64), "any"),
    ("clone", tt.clone, np.copy, "any"),
    ("relu", tt.relu, lambda a: np.maximum(a, np.float32(0)), "int"),
    ("sigmoid", tt.sigmoid, _f32(lambda a: 1.0 / (1.0 + np.exp(-a))), "any"),
    ("tanh", tt.tanh, np.tanh, "any"),
    ("gelu tanh", tt.gelu, _f32(lambda a: 0.5 * a * (1.0 + np.tanh(
        math.sqrt(2.0 / math.pi) * (a + 0.044715 * a ** 3)))), "any"),
    ("gelu none", lambda a: a.gelu(approximate="none"),
     _f32(lambda a: 0.5 * a * (1.0 + _erf(a / math.sqrt(2.0)))), "any"),
]
for name, fn, ref, domain in UNARY:
    for shape in testing.UNARY_SHAPES:
        CASES.append(Case(name, fn, ref, (shape,), domain))

# ---- softmax family along every axis of a 3-D input
for axis in (0, 1, 2, -1, -2):
    CASES.append(Case(f"softmax axis={axis}", lambda a, ax=axis: tt.softmax(a, ax),
                      _f32(lambda a, ax=axis: _softmax_ref(a, ax)), ((2, 3, 4),)))
    CASES.append(Case(f"log_softmax axis={axis}", lambda a, ax=axis: a.log_softmax(ax),
                      _f32(lambda a, ax=axis: _log_softmax_ref(a, ax)), ((2, 3, 4),)))
CASES.append(Case("softmax 1-D", tt.softmax, _f32(lambda a: _softmax_ref(a, -1)), ((7,),)))
CASES.append(Case("softmax size-1 axis", tt.softmax, _f32(lambda a: _softmax_ref(a, -1)),
                  ((3, 1),)))
CASES.append(Case("log_softmax empty batch", tt.log_softmax,
                  _f32(lambda a: _log_softmax_ref(a, -1)), ((0, 5),)))

# ---- reductions: every axis form, both keepdims
REDUCTIONS = [
    ("sum", tt.sum, np.sum),
    ("mean", tt.mean, np.mean),
    ("max", tt.max, np.max),
    ("min", tt.min, np.min),
    ("var", tt.var, lambda a, axis, keepdims: np.var(a, axis=axis, keepdims=keepdims, ddof=1)),
]
for name, fn, ref in REDUCTIONS:
    for axis in testing.REDUCTION_AXES:
        if name == "var" and axis == ():  # over no dim: N - 1 = 0 values, nan
            continue
        for keepdims in (False, True):
            CASES.append(Case(
                f"{name} axis={axis} keepdims={keepdims}",
                lambda a, f=fn, ax=axis, k=keepdims: f(a, axis=ax, keepdims=k),
                lambda a, r=ref, ax=axis, k=keepdims: r(a, axis=ax, keepdims=k),
                ((2, 3, 4),)))
CASES += [
    Case("var correction=0", lambda a: a.var(axis=1, correction=0),
         lambda a: np.var(a, axis=1), ((3, 5),)),
    Case("var correction=2", lambda a: a.var(correction=2),
         lambda a: np.var(a, ddof=2), ((3, 5),)),
    Case("std", lambda a: a.std(axis=0), lambda a: np.std(a, axis=0, ddof=1), ((4, 3),)),
    Case("sum 0-d", tt.sum, np.sum, ((),)),
    Case("max 0-d", tt.max, np.max, ((),)),
    Case("sum size-1 dims", lambda a: a.sum(axis=1), lambda a: a.sum(axis=1), ((1, 1, 3),)),
    Case("sum empty", lambda a: a.sum(axis=0), lambda a: a.sum(axis=0), ((0, 3),)),
    Case("sum empty all", tt.sum, np.sum, ((0, 3),)),
    Case("mean empty batch", lambda a: a.mean(axis=1), lambda a: a.mean(axis=1), ((0, 3),)),
    Case("max empty batch", lambda a: a.max(axis=1), lambda a: a.max(axis=1), ((0, 3),)),
]
for name, fn, ref in [("argmax", tt.argmax, np.argmax), ("argmin", tt.argmin, np.argmin)]:
    for axis in (None, 0, 1, -1):
        for keepdims in (False, True):
            CASES.append(Case(
                f"{name} axis={axis} keepdims={keepdims}",
                lambda a, f=fn, ax=axis, k=keepdims: f(a, axis=ax, keepdims=k),
                lambda a, r=ref, ax=axis, k=keepdims: r(a, axis=ax, keepdims=k),
                ((3, 4),)))

# ---- matmul: 1-D, 2-D, batched, broadcast batch, empty
for shapes in testing.MATMUL_SHAPES:
    CASES.append(Case("matmul", tt.matmul, np.matmul, shapes))
    CASES.append(Case("op @", lambda a, b: a @ b, np.matmul, shapes))

# ---- shape ops
CASES += [
    Case("reshape", lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6), ((2, 3, 4),)),
    Case("reshape tuple", lambda a: tt.reshape(a, (6, 4)), lambda a: a.reshape(6, 4),
         ((2, 3, 4),)),
    Case("reshape -1", lambda a: a.reshape(-1), lambda a: a.reshape(-1), ((2, 3, 4),)),
    Case("reshape 2,-1", lambda a: a.reshape(2, -1), lambda a: a.reshape(2, -1), ((2, 3, 4),)),
    Case("reshape to 0-d", lambda a: a.reshape(()), lambda a: a.reshape(()), ((1, 1),)),
    Case("reshape empty", lambda a: a.reshape(3, 0), lambda a: a.reshape(3, 0), ((0, 3),)),
    Case("view", lambda a: a.view(3, 8), lambda a: a.reshape(3, 8), ((2, 3, 4),)),
    Case("transpose", lambda a: a.transpose(), lambda a: np.swapaxes(a, -1, -2),
         ((2, 3, 4),)),
    Case("transpose 0,2", lambda a: tt.transpose(a, 0, 2), lambda a: np.swapaxes(a, 0, 2),
         ((2, 3, 4),)),
    Case("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1),
         ((2, 3, 4),)),
    Case("permute negative", lambda a: tt.permute(a, -1, 0, 1), lambda a: a.transpose(2, 0, 1),
         ((2, 3, 4),)),
    Case(".T", lambda a: a.T, lambda a: a.T, ((2, 3, 4),)),
    Case(".T 1-D", lambda a: a.T, lambda a: a.T, ((3,),)),
    Case("broadcast_to", lambda a: a.broadcast_to(2, 3, 4),
         lambda a: np.broadcast_to(a, (2, 3, 4)), ((3, 1),)),
    Case("broadcast_to 0-d", lambda a: tt.broadcast_to(a, (2, 2)),
         lambda a: np.broadcast_to(a, (2, 2)), ((),)),
    Case("expand -1", lambda a: a.expand(2, -1, 4), lambda a: np.broadcast_to(a, (2, 3, 4)),
         ((3, 1),)),
    Case("squeeze all", lambda a: a.squeeze(), np.squeeze, ((1, 3, 1, 2),)),
    Case("squeeze one", lambda a: a.squeeze(2), lambda a: a.squeeze(2), ((1, 3, 1, 2),)),
    Case("squeeze negative", lambda a: tt.squeeze(a, -2), lambda a: a.squeeze(-2),
         ((1, 3, 1, 2),)),
    Case("squeeze tuple", lambda a: a.squeeze((0, 2)), lambda a: a.squeeze((0, 2)),
         ((1, 3, 1, 2),)),
    Case("unsqueeze 0", lambda a: a.unsqueeze(0), lambda a: a[None], ((2, 3),)),
    Case("unsqueeze -1", lambda a: tt.unsqueeze(a, -1), lambda a: a[..., None], ((2, 3),)),
    Case("unsqueeze 0-d", lambda a: a.unsqueeze(0), lambda a: a.reshape(1), ((),)),
    Case("flatten", lambda a: a.flatten(), lambda a: a.reshape(-1), ((2, 3, 4),)),
    Case("flatten 1", lambda a: a.flatten(1), lambda a: a.reshape(2, 12), ((2, 3, 4),)),
    Case("flatten 0,1", lambda a: tt.flatten(a, 0, 1), lambda a: a.reshape(6, 4),
         ((2, 3, 4),)),
    Case("flatten 0-d", lambda a: a.flatten(), lambda a: a.reshape(1), ((),)),
    Case("concat axis 0", lambda a, b: tt.concat([a, b]), lambda a, b: np.concatenate([a, b]),
         ((2, 3), (4, 3))),
    Case("concat axis -1", lambda a, b: tt.cat([a, b], axis=-1),
         lambda a, b: np.concatenate([a, b], axis=-1), ((2, 3), (2, 1))),
    Case("concat empty piece", lambda a, b: tt.concat([a, b], 0),
         lambda a, b: np.concatenate([a, b]), ((0, 3), (2, 3))),
    Case("concat three", lambda a, b, c: tt.concat([a, b, c], 1),
         lambda a, b, c: np.concatenate([a, b, c], 1), ((2, 1, 2), (2, 3, 2), (2, 2, 2))),
    Case("stack axis 0", lambda a, b: tt.stack([a, b]), lambda a, b: np.stack([a, b]),
         ((2, 3), (2, 3))),
    Case("stack axis -1", lambda a, b: tt.stack([a, b], axis=-1),
         lambda a, b: np.stack([a, b], axis=-1), ((2, 3), (2, 3))),
    Case("stack 0-d", lambda a, b: tt.stack([a, b]), lambda a, b: np.stack([a, b]),
         ((), ())),
    Case("where", lambda a, b: tt.where(a.data > 0, a, b),
         lambda a, b: np.where(a > 0, a, b), ((3, 4), (3, 4))),
    Case("where broadcast", lambda a, b: tt.where(Tensor([True, False, True, False]), a, b),
         lambda a, b: np.where(np.array([True, False, True, False]), a, b), ((3, 1), ())),
    Case("where scalar", lambda a: tt.where(a.data > 0, a, 0.0),
         lambda a: np.where(a > 0, a, np.float32(0)), ((3, 4),)),
]


def _case_id(c: Case) -> str:
    return f"{c.name}-{'x'.join(str(s) for s in c.shapes)}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_forward_matches_numpy(case):
    arrays = make_inputs(case.shapes, case.domain)
    out = case.fn(*[Tensor(a) for a in arrays])
    expected = np.asarray(case.ref(*[a.copy() for a in arrays]))
    assert isinstance(out, Tensor)
    assert out.shape == expected.shape, f"shape {out.shape} != {expected.shape}"
    assert out.dtype == expected.dtype, f"dtype {out.dtype} != {expected.dtype}"
    np.testing.assert_allclose(out.data, expected, rtol=2e-6, atol=1e-6)


def test_every_primitive_appears_in_the_table():
    # Indirectly: each primitive's function is exercised above; here we make
    # sure the table names cover the primitive names (so a new primitive
    # without a forward test is noticed).
    names = {c.name.split()[0] for c in CASES}
    covered_by_other_name = {"getitem", "reshape", "permute", "broadcast_to"}
    missing = set(tt.PRIMITIVES) - names - covered_by_other_name
    assert not missing, f"no forward case for {sorted(missing)}"


# ---------------------------------------------------------- dtype promotion

SCALAR_CASES = [
    # (expression on x=[1., 2.] float32 / xi=[1, 2] int64 / xb=[True, False], dtype, values)
    ("x + 2", lambda x, xi, xb: x + 2, np.float32, [3.0, 4.0]),
    ("2 - x", lambda x, xi, xb: 2 - x, np.float32, [1.0, 0.0]),
    ("x * 2.5", lambda x, xi, xb: x * 2.5, np.float32, [2.5, 5.0]),
    ("3.0 / x", lambda x, xi, xb: 3.0 / x, np.float32, [3.0, 1.5]),
    ("x ** 2", lambda x, xi, xb: x ** 2, np.float32, [1.0, 4.0]),
    ("2 ** x", lambda x, xi, xb: 2 ** x, np.float32, [2.0, 4.0]),
    ("x + np.float64", lambda x, xi, xb: x + np.array([1.0, 1.0]), np.float32, [2.0, 3.0]),
    ("ndarray + x", lambda x, xi, xb: np.array([1.0, 1.0]) + x, np.float32, [2.0, 3.0]),
    ("x + list", lambda x, xi, xb: x + [1.0, 2.0], np.float32, [2.0, 4.0]),
    ("xi + 2", lambda x, xi, xb: xi + 2, np.int64, [3, 4]),
    ("xi * 2.5", lambda x, xi, xb: xi * 2.5, np.float32, [2.5, 5.0]),
    ("xi / 2", lambda x, xi, xb: xi / 2, np.float32, [0.5, 1.0]),
    ("xi / xi", lambda x, xi, xb: xi / xi, np.float32, [1.0, 1.0]),
    ("xi + x", lambda x, xi, xb: xi + x, np.float32, [2.0, 4.0]),
    ("x * xb", lambda x, xi, xb: x * xb, np.float32, [1.0, 0.0]),
    ("xb + 1", lambda x, xi, xb: xb + 1, np.int64, [2, 1]),
    ("xb & xb via mul", lambda x, xi, xb: xb * True, np.bool_, [True, False]),
    ("x > 1", lambda x, xi, xb: x > 1, np.bool_, [False, True]),
    ("x == xi", lambda x, xi, xb: x == xi, np.bool_, [True, True]),
    ("x64 + 1.5", lambda x, xi, xb: x.double() + 1.5, np.float64, [2.5, 3.5]),
    ("x64 + x", lambda x, xi, xb: x.double() + x, np.float64, [2.0, 4.0]),
]


@pytest.mark.parametrize("name, expr, dtype, values", SCALAR_CASES,
                         ids=[c[0] for c in SCALAR_CASES])
def test_scalar_operands_and_promotion(name, expr, dtype, values):
    x, xi, xb = Tensor([1.0, 2.0]), Tensor([1, 2]), Tensor([True, False])
    out = expr(x, xi, xb)
    assert isinstance(out, Tensor)
    assert out.dtype == np.dtype(dtype)
    assert out.tolist() == values


# --------------------------------------------------------------- indexing

INDEXES = [
    ("int", 1),
    ("negative int", -1),
    ("int tuple", (1, 2)),
    ("negative tuple", (-2, -1, -3)),
    ("slice", slice(1, 3)),
    ("slice step", slice(None, None, 2)),
    ("reverse slice", slice(None, None, -1)),
    ("slice tuple", (slice(0, 2), slice(1, None), slice(None, None, -2))),
    ("ellipsis", (Ellipsis, 1)),
    ("ellipsis middle", (0, Ellipsis, 2)),
    ("None", None),
    ("None tuple", (None, 0, None)),
    ("int array", np.array([0, 2, 2])),
    ("negative int array", np.array([-1, 0, -3])),
    ("list", [2, 0]),
    ("int Tensor", Tensor([0, -1])),
    ("2-D int array", np.array([[0, 1], [2, 0]])),
    ("multi-axis arrays", (np.array([0, 1, 2]), np.array([3, 0, 3]))),
    ("arrays broadcast", (np.array([[0], [2]]), np.array([1, 3]))),
    ("array and slice", (slice(None), np.array([0, 0, 3]))),
    ("array after ellipsis", (Ellipsis, np.array([4, 0]))),
    ("empty list", []),
    ("bool mask rows", np.array([True, False, True])),
    ("bool mask full", "full-mask"),
    ("bool Tensor mask", Tensor([False, True, True])),
    ("bool list", [True, False, False]),
    ("bool mask and int", (np.array([True, False, True]), 2)),
    ("bool mask and slice", (slice(None), np.array([True, False, True, False]))),
    ("int Tensor scalar", Tensor(2)),
]


@pytest.mark.parametrize("name, index", INDEXES, ids=[n for n, _ in INDEXES])
def test_indexing_matches_numpy(name, index):
    a = make_inputs([(3, 4, 5)], "any")[0]
    if isinstance(index, str):  # a mask over the whole tensor
        index = a > 0
    t = Tensor(a)
    out = t[index]
    np_index = index.data if isinstance(index, Tensor) else index
    if isinstance(np_index, list) and not np_index:
        np_index = np.array([], dtype=np.intp)
    expected = a[np_index if not isinstance(np_index, list) else np.asarray(np_index)]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(tt.getitem(t, index).data, expected)


@pytest.mark.parametrize("index", [3, -4, (0, 4), (0, 0, 5), np.array([0, 3]), (Ellipsis, -6),
                                   np.array([True, False])])
def test_out_of_range_index_raises_index_error_naming_the_shape(index):
    t = Tensor(np.zeros((3, 4, 5), np.float32))
    with pytest.raises(IndexError, match=r"\(3, 4, 5\)"):
        t[index]


def test_float_index_array_is_rejected():
    with pytest.raises(IndexError, match="integer or bool"):
        Tensor([1.0, 2.0])[np.array([0.0])]


# ------------------------------------------------------ split and friends


@pytest.mark.parametrize("sizes, axis, expected", [
    (2, 0, [(2, 4), (2, 4), (1, 4)]),
    (5, 0, [(5, 4)]),
    (7, 0, [(5, 4)]),
    ([1, 3], 1, [(5, 1), (5, 3)]),
    ([0, 5], 0, [(0, 4), (5, 4)]),
    (3, -1, [(5, 3), (5, 1)]),
])
def test_split(sizes, axis, expected):
    a = np.arange(20, dtype=np.float32).reshape(5, 4)
    pieces = Tensor(a).split(sizes, axis)
    assert [p.shape for p in pieces] == expected
    np.testing.assert_array_equal(np.concatenate([p.data for p in pieces], axis=axis), a)
    pieces2 = tt.split(Tensor(a), sizes, axis=axis)
    assert all(np.array_equal(p.data, q.data) for p, q in zip(pieces, pieces2))


def test_split_concat_roundtrip_and_stack_unbind():
    a = make_inputs([(4, 6)], "any")[0]
    t = Tensor(a)
    np.testing.assert_array_equal(tt.concat(t.split([1, 2, 3], axis=1), axis=1).data, a)
    rows = list(t)
    np.testing.assert_array_equal(tt.stack(rows).data, a)
    np.testing.assert_array_equal(tt.stack(rows, axis=1).data, a.T)


def test_squeeze_unsqueeze_roundtrip_and_views():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = Tensor(a)
    u = t.unsqueeze(1).unsqueeze(-1)
    assert u.shape == (2, 1, 3, 1)
    assert u.squeeze().shape == (2, 3)
    assert u.squeeze(1).shape == (2, 3, 1)
    # reshape-like ops share memory with the input, as in PyTorch
    assert np.shares_memory(t.reshape(3, 2).data, a)
    assert np.shares_memory(t.T.data, a)
    assert np.shares_memory(t.expand(4, 2, 3).data, a)


# --------------------------------------------------- softmax stability


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_inputs(dtype):
    huge = np.array([[1000.0, 1001.0, 1002.0], [-1e4, -1e4, -1e4],
                     [3e38 if dtype == np.float32 else 1e300, 0.0, -1.0]], dtype=dtype)
    s = tt.softmax(Tensor(huge, dtype=dtype))
    ls = tt.log_softmax(Tensor(huge, dtype=dtype))
    assert np.all(np.isfinite(s.data)) and np.all(np.isfinite(ls.data))
    np.testing.assert_allclose(s.data[0], _softmax_ref(np.array([0.0, 1.0, 2.0]), -1),
                               rtol=1e-6)
    np.testing.assert_allclose(s.data[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(s.data[2], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(ls.data[0], _log_softmax_ref(np.array([0.0, 1.0, 2.0]), -1),
                               rtol=1e-6)
    np.testing.assert_allclose(s.data.sum(axis=-1), 1.0, rtol=1e-6)
    assert s.dtype == dtype and ls.dtype == dtype


def test_softmax_with_minus_inf_entries_gives_exact_zeros():
    x = Tensor([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]])
    s = tt.softmax(x)
    ls = tt.log_softmax(x)
    assert s.data[0, 0] == 0.0 and s.data[1, 1] == 0.0 and s.data[1, 2] == 0.0
    assert s.data[1, 0] == 1.0
    np.testing.assert_allclose(s.data[0, 1:], _softmax_ref(np.array([0.0, 1.0]), -1), rtol=1e-6)
    assert ls.data[0, 0] == -np.inf and ls.data[1, 0] == 0.0
    assert np.all(np.isfinite(ls.data[0, 1:]))
    assert not np.any(np.isnan(s.data)) and not np.any(np.isnan(ls.data))


def test_sigmoid_saturates_without_overflow():
    x = [-1e4, -100.0, 0.0, 100.0, 1e4]
    with np.errstate(over="raise", invalid="raise"):  # an overflow would be an error
        y32 = tt.sigmoid(Tensor(x))
        y64 = tt.sigmoid(Tensor(x, dtype="float64"))
    np.testing.assert_allclose(y64.data, [0.0, 3.720075976020836e-44, 0.5, 1.0, 1.0],
                               rtol=1e-12, atol=0)
    # float32: 3.7e-44 is a denormal, so only a few bits of it survive
    np.testing.assert_allclose(y32.data, y64.data, rtol=0.05, atol=0)
    assert y32.dtype == np.float32


# -------------------------------------------------------------------- gelu


def test_gelu_both_forms_match_their_formulas_in_float64():
    x = np.concatenate([np.linspace(-8, 8, 321), [-2.5, 2.5, -2.5000001, 2.5000001, 1e-8, 0]])
    t = Tensor(x, dtype="float64")
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    exact = 0.5 * x * _erfc(-x / np.sqrt(2))  # = x Phi(x), without 1 + erf cancelling
    np.testing.assert_allclose(tt.gelu(t).data, tanh_form, rtol=1e-12, atol=1e-15)
    # 1 + erf(x) cancels for x << 0 (PyTorch computes it the same way): the
    # accuracy there is absolute, about 1e-16 * |x|.
    np.testing.assert_allclose(tt.gelu(t, approximate="none").data, exact, rtol=1e-12,
                               atol=1e-14)
    # the two forms are different functions (close, not equal)
    diff = np.abs(tt.gelu(t).data - tt.gelu(t, approximate="none").data)
    assert 1e-5 < diff.max() < 1e-2


def test_gelu_exact_erf_is_accurate_everywhere():
    x = np.concatenate([np.linspace(-30, 30, 2001), [-np.inf, np.inf]])
    got = tt.gelu(Tensor(x[:-2], dtype="float64"), approximate="none").data
    np.testing.assert_allclose(got, 0.5 * x[:-2] * _erfc(-x[:-2] / np.sqrt(2)),
                               rtol=1e-12, atol=1e-14)
    assert tt.gelu(Tensor([np.inf], dtype="float64"), approximate="none").item() == np.inf


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        tt.gelu(Tensor([1.0]), approximate="erf")


# -------------------------------------------------------------- errors

ERRORS = [
    # (description, call, exception, words the message must contain)
    ("matmul inner", lambda: tt.zeros(2, 3) @ tt.zeros(4, 5), ValueError, ["(2, 3)", "(4, 5)"]),
    ("matmul 1-D", lambda: tt.zeros(3) @ tt.zeros(4), ValueError, ["(3,)", "(4,)"]),
    ("matmul batch", lambda: tt.zeros(2, 3, 4) @ tt.zeros(5, 4, 2), ValueError,
     ["(2,)", "(5,)"]),
    ("matmul 0-d", lambda: tt.matmul(Tensor(1.0), tt.zeros(2)), ValueError, ["()", "(2,)"]),
    ("add broadcast", lambda: tt.zeros(2, 3) + tt.zeros(4), ValueError, ["(2, 3)", "(4,)"]),
    ("mul broadcast", lambda: tt.zeros(2, 3) * tt.zeros(3, 2), ValueError, ["(2, 3)", "(3, 2)"]),
    ("gt broadcast", lambda: tt.zeros(2) > tt.zeros(3), ValueError, ["(2,)", "(3,)"]),
    ("where broadcast", lambda: tt.where(np.ones(3, bool), tt.zeros(2), 0.0), ValueError,
     ["(3,)", "(2,)"]),
    ("reshape", lambda: tt.zeros(2, 3).reshape(4, 2), ValueError, ["(2, 3)", "(4, 2)"]),
    ("reshape -1", lambda: tt.zeros(2, 3).reshape(4, -1), ValueError, ["(2, 3)", "(4, -1)"]),
    ("reshape two -1", lambda: tt.zeros(2, 3).reshape(-1, -1), ValueError, ["-1"]),
    ("concat", lambda: tt.concat([tt.zeros(2, 3), tt.zeros(2, 4)]), ValueError,
     ["(2, 3)", "(2, 4)"]),
    ("concat ndim", lambda: tt.concat([tt.zeros(2, 3), tt.zeros(3)]), ValueError,
     ["(2, 3)", "(3,)"]),
    ("concat empty list", lambda: tt.concat([]), ValueError, ["at least one"]),
    ("concat 0-d", lambda: tt.concat([Tensor(1.0), Tensor(2.0)]), ValueError, ["zero-dim"]),
    ("stack", lambda: tt.stack([tt.zeros(2, 3), tt.zeros(3, 2)]), ValueError,
     ["(2, 3)", "(3, 2)"]),
    ("broadcast_to", lambda: tt.zeros(2, 3).broadcast_to(4, 3), ValueError,
     ["(2, 3)", "(4, 3)"]),
    ("broadcast_to fewer dims", lambda: tt.zeros(2, 3).broadcast_to(3), ValueError,
     ["(2, 3)", "(3,)"]),
    ("expand", lambda: tt.zeros(2, 3).expand(3), ValueError, ["(3,)", "(2, 3)"]),
    ("squeeze non-1", lambda: tt.zeros(2, 1).squeeze(0), ValueError, ["(2, 1)", "size 2"]),
    ("permute", lambda: tt.zeros(2, 3).permute(0, 0), ValueError, ["(0, 0)", "(2, 3)"]),
    ("permute out of range", lambda: tt.zeros(2, 3).permute(0, 3), ValueError, ["(0, 3)"]),
    ("transpose 1-D", lambda: tt.zeros(3).transpose(), ValueError, ["(3,)"]),
    ("split sizes", lambda: tt.zeros(5, 2).split([2, 2]), ValueError, ["[2, 2]", "(5, 2)"]),
    ("split zero", lambda: tt.zeros(5).split(0), ValueError, ["positive"]),
    ("flatten order", lambda: tt.zeros(2, 3, 4).flatten(2, 1), ValueError, ["start_dim"]),
    ("axis range", lambda: tt.zeros(2, 3).sum(axis=2), IndexError, ["axis 2", "2 dims"]),
    ("axis negative range", lambda: tt.zeros(2, 3).mean(axis=-3), IndexError, ["axis -3"]),
    ("axis repeated", lambda: tt.zeros(2, 3).sum(axis=(0, -2)), ValueError, ["repeated"]),
    ("axis type", lambda: tt.zeros(2, 3).sum(axis=1.0), TypeError, ["axis"]),
    ("max of empty", lambda: tt.zeros(0, 3).max(), ValueError, ["empty", "(0, 3)"]),
    ("argmax of empty", lambda: tt.zeros(0).argmax(), ValueError, ["empty"]),
    ("var correction", lambda: tt.zeros(3).var(correction=-1), ValueError, ["correction"]),
    ("clip no bounds", lambda: tt.zeros(3).clip(), ValueError, ["min", "max"]),
    ("clip order", lambda: tt.zeros(3).clip(1.0, 0.0), ValueError, ["greater"]),
    ("where condition dtype", lambda: tt.where(np.ones(3), tt.zeros(3), 0.0), TypeError,
     ["bool"]),
    ("astype non-numeric", lambda: tt.zeros(3).astype("U1"), TypeError, ["numeric"]),
    ("shape entry type", lambda: tt.zeros(6).reshape(2.0, 3), TypeError, ["ints"]),
]


@pytest.mark.parametrize("desc, call, exc, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_the_problem(desc, call, exc, words):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{desc}: {w!r} not in {msg!r}"


@pytest.mark.parametrize("dims, axes", [((1, 0, 2), (1, 0, 2)), ((-1, 0, 1), (2, 0, 1)),
                                        ((np.int64(2), 1, 0), (2, 1, 0))])
def test_permute_accepts_negative_and_numpy_dims(dims, axes):
    x = tt.Tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(x.permute(*dims).data, x.data.transpose(axes))


@pytest.mark.parametrize("dims, error", [((0, 1), ValueError), ((0, 1, 1), ValueError),
                                         ((0, 1, -4), ValueError), ((0, 1, True), TypeError),
                                         ((0, 1, 2.0), TypeError)])
def test_permute_rejects_what_is_not_a_permutation(dims, error):
    with pytest.raises(error):
        tt.Tensor(np.zeros((2, 3, 4))).permute(*dims)
