"""MLP, CNN with BatchNorm and GPT round-trip through PyTorch with equal outputs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn as tnn  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

import tinytorch.nn as nn  # noqa: E402
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.interop import load_torch_state_dict, to_torch_state_dict  # noqa: E402
from tinytorch.tensor import Tensor, manual_seed  # noqa: E402
from tinytorch.transformers import GPT  # noqa: E402

RNG = np.random.default_rng(0)


def to_torch(sd):
    return {k: torch.from_numpy(v) for k, v in sd.items()}


def mlp_pair():
    return (nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)),
            tnn.Sequential(tnn.Linear(6, 16), tnn.ReLU(), tnn.Linear(16, 3)),
            RNG.standard_normal((4, 6)).astype(np.float32))


def cnn_pair():
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5))
    theirs = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                            tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(4 * 4 * 4, 5))
    return ours, theirs, RNG.standard_normal((3, 1, 8, 8)).astype(np.float32)


class TorchGPT(tnn.Module):
    """A GPT written with torch.nn under tinytorch's child names (the reference)."""

    def __init__(self, v, e, n_layers, h, t, tied):
        super().__init__()
        self.h = h
        self.tok_emb = tnn.Embedding(v, e)
        self.pos_emb = tnn.Module()
        self.pos_emb.weight = tnn.Parameter(torch.zeros(t, e))
        self.blocks = tnn.ModuleList()
        for _ in range(n_layers):
            b = tnn.Module()
            b.ln1, b.ln2 = tnn.LayerNorm(e), tnn.LayerNorm(e)
            b.attn = tnn.Module()
            b.attn.qkv, b.attn.out_proj = tnn.Linear(e, 3 * e), tnn.Linear(e, e)
            b.mlp = tnn.Module()
            b.mlp.fc, b.mlp.proj = tnn.Linear(e, 4 * e), tnn.Linear(4 * e, e)
            self.blocks.append(b)
        self.ln_f = tnn.LayerNorm(e)
        self.head = tnn.Linear(e, v, bias=not tied)
        if tied:
            self.head.weight = self.tok_emb.weight

    def forward(self, ids):
        b, t = ids.shape
        x = self.tok_emb(ids) + self.pos_emb.weight[:t]
        for blk in self.blocks:
            q, k, v = blk.attn.qkv(blk.ln1(x)).split(x.shape[-1], dim=-1)
            q, k, v = (z.view(b, t, self.h, -1).transpose(1, 2) for z in (q, k, v))
            a = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + blk.attn.out_proj(a.transpose(1, 2).reshape(b, t, -1))
            x = x + blk.mlp.proj(TF.gelu(blk.mlp.fc(blk.ln2(x)), approximate="tanh"))
        return self.head(self.ln_f(x))


def gpt_pair(tied):
    manual_seed(0)
    kw = {"tie_embeddings": True, "head_bias": False} if tied else {}
    ours = GPT(23, 16, 2, 4, 10, **kw)
    return ours, TorchGPT(23, 16, 2, 4, 10, tied), RNG.integers(0, 23, size=(2, 7))


PAIRS = {"mlp": mlp_pair, "cnn": cnn_pair, "gpt": lambda: gpt_pair(False),
         "gpt_tied": lambda: gpt_pair(True)}


def outputs(ours, theirs, x):
    ours.eval()
    theirs.eval()
    with no_grad():
        a = ours(Tensor(x) if x.dtype != np.int64 else x).data
    with torch.no_grad():
        b = theirs(torch.from_numpy(x)).numpy()
    return a, b


@pytest.mark.parametrize("name", PAIRS)
def test_ours_to_torch_strict(name):
    ours, theirs, x = PAIRS[name]()
    if name == "cnn":  # train a step so the running stats and the counter move
        ours(Tensor(x))
    result = theirs.load_state_dict(to_torch(to_torch_state_dict(ours)), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    if name == "cnn":
        assert int(theirs[1].num_batches_tracked) == 1
    a, b = outputs(ours, theirs, x)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", PAIRS)
def test_torch_to_ours(name):
    ours, theirs, x = PAIRS[name]()
    torch.manual_seed(1)
    with torch.no_grad():
        for p in theirs.parameters():
            p.normal_(0, 0.3)
    if name == "cnn":
        theirs.train()(torch.from_numpy(x))  # running stats and counter move
    load_torch_state_dict(ours, theirs.state_dict())
    if name == "cnn":
        assert int(ours[1].num_batches_tracked.data) == 1
    a, b = outputs(ours, theirs, x)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_torch_mismatch_lists_every_problem():
    ours = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    theirs = tnn.Sequential(tnn.Linear(6, 8), tnn.ReLU(), tnn.Linear(8, 3), tnn.Linear(3, 3))
    with pytest.raises(nn.StateDictError) as info:
        load_torch_state_dict(ours, theirs.state_dict())
    msg = str(info.value)
    for needle in ("'0.weight' expects (16, 6)", "'0.bias'", "'2.weight'", "3.weight", "3.bias"):
        assert needle in msg
