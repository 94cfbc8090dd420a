"""tinytorch and PyTorch called with the SAME keyword arguments agree.

One table per namespace (``tinytorch.tensor`` and ``Tensor`` methods,
``tinytorch.nn.functional``, ``tinytorch.transformers.functional``). Each row
names the two callables and ONE keyword dict passed unchanged to both, so a
keyword tinytorch spells differently from PyTorch (``axis`` for ``dim``,
``keepdims`` for ``keepdim``, ``rng`` for ``generator``...) fails here as a
TypeError. Values are compared in float64, and so are the gradients of
``sum(out * w)`` for a fixed random ``w`` wherever the op is differentiable.

Deliberate differences are named where they are used: ``max``/``min`` with a
dim return the values only (PyTorch's ``amax``/``amin``; ``torch.max(x,
dim)`` also returns indices), and ``scaled_dot_product_attention`` returns
``(output, weights)`` where PyTorch returns the output.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

import tinytorch.autograd  # noqa: E402, F401  (enables autograd)
import tinytorch.tensor as tt  # noqa: E402
from tinytorch import nn  # noqa: E402
from tinytorch.nn import functional as F  # noqa: E402
from tinytorch.tensor import Tensor  # noqa: E402
from tinytorch.transformers import functional as TF  # noqa: E402

TF_TORCH = torch.nn.functional


@dataclass
class Case:
    name: str
    ours: Callable
    theirs: Callable
    kwargs: dict
    inputs: Callable  # rng -> list of ndarrays (float64 arrays get gradients)
    grad: bool = True
    pick: Callable = field(default=lambda out: out)  # our output -> the comparable tensor


def _x(*shape):
    return lambda rng: [rng.standard_normal(shape)]


def _ties(*shape):
    # Few distinct values: ties exercise the gradient split of max/min.
    return lambda rng: [rng.integers(-2, 3, size=shape).astype(np.float64)]


def _method(name):
    return lambda x, **kw: getattr(x, name)(**kw)


# ------------------------------------------------------ tinytorch.tensor ops

TENSOR_CASES: list[Case] = []
REDUCTIONS = [
    ("sum", tt.sum, torch.sum),
    ("mean", tt.mean, torch.mean),
    ("max", tt.max, torch.amax),  # values only, as torch.amax (see the module docstring)
    ("min", tt.min, torch.amin),
]
for name, ours, theirs in REDUCTIONS:
    for kw in ({}, {"dim": 1}, {"dim": -1, "keepdim": True}, {"dim": (0, 2)},
               {"dim": (0, 2), "keepdim": True}):
        if not kw and name in ("max", "min"):
            kw = {"dim": (0, 1, 2)}  # torch.amax needs a dim; all dims is max of all
        TENSOR_CASES.append(Case(f"{name} {kw}", ours, theirs, kw, _x(2, 3, 4)))
        TENSOR_CASES.append(Case(f"Tensor.{name} {kw}", _method(name), _method(name)
                                 if name in ("sum", "mean") else theirs, kw, _x(2, 3, 4)))
for name, ours in (("max", tt.max), ("min", tt.min)):
    for kw in ({"dim": 1}, {"dim": 0, "keepdim": True}):
        # torch.max(x, dim) returns (values, indices): compare the values.
        TENSOR_CASES.append(Case(f"{name} {kw} vs torch.{name}().values", ours,
                                 lambda x, n=name, **k: getattr(torch, n)(x, **k).values,
                                 kw, _x(3, 5)))
    TENSOR_CASES.append(Case(f"{name} ties", ours, getattr(torch, f"a{name}"),
                             {"dim": 1, "keepdim": True}, _ties(4, 6)))
for name, ours, theirs in (("var", tt.var, torch.var), ("std", tt.std, torch.std)):
    for kw in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": 1, "correction": 0},
               {"dim": (0, 1), "correction": 2}, {"dim": 1, "unbiased": False},
               {"dim": -1, "unbiased": True, "keepdim": True}):
        TENSOR_CASES.append(Case(f"{name} {kw}", ours, theirs, kw, _x(4, 5)))
        TENSOR_CASES.append(Case(f"Tensor.{name} {kw}", _method(name), _method(name), kw,
                                 _x(4, 5)))
for name, ours, theirs in (("argmax", tt.argmax, torch.argmax),
                           ("argmin", tt.argmin, torch.argmin)):
    for kw in ({}, {"dim": 1}, {"dim": -1, "keepdim": True}):
        TENSOR_CASES.append(Case(f"{name} {kw}", ours, theirs, kw, _x(3, 4, 5), grad=False))
        TENSOR_CASES.append(Case(f"Tensor.{name} {kw}", _method(name), _method(name), kw,
                                 _x(3, 4, 5), grad=False))
for name, ours, theirs in (("softmax", tt.softmax, torch.softmax),
                           ("log_softmax", tt.log_softmax, torch.log_softmax)):
    for d in (0, 1, -1):
        TENSOR_CASES.append(Case(f"{name} dim={d}", ours, theirs, {"dim": d}, _x(2, 3, 4)))
        TENSOR_CASES.append(Case(f"Tensor.{name} dim={d}", _method(name), _method(name),
                                 {"dim": d}, _x(2, 3, 4)))


def _two(*shape):
    return lambda rng: [rng.standard_normal(shape), rng.standard_normal(shape)]


TENSOR_CASES += [
    Case("cat dim=1", lambda a, b, **kw: tt.cat([a, b], **kw),
         lambda a, b, **kw: torch.cat([a, b], **kw), {"dim": 1}, _two(2, 3)),
    Case("concat dim=-1", lambda a, b, **kw: tt.concat([a, b], **kw),
         lambda a, b, **kw: torch.concat([a, b], **kw), {"dim": -1}, _two(2, 3)),
    Case("stack dim=2", lambda a, b, **kw: tt.stack([a, b], **kw),
         lambda a, b, **kw: torch.stack([a, b], **kw), {"dim": 2}, _two(2, 3)),
    Case("split dim=1", lambda x, **kw: tt.cat(tt.split(x, 2, **kw), dim=0),
         lambda x, **kw: torch.cat(torch.split(x, 2, **kw), dim=0), {"dim": 1}, _x(3, 4)),
    Case("Tensor.split dim=0", lambda x, **kw: tt.cat(x.split(1, **kw), dim=1),
         lambda x, **kw: torch.cat(x.split(1, **kw), dim=1), {"dim": 0}, _x(3, 4)),
    Case("squeeze dim=1", tt.squeeze, torch.squeeze, {"dim": 1}, _x(3, 1, 4)),
    Case("squeeze dims", tt.squeeze, torch.squeeze, {"dim": (0, 2)}, _x(1, 3, 1)),
    Case("Tensor.squeeze dim=-1", _method("squeeze"), _method("squeeze"), {"dim": -1},
         _x(3, 1)),
    Case("unsqueeze dim=0", tt.unsqueeze, torch.unsqueeze, {"dim": 0}, _x(3, 4)),
    Case("Tensor.unsqueeze dim=-1", _method("unsqueeze"), _method("unsqueeze"), {"dim": -1},
         _x(3, 4)),
    Case("flatten start_dim/end_dim", tt.flatten, torch.flatten,
         {"start_dim": 1, "end_dim": 2}, _x(2, 3, 4, 5)),
    Case("Tensor.flatten start_dim", _method("flatten"), _method("flatten"),
         {"start_dim": 1}, _x(2, 3, 4)),
    Case("transpose dim0/dim1", tt.transpose, torch.transpose, {"dim0": 0, "dim1": 2},
         _x(2, 3, 4)),
    Case("Tensor.transpose dim0/dim1", _method("transpose"), _method("transpose"),
         {"dim0": 1, "dim1": -1}, _x(2, 3, 4)),
    Case("clamp min/max", tt.clamp, torch.clamp, {"min": -0.5, "max": 0.5}, _x(4, 5)),
    Case("Tensor.clamp min", _method("clamp"), _method("clamp"), {"min": 0.1}, _x(4, 5)),
    Case("gelu approximate=tanh", tt.gelu, TF_TORCH.gelu, {"approximate": "tanh"}, _x(4, 5)),
    Case("gelu approximate=none", tt.gelu, TF_TORCH.gelu, {"approximate": "none"}, _x(4, 5)),
]


# Ops without keywords, called positionally on both sides: the same values and
# gradients complete "every op that both have".


def _pos(*shape):
    return lambda rng: [rng.uniform(0.5, 2.0, shape)]


def _pair(shape_a, shape_b):
    return lambda rng: [rng.standard_normal(shape_a), rng.standard_normal(shape_b)]


for name in ("exp", "abs", "neg", "relu", "sigmoid", "tanh", "clone"):
    TENSOR_CASES.append(Case(name, getattr(tt, name), getattr(torch, name), {}, _x(3, 4)))
for name in ("log", "sqrt"):
    TENSOR_CASES.append(Case(name, getattr(tt, name), getattr(torch, name), {}, _pos(3, 4)))
for name in ("add", "sub", "mul", "div", "maximum", "minimum"):
    TENSOR_CASES.append(Case(f"{name} broadcast", getattr(tt, name), getattr(torch, name), {},
                             _pair((3, 4), (4,))))
for name in ("eq", "ne", "lt", "le", "gt", "ge"):
    TENSOR_CASES.append(Case(name, getattr(tt, name), getattr(torch, name), {},
                             lambda rng: [rng.integers(0, 3, (3, 4)), rng.integers(0, 3, (4,))],
                             grad=False))
TENSOR_CASES += [
    Case("pow", tt.pow, torch.pow, {}, lambda rng: [rng.uniform(0.5, 2.0, (3, 4)),
                                                    rng.standard_normal((3, 4))]),
    Case("matmul batched", tt.matmul, torch.matmul, {}, _pair((2, 3, 4), (4, 5))),
    Case("where", lambda c, x, y: tt.where(c.data > 0, x, y),
         lambda c, x, y: torch.where(c > 0, x, y), {}, lambda rng: [
             rng.integers(-1, 2, (3, 4)), rng.standard_normal((3, 4)), rng.standard_normal(4)]),
    Case("reshape", lambda x: tt.reshape(x, (4, -1)), lambda x: torch.reshape(x, (4, -1)), {},
         _x(2, 3, 4)),
    Case("permute", lambda x: tt.permute(x, (2, 0, 1)), lambda x: torch.permute(x, (2, 0, 1)),
         {}, _x(2, 3, 4)),
    Case("broadcast_to", lambda x: tt.broadcast_to(x, (2, 3, 4)),
         lambda x: torch.broadcast_to(x, (2, 3, 4)), {}, _x(3, 1)),
    Case("Tensor.expand", lambda x: x.expand(2, -1, 4), lambda x: x.expand(2, -1, 4), {},
         _x(3, 1)),
    Case("getitem", lambda x: x[1:, [0, 2, 2]], lambda x: x[1:, [0, 2, 2]], {}, _x(3, 4)),
]

# ------------------------------------------------ tinytorch.nn.functional


def _logits_and_ids(n, c):
    return lambda rng: [rng.standard_normal((n, c)), rng.integers(0, c, size=n)]


def _ln_inputs(rng):
    return [rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)),
            rng.standard_normal((3, 4))]


def _conv_inputs(rng):
    return [rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)),
            rng.standard_normal(4)]


def _bn_inputs(rng):
    return [rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(3),
            rng.random(3) + 0.5, rng.standard_normal(3), rng.standard_normal(3)]


def _probs_and_targets(rng):
    return [rng.uniform(0.05, 0.95, (4, 3)), rng.uniform(0.0, 1.0, (4, 3))]


NN_CASES = [
    Case("linear bias=", lambda x, w, b, **kw: F.linear(x, w, **kw, bias=b),
         lambda x, w, b, **kw: TF_TORCH.linear(x, w, **kw, bias=b), {},
         lambda rng: [rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)),
                      rng.standard_normal(5)]),
    Case("relu", F.relu, TF_TORCH.relu, {}, _x(4, 5)),
    Case("sigmoid", F.sigmoid, torch.sigmoid, {}, _x(4, 5)),
    Case("tanh", F.tanh, torch.tanh, {}, _x(4, 5)),
    Case("gelu approximate=none", F.gelu, TF_TORCH.gelu, {"approximate": "none"}, _x(4, 5)),
    Case("gelu approximate=tanh", F.gelu, TF_TORCH.gelu, {"approximate": "tanh"}, _x(4, 5)),
    Case("softmax dim=0", F.softmax, TF_TORCH.softmax, {"dim": 0}, _x(3, 4)),
    Case("log_softmax dim=-1", F.log_softmax, TF_TORCH.log_softmax, {"dim": -1}, _x(3, 4)),
    Case("dropout training=False", F.dropout, TF_TORCH.dropout,
         {"p": 0.3, "training": False}, _x(3, 4)),
    Case("dropout p=0", F.dropout, TF_TORCH.dropout, {"p": 0.0, "training": True}, _x(3, 4)),
    Case("layer_norm weight/bias/eps", lambda x, w, b, **kw: F.layer_norm(x, (3, 4), w, b, **kw),
         lambda x, w, b, **kw: TF_TORCH.layer_norm(x, (3, 4), w, b, **kw), {"eps": 1e-3},
         _ln_inputs),
    Case("layer_norm by keyword", lambda x, w, b, **kw: F.layer_norm(x, **kw, weight=w, bias=b),
         lambda x, w, b, **kw: TF_TORCH.layer_norm(x, **kw, weight=w, bias=b),
         {"normalized_shape": (4,), "eps": 1e-5},
         lambda rng: [rng.standard_normal((2, 3, 4)), rng.standard_normal(4),
                      rng.standard_normal(4)]),
    Case("embedding padding_idx", lambda ids, w, **kw: F.embedding(ids, w, **kw),
         lambda ids, w, **kw: TF_TORCH.embedding(ids, w, **kw), {"padding_idx": 1},
         lambda rng: [rng.integers(0, 5, size=(2, 3)), rng.standard_normal((5, 4))]),
    Case("cross_entropy", F.cross_entropy, TF_TORCH.cross_entropy, {}, _logits_and_ids(6, 4)),
    Case("cross_entropy reduction=sum", F.cross_entropy, TF_TORCH.cross_entropy,
         {"reduction": "sum"}, _logits_and_ids(6, 4)),
    Case("cross_entropy reduction=none", F.cross_entropy, TF_TORCH.cross_entropy,
         {"reduction": "none"}, _logits_and_ids(6, 4)),
    Case("cross_entropy ignore_index", F.cross_entropy, TF_TORCH.cross_entropy,
         {"ignore_index": 2}, _logits_and_ids(8, 4)),
    Case("cross_entropy label_smoothing", F.cross_entropy, TF_TORCH.cross_entropy,
         {"label_smoothing": 0.1}, _logits_and_ids(6, 4)),
    Case("mse_loss reduction=sum", F.mse_loss, TF_TORCH.mse_loss, {"reduction": "sum"},
         _two(3, 4)),
    Case("mse_loss reduction=none", F.mse_loss, TF_TORCH.mse_loss, {"reduction": "none"},
         _two(3, 4)),
    Case("binary_cross_entropy", F.binary_cross_entropy, TF_TORCH.binary_cross_entropy,
         {"reduction": "mean"}, _probs_and_targets),
    Case("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
         TF_TORCH.binary_cross_entropy_with_logits, {"reduction": "sum"}, _two(4, 3)),
    Case("conv2d stride/padding", F.conv2d, TF_TORCH.conv2d, {"stride": 2, "padding": 1},
         _conv_inputs),
    Case("conv2d bias= keyword", lambda x, w, b, **kw: F.conv2d(x, w, bias=b, **kw),
         lambda x, w, b, **kw: TF_TORCH.conv2d(x, w, bias=b, **kw), {"padding": (1, 0)},
         _conv_inputs),
    Case("max_pool2d", F.max_pool2d, TF_TORCH.max_pool2d,
         {"kernel_size": 2, "stride": 2}, _x(2, 3, 6, 6)),
    Case("max_pool2d padding", F.max_pool2d, TF_TORCH.max_pool2d,
         {"kernel_size": 3, "stride": 2, "padding": 1}, _x(2, 3, 7, 7)),
    Case("avg_pool2d", F.avg_pool2d, TF_TORCH.avg_pool2d,
         {"kernel_size": 3, "stride": 1, "padding": 1}, _x(2, 3, 5, 5)),
    Case("batch_norm eval", lambda x, m, v, w, b, **kw: F.batch_norm(x, m, v, w, b, **kw),
         lambda x, m, v, w, b, **kw: TF_TORCH.batch_norm(x, m.detach(), v.detach(), w, b, **kw),
         {"training": False, "eps": 1e-3}, _bn_inputs),
]

# ------------------------------------------ tinytorch.transformers.functional


def _qkv(rng):
    return [rng.standard_normal((2, 2, 5, 4)) for _ in range(3)]


def _sdpa(q, k, v, **kw):
    return TF.scaled_dot_product_attention(q, k, v, **kw)[0]  # (output, weights): the output


TRANSFORMER_CASES = [
    Case("sdpa", _sdpa, TF_TORCH.scaled_dot_product_attention, {}, _qkv),
    Case("sdpa is_causal", _sdpa, TF_TORCH.scaled_dot_product_attention,
         {"is_causal": True}, _qkv),
    Case("sdpa scale", _sdpa, TF_TORCH.scaled_dot_product_attention, {"scale": 0.3}, _qkv),
    Case("sdpa dropout_p=0", _sdpa, TF_TORCH.scaled_dot_product_attention,
         {"dropout_p": 0.0, "is_causal": True}, _qkv),
    Case("sdpa attn_mask bool",
         lambda q, k, v, **kw: _sdpa(q, k, v, attn_mask=np.tril(np.ones((5, 5), bool)), **kw),
         lambda q, k, v, **kw: TF_TORCH.scaled_dot_product_attention(
             q, k, v, attn_mask=torch.tril(torch.ones(5, 5, dtype=torch.bool)), **kw),
         {"scale": 0.5}, _qkv),
]

ALL = TENSOR_CASES + NN_CASES + TRANSFORMER_CASES


def _ours(arrays):
    out = []
    for a in arrays:
        grad = a.dtype == np.float64
        out.append(Tensor(a, dtype=a.dtype, requires_grad=grad))
    return out


def _theirs(arrays):
    return [torch.tensor(a, requires_grad=a.dtype == np.float64) for a in arrays]


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_same_keywords_same_values_and_gradients(case):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    arrays = case.inputs(rng)
    ours, theirs = _ours(arrays), _theirs(arrays)
    out = case.pick(case.ours(*ours, **case.kwargs))
    ref = case.theirs(*theirs, **case.kwargs)
    assert tuple(out.shape) == tuple(ref.shape), (out.shape, ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-6, atol=1e-9)
    if not case.grad:
        return
    w = rng.standard_normal(out.shape)
    (out * Tensor(w, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if b.grad is None:
            continue
        assert a.grad is not None, f"input {i}: tinytorch gave no gradient"
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-6, atol=1e-9,
                                   err_msg=f"gradient of input {i}")


# ------------------------------------------------ tinytorch.nn modules
#
# The layer built with the same constructor keywords on both sides, the
# PyTorch parameters copied in (same names, same layouts: Linear's weight is
# (out_features, in_features) on both sides), then one forward and backward
# compared.


MODULES = [
    ("Linear", {"in_features": 4, "out_features": 3, "bias": True}, (2, 5, 4)),
    ("Linear", {"in_features": 4, "out_features": 2, "bias": False}, (3, 4)),
    ("ReLU", {}, (3, 4)),
    ("Sigmoid", {}, (3, 4)),
    ("Tanh", {}, (3, 4)),
    ("GELU", {"approximate": "tanh"}, (3, 4)),
    ("GELU", {"approximate": "none"}, (3, 4)),
    ("Softmax", {"dim": 0}, (3, 4)),
    ("LogSoftmax", {"dim": -1}, (3, 4)),
    ("Dropout", {"p": 0.0}, (3, 4)),
    ("Flatten", {"start_dim": 1, "end_dim": 2}, (2, 3, 4, 5)),
    ("Identity", {}, (3, 4)),
    ("LayerNorm", {"normalized_shape": (4,), "eps": 1e-3, "elementwise_affine": True},
     (2, 3, 4)),
    ("LayerNorm", {"normalized_shape": 4, "elementwise_affine": False}, (2, 4)),
    ("Conv2d", {"in_channels": 3, "out_channels": 4, "kernel_size": 3, "stride": 2,
                "padding": 1, "bias": True}, (2, 3, 7, 7)),
    ("Conv2d", {"in_channels": 3, "out_channels": 2, "kernel_size": (3, 2), "bias": False},
     (1, 3, 5, 5)),
    ("MaxPool2d", {"kernel_size": 2, "stride": 2}, (2, 3, 6, 6)),
    ("AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}, (2, 3, 5, 5)),
    ("BatchNorm2d", {"num_features": 3, "eps": 1e-3, "momentum": 0.2}, (4, 3, 2, 2)),
]


def _copy_parameters(ours, theirs) -> None:
    for name, p in theirs.named_parameters():
        getattr(ours, name).data[...] = p.detach().numpy()


@pytest.mark.parametrize("cls, kwargs, shape", MODULES,
                         ids=[f"{m[0]} {m[1]}" for m in MODULES])
def test_modules_take_the_same_constructor_keywords(cls, kwargs, shape):
    rng = np.random.default_rng(zlib.crc32(f"{cls}{kwargs}".encode()))
    theirs = getattr(torch.nn, cls)(**kwargs).double()
    ours = getattr(nn, cls)(**kwargs).double()
    _copy_parameters(ours, theirs)
    x = rng.standard_normal(shape)
    xo, xt = Tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, ref = ours(xo), theirs(xt)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-6, atol=1e-9)
    w = rng.standard_normal(ref.shape)
    (out * Tensor(w, dtype=np.float64)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-6, atol=1e-9)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(getattr(ours, name).grad.data, p.grad.numpy(), rtol=1e-6,
                                   atol=1e-9, err_msg=name)


LOSSES = [
    ("MSELoss", {"reduction": "sum"}, lambda rng: (rng.standard_normal((3, 4)),
                                                   rng.standard_normal((3, 4)))),
    ("CrossEntropyLoss", {"reduction": "mean", "label_smoothing": 0.1},
     lambda rng: (rng.standard_normal((5, 4)), rng.integers(0, 4, 5))),
    ("CrossEntropyLoss", {"ignore_index": 1, "reduction": "sum"},
     lambda rng: (rng.standard_normal((6, 3)), rng.integers(0, 3, 6))),
    ("BCELoss", {"reduction": "none"}, lambda rng: (rng.uniform(0.05, 0.95, (3, 2)),
                                                     rng.uniform(0, 1, (3, 2)))),
    ("BCEWithLogitsLoss", {"reduction": "mean"}, lambda rng: (rng.standard_normal((3, 2)),
                                                              rng.uniform(0, 1, (3, 2)))),
]


@pytest.mark.parametrize("cls, kwargs, make", LOSSES, ids=[f"{m[0]} {m[1]}" for m in LOSSES])
def test_losses_take_the_same_constructor_keywords(cls, kwargs, make):
    x, target = make(np.random.default_rng(zlib.crc32(f"{cls}{kwargs}".encode())))
    xo, xt = Tensor(x, dtype=np.float64, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = getattr(nn, cls)(**kwargs)(xo, Tensor(target, dtype=target.dtype))
    ref = getattr(torch.nn, cls)(**kwargs)(xt, torch.tensor(target))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-6, atol=1e-9)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-6, atol=1e-9)
