"""Fused elementwise kernels, on two interchangeable backends.

The hot elementwise steps of training (the tanh GELU and its derivative,
the attention softmax and its backward, the Adam update) are written here
once, as *kernels* that make as few passes over memory and as few
full-size temporaries as the math allows. Each kernel has two
implementations that give the same results to float32 rounding:

* ``"numpy"`` (always available, the default): NumPy ufuncs with ``out=``,
  updating buffers in place. Each ufunc is one SIMD pass; with
  ``set_num_threads(n)``, a kernel over a large array (at least
  ``PARALLEL_MIN_SIZE`` elements) is split along its first axis into ``n``
  parts run on ``n`` threads at once (NumPy releases the GIL inside ufuncs).
* ``"numexpr"`` (optional: ``pip install tinytorch-tensor[fast]``): each
  arithmetic expression is compiled once by numexpr and evaluated in one
  pass over cache-sized blocks, on every core of its thread pool
  (``numexpr.set_num_threads``). Transcendental functions (``tanh``,
  ``exp``) still go to NumPy, whose SIMD versions are faster than
  numexpr's scalar ones.

Which one is faster depends on the machine: numexpr fuses the passes,
NumPy's ufuncs are vectorised more widely per core (AVX-512 where the CPU
has it, where numexpr's virtual machine runs one element at a time), so
NumPy is the default. The ``kernels`` workload of
``benchmarks/bench_train.py`` times the backend that ``TINYTORCH_KERNELS``
selects against PyTorch; run it once per backend to choose.

Choosing the backend and the threads::

    from tinytorch.tensor import kernels
    kernels.set_backend("numexpr")          # process-wide
    with kernels.use_backend("numpy"):      # for a block (tests run both paths)
        ...
    kernels.set_num_threads(2)              # both backends; default 1

or the environment variable ``TINYTORCH_KERNELS=numexpr`` read at import.
Both backends and every thread count give the same values to float32
rounding (a kernel is elementwise: splitting it changes no arithmetic).

Contract of every kernel: inputs are float ndarrays of one dtype (float32
or float64) and the result has that dtype; arrays documented as *updated
in place* are overwritten, every other input is left untouched.
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

try:  # optional: the "fast" extra
    import numexpr as _ne
except ImportError:  # pragma: no cover - depends on the environment
    _ne = None

__all__ = ["BACKENDS", "PARALLEL_MIN_SIZE", "available_backends", "get_backend", "set_backend",
           "use_backend", "get_num_threads", "set_num_threads", "gelu_tanh", "gelu_tanh_grad",
           "exp_sub_", "attention_softmax_", "scores_may_overflow", "softmax_grad_", "matmul",
           "set_blas_thread_control", "SMALL_GEMM", "adam_step_"]

BACKENDS = ("numpy", "numexpr")
GELU_C = math.sqrt(2.0 / math.pi)  # the tanh GELU's sqrt(2 / pi)
GELU_A = 0.044715  # and its cubic coefficient


def available_backends() -> tuple[str, ...]:
    """The backends usable in this environment (``"numpy"`` always)."""
    return BACKENDS if _ne is not None else ("numpy",)


def _check_backend(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"kernel backend must be a str, got {type(name).__name__}")
    if name not in BACKENDS:
        raise ValueError(f"unknown kernel backend {name!r}; choose one of {BACKENDS}")
    if name not in available_backends():
        raise ValueError(f"kernel backend {name!r} needs numexpr: "
                         "pip install 'tinytorch-tensor[fast]'")
    return name


_backend = "numpy"


def get_backend() -> str:
    """The backend in use: ``"numpy"`` or ``"numexpr"``."""
    return _backend


def set_backend(name: str) -> None:
    """Use ``name`` for every kernel from now on.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: an unknown backend, or ``"numexpr"`` without numexpr installed.
    """
    global _backend
    _backend = _check_backend(name)


@contextmanager
def use_backend(name: str):
    """``with use_backend("numexpr"): ...``: the backend for a block, restored after."""
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


PARALLEL_MIN_SIZE = 1 << 17  # elements; below it a thread hand-off costs more than it saves
_threads = 1
_pool: ThreadPoolExecutor | None = None


def get_num_threads() -> int:
    """How many threads a kernel may use (``set_num_threads``; default 1)."""
    return _threads


def set_num_threads(n: int) -> int:
    """Let kernels use ``n`` threads: the NumPy backend splits large arrays
    into ``n`` parts, the numexpr backend sizes numexpr's pool. Returns the
    previous count (to restore it).

    Raises:
        TypeError: ``n`` is not an int.
        ValueError: ``n < 1``.
    """
    global _threads, _pool
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    previous, _threads = _threads, int(n)
    if _pool is not None and previous != _threads:  # resized on next use
        _pool.shutdown(wait=True)
        _pool = None
    if _ne is not None:
        _ne.set_num_threads(_threads)
    return previous


def _forget_pool() -> None:
    # A forked child (a DataLoader worker) inherits the pool object but not
    # its threads: it must start its own on first use, or it would wait forever.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _run(body, main: np.ndarray, *arrays) -> None:
    """``body(*arrays)``, split into parts along axis 0 on the kernel threads.

    Arrays with ``main``'s number of dims and first-axis length are sliced
    together (row views, so in-place updates land in the originals); the
    others (broadcast operands, constants) are passed whole. Small arrays, 0-d arrays
    and one thread run ``body`` once on the caller's thread.
    """
    global _pool
    n = min(_threads, main.shape[0] if main.ndim else 1)
    if n < 2 or main.size < PARALLEL_MIN_SIZE:
        body(*arrays)
        return
    rows, nd = main.shape[0], main.ndim
    bounds = [rows * i // n for i in range(n + 1)]

    def part(i: int) -> None:
        sl = slice(bounds[i], bounds[i + 1])
        body(*[a[sl] if isinstance(a, np.ndarray) and a.ndim == nd and a.shape[0] == rows
               else a for a in arrays])

    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="tt-kernel")
    futures = [_pool.submit(part, i) for i in range(1, n)]
    part(0)  # the caller's thread does a share too
    for f in futures:
        f.result()  # re-raises a worker's exception here


# ------------------------------------------------------- batched matmul
#
# NumPy's matmul over a stack of matrices calls BLAS once per matrix, and a
# multi-threaded BLAS splits each small product over its threads: one
# hand-off per matrix (for attention, batch x heads of them), which costs
# more than the product when the matrices are small or a core is busy.
# Splitting the *stack* over the kernel threads instead, each running its
# matrices on one BLAS thread, pays one hand-off per call.

SMALL_GEMM = 1 << 21  # M*N*K of one matrix product at or below which the stack is split
_blas_control: tuple | None = None  # (get, set) of the BLAS thread count, when known


def set_blas_thread_control(get, set_) -> tuple | None:
    """Register how :func:`matmul` reads and sets the BLAS library's thread
    count: ``get() -> int`` and ``set_(n)``, or ``None, None`` to forget it.
    ``tinytorch.accel.threads`` registers threadpoolctl's. Returns the
    previous pair (or None), so that it can be restored.

    Raises:
        TypeError: only one of the two is None, or one is not callable.
    """
    global _blas_control
    if (get is None) != (set_ is None):
        raise TypeError("set_blas_thread_control: pass both get and set_, or both None")
    if get is not None and not (callable(get) and callable(set_)):
        raise TypeError(f"set_blas_thread_control: get and set_ must be callables, got "
                        f"{type(get).__name__} and {type(set_).__name__}")
    previous = _blas_control
    _blas_control = None if get is None else (get, set_)
    return previous


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` for stacks of small matrices ``(S, ..., M, K)
    @ (S, ..., K, N)``, split along the stack's first axis over the kernel
    threads when there are several, a BLAS thread control is registered,
    each product is small (``M*N*K <= SMALL_GEMM``), the first axis has at
    least two matrices per thread and ``a`` has ``PARALLEL_MIN_SIZE``
    elements. Each part runs on one BLAS thread (the
    BLAS count is restored after). Anything else is plain ``np.matmul``.
    Values are those of ``np.matmul``: each matrix is one GEMM either way.
    """
    n = _threads
    if (n < 2 or _blas_control is None or a.ndim < 3 or a.ndim != b.ndim
            or a.shape[0] != b.shape[0] or a.shape[0] < 2 * n or a.size < PARALLEL_MIN_SIZE
            or a.shape[-2] * a.shape[-1] * b.shape[-1] > SMALL_GEMM):
        return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
                       + (a.shape[-2], b.shape[-1]), dtype=np.result_type(a, b))
    with _one_blas_thread():
        _run(_matmul_part, a, a, b, out)
    return out


