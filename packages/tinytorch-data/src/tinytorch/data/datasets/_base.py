"""Shared shape of the bundled and downloaded data sets: images + integer labels.

:class:`ArrayImageDataset` holds the arrays; :class:`DownloadedImageDataset`
adds the one constructor of the data sets fetched on demand (MNIST,
CIFAR-10): resolve the cache, verify or download the files, then parse
them. A subclass states what differs (its files, mirrors, checksums, cache
folder and parser); the download, verification and argument handling exist
once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..dataset import Dataset, _check_index
from ._download import ensure_files, normalize_checksums, resolve_mirrors

__all__ = ["ArrayImageDataset", "DownloadedImageDataset"]


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


class DownloadedImageDataset(ArrayImageDataset):
    """An :class:`ArrayImageDataset` whose files are downloaded on demand.

    Args:
        root: cache directory (``~`` is expanded).
        train: the training split if true, else the test split.
        download: fetch missing or corrupted files from the mirrors
            (verified against the checksums, written atomically).
        transform: optional callable applied to each sample in ``__getitem__``.
        mirrors: base URL(s) replacing the class's ``MIRRORS`` (default: the
            ``TINYTORCH_DATA_MIRROR`` environment variable, then ``MIRRORS``).
        checksums: ``{filename: sha256-or-md5 hex or dict}`` replacing the
            class's ``CHECKSUMS`` (for private mirrors and tests).
        timeout: seconds per network operation.

    A subclass sets ``NAME`` (used in messages), ``MIRRORS``, ``CHECKSUMS``,
    and implements ``files(train)``, ``cache_folder()`` and
    ``parse(paths)``, which sets ``data`` and ``targets``.

    Raises:
        DatasetNotFoundError: files missing and ``download=False``.
        DownloadError: no mirror reachable (names each URL tried).
        ChecksumError: a file whose digest does not match.
        ValueError: malformed files (raised by ``parse``).
    """

    NAME: str
    MIRRORS: tuple[str, ...]
    CHECKSUMS: Mapping

    def __init__(
        self,
        root,
        train: bool = True,
        download: bool = False,
        transform: Callable | None = None,
        *,
        mirrors=None,
        checksums=None,
        timeout: float = 60.0,
    ) -> None:
        self.root = Path(os.path.expanduser(os.fspath(root)))
        self.train = bool(train)
        self.transform = transform
        paths = ensure_files(
            self.files(self.train),
            self.cache_folder(),
            download=download,
            mirrors=resolve_mirrors(mirrors, self.MIRRORS),
            checksums=normalize_checksums(self.CHECKSUMS if checksums is None else checksums),
            dataset=self.NAME,
            timeout=timeout,
        )
        self.parse(paths)

    @classmethod
    def files(cls, train: bool) -> Sequence[str]:
        """The file names one split needs, in the order ``parse`` takes them."""
        raise NotImplementedError(f"{cls.__name__} must implement files(train)")

    def cache_folder(self) -> Path:
        """Where the files are cached (default: ``root`` itself)."""
        return self.root

    def parse(self, paths: list[Path]) -> None:
        """Read the verified files; set ``data`` and ``targets``."""
        raise NotImplementedError(f"{type(self).__name__} must implement parse(paths)")
