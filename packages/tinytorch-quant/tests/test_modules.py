"""Quantized layers and the three model transformations: exact integer
arithmetic, accuracy, real sizes, save/load, bad input."""

import os

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.quant import (
    QuantizedConv2d,
    QuantizedEmbedding,
    QuantizedLinear,
    WeightOnlyLinear,
    exact_float_dtype,
    int_matmul,
    model_size_bytes,
    pack_groups,
    quantize_dynamic,
    quantize_static,
    quantize_weights,
    unpack_groups,
)
from tinytorch.quant import _kernels as K
from tinytorch.tensor import Tensor, manual_seed

RNG = np.random.default_rng(0)


def mlp():
    manual_seed(0)
    return nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 10))


def cnn():
    manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 16, 10))


def x_mlp(n=32):
    return Tensor(RNG.normal(size=(n, 64)).astype(np.float32))


def x_img(n=8):
    return Tensor(RNG.normal(size=(n, 1, 8, 8)).astype(np.float32))


# ---------------------------------------------------------- exact integers

@pytest.mark.parametrize("k", [1, 64, 514, 515, 2000])
def test_int_matmul_equals_the_int32_reference_at_the_extremes(k):
    # The worst case of the bound: every product is +-255 * 128.
    a = np.where(RNG.random((7, k)) < 0.9, 255, -255).astype(np.float32)
    w = np.where(RNG.random((5, k)) < 0.9, -128, 127).astype(np.int8)
    ref = a.astype(np.int32) @ w.astype(np.int32).T
    assert np.array_equal(int_matmul(a, w), ref)
    assert exact_float_dtype(k) is (np.float32 if k <= 514 else np.float64)


def test_quantized_linear_integer_part_equals_int32_reference():
    lin = mlp()[0]
    q = QuantizedLinear.from_float(lin)
    x = x_mlp()
    s, zp = K.dynamic_qparams(x.data, per_row=True)  # one scale per row: (32, 1)
    assert s.shape == (32, 1)
    xc = K.quantize_activation(x.data, s, zp)
    acc = int_matmul(xc, q.weight_int8.data)
    ref = xc.astype(np.int32) @ q.weight_int8.data.astype(np.int32).T
    assert np.array_equal(acc, ref)
    expected = ref.astype(np.float32) * (s * q.weight_scale.data) + q.bias.data
    assert np.array_equal(q(x).data, expected.astype(np.float32))


def test_quantized_conv_integer_part_equals_int32_reference():
    conv = cnn()[0]
    q = QuantizedConv2d.from_float(conv)
    x = x_img()
    s, zp = K.dynamic_qparams(x.data)
    xc = K.quantize_activation(x.data, s, zp).astype(np.int32)
    xp = np.pad(xc, ((0, 0), (0, 0), (1, 1), (1, 1)))
    w = q.weight_int8.data.astype(np.int32)
    ref = np.zeros((8, 8, 8, 8), np.int32)  # direct convolution in int32
    for i in range(3):
        for j in range(3):
            ref += np.einsum("nchw,oc->nohw", xp[:, :, i:i + 8, j:j + 8], w[:, :, i, j])
    expected = ref.astype(np.float32) * (s * q.weight_scale.data)[None, :, None, None]
    expected += q.bias.data[None, :, None, None]
    assert np.array_equal(q(x).data, expected)


def test_only_integer_weights_and_scales_are_stored():
    q = QuantizedLinear.from_float(mlp()[0])
    state = q.state_dict()
    assert set(state) == {"weight_int8", "weight_scale", "bias"}
    assert state["weight_int8"].dtype == np.int8 and state["weight_scale"].shape == (96,)
    assert list(q.parameters()) == []


# ------------------------------------------------------------- accuracy

@pytest.mark.parametrize("make,x", [(mlp, x_mlp), (cnn, x_img)])
@pytest.mark.parametrize("how", ["dynamic", "static", "int8w", "int4w"])
def test_quantized_models_track_the_float_model(make, x, how):
    model, xs = make(), x()
    if how == "dynamic":
        q = quantize_dynamic(model)
    elif how == "static":
        q = quantize_static(model, [x() for _ in range(4)])
    else:
        if make is cnn:
            pytest.skip("weight-only quantization covers Linear and Embedding")
        q = quantize_weights(model, bits=4 if how == "int4w" else 8, group_size=32)
    ref, out = model(xs).data, q(xs).data
    tol = 0.25 if how == "int4w" else 0.05
    assert np.abs(out - ref).max() < tol * np.abs(ref).max()
    assert not np.array_equal(out, ref)


