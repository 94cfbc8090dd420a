"""The Profiler: measure one model on this machine.

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
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinytorch import tensor as _tt
from tinytorch.autograd import enable_grad, no_grad, register_backward_hook
from tinytorch.nn import Module, register_module_forward_hooks
from tinytorch.tensor import Tensor, atomic_write

from ._io import dumps
from ._table import format_count, format_table
from .stats import BenchmarkResult
from .system import system_info

__all__ = ["Profiler", "ProfileReport", "OpStats", "ModuleStats", "Trace", "ROOT_NAME"]

#: The name of the profiled model in module paths: ``model``, ``model.0``, ``model.blocks.1``.
ROOT_NAME = "model"

_MB = float(2**20)


# ------------------------------------------------------------------ helpers


def _as_args(inputs) -> tuple:
    """Model arguments from ``inputs``: a tuple is unpacked into positional
    arguments; anything else is one argument. Arrays and lists become Tensors
    (float64 data becomes float32 as everywhere in TinyTorch)."""
    items = inputs if isinstance(inputs, tuple) else (inputs,)
    return tuple(x if isinstance(x, Tensor) or not isinstance(x, (np.ndarray, list))
                 else Tensor(x) for x in items)


def _check_model(model) -> None:
    if not callable(model):
        raise TypeError(f"model must be callable (a Module or a function), "
                        f"got {type(model).__name__}")


def _parameters(model) -> list:
    """The model's parameters, each once; a plain function has none."""
    params = getattr(model, "parameters", None)
    if params is None or not callable(params):
        return []
    seen, out = set(), []
    for p in params():
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    return out


def _buffers(model) -> list:
    bufs = getattr(model, "buffers", None)
    if bufs is None or not callable(bufs):
        return []
    return [b for b in bufs() if b is not None]


def _shape_list(x) -> list:
    shape = getattr(x, "shape", None)
    return list(shape) if shape is not None else []


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


@contextlib.contextmanager
def _model_state_guard(model, *, clear_grads: bool = False) -> Iterator[None]:
    """Restore the model's training flags, parameter gradients and buffers
    on exit, whatever happens inside (exceptions included).

    With ``clear_grads`` the gradients are set to None inside the block, so
    a backward pass allocates new ones instead of adding into the user's
    (which are put back untouched afterwards).
    """
    modules = list(model.modules()) if isinstance(model, Module) else []
    modes = [m.training for m in modules]
    params = _parameters(model)
    grads = [p.grad for p in params]
    buffers = [(b, b.data, b.data.copy()) for b in _buffers(model)]
    try:
        if clear_grads:
            for p in params:
                p.grad = None
        yield
    finally:
        for m, mode in zip(modules, modes):
            m.training = mode
        for p, g in zip(params, grads):
            p.grad = g
        for b, array, saved in buffers:
            b.data = array
            if array.flags.writeable:
                array[...] = saved


def _module_names(model) -> dict[int, str]:
    if not isinstance(model, Module):
        return {}
    return {id(m): (f"{ROOT_NAME}.{name}" if name else ROOT_NAME)
            for name, m in model.named_modules()}


# ------------------------------------------------------------------ recorder


