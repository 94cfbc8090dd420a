"""Composition with the rest of the stack: KV cache, profiler, Trainer.

These need packages above tinytorch-quant's own dependencies; each test
skips when its package is absent (the ``stack`` session installs them all).
"""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.quant import (
    QuantizedLinear,
    WeightOnlyLinear,
    convert,
    prepare_qat,
    quantize_dynamic,
    quantize_static,
    quantize_weights,
)
from tinytorch.tensor import Tensor, manual_seed


def gpt():
    transformers = pytest.importorskip("tinytorch.transformers")
    manual_seed(0)
    return transformers.GPT(vocab_size=23, embed_dim=32, num_layers=2, num_heads=4,
                            max_seq_len=32).eval()


def quantized(model, how):
    if how == "dynamic":
        return quantize_dynamic(model)
    if how == "int8 per-channel":
        return quantize_weights(model, bits=8, group_size=None)
    return quantize_weights(model, bits=int(how[3:]))


@pytest.mark.parametrize("how", ["dynamic", "int4", "int8 per-channel"])
def test_kv_cache_on_a_quantized_gpt_gives_the_uncached_tokens(how):
    kvcache = pytest.importorskip("tinytorch.kvcache")
    model = gpt()
    q = quantized(model, how)
    assert any(isinstance(m, (QuantizedLinear, WeightOnlyLinear)) for m in q.modules())
    prompt = np.array([[1, 5, 7, 2]])
    uncached = q.generate(prompt, 12, temperature=0, use_cache=False)
    cached = kvcache.generate(q, prompt, 12, temperature=0)
    assert np.array_equal(cached.data, uncached.data)
    # and the cached logits equal the uncached ones (dynamic activations are
    # quantized per token, so a token's codes do not depend on the others)
    kvcache.enable_kv_cache(q)
    try:
        from tinytorch.autograd import no_grad
        with no_grad():
            full = q(Tensor(np.array([[1, 5, 7, 2, 9]]))).data
            q.generation_cache.reset()
            q(Tensor(np.array([[1, 5, 7, 2]])))
            last = q(Tensor(np.array([[9]])), start_pos=4).data
        assert np.allclose(last[0, -1], full[0, -1], atol=1e-4)
    finally:
        kvcache.disable_kv_cache(q)


@pytest.mark.parametrize("how", ["dynamic", "static", "int8", "int4", "int8 per-channel"])
def test_forward_rows_equals_forward(how):
    """The row-kernel protocol method computes exactly what forward does."""
    rng = np.random.default_rng(0)
    lin = nn.Linear(24, 10)
    x = rng.standard_normal((3, 24)).astype(np.float32)
    if how == "dynamic":
        q = QuantizedLinear.from_float(lin)
    elif how == "static":
        q = QuantizedLinear.from_float(lin, act_qparams=(np.float32(0.02), 128))
    elif how == "int8 per-channel":
        q = WeightOnlyLinear.from_float(lin, bits=8, group_size=24)
    else:
        q = WeightOnlyLinear.from_float(lin, bits=int(how[3:]), group_size=8)
    before = x.copy()
    rows = q.forward_rows(x)
    assert rows.shape == (3, 10) and rows.dtype == np.float32
    np.testing.assert_array_equal(rows, q(Tensor(x)).data)
    np.testing.assert_array_equal(x, before)  # the input is not modified


@pytest.mark.parametrize("how", ["dynamic", "int8", "int8 per-channel"])
def test_quantized_gpt_takes_the_fused_decode_path(how):
    """Quantized Linears follow kvcache's row-kernel protocol, so every decode
    step of every block is the two fused primitives (no attention op)."""
    kvcache = pytest.importorskip("tinytorch.kvcache")
    from tinytorch.tensor import hooks
    model = gpt()
    q = quantized(model, how)
    counts = {}

    def post(op, inputs, out, params, saved):
        counts[op.name] = counts.get(op.name, 0) + 1

    prompt = np.array([[1, 5, 7, 2]])
    with hooks(post=post):
        cached = kvcache.generate(q, prompt, 6, temperature=0)
    assert counts[kvcache.DECODE_BLOCK.name] == counts[kvcache.DECODE_QKV.name] == 2 * 5
    assert np.array_equal(cached.data,
                          q.generate(prompt, 6, temperature=0, use_cache=False).data)


