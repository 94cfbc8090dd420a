"""Hugging Face GPT-2 parity: logits, greedy generation (cache on and off), both directions."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
kvcache = pytest.importorskip("tinytorch.kvcache")

from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.interop import load_gpt2, save_gpt2  # noqa: E402
from tinytorch.tensor import manual_seed  # noqa: E402
from tinytorch.transformers import GPT  # noqa: E402

V, T = 97, 64


def hf_model(tmp_path, **kw):
    torch.manual_seed(0)
    # initializer_range 0.1 (GPT-2 uses 0.02): larger logits, so the greedy
    # argmax is never decided by float rounding.
    cfg = transformers.GPT2Config(vocab_size=V, n_positions=T, n_embd=32, n_layer=3, n_head=4,
                                  initializer_range=0.1, bos_token_id=None,
                                  eos_token_id=None, **kw)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    model.save_pretrained(tmp_path)
    return model


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.from_numpy(ids)).logits.numpy()


def hf_greedy(model, prompt, n):
    with torch.no_grad():
        out = model.generate(torch.from_numpy(prompt), max_new_tokens=n, min_new_tokens=n,
                             do_sample=False, use_cache=True, pad_token_id=0,
                             attention_mask=torch.ones_like(torch.from_numpy(prompt)))
    return out.numpy()


IDS = np.random.default_rng(0).integers(0, V, size=(2, 20))


@pytest.mark.parametrize("kw", [{}, {"tie_word_embeddings": False},
                                {"activation_function": "gelu", "layer_norm_epsilon": 1e-3}])
def test_hf_checkpoint_loads_with_equal_logits(tmp_path, kw):
    hf = hf_model(tmp_path, **kw)
    ours = load_gpt2(tmp_path)
    with no_grad():
        np.testing.assert_allclose(ours(IDS).data, hf_logits(hf, IDS), atol=1e-4, rtol=0)


def test_greedy_50_tokens_cache_on_off_and_hf(tmp_path):
    hf = hf_model(tmp_path)
    ours = load_gpt2(tmp_path)
    prompt = IDS[:1, :8]
    plain = ours.generate(prompt, 50, temperature=0.0, use_cache=False).data
    kvcache.enable_kv_cache(ours)
    try:
        cached = ours.generate(prompt, 50, temperature=0.0).data
    finally:
        kvcache.disable_kv_cache(ours)
    np.testing.assert_array_equal(cached, plain)
    np.testing.assert_array_equal(plain, hf_greedy(hf, prompt, 50))


@pytest.mark.parametrize("kw", [{}, {"tie_embeddings": False}, {"gelu_approximate": "none"}])
def test_saved_here_loads_in_transformers_with_equal_logits(tmp_path, kw):
    manual_seed(3)
    ours = GPT(V, 32, 2, 4, T, **{"tie_embeddings": True, "head_bias": False, **kw}).eval()
    save_gpt2(ours, tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    with no_grad():
        np.testing.assert_allclose(hf_logits(hf, IDS), ours(IDS).data, atol=1e-4, rtol=0)


def test_a_gpt_trained_here_on_shakespeare_loads_in_transformers(tmp_path):
    """A character-level Shakespeare GPT with GPT-2's options, trained a few
    steps here (plain SGD on autograd's gradients), read by from_pretrained."""
    data = pytest.importorskip("tinytorch.data")
    from tinytorch.nn import CrossEntropyLoss

    text = data.load_shakespeare()[:20000]
    chars = sorted(set(text))
    ids = np.array([chars.index(c) for c in text], dtype=np.int64)
    manual_seed(0)
    model = GPT(len(chars), 32, 2, 4, 32, tie_embeddings=True, head_bias=False)
    loss_fn, rng = CrossEntropyLoss(), np.random.default_rng(0)
    losses = []
    for _ in range(30):
        starts = rng.integers(0, ids.size - 33, size=8)
        x = np.stack([ids[s:s + 32] for s in starts])
        y = np.stack([ids[s + 1:s + 33] for s in starts])
        loss = loss_fn(model(x).reshape(-1, len(chars)), y.reshape(-1))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
        losses.append(float(loss.data))
    assert losses[-1] < losses[0]  # it did train
    model.eval()
    save_gpt2(model, tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    probe = ids[None, :32]
    with no_grad():
        np.testing.assert_allclose(hf_logits(hf, probe), model(probe).data, atol=1e-4, rtol=0)
