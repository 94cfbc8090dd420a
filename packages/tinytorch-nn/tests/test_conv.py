"""Conv2d, pooling, BatchNorm2d and the BCE losses: references, gradchecks, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401
from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F
from tinytorch.tensor import Tensor, hooks

RNG = np.random.default_rng(2)


def t64(*shape, scale=1.0, grad=True):
    return Tensor(RNG.standard_normal(shape) * scale, dtype=np.float64, requires_grad=grad)


def conv_reference(x, w, b, stride, padding):
    """Direct definition: out[n,o,h,w] = sum_c,i,j W[o,c,i,j] xp[n,c,h*sh+i,w*sw+j] + b[o]."""
    sh, sw = stride
    ph, pw = padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oc, c, kh, kw = w.shape
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    out = np.zeros((x.shape[0], oc, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]  # (N, C, OH, OW)
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + (0 if b is None else b[None, :, None, None])


CONV_CASES = [
    # (name, x shape, out channels, kernel, stride, padding, bias)
    ("k3_s1_p0", (2, 3, 5, 5), 4, (3, 3), (1, 1), (0, 0), True),
    ("k3_s1_p1", (2, 2, 5, 4), 3, (3, 3), (1, 1), (1, 1), True),
    ("k3_s2_p1", (2, 2, 6, 7), 3, (3, 3), (2, 2), (1, 1), True),
    ("k2_s2_p0", (1, 3, 6, 6), 2, (2, 2), (2, 2), (0, 0), False),
    ("k1", (2, 4, 3, 3), 2, (1, 1), (1, 1), (0, 0), True),
    ("rect_k2x3_s(1,2)_p(1,0)", (2, 2, 5, 7), 3, (2, 3), (1, 2), (1, 0), True),
    ("k3_s3_p2_uncovered", (1, 2, 7, 8), 2, (3, 3), (3, 3), (2, 2), True),
    ("kernel_equals_input", (2, 1, 3, 3), 2, (3, 3), (1, 1), (0, 0), True),
]


@pytest.mark.parametrize("name, xs, oc, k, s, p, bias", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_forward_and_gradients(name, xs, oc, k, s, p, bias):
    x = t64(*xs)
    w = t64(oc, xs[1], *k)
    b = t64(oc) if bias else None
    out = F.conv2d(x, w, b, s, p)
    np.testing.assert_allclose(out.data, conv_reference(x.data, w.data, None if b is None
                                                        else b.data, s, p), atol=1e-12)
    inputs = (x, w, b) if bias else (x, w)
    assert gradcheck(lambda *a: F.conv2d(a[0], a[1], a[2] if bias else None, s, p), inputs)


def test_conv2d_module_layout_init_and_flops():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert conv.weight.shape == (8, 3, 3, 3) and conv.bias.shape == (8,)
    bound = 1 / np.sqrt(27)
    assert np.abs(conv.weight.data).max() <= bound
    seen = []
    with hooks(post=lambda op, ins, out, params, saved:
               seen.append((op.name, op.flops([i.data for i in ins], out.data, params)))):
        y = conv(Tensor(np.ones((2, 3, 5, 5))))
    assert y.shape == (2, 8, 5, 5)
    assert seen == [("conv2d", 2 * 2 * 8 * 5 * 5 * 3 * 3 * 3 + 2 * 8 * 5 * 5)]
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


def test_conv2d_float32_stays_float32():
    conv = nn.Conv2d(2, 3, 3)
    x = Tensor(RNG.standard_normal((2, 2, 4, 4)), requires_grad=True)
    y = conv(x)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == conv.weight.grad.dtype == np.float32


@pytest.mark.parametrize("kwargs, xs, message", [
    ({}, (2, 4, 5, 5), "has 4 channels but weight"),
    ({}, (3, 5, 5), "must be 4-D"),
    ({"stride": 0}, (2, 3, 5, 5), "stride must be an int >= 1"),
    ({"padding": -1}, (2, 3, 5, 5), "padding must be an int >= 0"),
    ({}, (2, 3, 2, 5), "kernel height 3 is larger than the padded input height 2"),
])
def test_conv2d_errors(kwargs, xs, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(Tensor(np.ones(xs)), Tensor(np.ones((4, 3, 3, 3))), **kwargs)


# ------------------------------------------------------------------ pooling


POOL_CASES = [
    # (name, x shape, kernel, stride, padding)
    ("k2", (2, 3, 4, 6), 2, None, 0),
    ("k3_s2", (1, 2, 7, 7), 3, 2, 0),
    ("k3_s1_p1", (2, 2, 5, 4), 3, 1, 1),
    ("k3_s2_p1", (1, 2, 6, 6), 3, 2, 1),
    ("rect_k(2,3)_p(1,1)", (1, 2, 5, 6), (2, 3), (2, 1), (1, 1)),
]


def pool_reference(x, kernel, stride, padding, kind):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    stride = (kh, kw) if stride is None else stride
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    patches = np.stack([xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
                        for i in range(kh) for j in range(kw)])
    return patches.max(0) if kind == "max" else patches.mean(0)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("name, xs, k, s, p", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_forward_and_gradients(kind, name, xs, k, s, p):
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    x = t64(*xs)
    out = fn(x, k, s, p)
    np.testing.assert_allclose(out.data, pool_reference(x.data, k, s, p, kind), atol=1e-12)
    # distinct values: the max is unique, so central differences are valid
    assert gradcheck(lambda x: fn(x, k, s, p), (x,))


def test_max_pool_routes_gradient_to_the_argmax_only():
    x = Tensor(np.array([[[[1.0, 5.0, 2.0, 0.0],
                           [3.0, 4.0, 9.0, 1.0],
                           [0.0, 0.0, 1.0, 1.0],
                           [7.0, 0.0, 1.0, 2.0]]]]), requires_grad=True)
    out = nn.MaxPool2d(2)(x)
    np.testing.assert_array_equal(out.data[0, 0], [[5.0, 9.0], [7.0, 2.0]])
    out.backward(Tensor(np.array([[[[10.0, 20.0], [30.0, 40.0]]]])))
    expected = np.zeros((4, 4))
    expected[0, 1], expected[1, 2], expected[3, 0], expected[3, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)


def test_max_pool_ties_go_to_the_first_maximum():
    x = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data[0, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_pool_errors():
    with pytest.raises(ValueError, match="at most half the kernel"):
        F.max_pool2d(Tensor(np.ones((1, 1, 4, 4))), 2, padding=2)
    with pytest.raises(ValueError, match="must be 4-D"):
        nn.AvgPool2d(2)(Tensor(np.ones((4, 4))))
    with pytest.raises(ValueError, match="kernel_size"):
        nn.MaxPool2d(0)


# --------------------------------------------------------------- batch norm


@pytest.mark.parametrize("xs", [(4, 3, 2, 2), (2, 2, 3, 1), (5, 3)])
def test_batch_norm_training_gradients(xs):
    x = t64(*xs, scale=2.0)
    w, b = t64(xs[1]), t64(xs[1])
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                     (x, w, b))


def test_batch_norm_eval_gradients():
    c = 3
    rm, rv = RNG.standard_normal(c), RNG.random(c) + 0.5
    x, w, b = t64(2, c, 3, 3), t64(c), t64(c)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))


def test_batchnorm2d_module_gradcheck_train_mode():
    bn = nn.BatchNorm2d(3).double()
    bn.weight.data[...] = RNG.standard_normal(3)
    x = t64(4, 3, 2, 3)
    assert gradcheck(lambda x, w, b: bn(x), (x, bn.weight, bn.bias))


def test_batchnorm2d_statistics_and_running_averages():
    bn = nn.BatchNorm2d(2, momentum=0.1).double()
    x = RNG.standard_normal((8, 2, 4, 4)) * 3 + 5
    y = bn(Tensor(x, dtype=np.float64)).data
    assert np.allclose(y.mean((0, 2, 3)), 0, atol=1e-10)
    assert np.allclose(y.var((0, 2, 3)), 1, atol=1e-3)
    mean, var_unbiased = x.mean((0, 2, 3)), x.var((0, 2, 3), ddof=1)
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * var_unbiased, rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 1
    bn.eval()
    y_eval = bn(Tensor(x, dtype=np.float64)).data
    expected = (x - bn.running_mean.data[None, :, None, None]) / np.sqrt(
        bn.running_var.data[None, :, None, None] + 1e-5)
    np.testing.assert_allclose(y_eval, expected, rtol=1e-12)
    assert int(bn.num_batches_tracked.data) == 1  # eval does not count
    assert set(bn.state_dict()) == {"weight", "bias", "running_mean", "running_var",
                                    "num_batches_tracked"}


def test_batchnorm2d_cumulative_momentum_none():
    bn = nn.BatchNorm2d(1, momentum=None).double()
    batches = [RNG.standard_normal((4, 1, 2, 2)) + k for k in range(3)]
    for xb in batches:
        bn(Tensor(xb, dtype=np.float64))
    np.testing.assert_allclose(bn.running_mean.data[0], np.mean([b.mean() for b in batches]),
                               rtol=1e-12)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        nn.BatchNorm2d(3)(Tensor(np.ones((2, 4, 2, 2))))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3)(Tensor(np.ones((1, 3, 1, 1))))
    with pytest.raises(ValueError, match="both running_mean and running_var"):
        F.batch_norm(Tensor(np.ones((2, 3))), np.zeros(3), None)


# --------------------------------------------------------------- BCE losses


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_value_and_gradients(reduction):
    p = Tensor(RNG.uniform(0.05, 0.95, (3, 4)), dtype=np.float64, requires_grad=True)
    t = Tensor(RNG.uniform(0, 1, (3, 4)), dtype=np.float64, requires_grad=True)
    out = F.binary_cross_entropy(p, t, reduction)
    ref = -(t.data * np.log(p.data) + (1 - t.data) * np.log(1 - p.data))
    expected = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda p, t: F.binary_cross_entropy(p, t, reduction), (p, t))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_value_and_gradients(reduction):
    x = t64(3, 4, scale=3.0)
    t = Tensor(RNG.uniform(0, 1, (3, 4)), dtype=np.float64, requires_grad=True)
    out = nn.BCEWithLogitsLoss(reduction)(x, t)
    s = 1 / (1 + np.exp(-x.data))
    ref = -(t.data * np.log(s) + (1 - t.data) * np.log(1 - s))
    expected = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[reduction]
    np.testing.assert_allclose(out.data, expected, rtol=1e-10)
    assert gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction), (x, t))


def test_bce_extremes_are_finite():
    x = Tensor(np.array([-1000.0, 1000.0, 0.0]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, np.array([1.0, 0.0, 1.0]), "sum")
    np.testing.assert_allclose(loss.item(), 2000 + np.log(2), rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [-1.0, 1.0, -0.5])
    p = Tensor(np.array([0.0, 1.0]), requires_grad=True)
    loss = nn.BCELoss("sum")(p, np.array([1.0, 0.0]))
    assert loss.item() == pytest.approx(200.0)  # each log clamped at -100
    loss.backward()
    assert np.all(np.isfinite(p.grad.data))


def test_bce_errors():
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        F.binary_cross_entropy(Tensor(np.array([0.5, 1.5])), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="same shape"):
        F.binary_cross_entropy_with_logits(Tensor(np.ones(3)), np.ones(4))


def test_max_pool_nan_wins_and_the_last_nan_takes_the_gradient():
    # PyTorch's rule: a NaN replaces the maximum, and among NaNs the last one.
    nan = np.nan
    x = Tensor(np.array([[[[1.0, nan, nan, 0.5], [-np.inf, -np.inf, 2.0, 3.0]]]]),
               requires_grad=True)
    out = F.max_pool2d(x, (1, 2))
    np.testing.assert_array_equal(out.data[0, 0], [[nan, nan], [-np.inf, 3.0]])
    out.backward(Tensor(np.ones((1, 1, 2, 2))))
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 1, 1, 0], [1, 0, 0, 1]])
    y = F.max_pool2d(Tensor(np.array([[[[1.0, nan, nan, 0.5]]]])), (1, 4))
    assert np.isnan(y.data[0, 0, 0, 0])


@pytest.mark.parametrize("shape, k, s", [
    ((2, 3, 5, 5), 2, 2),  # non-overlapping, the last row and column in no window
    ((1, 2, 7, 8), 2, 3),  # stride beyond the kernel: gaps between windows
    ((1, 1, 6, 6), (2, 3), (2, 3)),  # exact rectangular tiling
    ((1, 1, 17, 17), 16, 1),  # 256 offsets: the saved offsets need more than uint8
])
def test_max_pool_backward_routes_to_the_window_maximum(shape, k, s):
    rng = np.random.default_rng(5)
    x = Tensor(rng.permutation(np.prod(shape)).reshape(shape), dtype="float64",
               requires_grad=True)  # distinct values: one maximum per window
    out = F.max_pool2d(x, k, s)
    g = rng.standard_normal(out.shape)
    out.backward(Tensor(g, dtype="float64"))
    np.testing.assert_array_equal(out.data, pool_reference(x.data, k, s, 0, "max"))
    # every output's gradient lands on the input holding its value, nowhere else
    expected = np.zeros(shape)
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (s, s) if isinstance(s, int) else s
    for n, c, i, j in np.ndindex(*out.shape):
        win = x.data[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
        a, b = np.unravel_index(win.argmax(), win.shape)
        expected[n, c, i * sh + a, j * sw + b] += g[n, c, i, j]
    np.testing.assert_array_equal(x.grad.data, expected)
