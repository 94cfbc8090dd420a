"""Sampling never draws from NaN: tiny temperatures, infinite logits,
NumPy scalar temperatures; ragged batches get a clear message."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tinytorch.tensor import manual_seed
from tinytorch.transformers import GPT, sample_next_token


@pytest.fixture
def model():
    manual_seed(0)
    return GPT(11, 16, 2, 4, 12)


@pytest.mark.parametrize("temperature", [1e-310, 1e-300, 5e-324, 1e-30])
def test_tiny_temperature_generates_like_greedy_without_warnings(model, temperature):
    # The repro: 1e-310 used to give token 0 at every step (inf - inf = NaN).
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    greedy = model.generate(prompt, 6, temperature=0).data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = model.generate(prompt, 6, temperature=temperature, generator=1).data
    np.testing.assert_array_equal(out, greedy)


@pytest.mark.parametrize("temperature", [1e-310, 1e-3, 1.0, 50.0])
def test_tiny_temperature_on_large_logits_picks_the_maximum(temperature):
    logits = np.array([[1e300, -1e300, 3e300, 0.0]])
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draws = [int(sample_next_token(logits, temperature, generator=rng)[0]) for _ in range(50)]
    assert set(draws) == {2}


@pytest.mark.parametrize("temperature", [np.float32(0.7), np.float64(0.7), np.float16(0.5),
                                         np.int64(1), 1, 0.7])
def test_numpy_and_int_temperatures_are_accepted(model, temperature):
    out = model.generate(np.array([1, 2]), 3, temperature=temperature, generator=3)
    ref = model.generate(np.array([1, 2]), 3, temperature=float(temperature), generator=3)
    np.testing.assert_array_equal(out.data, ref.data)


@pytest.mark.parametrize("temperature, exc", [
    (True, TypeError), ("0.7", TypeError), (None, TypeError), (1j, TypeError),
    (-0.1, ValueError), (float("nan"), ValueError), (float("inf"), ValueError),
    (np.float32("nan"), ValueError),
])
def test_bad_temperatures_are_rejected_by_both_entry_points(model, temperature, exc):
    with pytest.raises(exc, match="temperature"):
        model.generate(np.array([1, 2]), 2, temperature=temperature)
    with pytest.raises(exc, match="temperature"):
        sample_next_token(np.zeros((1, 3)), temperature)


@pytest.mark.parametrize("temperature", [0.0, 1e-310, 1.0])
def test_positive_infinity_is_a_certain_token(temperature):
    logits = np.array([[0.0, np.inf, 5.0, np.inf], [1.0, 2.0, np.inf, 3.0]] * 200)
    draws = sample_next_token(logits, temperature, generator=np.random.default_rng(0))
    assert set(np.unique(draws[0::2])) <= {1, 3}
    assert np.all(draws[1::2] == 2)
    if temperature > 1e-300:  # ties among +inf are equally likely
        assert set(np.unique(draws[0::2])) == {1, 3}


def test_top_k_with_infinite_logits():
    logits = np.array([[-np.inf, 1.0, np.inf, 2.0]])
    for seed in range(20):
        gen = np.random.default_rng(seed)
        assert sample_next_token(logits, 1.0, top_k=2, generator=gen)[0] == 2


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_all_negative_infinity_row_is_a_clear_error(temperature):
    logits = np.array([[0.0, 1.0], [-np.inf, -np.inf]])
    with pytest.raises(ValueError, match="row 1 is -inf"):
        sample_next_token(logits, temperature)


def test_some_negative_infinity_is_never_drawn():
    logits = np.array([[-np.inf, 0.0, -np.inf]] * 500)
    assert np.all(sample_next_token(logits, 2.0, generator=np.random.default_rng(0)) == 1)


@pytest.mark.parametrize("tokens", [[[1, 2, 3], [1, 2]], [[1], [2, 3]]])
def test_ragged_batch_is_a_clear_value_error(model, tokens):
    with pytest.raises(ValueError, match="rectangular batch"):
        model(tokens)
    with pytest.raises(ValueError, match="rectangular batch"):
        model.generate(tokens, 2)
