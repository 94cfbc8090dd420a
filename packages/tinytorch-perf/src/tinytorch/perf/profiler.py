"""The Profiler: measure one model on this machine.

The recorder of the hooks is in :mod:`._recorder`, the reports in
:mod:`.profile_report`, the trace export in :mod:`.trace`.

Every number comes from running the model, through the extension points
the lower layers document (nothing is patched):

    Tensor op ──> tinytorch.tensor.apply(op, inputs, params)
                    ├─ pre hook   : start the op's clock                  (register_hook)
                    ├─ op.forward : NumPy
                    └─ post hook  : stop the clock, op.flops(...), module  (register_hook)
    module call ──> global module hooks: push / pop the dotted module name
                                                         (register_module_forward_hooks)
    loss.backward() ──> around every backward rule: time it
                                                         (register_backward_hook)

What is measured, and how:

* parameters: ``sum(p.size for p in model.parameters())`` (shared ones once);
* FLOPs: the ``flops`` function of every primitive that runs, summed.
  Exact for the ops that ran (nothing is estimated from layer shapes), so
  a model that skips work at run time is credited for it;
* memory: parameter and buffer bytes, plus the peak of new allocations
  during one forward (``tracemalloc``: NumPy reports its array buffers to
  it), i.e. the activations;
* latency: wall time of whole forward calls with ``time.perf_counter``,
  after warm-up calls, with the garbage collector paused (as ``timeit``);
* per-op / per-module tables: the hooks above, on one (or a few) passes.

Profiling leaves the model and the hook registries exactly as it found
them (training flags, gradients, buffers; tensor, module and backward
hooks), also when the profiled code raises. Hooks cost about a microsecond
per op, so the per-op tables are for *where* the time goes; latency is
measured without hooks.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinytorch import tensor as _tt
from tinytorch.autograd import enable_grad, no_grad
from tinytorch.tensor import Tensor

from ._model import (
    _as_args,
    _buffers,
    _check_count,
    _check_model,
    _model_state_guard,
    _parameters,
    _shape_list,
)
from ._recorder import ROOT_NAME, _installed, _module_names, _Recorder
from .profile_report import ModuleStats, OpStats, ProfileReport, _build_report
from .stats import BenchmarkResult
from .system import system_info
from .trace import Trace, _write_trace

__all__ = ["Profiler", "ProfileReport", "OpStats", "ModuleStats", "Trace", "ROOT_NAME"]

_MB = float(2**20)


class Profiler:
    """Measure a model: parameters, FLOPs, memory, latency, per-op profiles, traces.

    A *model* is a :class:`tinytorch.nn.Module` or any callable built from
    tensor ops; *inputs* is one argument (a Tensor, or an ndarray / list
    turned into one) or a tuple of arguments.

    Args:
        disable_gc: pause Python's garbage collector while timing (as
            ``timeit`` does), so a collection triggered by an earlier
            allocation is not charged to one unlucky call. Restored after.

    Every method leaves the model (training flags, gradients, buffers) and
    the hook registries as it found them, also when the model raises.
    """

    def __init__(self, *, disable_gc: bool = True) -> None:
        self.disable_gc = bool(disable_gc)

    # ---------------------------------------------------------- counting
    def count_parameters(self, model, trainable_only: bool = False) -> int:
        """Number of scalar parameters (shared parameters counted once;
        a plain function has none). O(number of parameters tensors)."""
        _check_model(model)
        return int(sum(p.data.size for p in _parameters(model)
                       if p.requires_grad or not trainable_only))

    def count_flops(self, model, inputs) -> int:
        """FLOPs of one forward call on ``inputs``, run under ``no_grad``.

        The sum of ``op.flops(input_arrays, output_array, params)`` over every
        primitive that runs (matmul ``2*M*N*K``, elementwise one per output
        element, reductions one per input element, shape ops 0, ...: see each
        primitive's definition). Exact for this call: data-dependent work is
        counted as it happens.
        """
        _check_model(model)
        args = _as_args(inputs)
        total = [0]

        def post(op, ins, out, params, saved):
            total[0] += int(op.flops([t.data for t in ins], out.data, params))

        with _model_state_guard(model), no_grad(), _tt.hooks(post):
            model(*args)
        return total[0]

    # ---------------------------------------------------------- memory
    def measure_memory(self, model, inputs) -> dict[str, Any]:
        """Memory of one inference forward (under ``no_grad``).

        Returns a dict:
            ``parameter_count``, ``parameter_bytes``, ``buffer_bytes``;
            ``activation_peak_bytes``: peak of the memory allocated during
            one forward call above what was allocated before it (tracemalloc;
            NumPy array buffers included, output included), measured on a
            second call so that one-time caches built by the first are not
            counted; ``input_bytes``;
            ``peak_memory_bytes = parameter_bytes + buffer_bytes +
            activation_peak_bytes`` and ``peak_memory_mb`` (the same in
            MiB, 2**20 bytes), ``parameter_mb``.

        If tracemalloc was already tracing it keeps tracing (its peak is
        reset); otherwise it is stopped again afterwards.
        """
        _check_model(model)
        args = _as_args(inputs)
        params = _parameters(model)
        with _model_state_guard(model), no_grad():
            model(*args)  # warm-up: lazily created state is not an activation
            activation = _peak_allocation(lambda: model(*args))
        param_bytes = int(sum(p.data.nbytes for p in params))
        buffer_bytes = int(sum(b.data.nbytes for b in _buffers(model)))
        peak = param_bytes + buffer_bytes + activation
        return {
            "parameter_count": int(sum(p.data.size for p in params)),
            "parameter_bytes": param_bytes,
            "parameter_mb": param_bytes / _MB,
            "buffer_bytes": buffer_bytes,
            "activation_peak_bytes": activation,
            "input_bytes": int(sum(a.data.nbytes for a in args if isinstance(a, Tensor))),
            "peak_memory_bytes": peak,
            "peak_memory_mb": peak / _MB,
        }

    # ---------------------------------------------------------- timing
    def time_calls(self, fn: Callable[[int], Any], *, warmup: int = 0, iterations: int = 1,
                   min_duration_s: float = 0.0) -> np.ndarray:
        """The one timing loop every latency figure comes from.

        Calls ``fn(i)`` ``warmup`` times untimed, then times each call with
        ``time.perf_counter`` until at least ``iterations`` calls were made
        *and* at least ``min_duration_s`` seconds have passed.

        Returns:
            float64 array of per-call seconds (length >= iterations).

        Raises:
            ValueError / TypeError: negative or non-integer counts, a
                negative or non-finite duration.
        """
        if not callable(fn):
            raise TypeError("time_calls: fn must be callable")
        warmup = _check_count(warmup, "warmup", 0)
        iterations = _check_count(iterations, "iterations", 1)
        if isinstance(min_duration_s, bool) or not isinstance(min_duration_s, (int, float)):
            raise TypeError(f"min_duration_s must be a number, got {min_duration_s!r}")
        if not math.isfinite(min_duration_s) or min_duration_s < 0:
            raise ValueError(f"min_duration_s must be finite and >= 0, got {min_duration_s}")
        for i in range(warmup):
            fn(i)
        gc_was_enabled = gc.isenabled()
        if self.disable_gc:
            gc.disable()
        times: list[float] = []
        clock = time.perf_counter
        try:
            start = clock()
            i = 0
            while i < iterations or clock() - start < min_duration_s:
                t0 = clock()
                fn(i)
                times.append(clock() - t0)
                i += 1
        finally:
            if gc_was_enabled:
                gc.enable()
        return np.asarray(times, dtype=np.float64)

    def measure_latency(self, model, inputs, warmup: int = 10,
                        iterations: int = 100) -> BenchmarkResult:
        """Wall time of ``model(*inputs)`` under ``no_grad``, in milliseconds.

        ``warmup`` untimed calls first (caches, branch predictors, BLAS
        thread pools, lazily allocated buffers), then ``iterations`` timed
        calls, each timed separately (no hooks installed).

        Returns:
            ``BenchmarkResult("latency_ms", per-call ms, metadata)`` with
            median, mean, std, min, max, p90, p99 and the 95% CI; the
            metadata records warmup, iterations, the input shapes, the timer
            and the system description.
        """
        _check_model(model)
        args = _as_args(inputs)
        with _model_state_guard(model), no_grad():
            seconds = self.time_calls(lambda i: model(*args), warmup=warmup,
                                      iterations=iterations)
        return BenchmarkResult("latency_ms", seconds * 1e3, {
            "unit": "ms",
            "warmup": warmup,
            "iterations": iterations,
            "input_shapes": [_shape_list(a) for a in args],
            "timer": "time.perf_counter",
            "grad_enabled": False,
            "gc_disabled": self.disable_gc,
            "system": system_info(),
        })

    # ---------------------------------------------------------- profiles
    def profile_forward_pass(self, model, inputs, *, warmup: int = 1,
                             iterations: int = 1) -> ProfileReport:
        """Per-op and per-module table of inference forward passes (``no_grad``).

        ``warmup`` unprofiled calls, then ``iterations`` profiled ones whose
        figures are summed (``report.passes``).
        """
        _check_model(model)
        warmup = _check_count(warmup, "warmup", 0)
        iterations = _check_count(iterations, "iterations", 1)
        args = _as_args(inputs)
        names = _module_names(model)
        rec = _Recorder(names)
        with _model_state_guard(model), no_grad():
            for _ in range(warmup):
                model(*args)
            with _installed(rec):
                t0 = time.perf_counter()
                for _ in range(iterations):
                    rec.stack.clear()
                    model(*args)
                wall = time.perf_counter() - t0
        order = list(dict.fromkeys(names.values()))
        return _build_report("forward", iterations, wall, rec.ops, rec.modules, order)

    def profile_backward_pass(self, model, inputs, loss_fn: Callable | None = None, *,
                              warmup: int = 1, iterations: int = 1) -> ProfileReport:
        """Per-op and per-module table of the backward pass (training step
        without the optimizer).

        Each pass: ``out = model(*inputs)``, ``loss = loss_fn(out)`` (default
        ``out.sum()``), ``loss.backward()``, with grad enabled. The forward
        (and the loss) is profiled through the dispatch hooks, the backward
        through ``register_backward_hook``: each backward rule is timed and
        charged to the module whose forward recorded its node. Backward rules
        are NumPy code outside the dispatch path, so their FLOPs are not
        counted (``None``, shown as "-").

        Returns:
            the backward report; ``report.forward`` is the forward report of
            the same passes. Parameter gradients are restored afterwards
            (the ones computed here are discarded).

        Raises:
            TypeError: ``loss_fn`` does not return a Tensor.
            ValueError: the loss has more than one element.
            RuntimeError: nothing requires grad (from autograd).
        """
        _check_model(model)
        if loss_fn is not None and not callable(loss_fn):
            raise TypeError("loss_fn must be callable or None")
        warmup = _check_count(warmup, "warmup", 0)
        iterations = _check_count(iterations, "iterations", 1)
        args = _as_args(inputs)
        names = _module_names(model)
        params = _parameters(model)

        def loss_of(out):
            loss = out.sum() if loss_fn is None else loss_fn(out)
            if not isinstance(loss, Tensor):
                raise TypeError(f"loss_fn must return a Tensor, got {type(loss).__name__}")
            if loss.size != 1:
                raise ValueError(f"the loss must have one element, got shape {loss.shape}")
            return loss

        rec = _Recorder(names, track_nodes=True)
        fwd_wall = bwd_wall = 0.0
        with _model_state_guard(model, clear_grads=True), enable_grad():
            for _ in range(warmup):
                loss_of(model(*args)).backward()
            with _installed(rec, backward=True):
                for _ in range(iterations):
                    for p in params:
                        p.grad = None
                    rec.stack.clear()
                    t0 = time.perf_counter()
                    loss = loss_of(model(*args))
                    t1 = time.perf_counter()
                    loss.backward()
                    t2 = time.perf_counter()
                    fwd_wall += t1 - t0
                    bwd_wall += t2 - t1
            rec.node_paths.clear()
        order = list(dict.fromkeys(names.values()))
        forward = _build_report("forward", iterations, fwd_wall, rec.ops, rec.modules, order)
        types = {m.path: m.type for m in forward.modules}
        bw_table = {k: [c, s, None] for k, (c, s) in rec.bw_ops.items()}
        backward = _build_report("backward", iterations, bwd_wall, bw_table, None, order, types)
        backward.forward = forward
        return backward

    # ---------------------------------------------------------- trace
    @contextlib.contextmanager
    def trace(self, path, model=None) -> Iterator[Trace]:
        """Record every op run inside the block as a Chrome / Perfetto trace.

        >>> with profiler.trace("trace.json", model):      # doctest: +SKIP
        ...     loss = model(x).sum(); loss.backward()

        Writes ``{"traceEvents": [...], "displayTimeUnit": "ms", "otherData":
        {...}}`` to ``path`` (atomically) when the block exits, also when it
        raises (the trace then shows what ran up to the error). Events are
        "complete" events (``ph: "X"``, ``ts`` / ``dur`` in microseconds from
        the start of the block): one per op (``cat`` ``"forward"`` or
        ``"backward"``, ``name`` the op, ``args``: module path, input
        shapes, output shape, dtype, FLOPs) and one per module call (``cat``
        ``"module"``). Pass ``model`` to get dotted module paths
        (``model.0``); without it modules appear as ``<Linear>``. Open the
        file in https://ui.perfetto.dev or chrome://tracing.

        Raises:
            FileNotFoundError: the directory of ``path`` does not exist
                (checked before the block runs).
        """
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"trace: directory {directory!r} does not exist")
        rec = _Recorder(_module_names(model), events=True, track_nodes=True)
        result = Trace(path)
        origin = time.perf_counter()
        try:
            with _installed(rec, backward=True):
                yield result
        finally:
            rec.node_paths.clear()
            result.events = _write_trace(path, rec, origin)


def _peak_allocation(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated while ``fn`` runs, above the level before it."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(0, int(peak - before))