def test_transformations_leave_the_original_untouched():
    model = mlp()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    for q in (quantize_dynamic(model), quantize_static(model, [x_mlp()]),
              quantize_weights(model)):
        assert q is not model
    assert all(type(m) is not QuantizedLinear for m in model.modules())
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_quantized_embedding_rows():
    manual_seed(0)
    emb = nn.Embedding(20, 16)
    q = QuantizedEmbedding.from_float(emb)
    ids = np.array([[0, 5, 19], [3, 3, 7]])
    out = q(Tensor(ids)).data
    assert out.shape == (2, 3, 16)
    step = q.weight_scale.data[ids][..., None]
    assert np.all(np.abs(out - emb.weight.data[ids]) <= step / 2 + 1e-7)
    with pytest.raises(IndexError, match=r"\[0, 19\]"):
        q(Tensor(np.array([20])))


# ------------------------------------------------------ Q4_0-like packing

@pytest.mark.parametrize("bits,k,gs", [(4, 64, 32), (4, 70, 32), (8, 64, 32), (4, 10, 10)])
def test_pack_unpack_groups(bits, k, gs):
    w = RNG.normal(size=(6, k)).astype(np.float32)
    codes, scales = pack_groups(w, bits, gs)
    g = -(-k // gs)
    assert scales.dtype == np.float16 and scales.shape == (6, g)
    assert codes.shape == (6, g * gs // (2 if bits == 4 else 1))
    back = unpack_groups(codes, scales, bits, gs, k)
    step = np.repeat(np.abs(scales.astype(np.float32)), gs, axis=1)[:, :k]
    err, slack = np.abs(back - w), 1e-3 * np.abs(w) + 1e-6  # float16 scale rounding
    # Half a step of rounding, except (4 bits) where Q4_0's asymmetric grid
    # [-8, 7] * d clamps the side opposite the largest value: at most a step.
    clamped = np.abs(back - 7 * np.repeat(scales.astype(np.float32), gs, axis=1)[:, :k]) == 0
    ok = np.where(clamped & (bits == 4), err <= step + slack, err <= step / 2 + slack)
    assert np.all(ok)


def test_four_bit_codes_pack_two_per_byte_low_nibble_first():
    w = np.zeros((1, 32), np.float32)
    w[0, 0], w[0, 16], w[0, 1] = -8.0, 4.0, 1.0  # d = -8 / -8 = 1
    codes, scales = pack_groups(w, 4, 32)
    assert scales[0, 0] == 1.0
    # code = round(x / d) + 8: x=-8 -> 0 (low nibble), x=4 -> 12 (high nibble)
    assert codes[0, 0] == 0 | (12 << 4)
    assert codes[0, 1] == 9 | (8 << 4)


# ------------------------------------------------------------ sizes, files

def test_model_size_bytes_counts_everything_stored():
    model = mlp()
    q = quantize_dynamic(model)
    expected = sum(
        m.weight_int8.data.nbytes + m.weight_scale.data.nbytes + m.bias.data.nbytes
        for m in q.modules() if isinstance(m, QuantizedLinear))
    assert model_size_bytes(q) == expected
    assert model_size_bytes(model) == 4 * (64 * 96 + 96 + 96 * 10 + 10)
    s = quantize_static(model, [x_mlp()])
    assert model_size_bytes(s) == expected + 2 * (4 + 4)  # input scale and zero point
    w4 = quantize_weights(model, bits=4, group_size=32)
    assert model_size_bytes(w4) == (96 * 32 + 96 * 2 * 2 + 96 * 4) + (10 * 48 + 10 * 3 * 2 + 40)


@pytest.mark.parametrize("how", ["dynamic", "static", "int4", "int8 per-channel", "W4A4"])
def test_save_load_is_bit_identical_and_the_file_is_that_small(tmp_path, how):
    from tinytorch.quant import convert, prepare_qat
    model, x = mlp(), x_mlp()
    make = {"dynamic": lambda m: quantize_dynamic(m),
            "static": lambda m: quantize_static(m, [x]),
            "int4": lambda m: quantize_weights(m, bits=4),
            "int8 per-channel": lambda m: quantize_weights(m, bits=8, group_size=None),
            "W4A4": lambda m: convert(prepare_qat(m, bits=4, activation_bits=4,
                                                  calibration_data=[x])).eval()}[how]
    q = make(model)
    path = tmp_path / "q.npz"
    q.save(path)
    n_arrays = len(q.state_dict())
    # .npz: each array adds a .npy header (128 bytes) and zip records (~200 bytes)
    assert os.path.getsize(path) <= model_size_bytes(q) + 400 * n_arrays
    manual_seed(1)
    other = make(nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 10)))
    assert not np.array_equal(other(x).data, q(x).data)
    other.load(path)
    assert np.array_equal(other(x).data, q(x).data)