class _Recorder:
    """Collects what the hooks see: per (op, module path) counts, times and
    FLOPs, per-module call times, optionally raw events for a trace, and the
    module path of each recorded autograd node (for the backward table)."""

    def __init__(self, names: dict[int, str], *, events: bool = False,
                 track_nodes: bool = False) -> None:
        self.names = names
        self.ops: dict[tuple[str, str], list] = {}       # (op, path) -> [calls, s, flops]
        self.bw_ops: dict[tuple[str, str], list] = {}    # (op, path) -> [calls, s]
        self.modules: dict[str, list] = {}               # path -> [calls, s, type]
        self.stack: list[tuple[str, Any, float]] = []    # (path, module, t0)
        self.events: list | None = [] if events else None
        self.track_nodes = track_nodes
        self.node_paths: dict = {}
        self._t0 = 0.0
        self._tb = 0.0

    # Tensor dispatch hooks ------------------------------------------------
    def op_pre(self, op, inputs, params) -> None:
        self._t0 = time.perf_counter()

    def op_post(self, op, inputs, out, params, saved) -> None:
        t1 = time.perf_counter()
        dt = t1 - self._t0
        flops = int(op.flops([t.data for t in inputs], out.data, params))
        path = self.stack[-1][0] if self.stack else ""
        key = (op.name, path)
        entry = self.ops.get(key)
        if entry is None:
            self.ops[key] = [1, dt, flops]
        else:
            entry[0] += 1
            entry[1] += dt
            entry[2] += flops
        if self.track_nodes and out.grad_fn is not None:
            self.node_paths[out.grad_fn] = path
        if self.events is not None:
            self.events.append(("forward", op.name, self._t0, dt, path,
                                [list(t.shape) for t in inputs], list(out.shape),
                                str(out.data.dtype), flops))

    # Module hooks ---------------------------------------------------------
    def mod_pre(self, module, args) -> None:
        path = self.names.get(id(module))
        if path is None:  # a module outside the profiled model (a loss, ...)
            parent = self.stack[-1][0] if self.stack else ""
            label = f"<{type(module).__name__}>"
            path = f"{parent}.{label}" if parent else label
        self.stack.append((path, module, time.perf_counter()))

    def mod_post(self, module, args, output) -> None:
        t1 = time.perf_counter()
        # Find this module's frame; frames above it belong to calls that
        # raised and were caught inside this module: drop them.
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][1] is module:
                break
        else:
            return
        path, _, t0 = self.stack[i]
        del self.stack[i:]
        entry = self.modules.get(path)
        if entry is None:
            self.modules[path] = [1, t1 - t0, type(module).__name__]
        else:
            entry[0] += 1
            entry[1] += t1 - t0
        if self.events is not None:
            self.events.append(("module", path, t0, t1 - t0, type(module).__name__))

    # Backward hooks -------------------------------------------------------
    def bw_pre(self, node) -> None:
        self._tb = time.perf_counter()

    def bw_post(self, node, grads) -> None:
        t1 = time.perf_counter()
        dt = t1 - self._tb
        path = self.node_paths.get(node, "")
        key = (node.op.name, path)
        entry = self.bw_ops.get(key)
        if entry is None:
            self.bw_ops[key] = [1, dt]
        else:
            entry[0] += 1
            entry[1] += dt
        if self.events is not None:
            shapes = [list(t.shape) for t in node.inputs] if node.inputs is not None else []
            out_shape = list(node.out.shape) if node.out is not None else []
            self.events.append(("backward", node.op.name, self._tb, dt, path, shapes,
                                out_shape, str(node.out.dtype) if node.out is not None else "",
                                None))


@contextlib.contextmanager
def _installed(rec: _Recorder, *, backward: bool = False) -> Iterator[_Recorder]:
    """Register the recorder's hooks for the block; every one of them is
    removed on exit, in reverse order, even if the block (or a later
    registration) raises."""
    handles = []
    try:
        handles.append(_tt.register_hook(rec.op_post, pre=rec.op_pre))
        handles.append(register_module_forward_hooks(pre=rec.mod_pre, post=rec.mod_post))
        if backward:
            handles.append(register_backward_hook(rec.bw_post, pre=rec.bw_pre))
        yield rec
    finally:
        for h in reversed(handles):
            h.remove()


# ------------------------------------------------------------------ reports


@dataclass(frozen=True)
class OpStats:
    """One primitive in a profile: all its calls summed.

    ``total_s``: seconds inside the op (its NumPy forward, or its backward
    rule); ``share``: of the pass's wall time; ``flops``: summed from the
    primitive's ``flops`` function (None for backward rules, whose
    arithmetic does not go through the dispatch path).
    """

    name: str
    calls: int
    total_s: float
    share: float
    flops: int | None

    @property
    def gflops_per_s(self) -> float | None:
        """Achieved GFLOP/s: ``flops / total_s / 1e9`` (None without FLOPs)."""
        if self.flops is None or self.total_s <= 0.0:
            return None
        return self.flops / self.total_s / 1e9


