"""The DataLoader: turn a dataset into an iterable of shuffled batches.

::

    dataset (N = 10)     order (a new permutation each epoch)      batches (B = 4)
    ds[0] = (x0, y0)     [7 2 9 0 | 5 1 8 3 | 6 4]           ->   (X (4, ...), Y (4,))
    ds[1] = (x1, y1)                                          ->   (X (4, ...), Y (4,))
    ...                                                       ->   (X (2, ...), Y (2,))
                                                                   (dropped if drop_last)

Two ways to build one batch of ``B`` sample indices:

* **fast path** (the dataset implements ``get_batch(indices)``, as
  :class:`~tinytorch.data.TensorDataset` does, and no ``collate_fn`` is
  given): one fancy index per stored array, ``X[idx]``. NumPy copies the
  ``B`` rows in C; there is no Python loop over the batch.
* **generic path** (any other dataset, or a custom ``collate_fn``): call
  ``dataset[i]`` for each of the ``B`` indices and stack the samples with
  the collate function. The Python loop over items is unavoidable here:
  an arbitrary dataset may read a file, decode an image or apply a random
  transform per sample, and only it knows how.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping

import numpy as np

from tinytorch.tensor import Generator, Tensor

from ._validate import int_at_least, random_source

__all__ = ["DataLoader", "default_collate"]


def _to_batch_tensor(arr: np.ndarray, scalar_samples: bool, field: str) -> Tensor:
    """Wrap a stacked batch array in a Tensor with the loader's dtype rules.

    Floats become float32 (TinyTorch's default); bool stays bool; integer
    arrays keep their dtype (uint8 images stay uint8), except a field whose
    samples were integer scalars, i.e. labels, which becomes int64.
    """
    kind = arr.dtype.kind
    if kind in "iu":
        return Tensor(arr, dtype=np.int64 if scalar_samples else arr.dtype)
    if kind == "f":
        return Tensor(arr, dtype=np.float32 if arr.dtype == np.float64 else arr.dtype)
    if kind == "b":
        return Tensor(arr, dtype=np.bool_)
    raise TypeError(f"cannot batch {field}: dtype {arr.dtype} is not bool, integer or float")


def _as_sample_array(value, field: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (numbers.Number, np.generic)):
        return np.asarray(value)
    raise TypeError(
        f"cannot batch {field}: expected NumPy arrays, Tensors or Python numbers, "
        f"got {type(value).__name__}"
    )


def _stack_field(values: list, field: str) -> Tensor:
    arrays = [_as_sample_array(v, field) for v in values]
    shape0 = arrays[0].shape
    for j, a in enumerate(arrays):
        if a.shape != shape0:
            raise ValueError(
                f"cannot batch {field}: sample 0 has shape {shape0} but sample {j} has "
                f"shape {a.shape}; pass a collate_fn (or a transform such as RandomCrop) "
                "that makes them equal"
            )
    return _to_batch_tensor(np.stack(arrays), scalar_samples=len(shape0) == 0, field=field)


def default_collate(samples: list):
    """Stack a list of samples into a batch of Tensors.

    Args:
        samples: a non-empty list of ``B`` samples, all of the same structure:
            tuples/lists of fields, dicts of fields, or single values. A
            field is a NumPy array, a Tensor or a Python/NumPy number.

    Returns:
        A tuple of Tensors (tuple/list samples), a dict of Tensors (dict
        samples) or one Tensor. Each Tensor has shape ``(B, *field_shape)``.
        Float fields become float32, integer scalars (labels) int64, other
        integer arrays keep their dtype, bool stays bool.

    Cost: one Python-level conversion per field per sample, then one
    ``np.stack`` per field.

    Raises:
        ValueError: an empty list, samples with different numbers of fields
            or keys, or a field whose shapes differ between samples.
        TypeError: a field that is not an array, Tensor or number.
    """
    if len(samples) == 0:
        raise ValueError("default_collate needs at least one sample")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        n = len(first)
        for j, s in enumerate(samples):
            if not isinstance(s, (tuple, list)) or len(s) != n:
                got = len(s) if isinstance(s, (tuple, list)) else type(s).__name__
                raise ValueError(f"sample 0 has {n} fields but sample {j} has {got}")
        return tuple(_stack_field([s[k] for s in samples], f"field {k}") for k in range(n))
    if isinstance(first, Mapping):
        keys = list(first.keys())
        for j, s in enumerate(samples):
            if not isinstance(s, Mapping) or set(s.keys()) != set(keys):
                raise ValueError(f"sample 0 has keys {keys} but sample {j} does not match")
        return {k: _stack_field([s[k] for s in samples], f"field {k!r}") for k in keys}
    return _stack_field(list(samples), "the samples")


class DataLoader:
    """Iterate over a dataset in (optionally shuffled) batches of Tensors.

    Args:
        dataset: anything with ``__len__`` and ``__getitem__``; if it also
            has ``get_batch(indices)`` the fast gather path is used.
        batch_size: samples per batch (int >= 1).
        shuffle: draw a new random order at the start of every epoch
            (every ``iter(loader)``); otherwise go through ``0..N-1``.
        drop_last: drop the last batch if it has fewer than ``batch_size``
            samples.
        seed: deprecated alias: ``seed=s`` is ``generator=Generator(s)``.
        collate_fn: ``list of samples -> batch``; default
            :func:`default_collate`. Giving one always uses the generic
            per-item path, since it expects a list of samples.
        generator: the random source of the shuffles (keyword-only,
            PyTorch's name): a ``tinytorch.tensor.Generator`` or a
            ``numpy.random.Generator``, drawn from for the loader's whole
            life, so the same seed gives the same sequence of epoch orders
            on every run (epoch 1 order, epoch 2 order, ...) while successive
            epochs differ. None draws from tinytorch's default generator
            (seeded by ``manual_seed``), as PyTorch uses its global one.

    ``len(loader)`` is the number of batches per epoch:
    ``N // batch_size`` with ``drop_last``, else ``ceil(N / batch_size)``.
    Each epoch yields every sample index exactly once (except the dropped
    tail). Cost per epoch: O(N) for the permutation, plus the gather (fast
    path: one fancy index per array per batch; generic path: one
    ``dataset[i]`` per sample).

    Raises:
        TypeError: a dataset without ``__len__``/``__getitem__``, a
            non-int batch size, a non-callable collate_fn, a bad generator
            or both ``generator`` and ``seed``.
        ValueError: ``batch_size < 1``.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        collate_fn: Callable | None = None,
        *,
        generator=None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "DataLoader needs a dataset with __len__ and __getitem__, "
                f"got {type(dataset).__name__}"
            )
        batch_size = int_at_least(batch_size, "batch_size", "DataLoader", 1)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"collate_fn must be callable, got {type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        # One generator for the loader's life: each epoch draws the next
        # permutation from it, so epochs differ but the sequence is fixed by seed.
        self._rng = random_source(generator, "DataLoader", seed=seed)
        self.generator = generator if seed is None else Generator(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def epoch_order(self) -> np.ndarray:
        """Draw the sample order of a new epoch (int64, shape ``(N,)``).

        Called by ``__iter__``; with ``shuffle=True`` it advances the loader's
        generator, so call it only to reproduce what iteration would do.
        """
        n = len(self.dataset)
        if self.shuffle:
            return self._rng.permutation(n).astype(np.int64, copy=False)
        return np.arange(n, dtype=np.int64)

    def __iter__(self):
        # The order is drawn here, when the epoch starts, not lazily at the
        # first next(): two iterators created in turn are two epochs in turn.
        return self._batches(self.epoch_order())

    def _batches(self, order: np.ndarray):
        n_batches = len(self)
        get_batch = getattr(self.dataset, "get_batch", None) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        for b in range(n_batches):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            fields = get_batch(idx) if get_batch is not None else None
            if fields is None:
                # Generic path: one __getitem__ per sample (see module docstring).
                yield collate([self.dataset[int(i)] for i in idx])
            else:
                yield self._wrap_gathered(fields, len(idx))

    @staticmethod
    def _wrap_gathered(fields, batch: int) -> tuple[Tensor, ...]:
        if not isinstance(fields, (tuple, list)):
            raise TypeError(f"get_batch must return a tuple of arrays, got {type(fields).__name__}")
        out = []
        for k, f in enumerate(fields):
            arr = f.data if isinstance(f, Tensor) else np.asarray(f)
            if arr.ndim == 0 or arr.shape[0] != batch:
                raise ValueError(
                    f"get_batch returned field {k} with shape {arr.shape}, expected first "
                    f"dimension {batch} (the batch size)"
                )
            # A 1-D field means each sample contributed a scalar (a label).
            out.append(_to_batch_tensor(arr, scalar_samples=arr.ndim == 1, field=f"field {k}"))
        return tuple(out)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, generator={self.generator!r})"
        )
