"""Forward values and gradients of every differentiable primitive vs PyTorch.

float64 throughout, tolerance 1e-10. Each case is (primitive, description,
tinytorch function, torch function, input shapes, input domain); both
functions get the same input values, both outputs are reduced with the same
random projection ``sum(out * v)`` and backpropagated, and the outputs and
every input gradient are compared. Ties (max/min, maximum/minimum) are
included on purpose: both libraries split the gradient equally.
"""

import pytest

torch = pytest.importorskip("torch")

from typing import NamedTuple  # noqa: E402

import numpy as np  # noqa: E402

import tinytorch.tensor as tt  # noqa: E402
from tinytorch.tensor import Tensor, testing  # noqa: E402

F = torch.nn.functional
RTOL = ATOL = 1e-10


class Case(NamedTuple):
    prim: str
    desc: str
    tt_fn: object
    torch_fn: object
    shapes: tuple
    domain: str = "any"  # a key of tinytorch.tensor.testing.DOMAINS


def _dims(axis, ndim):
    """tinytorch axis (None = all) -> a torch dim tuple."""
    if axis is None:
        return tuple(range(ndim))
    return axis if isinstance(axis, tuple) else (axis,)


def _torch_index(index):
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    return index


CASES: list[Case] = []

BINARY = [
    ("add", lambda a, b: a + b, torch.add, "any"),
    ("sub", lambda a, b: a - b, torch.sub, "any"),
    ("mul", lambda a, b: a * b, torch.mul, "any"),
    ("div", lambda a, b: a / b, torch.div, "pos"),
    ("pow", lambda a, b: a ** b, torch.pow, "pos"),
    ("maximum", tt.maximum, torch.maximum, "any"),
    ("minimum", tt.minimum, torch.minimum, "any"),
    ("maximum", tt.maximum, torch.maximum, "int"),
    ("minimum", tt.minimum, torch.minimum, "int"),
]
for prim, f, g, domain in BINARY:
    for shapes in testing.BROADCAST_SHAPES:
        CASES.append(Case(prim, f"{domain} {'x'.join(map(str, shapes))}", f, g, shapes, domain))
CASES += [
    Case("pow", "scalar exponent", lambda a: a ** 3, lambda a: a ** 3, ((2, 3),)),
    Case("pow", "scalar base", lambda a: 2.0 ** a, lambda a: 2.0 ** a, ((2, 3),)),
    Case("pow", "zero base", lambda a, b: (a * 0.0) ** b, lambda a, b: (a * 0.0) ** b,
         ((4,), (4,)), "pos"),
    Case("div", "scalar numerator", lambda a: 1.0 / a, lambda a: 1.0 / a, ((4,),), "pos"),
]

UNARY = [
    ("neg", lambda a: -a, torch.neg, "any"),
    ("exp", tt.exp, torch.exp, "any"),
    ("log", tt.log, torch.log, "pos"),
    ("sqrt", tt.sqrt, torch.sqrt, "pos"),
    ("abs", tt.abs, torch.abs, "any"),
    ("abs", tt.abs, torch.abs, "int"),  # abs'(0) = 0 in both
    ("clip", lambda a: a.clip(-0.5, 0.7), lambda a: torch.clamp(a, -0.5, 0.7), "any"),
    ("clip", lambda a: a.clip(-1.0, 1.0), lambda a: torch.clamp(a, -1.0, 1.0), "int"),
    ("clip", lambda a: a.clip(min=0.0), lambda a: torch.clamp(a, min=0.0), "int"),
    ("clone", tt.clone, torch.clone, "any"),
    ("astype", lambda a: a.astype("float64"), lambda a: a.to(torch.float64), "any"),
    ("relu", tt.relu, torch.relu, "any"),
    ("relu", tt.relu, torch.relu, "int"),  # relu'(0) = 0 in both
    ("sigmoid", tt.sigmoid, torch.sigmoid, "any"),
    ("tanh", tt.tanh, torch.tanh, "any"),
    ("gelu", lambda a: a.gelu("none"), F.gelu, "any"),
    ("gelu", lambda a: a.gelu("tanh"), lambda a: F.gelu(a, approximate="tanh"), "any"),
]
for prim, f, g, domain in UNARY:
    for shape in testing.UNARY_SHAPES:
        CASES.append(Case(prim, f"{domain} {shape}", f, g, (shape,), domain))
