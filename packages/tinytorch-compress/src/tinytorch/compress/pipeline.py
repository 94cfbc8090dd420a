"""One pipeline: prune, fine-tune, quantize (Han et al.'s Deep Compression order).

A recipe is a list of ``(step, options)`` pairs (or a dict, in its order)::

    recipe = [
        ("prune", {"amount": 0.9, "scope": "global", "data": train, "epochs": 3}),
        ("finetune", {"data": train, "epochs": 2, "lr": 1e-3}),
        ("quantize", {"mode": "dynamic"}),
    ]

Steps and their options (required ones in capitals):

=============  ==============================================================
``prune``      AMOUNT, ``scope`` ("global"), ``parameters``; with ``data`` (and
               ``epochs``, ``lr``) the sparsity ramps up gradually while
               training (Zhu & Gupta), else one shot
``structured`` AMOUNT, ``norm``, ``heads``, ``mlp``, ``layers``: :func:`structured_prune`
``low_rank``   ``rank`` or ``energy``, ``parameters``: :func:`low_rank`
``finetune``   DATA, ``epochs`` (1), ``lr`` (1e-3), ``optimizer`` ("adam"|"sgd")
``quantize``   ``mode``: "dynamic" (default) or "static" (with CALIBRATION
               batches) int8, or "weights" (``bits``, ``group_size``); masks
               are folded in first
=============  ==============================================================
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from tinytorch import nn
from tinytorch.nn import Module
from tinytorch.optim import SGD, Adam, Trainer
from tinytorch.quant import quantize_dynamic, quantize_static, quantize_weights

from .lowrank import low_rank
from .prune import GradualPruning, _check_model, _Masked, magnitude_prune, remove_pruning
from .sparsity import SparsityReport, measure_sparsity
from .structured import structured_prune

__all__ = ["compress_model", "CompressionReport", "STEPS"]

STEPS = {
    "prune": ({"amount"}, {"scope", "parameters", "data", "epochs", "lr"}),
    "structured": ({"amount"}, {"norm", "heads", "mlp", "layers"}),
    "low_rank": (set(), {"rank", "energy", "parameters"}),
    "finetune": ({"data"}, {"epochs", "lr", "optimizer"}),
    "quantize": (set(), {"mode", "calibration", "bits", "group_size"}),
}


@dataclass
class CompressionReport:
    """Before and after (:class:`SparsityReport` each), and one line per step."""

    before: SparsityReport
    after: SparsityReport
    steps: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Dense bytes before over bitmask-encoded bytes after."""
        return self.before.bytes / max(self.after.sparse_bytes, 1)

    def __str__(self) -> str:
        lines = ["steps: " + " -> ".join(self.steps) if self.steps else "steps: none",
                 str(self.after),
                 f"before: {self.before.elements} elements, {self.before.bytes} bytes; after: "
                 f"{self.after.elements} elements, sparsity {self.after.sparsity:.3f}, "
                 f"{self.after.bytes} bytes dense, {self.after.sparse_bytes} bytes with "
                 f"bitmasks ({self.ratio:.1f}x smaller)"]
        return "\n".join(lines)


def _steps(recipe) -> list[tuple[str, dict]]:
    """The recipe as validated ``(step, options)`` pairs."""
    if isinstance(recipe, dict):
        recipe = list(recipe.items())
    if isinstance(recipe, (str, bytes)) or not isinstance(recipe, (list, tuple)):
        raise TypeError(f"compress_model: recipe must be a list of (step, options) pairs or "
                        f"a dict, got {type(recipe).__name__}")
    steps = []
    for i, item in enumerate(recipe):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], dict)):
            raise TypeError(f"compress_model: recipe step {i} must be a (name, options dict) "
                            f"pair, got {item!r}")
        name, options = item
        if name not in STEPS:
            raise ValueError(f"compress_model: recipe step {i} {name!r} does not exist; "
                             f"steps are {sorted(STEPS)}")
        required, optional = STEPS[name]
        missing, unknown = required - set(options), set(options) - required - optional
        if missing or unknown:
            raise ValueError(f"compress_model: step {name!r}: missing options "
                             f"{sorted(missing)}, unknown options {sorted(unknown)} (it takes "
                             f"{sorted(required)} and optionally {sorted(optional)})")
        steps.append((name, options))
    return steps


