import numpy as np
import pytest

from tinytorch.data import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToTensor
from tinytorch.tensor import Generator, Tensor


# ----------------------------------------------------------------- ToTensor
def test_to_tensor_hwc_uint8_exact():
    img = np.array([[[0, 255, 51]], [[102, 1, 204]]], dtype=np.uint8)  # (H=2, W=1, C=3)
    out = ToTensor()(img)
    assert isinstance(out, Tensor)
    assert out.shape == (3, 2, 1) and out.dtype == np.float32
    expected = np.transpose(img, (2, 0, 1)).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(out.data, expected)
    assert out.data[0, 0, 0] == 0.0 and out.data[1, 0, 0] == 1.0
    assert out.data.flags.c_contiguous


def test_to_tensor_grayscale_and_float():
    gray = ToTensor()(np.full((2, 3), 255, dtype=np.uint8))
    assert gray.shape == (1, 2, 3)
    np.testing.assert_array_equal(gray.data, np.ones((1, 2, 3), dtype=np.float32))
    f = np.arange(6, dtype=np.float64).reshape(1, 2, 3)  # (H, W, C), not scaled
    out = ToTensor()(f)
    np.testing.assert_array_equal(out.data, np.transpose(f, (2, 0, 1)))
    assert out.dtype == np.float32


def test_to_tensor_copies():
    f = np.zeros((2, 2), dtype=np.float32)
    out = ToTensor()(f)
    out.data[:] = 1
    assert f.sum() == 0


@pytest.mark.parametrize(
    "img, exc",
    [
        (Tensor(np.zeros((1, 2, 2), dtype=np.float32)), TypeError),
        (np.zeros((2, 2), dtype=np.int32), TypeError),
        (np.zeros((1, 2, 2, 3), dtype=np.uint8), ValueError),
        ([[0, 1]], TypeError),
    ],
)
def test_to_tensor_errors(img, exc):
    with pytest.raises(exc):
        ToTensor()(img)


# ---------------------------------------------------------------- Normalize
def test_normalize_chw_tensor_per_channel_exact():
    x = Tensor(np.array([[[1.0, 3.0]], [[10.0, 20.0]]], dtype=np.float32))  # (C=2, H=1, W=2)
    out = Normalize(mean=[1.0, 10.0], std=[2.0, 5.0])(x)
    assert isinstance(out, Tensor) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, [[[0.0, 1.0]], [[0.0, 2.0]]])


def test_normalize_hwc_ndarray_default_layout():
    x = np.array([[[1.0, 10.0], [3.0, 20.0]]], dtype=np.float32)  # (H=1, W=2, C=2)
    out = Normalize([1.0, 10.0], [2.0, 5.0])(x)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [[[0.0, 0.0], [1.0, 2.0]]])


def test_normalize_explicit_chw_ndarray_and_single_value():
    x = np.array([[[2.0, 4.0]]], dtype=np.float64)  # (C=1, H=1, W=2)
    out = Normalize(2.0, 2.0, layout="CHW")(x)
    np.testing.assert_array_equal(out, [[[0.0, 1.0]]])
    assert out.dtype == np.float32
    gray = Normalize((1.0,), (0.5,))(np.array([[1.0, 2.0]], dtype=np.float32))
    np.testing.assert_array_equal(gray, [[0.0, 2.0]])


@pytest.mark.parametrize(
    "mean, std, img, exc, match",
    [
        ([0.0], [0.0], np.zeros((1, 2, 2), np.float32), ValueError, "positive"),
        ([0.0, 0.0], [1.0], np.zeros((1, 2, 2), np.float32), ValueError, "2 values"),
        ([0.0, 0.0], [1.0, 1.0], np.zeros((2, 2, 3), np.float32), ValueError, "3 channels"),
        ([0.0], [1.0], np.zeros((2, 2, 1), np.uint8), TypeError, "ToTensor"),
        ([0.0], [1.0], np.zeros((2, 1, 2, 2), np.float32), ValueError, "single samples"),
    ],
)
def test_normalize_errors(mean, std, img, exc, match):
    with pytest.raises(exc, match=match):
        Normalize(mean, std)(img)


# ---------------------------------------------------- RandomHorizontalFlip
IMG_HWC = np.arange(2 * 3 * 2, dtype=np.uint8).reshape(2, 3, 2)  # H=2, W=3, C=2


@pytest.mark.parametrize(
    "img, layout, expected",
    [
        (IMG_HWC, None, IMG_HWC[:, ::-1, :]),
        (IMG_HWC, "CHW", IMG_HWC[:, :, ::-1]),
        (Tensor(IMG_HWC), None, IMG_HWC[:, :, ::-1]),  # Tensors are CHW
        (IMG_HWC[:, :, 0], None, IMG_HWC[:, ::-1, 0]),
    ],
)
def test_flip_p1_exact(img, layout, expected):
    out = RandomHorizontalFlip(p=1.0, layout=layout, generator=Generator(0))(img)
    data = out.data if isinstance(out, Tensor) else out
    assert type(out) is type(img)
    np.testing.assert_array_equal(data, expected)
    assert data.dtype == np.uint8


