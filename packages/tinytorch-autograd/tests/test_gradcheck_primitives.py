"""Every differentiable primitive's backward rule, checked numerically.

One table, ``CASES``: (primitive, description, function of float64 tensors,
input shapes, input domain). Each case runs ``gradcheck`` (central
differences against the analytic backward, through a random projection of
the output) and also checks that the function really dispatched the
primitive it is listed under. A final test asserts that the table covers
every differentiable primitive of ``tinytorch.tensor``.
"""

from typing import NamedTuple

import numpy as np
import pytest

import tinytorch.autograd as ag
import tinytorch.tensor as tt
from tinytorch.tensor import Tensor, testing


class Case(NamedTuple):
    prim: str  # the primitive under test (a key of tt.PRIMITIVES)
    desc: str
    fn: object  # (*Tensors) -> Tensor
    shapes: tuple
    domain: str = "any"  # any | pos (0.5..2) | away (|x| in 0.2..2: no kink near 0)


def make_inputs(shapes, domain, seed=0):
    """float64 leaf tensors that require grad, drawn by ``testing.random_arrays``."""
    return [Tensor(a, dtype=np.float64, requires_grad=True)
            for a in testing.random_arrays(shapes, domain, seed)]


CASES: list[Case] = []

# ------------------------------------------------ binary, with broadcasting
BINARY = [
    ("add", lambda a, b: a + b, "any"),
    ("sub", lambda a, b: a - b, "any"),
    ("mul", lambda a, b: a * b, "any"),
    ("div", lambda a, b: a / b, "pos"),
    ("pow", lambda a, b: a ** b, "pos"),
    ("maximum", tt.maximum, "any"),
    ("minimum", tt.minimum, "any"),
]
for prim, fn, domain in BINARY:
    for shapes in testing.BROADCAST_SHAPES:
        CASES.append(Case(prim, "x".join(map(str, shapes)), fn, shapes, domain))
CASES += [
    Case("add", "scalar operand", lambda a: 2.5 + a, ((3,),)),
    Case("sub", "reflected scalar", lambda a: 1.0 - a, ((3,),)),
    Case("mul", "same tensor twice", lambda a: a * a, ((3, 2),)),
    Case("div", "scalar numerator", lambda a: 1.0 / a, ((4,),), "pos"),
    Case("pow", "constant exponent", lambda a: a ** 3, ((2, 3),), "any"),
    Case("pow", "fractional exponent", lambda a: a ** 0.5, ((2, 3),), "pos"),
    Case("pow", "scalar base", lambda a: 2.0 ** a, ((2, 3),), "any"),
    Case("pow", "negative base, integer exponent", lambda a: a ** 2.0, ((5,),), "away"),
]

# ------------------------------------------------------------------- unary
UNARY = [
    ("neg", lambda a: -a, "any"),
    ("exp", tt.exp, "any"),
    ("log", tt.log, "pos"),
    ("sqrt", tt.sqrt, "pos"),
    ("abs", tt.abs, "away"),
    ("clip", lambda a: a.clip(-1.0, 1.0), "away"),
    ("clone", tt.clone, "any"),
    ("astype", lambda a: a.astype("float64"), "any"),
    ("relu", tt.relu, "away"),
    ("sigmoid", tt.sigmoid, "any"),
    ("tanh", tt.tanh, "any"),
    ("gelu", lambda a: a.gelu(approximate="tanh"), "any"),
    ("gelu", lambda a: a.gelu(approximate="none"), "any"),
]
for prim, fn, domain in UNARY:
    for shape in testing.UNARY_SHAPES:
        CASES.append(Case(prim, f"{shape}", fn, (shape,), domain))
CASES += [
    Case("clip", "min only", lambda a: a.clip(min=0.5), ((4, 3),), "away"),
    Case("clip", "max only", lambda a: a.clip(max=-0.5), ((4, 3),), "away"),
    Case("gelu", "wide range tanh", lambda a: tt.gelu(a * 4.0), ((20,),)),
    Case("gelu", "wide range exact", lambda a: tt.gelu(a * 4.0, "none"), ((20,),)),
    Case("sigmoid", "large inputs", lambda a: tt.sigmoid(a * 20.0), ((10,),)),
]

# -------------------------------------------- softmax family, every axis
for prim, fn in (("softmax", tt.softmax), ("log_softmax", tt.log_softmax)):
    for axis in (0, 1, 2, -1, -2):
        CASES.append(Case(prim, f"axis={axis}", lambda a, f=fn, ax=axis: f(a, ax),
                          ((2, 3, 4),)))
    CASES += [
        Case(prim, "1-D", fn, ((6,),)),
        Case(prim, "size-1 axis", fn, ((3, 1),)),
        Case(prim, "empty batch", fn, ((0, 4),)),
        Case(prim, "huge logits", lambda a, f=fn: f(a * 1e3 + 1e4), ((2, 3),)),
    ]

