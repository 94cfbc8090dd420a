"""The KV cache on a GPT with GPT-2's options: cached and uncached generation agree."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.autograd import no_grad
from tinytorch.kvcache import disable_kv_cache, enable_kv_cache
from tinytorch.tensor import manual_seed
from tinytorch.transformers import GPT

V, E, L, H, T_MAX = 17, 16, 2, 4, 24
GPT2 = {"tie_embeddings": True, "head_bias": False}


@pytest.mark.parametrize("options", [
    GPT2,
    {**GPT2, "layer_norm_eps": 1e-2},
    {**GPT2, "gelu_approximate": "none"},
    {**GPT2, "bias": False},  # the block cannot fuse: the per-module decode path
])
def test_cached_generation_equals_uncached(options):
    manual_seed(1)
    model = GPT(V, E, L, H, T_MAX, **options).eval()
    prompt = np.random.default_rng(0).integers(0, V, size=(2, 5))
    plain = model.generate(prompt, 12, temperature=0.0).data
    with no_grad():
        full = model(plain[:, :-1]).data  # (B, T, V): logits at every position
    enable_kv_cache(model)
    try:
        cached = model.generate(prompt, 12, temperature=0.0).data
        with no_grad():
            step = [model(plain[:, :5], start_pos=0).data[:, -1]]
            for t in range(5, plain.shape[1] - 1):
                step.append(model(plain[:, t:t + 1], start_pos=t).data[:, -1])
    finally:
        disable_kv_cache(model)
    np.testing.assert_array_equal(cached, plain)
    np.testing.assert_allclose(np.stack(step, 1), full[:, 4:], rtol=1e-4, atol=1e-5)