def test_loading_a_quantized_file_into_a_float_model_and_back_is_a_clear_error(tmp_path):
    model = mlp()
    q = quantize_dynamic(model)
    qpath, fpath = tmp_path / "q.npz", tmp_path / "f.npz"
    q.save(qpath)
    model.save(fpath)
    with pytest.raises(nn.StateDictError, match="unexpected keys.*weight_int8"):
        mlp().load(qpath)
    with pytest.raises(nn.StateDictError, match="missing keys.*weight_int8"):
        quantize_dynamic(mlp()).load(fpath)
    with pytest.raises(nn.StateDictError, match="shape mismatches"):
        quantize_weights(mlp(), bits=4).load(
            _saved(quantize_weights(mlp(), bits=8), tmp_path / "w8.npz"))


def _saved(model, path):
    model.save(path)
    return path


# ------------------------------------------------------------- bad input

def test_bad_inputs_of_the_transformations():
    model = mlp()
    with pytest.raises(ValueError, match="nothing to quantize"):
        quantize_dynamic(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="nothing to quantize"):
        quantize_static(nn.Sequential(nn.ReLU()), [x_mlp()])
    with pytest.raises(ValueError, match="empty"):
        quantize_static(model, [])
    with pytest.raises(ValueError, match="batch 0 of shape .* does not fit"):
        quantize_static(model, [Tensor(np.zeros((4, 63), np.float32))])
    with pytest.raises(ValueError, match="batch 1 has shape"):
        quantize_static(model, [x_mlp(), Tensor(np.zeros((4, 65), np.float32))])
    with pytest.raises(TypeError, match="iterable of batches"):
        quantize_static(model, x_mlp())
    with pytest.raises(ValueError, match="observer"):
        quantize_static(model, [x_mlp()], observer="max")
    for bits in (2, 3, 16, True):
        with pytest.raises(ValueError, match="bits must be 4 or 8"):
            quantize_weights(model, bits=bits)
    with pytest.raises(ValueError, match="group_size"):
        quantize_weights(model, bits=4, group_size=7)
    with pytest.raises(TypeError, match="Module"):
        quantize_dynamic(object())
    with pytest.raises(TypeError, match="Module"):
        model_size_bytes([1, 2])


def test_bad_inputs_of_the_layers():
    q = quantize_dynamic(mlp())
    with pytest.raises(ValueError, match="expected 64 input features"):
        q(Tensor(np.zeros((2, 63), np.float32)))
    with pytest.raises(TypeError, match="Tensor"):
        q(np.zeros((2, 64), np.float32))
    qc = quantize_dynamic(cnn())
    with pytest.raises(ValueError, match="4-D"):
        qc(Tensor(np.zeros((1, 8, 8), np.float32)))
    w = WeightOnlyLinear.from_float(mlp()[0])
    with pytest.raises(ValueError, match="expected 64"):
        w(Tensor(np.zeros((2, 3), np.float32)))


def test_float_architecture_names_the_float_layer_and_its_shapes():
    model = cnn()
    float_specs = {
        n: (f"{type(m).__module__}.{type(m).__qualname__}",
            [[k, list(p.shape), "float32"] for k, p in m.named_parameters()])
        for n, m in model.named_modules() if type(m) in (nn.Linear, nn.Conv2d)}
    for q in (quantize_dynamic(model), quantize_static(model, [x_img()])):
        got = {n: (m.float_architecture()["type"], m.float_architecture()["parameters"])
               for n, m in q.named_modules() if hasattr(m, "float_architecture")}
        assert got == float_specs
    w = quantize_weights(mlp(), bits=4)
    assert w[0].float_architecture()["parameters"] == [["weight", [96, 64], "float32"],
                                                       ["bias", [96], "float32"]]
    e = QuantizedEmbedding.from_float(nn.Embedding(5, 3))
    assert e.float_architecture()["type"].endswith(".Embedding")


