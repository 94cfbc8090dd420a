"""MNIST: 70,000 28x28 grayscale handwritten digits (LeCun, Cortes, Burges).

Downloaded on demand (``download=True``) as the four gzip IDX files,
verified against pinned checksums, cached under ``<root>/MNIST/raw/``
(the directory torchvision uses, so an existing torchvision copy is found).

IDX format (big-endian)::

    magic   = 0x00000803 (images: unsigned bytes, 3 dims) | 0x00000801 (labels: 1 dim)
    dims    = ndim uint32 values: (N, 28, 28) or (N,)
    payload = prod(dims) unsigned bytes, row-major
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ._base import DownloadedImageDataset

__all__ = ["MNIST", "MNIST_MIRRORS", "MNIST_FILES", "MNIST_CHECKSUMS", "read_idx"]

# Public mirrors, tried in order. The first is the one torchvision uses
# (yann.lecun.com itself now often refuses downloads); the second is the one
# TensorFlow Datasets uses.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
    "http://yann.lecun.com/exdb/mnist",
)

MNIST_FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# Provenance of these digests (they could not be recomputed here, offline):
# * md5: the values torchvision publishes in torchvision/datasets/mnist.py
#   (MNIST.resources).
# * sha256: the values in TensorFlow Datasets' checksum table for MNIST,
#   repeated identically by many independent projects that pin these files.
# A download must match every digest listed, so a wrong entry here would
# fail loudly (ChecksumError), never accept a bad file.
MNIST_CHECKSUMS = {
    "train-images-idx3-ubyte.gz": {
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    },
    "train-labels-idx1-ubyte.gz": {
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
    },
    "t10k-images-idx3-ubyte.gz": {
        "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "md5": "9fb629c4189551a2d022fa330f9573f3",
    },
    "t10k-labels-idx1-ubyte.gz": {
        "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
    },
}

_IDX_UBYTE = 0x08


def read_idx(path, ndim: int) -> np.ndarray:
    """Read a gzip-compressed IDX file of unsigned bytes with ``ndim`` dims.

    Returns:
        uint8 ndarray of the shape stored in the header. O(file size).

    Raises:
        ValueError: not gzip, a wrong magic number (not an unsigned-byte IDX
            file with ``ndim`` dimensions), or a payload whose size does not
            match the header.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} is not a readable gzip file: {exc}") from None
    expected_magic = (_IDX_UBYTE << 8) | ndim
    header = 4 + 4 * ndim
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"{path}: IDX magic number {magic:#010x}, expected {expected_magic:#010x} "
            f"(unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    if len(raw) < header:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != size:
        raise ValueError(
            f"{path}: header says shape {dims} ({size} bytes) but the payload has "
            f"{len(raw) - header} bytes"
        )
    # .copy(): np.frombuffer over bytes is read-only.
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


class MNIST(DownloadedImageDataset):
    """The MNIST training (60,000) or test (10,000) set.

    Args:
        root: cache directory; files live in ``<root>/MNIST/raw/``.
        train: the training set if true, else the test set.
        download: fetch missing files from the mirrors (verified, atomic).
        transform: optional callable applied to each image in ``__getitem__``
            (e.g. ``Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])``).
        mirrors: base URL(s) replacing :data:`MNIST_MIRRORS` (default: the
            ``TINYTORCH_DATA_MIRROR`` environment variable, then the public
            mirrors).
        checksums: ``{filename: sha256-or-md5 hex or dict}`` replacing
            :data:`MNIST_CHECKSUMS` (for private mirrors and tests).
        timeout: seconds per network operation.

    Samples are ``(image, label)``: image uint8 ``(28, 28)`` (HW, 0..255),
    label an int 0..9. ``data`` is uint8 ``(N, 28, 28)``, ``targets``
    int64 ``(N,)``. Loading reads and verifies the cached files: O(file size).

    Raises:
        DatasetNotFoundError: files missing and ``download=False``.
        DownloadError: no mirror reachable (names each URL tried).
        ChecksumError: a file whose digest does not match.
        ValueError: a malformed IDX file, or image/label counts that differ.
    """

    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    NAME = "MNIST"
    MIRRORS = MNIST_MIRRORS
    CHECKSUMS = MNIST_CHECKSUMS

    @classmethod
    def files(cls, train: bool) -> tuple[str, str]:
        return MNIST_FILES[bool(train)]

    @property
    def raw_folder(self) -> Path:
        """``<root>/MNIST/raw``: where the four gzip files are cached."""
        return self.root / "MNIST" / "raw"

    def cache_folder(self) -> Path:
        return self.raw_folder

    def parse(self, paths: list[Path]) -> None:
        images_path, labels_path = paths
        images = read_idx(images_path, ndim=3)
        labels = read_idx(labels_path, ndim=1)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"MNIST: {images_path.name} holds {images.shape[0]} images but "
                f"{labels_path.name} holds {labels.shape[0]} labels"
            )
        if labels.size and labels.max() > 9:
            raise ValueError(f"MNIST: {labels_path.name} holds label {int(labels.max())} > 9")
        self.data = images
        self.targets = labels.astype(np.int64)
