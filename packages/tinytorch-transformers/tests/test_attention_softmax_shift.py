"""The attention softmax skips the max shift when no score can overflow exp.

Both paths (shift-free for small scores, shifted for large ones) must give
the softmax of a float64 reference that always shifts, with and without
masks (a fully blocked query included), in float32 and float64.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.tensor import Tensor, kernels
from tinytorch.transformers import scaled_dot_product_attention


def reference(q, k, v, mask):
    s = (q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64)) / np.sqrt(q.shape[-1])
    if mask is not None and mask.dtype == np.bool_:
        s = np.where(mask, s, -np.inf)
    elif mask is not None:
        s = s + mask
    m = s.max(axis=-1, keepdims=True)
    m[~np.isfinite(m)] = 0.0
    p = np.exp(s - m)
    d = p.sum(axis=-1, keepdims=True)
    d[d == 0] = 1.0
    p /= d
    return p @ v.astype(np.float64), p


def causal_with_blocked_row(t):
    mask = np.tril(np.ones((t, t), dtype=bool))
    mask[2] = False  # query 2 sees nothing: weights 0, output 0
    return mask


MASKS = {
    "none": lambda t: None,
    "causal, a blocked row": causal_with_blocked_row,
    "additive": lambda t: np.where(np.tril(np.ones((t, t), bool)), 0.5, -np.inf),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_name", sorted(MASKS))
@pytest.mark.parametrize("magnitude, shift_free", [(0.3, True), (40.0, False)])
def test_both_paths_match_the_shifted_reference(dtype, mask_name, magnitude, shift_free):
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal((2, 3, 9, 8)).astype(dtype) for _ in range(3))
    q *= magnitude
    k *= magnitude
    mask = MASKS[mask_name](9)
    if mask is not None and mask.dtype != np.bool_:
        mask = mask.astype(dtype)
    qs = q * np.asarray(1.0 / np.sqrt(8), dtype=dtype)
    assert kernels.scores_may_overflow(qs, k) == (not shift_free)
    out, weights = scaled_dot_product_attention(*(Tensor(a, dtype=dtype) for a in (q, k, v)), mask)
    assert out.dtype == dtype
    ref_out, ref_w = reference(q, k, v, mask)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(weights.data, ref_w, rtol=tol, atol=tol)
    np.testing.assert_allclose(out.data, ref_out, rtol=tol * 10, atol=tol * magnitude * 10)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_inputs_take_the_shifted_path(bad):
    q = np.ones((1, 4, 8), np.float32)
    k = np.ones((1, 4, 8), np.float32)
    k[0, 1, 0] = bad
    assert kernels.scores_may_overflow(q, k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tq, tk", [(9, 9), (4, 9), (1, 6)])
@pytest.mark.parametrize("magnitude", [0.3, 40.0])
def test_cached_causal_mask_gives_the_values_of_a_copy_of_it(dtype, tq, tk, magnitude):
    # create_causal_mask's cached array takes the additive-bias path when the
    # softmax is not shifted; an equal mask that is another array takes the
    # masked copy. Both must give the same bits (and match the reference).
    from tinytorch.transformers import create_causal_mask

    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 3, tq, 8)).astype(dtype) * magnitude
    k, v = (rng.standard_normal((2, 3, tk, 8)).astype(dtype) * magnitude for _ in range(2))
    cached = create_causal_mask(tq, tk)
    copy = np.array(cached.data)  # same values, another array
    args = [Tensor(a, dtype=dtype) for a in (q, k, v)]
    out_cached, w_cached = scaled_dot_product_attention(*args, cached)
    out_copy, w_copy = scaled_dot_product_attention(*args, copy)
    np.testing.assert_array_equal(w_cached.data, w_copy.data)
    np.testing.assert_array_equal(out_cached.data, out_copy.data)
    ref_out, ref_w = reference(q, k, v, copy)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(w_cached.data, ref_w, rtol=tol, atol=tol)
    np.testing.assert_allclose(out_cached.data, ref_out, rtol=tol * 10, atol=tol * magnitude * 10)


@pytest.mark.parametrize("q_scale, k_scale", [(0.01, 0.01), (0.2, 3.0), (1.0, 1.0), (0.5, 9.0),
                                              (3.0, 3.0), (10.0, 10.0)])
def test_scores_may_overflow_is_never_wrong_when_it_says_no(q_scale, k_scale):
    # False must mean every |q_i . k_j| is below the limit (whichever of the
    # two bounds decided it); True must mean the row-norm bound is not below it.
    rng = np.random.default_rng(11)
    q = (rng.standard_normal((2, 4, 16, 8)) * q_scale).astype(np.float32)
    k = (rng.standard_normal((2, 4, 16, 8)) * k_scale).astype(np.float32)
    q[0, 0, 0] = 0.0  # rows of very different norms: the two bounds differ
    limit = kernels.EXP_SAFE - np.log(16)
    scores = np.abs(q.astype(np.float64) @ np.swapaxes(k, -1, -2).astype(np.float64))
    row_bound = np.sqrt(np.einsum("...d,...d->...", q, q).max()
                        * np.einsum("...d,...d->...", k, k).max())
    may = kernels.scores_may_overflow(q, k)
    if not may:
        assert scores.max() < limit
    assert may == (not row_bound < limit)
