"""Hugging Face GPT-2 checkpoints in and out: ``config.json`` + ``model.safetensors``.

A GPT-2 folder (what ``GPT2LMHeadModel.save_pretrained`` writes, and what the
hub's ``gpt2`` repository holds) maps one to one onto a tinytorch GPT::

    safetensors key (prefix "transformer." optional)   tinytorch GPT        layout
    wte.weight                  (V, E)                 tok_emb.weight       same
    wpe.weight                  (n_positions, E)       pos_emb.weight       same
    h.i.ln_1.{weight,bias}                             blocks.i.ln1         same
    h.i.attn.c_attn.weight      (E, 3E)  Conv1D        blocks.i.attn.qkv    transposed
    h.i.attn.c_proj.weight      (E, E)   Conv1D        blocks.i.attn.out_proj  transposed
    h.i.ln_2.{weight,bias}                             blocks.i.ln2         same
    h.i.mlp.c_fc.weight         (E, 4E)  Conv1D        blocks.i.mlp.fc      transposed
    h.i.mlp.c_proj.weight       (4E, E)  Conv1D        blocks.i.mlp.proj    transposed
    ln_f.{weight,bias}                                 ln_f                 same
    lm_head.weight (untied only) (V, E)                head.weight          same

HF's ``Conv1D`` stores ``(in, out)`` and computes ``x @ W + b``; a Linear
stores ``(out, in)``, hence the transposes (biases are the same vectors).
The fused ``c_attn`` output is ``[q | k | v]`` with head ``h`` owning columns
``h*D:(h+1)*D`` of each third, which is exactly ``qkv``'s row order. Old
checkpoints also hold each layer's causal-mask buffers (``attn.bias``,
``attn.masked_bias``); they are constants and are skipped.

Cost: reading is one pass over the file plus one copy per tensor into the
model's arrays (the transposed ones strided); writing is one contiguous
copy per tensor and one file write. Both files are written atomically.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from dataclasses import asdict

import numpy as np
from safetensors.numpy import load_file, save

from tinytorch.nn import StateDictError
from tinytorch.nn.init import skip_init
from tinytorch.tensor import atomic_write
from tinytorch.transformers import GPT

from .gpt2_config import gpt2_config_from_gpt, gpt_config_from_gpt2
from .torch_state import as_numpy, state_dict_problems

__all__ = ["gpt2_state_dict", "load_gpt2_state_dict", "load_gpt2", "save_gpt2"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_PREFIX = "transformer."
_MASK_BUFFER = re.compile(r"^h\.\d+\.attn\.(bias|masked_bias)$")

# (HF suffix within block i, tinytorch suffix, Conv1D weight to transpose)
_BLOCK = (
    ("ln_1.weight", "ln1.weight", False), ("ln_1.bias", "ln1.bias", False),
    ("attn.c_attn.weight", "attn.qkv.weight", True), ("attn.c_attn.bias", "attn.qkv.bias", False),
    ("attn.c_proj.weight", "attn.out_proj.weight", True),
    ("attn.c_proj.bias", "attn.out_proj.bias", False),
    ("ln_2.weight", "ln2.weight", False), ("ln_2.bias", "ln2.bias", False),
    ("mlp.c_fc.weight", "mlp.fc.weight", True), ("mlp.c_fc.bias", "mlp.fc.bias", False),
    ("mlp.c_proj.weight", "mlp.proj.weight", True), ("mlp.c_proj.bias", "mlp.proj.bias", False),
)


def _name_map(model: GPT) -> list[tuple[str, str, bool]]:
    """``(hf_name, tinytorch_name, transpose)`` for every tensor of ``model``'s
    GPT-2 checkpoint, HF names without the ``transformer.`` prefix
    (``lm_head.weight`` keeps its own name)."""
    names = [("wte.weight", "tok_emb.weight", False), ("wpe.weight", "pos_emb.weight", False)]
    for i in range(model.config.num_layers):
        names += [(f"h.{i}.{hf}", f"blocks.{i}.{tt}", t) for hf, tt, t in _BLOCK]
    names += [("ln_f.weight", "ln_f.weight", False), ("ln_f.bias", "ln_f.bias", False)]
    if not model.config.tie_embeddings:
        names.append(("lm_head.weight", "head.weight", False))
    return names


def _check_gpt(model, where: str) -> GPT:
    if not isinstance(model, GPT):
        raise TypeError(f"{where}: expected a tinytorch.transformers.GPT, "
                        f"got {type(model).__name__}")
    return model


def _own_state(model: GPT, where: str) -> dict[str, np.ndarray]:
    """``model.state_dict()`` (no copies), checked to hold exactly the
    tensors of a GPT-2 (a model whose layers were swapped for others, e.g.
    quantized ones, has other keys)."""
    own = {}
    for mod_name, module in model.named_modules():
        prefix = f"{mod_name}." if mod_name else ""
        for name, p in module.named_parameters(recurse=False):
            own[prefix + name] = p.data
    expected = {tt for _, tt, _ in _name_map(model)} | (
        {"head.weight"} if model.config.tie_embeddings else set())
    extra, missing = sorted(set(own) - expected), sorted(expected - set(own))
    if extra or missing:
        raise ValueError(f"{where}: this GPT's tensors are not GPT-2's (extra: {extra}, "
                         f"missing: {missing})")
    return own


def gpt2_state_dict(model: GPT) -> OrderedDict[str, np.ndarray]:
    """``model``'s weights under ``GPT2LMHeadModel``'s names and layouts.

    Keys carry the ``transformer.`` prefix (as ``save_pretrained`` writes
    them); Conv1D weights are transposed to ``(in, out)``; every array is a
    C-contiguous copy; ``lm_head.weight`` is present only when the
    embeddings are untied (a tied head is ``wte.weight``).

    Raises:
        TypeError: ``model`` is not a GPT. ValueError: its tensors are not a
        GPT-2's (see :func:`save_gpt2` for the options GPT-2 lacks).
    """
    own = _own_state(_check_gpt(model, "gpt2_state_dict"), "gpt2_state_dict")
    out = OrderedDict()
    for hf, tt, transpose in _name_map(model):
        w = own[tt].T if transpose else own[tt]
        out[hf if hf == "lm_head.weight" else _PREFIX + hf] = np.ascontiguousarray(w).copy()
    return out


def _matched(model: GPT, state_dict, where: str) -> list[tuple[str, np.ndarray]]:
    """``(tinytorch name, array in tinytorch's layout)`` for every tensor of
    ``model``, read from a GPT-2 state dict; the arrays are views (Conv1D
    weights as transposed views). Raises as :func:`load_gpt2_state_dict`."""
    if not hasattr(state_dict, "items"):
        raise TypeError(f"{where}: expected a mapping, got {type(state_dict).__name__}")
    given = {}
    for key, value in state_dict.items():
        name = key[len(_PREFIX):] if key.startswith(_PREFIX) else key
        if _MASK_BUFFER.match(name) or (name == "lm_head.weight" and model.config.tie_embeddings):
            continue
        given[name] = as_numpy(value, key)
    own = _own_state(model, where)
    names = _name_map(model)
    expected = {hf: own[tt].T.shape if t else own[tt].shape for hf, tt, t in names}
    problems = state_dict_problems(expected, given)
    if problems:
        raise StateDictError(f"error loading a GPT-2 state dict into GPT ({model.extra_repr()}): "
                             + "; ".join(problems))
    return [(tt, given[hf].T if t else given[hf]) for hf, tt, t in names]


def load_gpt2_state_dict(model: GPT, state_dict) -> None:
    """Copy a ``GPT2LMHeadModel`` / ``GPT2Model`` state dict into ``model`` in place.

    Accepts keys with or without the ``transformer.`` prefix, NumPy arrays
    or torch tensors; skips the causal-mask buffers of old checkpoints and a
    redundant ``lm_head.weight`` when the embeddings are tied. Values are
    cast to the model's dtype. Nothing is written unless every check passes.

    Raises:
        TypeError: ``model`` is not a GPT, ``state_dict`` not a mapping.
        StateDictError (a KeyError and a ValueError): every missing,
            unexpected and mis-shaped key in one message (GPT-2 names).
    """
    _check_gpt(model, "load_gpt2_state_dict")
    own = _own_state(model, "load_gpt2_state_dict")
    for name, value in _matched(model, state_dict, "load_gpt2_state_dict"):
        own[name][...] = value


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as writable NumPy arrays.

    safetensors >= 0.8 can read with ``pread`` straight into the arrays: the
    process then holds one copy of the weights, not the file's mapped pages
    as well (half the peak memory of the default ``mmap`` backend)."""
    try:
        return load_file(path, backend="pread")
    except TypeError:  # older safetensors: no backend argument
        return load_file(path)


def load_gpt2(path, *, dropout: float | None = None) -> GPT:
    """Read a Hugging Face GPT-2 folder (``config.json`` + ``model.safetensors``).

    Args:
        path: the folder, e.g. ``save_pretrained``'s output or a download of
            the hub's ``gpt2``.
        dropout: overrides the config's dropout probabilities.

    Returns:
        A float32 :class:`GPT` in evaluation mode, built with GPT-2's
        options (tied embeddings unless the config unties them, no head
        bias, the config's LayerNorm eps and GELU form).

    Raises:
        FileNotFoundError: the folder or one of its two files is missing.
        ValueError: the config cannot be honoured (see
            :func:`gpt_config_from_gpt2`), or the weights are in a dtype
            NumPy cannot hold (bfloat16).
        StateDictError: the weights do not fit the config (all problems listed).
    """
    folder = os.fspath(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"load_gpt2: {folder!r} is not a folder")
    config_path, weights_path = (os.path.join(folder, n) for n in (CONFIG_NAME, WEIGHTS_NAME))
    for p in (config_path, weights_path):
        if not os.path.isfile(p):
            raise FileNotFoundError(f"load_gpt2: {p!r} does not exist (a GPT-2 folder holds "
                                    f"{CONFIG_NAME} and {WEIGHTS_NAME})")
    with open(config_path, encoding="utf-8") as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as exc:
            raise ValueError(f"load_gpt2: {config_path!r} is not valid JSON ({exc})") from None
    # Every parameter is overwritten from the file below (load_gpt2_state_dict
    # checks that each one is present): skip the random initialisation.
    model = skip_init(GPT, **asdict(gpt_config_from_gpt2(config, dropout=dropout)))
    try:
        weights = _read_safetensors(weights_path)
    except Exception as exc:  # safetensors raises its own error types
        raise ValueError(f"load_gpt2: cannot read {weights_path!r} with NumPy ({exc}); "
                         f"bfloat16 checkpoints must be converted to float32 or float16 "
                         f"first") from None
    # The model is new and its parameters uninitialised: each one takes the
    # file's array itself (a transposed view for the Conv1D weights, whose
    # GEMMs BLAS runs in either layout), so loading copies nothing twice.
    params = dict(model.named_parameters(remove_duplicate=False))
    for name, value in _matched(model, weights, "load_gpt2"):
        params[name].data = value.astype(np.float32, copy=False)
    return model.eval()


def save_gpt2(model: GPT, path) -> None:
    """Write ``model`` as a Hugging Face GPT-2 folder that
    ``transformers.GPT2LMHeadModel.from_pretrained(path)`` loads.

    The folder is created if needed; ``model.safetensors`` (float32 or the
    model's dtype, metadata ``format: pt``) and ``config.json`` are each
    written atomically (temporary file in the folder, then rename), so an
    interrupted save leaves the previous files intact.

    Raises:
        TypeError: ``model`` is not a GPT.
        ValueError: the model has options GPT-2 cannot express (a head bias,
            Linears without biases) or swapped layers with other tensors.
    """
    _check_gpt(model, "save_gpt2")
    config = gpt2_config_from_gpt(model.config)
    tensors = gpt2_state_dict(model)
    config["dtype"] = str(next(iter(tensors.values())).dtype)
    folder = os.fspath(path)
    os.makedirs(folder, exist_ok=True)
    blob = save(dict(tensors), metadata={"format": "pt"})
    atomic_write(os.path.join(folder, WEIGHTS_NAME), lambda f: f.write(blob))
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    atomic_write(os.path.join(folder, CONFIG_NAME), lambda f: f.write(text), binary=False)
