"""Hugging Face ``GPT2Config`` (``config.json``) <-> :class:`GPTConfig`.

The two name the same numbers differently::

    config.json                         GPTConfig
    vocab_size                          vocab_size
    n_embd / n_layer / n_head           embed_dim / num_layers / num_heads
    n_positions (= n_ctx if present)    max_seq_len
    n_inner (null = 4 * n_embd)         mlp_ratio = n_inner / n_embd
    layer_norm_epsilon                  layer_norm_eps
    activation_function                 gelu_approximate: gelu_new, gelu_pytorch_tanh,
                                        gelu_fast -> "tanh"; gelu -> "none"
    resid_pdrop = embd_pdrop = attn_pdrop   dropout (one probability here)
    tie_word_embeddings (default true)  tie_embeddings
    (always)                            bias=True, head_bias=False

Every key either maps to a field, is checked to hold the only value this GPT
computes (``scale_attn_weights: true``, ``scale_attn_by_inverse_layer_idx:
false``, ``add_cross_attention: false``), or is known not to change the
language model's logits (token ids, summary heads of other architectures,
bookkeeping). Anything else is an error that names the key: a checkpoint is
never half-understood in silence.
"""

from __future__ import annotations

from collections.abc import Mapping

from tinytorch.transformers import GPTConfig

__all__ = ["ARCHITECTURES", "gpt_config_from_gpt2", "gpt2_config_from_gpt"]

#: The ``architectures`` entries whose weights this package reads.
ARCHITECTURES = ("GPT2LMHeadModel", "GPT2Model")

_ACTIVATIONS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh",
                "gelu": "none"}

# Keys that do not change the logits of the language model.
_IGNORED = frozenset({
    "initializer_range", "summary_type", "summary_use_proj", "summary_activation",
    "summary_proj_to_labels", "summary_first_dropout", "bos_token_id", "eos_token_id",
    "pad_token_id", "sep_token_id", "decoder_start_token_id", "use_cache",
    "transformers_version", "torch_dtype", "dtype", "task_specific_params",
    "_name_or_path", "reorder_and_upcast_attn", "output_past", "id2label", "label2id",
    "tokenizer_class", "prefix", "return_dict", "output_hidden_states",
    "output_attentions", "torchscript", "problem_type", "finetuning_task",
    "_attn_implementation", "attn_implementation", "gradient_checkpointing",
})
# Keys whose value must be exactly this, or the model computes something else.
_FIXED = {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
          "add_cross_attention": False, "is_encoder_decoder": False}
_SIZES = ("vocab_size", "n_embd", "n_layer", "n_head", "n_positions")
_MAPPED = frozenset({*_SIZES, "model_type", "architectures", "n_ctx", "n_inner",
                     "layer_norm_epsilon", "activation_function", "resid_pdrop",
                     "embd_pdrop", "attn_pdrop", "tie_word_embeddings"})


def _check_keys(config: Mapping) -> list[str]:
    """Every reason ``config`` cannot be honoured (empty when it can)."""
    problems = []
    if config.get("model_type", "gpt2") != "gpt2":
        problems.append(f"model_type is {config['model_type']!r}, not 'gpt2'")
    archs = config.get("architectures") or ["GPT2LMHeadModel"]
    unknown_archs = [a for a in archs if a not in ARCHITECTURES]
    if unknown_archs:
        problems.append(f"unsupported architectures {unknown_archs} (supported: "
                        f"{list(ARCHITECTURES)})")
    missing = [k for k in _SIZES if k not in config]
    if missing:
        problems.append(f"missing keys {missing}")
    bad_sizes = [k for k in _SIZES if k in config and (
        isinstance(config[k], bool) or not isinstance(config[k], int) or config[k] < 1)]
    if bad_sizes:
        problems.append(f"{bad_sizes} must be positive integers")
    for key, value in _FIXED.items():
        if key in config and config[key] != value:
            problems.append(f"{key}={config[key]!r} is not supported (only {value!r})")
    if config.get("n_ctx", config.get("n_positions")) != config.get("n_positions"):
        problems.append(f"n_ctx={config['n_ctx']} differs from n_positions="
                        f"{config.get('n_positions')}")
    act = config.get("activation_function", "gelu_new")
    if act not in _ACTIVATIONS:
        problems.append(f"activation_function {act!r} is not supported "
                        f"(supported: {sorted(_ACTIVATIONS)})")
    unknown = sorted(k for k in config if k not in _MAPPED | _IGNORED | set(_FIXED))
    if unknown:
        problems.append(f"unknown keys {unknown}")
    return problems


