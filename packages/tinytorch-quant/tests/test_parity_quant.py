"""Bit-for-bit parity with torch.quantize_per_tensor / quantize_per_channel,
ties included, and the straight-through gradient of torch's fake quantize."""

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tinytorch.quant import fake_quantize, quantize_per_channel, quantize_per_tensor  # noqa: E402
from tinytorch.tensor import Tensor  # noqa: E402

warnings.filterwarnings("ignore", message=".*quantized tensor creation.*")
TORCH_DTYPE = {"int8": torch.qint8, "uint8": torch.quint8}


def adversarial(scale: float, n: int, seed: int) -> np.ndarray:
    """Values whose x * (1/scale) lands on or next to a half-integer: the
    float32 ties where one rounding (fma) and two roundings disagree."""
    rng = np.random.default_rng(seed)
    inv = np.float32(1.0) / np.float32(scale)
    x = ((rng.integers(-140, 140, n) + 0.5) / np.float64(inv)).astype(np.float32)
    up, down = np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf))
    noise = (rng.normal(size=n) * scale * 80).astype(np.float32)
    return np.concatenate([x, up, down, noise, [0.0, -0.0]]).astype(np.float32)


CASES = [(s, zp, dt) for s in (0.1, 0.037, 0.3, 0.0173, 1 / 3, 0.00214854861, 2.5)
         for dt, zps in (("int8", (0, 3, -5, 100)), ("uint8", (0, 103, 255)))
         for zp in zps]


@pytest.mark.parametrize("scale,zp,dtype", CASES)
def test_quantize_per_tensor_matches_torch_bit_for_bit(scale, zp, dtype):
    x = adversarial(scale, 3000, seed=int(scale * 1000) + zp + 10)
    for part in (x, x[:7], x[:13]):  # vector body and scalar tail of torch's kernel
        ours = quantize_per_tensor(part, scale, zp, dtype).int_repr()
        ref = torch.quantize_per_tensor(torch.from_numpy(part), scale, zp,
                                        TORCH_DTYPE[dtype]).int_repr().numpy()
        assert np.array_equal(ours, ref), np.flatnonzero(ours != ref)[:5]


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
@pytest.mark.parametrize("shape,axis", [((4, 900), 0), ((900, 4), 1), ((3, 4, 300), 1),
                                        ((2, 3, 5, 120), -1)])
def test_quantize_per_channel_matches_torch_bit_for_bit(dtype, shape, axis):
    n = shape[axis]
    rng = np.random.default_rng(n)
    scales = rng.choice([0.1, 0.037, 0.3, 0.0173, 0.25], n)
    zps = rng.integers(-5, 100, n) if dtype == "int8" else rng.integers(0, 255, n)
    # each channel's values sit on, or one float32 ulp off, its own ties
    shape_last = tuple(d for i, d in enumerate(shape) if i != axis % len(shape)) + (n,)
    inv = np.float32(1.0) / scales.astype(np.float32)
    x = ((rng.integers(-140, 140, shape_last) + 0.5) / inv.astype(np.float64)).astype(np.float32)
    pick = rng.integers(0, 4, shape_last)
    x = np.select([pick == 1, pick == 2, pick == 3],
                  [np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf)),
                   (rng.normal(size=shape_last) * 20 * scales).astype(np.float32)], x)
    x = np.ascontiguousarray(np.moveaxis(x.astype(np.float32), -1, axis))
    ours = quantize_per_channel(x, scales, zps, axis, dtype).int_repr()
    ref = torch.quantize_per_channel(torch.from_numpy(x), torch.tensor(scales),
                                     torch.tensor(zps), axis % x.ndim,
                                     TORCH_DTYPE[dtype]).int_repr().numpy()
    assert np.array_equal(ours, ref), np.flatnonzero(ours != ref)[:5]


def test_dequantize_matches_torch():
    x = adversarial(0.037, 500, 0)
    ours = quantize_per_tensor(x, 0.037, 4, "uint8").dequantize().data
    ref = torch.quantize_per_tensor(torch.from_numpy(x), 0.037, 4, torch.quint8).dequantize()
    assert np.array_equal(ours, ref.numpy())


def test_fake_quantize_value_and_straight_through_gradient_match_torch():
    x = np.random.default_rng(0).normal(size=1000).astype(np.float32) * 3
    t = torch.from_numpy(x).requires_grad_(True)
    ref = torch.fake_quantize_per_tensor_affine(t, 0.05, 0, -128, 127)
    g = np.random.default_rng(1).normal(size=1000).astype(np.float32)
    ref.backward(torch.from_numpy(g))
    ours_x = Tensor(x, requires_grad=True)
    ours = fake_quantize(ours_x, 0.05, 0, -128, 127)
    (ours * Tensor(g)).sum().backward()
    assert np.allclose(ours.data, ref.detach().numpy(), atol=1e-6)
    assert np.array_equal(ours_x.grad, t.grad.numpy())
