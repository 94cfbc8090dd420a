"""GPT: forward, gradients, causality, generation and the generation-cache protocol."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401  (enables gradients)
from tinytorch.nn import CrossEntropyLoss, Module
from tinytorch.tensor import Tensor, concat, manual_seed
from tinytorch.transformers import (
    GPT,
    GPTConfig,
    MultiHeadAttention,
    create_causal_mask,
    sample_next_token,
    scaled_dot_product_attention,
)

V, E, L, H, T_MAX = 11, 16, 2, 4, 12


@pytest.fixture
def model():
    manual_seed(0)
    return GPT(V, E, L, H, T_MAX)


def tokens(shape, seed=0):
    return np.random.default_rng(seed).integers(0, V, size=shape)


# ------------------------------------------------------------------ forward


def test_forward_shapes(model):
    assert model(tokens((3, 5))).shape == (3, 5, V)
    assert model(tokens((5,))).shape == (5, V)
    assert model(Tensor(tokens((2, T_MAX)))).shape == (2, T_MAX, V)
    assert model([[1, 2, 3]]).shape == (1, 3, V)


def test_unbatched_equals_batch_of_one(model):
    x = tokens((6,))
    np.testing.assert_allclose(model(x).data, model(x[None]).data[0], rtol=1e-6)


def test_structure(model):
    assert len(model.blocks) == L
    for block in model.blocks:
        assert isinstance(block.attn, MultiHeadAttention)
    names = {n for n, _ in model.named_parameters()}
    assert {"tok_emb.weight", "pos_emb.weight", "blocks.0.attn.qkv.weight",
            "blocks.1.mlp.proj.bias", "ln_f.weight", "head.weight"} <= names
    assert model.generation_cache is None


def test_from_config_builds_the_same_model():
    cfg = GPTConfig(vocab_size=V, embed_dim=E, num_layers=L, num_heads=H, max_seq_len=T_MAX,
                    dropout=0.1, mlp_ratio=2)
    m = GPT.from_config(cfg)
    assert m.config == cfg
    assert m.blocks[0].mlp.hidden_dim == 2 * E
    assert m.blocks[0].attn.dropout == 0.1
    shapes = {n: p.shape for n, p in m.named_parameters()}
    assert shapes["blocks.1.mlp.fc.weight"] == (2 * E, E)
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT.from_config({"vocab_size": V})


@pytest.mark.parametrize(
    "x,kwargs,exc,match",
    [
        (np.array([[0, V]]), {}, ValueError, f"token id {V} is out of range"),
        (np.array([[-1, 0]]), {}, ValueError, "token id -1"),
        (np.zeros((1, T_MAX + 1), np.int64), {}, ValueError, "max_seq_len"),
        (np.zeros((1, 4), np.int64), {"start_pos": T_MAX - 3}, ValueError, "max_seq_len"),
        (np.zeros((1, 4), np.int64), {"start_pos": -1}, ValueError, "start_pos"),
        (np.zeros((1, 4), np.int64), {"start_pos": 1.5}, TypeError, "start_pos"),
        (np.zeros((1, 4), np.float32), {}, TypeError, "integer"),
        (np.zeros((1, 4), bool), {}, TypeError, "integer"),
        (np.zeros((1, 0), np.int64), {}, ValueError, "T >= 1"),
        (np.zeros((1, 2, 3), np.int64), {}, ValueError, r"\(B, T\)"),
    ],
)
def test_forward_errors(model, x, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        model(x, **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    ({"embed_dim": 10, "num_heads": 4}, "divisible"),
    ({"vocab_size": 0}, "vocab_size"),
    ({"max_seq_len": -1}, "max_seq_len"),
    ({"dropout": 1.0}, "dropout"),
])
def test_constructor_errors(kwargs, match):
    args = dict(vocab_size=V, embed_dim=E, num_layers=L, num_heads=H, max_seq_len=T_MAX)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        GPT(**args)


def test_every_parameter_receives_a_gradient(model):
    x = tokens((2, 9), seed=1)
    loss = CrossEntropyLoss()(model(x[:, :-1]), x[:, 1:])
    model.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} received no gradient"
        assert p.grad.shape == p.shape, name
        assert np.all(np.isfinite(p.grad.data)), name
        if name == "pos_emb.weight":  # only the 8 positions used receive a gradient
            assert np.abs(p.grad.data[:8]).sum() > 0 and np.all(p.grad.data[8:] == 0)
        else:
            assert np.abs(p.grad.data).sum() > 0, f"{name} has an all-zero gradient"


def test_attention_is_causal(model):
    x = tokens((2, 10), seed=2)
    base = model(x).data
    for t in (0, 4, 9):
        changed = x.copy()
        changed[:, t] = (changed[:, t] + 1) % V
        out = model(changed).data
        # Earlier positions cannot see token t; position t and later must.
        np.testing.assert_array_equal(out[:, :t], base[:, :t])
        assert not np.allclose(out[:, t:], base[:, t:])


def test_prefix_logits_equal_full_logits(model):
    x = tokens((2, 10), seed=3)
    np.testing.assert_allclose(model(x[:, :4]).data, model(x).data[:, :4], rtol=1e-5, atol=1e-6)


def test_start_pos_uses_absolute_positions(model):
    x = tokens((1, 3), seed=4)
    shifted = GPT(V, E, L, H, T_MAX)
    shifted.load_state_dict(model.state_dict())
    w = model.pos_emb.weight.data
    shifted.pos_emb.weight.data[:] = np.roll(w, -5, axis=0)  # position p -> p + 5
    np.testing.assert_allclose(model(x, start_pos=5).data, shifted(x).data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model(x, start_pos=5).data, model(x).data)


def test_dropout_changes_training_forward_only():
    manual_seed(1)
    m = GPT(V, E, L, H, T_MAX, dropout=0.3)
    x = tokens((2, 6))
    m.eval()
    np.testing.assert_array_equal(m(x).data, m(x).data)
    m.train()
    assert not np.allclose(m(x).data, m(x).data)


# --------------------------------------------------------------- generation


def test_greedy_generation_matches_manual_argmax(model):
    prompt = tokens((2, 3), seed=5)
    out = model.generate(prompt, 6, temperature=0)
    assert out.shape == (2, 9) and out.dtype == np.int64
    np.testing.assert_array_equal(out.data[:, :3], prompt)
    seq = prompt.copy()
    for _ in range(6):
        nxt = model(seq).data[:, -1].argmax(-1)
        seq = np.concatenate([seq, nxt[:, None]], axis=1)
    np.testing.assert_array_equal(out.data, seq)


def test_seeded_sampling_is_reproducible(model):
    prompt = tokens((3, 2), seed=6)
    a = model.generate(prompt, 8, temperature=1.0, generator=42).data
    np.random.seed(0)  # global NumPy state must not matter
    manual_seed(123)  # nor tinytorch's default generator
    b = model.generate(prompt, 8, temperature=1.0, generator=42).data
    c = model.generate(prompt, 8, temperature=1.0, generator=43).data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_generation_crops_context_and_keeps_prompt(model):
    prompt = tokens((T_MAX + 5,), seed=7)
    out = model.generate(prompt, 4, temperature=0)
    assert out.shape == (T_MAX + 9,)
    np.testing.assert_array_equal(out.data[: T_MAX + 5], prompt)
    expected = model(prompt[-T_MAX:]).data[-1].argmax()
    assert out.data[T_MAX + 5] == expected


def test_generate_runs_without_grad_in_eval_and_restores_mode(model):
    model.train()
    model.zero_grad()
    model.generate(tokens((1, 3)), 3, generator=0)
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    model.generate(tokens((1, 3)), 1, generator=0)
    assert not model.training


def test_zero_new_tokens_returns_prompt(model):
    prompt = tokens((2, 4))
    np.testing.assert_array_equal(model.generate(prompt, 0).data, prompt)


@pytest.mark.parametrize("kwargs,exc", [
    ({"max_new_tokens": -1}, ValueError),
    ({"max_new_tokens": 2.0}, TypeError),
    ({"max_new_tokens": 2, "temperature": -0.5}, ValueError),
    ({"max_new_tokens": 2, "temperature": float("nan")}, ValueError),
    ({"max_new_tokens": 2, "top_k": 0}, ValueError),
])
def test_generate_errors(model, kwargs, exc):
    with pytest.raises(exc):
        model.generate(tokens((1, 3)), **kwargs)


def test_sample_next_token_top_k_and_temperature():
    logits = np.log(np.array([[0.1, 0.2, 0.3, 0.4]] * 4000))
    rng = np.random.default_rng(0)
    top2 = sample_next_token(logits, 1.0, top_k=2, generator=rng)
    assert set(np.unique(top2)) == {2, 3}
    assert abs((top2 == 3).mean() - 0.4 / 0.7) < 0.03
    full = sample_next_token(logits, 1.0, generator=rng)
    assert abs((full == 0).mean() - 0.1) < 0.02
    assert np.all(sample_next_token(logits, 0.0) == 3)
    assert np.all(sample_next_token(logits, 1.0, top_k=1, generator=rng) == 3)
    cold = sample_next_token(logits, 0.05, generator=rng)
    assert (cold == 3).mean() > 0.99
    with pytest.raises(ValueError, match="NaN"):
        sample_next_token(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match=r"\(B, V\)"):
        sample_next_token(np.zeros(4))


# ---------------------------------------------------- the cache protocol


class SpyGPT(GPT):
    """Records (T, start_pos) of every forward."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def forward(self, tokens, start_pos=0):
        self.calls.append((np.asarray(tokens).shape[-1], start_pos))
        return super().forward(tokens, start_pos)


