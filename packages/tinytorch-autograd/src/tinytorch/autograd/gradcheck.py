"""Numerical gradient checking: the test every backward rule must pass.

``gradcheck(fn, inputs)`` compares the analytical gradient from backward()
with central differences ``(f(x + eps) - f(x - eps)) / (2 eps)``. A
non-scalar output is reduced with a fixed random projection
``L = sum(fn(*inputs) * v)``, so every output element is checked at once
and one backward pass suffices.

Cost: ``2 * numel(inputs)`` extra forward passes; meant for small tensors.
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Tensor

from ._mode import no_grad

__all__ = ["gradcheck", "GradcheckError", "numerical_gradient"]


class GradcheckError(AssertionError):
    """The analytical and numerical gradients disagree."""


def _scalar(out: Tensor, v: np.ndarray) -> float:
    return float(np.sum(out.data.astype(np.float64) * v))


def numerical_gradient(fn, inputs, index: int, v: np.ndarray, eps: float) -> np.ndarray:
    """Central-difference gradient of ``sum(fn(*inputs) * v)`` w.r.t. inputs[index]."""
    x = inputs[index].data
    grad = np.zeros(x.shape, dtype=np.float64)
    # Perturb the tensor's own array in place, element by element. Indexing
    # by position (not through x.reshape(-1)) also works when x is not
    # contiguous (a transposed array), where reshape would return a copy.
    with no_grad():
        for pos in np.ndindex(x.shape):
            orig = x[pos]
            x[pos] = orig + eps
            plus = _scalar(fn(*inputs), v)
            x[pos] = orig - eps
            minus = _scalar(fn(*inputs), v)
            x[pos] = orig
            grad[pos] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              seed: int = 0) -> bool:
    """Check ``fn``'s gradients w.r.t. every input that requires grad.

    Args:
        fn: ``fn(*inputs) -> Tensor``.
        inputs: a Tensor or a sequence of Tensors. Inputs that require grad
            must be float64 (float32 central differences are too noisy).
        eps, atol, rtol: step and tolerances; passes when
            ``|analytic - numeric| <= atol + rtol * |numeric|`` everywhere.
        seed: seeds the random output projection. A seed rather than the
            stack's ``generator=`` on purpose: the check must project the
            same way on every call, whatever else drew random numbers.

    Returns:
        True when every gradient matches.

    Raises:
        GradcheckError: a mismatch (the message names the input, the worst
            element and both values), or an input that should receive a
            gradient and received none.
        TypeError / ValueError: bad arguments (non-Tensor input, float32, no
            input requiring grad, a function that does not return a Tensor).
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck: input {i} is {type(t).__name__}, not a Tensor")
        if t.requires_grad and t.dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {i} is {t.dtype}; use float64 inputs "
                f"(Tensor(data, dtype='float64', requires_grad=True))"
            )
    targets = [i for i, t in enumerate(inputs) if t.requires_grad]
    if not targets:
        raise ValueError("gradcheck: no input requires grad")

    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not require grad (graph not recorded)")
    v = np.random.default_rng(seed).standard_normal(out.shape)
    for i in targets:
        inputs[i].grad = None
    out.backward(Tensor(v, dtype=out.dtype))

    for i in targets:
        t = inputs[i]
        numeric = numerical_gradient(fn, inputs, i, v, eps)
        if t.grad is None:
            if np.allclose(numeric, 0.0, atol=atol):
                continue
            raise GradcheckError(f"gradcheck: input {i} received no gradient but should have")
        analytic = t.grad.data.astype(np.float64)
        if analytic.shape != numeric.shape:
            raise GradcheckError(
                f"gradcheck: input {i}: gradient shape {analytic.shape} != input shape "
                f"{numeric.shape}"
            )
        err = np.abs(analytic - numeric)
        bound = atol + rtol * np.abs(numeric)
        if not np.all(err <= bound):
            worst = np.unravel_index(np.argmax(err - bound), err.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {t.shape}) mismatch at {tuple(map(int, worst))}: "
                f"analytic {analytic[worst]:.8g} vs numeric {numeric[worst]:.8g} "
                f"(max abs error {err.max():.3g})"
            )
    return True
