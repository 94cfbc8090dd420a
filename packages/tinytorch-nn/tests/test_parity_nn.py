"""Parity with torch.nn in float64: forward values and every gradient (~1e-10)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import numpy as np  # noqa: E402

import tinytorch.autograd  # noqa: E402, F401
from tinytorch import nn  # noqa: E402
from tinytorch.nn import functional as F  # noqa: E402
from tinytorch.tensor import Generator, Tensor  # noqa: E402

TOL = dict(rtol=1e-10, atol=1e-10)
RNG = np.random.default_rng(3)


def randn(*shape, scale=1.0):
    return RNG.standard_normal(shape) * scale


def ours(a):
    return Tensor(a, dtype=np.float64, requires_grad=True)


def theirs(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def run_both(our_fn, torch_fn, arrays, grad_out_seed=0):
    """Forward both, backprop the same random output gradient, compare all."""
    xs, ts = [ours(a) for a in arrays], [theirs(a) for a in arrays]
    y, yt = our_fn(*xs), torch_fn(*ts)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), **TOL)
    g = np.random.default_rng(grad_out_seed).standard_normal(y.shape)
    y.backward(Tensor(g, dtype=np.float64))
    yt.backward(torch.tensor(g))
    for i, (x, xt) in enumerate(zip(xs, ts)):
        assert x.grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), err_msg=f"input {i}", **TOL)


def compare_module(ours_m, torch_m, x_arr):
    """Same weights in both; compare output, dx and each parameter gradient."""
    x, xt = ours(x_arr), theirs(x_arr)
    y, yt = ours_m(x), torch_m(xt)
    np.testing.assert_allclose(y.data, yt.detach().numpy(), **TOL)
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(Tensor(g, dtype=np.float64))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), **TOL)
    return dict(torch_m.named_parameters())


# ------------------------------------------------------------------- layers


@pytest.mark.parametrize("bias", [True, False])
def test_linear(bias):
    m = nn.Linear(5, 4, bias=bias).double()
    tm = torch.nn.Linear(5, 4, bias=bias).double()
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.weight.data))  # both (out, in)
        if bias:
            tm.bias.copy_(torch.tensor(m.bias.data))
    tp = compare_module(m, tm, randn(2, 3, 5))
    np.testing.assert_allclose(m.weight.grad.data, tp["weight"].grad.numpy(), **TOL)
    if bias:
        np.testing.assert_allclose(m.bias.grad.data, tp["bias"].grad.numpy(), **TOL)


ACTIVATIONS = [
    ("relu", nn.ReLU(), torch.nn.ReLU()),
    ("sigmoid", nn.Sigmoid(), torch.nn.Sigmoid()),
    ("tanh", nn.Tanh(), torch.nn.Tanh()),
    ("gelu_tanh", nn.GELU("tanh"), torch.nn.GELU(approximate="tanh")),
    ("gelu_exact", nn.GELU("none"), torch.nn.GELU()),
    ("softmax", nn.Softmax(-1), torch.nn.Softmax(-1)),
    ("log_softmax", nn.LogSoftmax(1), torch.nn.LogSoftmax(1)),
    ("flatten", nn.Flatten(), torch.nn.Flatten()),
]


@pytest.mark.parametrize("name, m, tm", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations(name, m, tm):
    compare_module(m, tm, randn(3, 4, 5, scale=2.0))


@pytest.mark.parametrize("shape, normalized", [((4, 6), (6,)), ((2, 3, 4, 5), (4, 5))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, normalized, affine):
    m = nn.LayerNorm(normalized, elementwise_affine=affine).double()
    tm = torch.nn.LayerNorm(normalized, elementwise_affine=affine).double()
    if affine:
        w, b = randn(*normalized), randn(*normalized)
        m.weight.data[...], m.bias.data[...] = w, b
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(w))
            tm.bias.copy_(torch.tensor(b))
    tp = compare_module(m, tm, randn(*shape, scale=3.0) + 1.0)
    if affine:
        np.testing.assert_allclose(m.weight.grad.data, tp["weight"].grad.numpy(), **TOL)
        np.testing.assert_allclose(m.bias.grad.data, tp["bias"].grad.numpy(), **TOL)


def test_embedding():
    m = nn.Embedding(7, 3).double()
    tm = torch.nn.Embedding(7, 3).double()
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.weight.data))
    ids = np.array([[1, 6, 1], [0, 1, 3]])
    y, yt = m(ids), tm(torch.tensor(ids))
    np.testing.assert_allclose(y.data, yt.detach().numpy(), **TOL)
    g = randn(2, 3, 3)
    y.backward(Tensor(g, dtype=np.float64))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(m.weight.grad.data, tm.weight.grad.numpy(), **TOL)


CONVS = [
    # (in, out, kernel, stride, padding, bias, x shape)
    (3, 4, 3, 1, 1, True, (2, 3, 6, 5)),
    (2, 3, 3, 2, 1, True, (2, 2, 7, 8)),
    (2, 2, (2, 3), (2, 1), (0, 1), False, (1, 2, 5, 6)),
    (1, 2, 5, 3, 2, True, (2, 1, 9, 9)),
    # stride 1, output as wide as the input: the flat (shifted-image) path
    (2, 3, 5, 1, 2, True, (2, 2, 6, 7)),
    (4, 3, 1, 1, 0, True, (2, 4, 3, 5)),
    (2, 3, (3, 5), 1, (0, 2), False, (2, 2, 6, 7)),
    (2, 2, 3, 1, (2, 1), True, (2, 2, 4, 5)),
]


@pytest.mark.parametrize("cin, cout, k, s, p, bias, xs", CONVS)
def test_conv2d(cin, cout, k, s, p, bias, xs):
    m = nn.Conv2d(cin, cout, k, s, p, bias=bias).double()
    tm = torch.nn.Conv2d(cin, cout, k, s, p, bias=bias).double()
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(m.weight.data))  # same (out, in, kh, kw) layout
        if bias:
            tm.bias.copy_(torch.tensor(m.bias.data))
    tp = compare_module(m, tm, randn(*xs))
    np.testing.assert_allclose(m.weight.grad.data, tp["weight"].grad.numpy(), **TOL)
    if bias:
        np.testing.assert_allclose(m.bias.grad.data, tp["bias"].grad.numpy(), **TOL)


POOLS = [(2, None, 0), (3, 2, 1), (3, 1, 1), ((2, 3), (1, 2), (1, 1))]


@pytest.mark.parametrize("k, s, p", POOLS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pools(kind, k, s, p):
    if kind == "max":
        m, tm = nn.MaxPool2d(k, s, p), torch.nn.MaxPool2d(k, s, p)
    else:
        m, tm = nn.AvgPool2d(k, s, p), torch.nn.AvgPool2d(k, s, p)
    compare_module(m, tm, randn(2, 3, 7, 6))


def test_max_pool_with_nans_and_ties_matches_torch():
    # Rounded values give ties; NaNs sprinkled in: values and gradients as PyTorch.
    rng = np.random.default_rng(4)
    x = np.round(rng.standard_normal((2, 3, 8, 8)))
    x[rng.random(x.shape) < 0.05] = np.nan
    ours = Tensor(x, dtype="float64", requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out, tout = nn.MaxPool2d(2)(ours), torch.nn.MaxPool2d(2)(theirs)
    np.testing.assert_array_equal(out.data, tout.detach().numpy())
    g = rng.standard_normal(out.shape)
    out.backward(Tensor(g, dtype="float64"))
    tout.backward(torch.tensor(g))
    np.testing.assert_array_equal(ours.grad.data, theirs.grad.numpy())


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm2d(training):
    m = nn.BatchNorm2d(3).double()
    tm = torch.nn.BatchNorm2d(3).double()
    w, b = randn(3), randn(3)
    m.weight.data[...], m.bias.data[...] = w, b
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(w))
        tm.bias.copy_(torch.tensor(b))
    warm = randn(4, 3, 3, 3, scale=2.0) + 1.0  # moves the running statistics
    m(Tensor(warm, dtype=np.float64))
    tm(torch.tensor(warm))
    m.train(training)
    tm.train(training)
    tp = compare_module(m, tm, randn(5, 3, 4, 2, scale=2.0))
    np.testing.assert_allclose(m.weight.grad.data, tp["weight"].grad.numpy(), **TOL)
    np.testing.assert_allclose(m.bias.grad.data, tp["bias"].grad.numpy(), **TOL)
    np.testing.assert_allclose(m.running_mean.data, tm.running_mean.numpy(), **TOL)
    np.testing.assert_allclose(m.running_var.data, tm.running_var.numpy(), **TOL)
    assert int(m.num_batches_tracked.data) == int(tm.num_batches_tracked)
    assert set(m.state_dict()) == set(tm.state_dict())


def test_dropout_scaling_matches_torch_semantics():
    # Masks differ (different generators); the surviving values must not.
    x = np.ones((1000,))
    y = nn.Dropout(0.25, generator=Generator(0))(Tensor(x)).data
    yt = torch.nn.Dropout(0.25)(torch.tensor(x)).numpy()
    assert set(np.unique(y)) == set(np.unique(yt).astype(np.float32))


# ------------------------------------------------------------------- losses


CE = [
    ((6, 5), (6,), {}),
    ((6, 5), (6,), {"reduction": "sum"}),
    ((6, 5), (6,), {"reduction": "none"}),
    ((2, 4, 3), (2, 4), {}),  # (B, T, C): ours is class-last; torch wants (B, C, T)
    ((2, 4, 3), (2, 4), {"reduction": "none"}),
    ((6, 5), (6,), {"ignore_index": 2}),
    ((6, 5), (6,), {"label_smoothing": 0.1}),
    ((2, 4, 3), (2, 4), {"label_smoothing": 0.2, "ignore_index": 0, "reduction": "sum"}),
]


@pytest.mark.parametrize("lshape, tshape, kw", CE)
def test_cross_entropy(lshape, tshape, kw):
    c = lshape[-1]
    target = RNG.integers(0, c, tshape)
    target.reshape(-1)[:2] = [2 % c, 0]  # make sure ignore_index cases ignore something
    tkw = dict(kw)
    if "ignore_index" not in tkw:
        tkw["ignore_index"] = -100

    def torch_ce(z):
        zt = z if z.ndim == 2 else z.permute(0, 2, 1)  # class axis 1 for torch
        return torch.nn.functional.cross_entropy(zt, torch.tensor(target), **tkw)

    run_both(lambda z: F.cross_entropy(z, target, **kw), torch_ce, [randn(*lshape, scale=3)])


def test_cross_entropy_class_axis_1_layout():
    target = RNG.integers(0, 4, (2, 3, 5))
    run_both(lambda z: F.cross_entropy(z, target),
             lambda z: torch.nn.functional.cross_entropy(z, torch.tensor(target)),
             [randn(2, 4, 3, 5)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse(reduction):
    run_both(lambda a, b: F.mse_loss(a, b, reduction),
             lambda a, b: torch.nn.functional.mse_loss(a, b, reduction=reduction),
             [randn(3, 4), randn(3, 4)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce(reduction):
    run_both(lambda p, t: F.binary_cross_entropy(p, t, reduction),
             lambda p, t: torch.nn.functional.binary_cross_entropy(p, t, reduction=reduction),
             [RNG.uniform(0.02, 0.98, (3, 4)), RNG.uniform(0, 1, (3, 4))])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(reduction):
    run_both(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction),
             lambda x, t: torch.nn.functional.binary_cross_entropy_with_logits(
                 x, t, reduction=reduction),
             [randn(3, 4, scale=5), RNG.uniform(0, 1, (3, 4))])


# ------------------------------------------------------------------- init


def test_default_init_ranges_match_torch():
    m, tm = nn.Conv2d(3, 8, 3), torch.nn.Conv2d(3, 8, 3)
    bound = float(tm.weight.detach().abs().max())
    assert np.abs(m.weight.data).max() <= 1 / np.sqrt(27) + 1e-7
    assert bound <= 1 / np.sqrt(27) + 1e-7
    lin, tlin = nn.Linear(100, 50), torch.nn.Linear(100, 50)
    assert np.abs(lin.weight.data).max() <= 0.1 + 1e-7
    assert float(tlin.weight.detach().abs().max()) <= 0.1 + 1e-7