class CountingCache:
    def __init__(self):
        self.resets = 0

    def reset(self):
        self.resets += 1


def test_without_cache_every_step_runs_the_cropped_context():
    manual_seed(0)
    m = SpyGPT(V, E, 1, H, 6)
    m.generate(tokens((1, 4)), 5, generator=0)
    assert m.calls == [(4, 0), (5, 0), (6, 0), (6, 0), (6, 0)]


def test_cache_protocol_prefill_then_single_tokens_with_sliding_window():
    manual_seed(0)
    m = SpyGPT(V, E, 1, H, 6)
    m.generation_cache = cache = CountingCache()
    m.generate(tokens((2, 4)), 6, generator=0)
    # prefill 4 at 0; decode at 4 and 5; the cache is full (6): each later
    # step re-fills the last 6 at 0 (the uncached context exactly); the 6th
    # token needs no forward.
    assert m.calls == [(4, 0), (1, 4), (1, 5), (6, 0), (6, 0), (6, 0)]
    assert cache.resets == 4
    m.calls.clear()
    m.generate(tokens((1, 4)), 3, use_cache=False)
    assert m.calls == [(4, 0), (5, 0), (6, 0)] and cache.resets == 4


class ConcatKVAttention(Module):
    """A minimal cache wrapper built only from the documented extension points."""

    def __init__(self, attn):
        super().__init__()
        self.attn = attn
        self.k = self.v = None

    def forward(self, x, mask=None, start_pos=None):
        q, k, v = self.attn.project_qkv(x)  # (B, H, T, D)
        if self.k is not None:
            k = concat([self.k, k], axis=2)
            v = concat([self.v, v], axis=2)
        self.k, self.v = k, v
        t, tk = q.shape[2], k.shape[2]
        out, _ = scaled_dot_product_attention(q, k, v, create_causal_mask(t, tk))
        return self.attn.project_output(out)


