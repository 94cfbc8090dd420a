"""``compile(model, example_inputs)``: capture, passes, guarded replay.

    compiled(*args)
      ├─ grad mode on?                 -> RuntimeError (inference only)
      ├─ any module in training mode?  -> eager model(*args)      (documented fallback)
      ├─ a parameter replaced, or written in place (version counter)?
      │                                -> drop every replay, retrace
      ├─ signature (shapes, dtypes, static args) seen before?
      │      no  -> retrace: capture + passes + codegen + verify  (at most 8 kept,
      │             then eager)
      └─ replay(arrays)  -> Tensors    (a replay that raises -> eager, which
                                        raises the model's own clear error)

A replay is verified when it is made: it must match eager mode on the
example input and on a second, random input of the same shape and dtype
(the capture of that second input must also run the same ops). A forward
whose result depends on tensor values through Python (``if x.sum() > 0``,
``.item()``, ``.numpy()``), which the dispatch hooks cannot see, is caught
there in most cases and raises :class:`CompileError`.
"""

from __future__ import annotations

import builtins

import numpy as np

from tinytorch.autograd import is_grad_enabled, no_grad
from tinytorch.nn import Module
from tinytorch.tensor import Tensor, wrap

from .capture import CompileError, capture
from .codegen import Replay, generate
from .graph import Graph
from .passes import PASSES, run_passes

__all__ = ["compile", "CompiledModule", "CompileError"]

_STATIC = (int, float, bool, str, type(None))
MAX_SPECIALISATIONS = 8


def _check_inputs(example_inputs) -> tuple:
    if isinstance(example_inputs, (Tensor, np.ndarray)):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, (tuple, list)):
        raise TypeError("compile: example_inputs must be a Tensor, an ndarray or a tuple of "
                        f"them, got {type(example_inputs).__name__}")
    for i, a in enumerate(example_inputs):
        if not isinstance(a, (Tensor, np.ndarray, *_STATIC)):
            raise TypeError(f"compile: example input {i} must be a Tensor, an ndarray or a "
                            f"static int/float/bool/str/None, got {type(a).__name__}")
        if isinstance(a, Tensor) and a.requires_grad:
            raise ValueError(f"compile: example input {i} requires grad; a compiled model "
                             "runs inference only (pass a tensor without requires_grad)")
    return tuple(example_inputs)


def _split(args: tuple) -> tuple[tuple, list]:
    """``(key, arrays)``: what a replay is specialised on (each array's shape
    and dtype, each static argument's type and value) and the arrays to
    pass it, in one pass over the arguments.

    Raises:
        TypeError: an argument that is not a Tensor, ndarray or static scalar.
    """
    key, arrays = [], []
    for a in args:
        if isinstance(a, Tensor):
            a = a.data
        if isinstance(a, np.ndarray):
            key.append((a.shape, a.dtype))
            arrays.append(a)
        elif isinstance(a, _STATIC):
            key.append((type(a), a))
        else:
            raise TypeError(f"compiled model: argument of type {type(a).__name__} is not "
                            "supported (Tensor, ndarray or a static int/float/bool/str/None)")
    return tuple(key), arrays


def _signature(args: tuple) -> tuple:
    return _split(args)[0]


def _arrays(args: tuple) -> list:
    return _split(args)[1]


def _other_input(a, rng: np.random.Generator):
    """A random argument of the same kind, shape and dtype as ``a`` (for the
    verification run); static arguments are kept."""
    arr = a.data if isinstance(a, Tensor) else a
    if not isinstance(arr, np.ndarray) or arr.size == 0:
        return a
    if arr.dtype.kind == "f":
        scale = float(np.std(arr)) or 1.0
        new = (rng.standard_normal(arr.shape) * scale + float(np.mean(arr))).astype(arr.dtype)
    elif arr.dtype.kind in "iu":
        new = rng.integers(int(arr.min()), int(arr.max()) + 1, size=arr.shape).astype(arr.dtype)
    elif arr.dtype.kind == "b":
        new = rng.random(arr.shape) < 0.5
    else:
        return a
    return wrap(new) if isinstance(a, Tensor) else new


def _close(got: tuple, want: tuple) -> bool:
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        if g.shape != w.shape or g.dtype != w.dtype:
            return False
        if w.dtype.kind in "fc":
            if not np.allclose(g, w, rtol=1e-5, atol=1e-6 * (float(np.abs(w).max(initial=0))
                                                             or 1.0), equal_nan=True):
                return False
        elif not np.array_equal(g, w):
            return False
    return len(got) == len(want)


class Specialisation:
    """One replay: the graph before and after the passes, and the function."""

    def __init__(self, captured: Graph, planned: Graph, replay: Replay) -> None:
        self.captured = captured
        self.planned = planned
        self.replay = replay


