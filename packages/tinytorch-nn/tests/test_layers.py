"""Layers: forward values, gradchecks (float64) and the errors at the boundary."""

from __future__ import annotations

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401
from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.nn import functional as F
from tinytorch.tensor import Generator, Tensor, ops

RNG = np.random.default_rng(0)


def t64(*shape, scale=1.0, grad=True):
    return Tensor(RNG.standard_normal(shape) * scale, dtype=np.float64, requires_grad=grad)


def check_module(module, *shape):
    """Gradcheck the module's output w.r.t. its input and every parameter."""
    module.double()
    x = t64(*shape)
    params = list(module.parameters())
    assert gradcheck(lambda x, *ps: module(x), (x, *params))


# ------------------------------------------------------------- gradchecks

MODULE_CASES = [
    ("linear", lambda: nn.Linear(4, 3), (5, 4)),
    ("linear_no_bias", lambda: nn.Linear(4, 3, bias=False), (2, 3, 4)),
    ("relu", nn.ReLU, (4, 5)),
    ("sigmoid", nn.Sigmoid, (4, 5)),
    ("tanh", nn.Tanh, (4, 5)),
    ("gelu_tanh", nn.GELU, (4, 5)),
    ("gelu_exact", lambda: nn.GELU("none"), (4, 5)),
    ("softmax", lambda: nn.Softmax(dim=0), (4, 5)),
    ("log_softmax", nn.LogSoftmax, (4, 5)),
    ("flatten", nn.Flatten, (2, 3, 2)),
    ("layer_norm_1d", lambda: nn.LayerNorm(6), (3, 6)),
    ("layer_norm_1d_batched", lambda: nn.LayerNorm(5), (2, 3, 5)),
    ("layer_norm_2d", lambda: nn.LayerNorm((3, 4)), (2, 3, 4)),
    ("layer_norm_no_affine", lambda: nn.LayerNorm(5, elementwise_affine=False), (4, 5)),
    ("mlp", lambda: nn.Sequential(nn.Linear(3, 6), nn.GELU(), nn.LayerNorm(6),
                                  nn.Linear(6, 2)), (4, 3)),
]


@pytest.mark.parametrize("name, make, shape", MODULE_CASES, ids=[c[0] for c in MODULE_CASES])
def test_module_gradients(name, make, shape):
    check_module(make(), *shape)


def test_layer_norm_with_random_affine_params_gradchecks():
    ln = nn.LayerNorm((2, 3)).double()
    ln.weight.data[...] = RNG.standard_normal((2, 3))
    ln.bias.data[...] = RNG.standard_normal((2, 3))
    x = t64(4, 2, 3, scale=3.0)
    assert gradcheck(lambda x, w, b: ln(x), (x, ln.weight, ln.bias))


def test_layer_norm_functional_weight_without_bias():
    x, w = t64(3, 4), t64(4)
    assert gradcheck(lambda x, w: F.layer_norm(x, 4, w, None), (x, w))


def test_layer_norm_forward_is_normalised():
    x = Tensor(RNG.standard_normal((8, 16)) * 5 + 3)
    y = nn.LayerNorm(16)(x).data
    assert np.allclose(y.mean(-1), 0, atol=1e-5) and np.allclose(y.std(-1), 1, atol=1e-3)


def test_layer_norm_dx_includes_mean_and_variance_paths():
    # With a loss that is linear in y, the gradient w.r.t. x of a correctly
    # differentiated layer norm sums to zero over each normalised group (the
    # mean path) and is orthogonal to xhat (the variance path). A backward
    # that treats mean/std as constants violates both.
    ln = nn.LayerNorm(6, elementwise_affine=False)
    x = Tensor(RNG.standard_normal((3, 6)), requires_grad=True)
    y = ln(x)
    (y * Tensor(RNG.standard_normal((3, 6)))).sum().backward()
    assert np.allclose(x.grad.data.sum(-1), 0, atol=1e-5)
    assert np.allclose((x.grad.data * y.data).sum(-1), 0, atol=1e-4)


