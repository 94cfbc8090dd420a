"""Basic layers: Linear, activations, Dropout, containers, LayerNorm, Embedding."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator

import numpy as np

from tinytorch.tensor import Generator, Tensor, as_numpy_generator, deprecated_alias

from . import functional as F
from . import init
from ._validate import float_dtype, positive_float, positive_int, probability
from .module import Module
from .parameter import Parameter

__all__ = [
    "Linear", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "Dropout",
    "Sequential", "ModuleList", "Flatten", "Identity", "LayerNorm", "Embedding",
]


def _param(module: Module, name: str):
    """``module.<name>``, read from the parameter registry when registered there.

    The same object attribute access returns, without its cost: a registered
    parameter is not in the instance ``__dict__``, so ``module.weight`` first
    fails the normal lookup and then reaches ``Module.__getattr__``, paid
    several times per token when decoding. benchmarks/bench_core.py prints
    what it saves per Linear, LayerNorm and Embedding call ("_param")."""
    params = module._parameters
    return params[name] if name in params else getattr(module, name)


# The package's one copy of each argument check (TypeError for a wrong type,
# ValueError for a bad value), under the names this module has always used.
_positive_int = positive_int
_float_dtype = float_dtype


class Linear(Module):
    """``y = x @ W.T + b``: ``(*, in_features) -> (*, out_features)``.

    ``weight`` is ``(out_features, in_features)`` and ``bias``
    ``(out_features,)``, PyTorch's layout, so a ``state_dict`` maps one to one
    onto ``torch.nn.Linear``. Both start as U(-1/sqrt(in), 1/sqrt(in)) like
    PyTorch's default. The forward is one fused primitive and one GEMM that
    reads ``W`` transposed in place (no copy). Cost: ``2 * rows * in * out``
    FLOPs, plus ``rows * out`` for the bias.

    Keyword-only extras: ``dtype`` (default float32) and ``generator`` for
    the initial values.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 dtype=None, generator: Generator | None = None) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        self.weight, self.bias = init._layer_parameters(
            (self.out_features, self.in_features), bias, _float_dtype(dtype), generator)

    def forward(self, x) -> Tensor:
        w, b = _param(self, "weight"), _param(self, "bias")
        return F.linear(x, w, b)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x) -> Tensor:
        return F.tanh(x)


class GELU(Module):
    """GELU with ``approximate='tanh'`` (default, GPT-2's) or ``'none'`` (exact).

    Deliberate difference from ``torch.nn.GELU``, whose default is
    ``'none'``: GPT-2, the model this stack trains and loads, was trained
    with the tanh form, so its checkpoints reproduce their logits only with
    it (and it needs no ``erf``). Pass ``approximate='none'`` for PyTorch's
    default.
    """

    def __init__(self, approximate: str = "tanh") -> None:
        super().__init__()
        if approximate not in ("tanh", "none"):
            raise ValueError(f"GELU: approximate must be 'tanh' or 'none', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _AlongDim(Module):
    """A module applying ``_fn(x, dim)`` along one dimension."""

    _fn: staticmethod

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x) -> Tensor:
        return self._fn(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """``softmax(x, dim)``: probabilities along ``dim`` (default the last).

    Deliberate difference from ``torch.nn.Softmax`` (``dim=None``, a guess
    from the number of dims, with a warning): the default is the last dim,
    the class or key dim in every use here. ``LogSoftmax`` likewise.
    """

    _fn = staticmethod(F.softmax)


class LogSoftmax(_AlongDim):
    """``log_softmax(x, dim)``: log-probabilities along ``dim`` (default the last)."""

    _fn = staticmethod(F.log_softmax)


class Dropout(Module):
    """Inverted dropout with probability ``p``; identity in eval mode or for p=0.

    Args:
        p: the probability of zeroing an element, in ``[0, 1]``.
        generator: the layer's own random source (keyword-only): a tinytorch
            ``Generator`` or a ``numpy.random.Generator``, reproducible
            regardless of other random draws; None (the default) draws from
            tinytorch's default generator, as PyTorch's Dropout draws from
            its global one.
        seed: deprecated alias: ``seed=s`` is ``generator=Generator(s)``.

    Raises:
        TypeError: ``p`` not a number, a bad generator, or both ``generator``
            and ``seed`` given.  ValueError: ``p`` outside ``[0, 1]``.
    """

    def __init__(self, p: float = 0.5, seed: int | None = None, *,
                 generator: Generator | None = None) -> None:
        super().__init__()
        self.p = probability(p, "p", "Dropout")
        if seed is not None:
            generator = Generator(deprecated_alias(generator, seed, "generator", "seed", "Dropout",
                                                   instead="generator=Generator(seed)"))
        if generator is not None:
            as_numpy_generator(generator, "Dropout")  # type check now, not at the first forward
        self.generator = generator

    def forward(self, x) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x) -> Tensor:
        return F._tensor(x, "input").flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder for swapped-out layers)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, x):
        return x


