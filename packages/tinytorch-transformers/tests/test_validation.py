"""One exception policy at the public boundary of tinytorch.transformers.

A wrong type is a TypeError, a bad value a ValueError; the message names the
class or function and the argument. One row per (call, exception, words).
"""

import numpy as np
import pytest

from tinytorch.tensor import Generator, Tensor
from tinytorch.tensor.testing import assert_raises
from tinytorch.transformers import (
    GPT,
    MLP,
    MultiHeadAttention,
    PositionalEncoding,
    SinusoidalPositionalEncoding,
    TransformerBlock,
    create_causal_mask,
    sample_next_token,
    scaled_dot_product_attention,
)

Q = Tensor(np.ones((1, 4, 3), np.float32))
LOGITS = np.zeros((2, 5))


def _gpt():
    return GPT(vocab_size=11, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=8)


ERRORS = [
    # sizes
    ("MHA float embed_dim", lambda: MultiHeadAttention(8.0, 2), TypeError,
     ["MultiHeadAttention", "embed_dim", "positive int"]),
    ("MHA bool heads", lambda: MultiHeadAttention(8, True), TypeError, ["num_heads"]),
    ("MHA zero heads", lambda: MultiHeadAttention(8, 0), ValueError, ["num_heads"]),
    ("MHA indivisible", lambda: MultiHeadAttention(10, 3), ValueError, ["divisible"]),
    ("MLP str size", lambda: MLP("8"), TypeError, ["MLP", "embed_dim"]),
    ("Block zero size", lambda: TransformerBlock(0, 2), ValueError, ["embed_dim"]),
    ("PositionalEncoding float", lambda: PositionalEncoding(8.5, 4), TypeError,
     ["PositionalEncoding", "max_seq_len"]),
    ("Sinusoidal zero", lambda: SinusoidalPositionalEncoding(8, 0), ValueError, ["embed_dim"]),
    ("GPT float vocab", lambda: GPT(11.0, 8, 1, 2, 8), TypeError, ["GPT", "vocab_size"]),
    ("GPT zero layers", lambda: GPT(11, 8, 0, 2, 8), ValueError, ["GPT", "num_layers"]),
    ("causal mask float", lambda: create_causal_mask(2.0), TypeError, ["seq_len"]),
    ("causal mask zero", lambda: create_causal_mask(0), ValueError, ["seq_len"]),
    # probabilities
    ("MHA str dropout", lambda: MultiHeadAttention(8, 2, dropout="0.1"), TypeError,
     ["MultiHeadAttention", "dropout"]),
    ("MHA dropout 1", lambda: MultiHeadAttention(8, 2, dropout=1.0), ValueError,
     ["dropout", "[0, 1)"]),
    ("GPT bool dropout", lambda: GPT(11, 8, 1, 2, 8, dropout=True), TypeError, ["dropout"]),
    ("sdpa str dropout_p", lambda: scaled_dot_product_attention(Q, Q, Q, dropout_p="0.5"),
     TypeError, ["dropout_p"]),
    ("sdpa dropout_p 1", lambda: scaled_dot_product_attention(Q, Q, Q, dropout_p=1.0),
     ValueError, ["dropout_p"]),
    # masks under both names
    ("sdpa mask and attn_mask", lambda: scaled_dot_product_attention(
        Q, Q, Q, np.ones((4, 4), bool), attn_mask=np.ones((4, 4), bool)), TypeError,
     ["mask=", "attn_mask="]),
    ("sdpa is_causal with mask", lambda: scaled_dot_product_attention(
        Q, Q, Q, np.ones((4, 4), bool), is_causal=True), ValueError, ["is_causal"]),
    ("sdpa is_causal int", lambda: scaled_dot_product_attention(Q, Q, Q, is_causal=1),
     TypeError, ["is_causal", "bool"]),
    # random sources
    ("sdpa int generator", lambda: scaled_dot_product_attention(Q, Q, Q, None, 0.5,
                                                                generator=3), TypeError,
     ["scaled_dot_product_attention", "generator"]),
    ("sample str generator", lambda: sample_next_token(LOGITS, 1.0, generator="x"), TypeError,
     ["sample_next_token", "generator"]),
    ("sample generator and rng", lambda: sample_next_token(
        LOGITS, 1.0, generator=Generator(0), rng=np.random.default_rng(0)), TypeError,
     ["generator=", "rng="]),
    ("generate generator and seed", lambda: _gpt().generate(
        np.zeros((1, 2), np.int64), 2, generator=1, seed=1), TypeError,
     ["generator=", "seed="]),
    ("generate str generator", lambda: _gpt().generate(np.zeros((1, 2), np.int64), 2,
                                                       generator="x"), TypeError,
     ["GPT.generate", "generator"]),
    # sampling arguments
    ("sample float top_k", lambda: sample_next_token(LOGITS, 1.0, top_k=2.0), TypeError,
     ["top_k", "int"]),
    ("sample zero top_k", lambda: sample_next_token(LOGITS, 1.0, top_k=0), ValueError,
     ["top_k"]),
    ("generate str temperature", lambda: _gpt().generate(np.zeros((1, 2), np.int64), 2,
                                                         temperature="hot"), TypeError,
     ["temperature"]),
    ("generate negative temperature", lambda: _gpt().generate(
        np.zeros((1, 2), np.int64), 2, temperature=-1.0), ValueError, ["temperature"]),
    ("generate float max_new", lambda: _gpt().generate(np.zeros((1, 2), np.int64), 2.0),
     TypeError, ["max_new_tokens"]),
]


@pytest.mark.parametrize("desc, call, exc, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_raise_the_policy_exception(desc, call, exc, words):
    # a case may spell a deprecated alias on purpose: its warning is not the point
    assert_raises(exc, call, words, desc=desc, ignore=[DeprecationWarning])


def test_generator_keyword_and_its_deprecated_aliases_agree():
    model = _gpt()
    prompt = np.zeros((2, 2), np.int64)
    new = model.generate(prompt, 5, generator=Generator(3)).data
    assert np.array_equal(model.generate(prompt, 5, generator=3).data, new)
    with pytest.warns(DeprecationWarning, match="generator="):
        old = model.generate(prompt, 5, seed=3).data
    np.testing.assert_array_equal(old, new)
    logits = np.random.default_rng(0).standard_normal((4, 7))
    a = sample_next_token(logits, 1.0, generator=np.random.default_rng(5))
    with pytest.warns(DeprecationWarning, match="generator="):
        b = sample_next_token(logits, 1.0, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_sdpa_attn_mask_and_is_causal_match_mask():
    rng = np.random.default_rng(0)
    q, k, v = (Tensor(rng.standard_normal((2, 5, 4)).astype(np.float32)) for _ in range(3))
    causal = create_causal_mask(5)
    ref, _ = scaled_dot_product_attention(q, k, v, causal)
    by_name, _ = scaled_dot_product_attention(q, k, v, attn_mask=causal)
    by_flag, _ = scaled_dot_product_attention(q, k, v, is_causal=True)
    np.testing.assert_array_equal(by_name.data, ref.data)
    np.testing.assert_array_equal(by_flag.data, ref.data)
