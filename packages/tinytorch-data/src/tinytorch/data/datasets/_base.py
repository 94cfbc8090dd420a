"""Shared shape of the bundled and downloaded data sets: images + integer labels."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..dataset import Dataset, _check_index

__all__ = ["ArrayImageDataset"]


class ArrayImageDataset(Dataset):
    """Samples ``(data[i], int(targets[i]))``, with an optional per-sample transform.

    Attributes:
        data: ndarray ``(N, ...)`` of samples (images, feature vectors).
        targets: int64 ndarray ``(N,)`` of class labels.
        transform: ``None`` or a callable applied to ``data[i]`` in
            ``__getitem__``.

    Without a transform, :meth:`get_batch` gathers a batch with one fancy
    index per array (the DataLoader's fast path). With one it returns
    ``None``: a per-sample (often random) transform has to run once per
    sample, so the loader calls ``__getitem__`` per item.
    """

    data: np.ndarray
    targets: np.ndarray
    transform: Callable | None = None

    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index):
        i = _check_index(index, len(self))
        x = self.data[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.targets[i])

    def get_batch(self, indices: np.ndarray):
        if self.transform is not None:
            return None
        return self.data[indices], self.targets[indices]

    def label_counts(self) -> np.ndarray:
        """Samples per class: int64 ``(n_classes,)``, O(N) (``np.bincount``)."""
        return np.bincount(self.targets, minlength=len(getattr(self, "classes", ())))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n={len(self)}, sample shape={self.data.shape[1:]}, "
            f"dtype={self.data.dtype}, transform={self.transform!r})"
        )
