"""Unstructured magnitude pruning with persistent masks.

A pruned ``Linear`` or ``Conv2d`` is swapped (``Module.set_submodule``) for a
:class:`MaskedLinear` / :class:`MaskedConv2d` that holds the trainable
``weight_orig`` (the very Parameter object of the original layer, so an
optimizer built before the swap keeps updating it) and a ``weight_mask``
buffer. Every forward multiplies them, exactly PyTorch's
``torch.nn.utils.prune`` recipe::

    weight = weight_orig * weight_mask          # one elementwise product
    d loss / d weight_orig = grad(weight) * weight_mask

so a pruned weight gets a zero gradient and contributes nothing even if an
optimizer's momentum, Adam moments or weight decay move ``weight_orig``
there: no optimizer can revive it. :func:`remove_pruning` folds the mask in.
"""

from __future__ import annotations

import copy
import numbers

import numpy as np

from tinytorch.nn import Conv2d, Linear, Module
from tinytorch.nn import functional as F
from tinytorch.tensor import Tensor

__all__ = [
    "MaskedLinear", "MaskedConv2d", "magnitude_prune", "remove_pruning", "prunable_layers",
    "GradualPruning", "cubic_sparsity", "check_amount",
]


class _Masked(Module):
    """Shared part of the masked layers: ``weight = weight_orig * weight_mask``."""

    def _init_mask(self, layer: Module, mask: np.ndarray) -> None:
        w = layer.weight
        if mask.shape != w.shape:
            raise ValueError(f"mask shape {mask.shape} does not match weight shape {w.shape}")
        self.weight_orig = w  # the same Parameter object: optimizers keep working
        self.bias = layer.bias
        self.register_buffer("weight_mask", mask.astype(w.data.dtype))

    @property
    def weight(self) -> Tensor:
        """The effective weight ``weight_orig * weight_mask`` (differentiable)."""
        return self.weight_orig * self.weight_mask

    def mask(self) -> np.ndarray:
        """The keep-mask as a bool array (True = kept), weight's shape."""
        return self.weight_mask.data != 0

    def effective_weight(self) -> np.ndarray:
        """``weight_orig * weight_mask`` as a NumPy array (no graph)."""
        return self.weight_orig.data * self.weight_mask.data

    def _plain(self) -> Module:
        """A fresh unmasked layer of the same configuration (subclasses)."""
        raise NotImplementedError

    def to_dense(self) -> Module:
        """The plain layer (``Linear`` / ``Conv2d``) holding ``weight_orig * mask``:
        the same Parameter objects, with the mask multiplied in place. O(weights)."""
        out = self._plain()
        self.weight_orig.data *= self.weight_mask.data
        out.weight, out.bias = self.weight_orig, self.bias
        return out


class MaskedLinear(_Masked):
    """A ``Linear`` whose weight is ``weight_orig * weight_mask`` on every forward.

    Shapes as ``Linear``: ``(*, in_features) -> (*, out_features)``; the mask
    is ``(out_features, in_features)`` in the weight's dtype. Cost: one
    elementwise product (``out * in``) more than ``Linear`` per forward.
    """

    def __init__(self, linear: Linear, mask: np.ndarray) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self._init_mask(linear, np.asarray(mask))

    def forward(self, x) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def _plain(self) -> Linear:
        return Linear(self.in_features, self.out_features, bias=self.bias is not None,
                      dtype=self.weight_orig.data.dtype)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"sparsity={1.0 - self.mask().mean():.3f}")


class MaskedConv2d(_Masked):
    """A ``Conv2d`` whose weight is ``weight_orig * weight_mask`` on every forward.

    Shapes as ``Conv2d``: ``(N, C_in, H, W) -> (N, C_out, H', W')``; the mask
    is ``(C_out, C_in, kh, kw)``.
    """

    def __init__(self, conv: Conv2d, mask: np.ndarray) -> None:
        super().__init__()
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        self._init_mask(conv, np.asarray(mask))

    def forward(self, x) -> Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def _plain(self) -> Conv2d:
        return Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                      self.padding, bias=self.bias is not None,
                      dtype=self.weight_orig.data.dtype)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"sparsity={1.0 - self.mask().mean():.3f}")


_MASKED_FOR = {Linear: MaskedLinear, Conv2d: MaskedConv2d}


