"""Parity with PyTorch: the same GPT weights give the same logits and gradients (float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinytorch.autograd  # noqa: E402, F401  (enables gradients)
from tinytorch import nn as tnn  # noqa: E402
from tinytorch.tensor import Tensor, manual_seed  # noqa: E402
from tinytorch.transformers import (  # noqa: E402
    GPT,
    MultiHeadAttention,
    create_causal_mask,
    scaled_dot_product_attention,
)

TOL = dict(rtol=1e-9, atol=1e-11)


# ------------------------------------------------------------ a torch GPT


class TorchAttention(torch.nn.Module):
    def __init__(self, e, h):
        super().__init__()
        self.h, self.d = h, e // h
        self.qkv = torch.nn.Linear(e, 3 * e)
        self.out_proj = torch.nn.Linear(e, e)

    def forward(self, x):
        b, t, e = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.h, self.d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, T, D)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.d)
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, e)
        return self.out_proj(y)


class TorchMLP(torch.nn.Module):
    def __init__(self, e, hidden):
        super().__init__()
        self.fc = torch.nn.Linear(e, hidden)
        self.proj = torch.nn.Linear(hidden, e)

    def forward(self, x):
        return self.proj(torch.nn.functional.gelu(self.fc(x), approximate="tanh"))


class TorchBlock(torch.nn.Module):
    def __init__(self, e, h):
        super().__init__()
        self.ln1 = torch.nn.LayerNorm(e)
        self.attn = TorchAttention(e, h)
        self.ln2 = torch.nn.LayerNorm(e)
        self.mlp = TorchMLP(e, 4 * e)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TorchPositions(torch.nn.Module):
    def __init__(self, t, e):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(t, e))


class TorchGPT(torch.nn.Module):
    def __init__(self, v, e, n_layers, h, t):
        super().__init__()
        self.tok_emb = torch.nn.Embedding(v, e)
        self.pos_emb = TorchPositions(t, e)
        self.blocks = torch.nn.ModuleList(TorchBlock(e, h) for _ in range(n_layers))
        self.ln_f = torch.nn.LayerNorm(e)
        self.head = torch.nn.Linear(e, v)

    def forward(self, idx):
        t = idx.shape[1]
        x = self.tok_emb(idx) + self.pos_emb.weight[:t]
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))




def to_float64(model):
    for p in model.parameters():
        p.data = p.data.astype(np.float64)


def copy_into_torch(model, tmodel):
    tparams = dict(tmodel.named_parameters())
    names = [n for n, _ in model.named_parameters()]
    assert sorted(names) == sorted(tparams), "the two models must have the same parameters"
    with torch.no_grad():
        for name, p in model.named_parameters():
            w = p.data  # same layouts: Linear weights are (out, in) in both
            tparams[name].copy_(torch.from_numpy(np.ascontiguousarray(w)))


@pytest.mark.parametrize("num_layers,num_heads,batch,t", [(1, 4, 4, 16), (2, 2, 2, 8),
                                                         (3, 1, 1, 5)])
def test_gpt_logits_and_all_gradients_match_torch(num_layers, num_heads, batch, t):
    v, e, max_len = 13, 16, 16
    manual_seed(num_layers)
    model = GPT(v, e, num_layers, num_heads, max_len)
    # Non-trivial LayerNorm affine params and biases, so their gradients are tested too.
    rng = np.random.default_rng(0)
    for _, p in model.named_parameters():
        p.data = p.data + 0.05 * rng.standard_normal(p.shape).astype(p.data.dtype)
    to_float64(model)
    tmodel = TorchGPT(v, e, num_layers, num_heads, max_len).double()
    copy_into_torch(model, tmodel)

    tokens = rng.integers(0, v, size=(batch, t + 1))
    x, y = tokens[:, :-1], tokens[:, 1:]

    logits = model(x)
    loss = tnn.CrossEntropyLoss()(logits, y)
    model.zero_grad()
    loss.backward()

    tlogits = tmodel(torch.from_numpy(x))
    tloss = torch.nn.functional.cross_entropy(
        tlogits.reshape(-1, v), torch.from_numpy(y).reshape(-1)
    )
    tloss.backward()

    assert logits.dtype == np.float64
    np.testing.assert_allclose(logits.data, tlogits.detach().numpy(), **TOL)
    np.testing.assert_allclose(loss.item(), tloss.item(), **TOL)
    tgrads = {n: p.grad.numpy() for n, p in tmodel.named_parameters()}
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} received no gradient"
        expected = tgrads[name]
        np.testing.assert_allclose(p.grad.data, expected, err_msg=name, **TOL)


def test_multi_head_attention_matches_torch_with_padding_mask():
    e, h, b, t = 12, 3, 2, 5
    mha = MultiHeadAttention(e, h)
    to_float64(mha)
    tattn = TorchAttention(e, h).double()
    with torch.no_grad():
        tattn.qkv.weight.copy_(torch.from_numpy(mha.qkv.weight.data.copy()))
        tattn.qkv.bias.copy_(torch.from_numpy(mha.qkv.bias.data))
        tattn.out_proj.weight.copy_(torch.from_numpy(mha.out_proj.weight.data.copy()))
        tattn.out_proj.bias.copy_(torch.from_numpy(mha.out_proj.bias.data))
    x = np.random.default_rng(1).standard_normal((b, t, e))
    out = mha(Tensor(x, dtype="float64"), create_causal_mask(t))
    np.testing.assert_allclose(out.data, tattn(torch.from_numpy(x)).detach().numpy(), **TOL)


def _sdpa_cases():
    causal = np.tril(np.ones((6, 6), dtype=bool))
    chunk = create_causal_mask(3, 7).data
    return [
        ("none", (2, 3, 6, 4), (2, 3, 6, 4), None),
        ("bool causal", (2, 3, 6, 4), (2, 3, 6, 4), causal),
        ("additive causal", (2, 3, 6, 4), (2, 3, 6, 4), np.where(causal, 0.0, -np.inf)),
        ("additive bias", (2, 3, 6, 4), (2, 3, 6, 4),
         np.random.default_rng(3).standard_normal((6, 6))),
        ("3-D Tq != Tk", (2, 3, 4), (2, 7, 4), chunk),
        ("4-D Tq != Tk", (1, 2, 3, 5), (1, 2, 7, 5), chunk),
    ]


@pytest.mark.parametrize("name,qs,ks,mask", _sdpa_cases(), ids=[c[0] for c in _sdpa_cases()])
def test_sdpa_matches_torch_forward_and_backward(name, qs, ks, mask):
    rng = np.random.default_rng(7)
    q, k, v = rng.standard_normal(qs), rng.standard_normal(ks), rng.standard_normal(ks)
    tq, tk, tv = (Tensor(a, dtype="float64", requires_grad=True) for a in (q, k, v))
    out, weights = scaled_dot_product_attention(tq, tk, tv, mask)
    g = rng.standard_normal(out.shape)
    out.backward(Tensor(g, dtype="float64"))

    pq, pk, pv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    pmask = None if mask is None else torch.from_numpy(np.array(mask))
    pout = torch.nn.functional.scaled_dot_product_attention(pq, pk, pv, attn_mask=pmask)
    pout.backward(torch.from_numpy(g))

    np.testing.assert_allclose(out.data, pout.detach().numpy(), **TOL)
    for mine, theirs in ((tq, pq), (tk, pk), (tv, pv)):
        np.testing.assert_allclose(mine.grad.data, theirs.grad.numpy(), **TOL)
    assert np.allclose(weights.data.sum(-1), 1.0)
