"""Teaching kernels: where the time of an op goes, measured.

Three lessons, each a pair (or a family) of functions that compute the same
thing, timed with :class:`tinytorch.perf.Profiler` by :func:`measure_kernels`:

1. **Vectorize.** :func:`loop_matmul` is the textbook triple loop, one Python
   multiply-add per step: ``n^3`` interpreter round trips. :func:`vectorized_matmul`
   hands the whole product to BLAS (one call, SIMD, every core's caches).
2. **Block for the cache.** :func:`tiled_matmul` walks ``tile x tile`` blocks
   so each block of ``a`` and ``b`` is reused while it sits in cache. BLAS
   already does this inside (and better); in NumPy each block is one more
   Python-level call, so small tiles lose to overhead and large tiles
   converge to the vectorized time. The lesson is the shape of that curve.
3. **Fuse.** :func:`unfused_gelu` writes the tanh GELU as separate NumPy
   expressions: every step reads and writes a whole temporary array.
   :func:`fused_gelu` runs the same formula in place in one buffer (the
   memory traffic of the unfused form without its allocations).

These are for teaching: the library's own ops already use the fast forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from tinytorch.perf import Profiler

__all__ = ["loop_matmul", "vectorized_matmul", "tiled_matmul", "unfused_gelu", "fused_gelu",
           "measure_kernels", "plot_kernels"]

_C = math.sqrt(2.0 / math.pi)
_A = 0.044715


def _matrices(a, b, where: str) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{where}: expects 2-D matrices, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"{where}: inner sizes differ: {a.shape} @ {b.shape}")
    return a, b


def loop_matmul(a, b) -> np.ndarray:
    """``a @ b`` with three Python loops, one multiply-add per step.

    Shapes ``(m, k) @ (k, n) -> (m, n)``, dtype of ``a @ b``. O(m n k) Python
    operations: about a microsecond each, 1000x slower than BLAS.

    Raises:
        ValueError: not 2-D, or ``a.shape[1] != b.shape[0]``.
    """
    a, b = _matrices(a, b, "loop_matmul")
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=np.result_type(a, b))
    al, bl = a.tolist(), b.tolist()  # Python floats: the loop's honest cost
    for i in range(m):
        row = al[i]
        for j in range(n):
            acc = 0.0
            for p in range(k):
                acc += row[p] * bl[p][j]
            out[i, j] = acc
    return out


def vectorized_matmul(a, b) -> np.ndarray:
    """``a @ b`` in one BLAS call: ``(m, k) @ (k, n) -> (m, n)``, O(m n k) flops.

    Raises:
        ValueError: not 2-D, or ``a.shape[1] != b.shape[0]``.
    """
    a, b = _matrices(a, b, "vectorized_matmul")
    return np.matmul(a, b)


def tiled_matmul(a, b, tile: int) -> np.ndarray:
    """``a @ b`` computed block by block: ``C[I, J] += A[I, P] @ B[P, J]`` for
    ``tile x tile`` blocks ``I``, ``J``, ``P`` (edge blocks are smaller).

    Same flops as :func:`vectorized_matmul`, plus one NumPy call per block
    triple: ``ceil(m/t) * ceil(n/t) * ceil(k/t)`` calls. Sums over ``k`` in
    another order than one GEMM, so results agree to float rounding.

    Raises:
        TypeError: ``tile`` is not an int. ValueError: ``tile < 1``, or bad shapes.
    """
    if isinstance(tile, bool) or not isinstance(tile, int):
        raise TypeError(f"tiled_matmul: tile must be an int, got {type(tile).__name__}")
    if tile < 1:
        raise ValueError(f"tiled_matmul: tile must be >= 1, got {tile}")
    a, b = _matrices(a, b, "tiled_matmul")
    m, k = a.shape
    n = b.shape[1]
    out = np.zeros((m, n), dtype=np.result_type(a, b))
    scratch = np.empty((tile, tile), dtype=out.dtype)
    for i in range(0, m, tile):
        for j in range(0, n, tile):
            block = out[i:i + tile, j:j + tile]  # stays in cache across the p loop
            part = scratch[:block.shape[0], :block.shape[1]]
            for p in range(0, k, tile):
                np.matmul(a[i:i + tile, p:p + tile], b[p:p + tile, j:j + tile], out=part)
                block += part
    return out


def _float_array(x, where: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: expects a floating-point array, got dtype {x.dtype}")
    return x


def unfused_gelu(x) -> np.ndarray:
    """The tanh GELU ``0.5 x (1 + tanh(c (x + a x^3)))`` as plain NumPy
    expressions: nine NumPy operations, each allocating a temporary.

    Raises:
        TypeError: ``x`` is not floating point.
    """
    x = _float_array(x, "unfused_gelu")
    dt = x.dtype.type
    return dt(0.5) * x * (dt(1.0) + np.tanh(dt(_C) * (x + dt(_A) * x * x * x)))


def fused_gelu(x, out: np.ndarray | None = None) -> np.ndarray:
    """The same tanh GELU in one buffer: every step writes in place into
    ``out`` (allocated once if not given). Same operations, no temporaries.

    Args:
        x: floating-point array.
        out: optional preallocated result of ``x``'s shape and dtype.

    Raises:
        TypeError: ``x`` is not floating point. ValueError: ``out`` has
            another shape or dtype.
    """
    x = _float_array(x, "fused_gelu")
    if out is None:
        out = np.empty_like(x)
    elif out.shape != x.shape or out.dtype != x.dtype:
        raise ValueError(f"fused_gelu: out must be {x.shape} {x.dtype}, "
                         f"got {out.shape} {out.dtype}")
    dt = x.dtype.type
    np.multiply(x, x, out=out)  # x^2
    out *= dt(_A)
    out *= x  # a x^3
    out += x
    out *= dt(_C)
    np.tanh(out, out=out)
    out += dt(1.0)
    out *= x
    out *= dt(0.5)
    return out


def _median_seconds(profiler: Profiler, fn: Callable[[], object], iterations: int) -> float:
    return float(np.median(profiler.time_calls(lambda i: fn(), warmup=1,
                                               iterations=iterations)))


def measure_kernels(matmul_size: int = 64, tiles=(8, 16, 32, 64), gelu_size: int = 1 << 20,
                    loop_size: int = 32, iterations: int = 5, profiler: Profiler | None = None,
                    seed: int = 0) -> list[dict]:
    """Time every teaching kernel with ``profiler.time_calls``; median seconds.

    The loop matmul runs on ``loop_size`` (a smaller problem, it is slow) and
    its time is also given scaled by ``(matmul_size / loop_size)^3`` to the
    size of the others.

    Returns:
        a list of rows ``{"kernel", "size", "seconds"}`` (plus ``"note"``).

    Raises:
        ValueError: a size or iteration count < 1.
    """
    for name, v in (("matmul_size", matmul_size), ("gelu_size", gelu_size),
                    ("loop_size", loop_size), ("iterations", iterations)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"measure_kernels: {name} must be an int >= 1, got {v!r}")
    profiler = profiler or Profiler()
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((matmul_size, matmul_size)).astype(np.float32)
    b = rng.standard_normal((matmul_size, matmul_size)).astype(np.float32)
    sa, sb = a[:loop_size, :loop_size], b[:loop_size, :loop_size]
    x = rng.standard_normal(gelu_size).astype(np.float32)
    buf = np.empty_like(x)
    loop = _median_seconds(profiler, lambda: loop_matmul(sa, sb), max(1, iterations // 2))
    rows = [{"kernel": "loop_matmul", "size": loop_size, "seconds": loop},
            {"kernel": "loop_matmul (scaled)", "size": matmul_size,
             "seconds": loop * (matmul_size / loop_size) ** 3,
             "note": f"measured at {loop_size}, times (n/{loop_size})^3"},
            {"kernel": "vectorized_matmul", "size": matmul_size,
             "seconds": _median_seconds(profiler, lambda: vectorized_matmul(a, b), iterations)}]
    for t in tiles:
        rows.append({"kernel": f"tiled_matmul(tile={t})", "size": matmul_size,
                     "seconds": _median_seconds(profiler, lambda t=t: tiled_matmul(a, b, t),
                                                iterations)})
    rows.append({"kernel": "unfused_gelu", "size": gelu_size,
                 "seconds": _median_seconds(profiler, lambda: unfused_gelu(x), iterations)})
    rows.append({"kernel": "fused_gelu", "size": gelu_size,
                 "seconds": _median_seconds(profiler, lambda: fused_gelu(x, buf), iterations)})
    return rows


def plot_kernels(rows: list[dict], path) -> str:
    """Save a bar chart of :func:`measure_kernels` rows (log time) to ``path``,
    atomically. Needs matplotlib (``pip install 'tinytorch-accel[plot]'``).

    Raises:
        ImportError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plot_kernels needs matplotlib: pip install 'tinytorch-accel[plot]'"
                          ) from None
    from tinytorch.tensor import atomic_write

    fig, ax = plt.subplots(figsize=(8, 4))
    labels = [f"{r['kernel']}\nn={r['size']}" for r in rows]
    ax.barh(labels, [r["seconds"] * 1e3 for r in rows])
    ax.set_xscale("log")
    ax.set_xlabel("median time per call (ms, log scale)")
    ax.invert_yaxis()
    fig.tight_layout()
    fmt = str(path).rsplit(".", 1)[-1] if "." in str(path) else "png"
    written = atomic_write(path, lambda f: fig.savefig(f, format=fmt))
    plt.close(fig)
    return written