def check_amount(amount, where: str) -> float:
    """``amount`` as a float in [0, 1); TypeError / ValueError otherwise."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"{where}: amount must be a number in [0, 1), got "
                        f"{type(amount).__name__}")
    amount = float(amount)
    if not 0.0 <= amount < 1.0:
        raise ValueError(f"{where}: amount must be in [0, 1), got {amount}")
    return amount


def _check_model(model, where: str) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"{where}: model must be a tinytorch.nn.Module, got "
                        f"{type(model).__name__}")


def prunable_layers(model: Module) -> list[tuple[str, Module]]:
    """``(name, module)`` of every Linear, Conv2d and already-masked layer, in order."""
    return [(n, m) for n, m in model.named_modules()
            if type(m) in _MASKED_FOR or isinstance(m, _Masked)]


def _select(model: Module, parameters, where: str) -> list[tuple[str, Module]]:
    """The layers named by ``parameters`` (dotted ``"<module>.weight"`` names)."""
    layers = prunable_layers(model)
    if parameters is None:
        if not layers:
            raise ValueError(f"{where}: the model has no Linear or Conv2d layer to prune")
        return layers
    if isinstance(parameters, str) or not hasattr(parameters, "__iter__"):
        raise TypeError(f"{where}: parameters must be a list of names like '0.weight', "
                        f"got {type(parameters).__name__}")
    by_name = {(f"{n}.weight" if n else "weight"): (n, m) for n, m in layers}
    chosen, seen = [], set()
    for p in parameters:
        if not isinstance(p, str):
            raise TypeError(f"{where}: parameter names must be str, got {type(p).__name__}")
        if p in seen:
            raise ValueError(f"{where}: parameter {p!r} is listed twice (two masks for one "
                             f"weight would conflict)")
        if p not in by_name:
            raise ValueError(f"{where}: {p!r} is not the weight of a Linear or Conv2d layer; "
                             f"prunable weights: {sorted(by_name)}")
        seen.add(p)
        chosen.append(by_name[p])
    if not chosen:
        raise ValueError(f"{where}: parameters is empty")
    return chosen


def _scores(layer: Module) -> np.ndarray:
    """|weight| with already-pruned weights ranked lowest (-1), flattened, float64."""
    if isinstance(layer, _Masked):
        s = np.abs(layer.weight_orig.data).astype(np.float64).ravel()
        s[~layer.mask().ravel()] = -1.0
        return s
    return np.abs(layer.weight.data).astype(np.float64).ravel()


def _keep_masks(scores: np.ndarray, amount: float) -> np.ndarray:
    """Bool keep-mask zeroing the ``round(amount * n)`` smallest scores.

    ``round`` (half to even) is what ``torch.nn.utils.prune`` uses, so on
    distinct values the chosen set is the same. O(n) with argpartition.
    """
    k = round(amount * scores.size)
    keep = np.ones(scores.size, bool)
    if k > 0:
        keep[np.argpartition(scores, k - 1)[:k]] = False
    return keep


def _apply(model: Module, name: str, layer: Module, keep: np.ndarray, where: str) -> Module:
    """Install ``keep`` on ``layer`` (swapping in a masked layer); returns the new root."""
    if isinstance(layer, _Masked):
        revived = int(np.count_nonzero(keep.reshape(layer.mask().shape) & ~layer.mask()))
        if revived:
            raise ValueError(
                f"{where}: the new mask of {name or 'the model'!r} would revive {revived} "
                f"already-pruned weights (conflicting masks); amount is the total sparsity "
                f"and must be >= the current {1.0 - layer.mask().mean():.4f}")
        layer.weight_mask.data[...] = keep.reshape(layer.mask().shape)
        return model
    masked = _MASKED_FOR[type(layer)](layer, keep.reshape(layer.weight.shape))
    if name == "":
        return masked
    model.set_submodule(name, masked)
    return model


def magnitude_prune(model: Module, amount: float, scope: str = "layer", parameters=None,
                    *, inplace: bool = False) -> Module:
    """Zero the ``amount`` fraction of smallest-magnitude weights, with persistent masks.

    Args:
        model: any Module; its Linear and Conv2d weights are prunable.
        amount: fraction in [0, 1) of the weights to prune: per layer
            (``scope="layer"``, as ``prune.l1_unstructured``) or over all the
            selected weights together (``scope="global"``, as
            ``prune.global_unstructured`` with ``L1Unstructured``). Pruning an
            already-pruned layer again treats ``amount`` as its new *total*
            sparsity (the old zeros stay pruned).
        parameters: optional list of dotted weight names (``["0.weight"]``);
            default every Linear and Conv2d weight.
        inplace: modify ``model`` instead of a deep copy (the Trainer's
            gradual schedule needs it).

    Returns:
        The pruned model (a new one unless ``inplace``), whose pruned layers
        are :class:`MaskedLinear` / :class:`MaskedConv2d`.

    Raises:
        TypeError: model not a Module, amount not a number, bad ``parameters``.
        ValueError: amount outside [0, 1), unknown ``scope``, a name that is
            not a prunable weight or listed twice, a new mask that would revive
            an already-pruned weight (conflicting masks).

    Cost: O(P) for P selected weights (argpartition, no sort).
    """
    where = "magnitude_prune"
    _check_model(model, where)
    amount = check_amount(amount, where)
    if scope not in ("layer", "global"):
        raise ValueError(f"{where}: scope must be 'layer' or 'global', got {scope!r}")
    if not inplace:
        model = copy.deepcopy(model)
    chosen = _select(model, parameters, where)
    scores = [_scores(m) for _, m in chosen]
    if scope == "layer":
        keeps = [_keep_masks(s, amount) for s in scores]
    else:
        flat = _keep_masks(np.concatenate(scores), amount)
        keeps = np.split(flat, np.cumsum([s.size for s in scores])[:-1])
    for (name, layer), keep in zip(chosen, keeps):
        model = _apply(model, name, layer, keep, where)
    return model


def remove_pruning(model: Module, *, inplace: bool = False) -> Module:
    """Make the pruning permanent: each masked layer becomes a plain layer whose
    weight is ``weight_orig * mask`` (zeros stored explicitly), as
    ``torch.nn.utils.prune.remove``. Returns the model (a copy unless ``inplace``).

    Raises: TypeError if ``model`` is not a Module. O(P).
    """
    _check_model(model, "remove_pruning")
    if not inplace:
        model = copy.deepcopy(model)
    if isinstance(model, _Masked):
        return model.to_dense()
    for name, layer in [(n, m) for n, m in model.named_modules() if isinstance(m, _Masked)]:
        model.set_submodule(name, layer.to_dense())
    return model


def cubic_sparsity(step: int, final: float, begin: int, end: int, initial: float = 0.0) -> float:
    """Zhu & Gupta (2017): ``s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0))**3``,
    held at ``s_i`` before ``t0 = begin`` and at ``s_f`` after ``t1 = end``."""
    if step <= begin:
        return initial
    if step >= end:
        return final
    frac = (step - begin) / (end - begin)
    return final + (initial - final) * (1.0 - frac) ** 3


class GradualPruning:
    """Gradual magnitude pruning on Zhu & Gupta's cubic ramp, driven by the Trainer.

    It follows the scheduler protocol of ``tinytorch.optim.Trainer``
    (``step()`` after every optimizer step, ``state_dict()``,
    ``load_state_dict()``), so pass it as ``Trainer(..., scheduler=pruner)``;
    an LR schedule you also need goes in ``lr_scheduler`` and is stepped
    first. The model is pruned in place (masks installed at construction
    with sparsity ``initial``), keeping the optimizer's Parameters valid.

    Every ``frequency`` steps between ``begin`` and ``end`` the masks are
    recomputed at :func:`cubic_sparsity` of the step; pruned weights stay
    pruned (each new mask is a subset of the previous one).

    Raises:
        TypeError / ValueError: bad model, a sparsity outside [0, 1), or
            ``initial > final``, ``end <= begin``, ``frequency < 1``;
            ValueError if the model's root itself is a single layer.
    """

    def __init__(self, model: Module, final_sparsity: float, begin_step: int, end_step: int,
                 frequency: int = 1, initial_sparsity: float = 0.0, scope: str = "global",
                 parameters=None, lr_scheduler=None) -> None:
        where = "GradualPruning"
        _check_model(model, where)
        self.final = check_amount(final_sparsity, where)
        self.initial = check_amount(initial_sparsity, where)
        for value, what in ((begin_step, "begin_step"), (end_step, "end_step"),
                            (frequency, "frequency")):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{where}: {what} must be an int >= 0, got {value!r}")
        if end_step <= begin_step or frequency < 1 or self.initial > self.final:
            raise ValueError(f"{where}: need begin_step < end_step, frequency >= 1 and "
                             f"initial <= final sparsity, got {begin_step}, {end_step}, "
                             f"{frequency}, {self.initial}, {self.final}")
        if type(model) in _MASKED_FOR or isinstance(model, _Masked):
            raise ValueError(f"{where}: wrap a single layer in a Sequential so it can be "
                             f"swapped in place")
        self.model, self.scope, self.parameters = model, scope, parameters
        self.begin, self.end, self.frequency = int(begin_step), int(end_step), int(frequency)
        self.lr_scheduler = lr_scheduler
        self.step_count = 0
        self.sparsity = self.initial
        # The masks go in now, so the layers are swapped before the first
        # step; later calls find the same names on the masked layers.
        magnitude_prune(model, self.initial, scope, parameters, inplace=True)

    def step(self) -> None:
        """Advance one optimizer step; prune on schedule. O(P) when it prunes."""
        if self.lr_scheduler is not None:
            self.lr_scheduler.step()
        self.step_count += 1
        t = self.step_count
        if self.begin <= t <= self.end and ((t - self.begin) % self.frequency == 0
                                            or t == self.end):
            target = cubic_sparsity(t, self.final, self.begin, self.end, self.initial)
            if target > self.sparsity:
                magnitude_prune(self.model, target, self.scope, self.parameters,
                                inplace=True)
                self.sparsity = target

    def state_dict(self) -> dict:
        state = {"step_count": self.step_count, "sparsity": self.sparsity}
        if self.lr_scheduler is not None:
            state["lr_scheduler"] = self.lr_scheduler.state_dict()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step_count"])
        self.sparsity = float(state["sparsity"])
        if self.lr_scheduler is not None and "lr_scheduler" in state:
            self.lr_scheduler.load_state_dict(state["lr_scheduler"])