# ------------------------- reductions: every axis form, keepdims both ways
REDUCTIONS = [
    ("sum", tt.sum),
    ("mean", tt.mean),
    ("max", tt.max),
    ("min", tt.min),
    ("var", tt.var),
]
for prim, fn in REDUCTIONS:
    for axis in testing.REDUCTION_AXES:
        if prim == "var" and axis == ():  # over no dim: N - 1 = 0 values, nan
            continue
        for keepdims in (False, True):
            CASES.append(Case(prim, f"axis={axis} keepdims={keepdims}",
                              lambda a, f=fn, ax=axis, k=keepdims: f(a, axis=ax, keepdims=k),
                              ((2, 3, 4),)))
CASES += [
    Case("sum", "0-d", tt.sum, ((),)),
    Case("mean", "0-d", tt.mean, ((),)),
    Case("max", "0-d", tt.max, ((),)),
    Case("sum", "empty batch", lambda a: a.sum(axis=1), ((0, 3),)),
    Case("mean", "empty batch", lambda a: a.mean(axis=1), ((0, 3),)),
    Case("max", "empty batch", lambda a: a.max(axis=1), ((0, 3),)),
    Case("sum", "size-1 dims", lambda a: a.sum(axis=(0, 2)), ((1, 3, 1),)),
    Case("mean", "size-1 axis", lambda a: a.mean(axis=1, keepdims=True), ((3, 1),)),
    Case("var", "correction=0", lambda a: a.var(axis=1, correction=0), ((3, 5),)),
    Case("var", "correction=2", lambda a: a.var(correction=2), ((3, 5),)),
    Case("var", "std", lambda a: a.std(axis=0), ((4, 3),)),
]

# ----------------------------------------------------------------- matmul
for shapes in testing.MATMUL_SHAPES:
    CASES.append(Case("matmul", " @ ".join(map(str, shapes)), tt.matmul, shapes))
CASES.append(Case("matmul", "x @ x.T", lambda a: a @ a.T, ((3, 4),)))

# ------------------------------------------------------------- shape ops
CASES += [
    Case("reshape", "reshape", lambda a: a.reshape(4, 6), ((2, 3, 4),)),
    Case("reshape", "-1", lambda a: a.reshape(-1), ((2, 3, 4),)),
    Case("reshape", "squeeze", lambda a: a.squeeze(), ((1, 3, 1),)),
    Case("reshape", "unsqueeze", lambda a: a.unsqueeze(1), ((2, 3),)),
    Case("reshape", "flatten", lambda a: a.flatten(1), ((2, 3, 4),)),
    Case("reshape", "to 0-d", lambda a: a.reshape(()), ((1,),)),
    Case("permute", "permute", lambda a: a.permute(2, 0, 1), ((2, 3, 4),)),
    Case("permute", "transpose", lambda a: a.transpose(0, 2), ((2, 3, 4),)),
    Case("permute", ".T", lambda a: a.T, ((3, 4),)),
    Case("broadcast_to", "new dims", lambda a: a.broadcast_to(2, 3, 4), ((3, 1),)),
    Case("broadcast_to", "0-d", lambda a: a.broadcast_to(3, 2), ((),)),
    Case("broadcast_to", "expand", lambda a: a.expand(-1, 5), ((3, 1),)),
    Case("concat", "axis 0", lambda a, b: tt.concat([a, b]), ((2, 3), (4, 3))),
    Case("concat", "axis -1", lambda a, b: tt.concat([a, b], -1), ((2, 3), (2, 1))),
    Case("concat", "same tensor twice", lambda a: tt.concat([a, a * 2.0], 1), ((2, 3),)),
    Case("concat", "empty piece", lambda a, b: tt.concat([a, b]), ((0, 3), (2, 3))),
    Case("stack", "axis 0", lambda a, b: tt.stack([a, b]), ((2, 3), (2, 3))),
    Case("stack", "axis -1", lambda a, b, c: tt.stack([a, b, c], -1),
         ((2, 3), (2, 3), (2, 3))),
    Case("stack", "0-d", lambda a, b: tt.stack([a, b]), ((), ())),
    Case("where", "same shapes", lambda a, b: tt.where(a.data > 0, a, b), ((3, 4), (3, 4))),
    Case("where", "broadcast", lambda a, b: tt.where(np.array([True, False, True]), a, b),
         ((2, 1), ())),
    Case("where", "scalar branch", lambda a: tt.where(a.data > 0, a, 0.0), ((3, 4),)),
]

