"""Submission bundles: everything a reviewer needs to run a submission again.

A bundle is a folder::

    my-entry/
        submission.json     the submission, with a "bundle" section:
                              task    the task's identity (data set, split, seed...)
                              models  {"baseline": config, "optimized": config}
                              files   {"baseline.npz": sha256, "optimized.npz": sha256}
        baseline.npz        Module.save state of the baseline (uncompressed npz)
        optimized.npz       the same for the optimized model

A *task identity* names a task this module can rebuild bit for bit
(:data:`TASKS`); a *model config* names a builder (:data:`BUILDERS`) and its
arguments, enough to rebuild the module tree the state file is loaded into.
Nothing in a bundle is executed: state files are read with the stack's
size-limited npz reader (no pickle), configs only choose among the builders
listed here.

:func:`load_bundle` checks every file's SHA-256 before it loads anything.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinytorch import nn
from tinytorch.data import digits_split, load_shakespeare
from tinytorch.text import CharTokenizer
from tinytorch.transformers import GPT

from .tasks import ClassificationData, GenerationData, TextGenerator

__all__ = ["BUNDLE_FORMAT", "SUBMISSION_FILE", "TASKS", "BUILDERS", "load_task", "build_model",
           "write_bundle", "load_bundle", "bundle_paths", "task_matches", "sha256_file",
           "BundleError"]

BUNDLE_FORMAT = "tinytorch-olympics-bundle/1"
SUBMISSION_FILE = "submission.json"
MODEL_FILES = {"baseline": "baseline.npz", "optimized": "optimized.npz"}


class BundleError(ValueError):
    """A bundle that cannot be reproduced: a missing or tampered file, an
    unknown task or builder, a state file that does not fit its config."""


def sha256_file(path) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(2**20), b""):
            h.update(chunk)
    return h.hexdigest()


# ------------------------------------------------------------------ tasks


def _digits_task(identity: Mapping) -> ClassificationData:
    """The UCI digits held-out split, standardised with the training pixels."""
    images = identity.get("images")
    fraction = identity.get("test_fraction")
    seed = identity.get("split_seed")
    if not isinstance(images, bool) or not isinstance(seed, int) or isinstance(seed, bool) \
            or not isinstance(fraction, float) or not 0 < fraction < 1:
        raise BundleError("digits task needs images (bool), test_fraction (0..1), split_seed (int)")
    train, test = digits_split(test_fraction=fraction, seed=seed, images=images)
    mean, std = train.data.mean(), train.data.std()
    x_test = ((test.data - mean) / std).astype(np.float32)
    what = "digits 8x8 images" if images else "digits 8x8"
    return ClassificationData(x_test, np.asarray(test.targets),
                              name=f"{what}, held-out {fraction:.0%}")


def _shakespeare_task(identity: Mapping) -> GenerationData:
    """The last ``1 - train_fraction`` of the bundled Shakespeare, as characters."""
    keys = ("prompt_len", "num_prompts", "window", "num_windows")
    values = {k: identity.get(k) for k in keys}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values.values()):
        raise BundleError(f"shakespeare-chars task needs positive ints {', '.join(keys)}")
    text = load_shakespeare()
    ids = CharTokenizer().build_vocab(text).encode_array(text)
    held_out = ids[int(ids.size * 0.9):]
    return GenerationData.from_token_stream(held_out, **values,
                                            name="Shakespeare characters, held-out 10%")


#: Task name -> rebuild function (identity dict -> task data).
TASKS = {"digits": _digits_task, "shakespeare-chars": _shakespeare_task}


def load_task(identity) -> ClassificationData | GenerationData:
    """The task named by ``identity["name"]``, rebuilt from its identity.

    Raises:
        BundleError: not a mapping, an unknown task, bad identity fields.
    """
    if not isinstance(identity, Mapping):
        raise BundleError(f"the task identity must be an object, got {type(identity).__name__}")
    name = identity.get("name")
    if name not in TASKS:
        raise BundleError(f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name](identity)


# ------------------------------------------------------------------ models


def _positive_ints(config: Mapping, *keys: str) -> list[int]:
    values = [config.get(k) for k in keys]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise BundleError(f"model config {config.get('builder')!r} needs positive ints "
                          f"{', '.join(keys)}")
    return values


def _mlp(config: Mapping, task) -> nn.Module:
    sizes = config.get("sizes")
    if (not isinstance(sizes, list) or len(sizes) < 2 or len(sizes) > 16
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes)):
        raise BundleError("mlp config needs sizes: a list of 2..16 positive ints")
    layers: list = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def _digits_cnn(config: Mapping, task) -> nn.Module:
    from .pairings import _digits_cnn_model  # one definition of the milestone CNN

    return _digits_cnn_model()


def _digits_cnn_int8(config: Mapping, task) -> nn.Module:
    """The module tree of ``quantize_static(digits CNN)``; its values (weights,
    scales, zero points) come from the state file, so any calibration batch
    gives the same tree."""
    from tinytorch.quant import quantize_static

    (tile,) = _positive_ints(config, "weight_tile")
    model = _digits_cnn(config, task).eval()
    return quantize_static(model, [task.inputs[:8]], inference_pooling=True, weight_tile=tile)


def _tiny_gpt(config: Mapping, task) -> TextGenerator:
    vocab, dim, layers, heads, context, new = _positive_ints(
        config, "vocab_size", "embed_dim", "num_layers", "num_heads", "context", "max_new_tokens")
    kv = config.get("use_kv_cache")
    if not isinstance(kv, bool):
        raise BundleError("tiny-gpt config needs use_kv_cache (bool)")
    return TextGenerator(GPT(vocab, dim, layers, heads, context).eval(), new, use_kv_cache=kv)


#: Builder name -> function (config, task) -> an untrained model of that shape.
BUILDERS = {"mlp": _mlp, "digits-cnn": _digits_cnn, "digits-cnn-int8": _digits_cnn_int8,
            "tiny-gpt": _tiny_gpt}


def build_model(config, task):
    """An untrained model of the architecture ``config`` describes.

    Raises:
        BundleError: not a mapping, an unknown builder, bad fields.
    """
    if not isinstance(config, Mapping):
        raise BundleError(f"a model config must be an object, got {type(config).__name__}")
    builder = config.get("builder")
    if builder not in BUILDERS:
        raise BundleError(f"unknown model builder {builder!r}; known: "
                          f"{', '.join(sorted(BUILDERS))}")
    try:
        return BUILDERS[builder](config, task)
    except BundleError:
        raise
    except (TypeError, ValueError) as exc:
        raise BundleError(f"cannot build {builder!r} from its config: {exc}") from None


def _module(model) -> nn.Module:
    """The Module whose state is saved (a TextGenerator saves its language model)."""
    inner = model.model if isinstance(model, TextGenerator) else model
    if not isinstance(inner, nn.Module):
        raise TypeError(f"a bundled model must be a Module or a TextGenerator, "
                        f"got {type(model).__name__}")
    return inner


# ------------------------------------------------------------------ write / load


def write_bundle(directory, submission: dict, models: Mapping, task_identity: Mapping,
                 configs: Mapping, *, overwrite: bool = False) -> str:
    """Write the state files, then ``submission.json`` with its ``bundle``
    section (hashes of the files as written). Every file is written atomically.

    Args:
        directory: the bundle folder (created; its parent must exist).
        submission: the submission dict (a ``bundle`` key is added).
        models: ``{"baseline": model, "optimized": model}``.
        task_identity, configs: see the module docstring.

    Returns:
        The path of ``submission.json``.

    Raises:
        FileExistsError: the folder holds a submission and ``overwrite`` is False.
        FileNotFoundError: the parent folder does not exist.
    """
    from .submission import write_submission

    directory = os.fspath(directory)
    target = os.path.join(directory, SUBMISSION_FILE)
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"{target!r} already exists; pass overwrite=True to replace it")
    parent = os.path.dirname(os.path.abspath(directory))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"cannot create {directory!r}: {parent!r} does not exist")
    os.makedirs(directory, exist_ok=True)
    files = {}
    for who, filename in MODEL_FILES.items():
        path = os.path.join(directory, filename)
        _module(models[who]).save(path)
        files[filename] = sha256_file(path)
    submission["bundle"] = {"format": BUNDLE_FORMAT, "task": dict(task_identity),
                            "models": {k: dict(configs[k]) for k in MODEL_FILES},
                            "files": files}
    return write_submission(submission, target, overwrite=True)


def bundle_paths(path) -> tuple[str, str]:
    """``(folder, submission.json path)`` of ``path`` (either of the two)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return path, os.path.join(path, SUBMISSION_FILE)
    return os.path.dirname(os.path.abspath(path)), path


