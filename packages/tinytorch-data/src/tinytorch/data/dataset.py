"""Datasets: indexable collections of samples.

A *dataset* is anything with ``__len__`` and ``__getitem__(i)`` returning one
sample (usually a tuple such as ``(image, label)``). That is the whole
protocol the :class:`~tinytorch.data.DataLoader` needs, so any object that has
those two methods works, whether or not it subclasses :class:`Dataset`.

One optional method makes loading fast: ``get_batch(indices)``. A dataset
whose samples are rows of a few arrays (:class:`TensorDataset`, the bundled
digits, MNIST and CIFAR-10 without a transform) returns a whole batch with one
fancy index per array, instead of ``batch_size`` calls to ``__getitem__``.
It returns ``None`` when it cannot (the default), and the loader falls back to
the per-item path.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from tinytorch.tensor import Tensor

from ._validate import random_source

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split"]


def _as_index_array(indices, n: int, what: str) -> np.ndarray:
    """Validate a 1-D array of integer sample indices against a length ``n``."""
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers, got dtype {idx.dtype}")
    idx = idx.astype(np.int64, copy=False).reshape(-1)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)][0]
        raise IndexError(f"{what}: index {int(bad)} is out of range for a dataset of length {n}")
    return idx


def _check_index(i, n: int) -> int:
    """Turn ``i`` into a non-negative int in ``[0, n)`` or raise IndexError/TypeError."""
    if isinstance(i, (bool, np.bool_)) or not isinstance(i, numbers.Integral):
        raise TypeError(f"dataset indices must be integers, got {type(i).__name__}")
    i = int(i)
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for a dataset of length {n}")
    return i + n if i < 0 else i


class Dataset:
    """Base class of map-style datasets.

    Subclasses implement ``__getitem__(i)`` (one sample, ``0 <= i < len``) and
    ``__len__``. They may also implement :meth:`get_batch` to let the
    :class:`~tinytorch.data.DataLoader` gather a whole batch at once.
    """

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """The samples at ``indices`` already stacked, or ``None``.

        Args:
            indices: int64 array of shape ``(B,)``, each in ``[0, len(self))``.

        Returns:
            A tuple of arrays, each of shape ``(B, ...)``, whose ``k``-th row
            is field ``k`` of sample ``indices[k]``; or ``None`` (this
            default) when the dataset has no faster way than calling
            ``__getitem__`` once per index.
        """
        return None


class TensorDataset(Dataset):
    """Samples are the rows of a few arrays: ``ds[i] == (a[i], b[i], ...)``.

    Args:
        *arrays: NumPy arrays, Tensors or array-likes, each at least 1-D and
            all with the same first dimension ``N`` (the number of samples).
            They are stored as ndarrays (a Tensor's ``.data`` is shared, not
            copied).

    ``ds[i]`` returns a tuple of NumPy rows (views); the DataLoader turns
    batches into Tensors. :meth:`get_batch` gathers ``B`` samples with one
    fancy index per array: O(B * row size) in NumPy, no Python loop.

    Raises:
        ValueError: no arrays, a 0-d array, or first dimensions that differ
            (the message lists every shape).
    """

    def __init__(self, *arrays) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        stored = []
        for k, a in enumerate(arrays):
            arr = a.data if isinstance(a, Tensor) else np.asarray(a)
            if arr.ndim == 0:
                raise ValueError(
                    f"TensorDataset: array {k} is 0-d (a scalar); every array needs a "
                    "first dimension indexing the samples"
                )
            stored.append(arr)
        lengths = {arr.shape[0] for arr in stored}
        if len(lengths) != 1:
            shapes = ", ".join(str(arr.shape) for arr in stored)
            raise ValueError(
                "TensorDataset: all arrays must have the same first dimension "
                f"(number of samples), got shapes {shapes}"
            )
        self.arrays: tuple[np.ndarray, ...] = tuple(stored)

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def __getitem__(self, index) -> tuple[np.ndarray, ...]:
        i = _check_index(index, len(self))
        return tuple(a[i] for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        # One fancy index per array: NumPy copies the B rows in C.
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{a.shape}:{a.dtype}" for a in self.arrays)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """A view of ``dataset`` restricted to ``indices`` (in that order).

    Args:
        dataset: any dataset (``__len__`` + ``__getitem__``).
        indices: integer sample indices into ``dataset``.

    ``subset[i] == dataset[indices[i]]``. If ``dataset`` has a batch path
    (:meth:`Dataset.get_batch`), so does the subset: the batch indices are
    mapped through ``indices`` with one fancy index, then forwarded.

    Raises:
        TypeError: non-integer indices.
        IndexError: an index out of range for ``dataset``.
    """

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = _as_index_array(indices, len(dataset), "Subset indices")
        self.indices = np.where(self.indices < 0, self.indices + len(dataset), self.indices)

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, index):
        i = _check_index(index, len(self))
        return self.dataset[int(self.indices[i])]

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...] | None:
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is None:
            return None
        return get_batch(self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset({type(self.dataset).__name__}, {len(self)} of {len(self.dataset)})"


def _split_lengths(n: int, lengths: Sequence) -> list[int]:
    """Resolve ``lengths`` (all ints summing to n, or fractions summing to 1)."""
    if isinstance(lengths, (str, bytes)) or not isinstance(lengths, Sequence) or not lengths:
        raise TypeError(
            f"lengths must be a non-empty sequence of ints or fractions, got {lengths!r}"
        )
    if any(isinstance(x, bool) or not isinstance(x, numbers.Real) for x in lengths):
        raise TypeError(f"lengths must be ints or fractions, got {list(lengths)!r}")
    if any(x < 0 for x in lengths):
        raise ValueError(f"lengths must be non-negative, got {list(lengths)!r}")
    if all(isinstance(x, numbers.Integral) for x in lengths):
        if sum(lengths) != n:
            raise ValueError(
                f"lengths {list(lengths)} sum to {sum(lengths)}, but the dataset has {n} samples"
            )
        return [int(x) for x in lengths]
    # Fractions: they must sum to 1; floor each share, then hand the samples
    # lost to rounding out one by one (round-robin), as PyTorch does.
    if any(x > 1 for x in lengths) or not math.isclose(float(sum(lengths)), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"fractional lengths must lie in [0, 1] and sum to 1, got {list(lengths)!r} "
            f"(sum {float(sum(lengths)):.6g}); pass ints that sum to {n} instead"
        )
    counts = [int(math.floor(n * float(f))) for f in lengths]
    for k in range(n - sum(counts)):
        counts[k % len(counts)] += 1
    return counts


def random_split(dataset, lengths: Sequence, seed: int | None = None, *,
                 generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s.

    Args:
        dataset: any dataset with ``__len__``.
        lengths: either ints summing to ``len(dataset)``, or fractions in
            ``[0, 1]`` summing to 1 (each share is floored, the remainder is
            given one sample at a time to the first subsets).
        seed: deprecated alias: ``seed=s`` is ``generator=Generator(s)``.
        generator: the random source of the permutation (keyword-only,
            PyTorch's name): a ``tinytorch.tensor.Generator`` or a
            ``numpy.random.Generator``; the same seed gives the same split on
            every run. None draws from tinytorch's default generator.

    Returns:
        One :class:`Subset` per length; together they hold every index of
        ``dataset`` exactly once. O(N) for the permutation.

    Raises:
        TypeError: lengths that are not a sequence of numbers, a bad
            generator, or both ``generator`` and ``seed``.
        ValueError: negative lengths, ints not summing to ``len(dataset)``,
            fractions not summing to 1.
    """
    n = len(dataset)
    counts = _split_lengths(n, lengths)
    perm = random_source(generator, "random_split", seed=seed).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, perm[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]
