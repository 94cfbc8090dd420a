"""Cached generation against an independent PyTorch GPT with a torch.cat cache."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

from tinytorch.kvcache import generate  # noqa: E402
from tinytorch.tensor import manual_seed  # noqa: E402
from tinytorch.transformers import GPT  # noqa: E402

V, E, H, S = 29, 24, 3, 40


def torch_cached_steps(model, prompt, n):
    """Greedy generation with PyTorch ops and a cache grown by torch.cat.
    Returns the tokens and the last-position logits of every step."""
    p = {k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()}
    L, D = model.config.num_layers, E // H
    cache = [None] * L

    def forward(idx, start):
        b, t = idx.shape
        x = p["tok_emb.weight"][idx] + p["pos_emb.weight"][start:start + t]
        for i in range(L):
            pre = f"blocks.{i}."

            def lin(z, name, pre=pre):
                return z @ p[pre + name + ".weight"].T + p[pre + name + ".bias"]

            h = TF.layer_norm(x, (E,), p[pre + "ln1.weight"], p[pre + "ln1.bias"], 1e-5)
            q, k, v = lin(h, "attn.qkv").view(b, t, 3, H, D).permute(2, 0, 3, 1, 4)
            if cache[i] is not None:
                k = torch.cat([cache[i][0], k], dim=2)
                v = torch.cat([cache[i][1], v], dim=2)
            cache[i] = (k, v)
            a = TF.scaled_dot_product_attention(q, k, v, is_causal=t > 1)
            x = x + lin(a.transpose(1, 2).reshape(b, t, E), "attn.out_proj")
            h = TF.layer_norm(x, (E,), p[pre + "ln2.weight"], p[pre + "ln2.bias"], 1e-5)
            x = x + lin(TF.gelu(lin(h, "mlp.fc"), approximate="tanh"), "mlp.proj")
        x = TF.layer_norm(x, (E,), p["ln_f.weight"], p["ln_f.bias"], 1e-5)
        return x @ p["head.weight"].T + p["head.bias"]

    out = torch.as_tensor(prompt)
    logits = forward(out, 0)
    steps = []
    for _ in range(n):
        steps.append(logits[:, -1].numpy().copy())
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, nxt], dim=1)
        logits = forward(nxt, out.shape[1] - 1)
    return out.numpy(), steps


@pytest.mark.parametrize("layers, batch", [(1, 1), (3, 2)])
def test_cached_generation_matches_pytorch(layers, batch):
    manual_seed(0)
    model = GPT(V, E, layers, H, S)
    rng = np.random.default_rng(0)
    model.load_state_dict({k: (rng.standard_normal(v.shape) * 0.3).astype(v.dtype)
                           for k, v in model.state_dict().items()})
    prompt = rng.integers(0, V, (batch, 6))
    captured = []
    handle = model.head.register_forward_hook(
        lambda m, a, out: captured.append(out.data[:, -1].copy()))
    with torch.no_grad():
        tokens_ref, logits_ref = torch_cached_steps(model, prompt, 10)
    tokens = generate(model, prompt, 10, temperature=0).data
    handle.remove()
    np.testing.assert_array_equal(tokens, tokens_ref)
    for step, (got, ref) in enumerate(zip(captured, logits_ref)):
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4, err_msg=f"step {step}")