@dataclass(frozen=True)
class ModuleStats:
    """One module of the model (inclusive of its submodules).

    Forward: ``calls`` and ``total_s`` from the module hooks (the wall time
    of its ``__call__``), ``flops`` summed over the ops run inside it.
    Backward: ``calls`` counts the backward rules of ops recorded inside it
    and ``total_s`` sums their time.
    """

    path: str
    type: str
    calls: int
    total_s: float
    share: float
    flops: int | None

    @property
    def gflops_per_s(self) -> float | None:
        if self.flops is None or self.total_s <= 0.0:
            return None
        return self.flops / self.total_s / 1e9


@dataclass
class ProfileReport:
    """Where the time of a forward (or backward) pass goes.

    Attributes:
        phase: ``"forward"`` or ``"backward"``.
        passes: how many profiled passes the figures sum over.
        wall_time_s: wall time of those passes.
        ops: per primitive, slowest first.
        modules: per module path (model order), inclusive of submodules.
        details: per (op, module path): ``{"op", "module", "calls",
            "total_s", "flops"}`` rows, slowest first.
        forward: for a backward report, the forward report of the same passes.
    """

    phase: str
    passes: int
    wall_time_s: float
    ops: list[OpStats]
    modules: list[ModuleStats]
    details: list[dict] = field(default_factory=list)
    forward: ProfileReport | None = None

    @property
    def op_time_s(self) -> float:
        """Time inside ops; the rest of ``wall_time_s`` is Python between them."""
        return sum(o.total_s for o in self.ops)

    @property
    def total_flops(self) -> int | None:
        if any(o.flops is None for o in self.ops):
            return None
        return sum(o.flops for o in self.ops)

    @property
    def flops_per_pass(self) -> int | None:
        total = self.total_flops
        return None if total is None else total // self.passes

    def table(self, max_rows: int | None = 25) -> str:
        """The printable report: a summary line, the op table, the module table."""
        flops = self.total_flops
        head = (f"{self.phase} pass x{self.passes}: {self.wall_time_s * 1e3:.3f} ms wall, "
                f"ops {self.op_time_s * 1e3:.3f} ms "
                f"({_pct(self.op_time_s, self.wall_time_s)} of wall; the rest is Python "
                f"between ops and the hooks)")
        if flops is not None:
            rate = flops / self.wall_time_s / 1e9 if self.wall_time_s > 0 else float("nan")
            head += f", {format_count(flops)} FLOP = {rate:.3g} GFLOP/s over the wall time"
        op_rows = [{
            "op": o.name, "calls": o.calls, "total ms": o.total_s * 1e3,
            "share": _pct(o.total_s, self.wall_time_s), "FLOPs": format_count(o.flops),
            "GFLOP/s": o.gflops_per_s,
        } for o in self.ops[:max_rows]]
        mod_rows = [{
            "module": m.path, "type": m.type, "calls": m.calls, "total ms": m.total_s * 1e3,
            "share": _pct(m.total_s, self.wall_time_s), "FLOPs": format_count(m.flops),
            "GFLOP/s": m.gflops_per_s,
        } for m in self.modules[:max_rows]]
        parts = [head, "", format_table(op_rows, title="per op:")]
        if len(self.ops) > len(op_rows):
            parts.append(f"... {len(self.ops) - len(op_rows)} more ops")
        if mod_rows:
            parts += ["", format_table(mod_rows, title="per module (inclusive):")]
        return "\n".join(parts)

    __str__ = table

    def to_dict(self) -> dict[str, Any]:
        out = {
            "phase": self.phase,
            "passes": self.passes,
            "wall_time_s": self.wall_time_s,
            "op_time_s": self.op_time_s,
            "total_flops": self.total_flops,
            "ops": [dict(vars(o), gflops_per_s=o.gflops_per_s) for o in self.ops],
            "modules": [dict(vars(m), gflops_per_s=m.gflops_per_s) for m in self.modules],
            "details": self.details,
        }
        if self.forward is not None:
            out["forward"] = self.forward.to_dict()
        return out


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole > 0 else "-"


