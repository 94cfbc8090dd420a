"""GPT-2's options of GPT: tied embeddings, biases, LayerNorm eps, the GELU form."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401  (enables gradients)
from tinytorch.nn import GELU, LayerNorm
from tinytorch.tensor import manual_seed
from tinytorch.transformers import GPT, GPTConfig

V, E, L, H, T_MAX = 13, 16, 2, 4, 12
IDS = np.random.default_rng(0).integers(0, V, size=(2, 7))


def test_defaults_keep_the_original_architecture():
    manual_seed(0)
    m = GPT(V, E, L, H, T_MAX)
    assert m.head.weight is not m.tok_emb.weight
    assert m.head.bias is not None and m.blocks[0].attn.qkv.bias is not None
    assert m.ln_f.eps == 1e-5 and m.blocks[0].mlp.act.approximate == "tanh"


def test_tied_embeddings_share_one_parameter_and_its_gradient():
    manual_seed(0)
    m = GPT(V, E, L, H, T_MAX, tie_embeddings=True, head_bias=False)
    assert m.head.weight is m.tok_emb.weight and m.head.bias is None
    names = [n for n, _ in m.named_parameters()]
    assert "head.weight" not in names  # counted once, under its first name
    assert {"tok_emb.weight", "head.weight"} <= set(m.state_dict())  # both keys, as torch
    untied = GPT(V, E, L, H, T_MAX)
    assert m.num_parameters() == untied.num_parameters() - V * E - V
    m(IDS).sum().backward()
    # The shared matrix gets both the head's and the embedding's gradient:
    # rows of tokens absent from IDS get only the head's.
    assert m.tok_emb.weight.grad is not None
    absent = sorted(set(range(V)) - set(IDS.ravel().tolist()))
    assert np.abs(m.tok_emb.weight.grad.data[absent]).sum() > 0


@pytest.mark.parametrize("field, value, check", [
    ("bias", False, lambda m: m.blocks[1].mlp.fc.bias is None
     and m.blocks[0].attn.out_proj.bias is None),
    ("layer_norm_eps", 1e-3, lambda m: all(
        mod.eps == 1e-3 for mod in m.modules() if isinstance(mod, LayerNorm))),
    ("gelu_approximate", "none", lambda m: all(
        mod.approximate == "none" for mod in m.modules() if isinstance(mod, GELU))),
    ("head_bias", False, lambda m: m.head.bias is None),
])
def test_each_option_reaches_its_layers(field, value, check):
    manual_seed(0)
    m = GPT.from_config(GPTConfig(V, E, L, H, T_MAX, **{field: value}))
    assert check(m)
    assert getattr(m.config, field) == value
    assert m(IDS).shape == (2, 7, V)


def test_eps_and_gelu_change_the_logits():
    manual_seed(0)
    a = GPT(V, E, L, H, T_MAX)
    # The MLP's first weights 50x GPT-2's init: its GELU inputs are of order
    # 1, where the tanh and erf forms differ visibly.
    big = {k: v * 50 if "mlp.fc" in k else v for k, v in a.state_dict().items()}
    a.load_state_dict(big)
    # The two GELUs differ by at most ~1e-3 and the projection after them
    # is small (N(0, 0.01)): ~1e-5 on the logits, 100x float32 rounding.
    for kw, at_least in (({"layer_norm_eps": 10.0}, 1e-2), ({"gelu_approximate": "none"}, 5e-6)):
        b = GPT(V, E, L, H, T_MAX, **kw)
        b.load_state_dict(big)
        assert np.abs(a(IDS).data - b(IDS).data).max() > at_least


@pytest.mark.parametrize("kw, exc", [
    ({"tie_embeddings": 1}, TypeError), ({"bias": "yes"}, TypeError),
    ({"head_bias": None}, TypeError), ({"gelu_approximate": "erf"}, ValueError),
    ({"layer_norm_eps": -1.0}, ValueError),
])
def test_bad_options(kw, exc):
    with pytest.raises(exc):
        GPT(V, E, L, H, T_MAX, **kw)