@pytest.mark.parametrize("tile", [1, 100, 1024, None])
def test_weight_tiles_give_bit_identical_outputs(tile):
    model, x = cnn(), x_img(16)
    ref = quantize_static(model, [x])(x).data
    q = quantize_static(model, [x], weight_tile=tile)
    assert all(m.weight_tile == tile for m in q.modules()
               if isinstance(m, (QuantizedLinear, QuantizedConv2d)))
    assert np.array_equal(q(x).data, ref)


def test_inference_max_pool_equals_max_pool():
    from tinytorch.quant import InferenceMaxPool2d
    x = x_img(4)
    for pool in (nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2, padding=1)):
        assert np.array_equal(InferenceMaxPool2d.from_float(pool)(x).data, pool(x).data)
    q = quantize_static(cnn(), [x], inference_pooling=True)
    assert any(isinstance(m, InferenceMaxPool2d) for m in q.modules())
    assert np.array_equal(q(x).data, quantize_static(cnn(), [x])(x).data)
    with pytest.raises(ValueError, match="weight_tile"):
        quantize_static(cnn(), [x], weight_tile=0)


@pytest.mark.parametrize("k,gs,rows", [(24, 8, 1), (30, 8, 2), (128, 32, 1), (5, 4, 1)])
def test_weight_only_int8_few_rows_kernel_matches_the_unpacked_gemm(k, gs, rows):
    """Few rows of 8-bit codes take the per-group kernel (no scaled weight
    copy); it equals the input times the dequantized weights, padding included."""
    rng = np.random.default_rng(k)
    w = rng.standard_normal((11, k)).astype(np.float32)
    x = rng.standard_normal((rows, k)).astype(np.float32)
    codes, scales = K.pack_groups(w, 8, gs)
    assert rows * scales.shape[1] <= k  # the few-rows branch
    ref = x.astype(np.float64) @ K.unpack_groups(codes, scales, 8, gs, k).T.astype(np.float64)
    y = K._wo_linear_fwd(x, codes, scales, bits=8, group_size=gs, in_features=k)
    assert y.shape == (rows, 11) and y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,rows", [(24, 1), (24, 40), (7, 3)])
def test_weight_only_int8_per_channel_is_the_codes_gemm_times_the_row_scale(k, rows):
    """One 8-bit group per row (``group_size=None``): y = (x @ q.T) * d + b, the
    codes widened into the workspace; equal to the dequantized GEMM up to
    float32 rounding, and stored as int8 codes plus one float16 scale per row."""
    rng = np.random.default_rng(k)
    lin = nn.Linear(k, 9)
    model = nn.Sequential(lin)
    q = quantize_weights(model, bits=8, group_size=None)[0]
    gs = k + k % 2
    assert q.group_size == gs and q.weight_scale.shape == (9, 1)
    assert q.weight_codes.dtype == np.int8 and q.weight_codes.shape == (9, gs)
    x = rng.standard_normal((rows, k)).astype(np.float32)
    codes, scales = q.weight_codes.data, q.weight_scale.data
    ref = (x.astype(np.float64) @ codes[:, :k].astype(np.float64).T) * scales[:, 0]
    ref += lin.bias.data
    np.testing.assert_allclose(q(Tensor(x)).data, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(q(Tensor(x)).data, lin(Tensor(x)).data, atol=0.05)


def test_a_weight_only_layer_sees_replaced_and_reloaded_buffers():
    a = WeightOnlyLinear.from_float(nn.Linear(16, 6), bits=8, group_size=16)
    b = WeightOnlyLinear.from_float(nn.Linear(16, 6), bits=8, group_size=16)
    x = RNG.normal(size=(3, 16)).astype(np.float32)
    for name in ("weight_codes", "weight_scale", "bias"):
        setattr(a, name, getattr(b, name).data.copy())
    np.testing.assert_array_equal(a.forward_rows(x), b.forward_rows(x))
    c = WeightOnlyLinear.from_float(nn.Linear(16, 6), bits=8, group_size=16)
    a.load_state_dict(c.state_dict())
    np.testing.assert_array_equal(a(Tensor(x)).data, c(Tensor(x)).data)
