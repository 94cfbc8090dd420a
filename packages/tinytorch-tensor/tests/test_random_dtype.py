"""randn / rand draw in the requested dtype: a float32 request never
allocates a float64 array first."""

import tracemalloc

import numpy as np
import pytest

from tinytorch.tensor import Generator, rand, randn


@pytest.mark.parametrize("fn", [randn, rand])
def test_float32_draw_peaks_at_the_result_size(fn):
    shape = (1000, 1000)  # 4 MB in float32; a float64 temporary would add 8 MB
    fn(8, 8)  # warm caches outside the measurement
    tracemalloc.start()
    try:
        t = fn(*shape, generator=Generator(0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert t.dtype == np.float32
    assert peak < 1.5 * t.data.nbytes, peak


@pytest.mark.parametrize("fn", [randn, rand])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtypes_and_seeding(fn, dtype):
    a = fn(3, 4, dtype=dtype, generator=Generator(7))
    b = fn(3, 4, dtype=dtype, generator=Generator(7))
    assert a.dtype == dtype and a.shape == (3, 4)
    np.testing.assert_array_equal(a.data, b.data)


def test_float32_normal_statistics():
    x = randn(200_000, generator=Generator(1)).data
    assert abs(x.mean()) < 0.01 and abs(x.std() - 1.0) < 0.01