def _build_report(phase: str, passes: int, wall: float, op_table: dict,
                  module_calls: dict | None, model_order: list[str],
                  types: dict[str, str] | None = None) -> ProfileReport:
    """Aggregate recorder tables into a report.

    ``op_table``: (op, path) -> [calls, seconds, flops or None].
    ``module_calls``: path -> [calls, seconds, type] measured by the module
    hooks (forward); None for the backward, whose module rows are summed
    from the ops recorded inside each module.
    """
    def share(secs: float) -> float:
        return secs / wall if wall > 0 else 0.0

    per_op: dict[str, list] = {}
    for (name, _path), (calls, secs, flops) in op_table.items():
        agg = per_op.setdefault(name, [0, 0.0, 0 if flops is not None else None])
        agg[0] += calls
        agg[1] += secs
        if flops is not None:
            agg[2] += flops
    ops = sorted((OpStats(n, c, s, share(s), f) for n, (c, s, f) in per_op.items()),
                 key=lambda o: -o.total_s)
    details = sorted(
        ({"op": n, "module": p, "calls": c, "total_s": s, "flops": f}
         for (n, p), (c, s, f) in op_table.items()),
        key=lambda r: -r["total_s"],
    )

    # Model modules in model order, then modules outside the model (a loss
    # module called by loss_fn: "<CrossEntropyLoss>") in order of appearance.
    seen = dict.fromkeys(model_order)
    extra = module_calls if module_calls is not None else dict.fromkeys(
        p for (_, p) in op_table)
    paths = list(seen) + [p for p in extra if p and p not in seen]
    types = dict(types or {})
    modules = []
    for path in paths:
        rows = [v for (_, p), v in op_table.items()
                if p == path or p.startswith(path + ".")]
        flops = None if any(f is None for _, _, f in rows) else sum(f for _, _, f in rows)
        if module_calls is not None:
            if path not in module_calls:
                continue  # a module of the model that did not run
            calls, secs, type_name = module_calls[path]
        else:
            if not rows:
                continue
            calls = sum(c for c, _, _ in rows)
            secs = sum(s for _, s, _ in rows)
            type_name = types.get(path, "")
        modules.append(ModuleStats(path, type_name, calls, secs, share(secs), flops))
    return ProfileReport(phase, passes, wall, ops, modules, details)


# ------------------------------------------------------------------ trace


class Trace:
    """What :meth:`Profiler.trace` recorded: ``path`` and, once the block
    has exited, ``events`` (the Chrome trace events written to the file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.events: list[dict] = []

    def __repr__(self) -> str:
        return f"Trace({self.path!r}, {len(self.events)} events)"


def _chrome_events(rec: _Recorder, origin: float) -> list[dict]:
    """Chrome trace "complete" events (ph "X", ts and dur in microseconds)."""
    pid = os.getpid()
    tid = threading.get_native_id()
    out = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": tid,
         "args": {"name": "tinytorch"}},
        {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
         "args": {"name": "main"}},
    ]
    body = []
    for ev in rec.events or ():
        kind = ev[0]
        if kind == "module":
            _, path, t0, dt, type_name = ev
            body.append({"name": f"{path} ({type_name})", "cat": "module", "ph": "X",
                         "ts": (t0 - origin) * 1e6, "dur": dt * 1e6, "pid": pid, "tid": tid,
                         "args": {"module": path, "type": type_name}})
        else:
            _, name, t0, dt, path, in_shapes, out_shape, dtype, flops = ev
            args = {"module": path, "input_shapes": in_shapes, "output_shape": out_shape,
                    "dtype": dtype}
            if flops is not None:
                args["flops"] = flops
            body.append({"name": name, "cat": kind, "ph": "X",
                         "ts": (t0 - origin) * 1e6, "dur": dt * 1e6, "pid": pid, "tid": tid,
                         "args": args})
    # Parents first when two events start together, so viewers nest them.
    body.sort(key=lambda e: (e["ts"], -e["dur"]))
    return out + body


# ------------------------------------------------------------------ Profiler


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
            result.events = _chrome_events(rec, origin)
            document = {
                "traceEvents": result.events,
                "displayTimeUnit": "ms",
                "otherData": {"producer": "tinytorch.perf", "system": system_info()},
            }
            text = dumps(document, indent=None)
            atomic_write(path, lambda f: f.write(text), binary=False)


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
