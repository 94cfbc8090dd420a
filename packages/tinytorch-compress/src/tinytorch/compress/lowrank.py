"""Low-rank factorization of Linear layers by truncated SVD.

``W (out, in) = U S V^T``; keeping the ``r`` largest singular values gives
``W_r = (U_r S_r^1/2)(S_r^1/2 V_r^T)``: two thinner Linears, ``in -> r -> out``,
with ``r (in + out)`` weights instead of ``in * out``. By Eckart-Young no
rank-``r`` matrix is closer to ``W``: ``||W - W_r||_F^2 = sum_{i > r} s_i^2``
and ``||W - W_r||_2 = s_{r+1}``.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

from tinytorch import nn
from tinytorch.nn import Module
from tinytorch.tensor import Tensor

from .prune import _check_model, _Masked, remove_pruning

__all__ = ["LowRankLinear", "low_rank", "choose_rank"]


class LowRankLinear(Module):
    """``x -> second(first(x))``: ``Linear(in, r, bias=False)`` then ``Linear(r, out)``.

    Shapes ``(*, in_features) -> (*, out_features)``; cost
    ``2 * rows * r * (in + out)`` FLOPs instead of ``2 * rows * in * out``.
    ``singular_values``: the original weight's, in descending order (a
    non-persistent buffer: it explains the choice of ``rank``, it is not state).
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True,
                 *, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        # Module.to: the dtype= of the layers' constructors is not relied on
        dt = np.float32 if dtype is None else dtype
        self.first = nn.Linear(in_features, rank, bias=False).to(dt)
        self.second = nn.Linear(rank, out_features, bias=bias).to(dt)

    def forward(self, x) -> Tensor:
        return self.second(self.first(x))

    @property
    def bias(self):
        """The layer's bias (held by ``second``), or None."""
        return self.second.bias

    @classmethod
    def from_linear(cls, linear: nn.Linear, rank: int) -> LowRankLinear:
        """The rank-``rank`` truncated SVD of ``linear`` (SVD in float64). O(in*out*min)."""
        w = linear.weight.data
        u, s, vt = np.linalg.svd(w.astype(np.float64), full_matrices=False)
        root = np.sqrt(s[:rank])
        new = cls(linear.in_features, linear.out_features, rank, linear.bias is not None,
                  dtype=w.dtype)
        new.first.weight.data[...] = root[:, None] * vt[:rank]  # (r, in)
        new.second.weight.data[...] = u[:, :rank] * root[None, :]  # (out, r)
        if linear.bias is not None:
            new.second.bias.data[...] = linear.bias.data
        new.register_buffer("singular_values", s.astype(w.dtype), persistent=False)
        return new

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


def choose_rank(singular_values: np.ndarray, energy: float) -> int:
    """Smallest ``r`` with ``sum_{i<=r} s_i^2 >= energy * sum s_i^2`` (``energy`` in (0, 1])."""
    power = np.cumsum(np.asarray(singular_values, np.float64) ** 2)
    if power[-1] == 0.0:
        return 1
    return int(min(np.searchsorted(power, energy * power[-1] * (1 - 1e-12)) + 1, power.size))


def _check_rank_args(rank, energy) -> None:
    if (rank is None) == (energy is None):
        raise ValueError("low_rank: give exactly one of rank= or energy=")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, numbers.Integral)):
        raise TypeError(f"low_rank: rank must be an int, got {type(rank).__name__}")
    if rank is not None and rank < 1:
        raise ValueError(f"low_rank: rank must be >= 1, got {rank}")
    if energy is not None:
        if isinstance(energy, bool) or not isinstance(energy, numbers.Real):
            raise TypeError(f"low_rank: energy must be a number, got {type(energy).__name__}")
        if not 0.0 < energy <= 1.0:
            raise ValueError(f"low_rank: energy must be in (0, 1], got {energy}")


def low_rank(model: Module, rank: int | None = None, energy: float | None = None,
             parameters=None) -> Module:
    """Replace Linear layers by :class:`LowRankLinear` (truncated SVD); a new model.

    Args:
        rank: keep this many singular values in every selected layer, or
        energy: keep the fewest whose squares add up to this fraction of the
            total (per layer), in (0, 1].
        parameters: dotted names of the Linear modules to factor (default all;
            a model that is itself a Linear is returned factored).

    Raises:
        TypeError: model not a Module, rank not an int, energy not a number.
        ValueError: both or neither of rank/energy, rank < 1 or larger than a
            selected matrix's ``min(out, in)``, energy outside (0, 1], a name
            that is not a Linear.

    Cost: one SVD per layer, O(in * out * min(in, out)).
    """
    _check_model(model, "low_rank")
    _check_rank_args(rank, energy)
    model = remove_pruning(model) if any(isinstance(m, _Masked) for m in model.modules()) \
        else copy.deepcopy(model)
    linears = {n: m for n, m in model.named_modules() if type(m) is nn.Linear}
    names = list(linears) if parameters is None else list(parameters)
    for name in names:
        if name not in linears:
            raise ValueError(f"low_rank: {name!r} is not a Linear; Linears: {sorted(linears)}")
        layer = linears[name]
        full = min(layer.in_features, layer.out_features)
        if rank is not None and rank > full:
            raise ValueError(f"low_rank: rank {rank} is larger than the matrix of "
                             f"{name or 'the model'!r} ({layer.out_features} x "
                             f"{layer.in_features}, rank at most {full})")
    for name in names:
        layer = linears[name]
        r = rank
        if r is None:
            s = np.linalg.svd(layer.weight.data.astype(np.float64), compute_uv=False)
            r = choose_rank(s, energy)
        new = LowRankLinear.from_linear(layer, r).train(layer.training)
        if name == "":
            return new
        model.set_submodule(name, new)
    return model