@pytest.mark.parametrize("shape, normalized, message", [
    ((3, 4), 5, "does not end with"),
    ((3, 4), (3, 5), "does not end with"),
    ((4,), (2, 4), "does not end with"),
])
def test_layer_norm_shape_errors(shape, normalized, message):
    with pytest.raises(ValueError, match=message):
        F.layer_norm(Tensor(np.ones(shape)), normalized)


def test_linear_shape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5\).*in_features=4"):
        nn.Linear(4, 3)(Tensor(np.ones((2, 5))))
    with pytest.raises(ValueError):
        nn.Linear(0, 3)


def test_linear_matches_numpy_and_init_bounds():
    m = nn.Linear(64, 8)
    bound = 1 / np.sqrt(64)
    assert m.weight.shape == (8, 64) and m.bias.shape == (8,)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.bias.data).max() <= bound
    assert m.weight.data.std() > bound / 3  # really spread over the range
    x = RNG.standard_normal((5, 64)).astype(np.float32)
    np.testing.assert_allclose(m(Tensor(x)).data, x @ m.weight.data.T + m.bias.data, rtol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (3,)])
def test_linear_is_one_fused_primitive_with_torch_layout(shape, bias):
    from tinytorch.tensor import hooks
    m = nn.Linear(3, 2, bias=bias).double()
    x = np.random.default_rng(0).standard_normal(shape)
    seen = []
    with hooks(post=lambda op, inputs, out, params, saved: seen.append(op.name)):
        y = m(Tensor(x, dtype=np.float64))
    assert seen == ["linear"]  # matmul and bias add in one dispatch
    expected = x @ m.weight.data.T + (m.bias.data if bias else 0.0)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (3,)])
def test_linear_gradcheck(shape, bias):
    from tinytorch.autograd import gradcheck
    m = nn.Linear(3, 2, bias=bias).double()
    x = Tensor(np.random.default_rng(1).standard_normal(shape), dtype=np.float64,
               requires_grad=True)
    inputs = (x, m.weight) + ((m.bias,) if bias else ())
    assert gradcheck(lambda x, w, *b: nn.functional.linear(x, w, *b), inputs)


# -------------------------------------------------------------- embedding


def test_embedding_lookup_and_gradient_accumulates_repeats():
    emb = nn.Embedding(10, 3).double()
    ids = np.array([[1, 4, 1], [9, 1, 0]])
    out = emb(ids)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out.data, emb.weight.data[ids])
    g = RNG.standard_normal((2, 3, 3))
    out.backward(Tensor(g, dtype=np.float64))
    expected = np.zeros((10, 3))
    np.add.at(expected, ids.reshape(-1), g.reshape(-1, 3))
    np.testing.assert_allclose(emb.weight.grad.data, expected, atol=1e-12)
    assert gradcheck(lambda w: F.embedding(ids, w), (t64(10, 3),))


def test_embedding_uses_getitem_with_scatter_add_backward():
    from tinytorch.tensor import hooks
    seen = []
    with hooks(post=lambda op, inputs, out, params, saved: seen.append(op)):
        nn.Embedding(5, 2)(Tensor(np.array([0, 3])))
    assert seen == [ops.GETITEM]


def test_embedding_backward_is_the_sorted_scatter_add(monkeypatch):
    from tinytorch.autograd import _rules
    calls = []
    real = _rules.scatter_add_rows

    def spy(n_rows, index, g):
        calls.append((n_rows, index.tolist(), g.shape))
        return real(n_rows, index, g)

    monkeypatch.setattr(_rules, "scatter_add_rows", spy)
    emb = nn.Embedding(6, 4)
    emb(np.array([[5, 1], [1, 1]])).sum().backward()
    assert calls == [(6, [5, 1, 1, 1], (4, 4))]
    np.testing.assert_array_equal(emb.weight.grad.data[:, 0], [0, 3, 0, 0, 0, 1])


def test_embedding_padding_idx_gets_no_gradient():
    emb = nn.Embedding(5, 2, padding_idx=0)
    assert np.all(emb.weight.data[0] == 0)
    out = emb(np.array([0, 2, 0, 2]))
    out.sum().backward()
    assert np.all(emb.weight.grad.data[0] == 0) and np.all(emb.weight.grad.data[2] == 2)


