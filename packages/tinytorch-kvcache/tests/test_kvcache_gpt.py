"""The cache on a real GPT: equal logits, equal gradients, the swap, the pitfalls."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import tinytorch.kvcache as kvcache_pkg
from tinytorch.autograd import no_grad
from tinytorch.kvcache import (
    DECODE_BLOCK,
    DECODE_QKV,
    CachedMultiHeadAttention,
    CachedTransformerBlock,
    disable_kv_cache,
    enable_kv_cache,
    generate,
    is_kv_cache_enabled,
)
from tinytorch.nn import Linear, Module
from tinytorch.nn import functional as F
from tinytorch.tensor import hooks, manual_seed
from tinytorch.transformers import GPT, SDPA, MultiHeadAttention, TransformerBlock

V, E, H, S = 23, 16, 4, 32


def make_gpt(layers: int, seed: int = 0, max_seq_len: int = S, dropout: float = 0.0,
             scale: float = 0.3) -> GPT:
    """A GPT with weights N(0, scale): sharper distributions than the 0.02
    initialisation, so that greedy decoding has no near-ties."""
    manual_seed(seed)
    model = GPT(V, E, layers, H, max_seq_len, dropout=dropout)
    rng = np.random.default_rng(seed)
    model.load_state_dict({k: (rng.standard_normal(v.shape) * scale).astype(v.dtype)
                           for k, v in model.state_dict().items()})
    return model


def prompt_of(batch: int, length: int = 5, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, V, (batch, length))


def step_logits(model, run):
    """Run ``run()`` and return (its result, the last-position logits of every
    forward of the model during it), captured at the output head."""
    captured = []
    handle = model.head.register_forward_hook(
        lambda m, args, out: captured.append(out.data[:, -1].copy()))
    try:
        result = run()
    finally:
        handle.remove()
    return result, captured


def count_ops(run):
    """Run ``run()`` and return (its result, {primitive name: times dispatched})."""
    counts = {}

    def post(op, inputs, out, params, saved):
        counts[op.name] = counts.get(op.name, 0) + 1

    with hooks(post=post):
        result = run()
    return result, counts


def assert_cached_equals_uncached(model, prompt, n, *, atol):
    """Generate ``n`` tokens greedily without the cache, then with
    ``kvcache.generate``: the same tokens, and at every step (prefill and
    n - 1 decode steps) last-position logits within ``atol``. Returns the op
    counts of the cached run."""
    out_u, logits_u = step_logits(
        model, lambda: model.generate(prompt, n, temperature=0, use_cache=False))
    (out_c, logits_c), counts = count_ops(
        lambda: step_logits(model, lambda: generate(model, prompt, n, temperature=0)))
    assert len(logits_u) == len(logits_c) == n
    for step, (u, c) in enumerate(zip(logits_u, logits_c)):
        np.testing.assert_allclose(c, u, rtol=0, atol=atol, err_msg=f"step {step}")
    np.testing.assert_array_equal(out_c.data, out_u.data)
    return counts


# ------------------------------------------------------------ correctness


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("batch", [1, 3])
def test_cached_logits_equal_uncached_at_every_step(layers, batch):
    model = make_gpt(layers)
    assert_cached_equals_uncached(model, prompt_of(batch), 12, atol=1e-5)
    assert not is_kv_cache_enabled(model)  # enabled for the call only


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("temperature, top_k", [(0.0, None), (1.0, None), (0.8, 5)])
def test_greedy_and_seeded_sampling_give_identical_tokens(batch, temperature, top_k):
    model = make_gpt(2, seed=3)
    prompt = prompt_of(batch, 4, seed=5)
    uncached = model.generate(prompt, 20, temperature, top_k, seed=7, use_cache=False)
    cached = generate(model, prompt, 20, temperature, top_k, seed=7)
    np.testing.assert_array_equal(cached.data, uncached.data)
    # GPT.generate itself uses the cache once it is enabled.
    enable_kv_cache(model)
    np.testing.assert_array_equal(model.generate(prompt, 20, temperature, top_k,
                                                 seed=7).data, uncached.data)


def test_one_dimensional_prompt_and_zero_new_tokens():
    model = make_gpt(1)
    prompt = prompt_of(1)[0]
    out = generate(model, prompt, 6, temperature=0)
    assert out.shape == (11,)
    np.testing.assert_array_equal(
        out.data, model.generate(prompt, 6, temperature=0, use_cache=False).data)
    np.testing.assert_array_equal(generate(model, prompt, 0).data, prompt)


def test_sliding_window_refills_the_cache_correctly():
    """Beyond max_seq_len, GPT.generate's policy re-fills the cache on the last
    max_seq_len tokens (positions restart at 0): cached and uncached generation
    agree at every step, and every cached step's logits equal an uncached
    forward over exactly the context that step holds."""
    window, t0, n = 10, 6, 15
    model = make_gpt(2, max_seq_len=window)
    prompt = prompt_of(2, t0)
    out_u, logits_u = step_logits(
        model, lambda: model.generate(prompt, n, temperature=0, use_cache=False))
    enable_kv_cache(model)
    calls = []  # (start_pos, T) of every forward
    handle = model.pos_emb.register_forward_pre_hook(
        lambda m, args: calls.append((args[1], args[0].shape[1])))
    out_c, logits_c = step_logits(model, lambda: model.generate(prompt, n, temperature=0))
    handle.remove()
    seq = out_c.data
    assert len(logits_c) == len(calls) == n
    assert any(start == 0 for start, _ in calls[1:])  # the window was re-filled
    np.testing.assert_array_equal(seq, out_u.data)
    disable_kv_cache(model)
    context_start = 0
    for step, ((start, t), logits) in enumerate(zip(calls, logits_c)):
        end = t0 + step  # tokens known when this step's logits are computed
        if start == 0:
            context_start = end - t
        assert end - context_start == start + t  # positions 0..start+t-1 are cached
        np.testing.assert_allclose(logits, logits_u[step], rtol=0, atol=1e-5)
        with no_grad():
            ref = model(seq[:, context_start:end]).data[:, -1]
        np.testing.assert_allclose(logits, ref, rtol=0, atol=1e-5, err_msg=f"step {step}")


def test_chunked_prefill_uses_the_offset_causal_mask():
    """A prompt fed in two chunks (the second with T > 1 at start_pos > 0) gives
    the logits of the whole prompt at once: each new query sees the cached past
    and only the earlier tokens of its own chunk."""
    model = make_gpt(3)
    tokens = prompt_of(2, 9)
    with no_grad():
        ref = model(tokens).data
        enable_kv_cache(model)
        first = model(tokens[:, :4], start_pos=0).data
        second = model(tokens[:, 4:8], start_pos=4).data
        last = model(tokens[:, 8:], start_pos=8).data
    got = np.concatenate([first, second, last], axis=1)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def test_large_scores_stay_finite_and_equal():
    """Scores of magnitude ~1e3: the decode softmax subtracts the row max (no
    overflow, no -1e9 constant swamping real scores)."""
    model = make_gpt(2)
    for block in model.blocks:
        block.attn.qkv.weight.data *= 30.0
    prompt = prompt_of(1)
    _, logits_u = step_logits(
        model, lambda: model.generate(prompt, 8, temperature=0, use_cache=False))
    _, logits_c = step_logits(model, lambda: generate(model, prompt, 8, temperature=0))
    for u, c in zip(logits_u, logits_c):
        assert np.isfinite(c).all()
        np.testing.assert_allclose(c, u, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_training_with_the_cache_enabled_gives_the_same_gradients(dropout):
    """Path 1: with grad mode on, the wrapper runs the original forward and
    never touches the cache, so a training step is bitwise the same."""
    tokens = prompt_of(3, 8, seed=2)
    targets = prompt_of(3, 8, seed=4)
    grads = []
    for cached in (False, True):
        model = make_gpt(2, dropout=dropout)
        if cached:
            model.eval()
            cache = enable_kv_cache(model)
            model.train()  # reaches the wrapper; the original must follow
        manual_seed(11)  # the same dropout masks for both runs
        logits = model(tokens)
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))
        loss.backward()
        grads.append({name: p.grad.data.copy() for name, p in model.named_parameters()})
        if cached:
            assert cache.seq_len == 0 and cache.pending == 0
            assert all(not k.any() for k in cache._keys)  # never written
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        np.testing.assert_array_equal(grads[1][name], grads[0][name], err_msg=name)


# ------------------------------------------------ the pitfalls of KV caches


def attention_inputs(model, tokens):
    """The input of every block's attention (the output of its ln1) in an
    uncached forward over ``tokens``, and the keys/values the original
    modules compute from them: [(K, V)] per layer, (B, H, T, D) each."""
    captured = []
    handles = [b.ln1.register_forward_hook(lambda m, a, out: captured.append(out))
               for b in model.blocks]
    was_enabled = is_kv_cache_enabled(model)
    originals = [b.attn.original if was_enabled else b.attn for b in model.blocks]
    try:
        with no_grad():
            if was_enabled:
                disable_kv_cache(model)
            model(tokens)
            kv = [tuple(t.data for t in orig.project_qkv(x)[1:])
                  for orig, x in zip(originals, captured)]
    finally:
        for h in handles:
            h.remove()
        if was_enabled:
            enable_kv_cache(model)
    return kv


def test_prefill_writes_every_prompt_token_including_the_first():
    model = make_gpt(3)
    prompt = prompt_of(2, 6)
    cache = enable_kv_cache(model)
    with no_grad():
        model(prompt, start_pos=0)
    assert cache.seq_len == 6
    for layer, (k_ref, v_ref) in enumerate(attention_inputs(model, prompt)):
        keys, values = cache.get(layer)
        assert keys.shape == k_ref.shape == (2, H, 6, E // H)
        np.testing.assert_allclose(keys[:, :, 0], k_ref[:, :, 0], rtol=0, atol=1e-6)
        np.testing.assert_allclose(keys, k_ref, rtol=0, atol=1e-6)
        np.testing.assert_allclose(values, v_ref, rtol=0, atol=1e-6)


def test_decode_steps_get_their_own_positions():
    """Each decode step runs at start_pos = tokens so far (never 0), and the key
    it writes equals the key of that position in a full uncached forward
    (positional information included)."""
    model = make_gpt(2)
    prompt = prompt_of(1, 4)
    cache = enable_kv_cache(model)
    positions = []
    handle = model.pos_emb.register_forward_pre_hook(lambda m, args: positions.append(args[1]))
    out = model.generate(prompt, 7, temperature=0)
    handle.remove()
    assert positions == [0, 4, 5, 6, 7, 8, 9]  # prefill, then one position per step
    assert cache.seq_len == 10  # 4 prompt tokens + 6 decoded (the 7th is never fed)
    full = out.data[:, :10]
    for layer, (k_ref, v_ref) in enumerate(attention_inputs(model, full)):
        keys, values = cache.get(layer)
        np.testing.assert_allclose(keys, k_ref, rtol=0, atol=1e-5)
        np.testing.assert_allclose(values, v_ref, rtol=0, atol=1e-5)


def test_decode_attends_to_the_token_it_just_wrote():
    """get() inside a step includes the new token: a decode output must use the
    new key. Overwriting the just-written slot after the step changes what a
    recomputation would give, so compare the step's output with attention over
    cache[:seq_len + 1] computed by hand."""
    model = make_gpt(1)
    prompt = prompt_of(1, 3)
    cache = enable_kv_cache(model)
    attn = model.blocks[0].attn
    seen = []
    handle = attn.register_forward_hook(lambda m, args, out: seen.append((args[0], out)))
    with no_grad():
        model(prompt, start_pos=0)
        model(np.array([[7]]), start_pos=3)
    handle.remove()
    x, y = seen[-1]
    keys, values = cache.get(0)
    assert keys.shape[2] == 4  # prompt + the decoded token
    q = attn.original.project_qkv(x)[0].data  # (1, H, 1, D)
    scores = q @ keys.swapaxes(-1, -2) / np.sqrt(E // H)  # over all 4 keys
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    merged = (w @ values).transpose(0, 2, 1, 3).reshape(1, 1, E)
    expected = merged @ attn.out_proj.weight.data.T + attn.out_proj.bias.data
    np.testing.assert_allclose(y.data, expected, rtol=0, atol=1e-6)
    # ... and it differs from attending to the past only (the pitfall).
    w_past = np.exp(scores[..., :3] - scores[..., :3].max(-1, keepdims=True))
    w_past /= w_past.sum(-1, keepdims=True)
    past_only = (w_past @ values[:, :, :3]).transpose(0, 2, 1, 3).reshape(1, 1, E)
    assert not np.allclose(merged, past_only, atol=1e-4)


def test_generate_really_uses_the_cache():
    """The dispatch path shows one fused decode op per block per decode step and
    full attention only at prefill; the cache ends holding the sequence."""
    layers, n = 3, 9
    model = make_gpt(layers)
    counts = {}
    flops = []

    def post(op, inputs, out, params, saved):
        counts[op.name] = counts.get(op.name, 0) + 1
        if op is DECODE_BLOCK:
            flops.append(op.flops([t.data for t in inputs], out.data, params))

    cache = enable_kv_cache(model)
    with hooks(post=post):
        model.generate(prompt_of(1, 4), n, temperature=0)
    assert counts[DECODE_BLOCK.name] == counts[DECODE_QKV.name] == layers * (n - 1)
    assert counts[SDPA.name] == layers  # the prefill only
    assert cache.seq_len == 4 + n - 1
    assert all(f > 0 for f in flops) and flops[-1] > flops[0]  # grows with the past


class RowKernelLinear(Module):
    """Not a Linear: ``2 * (x @ W.T + b)``, with the row-kernel protocol."""

    def __init__(self, linear: Linear) -> None:
        super().__init__()
        self.inner = linear
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.row_calls = 0

    def forward(self, x):
        return self.inner(x) * 2.0

    def forward_rows(self, x: np.ndarray) -> np.ndarray:
        self.row_calls += 1
        return 2.0 * (x @ self.inner.weight.data.T + self.inner.bias.data)


@pytest.mark.parametrize("which", ["qkv", "out_proj", "fc", "proj", "all"])
def test_a_row_kernel_layer_takes_the_fused_decode_path(which):
    """A layer with ``forward_rows`` (ROW_KERNEL_METHOD) in place of a Linear
    keeps the fused decode step; the step calls it; logits equal the uncached ones."""
    assert kvcache_pkg.ROW_KERNEL_METHOD == "forward_rows"
    model = make_gpt(2)
    swapped = []
    for block in model.blocks:
        for name in ("attn.qkv", "attn.out_proj", "mlp.fc", "mlp.proj"):
            if which in (name.split(".")[1], "all"):
                layer = RowKernelLinear(block.get_submodule(name))
                block.set_submodule(name, layer)
                swapped.append(layer)
    counts = assert_cached_equals_uncached(model, prompt_of(2), 6, atol=1e-4)
    assert counts[DECODE_BLOCK.name] == counts[DECODE_QKV.name] == 2 * 5
    assert all(layer.row_calls == 5 for layer in swapped)


def test_a_layer_without_the_protocol_is_not_fused():
    """A Linear stand-in without ``forward_rows`` sends the block down the general path."""
    model = make_gpt(1)
    model.blocks[0].mlp.fc = _NoRows(model.blocks[0].mlp.fc)
    _, counts = count_ops(lambda: generate(model, prompt_of(1), 4, temperature=0))
    assert DECODE_BLOCK.name not in counts


class _NoRows(Module):
    def __init__(self, linear: Linear) -> None:
        super().__init__()
        self.inner = linear
        self.in_features, self.out_features = linear.in_features, linear.out_features

    def forward(self, x):
        return self.inner(x)


def test_hooks_on_submodules_are_honoured_by_the_decode_path():
    """A forward hook on a block's MLP (here one that changes its output) makes
    that block run its submodules one by one (attention by the general cached
    path); logits still equal the uncached model's with the same hook."""
    model = make_gpt(2)
    handle = model.blocks[1].mlp.register_forward_hook(lambda m, args, out: out * 0.5)
    counts = assert_cached_equals_uncached(model, prompt_of(2), 6, atol=1e-5)
    handle.remove()
    assert counts[DECODE_BLOCK.name] == counts[DECODE_QKV.name] == 5  # block 0, fused
    assert counts[SDPA.name] == 2 + 5  # the prefill of both blocks, block 1's decode steps