class CompiledModule(Module):
    """The callable :func:`compile` returns: an ordinary Module around the
    original model (same parameters, same ``state_dict``) whose ``__call__``
    replays the captured ops. See the module docstring for the guards.

    Attributes:
        model: the original model (untouched; its parameters are shared).
        stats: counters ``{"replays", "traces", "eager"}`` (how many calls
            replayed, how many captures were made, how many calls fell back
            to eager mode).
    """

    def __init__(self, model: Module, example_inputs: tuple, passes=PASSES,
                 verify: bool = True) -> None:
        super().__init__()
        self.model = model
        object.__setattr__(self, "training", False)
        object.__setattr__(self, "_passes", tuple(passes))
        object.__setattr__(self, "_verify", verify)
        object.__setattr__(self, "_specs", {})
        object.__setattr__(self, "_guard", None)
        object.__setattr__(self, "stats", {"replays": 0, "traces": 0, "eager": 0})
        self._specialise(example_inputs, _signature(example_inputs))

    # ----------------------------------------------------------- tracing
    def _specialise(self, args: tuple, key: tuple) -> Specialisation:
        with no_grad():
            graph, eager = capture(self.model, args)
            self.stats["traces"] += 1
            planned = run_passes(graph, self._passes)
            replay = generate(planned)
            if self._verify:
                self._check(graph, replay, args, eager)
        spec = Specialisation(graph, planned, replay)
        self._specs[key] = spec
        # Every specialisation's parameters are guarded (another shape may
        # take a path reading other parameters).
        object.__setattr__(self, "_guard", _make_guard(
            self.model, [s.captured for s in self._specs.values()]))
        return spec

    def _check(self, graph: Graph, replay: Replay, args: tuple, eager) -> None:
        want = tuple(o.data for o in (eager if graph.out_tuple else (eager,)))
        if not _close(replay(*_arrays(args)), want):
            raise CompileError("the replay differs from eager mode on the example input")
        rng = np.random.default_rng(0)
        other = tuple(_other_input(a, rng) for a in args)
        try:
            graph2, eager2 = capture(self.model, other)
        except CompileError:
            raise
        except Exception as exc:
            raise CompileError(
                "running the forward a second time with arguments of the same shapes failed "
                f"({type(exc).__name__}: {exc}); a stateful forward (one that advances a KV "
                "cache, a counter, a random stream) cannot be captured") from exc
        if [n.op.name for n in graph2.nodes] != [n.op.name for n in graph.nodes]:
            raise CompileError(
                "the forward ran different ops on a second, random input of the same shape: "
                "its Python control flow depends on tensor values (if/while on .item(), "
                "bool(tensor), .numpy()), which a capture cannot replay")
        want2 = tuple(o.data for o in (eager2 if graph2.out_tuple else (eager2,)))
        if not _close(replay(*_arrays(other)), want2):
            raise CompileError(
                "the replay differs from eager mode on a second, random input: the forward "
                "uses tensor values outside the ops (.item(), .numpy(), bool(tensor) or "
                "arrays built from them), which a capture cannot see")

    # ------------------------------------------------------------ calling
    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError("a compiled model takes positional arguments only, got "
                            f"keywords {sorted(kwargs)}")
        if is_grad_enabled():
            raise RuntimeError("a compiled model runs inference only: call it under "
                               "tinytorch.autograd.no_grad() (use the original model to train)")
        if self._guard() != REPLAY and not self._model_unchanged():
            self.stats["eager"] += 1
            return self.model(*args)
        key, arrays = _split(args)
        spec = self._specs.get(key)
        if spec is None:
            if len(self._specs) >= MAX_SPECIALISATIONS:
                self.stats["eager"] += 1
                return self.model(*args)
            spec = self._specialise(args, key)
        try:
            outs = spec.replay.fn(*arrays)
        except Exception:  # noqa: BLE001 -- eager mode raises the model's own clear error
            self.stats["eager"] += 1
            return self.model(*args)
        self.stats["replays"] += 1
        if spec.captured.out_tuple:
            return tuple(wrap(np.asarray(o)) for o in outs)
        out = outs[0]
        return wrap(out if type(out) is np.ndarray else np.asarray(out))

    def _model_unchanged(self) -> bool:
        """After a failed guard: False when the call must run eagerly (a module
        in training mode); otherwise drop every replay (the model changed, and
        they read the old one) so that this call retraces. True then."""
        if self._guard() == EAGER:
            return False
        self._specs.clear()
        object.__setattr__(self, "_guard", lambda: REPLAY)  # until the retrace makes one
        # A swapped-in module is not covered by the old guard: check it here.
        return not any(m.training for _, m in self.model.named_modules())

    def forward(self, *args):
        return self(*args)

    # ------------------------------------------------------------ explain
    def explain(self, file=None) -> str:
        """Print (and return) every specialisation: the captured graph, the
        graph after the passes (op counts, bytes planned) and the replay source."""
        parts = []
        for key, spec in self._specs.items():
            sig = ", ".join(f"{tuple(k[0])} {np.dtype(k[1]).name}" if isinstance(k[0], tuple)
                            else repr(k[1]) for k in key)
            parts.append(f"== specialisation ({sig})")
            parts.append(f"-- captured: {len(spec.captured.nodes)} ops")
            parts.append(spec.captured.format())
            parts.append(f"-- after passes ({', '.join(p.__name__ for p in self._passes)}): "
                         f"{len(spec.planned.nodes)} ops")
            parts.append(spec.planned.format())
            parts.append("-- replay")
            parts.append(spec.replay.source.rstrip())
        text = "\n".join(parts)
        print(text, file=file)
        return text

    def extra_repr(self) -> str:
        return f"specialisations={len(self._specs)}"