def load_bundle(path, submission: Mapping | None = None) -> dict[str, Any]:
    """Check every file's hash, rebuild the task and both models, load their states.

    Args:
        path: the bundle folder or its ``submission.json``.
        submission: the already-read submission (None: read it from ``path``).

    Returns:
        ``{"submission", "task", "baseline", "optimized"}``.

    Raises:
        BundleError: no ``bundle`` section, a file missing or whose SHA-256
            differs (tampered or swapped), an unknown task or builder, a
            state file that does not fit its architecture.
    """
    from .submission import read_submission

    folder, json_path = bundle_paths(path)
    if submission is None:
        submission = read_submission(json_path)
    section = submission.get("bundle") if isinstance(submission, Mapping) else None
    if not isinstance(section, Mapping) or section.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{json_path} has no '{BUNDLE_FORMAT}' bundle section: nothing to "
                          f"reproduce (write it with generate_submission(bundle_dir=...))")
    files = section.get("files")
    if not isinstance(files, Mapping) or set(files) != set(MODEL_FILES.values()):
        raise BundleError(f"bundle.files must list exactly {sorted(MODEL_FILES.values())}")
    for filename, expected in files.items():
        file_path = os.path.join(folder, filename)
        if not os.path.isfile(file_path):
            raise BundleError(f"model file {filename} is missing from {folder}")
        actual = sha256_file(file_path)
        if actual != expected:
            raise BundleError(f"model file {filename} was changed after the submission was "
                              f"written: SHA-256 {actual[:16]}... differs from the recorded "
                              f"{str(expected)[:16]}...")
    task = load_task(section.get("task"))
    configs = section.get("models")
    if not isinstance(configs, Mapping):
        raise BundleError("bundle.models must be an object with baseline and optimized configs")
    out: dict[str, Any] = {"submission": submission, "task": task}
    for who, filename in MODEL_FILES.items():
        model = build_model(configs.get(who), task)
        try:
            _module(model).load(os.path.join(folder, filename))
        except (KeyError, ValueError, TypeError) as exc:
            raise BundleError(f"{filename} does not fit the {who} config: {exc}") from None
        out[who] = model
    return out


def task_matches(task, identity: Mapping) -> bool:
    """Whether ``task`` holds exactly the data its identity rebuilds."""
    rebuilt = load_task(identity)
    if type(rebuilt) is not type(task):
        return False
    if isinstance(task, ClassificationData):
        return (np.array_equal(task.inputs, rebuilt.inputs)
                and np.array_equal(task.labels, rebuilt.labels))
    return all(np.array_equal(getattr(task, k), getattr(rebuilt, k))
               for k in ("prompts", "tokens", "targets"))
