"""The UCI handwritten digits, shipped inside the package (works offline).

1797 grayscale 8x8 images of the digits 0-9, each pixel a count in 0..16
(the number of "on" pixels in a 4x4 block of the original 32x32 bitmap).
Source: E. Alpaydin and C. Kaynak (1998), "Optical Recognition of Handwritten
Digits", UCI Machine Learning Repository, CC BY 4.0; the copy scikit-learn
ships as ``sklearn/datasets/data/digits.csv.gz``. See ``DATA_LICENSE.md``.

File format: gzip CSV, one row per image, 64 pixel values (row-major) then
the label.
"""

from __future__ import annotations

import functools
import gzip
import io
from collections.abc import Callable
from importlib import resources

import numpy as np

from tinytorch.tensor import Tensor

from ._base import ArrayImageDataset

__all__ = ["load_digits", "DigitsDataset", "digits_split", "stratified_split_indices"]

DIGITS_FILE = "digits.csv.gz"
N_DIGITS = 1797


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Parse the bundled CSV once per process; the cached arrays are read-only."""
    raw = resources.files(__package__).joinpath(DIGITS_FILE).read_bytes()
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    if table.shape != (N_DIGITS, 65):
        raise ValueError(
            f"bundled {DIGITS_FILE} has shape {table.shape}, expected ({N_DIGITS}, 65)"
        )
    X = table[:, :64].astype(np.float32)
    y = table[:, 64].astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load_digits(as_tensor: bool = False, images: bool = False):
    """Return the bundled digits as ``(X, y)``.

    Args:
        as_tensor: return Tensors instead of NumPy arrays.
        images: give X the image shape ``(1797, 1, 8, 8)`` (N, C, H, W)
            instead of flat ``(1797, 64)`` rows.

    Returns:
        ``X`` float32 in ``[0, 16]``, shape ``(1797, 64)`` or
        ``(1797, 1, 8, 8)``; ``y`` int64 ``(1797,)`` with labels 0..9. Fresh
        copies: modifying them does not affect later calls.

    The CSV is parsed on the first call only (a few ms), then cached.
    """
    X, y = _digits_arrays()
    X = X.reshape(N_DIGITS, 1, 8, 8).copy() if images else X.copy()
    y = y.copy()
    if as_tensor:
        return Tensor(X, dtype=np.float32), Tensor(y, dtype=np.int64)
    return X, y


def stratified_split_indices(
    y: np.ndarray, test_fraction: float, seed: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified split: ``round(test_fraction * n_c)`` of each class to test.

    Args:
        y: integer labels ``(N,)``.
        test_fraction: in ``(0, 1)``.
        seed: seed of the ``numpy.random.Generator`` (same seed, same split).

    Returns:
        ``(train_idx, test_idx)``: sorted int64 arrays that partition
        ``0..N-1``. O(N log N), no loop over classes or samples.

    Raises:
        ValueError: ``test_fraction`` outside ``(0, 1)``.
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    y = np.asarray(y, dtype=np.int64)
    n = y.shape[0]
    # Shuffle, then stable-sort by label: each class becomes a contiguous,
    # randomly ordered run; the first k_c of each run go to the test set.
    perm = np.random.default_rng(seed).permutation(n)
    order = perm[np.argsort(y[perm], kind="stable")]
    labels, starts, counts = np.unique(y[order], return_index=True, return_counts=True)
    rank = np.arange(n) - np.repeat(starts, counts)
    k = np.rint(counts * float(test_fraction)).astype(np.int64)
    is_test = rank < np.repeat(k, counts)
    return np.sort(order[~is_test]), np.sort(order[is_test])


class DigitsDataset(ArrayImageDataset):
    """The bundled digits as a dataset of ``(x, label)`` samples.

    Args:
        split: ``"all"`` (1797 samples), ``"train"`` or ``"test"`` (a seeded,
            stratified split, see :func:`stratified_split_indices`).
        test_fraction, seed: define the split (ignored for ``"all"``). A seed,
            not the stack's ``generator=``, on purpose: the split is part of the
            data set's definition and must not depend on other random draws.
        images: samples ``x`` of shape ``(1, 8, 8)`` instead of ``(64,)``.
        transform: optional callable applied to ``x`` in ``__getitem__``.

    ``x`` is float32 in ``[0, 16]``; labels are ints 0..9. ``classes`` is
    ``["0", ..., "9"]``.

    Raises:
        ValueError: an unknown split or a test_fraction outside ``(0, 1)``.
    """

    classes = [str(d) for d in range(10)]

    def __init__(
        self,
        split: str = "all",
        test_fraction: float = 0.2,
        seed: int | None = 0,
        images: bool = False,
        transform: Callable | None = None,
    ) -> None:
        if split not in ("all", "train", "test"):
            raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
        X, y = load_digits(images=images)
        if split != "all":
            train_idx, test_idx = stratified_split_indices(y, test_fraction, seed)
            idx = train_idx if split == "train" else test_idx
            X, y = X[idx], y[idx]
        self.split = split
        self.data = X
        self.targets = y
        self.transform = transform


def digits_split(
    test_fraction: float = 0.2,
    seed: int | None = 0,
    images: bool = False,
    train_transform: Callable | None = None,
    test_transform: Callable | None = None,
) -> tuple[DigitsDataset, DigitsDataset]:
    """``(train, test)`` :class:`DigitsDataset` s: stratified, seeded, disjoint.

    With the defaults: 1438 training and 359 test samples, every digit in
    (nearly) the same proportion in both; the same seed gives the same split
    on every run. Augmentation usually goes in ``train_transform`` only.
    """
    train = DigitsDataset("train", test_fraction, seed, images, train_transform)
    test = DigitsDataset("test", test_fraction, seed, images, test_transform)
    return train, test