@contextmanager
def _one_blas_thread():
    """The BLAS library on one thread inside the block (restored after, also
    on an error); nothing happens without a registered control."""
    if _blas_control is None:
        yield
        return
    get, set_ = _blas_control
    blas_threads = get()
    if blas_threads > 1:
        set_(1)
    try:
        yield
    finally:
        if blas_threads > 1:
            set_(blas_threads)


def parts(items: int, work: int) -> list[tuple[int, int]]:
    """How :func:`split_work` would cut ``items`` (a batch of ``items``
    independent pieces of ``work`` elements in all): ``[(lo, hi), ...]``,
    one range per kernel thread, or ``[(0, items)]`` when splitting does not
    pay (one thread, no BLAS control registered, fewer than two items per
    thread, or less than ``PARALLEL_MIN_SIZE`` elements of work).

    Raises:
        TypeError / ValueError: ``items`` or ``work`` is not an int >= 0.
    """
    for name, value in (("items", items), ("work", work)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"parts: {name} must be an int, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"parts: {name} must be >= 0, got {value}")
    n = _threads
    if n < 2 or _blas_control is None or items < 2 * n or work < PARALLEL_MIN_SIZE:
        return [(0, items)]
    bounds = [items * i // n for i in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def split_work(fn, ranges: list[tuple[int, int]]) -> list:
    """``[fn(lo, hi) for lo, hi in ranges]``, the ranges run at once on the
    kernel threads (the caller's thread takes the first), each with one
    BLAS thread; one range runs on the caller's thread as it is. For work
    that NumPy does with the GIL released (copies, ufuncs, GEMMs) over
    independent parts of a batch (:func:`parts` chooses the ranges). An
    exception in any part is raised here.

    Raises:
        TypeError: ``fn`` is not callable. ValueError: ``ranges`` is empty.
    """
    if not callable(fn):
        raise TypeError(f"split_work: fn must be callable, got {type(fn).__name__}")
    if not ranges:
        raise ValueError("split_work: ranges is empty; pass at least one (lo, hi)")
    global _pool
    if len(ranges) == 1:
        return [fn(*ranges[0])]
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_threads - 1, thread_name_prefix="tt-kernel")
    with _one_blas_thread():
        futures = [_pool.submit(fn, lo, hi) for lo, hi in ranges[1:]]
        first = fn(*ranges[0])
        return [first] + [f.result() for f in futures]


def _matmul_part(a, b, out):
    np.matmul(a, b, out=out)


_env = os.environ.get("TINYTORCH_KERNELS")
if _env:
    set_backend(_env)  # a bad value fails loudly at import, naming the variable's value


def _as_float(x: np.ndarray) -> np.ndarray:
    # Integer or bool input computes in float64, as NumPy's promotion would.
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _ne_eval(expr: str, out: np.ndarray, **arrays) -> np.ndarray:
    # casting="same_kind" lets float64 constants evaluate into float32 out.
    return _ne.evaluate(expr, local_dict=arrays, out=out, casting="same_kind")


# ------------------------------------------------------------------ GELU
#
# y = 0.5 x (1 + t),  t = tanh(c (x + a x^3))
# dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2)


def _gelu_np(x, y, t):
    dt = x.dtype.type
    np.multiply(x, x, out=t)
    t *= dt(GELU_C * GELU_A)
    t += dt(GELU_C)
    t *= x
    np.tanh(t, out=t)
    np.add(t, dt(1.0), out=y)
    y *= x
    y *= dt(0.5)


def gelu_tanh(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tanh GELU: returns ``(y, t)``, ``t = tanh(c (x + a x^3))`` saved
    for :func:`gelu_tanh_grad`. Two new arrays of ``x``'s shape; 5 passes."""
    x = _as_float(x)
    dt = x.dtype.type
    y, t = np.empty_like(x), np.empty_like(x)  # arrays even for 0-d input
    if _backend == "numexpr":
        np.multiply(x, x, out=t)
        _ne_eval("x * (c + ca * t)", t, x=x, t=t, c=dt(GELU_C), ca=dt(GELU_C * GELU_A))
        np.tanh(t, out=t)
        _ne_eval("h * x * (1 + t)", y, x=x, t=t, h=dt(0.5))
    else:
        _run(_gelu_np, x, x, y, t)
    return y, t


def _gelu_grad_np(g, x, t, d):
    dt = x.dtype.type
    u = np.multiply(t, t, out=np.empty_like(t))  # out=: an array even for 0-d
    np.subtract(dt(1.0), u, out=u)  # 1 - t^2
    np.multiply(x, x, out=d)
    d *= dt(3.0 * GELU_C * GELU_A)
    d += dt(GELU_C)  # c (1 + 3 a x^2)
    d *= u
    d *= x
    d += t
    d += dt(1.0)
    d *= dt(0.5)
    d *= g


def gelu_tanh_grad(g: np.ndarray, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``g * dGELU/dx`` from the saved ``t``: one new array (plus one scratch)."""
    x = _as_float(x)
    dt = x.dtype.type
    d = np.empty_like(x)
    if _backend == "numexpr":
        return _ne_eval("g * (h * (1 + t) + h * x * (1 - t * t) * (c + c3a * x * x))",
                        d, g=g, x=x, t=t, h=dt(0.5), c=dt(GELU_C),
                        c3a=dt(3.0 * GELU_C * GELU_A))
    _run(_gelu_grad_np, x, g, x, t, d)
    return d


# --------------------------------------------------------------- softmax


def _exp_sub_np(s, m):
    np.subtract(s, m, out=s)
    np.exp(s, out=s)


def exp_sub_(s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``s <- exp(s - m)`` in place (``m`` broadcasts to ``s``); returns ``s``."""
    if _backend == "numexpr":
        _ne_eval("s - m", s, s=s, m=m)
        return np.exp(s, out=s)  # NumPy's SIMD exp beats numexpr's
    _run(_exp_sub_np, s, s, m)
    return s


# exp(s) stays a normal float32 number, and a sum of Tk of them stays finite,
# while |s| < 80 - ln(Tk) (float32: exp overflows above 88.7 and gives
# subnormals below -87.3).
EXP_SAFE = 80.0


def scores_may_overflow(q: np.ndarray, k: np.ndarray) -> bool:
    """Whether some attention score ``q_i . k_j`` could be too large for
    :func:`attention_softmax_` without its max shift.

    ``q`` ``(..., Tq, D)`` (already scaled), ``k`` ``(..., Tk, D)``. Every
    score is at most ``D * max|q| * max|k|`` (over all elements) and, by
    Cauchy-Schwarz, at most ``max||q_i|| * max||k_j||`` (row norms); False
    means one of these bounds is below ``EXP_SAFE - ln(Tk)``, so
    ``shift=False`` is safe. The first bound costs four reductions; the
    second, computed only when the first fails, two passes over the
    (T x D) inputs. Either is cheaper than two passes over the (Tq x Tk)
    scores. Non-finite inputs give True.

    Raises:
        ValueError: ``q`` and ``k`` disagree on ``D``.
    """
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"scores_may_overflow: q {q.shape} and k {k.shape} must share their "
                         "last dim (D)")
    if q.size == 0 or k.size == 0:  # no score at all
        return False
    limit = EXP_SAFE - math.log(k.shape[-2])
    # A cheaper, looser bound first: |q_i . k_j| <= D * max|q| * max|k|
    # (four reductions, no temporaries). It settles the usual case; the
    # Cauchy-Schwarz bound (row norms) is computed only when it does not.
    # NaN makes every comparison False, so non-finite inputs give True.
    # (ufunc reductions: ndarray.max/min go through a Python wrapper)
    qa = max(float(np.maximum.reduce(q, axis=None)), -float(np.minimum.reduce(q, axis=None)))
    ka = max(float(np.maximum.reduce(k, axis=None)), -float(np.minimum.reduce(k, axis=None)))
    if q.shape[-1] * qa * ka < limit:
        return False
    qn = np.einsum("...d,...d->...", q, q).max()  # squared row norms
    kn = np.einsum("...d,...d->...", k, k).max()
    return not math.sqrt(qn * kn) < limit


@functools.lru_cache(maxsize=32)
def _ones_row(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones((1, n), dtype=dtype)
    ones.flags.writeable = False  # shared between calls (cached)
    return ones


def _attention_softmax_np(s, blocked, shift):
    if blocked is not None:
        np.copyto(s, -np.inf, where=blocked)  # blocked -> exactly -inf
    if shift:
        m = s.max(axis=-2, keepdims=True)
        # A fully blocked column has max -inf, and -inf - (-inf) is NaN:
        # shift it by 0 instead, so that its exps are all exactly 0.
        m[~np.isfinite(m)] = 0.0
        s -= m
    np.exp(s, out=s)  # exp(-inf) = 0
    # Column sums as a product with a row of ones, (1, Tk) @ (..., Tk, Tq):
    # BLAS sums the columns three times faster than NumPy's reduction.
    d = np.matmul(_ones_row(s.shape[-2], s.dtype), s)  # (..., 1, Tq)
    # A fully blocked column (-inf everywhere) sums to 0: dividing by the
    # smallest normal number instead keeps its weights 0. Any other column
    # sums to at least exp(-EXP_SAFE) (unshifted) or 1 (shifted), far above.
    np.maximum(d, np.finfo(s.dtype).tiny, out=d)
    s *= 1.0 / d


def attention_softmax_(s: np.ndarray, blocked: np.ndarray | None = None, *,
                       shift: bool = True) -> np.ndarray:
    """Softmax over axis -2, in place: the attention weights from transposed
    scores ``s`` ``(..., Tk, Tq)``, one distribution per column (query).

    ``blocked``: None or a bool array broadcastable to ``s``; True entries
    get weight exactly 0 (a fully blocked column is all 0, not NaN).
    ``shift``: subtract each column's max before ``exp`` (the usual guard
    against overflow); pass False only when every score is known to be
    small enough that ``exp`` cannot overflow. Returns ``s``. Both backends
    run the NumPy body (NumPy's SIMD ``exp`` beats numexpr's); large arrays
    are split along axis 0 over the kernel threads.

    Raises:
        TypeError: ``s`` is not a float ndarray of 2+ dims, or ``blocked`` is not
            a bool ndarray. ValueError: ``blocked`` does not broadcast to ``s``.
    """
    if not isinstance(s, np.ndarray) or s.dtype.kind != "f" or s.ndim < 2:
        raise TypeError("attention_softmax_: s must be a floating-point ndarray with at least "
                        f"2 dims (..., Tk, Tq), got {type(s).__name__} "
                        f"{getattr(s, 'dtype', '')} {getattr(s, 'shape', '')}")
    if blocked is not None:
        if not isinstance(blocked, np.ndarray) or blocked.dtype != np.bool_:
            raise TypeError("attention_softmax_: blocked must be a bool ndarray or None, got "
                            f"{type(blocked).__name__} {getattr(blocked, 'dtype', '')}")
        try:
            fits = np.broadcast_shapes(blocked.shape, s.shape) == s.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"attention_softmax_: blocked of shape {blocked.shape} does not "
                             f"broadcast to the scores' shape {s.shape}")
    if s.ndim < 3:  # axis 0 is the softmax axis itself: not split
        _attention_softmax_np(s, blocked, shift)
    else:
        _run(_attention_softmax_np, s, s, blocked, shift)
    return s


def _softmax_grad_np(dp, p, d):
    dp -= d
    dp *= p


def softmax_grad_(dp: np.ndarray, p: np.ndarray, d: np.ndarray) -> np.ndarray:
    """The softmax backward ``dp <- p * (dp - d)``, in place on ``dp``.

    ``d`` is each distribution's ``sum(dp * p)`` over the softmax axis,
    broadcastable to ``dp``; returns ``dp``.
    """
    if _backend == "numexpr":
        return _ne_eval("p * (dp - d)", dp, p=p, dp=dp, d=d)
    _run(_softmax_grad_np, dp, dp, p, d)
    return dp


# ------------------------------------------------------------------ Adam


def adam_step_(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray,
               scratch: np.ndarray, *, beta1: float, beta2: float, step_size: float,
               bias2_sqrt: float, eps: float) -> None:
    """One Adam update, in place on ``param``, ``m``, ``v`` (and ``scratch``)::

        m <- m + (1 - beta1) (g - m)
        v <- beta2 v + (1 - beta2) g^2
        param <- param - step_size * m / (sqrt(v) / bias2_sqrt + eps)

    ``step_size = lr / (1 - beta1^t)``, ``bias2_sqrt = sqrt(1 - beta2^t)``;
    ``scratch`` is a buffer of ``param``'s shape and dtype. No allocation.
    """
    dt = param.dtype.type
    if _backend == "numexpr":
        _ne_eval("m + b1c * (g - m)", m, m=m, g=grad, b1c=dt(1.0 - beta1))
        _ne_eval("b2 * v + b2c * g * g", v, v=v, g=grad, b2=dt(beta2), b2c=dt(1.0 - beta2))
        _ne_eval("p - lr * m / (sqrt(v) / bc + eps)", param, p=param, m=m, v=v,
                 lr=dt(step_size), bc=dt(bias2_sqrt), eps=dt(eps))
        return

    consts = (dt(1.0 - beta1), dt(beta2), dt(1.0 - beta2), dt(bias2_sqrt), dt(eps),
              dt(step_size))
    if param.size < PARALLEL_MIN_SIZE:  # the usual case: no split, no extra call
        _adam_np(param, grad, m, v, scratch, consts)
    else:
        _run(_adam_np, param, param, grad, m, v, scratch, consts)


def _adam_np(param, grad, m, v, scratch, consts):
    b1c, b2, b2c, bias2_sqrt, eps, step_size = consts
    np.subtract(grad, m, out=scratch)
    scratch *= b1c
    m += scratch
    v *= b2
    np.multiply(grad, grad, out=scratch)
    scratch *= b2c
    v += scratch
    np.sqrt(v, out=scratch)
    scratch /= bias2_sqrt
    scratch += eps
    np.divide(m, scratch, out=scratch)
    scratch *= step_size
    param -= scratch
