"""Data sets: the bundled UCI digits and Shakespeare corpus (offline), and verified
MNIST / CIFAR-10 downloads."""

from ._base import ArrayImageDataset, DownloadedImageDataset
from ._download import (
    MIRROR_ENV_VAR,
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
)
from .cifar import CIFAR10, CIFAR10_CHECKSUMS, CIFAR10_MIRRORS
from .digits import DigitsDataset, digits_split, load_digits, stratified_split_indices
from .mnist import MNIST, MNIST_CHECKSUMS, MNIST_MIRRORS
from .shakespeare import load_shakespeare

__all__ = [
    "ArrayImageDataset",
    "DownloadedImageDataset",
    "load_digits",
    "load_shakespeare",
    "DigitsDataset",
    "digits_split",
    "stratified_split_indices",
    "MNIST",
    "CIFAR10",
    "MNIST_MIRRORS",
    "MNIST_CHECKSUMS",
    "CIFAR10_MIRRORS",
    "CIFAR10_CHECKSUMS",
    "MIRROR_ENV_VAR",
    "DownloadError",
    "ChecksumError",
    "DatasetNotFoundError",
]
