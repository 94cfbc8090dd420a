"""The decode kernels and primitives: equal to the canonical forwards, pure."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from tinytorch.kvcache import DECODE_BLOCK, DECODE_QKV
from tinytorch.kvcache.decode import (
    CENTRING_MAX_WORK,
    attend_one_query,
    gelu_rows,
    layer_norm_rows,
    linear_rows,
)
from tinytorch.nn import LAYER_NORM, LINEAR
from tinytorch.tensor import PRIMITIVES, Tensor
from tinytorch.transformers import SDPA

SHAPES = [(1, 8, 1), (3, 32, 4), (2, 128, 4), (5, 48, 6)]  # (B, E, H)
DTYPES = [(np.float32, 1e-5), (np.float64, 1e-12)]


def rand(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(dtype)


@pytest.mark.parametrize("b, e, h", SHAPES)
@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("eps", [1e-5, 1e-3])
@pytest.mark.parametrize("centring_max_work", [0, CENTRING_MAX_WORK, 10**9])  # both forms
def test_layer_norm_rows_equals_the_layer_norm_primitive(b, e, h, dtype, tol, eps,
                                                         centring_max_work):
    rng = np.random.default_rng(e + b)
    x = rand(rng, (b, e), dtype, 3.0) + 5.0  # an offset: the mean matters
    w, bias = rand(rng, (e,), dtype), rand(rng, (e,), dtype)
    ref, _ = LAYER_NORM.forward(x, w, bias, n_axes=1, eps=eps, has_weight=True, has_bias=True)
    got = layer_norm_rows(x, w, bias, eps, centring_max_work)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("b, e, h", SHAPES)
@pytest.mark.parametrize("dtype, tol", DTYPES)
def test_linear_rows_equals_the_linear_primitive(b, e, h, dtype, tol):
    rng = np.random.default_rng(e)
    x, w, bias = rand(rng, (b, e), dtype), rand(rng, (3 * e, e), dtype), rand(rng, (3 * e,), dtype)
    ref = LINEAR.forward(x, w, bias)
    got = linear_rows(x, w, bias)
    assert got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("b, e, h", SHAPES)
@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_gelu_rows_equals_the_gelu_primitive(b, e, h, dtype, tol, approximate):
    rng = np.random.default_rng(b + e)
    x = rand(rng, (b, 4 * e), dtype, 4.0)  # wide enough to reach both tails
    before = x.copy()
    ref, _ = PRIMITIVES["gelu"].forward(x, approximate=approximate)
    got = gelu_rows(x, approximate)
    assert got.dtype == ref.dtype and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    np.testing.assert_array_equal(x, before)  # a new array: the input is not modified


@pytest.mark.parametrize("b, e, h", SHAPES)
@pytest.mark.parametrize("dtype, tol", DTYPES)
@pytest.mark.parametrize("length, scale", [(1, 1.0), (7, 1.0), (64, 30.0)])
def test_attend_one_query_equals_sdpa_and_the_softmax_primitive(b, e, h, dtype, tol, length,
                                                                 scale):
    rng = np.random.default_rng(length)
    d = e // h
    q = rand(rng, (b, h, 1, d), dtype, scale)  # scale 30: scores ~1e3, the max shift matters
    k, v = rand(rng, (b, h, length, d), dtype, scale), rand(rng, (b, h, length, d), dtype)
    s = 1.0 / float(np.sqrt(d))
    ref, _ = SDPA.forward(q, k, v, mask=None, scale=s, dropout_mask=None,
                          weights_out=SimpleNamespace())
    got = attend_one_query(q, k, v, s)
    assert np.isfinite(got).all() and got.dtype == ref.dtype
    np.testing.assert_allclose(got, ref, rtol=100 * tol, atol=100 * tol)
    weights = PRIMITIVES["softmax"].forward((q @ k.swapaxes(-1, -2)) * s, axis=-1)
    np.testing.assert_allclose(got, weights @ v, rtol=100 * tol, atol=100 * tol)


def block_inputs(rng, b, e, h, length, dtype=np.float32):
    """Random inputs of the two decode primitives for one block."""
    hidden = 4 * e
    x = rand(rng, (b, 1, e), dtype)
    qkv_w = (rand(rng, (e,), dtype) + 1, rand(rng, (e,), dtype), rand(rng, (3 * e, e), dtype, 0.2),
             rand(rng, (3 * e,), dtype))
    rest = (rand(rng, (e, e), dtype, 0.2), rand(rng, (e,), dtype), rand(rng, (e,), dtype) + 1,
            rand(rng, (e,), dtype), rand(rng, (hidden, e), dtype, 0.2), rand(rng, (hidden,), dtype),
            rand(rng, (e, hidden), dtype, 0.2), rand(rng, (e,), dtype))
    cached = (b, h, length, e // h)
    keys, values = rand(rng, cached, dtype), rand(rng, cached, dtype)
    return x, qkv_w, rest, keys, values


def reference_block(x, qkv_w, rest, keys, values, h, eps, approximate):
    """The same step from the canonical forwards alone."""
    b, _, e = x.shape
    d = e // h
    ln1_w, ln1_b, w_qkv, b_qkv = qkv_w
    w_out, b_out, ln2_w, ln2_b, w_fc, b_fc, w_proj, b_proj = rest
    a, _ = LAYER_NORM.forward(x, ln1_w, ln1_b, n_axes=1, eps=eps, has_weight=True,
                              has_bias=True)
    qkv = LINEAR.forward(a, w_qkv, b_qkv).reshape(b, 1, 3, h, d).transpose(2, 0, 3, 1, 4)
    out, _ = SDPA.forward(qkv[0], keys, values, mask=None, scale=1 / float(np.sqrt(d)),
                          dropout_mask=None, weights_out=SimpleNamespace())
    hh = x + LINEAR.forward(out.transpose(0, 2, 1, 3).reshape(b, 1, e), w_out, b_out)
    m, _ = LAYER_NORM.forward(hh, ln2_w, ln2_b, n_axes=1, eps=eps, has_weight=True,
                              has_bias=True)
    m, _ = PRIMITIVES["gelu"].forward(LINEAR.forward(m, w_fc, b_fc), approximate=approximate)
    return qkv, hh + LINEAR.forward(m, w_proj, b_proj)


@pytest.mark.parametrize("b, e, h", SHAPES)
@pytest.mark.parametrize("approximate", ["tanh", "none"])
def test_the_two_primitives_equal_the_canonical_forwards_and_write_nothing(b, e, h,
                                                                           approximate):
    rng = np.random.default_rng(b * e)
    x, qkv_w, rest, keys, values = block_inputs(rng, b, e, h, length=9)
    copies = [a.copy() for a in (x, *qkv_w, *rest, keys, values)]
    keys.flags.writeable = values.flags.writeable = False  # as the cache hands them out
    eps = 1e-5
    ref_qkv, ref_y = reference_block(x, qkv_w, rest, keys, values, h, eps, approximate)
    qkv = DECODE_QKV(Tensor(x), *map(Tensor, qkv_w), eps=eps, num_heads=h)
    assert qkv.shape == (b, 3, h, 1, e // h)
    np.testing.assert_allclose(qkv.data.transpose(1, 0, 2, 3, 4), ref_qkv, rtol=1e-5, atol=1e-5)
    y = DECODE_BLOCK(Tensor(x), qkv, *map(Tensor, rest), keys=keys, values=values,
                     scale=1 / float(np.sqrt(e // h)), eps=eps, approximate=approximate)
    assert y.shape == (b, 1, e) and y.dtype == np.float32
    np.testing.assert_allclose(y.data, ref_y, rtol=1e-4, atol=1e-4)
    for before, after in zip(copies, (x, *qkv_w, *rest, keys, values)):
        np.testing.assert_array_equal(after, before)  # a function of its inputs


def test_flop_counts_grow_with_the_cached_length():
    rng = np.random.default_rng(0)
    short = block_inputs(rng, 1, 32, 4, length=4)
    long = block_inputs(rng, 1, 32, 4, length=40)

    def flops(args):
        x, qkv_w, rest, keys, _ = args
        qkv = np.zeros((1, 3, 4, 1, 8), np.float32)
        return DECODE_BLOCK.flops([x, qkv, *rest], None, {"keys": keys})

    assert 0 < flops(short) < flops(long)
    x, qkv_w = short[0], short[1]
    assert DECODE_QKV.flops([x, *qkv_w], None, {}) > 2 * 32 * 96