# --------------------------------------------------------------- containers


class _IndexedModules(Module):
    """Children named ``"0"``, ``"1"``, ... and used by position: the list
    protocol (``len``, iteration, ``c[i]``, ``c[i:j]``, ``c[i] = m``,
    ``append``) that :class:`Sequential` and :class:`ModuleList` share."""

    def _index(self, idx: int) -> str:
        n = len(self._modules)
        if not isinstance(idx, (int, np.integer)) or isinstance(idx, bool):
            raise TypeError(f"{type(self).__name__} indices must be ints or slices, "
                            f"got {type(idx).__name__}")
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {type(self).__name__} "
                             f"of length {n}")
        return list(self._modules)[idx % n]

    def _slice(self, idx: slice) -> Module:
        raise NotImplementedError

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self._slice(idx)
        return self._modules[self._index(idx)]

    def __setitem__(self, idx, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"can only assign a Module, got {type(module).__name__}")
        setattr(self, self._index(idx), module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module):
        """Add ``module`` at the end, named by its position; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.append: expected a Module, "
                            f"got {type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self


class Sequential(_IndexedModules):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Children are named ``"0"``, ``"1"``, ... (or by the keys of a single
    ``OrderedDict`` argument). Supports ``len``, iteration, ``seq[i]``,
    ``seq[i:j]`` (a new Sequential sharing the modules), ``seq[i] = m`` and
    ``append``.
    """

    def __init__(self, *modules) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, "
                                    f"not a Module")
                self.add_module(str(i), m)

    def _slice(self, idx: slice) -> Sequential:
        return type(self)(OrderedDict(list(self._modules.items())[idx]))  # names kept

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(_IndexedModules):
    """A list of modules, registered as children ``"0"``, ``"1"``, ...

    Holds modules (for a ``for`` loop in the parent's forward); it has no
    forward of its own. Supports ``len``, iteration, indexing, assignment,
    ``append``, ``extend`` and ``insert``.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _slice(self, idx: slice) -> ModuleList:
        return ModuleList(list(self._modules.values())[idx])

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        self.extend(items)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward; iterate over it instead")


# ------------------------------------------------------------ normalisation


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift.

    Params ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape``
    when ``elementwise_affine``. One fused primitive (see
    :func:`tinytorch.nn.functional.layer_norm`): O(numel), ~8 FLOPs/element.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 *, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = F._normalized_shape(normalized_shape)
        self.eps = positive_float(eps, "eps", "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        dt = _float_dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt), dtype=dt)
            self.bias = Parameter(np.zeros(self.normalized_shape, dt), dtype=dt)
        else:
            self.weight = None
            self.bias = None

    def forward(self, x) -> Tensor:
        w, b = _param(self, "weight"), _param(self, "bias")
        return F.layer_norm(x, self.normalized_shape, w, b, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``.

    ``forward(ids)``: integer ids of any shape -> ``(*ids.shape, embedding_dim)``.
    ``weight`` starts as N(0, 1) (PyTorch's default); the row ``padding_idx``
    (if given) starts at zero and receives no gradient.

    Raises (forward): TypeError for non-integer ids; IndexError naming the id
    and ``num_embeddings`` for ids out of range.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 padding_idx: int | None = None, *, dtype=None,
                 generator: Generator | None = None) -> None:
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", "Embedding")
        if padding_idx is not None:
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is out of range for "
                                 f"num_embeddings={self.num_embeddings}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        dt = _float_dtype(dtype)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dt),
                                dtype=dt)
        init.normal_(self.weight, generator=generator)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0.0

    def forward(self, ids) -> Tensor:
        return F.embedding(ids, _param(self, "weight"), self.padding_idx)

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