def test_profiler_counts_the_quantized_ops_flops():
    perf = pytest.importorskip("tinytorch.perf")
    manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    x = Tensor(np.random.default_rng(0).normal(size=(8, 64)).astype(np.float32))
    prof = perf.Profiler()
    float_flops = prof.count_flops(model, x)
    q8 = prof.count_flops(quantize_static(model, [x]), x)
    q4 = prof.count_flops(quantize_weights(model, bits=4), x)
    gemm = 2 * 8 * (64 * 32 + 32 * 10)
    assert float_flops >= gemm and q8 >= gemm and q4 >= gemm
    assert q8 > float_flops  # quantizing the activations and rescaling cost work too


def test_trainer_fine_tunes_a_qat_model():
    optim = pytest.importorskip("tinytorch.optim")
    data = pytest.importorskip("tinytorch.data")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 16)).astype(np.float32)
    y = (x[:, :4].sum(axis=1) > 0).astype(np.int64)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
    qat = prepare_qat(model, bits=4, group_size=16)
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=32, shuffle=True)
    trainer = optim.Trainer(qat, optim.Adam(qat.parameters(), lr=1e-2),
                            nn.CrossEntropyLoss())
    before = trainer.evaluate(loader)["loss"]
    trainer.fit(loader, epochs=5)
    after = trainer.evaluate(loader)["loss"]
    assert after < 0.6 * before
    q = convert(qat)
    acc = (q(Tensor(x)).data.argmax(axis=1) == y).mean()
    assert acc > 0.9


def test_quantize_dynamic_quantizes_the_learned_position_table():
    """GPT's PositionalEncoding becomes an int8 table (one scale per position):
    outputs stay close, the size shrinks, start_pos still offsets the rows."""
    from tinytorch.quant import QuantizedPositionalEncoding, model_size_bytes
    from tinytorch.transformers import PositionalEncoding
    model = gpt()
    q = quantize_dynamic(model)
    assert isinstance(q.pos_emb, QuantizedPositionalEncoding)
    assert not any(isinstance(m, PositionalEncoding) for m in q.modules())
    assert model_size_bytes(q) < model_size_bytes(quantize_dynamic(model, embeddings=False))
    pos = QuantizedPositionalEncoding.from_float(model.pos_emb)
    x = np.random.default_rng(0).standard_normal((2, 5, 32)).astype(np.float32)
    for start in (0, 3, 27):
        ref = model.pos_emb(Tensor(x), start).data
        got = pos(Tensor(x), start).data
        assert got.shape == ref.shape and got.dtype == np.float32
        step = np.abs(model.pos_emb.weight.data).max(axis=1)[start:start + 5, None] / 127
        assert np.all(np.abs(got - ref) <= step / 2 + 1e-6)  # half a code per element
    assert pos.float_architecture()["parameters"] == [["weight", [32, 32], "float32"]]


@pytest.mark.parametrize("args,err", [
    (("x", 0), TypeError), ((np.zeros((2, 5, 31), np.float32), 0), ValueError),
    ((np.zeros((2, 5, 32), np.float32), 28), ValueError),
    ((np.zeros((2, 5, 32), np.float32), -1), ValueError),
    ((np.zeros((2, 5, 32), np.float32), 1.0), TypeError),
    ((np.zeros((2, 5, 32), np.float32), True), TypeError),
])
def test_quantized_position_table_rejects_bad_input(args, err):
    from tinytorch.quant import QuantizedPositionalEncoding
    pos = QuantizedPositionalEncoding.from_float(gpt().pos_emb)
    x, start = args
    with pytest.raises(err):
        pos(Tensor(x) if isinstance(x, np.ndarray) else x, start)
