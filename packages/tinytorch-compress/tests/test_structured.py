"""Structured pruning returns a smaller model equal to the masked original."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.compress import (
    PrunedMultiHeadAttention,
    magnitude_prune,
    structured_prune,
    unit_scores,
)
from tinytorch.optim import SGD
from tinytorch.tensor import Tensor, manual_seed
from tinytorch.transformers import GPT

RNG = np.random.default_rng(0)


def mlp():
    manual_seed(0)
    return nn.Sequential(nn.Linear(8, 20), nn.ReLU(), nn.Linear(20, 12), nn.Tanh(),
                         nn.Dropout(0.1), nn.Linear(12, 4))


def cnn():
    manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(8, 6, 3, padding=1), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 2 * 2, 10), nn.ReLU(),
                          nn.Linear(10, 3))
    bn = model[1]  # non-trivial running statistics and affine entries
    bn.running_mean.data[:] = RNG.standard_normal(8)
    bn.running_var.data[:] = RNG.random(8) + 0.5
    bn.weight.data[:] = RNG.standard_normal(8)
    return model.eval()


@pytest.mark.parametrize("build, amount", [(mlp, 0.25), (mlp, 0.5), (cnn, 0.5), (cnn, 0.3)])
def test_smaller_model_equals_the_masked_original(build, amount):
    model = build()
    pruned = structured_prune(model, amount)
    producers = [i for i, m in enumerate(model) if isinstance(m, (nn.Linear, nn.Conv2d))]
    masked = build()
    masked.load_state_dict(model.state_dict())
    for a, b in zip(producers, producers[1:]):
        n_out = model[a].weight.shape[0]
        assert pruned[a].weight.shape[0] == n_out - round(amount * n_out)  # really smaller
        keep = np.argsort(unit_scores(model[a].weight.data, 2))[round(amount * n_out):]
        drop = np.setdiff1d(np.arange(n_out), keep)
        w = masked[b].weight.data
        if w.ndim == 2 and isinstance(model[a], nn.Conv2d):  # through Flatten
            per = w.shape[1] // n_out
            w.reshape(w.shape[0], n_out, per)[:, drop] = 0.0
        else:
            w[:, drop] = 0.0
    assert pruned[producers[-1]].weight.shape[0] == model[producers[-1]].weight.shape[0]
    x = Tensor(RNG.standard_normal((5, 8) if build is mlp else (5, 1, 8, 8)).astype(np.float32))
    masked.eval(), pruned.eval()
    np.testing.assert_allclose(pruned(x).data, masked(x).data, rtol=1e-5, atol=1e-5)
    assert pruned.num_parameters() < model.num_parameters()
    assert isinstance(model[0], type(pruned[0])) and model[0].weight.shape[0] == \
        build()[0].weight.shape[0]  # the input kept its shapes


def test_batchnorm_entries_follow_the_channels():
    model = cnn()
    pruned = structured_prune(model, 0.5)
    keep = np.sort(np.argsort(unit_scores(model[0].weight.data, 2))[4:])
    for name in ("weight", "bias", "running_mean", "running_var"):
        np.testing.assert_array_equal(getattr(pruned[1], name).data,
                                      getattr(model[1], name).data[keep])
    assert pruned[1].num_features == 4 and pruned[4].in_channels == 4


def test_pruned_model_trains_saves_and_loads(tmp_path):
    pruned = structured_prune(cnn().train(), 0.5)
    opt = SGD(list(pruned.parameters()), lr=0.1)
    x = Tensor(RNG.standard_normal((6, 1, 8, 8)).astype(np.float32))
    y = RNG.integers(0, 3, 6)
    before = pruned[0].weight.data.copy()
    nn.CrossEntropyLoss()(pruned(x), y).backward()
    opt.step()
    assert not np.array_equal(before, pruned[0].weight.data)
    pruned.save(tmp_path / "p.npz")
    other = structured_prune(cnn(), 0.5).load(tmp_path / "p.npz")
    pruned.eval(), other.eval()
    np.testing.assert_array_equal(other(x).data, pruned(x).data)


def test_masked_layers_are_folded_first():
    model = magnitude_prune(mlp(), 0.3)
    pruned = structured_prune(model, 0.5)
    assert type(pruned[0]) is nn.Linear and pruned[0].weight.shape == (10, 8)


def gpt():
    manual_seed(3)
    return GPT(vocab_size=19, embed_dim=24, num_layers=2, num_heads=4, max_seq_len=16).eval()


@pytest.mark.parametrize("heads, mlp_amount", [(0.25, 0.25), (0.5, 0.0), (0.0, 0.5)])
def test_gpt_heads_and_mlp_units(heads, mlp_amount):
    model = gpt()
    pruned = structured_prune(model, 0.0, heads=heads, mlp=mlp_amount)
    masked = gpt()
    masked.load_state_dict(model.state_dict())
    for i, block in enumerate(model.blocks):
        attn = block.attn
        h, d, e = attn.num_heads, attn.head_dim, attn.embed_dim
        per_head = np.concatenate(
            [attn.qkv.weight.data.reshape(3, h, d, e).transpose(1, 0, 2, 3).reshape(h, -1),
             attn.out_proj.weight.data.reshape(e, h, d).transpose(1, 0, 2).reshape(h, -1)], 1)
        drop = np.argsort(unit_scores(per_head, 2))[:round(heads * h)]
        new_attn = pruned.blocks[i].attn
        assert isinstance(new_attn, PrunedMultiHeadAttention)
        assert new_attn.num_heads == h - len(drop)
        assert new_attn.qkv.weight.shape == (3 * (h - len(drop)) * d, e)
        masked.blocks[i].attn.out_proj.weight.data.reshape(e, h, d)[:, drop] = 0.0
        fc, proj = block.mlp.fc.weight.data, block.mlp.proj.weight.data
        units = np.concatenate([fc, proj.T], 1)
        drop_u = np.argsort(unit_scores(units, 2))[:round(mlp_amount * fc.shape[0])]
        masked.blocks[i].mlp.proj.weight.data[:, drop_u] = 0.0
        assert pruned.blocks[i].mlp.fc.weight.shape[0] == fc.shape[0] - len(drop_u)
    tokens = RNG.integers(0, 19, (3, 10))
    np.testing.assert_allclose(pruned(tokens).data, masked(tokens).data, rtol=1e-4, atol=1e-5)


def test_gpt_pruned_trains_saves_loads_and_generates(tmp_path):
    pruned = structured_prune(gpt(), 0.25)
    pruned.train()
    tokens = RNG.integers(0, 19, (2, 8))
    loss = nn.functional.cross_entropy(pruned(tokens[:, :-1]).reshape(-1, 19),
                                       tokens[:, 1:].reshape(-1))
    loss.backward()
    assert pruned.blocks[0].attn.qkv.weight.grad is not None
    pruned.eval().save(tmp_path / "g.npz")
    other = structured_prune(gpt(), 0.25).load(tmp_path / "g.npz")
    np.testing.assert_array_equal(other(tokens).data, pruned(tokens).data)
    assert pruned.generate(tokens[:1, :3], 4).shape[-1] >= 4


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.fc(x)


@pytest.mark.parametrize("model, error, words", [
    (Residual(), ValueError, "cannot prune a Residual"),
    (nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2)), ValueError, "LayerNorm"),
    (nn.Sequential(nn.Linear(4, 8), nn.Softmax(-1), nn.Linear(8, 2)), ValueError, "Softmax"),
    (nn.Sequential(nn.Conv2d(1, 4, 3), nn.Linear(4, 2)), ValueError, "without a Flatten"),
    ("not a model", TypeError, "Module"),
])
def test_unsupported_architectures_are_refused(model, error, words):
    with pytest.raises(error, match=words):
        structured_prune(model, 0.5)


@pytest.mark.parametrize("kwargs, error", [
    (dict(amount=1.0), ValueError), (dict(amount=0.5, norm=3), ValueError),
    (dict(amount=0.5, heads=0.5), ValueError), (dict(amount=None), TypeError),
])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        structured_prune(mlp(), **kwargs)


def test_only_the_chosen_layers_lose_units():
    model = cnn()
    pruned = structured_prune(model, 0.5, layers=[0, 4])
    assert pruned[0].out_channels == 4 and pruned[4].out_channels == 3
    assert pruned[8].out_features == 10 and pruned[8].in_features == 3 * 4
    with pytest.raises(ValueError, match="not prunable"):
        structured_prune(model, 0.5, layers=[10])
