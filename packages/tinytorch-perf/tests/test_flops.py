"""FLOP counts from the dispatch hook against counts computed by hand.

The expected numbers come from the primitives' own definitions:
matmul ``2 * out.size * K``; add / mul / where / relu one per output element;
softmax ``5`` per element; conv2d ``2 N OC OH OW C KH KW`` (+ ``N OC OH OW``
for the bias); shape ops (permute, reshape) zero.
"""

import math

import numpy as np
import pytest

from tinytorch import nn
from tinytorch import tensor as tt
from tinytorch.perf import Profiler


@pytest.mark.parametrize("batch, n_in, n_out, bias", [
    (1, 1, 1, True), (4, 8, 3, True), (32, 784, 10, True), (7, 5, 9, False), (64, 256, 128, True),
])
def test_linear_flops(batch, n_in, n_out, bias):
    layer = nn.Linear(n_in, n_out, bias=bias, generator=tt.Generator(0))
    x = np.ones((batch, n_in), dtype=np.float32)
    expected = 2 * batch * n_in * n_out + (batch * n_out if bias else 0)
    assert Profiler().count_flops(layer, x) == expected


def test_linear_flops_with_leading_batch_dims():
    layer = nn.Linear(6, 4, generator=tt.Generator(0))
    x = np.ones((3, 5, 6), dtype=np.float32)  # 15 rows
    assert Profiler().count_flops(layer, x) == 2 * 15 * 6 * 4 + 15 * 4


def test_mlp_flops_add_up_layer_by_layer(make_mlp):
    model = make_mlp(sizes=(8, 16, 16, 4))
    b = 10
    expected = (2 * b * 8 * 16 + b * 16 + b * 16          # Linear, ReLU
                + 2 * b * 16 * 16 + b * 16 + b * 16     # Linear, ReLU
                + 2 * b * 16 * 4 + b * 4)               # Linear
    assert Profiler().count_flops(model, np.ones((b, 8), dtype=np.float32)) == expected


@pytest.mark.parametrize("n, c, h, w, oc, k, stride, padding, bias", [
    (1, 1, 5, 5, 1, 3, 1, 0, True),
    (2, 3, 8, 8, 4, 3, 1, 1, True),
    (4, 1, 28, 28, 8, 5, 1, 0, False),
    (2, 4, 9, 7, 6, 3, 2, 1, True),
    (1, 2, 6, 6, 3, (3, 1), (1, 2), 0, True),
])
def test_conv2d_flops(n, c, h, w, oc, k, stride, padding, bias):
    if not hasattr(nn, "Conv2d"):
        pytest.skip("tinytorch.nn has no Conv2d")
    conv = nn.Conv2d(c, oc, k, stride=stride, padding=padding, bias=bias,
                     generator=tt.Generator(0))
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    oh = (h + 2 * padding - kh) // sh + 1
    ow = (w + 2 * padding - kw) // sw + 1
    expected = 2 * n * oc * oh * ow * c * kh * kw + (n * oc * oh * ow if bias else 0)
    x = np.ones((n, c, h, w), dtype=np.float32)
    assert Profiler().count_flops(conv, x) == expected


def attention(q, k, v, mask=None):
    """Scaled dot-product attention written with tensor ops: (B, T, D) -> (B, T, D)."""
    d = q.shape[-1]
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))   # (B, T, T)
    if mask is not None:
        scores = tt.where(mask, scores, -math.inf)
    return scores.softmax(-1) @ v


@pytest.mark.parametrize("b, t, d", [(1, 4, 8), (2, 16, 32), (3, 7, 5)])
def test_attention_flops(b, t, d):
    rng = np.random.default_rng(0)
    q, k, v = (tt.Tensor(rng.standard_normal((b, t, d))) for _ in range(3))
    # Q @ K^T: 2*B*T*T*D; transpose: 0; scale: B*T*T; softmax: 5*B*T*T; @ V: 2*B*T*T*D
    expected = 2 * b * t * t * d + b * t * t + 5 * b * t * t + 2 * b * t * t * d
    assert Profiler().count_flops(attention, (q, k, v)) == expected


def test_causal_attention_flops_include_the_mask():
    b, t, d = 2, 8, 4
    rng = np.random.default_rng(1)
    q, k, v = (tt.Tensor(rng.standard_normal((b, t, d))) for _ in range(3))
    mask = np.tril(np.ones((t, t), dtype=bool))
    # the where() adds one FLOP per score
    expected = 4 * b * t * t * d + 7 * b * t * t
    assert Profiler().count_flops(lambda q, k, v: attention(q, k, v, mask), (q, k, v)) == expected


def test_flops_of_data_dependent_work_are_counted_as_run():
    def model(x):
        y = x * 2.0
        if float(y.sum().item()) > 0:   # only one branch runs
            y = y @ tt.Tensor(np.ones((4, 4)))
        return y

    p = Profiler()
    pos = np.ones((3, 4), dtype=np.float32)
    # mul 12, sum 12, matmul 2*3*4*4
    assert p.count_flops(model, pos) == 12 + 12 + 96
    assert p.count_flops(model, -pos) == 12 + 12


def test_count_flops_runs_under_no_grad(mlp, data):
    from tinytorch.autograd import is_grad_enabled

    seen = []

    def model(x):
        seen.append(is_grad_enabled())
        return mlp(x)

    Profiler().count_flops(model, data)
    assert seen == [False] and is_grad_enabled()