def test_flip_p0_identity():
    out = RandomHorizontalFlip(p=0.0, generator=Generator(0))(IMG_HWC)
    np.testing.assert_array_equal(out, IMG_HWC)


def test_flip_follows_the_seeded_generator():
    flip = RandomHorizontalFlip(p=0.5, generator=Generator(7))
    draws = np.random.default_rng(7).random(40) < 0.5
    for d in draws:
        out = flip(IMG_HWC)
        np.testing.assert_array_equal(out, IMG_HWC[:, ::-1] if d else IMG_HWC)
    assert 0 < draws.sum() < 40


def test_flip_shared_rng():
    rng = np.random.default_rng(3)
    flip = RandomHorizontalFlip(generator=rng)
    assert flip.rng is rng


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(p=1.5), ValueError),
        (dict(seed=1, rng=np.random.default_rng()), TypeError),
        (dict(generator=Generator(1), seed=1), TypeError),
        (dict(generator=3), TypeError),
        (dict(p="0.5"), TypeError),
        (dict(layout="NCHW"), ValueError),
    ],
)
def test_flip_errors(kwargs, exc):
    with pytest.raises(exc):
        RandomHorizontalFlip(**kwargs)


# --------------------------------------------------------------- RandomCrop
def test_crop_full_size_without_padding_is_identity():
    out = RandomCrop((2, 3), generator=Generator(0))(IMG_HWC)
    np.testing.assert_array_equal(out, IMG_HWC)


def test_crop_padded_full_size_is_exact_zero_pad():
    img = np.ones((2, 2), dtype=np.float32)
    out = RandomCrop(4, padding=1, generator=Generator(0))(img)
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[1:3, 1:3] = 1
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("layout", ["HWC", "CHW"])
def test_crop_window_follows_the_seeded_generator(layout):
    rng_img = np.random.default_rng(0)
    img = rng_img.integers(0, 255, size=(5, 6, 3) if layout == "HWC" else (3, 5, 6)).astype(
        np.uint8
    )
    crop = RandomCrop((3, 2), padding=1, layout=layout, generator=Generator(11))
    ref = np.random.default_rng(11)
    for _ in range(10):
        out = crop(img)
        top, left = int(ref.integers(0, 5 + 2 - 3 + 1)), int(ref.integers(0, 6 + 2 - 2 + 1))
        if layout == "HWC":
            padded = np.pad(img, ((1, 1), (1, 1), (0, 0)))
            expected = padded[top : top + 3, left : left + 2, :]
        else:
            padded = np.pad(img, ((0, 0), (1, 1), (1, 1)))
            expected = padded[:, top : top + 3, left : left + 2]
        np.testing.assert_array_equal(out, expected)


def test_crop_tensor_in_tensor_out():
    t = Tensor(np.ones((3, 4, 4), dtype=np.float32))
    out = RandomCrop(2, generator=Generator(0))(t)
    assert isinstance(out, Tensor) and out.shape == (3, 2, 2)


@pytest.mark.parametrize(
    "kwargs, img, match",
    [
        (
            dict(size=5),
            np.zeros((4, 4)),
            r"crop size \(5, 5\) is larger than the padded image \(4, 4\)",
        ),
        (dict(size=0), None, "positive"),
        (dict(size=2, padding=-1), None, "padding"),
        (dict(size=(1, 2, 3)), None, "positive int or"),
    ],
)
def test_crop_errors(kwargs, img, match):
    with pytest.raises(ValueError, match=match):
        RandomCrop(**kwargs)(img)


# ------------------------------------------------------------------ Compose
def test_compose_applies_in_order():
    tf = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
    out = tf(np.array([[0, 255]], dtype=np.uint8))
    np.testing.assert_allclose(out.data, [[[-1.0, 1.0]]])
    assert Compose([lambda x: x + 1, lambda x: x * 2])(3) == 8
    assert "ToTensor" in repr(tf)


def test_compose_rejects_non_callables():
    with pytest.raises(TypeError, match="transform 1"):
        Compose([ToTensor(), 3])


def test_pipeline_on_cifar_like_image():
    tf = Compose(
        [
            RandomCrop(32, padding=4, generator=Generator(0)),
            RandomHorizontalFlip(generator=Generator(1)),
            ToTensor(),
            Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        ]
    )
    img = np.full((32, 32, 3), 255, dtype=np.uint8)
    out = tf(img)
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    # pixels are either padding (0 -> -2) or image (1 -> 2)
    assert set(np.unique(out.data).tolist()) <= {-2.0, 2.0}
