"""Counting zeros, parameters and bytes, layer by layer and for the whole model."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinytorch.nn import Module

from .prune import _check_model, _Masked

__all__ = ["LayerSparsity", "SparsityReport", "measure_sparsity", "effective_tensors"]


@dataclass
class LayerSparsity:
    """One module's own tensors: ``zeros`` of ``elements``, ``bytes`` held densely,
    ``sparse_bytes`` with the zeros encoded by a bitmask (nonzeros + 1 bit per element)."""

    name: str
    kind: str
    elements: int
    zeros: int
    bytes: int
    sparse_bytes: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.elements if self.elements else 0.0


@dataclass
class SparsityReport:
    """Per-layer rows and totals; ``str(report)`` is a table."""

    layers: list[LayerSparsity] = field(default_factory=list)

    @property
    def elements(self) -> int:
        return sum(r.elements for r in self.layers)

    @property
    def zeros(self) -> int:
        return sum(r.zeros for r in self.layers)

    @property
    def bytes(self) -> int:
        return sum(r.bytes for r in self.layers)

    @property
    def sparse_bytes(self) -> int:
        return sum(r.sparse_bytes for r in self.layers)

    @property
    def sparsity(self) -> float:
        return self.zeros / self.elements if self.elements else 0.0

    def __str__(self) -> str:
        head = f"{'layer':<24}{'kind':<16}{'elements':>10}{'zeros':>10}{'sparsity':>10}" \
               f"{'bytes':>10}{'sparse B':>10}"
        rows = [head, "-" * len(head)]
        for r in self.layers + [LayerSparsity("total", "", self.elements, self.zeros,
                                              self.bytes, self.sparse_bytes)]:
            rows.append(f"{r.name:<24}{r.kind:<16}{r.elements:>10}{r.zeros:>10}"
                        f"{r.sparsity:>10.3f}{r.bytes:>10}{r.sparse_bytes:>10}")
        return "\n".join(rows)


def effective_tensors(module: Module, persistent=None, prefix: str = ""
                      ) -> list[tuple[str, np.ndarray]]:
    """A module's own parameters and persistent buffers as they act in forward:
    a masked layer contributes ``weight`` (= ``weight_orig * mask``) in place of
    ``weight_orig`` and ``weight_mask`` (the mask is bookkeeping).

    ``persistent``: the root's ``state_dict`` keys (computed when None) and
    ``prefix`` this module's dotted name plus ``"."``; arrays are not copied."""
    if persistent is None:
        persistent = set(module.state_dict())
    own = [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
    out = []
    for name, t in own:
        if prefix + name not in persistent:
            continue
        if isinstance(module, _Masked) and name == "weight_mask":
            continue
        if isinstance(module, _Masked) and name == "weight_orig":
            out.append(("weight", module.effective_weight()))
        else:
            out.append((name, t.data))
    return out


def measure_sparsity(model: Module) -> SparsityReport:
    """Zeros, elements and bytes of every module that holds tensors, and in total.

    ``bytes`` counts every parameter and persistent buffer densely, what
    ``tinytorch.quant.model_size_bytes`` counts for an unmasked model (a
    masked layer counts its effective weight once, not ``weight_orig`` plus
    the mask). ``sparse_bytes`` is the size with each tensor's zeros encoded by
    a bitmask: ``nonzeros * itemsize + ceil(elements / 8)``, the encoding of
    :func:`tinytorch.compress.save_compressed` (which keeps a tensor dense when
    that is smaller).

    Raises: TypeError if ``model`` is not a Module. Cost: O(P).
    """
    _check_model(model, "measure_sparsity")
    report = SparsityReport()
    persistent = set(model.state_dict())
    for name, module in model.named_modules():
        tensors = effective_tensors(module, persistent, f"{name}." if name else "")
        if not tensors:
            continue
        elements = zeros = nbytes = sparse = 0
        for _, arr in tensors:
            nz = int(np.count_nonzero(arr))
            elements += arr.size
            zeros += arr.size - nz
            nbytes += arr.nbytes
            sparse += min(arr.nbytes, nz * arr.itemsize + (arr.size + 7) // 8)
        report.layers.append(LayerSparsity(name or "(root)", type(module).__name__, elements,
                                           zeros, nbytes, sparse))
    return report
