"""GPT-2 folders without torch: save/load round trips, config translation, errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tinytorch.interop import (
    gpt2_config_from_gpt,
    gpt2_state_dict,
    gpt_config_from_gpt2,
    load_gpt2,
    load_gpt2_state_dict,
    save_gpt2,
)
from tinytorch.nn import StateDictError
from tinytorch.tensor import manual_seed
from tinytorch.transformers import GPT, GPTConfig

V, E, L, H, T = 29, 16, 2, 4, 12
GPT2 = {"tie_embeddings": True, "head_bias": False}
IDS = np.random.default_rng(0).integers(0, V, size=(2, 9))
HF_CONFIG = {"vocab_size": V, "n_embd": E, "n_layer": L, "n_head": H, "n_positions": T,
             "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]}


def gpt(**kw):
    manual_seed(0)
    return GPT(V, E, L, H, T, **{**GPT2, **kw}).eval()


@pytest.mark.parametrize("kw", [{}, {"tie_embeddings": False}, {"gelu_approximate": "none"},
                                {"mlp_ratio": 2}, {"layer_norm_eps": 1e-3}])
def test_save_then_load_gives_the_same_model(tmp_path, kw):
    model = gpt(**kw)
    save_gpt2(model, tmp_path / "m")
    back = load_gpt2(tmp_path / "m")
    assert back.config == model.config
    np.testing.assert_array_equal(back(IDS).data, model(IDS).data)
    assert (back.head.weight is back.tok_emb.weight) == model.config.tie_embeddings
    assert all(p.data.flags.writeable and p.data.dtype == np.float32
               for p in back.parameters())  # trainable in place


def test_the_files_are_hugging_faces_layout(tmp_path):
    model = gpt()
    save_gpt2(model, tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    assert "lm_head.weight" not in weights  # tied: the head is wte
    assert weights["transformer.h.0.attn.c_attn.weight"].shape == (E, 3 * E)  # Conv1D (in, out)
    np.testing.assert_array_equal(weights["transformer.h.1.mlp.c_proj.weight"],
                                  model.blocks[1].mlp.proj.weight.data.T)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["n_embd"] == E and config["tie_word_embeddings"] is True
    assert config["activation_function"] == "gelu_new" and config["n_inner"] is None
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]  # no temp files


def test_unprefixed_keys_and_mask_buffers_of_old_checkpoints(tmp_path):
    model = gpt()
    sd = {k.removeprefix("transformer."): v for k, v in gpt2_state_dict(model).items()}
    sd["h.0.attn.bias"] = np.tril(np.ones((1, 1, T, T), np.float32))
    sd["h.1.attn.masked_bias"] = np.array(-1e4, np.float32)
    save_file(sd, str(tmp_path / "model.safetensors"), metadata={"format": "pt"})
    (tmp_path / "config.json").write_text(json.dumps({**HF_CONFIG, "n_ctx": T}))
    np.testing.assert_array_equal(load_gpt2(tmp_path)(IDS).data, model(IDS).data)


def test_state_dict_errors_list_every_problem():
    model = gpt()
    sd = gpt2_state_dict(model)
    del sd["transformer.ln_f.bias"]
    sd["transformer.h.0.attn.c_attn.weight"] = sd["transformer.h.0.attn.c_attn.weight"].T
    sd["transformer.h.9.ln_1.weight"] = np.ones(E, np.float32)
    before = model.state_dict()
    with pytest.raises(StateDictError) as info:
        load_gpt2_state_dict(model, sd)
    msg = str(info.value)
    assert "ln_f.bias" in msg and "h.9.ln_1.weight" in msg and "h.0.attn.c_attn.weight" in msg
    for k, v in model.state_dict().items():  # nothing written
        np.testing.assert_array_equal(v, before[k])


def test_config_translation_both_ways():
    cfg = gpt_config_from_gpt2({**HF_CONFIG, "n_inner": 48, "activation_function": "gelu",
                                "layer_norm_epsilon": 1e-6, "resid_pdrop": 0.0,
                                "embd_pdrop": 0.0, "attn_pdrop": 0.0, "bos_token_id": 1,
                                "task_specific_params": {"text-generation": {}}})
    assert cfg == GPTConfig(V, E, L, H, T, dropout=0.0, mlp_ratio=3.0, bias=True,
                            layer_norm_eps=1e-6, gelu_approximate="none",
                            tie_embeddings=True, head_bias=False)
    back = gpt2_config_from_gpt(cfg)
    assert back["n_inner"] == 48 and back["activation_function"] == "gelu"
    assert gpt_config_from_gpt2(back) == cfg


@pytest.mark.parametrize("change, needle", [
    ({"model_type": "llama"}, "model_type"),
    ({"architectures": ["GPT2DoubleHeadsModel"]}, "unsupported architectures"),
    ({"activation_function": "relu"}, "activation_function"),
    ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
    ({"scale_attn_weights": False}, "scale_attn_weights"),
    ({"add_cross_attention": True}, "add_cross_attention"),
    ({"n_ctx": 7}, "n_ctx"),
    ({"rotary_dim": 8}, "unknown keys ['rotary_dim']"),
    ({"n_head": 0}, "positive integers"),
    ({"resid_pdrop": 0.2}, "dropout="),
    ({"n_inner": -3}, "n_inner"),
])
def test_config_that_cannot_be_honoured(change, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        gpt_config_from_gpt2({**HF_CONFIG, **change})


def test_all_config_problems_in_one_error():
    bad = {**HF_CONFIG, "model_type": "x", "activation_function": "relu", "foo": 1}
    del bad["n_layer"]
    with pytest.raises(ValueError) as info:
        gpt_config_from_gpt2(bad)
    for needle in ("model_type", "relu", "foo", "n_layer"):
        assert needle in str(info.value)


def test_dropout_override():
    cfg = gpt_config_from_gpt2({**HF_CONFIG, "resid_pdrop": 0.2}, dropout=0.0)
    assert cfg.dropout == 0.0


@pytest.mark.parametrize("kw, needle", [({"head_bias": True}, "head has a bias"),
                                        ({"bias": False}, "no biases")])
def test_options_gpt2_lacks_are_refused_before_writing(tmp_path, kw, needle):
    save_gpt2(gpt(), tmp_path)
    before = {p: (tmp_path / p).read_bytes() for p in os.listdir(tmp_path)}
    with pytest.raises(ValueError, match=needle):
        save_gpt2(gpt(**kw), tmp_path)
    assert {p: (tmp_path / p).read_bytes() for p in os.listdir(tmp_path)} == before


def test_missing_files_and_wrong_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a folder"):
        load_gpt2(tmp_path / "nope")
    (tmp_path / "config.json").write_text(json.dumps(HF_CONFIG))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_gpt2(tmp_path)
    with pytest.raises(TypeError):
        save_gpt2(object(), tmp_path)
    with pytest.raises(TypeError):
        gpt_config_from_gpt2([("n_embd", 3)])