class ConcatCache:
    def __init__(self, model):
        self.wrappers = []
        for block in model.blocks:
            block.attn = ConcatKVAttention(block.attn)
            self.wrappers.append(block.attn)

    def reset(self):
        for w in self.wrappers:
            w.k = w.v = None


@pytest.mark.parametrize("batch", [1, 3])
def test_a_cache_built_on_the_extension_points_gives_the_same_tokens(batch):
    manual_seed(3)
    plain = GPT(V, E, L, H, T_MAX)
    cached = GPT(V, E, L, H, T_MAX)
    cached.load_state_dict(plain.state_dict())
    cached.generation_cache = ConcatCache(cached)
    prompt = tokens((batch, 3), seed=8)
    for kwargs in ({"temperature": 0}, {"temperature": 1.0, "top_k": 5, "generator": 11}):
        a = plain.generate(prompt, T_MAX - 3, **kwargs).data
        b = cached.generate(prompt, T_MAX - 3, **kwargs).data
        np.testing.assert_array_equal(a, b)
    # Step by step, the decode logits equal the full forward's last row.
    seq = tokens((batch, 5), seed=9)
    cached.generation_cache.reset()
    cached(seq[:, :4], start_pos=0)
    np.testing.assert_allclose(cached(seq[:, 4:5], start_pos=4).data[:, -1],
                               plain(seq).data[:, -1], rtol=1e-5, atol=1e-5)


def test_forward_hands_start_pos_to_every_block_and_attention():
    """The position of a chunk reaches a swapped attention as an argument:
    GPT.forward calls block(x, mask, start_pos), the block attn(h, mask, start_pos)."""
    manual_seed(0)
    m = GPT(V, E, 2, H, 16)
    seen = []

    class SpyAttention(Module):
        def __init__(self, attn):
            super().__init__()
            self.attn = attn

        def forward(self, x, mask=None, start_pos=None):
            seen.append((x.shape[1], start_pos))
            return self.attn(x, mask, start_pos)

    for block in m.blocks:
        block.attn = SpyAttention(block.attn)
    m(tokens((1, 5)), start_pos=3)
    m(tokens((1, 1)), start_pos=8)
    assert seen == [(5, 3), (5, 3), (1, 8), (1, 8)]


class CapacityCache(CountingCache):
    max_seq_len = 4


def test_a_cache_with_a_smaller_capacity_slides_within_it():
    """generate() slides its window within min(max_seq_len, cache.max_seq_len)."""
    manual_seed(0)
    m = SpyGPT(V, E, 1, H, 6)
    m.generation_cache = CapacityCache()
    m.generate(tokens((1, 3)), 4, generator=0)
    # prefill 3 at 0; decode at 3; then the cache (4) is full: re-fill the last 4.
    assert m.calls == [(3, 0), (1, 3), (4, 0), (4, 0)]