def test_the_fused_decision_is_made_again_for_each_sequence():
    """A hook registered after a cached generation (between sequences) is
    honoured by the next one: each sequence re-checks its blocks."""
    model = make_gpt(2)
    enable_kv_cache(model)
    prompt = prompt_of(1)
    model.generate(prompt, 5, temperature=0)  # fused plans made for this sequence
    handle = model.blocks[0].mlp.register_forward_hook(lambda m, args, out: out * -1.0)
    _, logits_c = step_logits(model, lambda: model.generate(prompt, 5, temperature=0))
    _, logits_u = step_logits(
        model, lambda: model.generate(prompt, 5, temperature=0, use_cache=False))
    handle.remove()
    for u, c in zip(logits_u, logits_c):
        np.testing.assert_allclose(c, u, rtol=0, atol=1e-5)
    _, plain = step_logits(model, lambda: model.generate(prompt, 5, temperature=0))
    assert not np.allclose(plain[-1], logits_c[-1], atol=1e-3)  # the hook mattered


def test_the_fused_decision_is_reused_within_a_sequence():
    model = make_gpt(2).eval()  # in training mode it is re-made at every step
    enable_kv_cache(model)
    with no_grad():
        model(prompt_of(1, 4), start_pos=0)
        model(np.array([[1]]), start_pos=4)
        plans = [block._step for block in model.blocks]
        assert all(p is not None for p in plans)
        model(np.array([[2]]), start_pos=5)
        assert all(b._step is p for b, p in zip(model.blocks, plans))  # not rebuilt
        model(prompt_of(1, 3), start_pos=0)  # a new sequence ...
        model(np.array([[1]]), start_pos=3)
        assert all(b._step is not p for b, p in zip(model.blocks, plans))  # ... decides again