@pytest.mark.parametrize("ids, exc, message", [
    (np.array([0, 10]), IndexError, "id 10 is out of range for num_embeddings=10"),
    (np.array([[3, -1]]), IndexError, "id -1 is out of range for num_embeddings=10"),
    (np.array([0.0, 1.0]), TypeError, "integers"),
    (Tensor([1.0]), TypeError, "integers"),
])
def test_embedding_bad_ids(ids, exc, message):
    with pytest.raises(exc, match=message):
        nn.Embedding(10, 4)(ids)


# ---------------------------------------------------------------- dropout


def test_dropout_is_seeded_inverted_and_one_multiply():
    from tinytorch.tensor import hooks
    x = Tensor(np.ones((200, 50)), requires_grad=True)
    seen = []
    with hooks(post=lambda op, inputs, out, params, saved: seen.append(op.name)):
        y = nn.Dropout(0.3, generator=Generator(1))(x)
    assert seen == ["mul"]
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # same mask in the backward
    y2 = nn.Dropout(0.3, generator=Generator(1))(x)
    np.testing.assert_array_equal(y.data, y2.data)  # same seed, same mask


def test_dropout_gradcheck_with_a_fixed_mask():
    # A fresh generator with the same seed per call: every evaluation of the
    # function uses the same mask, so central differences are meaningful.
    x = t64(6, 5)
    assert gradcheck(lambda x: F.dropout(x, 0.4, True, Generator(5)), (x,))


def test_layer_norm_is_one_primitive_with_8_flops_per_element():
    from tinytorch.tensor import hooks
    seen = []
    with hooks(post=lambda op, ins, out, params, saved:
               seen.append((op.name, op.flops([i.data for i in ins], out.data, params)))):
        nn.LayerNorm(16)(Tensor(np.ones((4, 16))))
    assert seen == [("layer_norm", 8 * 64)]


def test_dropout_eval_and_edge_probabilities():
    x = Tensor(np.ones((4, 4)))
    d = nn.Dropout(0.5, generator=Generator(0)).eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert np.all(nn.Dropout(1.0)(x).data == 0)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)
    with pytest.raises(ValueError):
        F.dropout(x, -0.1)


def test_dropout_default_generator_is_reproducible():
    from tinytorch import tensor as tt
    tt.manual_seed(3)
    a = F.dropout(Tensor(np.ones(100)), 0.5).data
    tt.manual_seed(3)
    b = F.dropout(Tensor(np.ones(100)), 0.5, rng=None).data
    c = F.dropout(Tensor(np.ones(100)), 0.5, generator=Generator(3)).data
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------- containers


def test_sequential_container_protocol():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    seq.append(c)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[-1] is c
    assert isinstance(seq[1:], nn.Sequential) and list(seq[1:]) == [b, c]
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh) and list(seq._modules) == ["0", "1", "2"]
    x = Tensor(np.ones((4, 2)))
    np.testing.assert_allclose(seq(x).data, c(seq[1](a(x))).data)
    with pytest.raises(IndexError):
        seq[3]
    with pytest.raises(TypeError):
        nn.Sequential(nn.ReLU(), "x")


def test_module_list_protocol():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(2)])
    ml.append(nn.ReLU())
    ml.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Tanh", "Linear", "Linear", "ReLU"]
    assert list(ml._modules) == ["0", "1", "2", "3"]
    assert len(list(ml.parameters())) == 4
    with pytest.raises(NotImplementedError):
        ml(Tensor([1.0]))


def test_flatten_and_identity():
    x = Tensor(np.ones((2, 3, 4, 5)))
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Identity(7, foo=1)(x) is x


def test_softmax_dim_and_axis_alias():
    x = Tensor(RNG.standard_normal((3, 4)))
    np.testing.assert_allclose(F.softmax(x, axis=0).data, F.softmax(x, 0).data)
    np.testing.assert_allclose(F.log_softmax(x, axis=0).data, F.log_softmax(x, dim=0).data)
    np.testing.assert_allclose(F.softmax(x).data.sum(-1), 1, rtol=1e-6)
    with pytest.raises(TypeError, match="both dim=0 and axis=1"):
        F.softmax(x, 0, axis=1)