# --------------------------------------------------------------- indexing
GETITEM = [
    ("int", 1),
    ("negative int", -1),
    ("slice", slice(1, 3)),
    ("reverse slice", (slice(None), slice(None, None, -1))),
    ("ellipsis", (Ellipsis, 2)),
    ("None", (None, 0)),
    ("duplicate int array", np.array([0, 0, 2, 0])),
    ("negative duplicate array", np.array([-1, 2, -1])),
    ("int list", [1, 1]),
    ("int Tensor", Tensor([2, 0, 2])),
    ("2-D int array", np.array([[0, 1], [1, 1]])),
    ("multi-axis duplicates", (np.array([0, 1, 0, 0]), np.array([2, 3, 2, 2]))),
    ("multi-axis broadcast", (np.array([[0], [2]]), np.array([1, 1, 3]))),
    ("array then slice", (np.array([2, 2]), slice(1, 3))),
    ("slice then array", (slice(None), np.array([3, 0, 3]))),
    ("ellipsis then array", (Ellipsis, np.array([1, 1]))),
    ("empty int index", []),
    ("bool mask rows", np.array([True, False, True])),
    ("bool mask full", "full-mask"),
    ("bool mask and int", (np.array([True, False, True]), 1)),
    ("bool Tensor mask", (slice(None), Tensor([True, False, False, True]))),
]
for desc, index in GETITEM:
    def fn(a, index=index):
        return a[a.data > 0] if isinstance(index, str) else a[index]
    CASES.append(Case("getitem", desc, fn, ((3, 4),)))
CASES += [
    Case("getitem", "row gather with duplicates, 3-D", lambda a: a[np.array([[1, 1], [0, 1]])],
         ((3, 2, 2),)),
    Case("getitem", "split", lambda a: tt.stack(a.split(2, axis=1)[:2]), ((3, 5),)),
    Case("getitem", "label picking", lambda a: a[np.arange(4), np.array([2, 0, 2, 1])],
         ((4, 3),)),
]


def _id(c: Case) -> str:
    return f"{c.prim}-{c.desc}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_gradcheck(case):
    inputs = make_inputs(case.shapes, case.domain)
    seen = set()
    with tt.hooks(lambda op, *rest: seen.add(op.name)):
        out = case.fn(*inputs)
    assert case.prim in seen, f"{_id(case)} does not dispatch {case.prim} (saw {seen})"
    assert out.requires_grad and out.grad_fn is not None
    assert ag.gradcheck(case.fn, inputs)
    for t in inputs:
        if t.grad is not None:
            assert t.grad.shape == t.shape and t.grad.dtype == np.float64


def test_table_covers_every_differentiable_primitive():
    differentiable = {n for n, p in tt.PRIMITIVES.items() if p.differentiable}
    covered = {c.prim for c in CASES}
    assert covered == differentiable, (
        f"missing: {sorted(differentiable - covered)}, unknown: {sorted(covered - differentiable)}"
    )


def test_every_differentiable_primitive_has_a_rule():
    assert ag.missing_rules() == []
    for name, prim in tt.PRIMITIVES.items():
        assert (ag.get_backward(prim) is not None) == prim.differentiable, name


# ----------------------------------------------- gradient dtype and shape

FLOAT32_FNS = [
    ("broadcast add", lambda a, b: a + b[0]),
    ("mul/div", lambda a, b: (a * b) / (b * b + 1.0)),
    ("pow both", lambda a, b: (a * a + 1.0) ** (b * 0.1)),
    ("maximum/minimum", lambda a, b: tt.maximum(a, b) + tt.minimum(a, 0.0)),
    ("reductions", lambda a, b: a.max(0) + a.min(1, keepdims=True).sum() + a.var(0) + b.mean()),
    ("activations", lambda a, b: a.gelu() + b.gelu("none") + a.sigmoid() + b.tanh() + a.relu()),
    ("softmax family", lambda a, b: a.softmax(0) * b.log_softmax(-1)),
    ("matmul", lambda a, b: a @ b.T),
    ("indexing", lambda a, b: a[[0, 0, 2]] + b[b.data > 0].sum() + a[:, 1:2]),
    ("shape ops", lambda a, b: tt.concat([a, b], 1).reshape(-1)[:3] + tt.stack([a, b]).sum()),
    ("where/clip/abs", lambda a, b: tt.where(a.data > 0, a.clip(-0.5, 0.5), b.abs())),
    ("exp/log/sqrt", lambda a, b: (a.exp() + 1.0).log() * (b * b + 1.0).sqrt()),
    ("astype round trip", lambda a, b: (a.double() * b.double()).astype(a.dtype)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, fn", FLOAT32_FNS, ids=[n for n, _ in FLOAT32_FNS])
def test_every_gradient_keeps_shape_and_dtype(name, fn, dtype):
    """Leaf grads and every gradient a rule hands back have the input's dtype
    and shape (a float64 gradient inside a float32 graph would double the cost)."""
    rng = np.random.default_rng(1)
    a = Tensor(rng.standard_normal((3, 4)), dtype=dtype, requires_grad=True)
    b = Tensor(rng.standard_normal((3, 4)), dtype=dtype, requires_grad=True)
    wrong = []

    def post(node, grads):
        for inp, gi in zip(node.inputs, grads):
            if gi is not None and (gi.dtype != inp.dtype or gi.shape != inp.shape):
                wrong.append((node.name, gi.dtype, inp.dtype, gi.shape, inp.shape))

    with ag.register_backward_hook(post):
        out = fn(a, b)
        assert out.dtype == dtype
        out.sum().backward()
    assert wrong == []
    for t in (a, b):
        assert t.grad is not None and t.grad.dtype == dtype and t.grad.shape == t.shape
        assert np.all(np.isfinite(t.grad.data))
