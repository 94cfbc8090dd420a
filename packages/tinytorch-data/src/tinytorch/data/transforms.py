"""Per-sample image transforms (the torchvision.transforms idea, on NumPy).

A transform is a callable ``image -> image`` applied by a dataset to one
sample in ``__getitem__``. They chain with :class:`Compose`::

    train_tf = Compose([
        RandomCrop(32, padding=4, generator=Generator(0)),  # HWC uint8 -> HWC uint8
        RandomHorizontalFlip(generator=Generator(1)),       # HWC uint8 -> HWC uint8
        ToTensor(),                          # HWC uint8 [0,255] -> CHW float32 Tensor [0,1]
        Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26)),
    ])

Layouts. The data sets hand out images as NumPy arrays in HWC (height,
width, channels) or HW (grayscale) order, like PIL images; :class:`ToTensor`
turns them into CHW Tensors, like torchvision. So the geometric and
normalising transforms take ``layout=None`` meaning "NumPy arrays are HWC,
Tensors are CHW"; pass ``layout="CHW"`` or ``layout="HWC"`` to say otherwise.
2-D inputs are always ``(H, W)``. A Tensor input gives a Tensor output, an
ndarray input an ndarray output.

Randomness comes from ``generator=`` (PyTorch's keyword): a
``tinytorch.tensor.Generator`` (``Generator(seed)``: the same seed gives the
same sequence of flips and crops on every run) or a
``numpy.random.Generator`` to share; None draws from tinytorch's default
generator. ``seed=`` and ``rng=`` are deprecated aliases.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

from tinytorch.tensor import Tensor

from ._validate import int_at_least, probability, random_source

__all__ = ["Compose", "Normalize", "RandomHorizontalFlip", "RandomCrop", "ToTensor"]

_LAYOUTS = ("CHW", "HWC")


def _check_layout(layout) -> str | None:
    if layout is not None and layout not in _LAYOUTS:
        raise ValueError(f"layout must be None, 'CHW' or 'HWC', got {layout!r}")
    return layout


def _unwrap(img, layout: str | None, name: str) -> tuple[np.ndarray, bool, str]:
    """Return (array, was_tensor, layout) for a 2-D or 3-D image."""
    was_tensor = isinstance(img, Tensor)
    if was_tensor:
        arr = img.data
    elif isinstance(img, np.ndarray):
        arr = img
    else:
        raise TypeError(f"{name} expects a NumPy array or a Tensor image, got {type(img).__name__}")
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} expects one image of shape (H, W), (C, H, W) or (H, W, C), got shape "
            f"{arr.shape} (transforms apply to single samples, not batches)"
        )
    if arr.ndim == 2:
        return arr, was_tensor, "HW"
    return arr, was_tensor, layout or ("CHW" if was_tensor else "HWC")


def _rewrap(arr: np.ndarray, was_tensor: bool):
    return Tensor(arr, dtype=arr.dtype) if was_tensor else arr


def _hw_axes(layout: str) -> tuple[int, int]:
    return {"HW": (0, 1), "CHW": (1, 2), "HWC": (0, 1)}[layout]


class Compose:
    """Apply transforms in order: ``Compose([f, g])(x) == g(f(x))``.

    Raises:
        TypeError: an element that is not callable.
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        transforms = list(transforms)
        for k, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {k} ({t!r}) is not callable")
        self.transforms = transforms

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class Normalize:
    """Per-channel standardisation: ``out[c] = (img[c] - mean[c]) / std[c]``.

    Args:
        mean, std: one value per channel (or one value for all channels).
        layout: ``None`` (Tensor: CHW, ndarray: HWC), ``"CHW"`` or ``"HWC"``.

    Input: a float image ``(C, H, W)`` / ``(H, W, C)`` / ``(H, W)``; output
    float32 of the same shape and kind (Tensor or ndarray). O(C*H*W).

    Raises:
        ValueError: a zero or negative std, or a number of means/stds that
            is neither 1 nor the number of channels.
        TypeError: an integer image (apply :class:`ToTensor` first).
    """

    def __init__(self, mean, std, layout: str | None = None) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float32))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float32))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError("Normalize: mean and std must be numbers or 1-D sequences")
        if self.mean.shape != self.std.shape:
            raise ValueError(
                f"Normalize: mean has {self.mean.size} values but std has {self.std.size}"
            )
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {self.std.tolist()}")
        self.layout = _check_layout(layout)

    def __call__(self, img):
        arr, was_tensor, layout = _unwrap(img, self.layout, "Normalize")
        if arr.dtype.kind != "f":
            raise TypeError(
                f"Normalize expects a float image, got dtype {arr.dtype}; apply ToTensor() "
                "first to turn uint8 [0, 255] into float32 [0, 1]"
            )
        channels = 1 if layout == "HW" else arr.shape[0 if layout == "CHW" else 2]
        if self.mean.size not in (1, channels):
            raise ValueError(
                f"Normalize: {self.mean.size} means/stds for an image with {channels} "
                f"channels (shape {arr.shape}, layout {layout})"
            )
        # Shape the per-channel vectors so they broadcast along the channel axis.
        shape = {"HW": (1, 1), "CHW": (-1, 1, 1), "HWC": (1, 1, -1)}[layout]
        if layout == "HW":
            mean, std = self.mean[:1], self.std[:1]
        else:
            mean, std = self.mean, self.std
        out = (arr.astype(np.float32, copy=False) - mean.reshape(shape)) / std.reshape(shape)
        return _rewrap(out.astype(np.float32, copy=False), was_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomHorizontalFlip:
    """Mirror the image left-right (reverse the W axis) with probability ``p``.

    Args:
        p: flip probability in ``[0, 1]``.
        layout: ``None`` (Tensor: CHW, ndarray: HWC), ``"CHW"`` or ``"HWC"``.
        seed, rng: deprecated aliases of ``generator`` (``seed=s`` is
            ``generator=Generator(s)``).
        generator: the source of randomness (keyword-only; see the module
            docstring).

    Output has the input's shape, dtype and kind (a copy). O(H*W*C).

    Raises:
        TypeError: ``p`` not a number, a bad generator, or more than one of
            ``generator``, ``seed``, ``rng``.  ValueError: ``p`` outside ``[0, 1]``.
    """

    def __init__(self, p: float = 0.5, layout: str | None = None, seed=None, rng=None, *,
                 generator=None) -> None:
        self.p = probability(p, "p", "RandomHorizontalFlip")
        self.layout = _check_layout(layout)
        self.rng = random_source(generator, "RandomHorizontalFlip", seed=seed, rng=rng)

    def __call__(self, img):
        arr, was_tensor, layout = _unwrap(img, self.layout, "RandomHorizontalFlip")
        if self.rng.random() < self.p:
            arr = np.flip(arr, axis=_hw_axes(layout)[1])
        return _rewrap(np.ascontiguousarray(arr), was_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """Zero-pad each side by ``padding``, then cut a random ``size`` window.

    Args:
        size: output ``(h, w)``, or one int for a square.
        padding: zeros added on each of the four sides first (int >= 0).
        layout: ``None`` (Tensor: CHW, ndarray: HWC), ``"CHW"`` or ``"HWC"``.
        seed, rng: deprecated aliases of ``generator``.
        generator: the source of randomness (keyword-only; see the module
            docstring).

    The top-left corner is uniform over every position where the window fits
    in the padded image. Output: ``(h, w)`` spatial size, input dtype and
    kind. O(h*w*C).

    Raises:
        TypeError: a size or padding that is not an int (or a pair of ints),
            a bad generator.  ValueError: non-positive size, negative padding,
            or a window larger than the padded image (the message gives both
            sizes).
    """

    def __init__(
        self, size, padding: int = 0, layout: str | None = None, seed=None, rng=None, *,
        generator=None,
    ) -> None:
        pair = (size, size) if isinstance(size, numbers.Integral) else size
        msg = f"RandomCrop: size must be a positive int or (h, w), got {size!r}"
        if not isinstance(pair, (tuple, list)) or not all(
                isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in pair):
            raise TypeError(msg)
        if len(pair) != 2 or min(pair) < 1:
            raise ValueError(msg)
        self.size = (int(pair[0]), int(pair[1]))
        self.padding = int_at_least(padding, "padding", "RandomCrop", 0)
        self.layout = _check_layout(layout)
        self.rng = random_source(generator, "RandomCrop", seed=seed, rng=rng)

    def __call__(self, img):
        arr, was_tensor, layout = _unwrap(img, self.layout, "RandomCrop")
        ha, wa = _hw_axes(layout)
        p = self.padding
        if p:
            pad = [(0, 0)] * arr.ndim
            pad[ha] = pad[wa] = (p, p)
            arr = np.pad(arr, pad, mode="constant", constant_values=0)
        H, W = arr.shape[ha], arr.shape[wa]
        h, w = self.size
        if h > H or w > W:
            raise ValueError(
                f"RandomCrop: crop size {(h, w)} is larger than the padded image "
                f"({H}, {W}) (input shape {getattr(img, 'shape', None)}, padding {p})"
            )
        top = int(self.rng.integers(0, H - h + 1))
        left = int(self.rng.integers(0, W - w + 1))
        index = [slice(None)] * arr.ndim
        index[ha] = slice(top, top + h)
        index[wa] = slice(left, left + w)
        return _rewrap(np.ascontiguousarray(arr[tuple(index)]), was_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class ToTensor:
    """HWC NumPy image -> CHW float32 Tensor, as torchvision's ``ToTensor``.

    * ``uint8`` in ``[0, 255]`` is scaled to float32 ``[0, 1]`` (divide by 255);
    * float arrays are only cast to float32 (no scaling);
    * ``(H, W)`` grayscale becomes ``(1, H, W)``; ``(H, W, C)`` becomes ``(C, H, W)``.

    O(H*W*C), one copy.

    Raises:
        TypeError: a Tensor (already converted) or a dtype other than uint8
            or float.
        ValueError: an array that is not 2-D or 3-D.
    """

    def __call__(self, pic) -> Tensor:
        if isinstance(pic, Tensor):
            raise TypeError("ToTensor expects a NumPy image, got a Tensor (already converted?)")
        if not isinstance(pic, np.ndarray):
            raise TypeError(f"ToTensor expects a NumPy array, got {type(pic).__name__}")
        if pic.ndim not in (2, 3):
            raise ValueError(
                f"ToTensor expects an (H, W) or (H, W, C) image, got shape {pic.shape}"
            )
        if pic.dtype != np.uint8 and pic.dtype.kind != "f":
            raise TypeError(f"ToTensor expects a uint8 or float image, got dtype {pic.dtype}")
        chw = pic[None] if pic.ndim == 2 else np.transpose(pic, (2, 0, 1))
        # A fresh C-contiguous float32 copy: the Tensor never aliases the dataset.
        out = np.array(chw, dtype=np.float32, order="C", copy=True)
        if pic.dtype == np.uint8:
            out /= np.float32(255.0)  # divide (not multiply by 1/255), as torchvision does
        return Tensor(out, dtype=np.float32)

    def __repr__(self) -> str:
        return "ToTensor()"
