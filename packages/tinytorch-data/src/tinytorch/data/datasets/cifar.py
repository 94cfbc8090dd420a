"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky, 2009).

Downloaded on demand as ``cifar-10-python.tar.gz`` (the "python version"),
verified against pinned checksums and cached as ``<root>/cifar-10-python.tar.gz``
(the name torchvision uses). The batches are read straight out of the
archive; nothing is extracted to disk.

Archive layout::

    cifar-10-batches-py/data_batch_1 .. data_batch_5   10,000 training images each
    cifar-10-batches-py/test_batch                     10,000 test images
    cifar-10-batches-py/batches.meta                   {"label_names": [...]}

Each batch is a pickled dict: ``data`` uint8 ``(10000, 3072)`` (per row the
1024 red, then 1024 green, then 1024 blue values of a 32x32 image, row-major)
and ``labels``, a list of ints 0..9. The pickles are read with a restricted
unpickler that can build NumPy arrays and nothing else: unpickling an
arbitrary file can otherwise run arbitrary code.
"""

from __future__ import annotations

import codecs
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ._base import DownloadedImageDataset

__all__ = ["CIFAR10", "CIFAR10_MIRRORS", "CIFAR10_FILE", "CIFAR10_CHECKSUMS", "read_cifar_batches"]

CIFAR10_MIRRORS = ("https://www.cs.toronto.edu/~kriz",)
CIFAR10_FILE = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"

# Provenance of these digests (they could not be recomputed here, offline):
# * md5: the value torchvision publishes (torchvision/datasets/cifar.py,
#   CIFAR10.tgz_md5), which matches the one on the CIFAR-10 home page.
# * sha256: the value torchvision's newer dataset API pins for this archive
#   (Cifar10._SHA256), repeated identically by other projects.
# A download must match both.
CIFAR10_CHECKSUMS = {
    CIFAR10_FILE: {
        "sha256": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        "md5": "c58f30108f718f92721af3b95e74349a",
    },
}

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]

_TRAIN_BATCHES = [f"data_batch_{k}" for k in range(1, 6)]
_TEST_BATCHES = ["test_batch"]


def _numpy_globals() -> dict:
    # The callables NumPy's own pickles name, found without importing the
    # deprecated numpy.core shim (module names differ across NumPy 1.x/2.x).
    sample = np.zeros(1)
    reconstruct = sample.__reduce__()[0]
    frombuffer = sample.__reduce_ex__(5)[0]
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for mod in ("numpy.core", "numpy._core"):
        allowed[(f"{mod}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{mod}.numeric", "_frombuffer")] = frombuffer
    # Protocol-2 pickles written by Python 3 encode bytes through _codecs.encode.
    allowed[("_codecs", "encode")] = codecs.encode
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """An Unpickler that can build dicts, lists, strings, numbers and NumPy arrays only."""

    _allowed = _numpy_globals()

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch holds only arrays, "
                "lists and strings"
            ) from None


def _load_dict(fileobj, where: str, what: str) -> dict:
    """The pickled dict in ``fileobj`` (only arrays, lists, strings and numbers
    are built); ValueError naming ``where`` and ``what`` ("batch", "metadata
    file") for a broken pickle or anything but a dict."""
    try:
        # latin1 decodes the Python 2 strings of the original pickles
        # (NumPy's recommendation for Python 2 array pickles).
        entry = _ArrayUnpickler(fileobj, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{where} is not a valid CIFAR {what}: {exc}") from None
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected a pickled dict, got {type(entry).__name__}")
    return entry


def _load_batch(fileobj, where: str) -> tuple[np.ndarray, np.ndarray]:
    entry = _load_dict(fileobj, where, "batch")
    entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    missing = [k for k in ("data", "labels") if k not in entry]
    if missing:
        raise ValueError(f"{where}: batch dict lacks {missing} (keys: {sorted(entry)})")
    data = np.asarray(entry["data"])
    labels = np.asarray(entry["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{where}: data must be uint8 (N, 3072), got {data.dtype} {data.shape}")
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: labels must be {data.shape[0]} integers, got {labels.dtype} {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{where}: labels must be in 0..9, got {labels.min()}..{labels.max()}")
    return data, labels.astype(np.int64)


def _load_meta(fileobj, where: str) -> list[str] | None:
    """The ten class names of ``batches.meta`` (None when the file has no
    ``label_names``); ValueError for anything else."""
    meta = _load_dict(fileobj, where, "metadata file")
    names = meta.get("label_names", meta.get(b"label_names"))
    if names is None:
        return None
    if not isinstance(names, (list, tuple)) or len(names) != len(CIFAR10_CLASSES):
        raise ValueError(f"{where}: label_names must be a list of {len(CIFAR10_CLASSES)} "
                         f"names, got {type(names).__name__} {names!r:.80}")
    if not all(isinstance(n, (str, bytes)) for n in names):
        raise ValueError(f"{where}: every label name must be a string")
    try:
        return [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{where}: a label name is not UTF-8 ({exc})") from None


def read_cifar_batches(path, batch_names) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read the named batches from a CIFAR-10 python tar.gz, in one pass.

    Returns:
        ``(images, labels, class_names)``: images uint8 ``(N, 32, 32, 3)``
        (HWC, C-contiguous), labels int64 ``(N,)``, the names from
        ``batches.meta`` (or the standard ten). O(archive size).

    Raises:
        ValueError: not a gzip tar, a missing batch, a malformed batch or
            malformed metadata (``batches.meta`` that does not unpickle to a
            dict, or whose ``label_names`` are not ten strings).
    """
    path = Path(path)
    wanted = {f"{CIFAR10_FOLDER}/{b}": b for b in batch_names}
    meta_name = f"{CIFAR10_FOLDER}/batches.meta"
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    classes = list(CIFAR10_CLASSES)
    try:
        # Iterate members in archive order: a gzip stream cannot seek cheaply.
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if not member.isfile() or member.name not in (*wanted, meta_name):
                    continue
                f = tar.extractfile(member)
                where = f"{path.name}:{member.name}"
                if member.name == meta_name:
                    classes = _load_meta(f, where) or classes
                else:
                    found[wanted[member.name]] = _load_batch(f, where)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ValueError(f"{path} is not a readable CIFAR-10 tar.gz archive: {exc}") from None
    except pickle.UnpicklingError as exc:
        raise ValueError(f"{path}: {exc}") from None
    missing = [b for b in batch_names if b not in found]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(f'{CIFAR10_FOLDER}/{b}' for b in missing)}")
    data = np.concatenate([found[b][0] for b in batch_names])
    labels = np.concatenate([found[b][1] for b in batch_names])
    # Rows are channel planes (N, 3, 32, 32); hand out HWC images like PIL/torchvision.
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels, classes


class CIFAR10(DownloadedImageDataset):
    """The CIFAR-10 training (50,000) or test (10,000) set.

    Args:
        root: cache directory; the archive lives at
            ``<root>/cifar-10-python.tar.gz``.
        train: the training set (5 batches) if true, else the test batch.
        download: fetch the archive if missing (verified, atomic).
        transform: optional callable applied to each image in ``__getitem__``.
        mirrors: base URL(s) replacing :data:`CIFAR10_MIRRORS` (default: the
            ``TINYTORCH_DATA_MIRROR`` environment variable, then the public
            mirror).
        checksums: ``{filename: sha256-or-md5 hex or dict}`` replacing
            :data:`CIFAR10_CHECKSUMS`.
        timeout: seconds per network operation.

    Samples are ``(image, label)``: image uint8 ``(32, 32, 3)`` (HWC), label
    an int 0..9 naming ``classes[label]``. ``data`` is uint8
    ``(N, 32, 32, 3)``, ``targets`` int64 ``(N,)``. Loading verifies and
    decompresses the archive: O(archive size), about a second for the real one.

    Raises:
        DatasetNotFoundError: archive missing and ``download=False``.
        DownloadError: no mirror reachable (names each URL tried).
        ChecksumError: an archive whose digest does not match.
        ValueError: a malformed archive or batch.
    """

    NAME = "CIFAR-10"
    MIRRORS = CIFAR10_MIRRORS
    CHECKSUMS = CIFAR10_CHECKSUMS

    @classmethod
    def files(cls, train: bool) -> list[str]:
        return [CIFAR10_FILE]  # one archive holds both splits

    def parse(self, paths: list[Path]) -> None:
        (archive,) = paths
        names = _TRAIN_BATCHES if self.train else _TEST_BATCHES
        self.data, self.targets, self.classes = read_cifar_batches(archive, names)
