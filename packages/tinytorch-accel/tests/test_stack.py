"""compile() on the transformer models (skipped without tinytorch-transformers;
the stack session runs these with every package installed)."""

from __future__ import annotations

import numpy as np
import pytest

transformers = pytest.importorskip("tinytorch.transformers")

from tinytorch.accel import CompileError, compile  # noqa: E402
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.tensor import manual_seed, wrap  # noqa: E402


def rel_error(got, want) -> float:
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


def randn(shape, seed):
    return wrap(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


@pytest.mark.parametrize("with_mask", [False, True])
def test_transformer_block(with_mask):
    manual_seed(0)
    block = transformers.TransformerBlock(32, 4).eval()
    mask = transformers.create_causal_mask(10) if with_mask else None
    fast = compile(block, (randn((2, 10, 32), 0), mask))
    with no_grad():
        for seed in (1, 2):
            x = randn((2, 10, 32), seed)
            got, want = fast(x, mask).numpy(), block(x, mask).numpy()
            assert rel_error(got, want) <= 1e-6
    assert fast.stats["traces"] == 1 and fast.stats["replays"] == 2


def small_gpt():
    manual_seed(0)
    return transformers.GPT(vocab_size=50, embed_dim=32, num_layers=2, num_heads=4,
                            max_seq_len=24).eval()


def test_gpt_forward_token_ids_are_inputs():
    gpt = small_gpt()
    rng = np.random.default_rng(0)
    fast = compile(gpt, (rng.integers(0, 50, size=(2, 16)),))
    with no_grad():
        for _ in range(3):
            ids = rng.integers(0, 50, size=(2, 16))
            got, want = fast(ids).numpy(), gpt(ids).numpy()
            assert rel_error(got, want) <= 1e-6
    assert fast.stats == {"replays": 3, "traces": 1, "eager": 0}


def test_gpt_new_length_retraces_and_bad_ids_raise_the_models_error():
    gpt = small_gpt()
    fast = compile(gpt, (np.zeros((1, 8), dtype=np.int64) + 3,))
    with no_grad():
        ids = np.arange(12).reshape(1, 12)
        assert rel_error(fast(ids).numpy(), gpt(ids).numpy()) <= 1e-6
        assert fast.stats["traces"] == 2
        with pytest.raises(ValueError, match="out of range"):
            fast(np.full((1, 8), 99))


def test_kv_cache_decode_step_is_refused():
    kvcache = pytest.importorskip("tinytorch.kvcache")
    gpt = small_gpt()
    kvcache.enable_kv_cache(gpt)
    with no_grad():
        gpt(np.array([[1, 2, 3]]), 0)  # prefill
        with pytest.raises(CompileError, match="stateful"):
            compile(gpt, (np.array([[4]]), 3))


@pytest.mark.parametrize("example,call", [
    (wrap(np.array([[1, 2, 3, 4]])), wrap(np.array([[5, 6, 7, 8]]))),  # Tensor ids
    (np.array([1, 2, 3]), np.array([4, 5, 6])),  # unbatched: the model indexes a view
], ids=["tensor-ids", "unbatched-ids"])
def test_gpt_ids_in_other_forms(example, call):
    gpt = small_gpt()
    fast = compile(gpt, (example,))
    with no_grad():
        np.testing.assert_array_equal(fast(call).numpy(), gpt(call).numpy())
    assert fast.stats == {"replays": 1, "traces": 1, "eager": 0}
