"""tinytorch.compress: make a trained model smaller (and faster) and prove it.

Layer 7 of the TinyTorch stack (tensor, autograd, nn, optim, transformers,
quant). Each transformation returns a new model and leaves its input as it was.

Measuring
    ``measure_sparsity(model)`` -> ``SparsityReport`` (per layer and total:
    zeros, elements, dense bytes, bitmask-encoded bytes).
Unstructured pruning that persists (``prune``)
    ``magnitude_prune(model, amount, scope="layer"|"global", parameters=None)``
    swaps Linear/Conv2d for ``MaskedLinear``/``MaskedConv2d``
    (``weight = weight_orig * weight_mask`` on every forward);
    ``remove_pruning(model)``; ``GradualPruning`` (Zhu & Gupta's cubic ramp,
    a Trainer scheduler); ``cubic_sparsity``.
Structured pruning that shrinks shapes (``structured``)
    ``structured_prune(model, amount, norm=2, heads=None, mlp=None)``: neurons
    of Linear, channels of Conv2d (+ BatchNorm2d, next layer's inputs) in a
    Sequential; heads and MLP units of a GPT (``PrunedMultiHeadAttention``).
Low rank (``lowrank``)
    ``low_rank(model, rank=None, energy=None)``: truncated SVD, ``LowRankLinear``.
Distillation (``distill``)
    ``distillation_loss(student_logits, teacher_logits, targets, temperature, alpha)``;
    ``distill(teacher, student, data, ...)`` through the Trainer, teacher frozen.
Storage (``storage``)
    ``save_compressed(model, path)`` (zeros as a bitmask, atomic) /
    ``load_compressed(path, model=None)``: bit-identical outputs.
Sparse inference (``sparse``)
    ``to_sparse(model, int8=False)``: each Linear of a pruned model becomes a
    ``SparseLinear`` holding only its nonzeros (CSR; int8 codes with one scale
    per row when ``int8``), O(nnz) memory and work per sample.
Pipeline (``pipeline``)
    ``compress_model(model, recipe)``: prune -> fine-tune -> quantize (and
    structured / low_rank steps), prints a per-layer table, returns
    ``(model, CompressionReport)``.

>>> import numpy as np
>>> from tinytorch import nn
>>> from tinytorch.compress import magnitude_prune, measure_sparsity
>>> model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
>>> pruned = magnitude_prune(model, 0.75, scope="global")
>>> round(measure_sparsity(pruned[0]).sparsity, 2) > 0.5
True
"""

from .distill import DistillationModel, distill, distillation_loss
from .lowrank import LowRankLinear, choose_rank, low_rank
from .pipeline import STEPS, CompressionReport, compress_model
from .prune import (
    GradualPruning,
    MaskedConv2d,
    MaskedLinear,
    cubic_sparsity,
    magnitude_prune,
    prunable_layers,
    remove_pruning,
)
from .sparse import SPARSE_LINEAR, SparseLinear, to_sparse
from .sparsity import LayerSparsity, SparsityReport, effective_tensors, measure_sparsity
from .storage import CompressedFile, describe_architecture, load_compressed, save_compressed
from .structured import SUPPORTED, PrunedMultiHeadAttention, structured_prune, unit_scores

__version__ = "0.1.2"

__all__ = [
    "measure_sparsity", "SparsityReport", "LayerSparsity", "effective_tensors",
    "magnitude_prune", "remove_pruning", "MaskedLinear", "MaskedConv2d", "prunable_layers",
    "GradualPruning", "cubic_sparsity",
    "structured_prune", "PrunedMultiHeadAttention", "unit_scores", "SUPPORTED",
    "low_rank", "LowRankLinear", "choose_rank",
    "distillation_loss", "distill", "DistillationModel",
    "save_compressed", "load_compressed", "CompressedFile", "describe_architecture",
    "compress_model", "CompressionReport", "STEPS",
    "SparseLinear", "to_sparse", "SPARSE_LINEAR",
]