def test_decode_primitives_are_inference_only_and_never_recorded():
    assert DECODE_QKV.differentiable is False and DECODE_BLOCK.differentiable is False
    model = make_gpt(1)
    enable_kv_cache(model)
    with no_grad():
        model(prompt_of(1, 3), start_pos=0)
        y = model(np.array([[1]]), start_pos=3)
    assert y.grad_fn is None and not y.requires_grad


# ------------------------------------------------ the swap: enable / disable


def snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def test_enable_disable_is_reversible_and_idempotent():
    model = make_gpt(3)
    originals = [b.attn for b in model.blocks]
    original_blocks = list(model.blocks)
    names_before = [n for n, _ in model.named_parameters()]
    params_before = [p for _, p in model.named_parameters()]
    state_before = snapshot(model)
    tokens = prompt_of(2, 7)
    with no_grad():
        out_before = model(tokens).data

    cache = enable_kv_cache(model)
    assert model.generation_cache is cache
    assert cache is enable_kv_cache(model)  # idempotent: nothing wrapped twice
    for block, orig, orig_block in zip(model.blocks, originals, original_blocks):
        assert isinstance(block, CachedTransformerBlock) and block.original is orig_block
        assert isinstance(block.attn, CachedMultiHeadAttention)
        assert block.attn.original is orig
    # No parameter added, renamed or copied.
    assert [n for n, _ in model.named_parameters()] == names_before
    assert all(a is b for a, (_, b) in zip(params_before, model.named_parameters()))
    assert snapshot(model).keys() == state_before.keys()

    generate(model, tokens, 5)
    disable_kv_cache(model)
    disable_kv_cache(model)  # idempotent
    assert not is_kv_cache_enabled(model)
    assert model.generation_cache is None
    assert all(b is orig for b, orig in zip(model.blocks, original_blocks))
    assert all(b.attn is orig for b, orig in zip(model.blocks, originals))
    assert not any(m.has_forward_hooks() for m in model.modules())
    after = snapshot(model)
    assert after.keys() == state_before.keys()
    for k in after:
        np.testing.assert_array_equal(after[k], state_before[k])
    with no_grad():
        np.testing.assert_array_equal(model(tokens).data, out_before)


