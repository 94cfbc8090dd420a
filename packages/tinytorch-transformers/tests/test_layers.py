"""MultiHeadAttention, positional encodings, MLP and TransformerBlock."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd as ag
from tinytorch.nn import LayerNorm, Module
from tinytorch.tensor import Tensor, hooks
from tinytorch.transformers import (
    MLP,
    SDPA,
    MultiHeadAttention,
    PositionalEncoding,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    create_causal_mask,
    scaled_dot_product_attention,
    sinusoidal_table,
)


def rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def to_float64(module):
    for p in module.parameters():
        p.data = p.data.astype(np.float64)
    return module


def heads_reference(mha, x, mask):
    """Per-head attention with explicit weight slices (NumPy, float64): an
    independent check that the batched reshape/permute assigns columns to
    heads as documented (rows of the (out, in) weight)."""
    e, h, d = mha.embed_dim, mha.num_heads, mha.head_dim
    w, bias = mha.qkv.weight.data.T, mha.qkv.bias.data  # (E, 3E): columns are outputs
    outs = []
    for i in range(h):  # a loop over heads is fine in a reference
        cols = slice(i * d, (i + 1) * d)
        q = x @ w[:, :e][:, cols] + bias[:e][cols]
        k = x @ w[:, e:2 * e][:, cols] + bias[e:2 * e][cols]
        v = x @ w[:, 2 * e:][:, cols] + bias[2 * e:][cols]
        s = q @ np.swapaxes(k, -1, -2) / np.sqrt(d)
        s = np.where(mask, s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        outs.append(p @ v)
    y = np.concatenate(outs, axis=-1)
    return y @ mha.out_proj.weight.data.T + mha.out_proj.bias.data


class TestMultiHeadAttention:
    def test_matches_per_head_reference(self):
        mha = to_float64(MultiHeadAttention(12, 3))
        x = rand((2, 5, 12))
        mask = create_causal_mask(5)
        out = mha(Tensor(x, dtype="float64"), mask)
        np.testing.assert_allclose(out.data, heads_reference(mha, x, mask.data), atol=1e-12)

    def test_forward_is_project_sdpa_project(self):
        mha = MultiHeadAttention(8, 2)
        x = Tensor(rand((3, 4, 8)).astype(np.float32))
        mask = create_causal_mask(4)
        q, k, v = mha.project_qkv(x)
        assert q.shape == k.shape == v.shape == (3, 2, 4, 4)
        out, _ = scaled_dot_product_attention(q, k, v, mask)
        np.testing.assert_array_equal(mha.project_output(out).data, mha(x, mask).data)
        assert (mha.embed_dim, mha.num_heads, mha.head_dim) == (8, 2, 4)

    def test_no_loop_over_heads_one_attention_dispatch(self):
        mha = MultiHeadAttention(16, 4)
        ops = []
        with hooks(lambda op, inputs, out, params, saved: ops.append(op.name)):
            mha(Tensor(rand((2, 6, 16)).astype(np.float32)), create_causal_mask(6))
        assert ops.count(SDPA.name) == 1
        assert ops.count("linear") == 2  # qkv and output projections: one GEMM each

    def test_gradcheck_all_inputs_and_parameters(self):
        mha = to_float64(MultiHeadAttention(6, 2))
        x = Tensor(rand((2, 3, 6)), dtype="float64", requires_grad=True)
        params = list(mha.parameters())
        mask = create_causal_mask(3)

        def fn(x, *ps):
            return mha(x, mask)

        assert ag.gradcheck(fn, (x, *params))

    def test_every_parameter_gets_a_gradient(self):
        mha = MultiHeadAttention(8, 2)
        mha(Tensor(rand((2, 3, 8)).astype(np.float32))).sum().backward()
        for name, p in mha.named_parameters():
            assert p.grad is not None and np.abs(p.grad.data).sum() > 0, name

    @pytest.mark.parametrize(
        "make,match",
        [
            (lambda: MultiHeadAttention(10, 3), "divisible"),
            (lambda: MultiHeadAttention(0, 1), "embed_dim"),
            (lambda: MultiHeadAttention(8, 0), "num_heads"),
            (lambda: MultiHeadAttention(8, 2, dropout=1.5), "dropout"),
        ],
    )
    def test_constructor_errors(self, make, match):
        with pytest.raises(ValueError, match=match):
            make()

    @pytest.mark.parametrize(
        "shape,mask,match",
        [
            ((2, 4, 6), None, r"\(B, T, 8\)"),
            ((4, 8), None, r"\(B, T, 8\)"),
            ((2, 4, 8), np.ones((3, 3), bool), r"mask of shape \(3, 3\)"),
            ((2, 4, 8), np.ones((3, 2, 4, 4), bool), "does not fit"),
        ],
    )
    def test_forward_errors(self, shape, mask, match):
        mha = MultiHeadAttention(8, 2)
        with pytest.raises(ValueError, match=match):
            mha(Tensor(np.zeros(shape, np.float32)), mask)

    def test_project_output_error(self):
        with pytest.raises(ValueError, match="project_output"):
            MultiHeadAttention(8, 2).project_output(Tensor(np.zeros((1, 4, 3, 2), np.float32)))

    def test_dropout_only_in_training(self):
        mha = MultiHeadAttention(8, 2, dropout=0.5)
        x = Tensor(rand((1, 6, 8)).astype(np.float32))
        mha.eval()
        a, b = mha(x).data, mha(x).data
        np.testing.assert_array_equal(a, b)
        mha.train()
        assert not np.allclose(mha(x).data, a)


class TestPositional:
    @pytest.mark.parametrize("cls", [PositionalEncoding, SinusoidalPositionalEncoding])
    def test_start_pos_offsets_positions(self, cls):
        pe = cls(10, 6)
        x = Tensor(np.zeros((2, 10, 6), np.float32))
        full = pe(x).data
        chunk = pe(Tensor(np.zeros((2, 3, 6), np.float32)), start_pos=4).data
        np.testing.assert_array_equal(chunk, full[:, 4:7])
        one = pe(Tensor(np.zeros((1, 1, 6), np.float32)), start_pos=9).data
        np.testing.assert_array_equal(one[0, 0], full[0, 9])

    @pytest.mark.parametrize("cls", [PositionalEncoding, SinusoidalPositionalEncoding])
    @pytest.mark.parametrize("t,start", [(11, 0), (3, 8), (1, 10)])
    def test_past_max_seq_len_raises(self, cls, t, start):
        pe = cls(10, 4)
        with pytest.raises(ValueError, match="max_seq_len"):
            pe(Tensor(np.zeros((1, t, 4), np.float32)), start_pos=start)

    @pytest.mark.parametrize("cls", [PositionalEncoding, SinusoidalPositionalEncoding])
    def test_other_errors(self, cls):
        pe = cls(10, 4)
        with pytest.raises(ValueError, match=r"\(\.\.\., T, 4\)"):
            pe(Tensor(np.zeros((1, 3, 5), np.float32)))
        with pytest.raises(ValueError, match="start_pos"):
            pe(Tensor(np.zeros((1, 3, 4), np.float32)), start_pos=-1)
        with pytest.raises(TypeError, match="start_pos"):
            pe(Tensor(np.zeros((1, 3, 4), np.float32)), start_pos=1.0)

    def test_sinusoidal_formula(self):
        e = 7  # odd: one more sine column than cosine columns
        table = sinusoidal_table(5, e, np.float64)
        p, i = 3, 2
        w = 1.0 / 10000 ** (2 * i / e)
        assert table[p, 2 * i] == pytest.approx(np.sin(p * w))
        assert table[p, 2 * i + 1] == pytest.approx(np.cos(p * w))
        np.testing.assert_allclose(table[0, 0::2], 0.0)
        np.testing.assert_allclose(table[0, 1::2], 1.0)

    def test_sinusoidal_has_no_parameters_and_no_state(self):
        pe = SinusoidalPositionalEncoding(8, 4)
        assert list(pe.parameters()) == []
        assert pe.state_dict() == {}

    def test_learned_positions_get_gradients_only_where_used(self):
        pe = PositionalEncoding(8, 3)
        pe(Tensor(np.ones((2, 3, 3), np.float32)), start_pos=2).sum().backward()
        g = pe.weight.grad.data
        np.testing.assert_array_equal(g[2:5], 2.0)  # two batch items
        np.testing.assert_array_equal(g[:2], 0.0)
        np.testing.assert_array_equal(g[5:], 0.0)


class TestMLPAndBlock:
    def test_mlp_shapes_and_default_hidden(self):
        mlp = MLP(8)
        assert mlp.fc.weight.shape == (32, 8) and mlp.proj.weight.shape == (8, 32)
        assert mlp(Tensor(np.zeros((2, 3, 8), np.float32))).shape == (2, 3, 8)
        assert MLP(8, hidden_dim=5).fc.weight.shape == (5, 8)
        assert mlp.act.approximate == "tanh"

    def test_block_is_pre_norm_residual(self):
        block = to_float64(TransformerBlock(8, 2, mlp_ratio=2))
        x = Tensor(rand((2, 4, 8)), dtype="float64")
        mask = create_causal_mask(4)
        h = x + block.attn(block.ln1(x), mask)
        expected = h + block.mlp(block.ln2(h))
        np.testing.assert_allclose(block(x, mask).data, expected.data, atol=1e-14)
        assert isinstance(block.ln1, LayerNorm) and isinstance(block.attn, MultiHeadAttention)
        assert block.mlp.hidden_dim == 16

    def test_block_gradcheck(self):
        block = to_float64(TransformerBlock(4, 2, mlp_ratio=1))
        x = Tensor(rand((1, 3, 4)), dtype="float64", requires_grad=True)
        mask = create_causal_mask(3)
        assert ag.gradcheck(lambda x, *ps: block(x, mask), (x, *block.parameters()))

    def test_block_uses_a_swapped_attention_module(self):
        class Zero(Module):
            def forward(self, x, mask=None, start_pos=None):
                return x * 0.0

        block = TransformerBlock(8, 2)
        x = Tensor(rand((1, 3, 8)).astype(np.float32))
        block.attn = Zero()
        expected = x + block.mlp(block.ln2(x))
        np.testing.assert_allclose(block(x).data, expected.data, rtol=1e-6)

    def test_block_errors(self):
        with pytest.raises(ValueError, match="divisible"):
            TransformerBlock(10, 4)
        with pytest.raises(ValueError, match="mlp_ratio"):
            TransformerBlock(8, 2, mlp_ratio=0)
