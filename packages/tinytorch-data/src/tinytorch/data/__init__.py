"""tinytorch.data: feed a model with batches.

* :class:`Dataset`, :class:`TensorDataset`, :class:`Subset`, :func:`random_split`
* :class:`DataLoader` (seeded shuffling, batching, a fast gather path) and
  :func:`default_collate`
* :mod:`tinytorch.data.transforms`: ``Compose``, ``Normalize``,
  ``RandomHorizontalFlip``, ``RandomCrop``, ``ToTensor``
* :mod:`tinytorch.data.datasets`: the bundled digits (``load_digits``,
  ``DigitsDataset``, ``digits_split``), the bundled Shakespeare corpus
  (``load_shakespeare``) and ``MNIST`` / ``CIFAR10`` downloads
"""

__version__ = "0.2.1"

from . import datasets, transforms
from .dataloader import DataLoader, default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .datasets import (
    CIFAR10,
    MNIST,
    ChecksumError,
    DatasetNotFoundError,
    DigitsDataset,
    DownloadError,
    digits_split,
    load_digits,
    load_shakespeare,
)
from .transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor

__all__ = [
    "__version__",
    "Dataset",
    "TensorDataset",
    "Subset",
    "random_split",
    "DataLoader",
    "default_collate",
    "transforms",
    "datasets",
    "Compose",
    "Normalize",
    "RandomHorizontalFlip",
    "RandomCrop",
    "ToTensor",
    "load_digits",
    "load_shakespeare",
    "DigitsDataset",
    "digits_split",
    "MNIST",
    "CIFAR10",
    "DownloadError",
    "ChecksumError",
    "DatasetNotFoundError",
]