CASES += [
    Case("gelu", "exact, wide range", lambda a: tt.gelu(a * 5.0, "none"),
         lambda a: F.gelu(a * 5.0), ((50,),)),
    Case("gelu", "tanh, wide range", lambda a: tt.gelu(a * 5.0, "tanh"),
         lambda a: F.gelu(a * 5.0, approximate="tanh"), ((50,),)),
    Case("sigmoid", "saturated", lambda a: tt.sigmoid(a * 30.0),
         lambda a: torch.sigmoid(a * 30.0), ((20,),)),
]

for axis in (0, 1, 2, -1):
    CASES.append(Case("softmax", f"axis={axis}", lambda a, ax=axis: a.softmax(ax),
                      lambda a, ax=axis: torch.softmax(a, ax), ((2, 3, 4),)))
    CASES.append(Case("log_softmax", f"axis={axis}", lambda a, ax=axis: a.log_softmax(ax),
                      lambda a, ax=axis: torch.log_softmax(a, ax), ((2, 3, 4),)))
CASES += [
    Case("softmax", "huge logits", lambda a: (a * 1e3).softmax(),
         lambda a: torch.softmax(a * 1e3, -1), ((3, 5),)),
    Case("log_softmax", "huge logits", lambda a: (a * 1e3).log_softmax(),
         lambda a: torch.log_softmax(a * 1e3, -1), ((3, 5),)),
]

# torch reads dim=() as every dim, NumPy and tinytorch as none: () is left out
for axis in (a for a in testing.REDUCTION_AXES if a != ()):
    for keepdims in (False, True):
        d = f"axis={axis} keepdims={keepdims}"
        for prim, f, g in [
            ("sum", tt.sum, lambda a, ax, k: torch.sum(a, dim=_dims(ax, a.ndim), keepdim=k)),
            ("mean", tt.mean, lambda a, ax, k: torch.mean(a, dim=_dims(ax, a.ndim), keepdim=k)),
            ("max", tt.max, lambda a, ax, k: torch.amax(a, dim=_dims(ax, a.ndim), keepdim=k)),
            ("min", tt.min, lambda a, ax, k: torch.amin(a, dim=_dims(ax, a.ndim), keepdim=k)),
            ("var", tt.var, lambda a, ax, k: torch.var(a, dim=_dims(ax, a.ndim), keepdim=k)),
        ]:
            CASES.append(Case(prim, d, lambda a, f=f, ax=axis, k=keepdims: f(a, ax, k),
                              lambda a, g=g, ax=axis, k=keepdims: g(a, ax, k), ((2, 3, 4),)))
        for prim, f, g in [
            ("max", tt.max, lambda a, ax, k: torch.amax(a, dim=_dims(ax, a.ndim), keepdim=k)),
            ("min", tt.min, lambda a, ax, k: torch.amin(a, dim=_dims(ax, a.ndim), keepdim=k)),
        ]:
            CASES.append(Case(prim, "ties " + d, lambda a, f=f, ax=axis, k=keepdims: f(a, ax, k),
                              lambda a, g=g, ax=axis, k=keepdims: g(a, ax, k), ((2, 3, 4),),
                              "int"))
CASES += [
    Case("var", "correction=0", lambda a: a.var(1, correction=0),
         lambda a: torch.var(a, 1, correction=0), ((3, 5),)),
    Case("var", "torch.var default", lambda a: a.var(), lambda a: torch.var(a), ((3, 5),)),
    Case("var", "std", lambda a: a.std(0), lambda a: torch.std(a, 0), ((4, 3),)),
    Case("sum", "0-d", tt.sum, torch.sum, ((),)),
]

for shapes in testing.MATMUL_SHAPES:
    CASES.append(Case("matmul", " @ ".join(map(str, shapes)), tt.matmul, torch.matmul, shapes))

