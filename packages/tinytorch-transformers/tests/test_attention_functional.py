"""scaled_dot_product_attention and create_causal_mask: values, masks, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd as ag
from tinytorch.tensor import Generator, Tensor, hooks
from tinytorch.transformers import SDPA, create_causal_mask, scaled_dot_product_attention


def reference_attention(q, k, v, mask=None, scale=None):
    """Loop-free NumPy reference, float64, written independently of the primitive.

    Blocked positions are removed by multiplying the exponentials by 0 (not
    by adding a number to the scores), so a convention error in the code
    under test cannot be reproduced here by accident.
    """
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    d = q.shape[-1]
    s = np.einsum("...qd,...kd->...qk", q, k) * (1.0 / np.sqrt(d) if scale is None else scale)
    allowed = np.ones(s.shape, dtype=bool)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == np.bool_:
            allowed = np.broadcast_to(mask, s.shape)
        else:
            allowed = np.broadcast_to(np.isfinite(mask), s.shape)
            s = s + np.where(np.isfinite(mask), mask, 0.0)
    shift = np.max(np.where(allowed, s, np.min(s)), axis=-1, keepdims=True)
    e = np.exp(s - shift) * allowed
    total = e.sum(-1, keepdims=True)
    w = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return np.einsum("...qk,...kd->...qd", w, v), w


def rand(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def t64(a, grad=True):
    return Tensor(a, dtype="float64", requires_grad=grad)


def additive(bool_mask):
    return np.where(bool_mask, 0.0, -np.inf)


def _row_block(tq, tk):
    m = np.tril(np.ones((tq, tk), dtype=bool), k=tk - tq)
    m[1] = False  # query 1 sees nothing
    return m


# (name, q shape, k shape, v shape, mask builder(tq, tk) or None)
CASES = [
    ("4d no mask", (2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4), None),
    ("4d causal bool", (2, 2, 6, 4), (2, 2, 6, 4), (2, 2, 6, 3),
     lambda tq, tk: create_causal_mask(tq).data),
    ("4d causal additive", (1, 2, 6, 4), (1, 2, 6, 4), (1, 2, 6, 4),
     lambda tq, tk: additive(create_causal_mask(tq).data)),
    ("4d finite additive bias", (2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3),
     lambda tq, tk: rand((tq, tk), 9)),
    ("3d causal", (3, 5, 4), (3, 5, 4), (3, 5, 2), lambda tq, tk: create_causal_mask(tq).data),
    ("3d Tq != Tk, no mask", (2, 3, 4), (2, 7, 4), (2, 7, 5), None),
    ("4d Tq != Tk chunk mask", (2, 2, 3, 4), (2, 2, 8, 4), (2, 2, 8, 4),
     lambda tq, tk: create_causal_mask(tq, tk).data),
    ("4d per-batch padding mask", (2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3),
     lambda tq, tk: np.array([[True] * 4, [True, True, False, False]])[:, None, None, :]),
    ("fully blocked row bool", (2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 3), _row_block),
    ("fully blocked row additive", (2, 2, 4, 3), (2, 2, 5, 3), (2, 2, 5, 3),
     lambda tq, tk: additive(_row_block(tq, tk))),
]


@pytest.mark.parametrize("name,qs,ks,vs,mk", CASES, ids=[c[0] for c in CASES])
def test_forward_matches_reference(name, qs, ks, vs, mk):
    q, k, v = rand(qs, 1), rand(ks, 2), rand(vs, 3)
    mask = None if mk is None else mk(qs[-2], ks[-2])
    out, w = scaled_dot_product_attention(t64(q, False), t64(k, False), t64(v, False), mask)
    ref_out, ref_w = reference_attention(q, k, v, mask)
    assert out.shape == qs[:-1] + vs[-1:]
    assert w.shape == qs[:-1] + (ks[-2],)
    np.testing.assert_allclose(out.data, ref_out, atol=1e-12)
    np.testing.assert_allclose(w.data, ref_w, atol=1e-12)
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(w.data))


@pytest.mark.parametrize("name,qs,ks,vs,mk", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, qs, ks, vs, mk):
    q, k, v = t64(rand(qs, 4)), t64(rand(ks, 5)), t64(rand(vs, 6))
    mask = None if mk is None else mk(qs[-2], ks[-2])
    assert ag.gradcheck(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0], (q, k, v))


def test_gradcheck_with_dropout():
    q, k, v = t64(rand((2, 2, 4, 3), 7)), t64(rand((2, 2, 4, 3), 8)), t64(rand((2, 2, 4, 3), 9))
    mask = create_causal_mask(4)

    def fn(a, b, c):  # a fresh generator per call: the same dropout pattern every time
        return scaled_dot_product_attention(a, b, c, mask, dropout_p=0.3,
                                            generator=Generator(123))[0]

    assert ag.gradcheck(fn, (q, k, v))


def test_dropout_is_inverted_and_seeded():
    q, k, v = (Tensor(rand((1, 1, 64, 8), s)) for s in (1, 2, 3))
    a, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=Generator(0))
    b, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=Generator(0))
    c, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.5, generator=Generator(1))
    plain, _ = scaled_dot_product_attention(q, k, v)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.allclose(a.data, c.data)
    assert not np.allclose(a.data, plain.data)
    # The returned weights are the probabilities before dropout.
    np.testing.assert_allclose(w.data.sum(-1), 1.0, rtol=1e-5)


def test_fully_blocked_row_is_zero_and_passes_no_gradient():
    mask = np.ones((3, 4), dtype=bool)
    mask[0] = False
    q, k, v = t64(rand((1, 3, 2), 1)), t64(rand((1, 4, 2), 2)), t64(rand((1, 4, 2), 3))
    out, w = scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_array_equal(out.data[0, 0], 0.0)
    np.testing.assert_array_equal(w.data[0, 0], 0.0)
    out.sum().backward()
    for t in (q, k, v):
        assert np.all(np.isfinite(t.grad.data))
    np.testing.assert_array_equal(q.grad.data[0, 0], 0.0)  # the blocked query gets nothing


def test_large_scores_are_masked_exactly_float32():
    """A finite -1e9 would leak here: the scores are ~1e9 themselves."""
    q = np.zeros((1, 1, 3, 1), dtype=np.float32)
    q[..., 0] = 1e5
    k = np.zeros((1, 1, 3, 1), dtype=np.float32)
    k[..., 0] = [1e4, 2e4, 3e4]  # scores 1e9, 2e9, 3e9: the future (key 2) is the largest
    v = np.eye(3, dtype=np.float32)[None, None]
    mask = create_causal_mask(3)
    for m in (mask, Tensor(additive(mask.data), dtype="float32")):
        out, w = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), m)
        # Query 0 may only see key 0; query 1 keys 0-1 (key 1 dominates).
        np.testing.assert_array_equal(w.data[0, 0, 0], [1.0, 0.0, 0.0])
        np.testing.assert_array_equal(w.data[0, 0, 1], [0.0, 1.0, 0.0])
        np.testing.assert_array_equal(w.data[0, 0, 2], [0.0, 0.0, 1.0])
        assert np.all(np.isfinite(out.data))
        assert np.triu(w.data[0, 0], k=1).max() == 0.0  # nothing leaks into the future


def test_bool_and_additive_masks_agree():
    q, k, v = (t64(rand((2, 2, 5, 3), s), False) for s in (1, 2, 3))
    m = create_causal_mask(5)
    a, wa = scaled_dot_product_attention(q, k, v, m)
    b, wb = scaled_dot_product_attention(q, k, v, additive(m.data))
    np.testing.assert_allclose(a.data, b.data, atol=1e-14)
    np.testing.assert_allclose(wa.data, wb.data, atol=1e-14)


def test_mask_true_means_attend():
    # The all-True mask is the same as no mask; the causal mask zeroes the
    # strict upper triangle (an inverted convention would do the opposite).
    q, k, v = (t64(rand((1, 4, 3), s), False) for s in (1, 2, 3))
    ones = np.ones((4, 4), dtype=bool)
    np.testing.assert_allclose(scaled_dot_product_attention(q, k, v, ones)[0].data,
                               scaled_dot_product_attention(q, k, v)[0].data)
    w = scaled_dot_product_attention(q, k, v, create_causal_mask(4))[1].data[0]
    assert np.all(np.triu(w, k=1) == 0.0) and np.all(w[np.tril_indices(4)] > 0.0)


def test_one_dispatch_and_honest_flops():
    q, k, v = (Tensor(rand((2, 3, 5, 4), s)) for s in (1, 2, 3))
    seen = []
    with hooks(lambda op, inputs, out, params, saved: seen.append(op)):
        scaled_dot_product_attention(q, k, v, create_causal_mask(5))
    assert seen == [SDPA]
    flops = SDPA.flops([q.data, k.data, v.data], None,
                       {"mask": np.ones((5, 5), bool), "dropout_mask": None})
    batch, tq, tk, d = 6, 5, 5, 4
    assert flops >= 2 * batch * tq * tk * d * 2  # at least the two matmuls


def test_float32_stays_float32_and_weights_are_read_only():
    q, k, v = (Tensor(rand((1, 2, 3, 4), s, np.float32)) for s in (1, 2, 3))
    out, w = scaled_dot_product_attention(q, k, v, create_causal_mask(3))
    assert out.dtype == np.float32 and w.dtype == np.float32
    assert not w.data.flags.writeable
    assert not w.requires_grad


def test_weights_do_not_require_grad_but_output_does():
    q, k, v = (t64(rand((1, 3, 2), s)) for s in (1, 2, 3))
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.requires_grad and not w.requires_grad


def test_no_grad_records_nothing():
    q, k, v = (t64(rand((1, 3, 2), s)) for s in (1, 2, 3))
    with ag.no_grad():
        out, _ = scaled_dot_product_attention(q, k, v)
    assert out.grad_fn is None


@pytest.mark.parametrize(
    "args,kwargs,exc,match",
    [
        (((1, 4, 3), (1, 5, 2), (1, 5, 3)), {}, ValueError, "shapes disagree"),
        (((1, 4, 3), (1, 5, 3), (1, 6, 3)), {}, ValueError, "shapes disagree"),
        (((2, 4, 3), (1, 4, 3), (1, 4, 3)), {}, ValueError, "shapes disagree"),
        (((4,), (4,), (4,)), {}, ValueError, "number"),
        (((1, 2, 4, 3), (2, 4, 3), (2, 4, 3)), {}, ValueError, "number"),
        (((1, 4, 3), (1, 4, 3), (1, 4, 3)), {"mask": np.ones((4, 5), bool)}, ValueError,
         r"mask of shape \(4, 5\)"),
        (((1, 4, 3), (1, 4, 3), (1, 4, 3)), {"mask": np.ones((2, 4, 4), bool)}, ValueError,
         "does not fit"),
        (((1, 4, 3), (1, 4, 3), (1, 4, 3)), {"mask": np.ones((4, 4), np.int64)}, TypeError,
         "bool"),
        (((1, 4, 3), (1, 4, 3), (1, 4, 3)), {"dropout_p": 1.0}, ValueError, "dropout_p"),
        (((1, 4, 3), (1, 4, 3), (1, 4, 3)), {"dropout_p": -0.1}, ValueError, "dropout_p"),
    ],
)
def test_errors(args, kwargs, exc, match):
    q, k, v = (Tensor(np.zeros(s, np.float32)) for s in args)
    with pytest.raises(exc, match=match):
        scaled_dot_product_attention(q, k, v, **kwargs)


def test_errors_dtypes():
    f32 = Tensor(np.zeros((1, 2, 2), np.float32))
    with pytest.raises(TypeError, match="share a dtype"):
        scaled_dot_product_attention(f32, f32, Tensor(np.zeros((1, 2, 2)), dtype="float64"))
    with pytest.raises(TypeError, match="floating point"):
        scaled_dot_product_attention(Tensor(np.zeros((1, 2, 2), np.int64)), f32, f32)


@pytest.mark.parametrize("tq,tk", [(1, 1), (4, 4), (3, 7), (1, 9)])
def test_causal_mask_shape_and_convention(tq, tk):
    m = create_causal_mask(tq, tk).data
    assert m.shape == (tq, tk) and m.dtype == np.bool_
    i = np.arange(tq)[:, None] + (tk - tq)
    j = np.arange(tk)[None, :]
    np.testing.assert_array_equal(m, j <= i)
    assert m[-1].all()  # the newest query sees every key
    assert not m.flags.writeable


@pytest.mark.parametrize("args,exc", [((0,), ValueError), ((3, 2), ValueError),
                                      ((2.0,), TypeError), ((True,), TypeError)])
def test_causal_mask_errors(args, exc):
    with pytest.raises(exc):
        create_causal_mask(*args)