def _dropout(config: Mapping, dropout) -> float:
    if dropout is not None:
        return dropout
    rates = {config.get(k, 0.1) for k in ("resid_pdrop", "embd_pdrop", "attn_pdrop")}
    if len(rates) > 1:
        raise ValueError(
            f"GPT-2 config: resid_pdrop, embd_pdrop and attn_pdrop differ ({sorted(rates)}); "
            f"this GPT has one dropout probability: pass dropout= to choose it")
    return rates.pop()


def gpt_config_from_gpt2(config: Mapping, *, dropout: float | None = None) -> GPTConfig:
    """The :class:`GPTConfig` of a Hugging Face GPT-2 ``config.json`` (a dict).

    Args:
        config: the parsed ``config.json``.
        dropout: overrides the config's dropout probabilities (required when
            ``resid_pdrop``, ``embd_pdrop`` and ``attn_pdrop`` differ).

    Raises:
        TypeError: ``config`` is not a mapping.
        ValueError: one error listing every problem: another model type or
            architecture, missing or non-positive sizes, an unsupported
            activation or attention option, ``n_ctx != n_positions``,
            ``n_inner`` not a positive int, unknown keys, differing dropouts.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"gpt_config_from_gpt2: expected a dict, got {type(config).__name__}")
    problems = _check_keys(config)
    if problems:
        raise ValueError("cannot read this GPT-2 config: " + "; ".join(problems))
    e = config["n_embd"]
    hidden = config.get("n_inner") or 4 * e
    if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
        raise ValueError(f"GPT-2 config: n_inner must be a positive int or null, got {hidden!r}")
    ratio = hidden / e
    if int(ratio * e) != hidden:  # TransformerBlock's width is int(mlp_ratio * E)
        raise ValueError(f"GPT-2 config: n_inner={hidden} is not representable as "
                         f"mlp_ratio * n_embd in floating point")
    return GPTConfig(
        vocab_size=config["vocab_size"], embed_dim=e, num_layers=config["n_layer"],
        num_heads=config["n_head"], max_seq_len=config["n_positions"],
        dropout=_dropout(config, dropout), mlp_ratio=4 if hidden == 4 * e else ratio,
        bias=True, layer_norm_eps=float(config.get("layer_norm_epsilon", 1e-5)),
        gelu_approximate=_ACTIVATIONS[config.get("activation_function", "gelu_new")],
        tie_embeddings=bool(config.get("tie_word_embeddings", True)), head_bias=False,
    )


def gpt2_config_from_gpt(cfg: GPTConfig) -> dict:
    """The Hugging Face ``config.json`` (a dict) of a GPT with ``cfg``.

    Raises:
        TypeError: ``cfg`` is not a GPTConfig.
        ValueError: ``cfg`` has options GPT-2 cannot express, all listed:
            a head bias (GPT-2's ``lm_head`` has none) or Linears without
            biases (GPT-2's ``Conv1D`` always has them).
    """
    if not isinstance(cfg, GPTConfig):
        raise TypeError(f"gpt2_config_from_gpt: expected a GPTConfig, got {type(cfg).__name__}")
    problems = []
    if cfg.head_bias:
        problems.append("the head has a bias (GPT-2's lm_head has none: build the GPT with "
                        "head_bias=False)")
    if not cfg.bias:
        problems.append("the attention and MLP Linears have no biases (GPT-2's always do)")
    if problems:
        raise ValueError("this GPT cannot be saved as GPT-2: " + "; ".join(problems))
    hidden = int(cfg.mlp_ratio * cfg.embed_dim)
    # GPT-2's own vocabulary ends with <|endoftext|>, its bos and eos token.
    eos = cfg.vocab_size - 1 if cfg.vocab_size == 50257 else None
    return {
        "activation_function": "gelu_new" if cfg.gelu_approximate == "tanh" else "gelu",
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "vocab_size": cfg.vocab_size, "n_embd": cfg.embed_dim, "n_layer": cfg.num_layers,
        "n_head": cfg.num_heads, "n_positions": cfg.max_seq_len,
        "n_inner": None if hidden == 4 * cfg.embed_dim else hidden,
        "layer_norm_epsilon": cfg.layer_norm_eps, "resid_pdrop": cfg.dropout,
        "embd_pdrop": cfg.dropout, "attn_pdrop": cfg.dropout,
        "tie_word_embeddings": cfg.tie_embeddings, "scale_attn_weights": True,
        "scale_attn_by_inverse_layer_idx": False, "add_cross_attention": False,
        "bos_token_id": eos, "eos_token_id": eos, "initializer_range": 0.02,
    }