CASES += [
    Case("reshape", "reshape", lambda a: a.reshape(4, 6), lambda a: a.reshape(4, 6),
         ((2, 3, 4),)),
    Case("reshape", "unsqueeze/squeeze", lambda a: a.unsqueeze(1).squeeze(-1),
         lambda a: a.unsqueeze(1).squeeze(-1), ((3, 1),)),
    Case("reshape", "flatten", lambda a: a.flatten(1), lambda a: a.flatten(1), ((2, 3, 4),)),
    Case("permute", "permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1),
         ((2, 3, 4),)),
    Case("permute", "transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2),
         ((2, 3, 4),)),
    Case("broadcast_to", "expand", lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4),
         ((3, 1),)),
    Case("broadcast_to", "broadcast_to", lambda a: a.broadcast_to(4, 3),
         lambda a: torch.broadcast_to(a, (4, 3)), ((3,),)),
    Case("concat", "axis 1", lambda a, b: tt.concat([a, b], 1),
         lambda a, b: torch.cat([a, b], 1), ((2, 3), (2, 2))),
    Case("stack", "axis -1", lambda a, b: tt.stack([a, b], -1),
         lambda a, b: torch.stack([a, b], -1), ((2, 3), (2, 3))),
    Case("where", "broadcast", lambda a, b: tt.where(a.data > 0, a, b),
         lambda a, b: torch.where(a > 0, a, b), ((3, 4), (4,))),
]

GETITEM = [
    ("int", 1),
    ("slice", (slice(None), slice(1, 3))),
    ("negative step", (slice(None, None, 2), -1)),
    ("ellipsis None", (Ellipsis, None, 2)),
    ("duplicates", np.array([0, 2, 0, 0])),
    ("negative duplicates", np.array([-1, 1, -1])),
    ("2-D int", np.array([[0, 1], [1, 1]])),
    ("multi-axis duplicates", (np.array([0, 1, 0, 0]), np.array([2, 3, 2, 2]))),
    ("multi-axis broadcast", (np.array([[0], [2]]), np.array([1, 1, 3]))),
    ("array and slice", (slice(None), np.array([3, 0, 3]))),
    ("bool mask", np.array([True, False, True])),
    ("bool mask and int", (np.array([True, False, True]), 1)),
]
for desc, index in GETITEM:
    CASES.append(Case("getitem", desc, lambda a, i=index: a[i],
                      lambda a, i=index: a[_torch_index(i)], ((3, 4),)))
CASES.append(Case("getitem", "full bool mask", lambda a: a[a.data > 0], lambda a: a[a > 0],
                  ((3, 4),)))


def _id(c: Case) -> str:
    return f"{c.prim}-{c.desc}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_forward_and_gradients_match_torch(case):
    arrays = testing.random_arrays(case.shapes, case.domain)
    ours = [Tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]

    out = case.tt_fn(*ours)
    ref = case.torch_fn(*theirs)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)

    v = np.random.default_rng(1).standard_normal(out.shape)
    (out * Tensor(v, dtype=np.float64)).sum().backward()
    (ref * torch.from_numpy(v)).sum().backward()
    for i, (t, r) in enumerate(zip(ours, theirs)):
        expected = r.grad.numpy() if r.grad is not None else np.zeros(r.shape)
        got = t.grad.data if t.grad is not None else np.zeros(t.shape)
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL,
                                   err_msg=f"gradient of input {i}")


def test_table_covers_every_differentiable_primitive():
    differentiable = {n for n, p in tt.PRIMITIVES.items() if p.differentiable}
    assert {c.prim for c in CASES} == differentiable


def test_mlp_training_step_matches_torch():
    """A whole step (linear, relu, cross-entropy by log_softmax + indexing)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    labels = rng.integers(0, 3, 8)
    params = [rng.standard_normal((5, 4)), rng.standard_normal(4),
              rng.standard_normal((4, 3)), rng.standard_normal(3)]
    ours = [Tensor(p, dtype=np.float64, requires_grad=True) for p in params]
    theirs = [torch.tensor(p, requires_grad=True) for p in params]

    W1, b1, W2, b2 = ours
    y = tt.relu(Tensor(x, dtype=np.float64) @ W1 + b1) @ W2 + b2
    loss = -y.log_softmax()[np.arange(8), labels].mean()
    loss.backward()
    tW1, tb1, tW2, tb2 = theirs
    ty = torch.relu(torch.from_numpy(x) @ tW1 + tb1) @ tW2 + tb2
    tloss = F.cross_entropy(ty, torch.from_numpy(labels))
    tloss.backward()

    assert abs(loss.item() - tloss.item()) < 1e-12
    for t, r in zip(ours, theirs):
        np.testing.assert_allclose(t.grad.data, r.grad.numpy(), rtol=RTOL, atol=ATOL)
