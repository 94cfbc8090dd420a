"""Teaching kernels: same results as the reference, clear errors, measured rows."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.accel.kernels import (
    fused_gelu,
    loop_matmul,
    measure_kernels,
    plot_kernels,
    tiled_matmul,
    unfused_gelu,
    vectorized_matmul,
)
from tinytorch.tensor import gelu, wrap

RNG = np.random.default_rng(0)
A = RNG.standard_normal((13, 7)).astype(np.float32)
B = RNG.standard_normal((7, 9)).astype(np.float32)


@pytest.mark.parametrize("fn", [loop_matmul, vectorized_matmul,
                                 lambda a, b: tiled_matmul(a, b, 1),
                                 lambda a, b: tiled_matmul(a, b, 4),
                                 lambda a, b: tiled_matmul(a, b, 64)],
                         ids=["loop", "vectorized", "tile1", "tile4", "tile64"])
def test_matmuls_agree_with_numpy(fn):
    want = A.astype(np.float64) @ B.astype(np.float64)
    np.testing.assert_allclose(fn(A, B), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("call,error,match", [
    (lambda: loop_matmul(A, A), ValueError, "inner sizes"),
    (lambda: vectorized_matmul(A[0], B), ValueError, "2-D"),
    (lambda: tiled_matmul(A, B, 0), ValueError, "tile must be >= 1"),
    (lambda: tiled_matmul(A, B, 2.0), TypeError, "tile must be an int"),
    (lambda: fused_gelu(np.arange(3)), TypeError, "floating-point"),
    (lambda: fused_gelu(A, out=np.empty((2, 2), np.float32)), ValueError, "out must be"),
    (lambda: measure_kernels(matmul_size=0), ValueError, "matmul_size"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_gelu_matches_unfused_and_the_primitive(dtype):
    x = RNG.standard_normal((4, 33)).astype(dtype) * 3
    out = np.empty_like(x)
    got = fused_gelu(x, out)
    assert got is out
    np.testing.assert_allclose(got, unfused_gelu(x), rtol=1e-6 if dtype == np.float64 else 1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(got, gelu(wrap(x), approximate="tanh").numpy(), rtol=1e-5,
                               atol=1e-6)


def test_measure_kernels_rows():
    rows = measure_kernels(matmul_size=16, tiles=(4, 16), gelu_size=256, loop_size=8,
                           iterations=2)
    names = [r["kernel"] for r in rows]
    assert names == ["loop_matmul", "loop_matmul (scaled)", "vectorized_matmul",
                     "tiled_matmul(tile=4)", "tiled_matmul(tile=16)", "unfused_gelu",
                     "fused_gelu"]
    assert all(r["seconds"] > 0 for r in rows)
    assert rows[1]["seconds"] == pytest.approx(rows[0]["seconds"] * 8)


def test_plot_kernels_writes_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [{"kernel": "a", "size": 1, "seconds": 1e-3}, {"kernel": "b", "size": 1,
                                                          "seconds": 2e-3}]
    path = plot_kernels(rows, tmp_path / "k.png")
    assert (tmp_path / "k.png").read_bytes()[:4] == b"\x89PNG"
    assert str(path).endswith("k.png")