def test_enable_again_resizes_the_cache():
    model = make_gpt(2)
    cache = enable_kv_cache(model, max_seq_len=16, batch_size=1)
    assert cache.shape == (1, H, 16, E // H)
    again = enable_kv_cache(model, max_seq_len=20, batch_size=2)
    assert again is cache and cache.shape == (2, H, 20, E // H)
    assert all(isinstance(b.attn.original, MultiHeadAttention) for b in model.blocks)


def test_no_class_is_patched():
    def class_state():
        return [dict(vars(cls)) for cls in (GPT, TransformerBlock, MultiHeadAttention, Linear)]

    before = class_state()
    model = make_gpt(2)
    enable_kv_cache(model)
    generate(model, prompt_of(1), 3)
    disable_kv_cache(model)
    assert class_state() == before


def test_weights_are_shared_with_the_original():
    """load_state_dict and in-place updates while the cache is on reach the
    arrays the original modules use: no copy exists."""
    model = make_gpt(2, seed=0)
    other = make_gpt(2, seed=9)
    enable_kv_cache(model)
    model.load_state_dict(other.state_dict())
    prompt = prompt_of(2)
    np.testing.assert_array_equal(
        generate(model, prompt, 8, temperature=0).data,
        other.generate(prompt, 8, temperature=0, use_cache=False).data)
    disable_kv_cache(model)
    np.testing.assert_array_equal(model.blocks[0].attn.qkv.weight.data,
                                  other.blocks[0].attn.qkv.weight.data)


def test_disable_keeps_the_current_training_mode():
    model = make_gpt(1)
    model.train()
    enable_kv_cache(model)
    model.eval()
    disable_kv_cache(model)
    assert model.blocks[0].training is False and model.blocks[0].attn.training is False


def test_batch_size_change_between_calls_reallocates():
    model = make_gpt(2)
    cache = enable_kv_cache(model, batch_size=1)
    for batch in (1, 3, 2):
        prompt = prompt_of(batch)
        np.testing.assert_array_equal(
            model.generate(prompt, 6, temperature=0).data,
            model.generate(prompt, 6, temperature=0, use_cache=False).data)
        assert cache.batch_size == batch
        assert cache.memory_usage()["total"] == 2 * 2 * H * (E // H) * S * batch * 4


def test_memory_formula_for_a_gpt():
    model = make_gpt(3)
    cache = enable_kv_cache(model)
    # 2 x layers x heads x head_dim x max_seq_len x batch x bytes
    assert cache.memory_usage()["total"] == 2 * 3 * H * (E // H) * S * 1 * 4


# ------------------------------------------------------------------ errors


def test_start_pos_must_agree_with_the_cache():
    model = make_gpt(2)
    enable_kv_cache(model)
    with no_grad():
        model(prompt_of(1, 5), start_pos=0)
        with pytest.raises(ValueError, match="start_pos=3 but the cache holds 5"):
            model(np.array([[1]]), start_pos=3)
        model(np.array([[1]]), start_pos=5)  # the right position still works


def test_batch_must_agree_within_a_sequence():
    model = make_gpt(1)
    enable_kv_cache(model)
    with no_grad():
        model(prompt_of(2, 5), start_pos=0)
        with pytest.raises(ValueError, match="1 sequence"):
            model(np.array([[1]]), start_pos=5)


def test_a_later_block_called_alone_with_another_batch_is_an_error():
    model = make_gpt(2).eval()
    enable_kv_cache(model)
    with no_grad():
        model(prompt_of(2, 4), start_pos=0)
        assert model.blocks[1]._step is not None  # the fused path would run
        x = model.tok_emb(np.array([[1]]))  # one sequence where the cache holds two
        with pytest.raises(ValueError, match="1 sequence"):
            model.blocks[1](x, None, 4)


def test_the_fused_write_never_casts():
    """An activation of another dtype than the cache's takes the general
    path, whose checked write refuses it (the fused write does not check)."""
    model = make_gpt(1).eval()
    enable_kv_cache(model)
    with no_grad():
        model(prompt_of(1, 4), start_pos=0)
        x = model.tok_emb(np.array([[1]]))
        with pytest.raises(TypeError, match="dtype float64"):
            model.blocks[0](x.double(), None, 4)


def test_a_block_of_another_dtype_than_the_cache_is_not_fused():
    model = make_gpt(1).eval()
    enable_kv_cache(model)
    model.blocks[0].mlp.fc.weight.data = model.blocks[0].mlp.fc.weight.data.astype(np.float64)
    with no_grad():
        model(prompt_of(1, 4), start_pos=0)
    assert model.blocks[0]._step is None


def test_attention_called_alone_under_no_grad_is_an_error():
    model = make_gpt(1)
    enable_kv_cache(model)
    x = np.zeros((1, 2, E), np.float32)
    with no_grad(), pytest.raises(RuntimeError, match="no start position"):
        model.blocks[0].attn(x)
    assert model.blocks[0].attn(x).shape == (1, 2, E)  # grad mode: the original forward


def test_an_interrupted_step_is_discarded():
    model = make_gpt(2)
    cache = enable_kv_cache(model)
    with no_grad():
        model(prompt_of(1, 4), start_pos=0)
        with pytest.raises(ValueError):
            model(np.array([[V + 5]]), start_pos=4)  # bad id: fails before any write
        model.blocks[0](model.tok_emb(np.array([[1]])), None, 4)  # only layer 0 runs
        assert cache.pending == 1
        model(np.array([[2]]), start_pos=4)  # the half step is dropped, not an error
    assert cache.seq_len == 5 and cache.pending == 0


def test_a_small_cache_overflows_with_a_clear_error_outside_generate():
    model = make_gpt(1)
    enable_kv_cache(model, max_seq_len=8)
    with no_grad():
        model(prompt_of(1, 6), start_pos=0)
        with pytest.raises(ValueError, match="max_seq_len is 8"):
            model(prompt_of(1, 3), start_pos=6)


@pytest.mark.parametrize("target, kwargs, exc, fragment", [
    (lambda: Linear(2, 2), {}, TypeError, "GPT-like"),
    (lambda: make_gpt(1), {"max_seq_len": S + 1}, ValueError, "exceeds the model's"),
    (lambda: make_gpt(1), {"max_seq_len": 0}, ValueError, ">= 1"),
    (lambda: make_gpt(1), {"batch_size": 2.0}, TypeError, "batch_size"),
])
def test_enable_errors(target, kwargs, exc, fragment):
    model = target()
    with pytest.raises(exc, match=fragment):
        enable_kv_cache(model, **kwargs)
    assert not is_kv_cache_enabled(model)


def test_generate_restores_the_model_on_error():
    model = make_gpt(1)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, prompt_of(1), 3, temperature=-1.0)
    assert not is_kv_cache_enabled(model) and model.generation_cache is None
    with pytest.raises(TypeError, match="GPT-like"):
        generate(Linear(2, 2), prompt_of(1), 3)


def test_package_docstring_example_runs():
    result = doctest.testmod(kvcache_pkg, verbose=False)
    assert result.attempted > 0 and result.failed == 0


def test_readme_example_runs():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = readme.split("```python\n")[1:]
    assert blocks, "the README has no python example"
    for block in blocks:
        exec(compile(block.split("```")[0], "README.md", "exec"), {})


# ------------------------------------- a cache smaller than the model's context


@pytest.mark.parametrize("capacity", [1, 4, 7])
@pytest.mark.parametrize("batch", [1, 2])
def test_a_cache_smaller_than_the_context_slides_within_it(capacity, batch):
    """enable_kv_cache(model, max_seq_len=4) on a model of context 8: generation
    never overflows; every step's logits are those of an uncached forward over
    the last `capacity` tokens (the cache's context)."""
    model = make_gpt(2, max_seq_len=8)
    prompt = prompt_of(batch, 6)
    n = 14
    cache = enable_kv_cache(model, max_seq_len=capacity)
    out, logits = step_logits(model, lambda: model.generate(prompt, n, temperature=0))
    assert cache.seq_len <= capacity
    seq = out.data
    disable_kv_cache(model)
    assert len(logits) == n
    with no_grad():
        for step, got in enumerate(logits):
            end = 6 + step  # tokens known when this step's logits are computed
            ref = model(seq[:, max(0, end - capacity):end]).data[:, -1]
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5, err_msg=f"step {step}")
            np.testing.assert_array_equal(seq[:, end], ref.argmax(-1))


def test_generate_keeps_an_enabled_smaller_cache():
    model = make_gpt(1, max_seq_len=8)
    cache = enable_kv_cache(model, max_seq_len=4)
    out = generate(model, prompt_of(1, 3), 10, temperature=0)
    assert out.shape == (1, 13) and cache.max_seq_len == 4 and is_kv_cache_enabled(model)


# -------------------------------------------------- fused, unfused, Linear-like


def test_unfused_decode_gives_the_same_logits_without_the_fused_primitives():
    model = make_gpt(2)
    prompt = prompt_of(2)
    out_u, logits_u = step_logits(
        model, lambda: model.generate(prompt, 8, temperature=0, use_cache=False))
    enable_kv_cache(model, fused=False)
    (out_c, logits_c), counts = count_ops(
        lambda: step_logits(model, lambda: model.generate(prompt, 8, temperature=0)))
    assert DECODE_BLOCK.name not in counts and DECODE_QKV.name not in counts
    assert counts[SDPA.name] == 2 * 8  # prefill and 7 decode steps, 2 layers
    np.testing.assert_array_equal(out_c.data, out_u.data)
    for u, c in zip(logits_u, logits_c):
        np.testing.assert_allclose(c, u, rtol=0, atol=1e-5)
    enable_kv_cache(model)  # fused again: a second call only changes the option
    _, counts = count_ops(lambda: model.generate(prompt, 8, temperature=0))
    assert counts[DECODE_BLOCK.name] == 2 * 7


class LinearLike(Module):
    """Behaves like a Linear (e.g. a quantized one) without being one: the
    cached modules must call it, not read its weights."""

    def __init__(self, linear: Linear) -> None:
        super().__init__()
        self.inner = linear

    def forward(self, x):
        return F.linear(x, self.inner.weight, self.inner.bias)


def test_modules_that_behave_like_linear_take_the_general_path():
    model = make_gpt(2)
    for block in model.blocks:
        block.attn.qkv = LinearLike(block.attn.qkv)
        block.mlp.fc = LinearLike(block.mlp.fc)
    names = [n for n, _ in model.named_parameters()]
    prompt = prompt_of(2)
    out_u, logits_u = step_logits(
        model, lambda: model.generate(prompt, 6, temperature=0, use_cache=False))
    enable_kv_cache(model)
    assert [n for n, _ in model.named_parameters()] == names
    (out_c, logits_c), counts = count_ops(
        lambda: step_logits(model, lambda: model.generate(prompt, 6, temperature=0)))
    assert DECODE_BLOCK.name not in counts
    np.testing.assert_array_equal(out_c.data, out_u.data)
    for u, c in zip(logits_u, logits_c):
        np.testing.assert_allclose(c, u, rtol=0, atol=1e-5)


def test_a_swap_while_enabled_reaches_the_original_modules():
    """set_submodule on the cached modules swaps on the originals too: the
    training path and the model after disable_kv_cache use the new module."""
    model = make_gpt(2)
    enable_kv_cache(model)
    new_proj, new_mlp = Linear(E, E), make_gpt(2, seed=5).blocks[1].mlp
    model.set_submodule("blocks.0.attn.out_proj", new_proj)
    model.set_submodule("blocks.1.mlp", new_mlp)
    tokens = prompt_of(1, 5)
    grad_mode = model(tokens).data  # path 1: the originals' forward
    with no_grad():
        cached = model(tokens, start_pos=0).data
    np.testing.assert_allclose(cached, grad_mode, rtol=0, atol=1e-5)
    disable_kv_cache(model)
    assert model.blocks[0].attn.out_proj is new_proj and model.blocks[1].mlp is new_mlp
    with no_grad():
        np.testing.assert_allclose(model(tokens).data, cached, rtol=0, atol=1e-5)


@pytest.mark.parametrize("where", ["blocks.0", "blocks.1.attn"])
def test_hooks_on_a_module_to_be_swapped_are_refused(where):
    model = make_gpt(2)
    handle = model.get_submodule(where).register_forward_hook(lambda m, a, out: None)
    with pytest.raises(ValueError, match=f"{where} has forward hooks"):
        enable_kv_cache(model)
    assert not is_kv_cache_enabled(model)
    handle.remove()
    enable_kv_cache(model)
    assert is_kv_cache_enabled(model)


def test_the_position_is_an_argument_of_blocks_and_attention():
    """The cached modules get start_pos from their caller, not from a hook:
    a block run by hand at the right position continues the sequence."""
    model = make_gpt(1)
    cache = enable_kv_cache(model)
    tokens = prompt_of(1, 4)
    with no_grad():
        ref = model(tokens).data[:, -1]  # start_pos=0: prefill of 4 tokens
        cache.crop(3)
        x = model.pos_emb(model.tok_emb(tokens[:, 3:]), 3)
        y = model.head(model.ln_f(model.blocks[0](x, None, 3))).data[:, -1]
        with pytest.raises(ValueError, match="start_pos=2 but the cache holds 4"):
            model.blocks[0](x, None, 2)
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5)
    assert cache.seq_len == 4
