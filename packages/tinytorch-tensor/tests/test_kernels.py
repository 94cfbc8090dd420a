"""The fused kernels of tinytorch.tensor.kernels, on both backends.

Every kernel is checked against the plain formula it replaces (the form the
code used before it was fused), in float64 to 1e-12 and in float32 to float32
rounding, on each backend; numexpr's path is skipped when it is not installed.
"""

import math

import numpy as np
import pytest

from tinytorch.tensor import Tensor, gelu, kernels
from tinytorch.tensor.testing import assert_close, assert_raises, kernel_backend_fixture

C = math.sqrt(2.0 / math.pi)

backend = kernel_backend_fixture()  # each test using it runs on numpy and on numexpr


def _gelu_ref(x):
    t = np.tanh(C * (x + 0.044715 * x * x * x))
    return 0.5 * x * (1.0 + t), t


def _gelu_grad_ref(g, x, t):  # the unfused rule
    dt = (1.0 - t * t) * C * (1.0 + 3 * 0.044715 * x * x)
    return g * (0.5 * (1.0 + t) + 0.5 * x * dt)


DTYPES = [np.float64, np.float32]
SHAPES = [(), (7,), (3, 5, 8)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gelu_tanh_matches_the_formula(backend, dtype, shape):
    x = (np.random.default_rng(0).standard_normal(shape) * 3).astype(dtype)
    x_before = x.copy()
    y, t = kernels.gelu_tanh(x)
    y_ref, t_ref = _gelu_ref(x.astype(np.float64))
    assert y.dtype == dtype and t.dtype == dtype and y.shape == shape
    assert_close(y, y_ref)
    assert_close(t, t_ref)
    np.testing.assert_array_equal(x, x_before)  # the input is not touched


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gelu_tanh_grad_agrees_with_the_unfused_rule(backend, dtype, shape):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    _, t = kernels.gelu_tanh(x)
    saved = (g.copy(), x.copy(), t.copy())
    got = kernels.gelu_tanh_grad(g, x, t)
    want = _gelu_grad_ref(g.astype(np.float64), x.astype(np.float64), t.astype(np.float64))
    assert got.dtype == dtype
    assert_close(got, want)
    for before, after in zip(saved, (g, x, t)):
        np.testing.assert_array_equal(before, after)


def test_gelu_of_integers_computes_in_float64(backend):
    y = gelu(Tensor(np.array([-2, 0, 3])))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, _gelu_ref(np.array([-2.0, 0.0, 3.0]))[0], rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_exp_sub_in_place(backend, dtype):
    rng = np.random.default_rng(2)
    s = rng.standard_normal((2, 6, 5)).astype(dtype)
    m = s.max(axis=-2, keepdims=True)
    want = np.exp(s.astype(np.float64) - m)
    out = kernels.exp_sub_(s, m)
    assert out is s
    assert_close(s, want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_grad_in_place(backend, dtype):
    rng = np.random.default_rng(3)
    dp = rng.standard_normal((2, 6, 5)).astype(dtype)
    p = rng.random((2, 6, 5)).astype(dtype)
    d = (dp * p).sum(axis=-2, keepdims=True)
    want = p.astype(np.float64) * (dp - d)
    out = kernels.softmax_grad_(dp, p, d)
    assert out is dp
    assert_close(dp, want)


def _adam_ref(param, grad, m, v, beta1, beta2, lr, eps, t):  # the unfused update
    m = m + (1.0 - beta1) * (grad - m)
    v = beta2 * v + (1.0 - beta2) * (grad * grad)
    denom = np.sqrt(v) / math.sqrt(1.0 - beta2**t) + eps
    return param - (lr / (1.0 - beta1**t)) * (m / denom), m, v


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_step_matches_the_unfused_update(backend, dtype):
    rng = np.random.default_rng(4)
    param, m = (rng.standard_normal((4, 3)).astype(dtype) for _ in range(2))
    v = rng.random((4, 3)).astype(dtype)
    grad = rng.standard_normal((4, 3)).astype(dtype)
    hp = dict(beta1=0.9, beta2=0.99, lr=1e-2, eps=1e-8, t=3)
    want = _adam_ref(*(a.astype(np.float64) for a in (param, grad, m, v)), **hp)
    grad_before = grad.copy()
    kernels.adam_step_(param, grad, m, v, np.empty_like(param), beta1=0.9, beta2=0.99,
                       step_size=1e-2 / (1 - 0.9**3), bias2_sqrt=math.sqrt(1 - 0.99**3),
                       eps=1e-8)
    for got, ref in zip((param, m, v), want):
        assert_close(got, ref)
    np.testing.assert_array_equal(grad, grad_before)


def test_backends_give_the_same_float32_results():
    pytest.importorskip("numexpr")
    x = np.random.default_rng(5).standard_normal((64, 33)).astype(np.float32)
    results = {}
    for name in kernels.BACKENDS:
        with kernels.use_backend(name):
            y, t = kernels.gelu_tanh(x)
            results[name] = (y, t, kernels.gelu_tanh_grad(x, x, t))
    for a, b in zip(results["numpy"], results["numexpr"]):
        assert_close(a, b)  # float32: to rounding


# (setting, bad value, exception, word of the message): the setter refuses
# the value and the setting keeps its previous value
BAD_SETTINGS = [("backend", v, e, "backend") for v, e in [
    ("cuda", ValueError), ("", ValueError), (None, TypeError), (3, TypeError)]]
BAD_SETTINGS += [("num_threads", v, e, "set_num_threads") for v, e in [
    (0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("2", TypeError)]]


@pytest.mark.parametrize("setting, value, error, word", BAD_SETTINGS)
def test_setters_reject_bad_values_and_keep_the_setting(setting, value, error, word):
    get, set_ = getattr(kernels, f"get_{setting}"), getattr(kernels, f"set_{setting}")
    before = get()
    assert_raises(error, lambda: set_(value), [word])
    assert get() == before


def test_use_backend_restores_after_an_error():
    before = kernels.get_backend()
    with pytest.raises(RuntimeError), kernels.use_backend("numpy"):
        raise RuntimeError("boom")
    assert kernels.get_backend() == before
    assert "numpy" in kernels.available_backends()


def test_numexpr_backend_without_numexpr_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(kernels, "_ne", None)
    with pytest.raises(ValueError, match="needs numexpr"):
        kernels.set_backend("numexpr")


# ---------------------------------------------------------------- threads


@pytest.fixture
def two_threads():
    previous = kernels.set_num_threads(2)
    yield
    kernels.set_num_threads(previous)


def _run_all(shape, axes):
    """Every kernel on arrays of ``shape`` (large enough to be split)."""
    rng = np.random.default_rng(6)
    x, g, p = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    y, t = kernels.gelu_tanh(x)
    dx = kernels.gelu_tanh_grad(g, x, t)
    s = x.copy()
    kernels.exp_sub_(s, s.max(axis=axes, keepdims=True))
    dp = g.copy()
    kernels.softmax_grad_(dp, p, (dp * p).sum(axis=axes, keepdims=True))
    param, m, v = x.copy(), g.copy(), np.abs(p)
    kernels.adam_step_(param, g, m, v, np.empty_like(param), beta1=0.9, beta2=0.99,
                       step_size=0.1, bias2_sqrt=0.5, eps=1e-8)
    return y, t, dx, s, dp, param, m, v


@pytest.mark.parametrize("shape, axes", [
    ((4, 300, 200), -2),  # the reduced operand (4, 1, 200) is sliced with the rows
    ((200, 300, 4), (0, 1)),  # the reduced operand (1, 1, 4) is passed whole
    ((300, 600), 0),
])
def test_two_threads_give_the_same_values_as_one(backend, shape, axes, two_threads):
    assert kernels.PARALLEL_MIN_SIZE <= np.prod(shape)
    split = _run_all(shape, axes)
    kernels.set_num_threads(1)
    whole = _run_all(shape, axes)
    for a, b in zip(split, whole):
        if backend == "numpy":  # elementwise: splitting changes no arithmetic
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_set_num_threads_returns_the_previous_count():
    before = kernels.set_num_threads(3)
    try:
        assert kernels.get_num_threads() == 3
        assert kernels.set_num_threads(2) == 3
    finally:
        kernels.set_num_threads(before)
    assert kernels.get_num_threads() == before


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_kernel_threads(two_threads):
    import os

    x = np.random.default_rng(7).standard_normal((4, 300, 200)).astype(np.float32)
    want = kernels.gelu_tanh(x)[0]  # the parent's pool now has a worker thread
    pid = os.fork()
    if pid == 0:  # child: the same kernel must finish (no wait on a missing thread)
        import signal

        signal.alarm(30)  # a hang kills the child (a failure), never the test run
        ok = np.array_equal(kernels.gelu_tanh(x)[0], want)
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