REPLAY, EAGER, RETRACE = 0, 1, 2


def _make_guard(model: Module, graphs: list[Graph]):
    """Generate ``guard() -> REPLAY | EAGER | RETRACE`` for ``model``.

    EAGER when any module is in training mode. RETRACE when a submodule was
    swapped (``parent.name is child`` fails), or a parameter the graph read
    was replaced (``owner.name is tensor``), given a new array
    (``tensor.data is array``) or written in place (``tensor.version``).
    Generated as one expression so that a call pays only the attribute
    reads: O(modules + parameters read) per call.
    """
    ns: dict = {}
    modules = list(model.named_modules())
    training = " or ".join(f"m{i}.training" for i in range(len(modules))) or "False"
    checks = []
    index = {id(m): i for i, (_, m) in enumerate(modules)}
    for i, (_, m) in enumerate(modules):
        # Registered parameters and submodules are found by the class's
        # __getattr__; calling it directly skips the failed normal lookup
        # (and its AttributeError), 5x cheaper than m.name.
        ns[f"m{i}"], ns[f"g{i}"] = m, type(m).__getattr__
        for name, child in m.named_children():
            checks.append(f"g{i}(m{i}, {name!r}) is m{index[id(child)]}")
    # Every place a parameter the graphs read is registered: a tied weight
    # (the same Tensor under two modules) is checked under each name.
    read = {id(v.source): v for g in graphs for v in g.values if v.kind == "param"}
    for i, (_, m) in enumerate(modules):
        owned = [*m.named_parameters(recurse=False), *m.named_buffers(recurse=False)]
        for attr, t in owned:
            v = read.get(id(t))
            if v is None:
                continue
            key = f"{id(t)}"
            ns[f"t{key}"], ns[f"a{key}"] = v.source, v.array
            checks.append(f"g{i}(m{i}, {attr!r}) is t{key} and t{key}.data is a{key} "
                          f"and t{key}.version == {v.version}")
    source = (f"def guard():\n    if {training}:\n        return {EAGER}\n"
              f"    try:\n        if {' and '.join(checks) or 'True'}:\n"
              f"            return {REPLAY}\n    except AttributeError:\n        pass\n"
              f"    return {RETRACE}\n")
    exec(builtins.compile(source, "<tinytorch.accel guard>", "exec"), ns)  # noqa: S102
    return ns["guard"]


def compile(model, example_inputs, *, passes=PASSES, verify: bool = True) -> CompiledModule:  # noqa: A001
    """Capture ``model(*example_inputs)`` once and return a guarded replay.

    Args:
        model: a :class:`tinytorch.nn.Module` in eval mode (``model.eval()``).
        example_inputs: a Tensor/ndarray or a tuple of positional arguments
            (Tensors and ndarrays are graph inputs; ints, floats, bools, strs
            and None are static and part of the specialisation key).
        passes: the passes to run, in order (default: DCE, constant folding,
            elementwise fusion, buffer planning); ``()`` replays the raw capture.
        verify: compare the replay with eager mode on the example input and
            on a second random input (recommended; it is what detects
            data-dependent Python control flow).

    Returns:
        a :class:`CompiledModule`; call it under ``no_grad`` like the model.

    Raises:
        TypeError: ``model`` is not a Module, or an example input has a
            type that cannot be an argument.
        ValueError: the model (or one of its modules) is in training mode, or
            an example input requires grad.
        CompileError: the forward cannot be replayed (in-place writes,
            value-dependent control flow or indexing, see the module doc).

    Cost: two eager forwards and two captures, plus O(ops) for the passes.
    """
    if not isinstance(model, Module):
        raise TypeError(f"compile: model must be a tinytorch.nn.Module, got "
                        f"{type(model).__name__}")
    training = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    if training:
        raise ValueError(f"compile: the model is in training mode ({', '.join(training[:3])}"
                         f"{'...' if len(training) > 3 else ''}); call model.eval() first: a "
                         "compiled model replays inference only")
    return CompiledModule(model, _check_inputs(example_inputs), passes, verify)