def _optimizer(model: Module, options: dict):
    kind, lr = options.get("optimizer", "adam"), options.get("lr", 1e-3)
    if kind not in ("adam", "sgd"):
        raise ValueError(f"compress_model: optimizer must be 'adam' or 'sgd', got {kind!r}")
    params = list(model.parameters())
    return Adam(params, lr=lr) if kind == "adam" else SGD(params, lr=lr, momentum=0.9)


def _train(model: Module, options: dict, scheduler=None) -> None:
    opt = _optimizer(model, options)
    if scheduler is not None:
        scheduler = scheduler(opt)
    Trainer(model, opt, nn.CrossEntropyLoss(), scheduler=scheduler,
            progress=False).fit(options["data"], options.get("epochs", 1))


def _prune(model: Module, o: dict) -> tuple[Module, str]:
    scope = o.get("scope", "global")
    if "data" not in o:
        return (magnitude_prune(model, o["amount"], scope, o.get("parameters")),
                f"prune {o['amount']:.0%} ({scope})")
    model = remove_pruning(model) if any(isinstance(m, _Masked) for m in model.modules()) \
        else copy.deepcopy(model)
    if not hasattr(o["data"], "__len__"):
        raise ValueError("compress_model: gradual pruning needs data with a length (a list "
                         "of batches or a DataLoader) to lay out its schedule")
    steps = len(o["data"]) * o.get("epochs", 1)
    end = max(2, int(0.75 * steps))  # ramp over 3/4 of training, then recover
    _train(model, o, lambda opt: GradualPruning(model, o["amount"], 0, end, scope=scope,
                                                parameters=o.get("parameters"),
                                                frequency=max(1, end // 20)))
    return model, f"gradual prune {o['amount']:.0%} ({scope}, {steps} steps)"


def _quantize(model: Module, o: dict) -> tuple[Module, str]:
    mode = o.get("mode", "dynamic")
    model = remove_pruning(model)
    if mode == "dynamic":
        return quantize_dynamic(model), "int8 dynamic"
    if mode == "static":
        if "calibration" not in o:
            raise ValueError("compress_model: quantize mode 'static' needs calibration= batches")
        return quantize_static(model, o["calibration"]), "int8 static"
    if mode == "weights":
        bits, group = o.get("bits", 4), o.get("group_size", 32)
        return quantize_weights(model, bits=bits, group_size=group), f"int{bits} weights"
    raise ValueError(f"compress_model: quantize mode must be 'dynamic', 'static' or "
                     f"'weights', got {mode!r}")


def compress_model(model: Module, recipe, *, verbose: bool = True
                   ) -> tuple[Module, CompressionReport]:
    """Run ``recipe`` (module docstring) on a copy of ``model``; print a per-layer table.

    Returns:
        ``(compressed_model, CompressionReport)``; ``model`` is untouched.

    Raises:
        TypeError: model not a Module, a recipe that is not a list of
            ``(name, options)`` pairs. ValueError: a step that does not
            exist, a missing or unknown option, or any error of the step's
            function (an amount outside [0, 1), a rank too large...), raised
            before anything is trained when it is about the recipe's form.
    """
    _check_model(model, "compress_model")
    steps = _steps(recipe)
    before = measure_sparsity(model)
    report = CompressionReport(before, before)
    for name, o in steps:
        if name == "prune":
            model, what = _prune(model, o)
        elif name == "structured":
            model = structured_prune(model, o["amount"], norm=o.get("norm", 2),
                                     heads=o.get("heads"), mlp=o.get("mlp"),
                                     layers=o.get("layers"))
            what = f"structured {o['amount']:.0%}"
        elif name == "low_rank":
            model = low_rank(model, o.get("rank"), o.get("energy"), o.get("parameters"))
            what = "low rank"
        elif name == "finetune":
            model = copy.deepcopy(model)
            _train(model, o)
            what = f"fine-tune {o.get('epochs', 1)} epoch(s)"
        else:
            model, what = _quantize(model, o)
        report.steps.append(what)
    report.after = measure_sparsity(model)
    if verbose:
        print(report)
    return model.eval(), report
