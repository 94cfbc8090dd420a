"""Built-in baseline / optimized pairings: real models, trained briefly, here.

==========  ==================================================  =========================
pairing     baseline                                            optimized
==========  ==================================================  =========================
``gpt``     a tiny character-level GPT trained on Shakespeare,  the same GPT generating
            generating ``max_new_tokens`` greedily by re-       with the KV cache
            running the whole context at every step             (``tinytorch.kvcache``)
``mlp``     the digits MLP (64 -> 128 -> 10) of milestone 3     an exact copy (A/A)
``cnn``     the digits CNN of milestone 4                       an exact copy (A/A)
``cnn-int8`` the digits CNN of milestone 4                      the same CNN quantized with
                                                                ``quantize_static`` (int8)
==========  ==================================================  =========================

The ``mlp`` and ``cnn`` pairings are A/A controls: their "optimized" model
is an exact copy, which measures how much two runs of the same model differ
on this machine (the noise floor every real speedup must clear). ``cnn-int8``
is a real optimization: int8 weights per output channel and calibrated int8
activations (``tinytorch.quant.quantize_static``), the same architecture.

Everything is seeded: the same seed gives the same weights, data split and
prompts.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinytorch import nn
from tinytorch.data import DataLoader, TensorDataset, digits_split, load_shakespeare
from tinytorch.optim import Adam, AdamW, CosineSchedule, Trainer
from tinytorch.quant import model_size_bytes, quantize_static
from tinytorch.tensor import Generator, manual_seed
from tinytorch.text import CharTokenizer
from tinytorch.transformers import GPT

from ._validate import check_int as _check_count
from .tasks import ClassificationData, GenerationData, TextGenerator

__all__ = ["Pairing", "digits_mlp", "digits_cnn", "digits_cnn_int8", "tiny_gpt", "PAIRINGS",
           "NO_CLASSIFIER_OPTIMIZATION"]

NO_CLASSIFIER_OPTIMIZATION = (
    "A/A control: the optimized model is an exact copy of the baseline, so every ratio "
    "shows the measurement noise alone (the quantized CNN pairing, cnn-int8, is a real "
    "optimization)"
)


@dataclass
class Pairing:
    """A baseline, its optimized counterpart, and the data they are judged on.

    Attributes:
        name: ``"gpt"``, ``"mlp"`` or ``"cnn"``.
        baseline, optimized: the two models (``TextGenerator`` s for ``gpt``).
        data: the evaluation task (held out from training).
        techniques: the optimizations applied (empty for an A/A control).
        optimization: one sentence: what was applied, or why nothing was.
        descriptions: one line per model (recorded in the submission).
        training: how the baseline was trained (steps or epochs, final loss,
            held-out accuracy where cheap, seconds).
    """

    name: str
    baseline: Any
    optimized: Any
    data: ClassificationData | GenerationData
    techniques: list[str]
    optimization: str
    descriptions: tuple[str, str]
    training: dict[str, Any] = field(default_factory=dict)
    #: The task's identity and both models' configs (``tinytorch.olympics.bundle``):
    #: what ``generate_submission(bundle_dir=...)`` records so that a
    #: reviewer can rebuild and re-measure both models.
    task_identity: dict[str, Any] | None = None
    architectures: tuple[dict[str, Any], dict[str, Any]] | None = None


def _digits(images: bool, split_seed: int = 0):
    """Standardised digits ``(train, test)``: mean and std of the training pixels."""
    train, test = digits_split(test_fraction=0.2, seed=split_seed, images=images)
    mean, std = train.data.mean(), train.data.std()
    x_train = ((train.data - mean) / std).astype(np.float32)
    x_test = ((test.data - mean) / std).astype(np.float32)
    return x_train, np.asarray(train.targets), x_test, np.asarray(test.targets)


def _train_classifier(model, x, y, epochs: int, seed: int, lr: float = 3e-3) -> dict[str, Any]:
    start = time.perf_counter()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                        generator=Generator(seed))
    optimizer = Adam(model.parameters(), lr=lr)
    schedule = CosineSchedule(optimizer, T_max=max(1, epochs * len(loader)))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler=schedule,
                      progress=False)
    history = trainer.fit(loader, epochs)
    losses = history["train_loss"]
    return {"epochs": epochs, "final_train_loss": float(losses[-1]) if losses else None,
            "seconds": time.perf_counter() - start}


def _digits_identity(images: bool, split_seed: int = 0) -> dict[str, Any]:
    return {"name": "digits", "images": images, "test_fraction": 0.2, "split_seed": split_seed}


def _digits_aa_pairing(name: str, model, epochs: int, seed: int, *, images: bool,
                       description: str, config: dict[str, Any]) -> Pairing:
    """Train ``model`` on the digits; pair it with an exact copy (A/A control),
    judged on the held-out 20%."""
    x_train, y_train, x_test, y_test = _digits(images=images)
    training = _train_classifier(model, x_train, y_train, epochs, seed)
    what = "digits 8x8 images" if images else "digits 8x8"
    return Pairing(
        name=name, baseline=model, optimized=copy.deepcopy(model),
        data=ClassificationData(x_test, y_test, name=f"{what}, held-out 20%"),
        techniques=[], optimization=NO_CLASSIFIER_OPTIMIZATION,
        descriptions=(description, "exact copy of the baseline (A/A control)"),
        training=training, task_identity=_digits_identity(images),
        architectures=(config, dict(config)),
    )


def digits_mlp(epochs: int = 5, seed: int = 0, hidden: int = 128) -> Pairing:
    """The digits MLP (``64 -> hidden -> 10``), trained ``epochs`` epochs with
    Adam; optimized = an exact copy (A/A). Data: the 359 held-out digits."""
    epochs = _check_count(epochs, "epochs", 0)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    return _digits_aa_pairing("mlp", model, epochs, seed, images=False,
                              description=f"MLP 64-{hidden}-10, {epochs} epochs of Adam",
                              config={"builder": "mlp", "sizes": [64, hidden, 10]})


def _digits_cnn_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 16, 4, 4)
        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (N, 32, 2, 2)
        nn.Flatten(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def digits_cnn(epochs: int = 2, seed: int = 0) -> Pairing:
    """The digits CNN of milestone 4 (two conv/ReLU/max-pool stages, two
    linear layers), trained ``epochs`` epochs; optimized = an exact copy."""
    epochs = _check_count(epochs, "epochs", 0)
    manual_seed(seed)
    model = _digits_cnn_model()
    return _digits_aa_pairing("cnn", model, epochs, seed, images=True,
                              description=f"CNN conv16-conv32-64-10, {epochs} epochs of Adam",
                              config={"builder": "digits-cnn"})


def digits_cnn_int8(epochs: int = 2, seed: int = 0, calibration_batches: int = 8,
                    weight_tile: int = 1024) -> Pairing:
    """The digits CNN of milestone 4, trained ``epochs`` epochs (baseline),
    against the same CNN quantized with ``tinytorch.quant.quantize_static``:
    int8 weights per output channel, int8 activations calibrated on
    ``calibration_batches`` batches of 64 training images (histogram
    observer), converted for inference with less memory (index-free max
    pooling, int8 weights widened ``weight_tile`` at a time). Same
    architecture: a closed-division entry. Data: the 359 held-out digits,
    never seen by training or calibration."""
    epochs = _check_count(epochs, "epochs", 0)
    calibration_batches = _check_count(calibration_batches, "calibration_batches", 1)
    manual_seed(seed)
    model = _digits_cnn_model()
    x_train, y_train, x_test, y_test = _digits(images=True)
    training = _train_classifier(model, x_train, y_train, epochs, seed)
    model.eval()
    calib = [x_train[i:i + 64] for i in range(0, 64 * calibration_batches, 64)]
    quantized = quantize_static(model, calib, inference_pooling=True, weight_tile=weight_tile)
    sizes = (model_size_bytes(model), model_size_bytes(quantized))
    return Pairing(
        name="cnn-int8", baseline=model, optimized=quantized,
        data=ClassificationData(x_test, y_test, name="digits 8x8 images, held-out 20%"),
        techniques=["int8-static-quantization", "inference-max-pool", "tiled-weight-widening"],
        optimization=(f"int8 static quantization (tinytorch.quant.quantize_static): int8 "
                      f"weights per output channel and calibrated uint8 activations, "
                      f"{sizes[0]:,} -> {sizes[1]:,} bytes of weights; for inference, max "
                      f"pooling without the saved argmax and int8 weights widened "
                      f"{weight_tile} at a time"),
        descriptions=(f"CNN conv16-conv32-64-10, {epochs} epochs of Adam, float32",
                      "the same CNN, int8 weights and activations (quantize_static)"),
        training=training, task_identity=_digits_identity(True),
        architectures=({"builder": "digits-cnn"},
                       {"builder": "digits-cnn-int8", "weight_tile": weight_tile}),
    )


def tiny_gpt(steps: int = 200, seed: int = 0, *, embed_dim: int = 32, num_layers: int = 2,
             num_heads: int = 4, context: int = 64, batch_size: int = 16, lr: float = 1e-2,
             prompt_len: int = 16, max_new_tokens: int = 48, num_prompts: int = 64,
             num_windows: int = 128, window: int = 32) -> Pairing:
    """A tiny character-level GPT on the bundled Shakespeare corpus.

    Trained ``steps`` AdamW steps on random ``(batch_size, window)`` windows
    of the first 90% of the text; evaluated on the last 10%: ``num_prompts``
    prompts of ``prompt_len`` characters continued by ``max_new_tokens``
    greedy tokens (``prompt_len + max_new_tokens <= context``: no sliding
    window), and next-token accuracy on ``num_windows`` windows.

    Baseline: ``TextGenerator(gpt, max_new_tokens, use_kv_cache=False)``;
    optimized: the same GPT with ``use_kv_cache=True``.

    Raises:
        ValueError: sizes that do not fit the context.
    """
    steps = _check_count(steps, "steps", 0)
    if prompt_len + max_new_tokens > context or window > context:
        raise ValueError(f"prompt_len + max_new_tokens ({prompt_len + max_new_tokens}) and "
                         f"window ({window}) must fit the context ({context})")
    start = time.perf_counter()
    manual_seed(seed)
    text = load_shakespeare()
    tokenizer = CharTokenizer().build_vocab(text)
    ids = tokenizer.encode_array(text)
    cut = int(ids.size * 0.9)
    train_ids, held_out = ids[:cut], ids[cut:]
    gpt = GPT(tokenizer.vocab_size, embed_dim, num_layers, num_heads, context)
    optimizer = AdamW(gpt.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    offsets = np.arange(window + 1)
    loss_value = None
    gpt.train()
    for _ in range(steps):
        starts = rng.integers(0, train_ids.size - window - 1, size=batch_size)
        batch = train_ids[starts[:, None] + offsets]  # (B, window + 1) gather
        loss = loss_fn(gpt(batch[:, :-1]), batch[:, 1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_value = float(loss.item())
    gpt.eval()
    data = GenerationData.from_token_stream(held_out, prompt_len=prompt_len,
                                            num_prompts=num_prompts, window=window,
                                            num_windows=num_windows,
                                            name="Shakespeare characters, held-out 10%")
    n_params = gpt.num_parameters()
    return Pairing(
        name="gpt",
        baseline=TextGenerator(gpt, max_new_tokens, use_kv_cache=False),
        optimized=TextGenerator(gpt, max_new_tokens, use_kv_cache=True),
        data=data,
        techniques=["kv-cache"],
        optimization="KV cache (tinytorch.kvcache): keys and values of past tokens are kept, "
                     "so each new token costs one single-token forward instead of a forward "
                     "over the whole context",
        descriptions=(f"GPT {num_layers}x{embed_dim} ({n_params:,} parameters), greedy "
                      f"generation of {max_new_tokens} tokens, full context recomputed per token",
                      f"the same GPT generating {max_new_tokens} tokens with the KV cache"),
        training={"steps": steps, "final_train_loss": loss_value,
                  "vocab_size": tokenizer.vocab_size, "seconds": time.perf_counter() - start},
        task_identity={"name": "shakespeare-chars", "prompt_len": prompt_len,
                       "num_prompts": num_prompts, "window": window, "num_windows": num_windows},
        architectures=tuple({"builder": "tiny-gpt", "vocab_size": tokenizer.vocab_size,
                             "embed_dim": embed_dim, "num_layers": num_layers,
                             "num_heads": num_heads, "context": context,
                             "max_new_tokens": max_new_tokens, "use_kv_cache": kv}
                            for kv in (False, True)),
    )


#: Name -> builder (``builder(seed=...)`` with the defaults above).
PAIRINGS = {"gpt": tiny_gpt, "mlp": digits_mlp, "cnn": digits_cnn, "cnn-int8": digits_cnn_int8}
