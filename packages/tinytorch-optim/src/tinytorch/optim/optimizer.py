"""The optimizer base class: parameter groups, per-parameter state, and its
exact save/restore.

An optimizer holds *parameter groups*, each a dict with a ``"params"`` list
and that group's hyperparameters (``lr``, ``momentum``, ...), and a
*state* dict mapping each parameter to its buffers (momentum, Adam moments,
step counts). Subclasses implement one method, :meth:`Optimizer._update`,
that updates one parameter in place from its gradient with NumPy; the base
class does everything else the same way for every rule:

* accepts ``params`` as an iterable of Tensors or of dicts
  ``{"params": [...], "lr": ..., ...}`` (per-group options override the
  constructor's defaults), exactly like ``torch.optim``;
* skips parameters whose ``grad`` is None;
* ``zero_grad(set_to_none=True)``;
* ``state_dict()`` / ``load_state_dict()``: a copy of every buffer and
  hyperparameter, keyed by the parameter's position (not its identity), so
  it restores into a fresh optimizer built over a fresh model; loading
  validates the number of groups, of parameters per group, the state keys
  and every buffer's shape before changing anything.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

from tinytorch.autograd import enable_grad
from tinytorch.nn.serialization import cast_problem
from tinytorch.tensor import Tensor

from ._validate import check_hyperparameter

__all__ = ["Optimizer", "check_hyperparameter"]

_REQUIRED = object()  # marks a default the caller must supply (SGD's lr)


class Optimizer:
    """Base class of every optimizer (``SGD``, ``Adam``, ``AdamW``).

    Args:
        params: an iterable of parameters (floating-point leaf Tensors, e.g.
            ``model.parameters()``) or of dicts ``{"params": iterable, **options}``
            defining parameter groups with their own hyperparameters.
        defaults: the hyperparameters of a group that does not override them.

    Attributes:
        param_groups: list of dicts, each ``{"params": [Tensor, ...], **hyperparameters}``.
            Schedules and users change ``group["lr"]`` here.
        state: dict ``param -> dict`` of that parameter's buffers
            (ndarrays of the parameter's shape and dtype) and counters.
        defaults: the constructor's hyperparameters.

    Subclasses define ``_update(param, grad, state, group)`` and
    ``_state_keys`` (the names of the per-parameter state entries, used to
    validate a loaded state dict), and may override ``_check_group``.

    Raises:
        TypeError: ``params`` is a single Tensor, or holds something other
            than Tensors/dicts, or a non-float / non-leaf Tensor.
        ValueError: an empty parameter list, a parameter appearing twice,
            a group without ``"params"``, or a hyperparameter out of range.
    """

    _state_keys: frozenset = frozenset()

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        if isinstance(params, Tensor):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts, got a single Tensor "
                "(wrap it in a list: [param])"
            )
        if isinstance(params, dict) or not isinstance(params, Iterable):
            raise TypeError(
                "params must be an iterable of Tensors or of dicts, got "
                f"{type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (e.g. a new layer
        unfrozen during fine-tuning). Missing options take the defaults.

        Raises:
            TypeError / ValueError: as for the constructor.
        """
        if not isinstance(param_group, dict):
            raise TypeError(
                f"a parameter group must be a dict, got {type(param_group).__name__} "
                "(do not mix Tensors and dicts in params)"
            )
        if "params" not in param_group:
            raise ValueError("a parameter group dict needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("a group's params must be an ordered sequence, not a set "
                            "(the order must be the same on every run for state_dict)")
        params = list(params)
        if not params:
            raise ValueError(f"parameter group {len(self.param_groups)} has no parameters")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but parameter {i} of group "
                    f"{len(self.param_groups)} is a {type(p).__name__}"
                )
            if p.data.dtype.kind != "f":
                raise TypeError(
                    f"optimizer can only optimize floating-point Tensors, parameter {i} "
                    f"has dtype {p.data.dtype}"
                )
            if not p.is_leaf:
                raise TypeError(f"can't optimize a non-leaf Tensor (parameter {i}); "
                                "optimize the leaf it was computed from")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids) or seen.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group "
                             "(or twice in one)")

        group = {"params": params}
        for key, default in self.defaults.items():
            value = param_group.get(key, default)
            if value is _REQUIRED:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"option {key!r}")
            group[key] = value
        for key, value in param_group.items():  # extra keys (e.g. a name) are kept
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict) -> None:
        """Validate (and normalise) a group's hyperparameters in place.
        Subclasses extend this; the base checks ``lr``."""
        group["lr"] = check_hyperparameter("lr", group["lr"])

    def _params(self) -> list:
        return [p for group in self.param_groups for p in group["params"]]

    # ------------------------------------------------------------------ steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of every parameter.

        ``set_to_none=True`` (default) drops them (``grad = None``): cheaper,
        and a parameter that gets no gradient next step is then skipped by
        ``step()``. ``False`` fills the existing arrays with zeros in place.
        """
        for p in self._params():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.data.fill(0)

    def step(self, closure=None):
        """Update every parameter that has a gradient, in place.

        Args:
            closure: optional callable that re-computes the loss (zeroing the
                grads and calling backward itself) and returns it; it runs
                with grad mode on, before the update.

        Returns:
            The closure's loss, or None.

        Cost: O(P) NumPy work for P parameter elements, one Python iteration
        per parameter Tensor.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if g.shape != p.data.shape:
                    raise ValueError(f"gradient of shape {g.shape} for a parameter of shape "
                                     f"{p.data.shape}")
                self._update(p.data, g, self.state.setdefault(p, {}), group)
                # An in-place write: a graph that saved p must not reuse it.
                p.bump_version()
        return loss

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """Update ``param`` (the parameter's ndarray) in place. ``grad`` must
        not be modified. ``state`` is this parameter's (initially empty) dict."""
        raise NotImplementedError

    # ------------------------------------------------------------- save/load
    def state_dict(self) -> dict:
        """A snapshot of the optimizer: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are replaced by their position across all groups (0, 1,
        ...), as in ``torch.optim``; every ndarray is copied, so later steps
        do not change the snapshot. Only plain values (floats, ints, bools,
        tuples, strings) and ndarrays appear: the dict can be written by
        :func:`tinytorch.optim.save_state` without pickle.
        """
        index = {id(p): i for i, p in enumerate(self._params())}
        groups = []
        for group in self.param_groups:
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        state = {}
        for p in self._params():
            entry = self.state.get(p)
            if entry:
                state[index[id(p)]] = {
                    k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in entry.items()
                }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore a snapshot made by :meth:`state_dict` (of an optimizer of
        the same class over parameters of the same shapes, in the same order).

        Every buffer is copied and cast to its parameter's dtype; the groups'
        hyperparameters (``lr``, ``betas``, ``initial_lr``, ...) are replaced
        by the saved ones. Nothing changes if validation fails.

        Raises:
            TypeError: ``state_dict`` is not such a dict.
            KeyError: ``"state"`` or ``"param_groups"`` is missing.
            ValueError: a different number of groups or of parameters in a
                group, a state entry for a parameter index that does not
                exist, missing/unexpected state keys, or a buffer whose shape
                differs from its parameter's (each message names the group,
                the parameter index and the shapes), or a buffer value the
                cast to the parameter's dtype would change (a float64 that
                overflows float32).
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"state_dict must be a dict, got {type(state_dict).__name__}")
        missing = [k for k in ("state", "param_groups") if k not in state_dict]
        if missing:
            raise KeyError(f"optimizer state_dict is missing {missing}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter group(s), "
                f"this optimizer has {len(self.param_groups)}"
            )
        params = self._params()
        new_groups = []
        for gi, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            n_saved = len(saved.get("params", ()))
            if n_saved != len(group["params"]):
                raise ValueError(
                    f"parameter group {gi}: loaded state dict has {n_saved} parameter(s), "
                    f"this optimizer has {len(group['params'])}"
                )
            lacking = sorted(set(self.defaults) - set(saved))
            if lacking:
                raise ValueError(
                    f"parameter group {gi} of the loaded state dict lacks the hyperparameter "
                    f"keys {lacking} of {type(self).__name__} (was it saved by a different "
                    "optimizer?)"
                )
            new = {k: v for k, v in saved.items() if k != "params"}
            new["params"] = group["params"]
            self._check_group(new)
            new_groups.append(new)

        new_state = {}
        for key, entry in dict(state_dict["state"]).items():
            if isinstance(key, bool) or not isinstance(key, numbers.Integral) \
                    or not 0 <= key < len(params):
                raise ValueError(f"loaded optimizer state refers to parameter {key!r}, but "
                                 f"this optimizer has parameters 0..{len(params) - 1}")
            p = params[int(key)]
            keys = set(entry)
            if keys != self._state_keys:
                raise ValueError(
                    f"state of parameter {key}: expected keys {sorted(self._state_keys)}, "
                    f"got {sorted(keys)} (was it saved by a different optimizer?)"
                )
            restored = {}
            for name, value in entry.items():
                if isinstance(value, (np.ndarray, Tensor)):
                    arr = np.asarray(value.data if isinstance(value, Tensor) else value)
                    if arr.shape != p.data.shape:
                        raise ValueError(
                            f"state {name!r} of parameter {key} has shape {arr.shape}, but the "
                            f"parameter has shape {p.data.shape}"
                        )
                    problem = cast_problem(arr, p.data.dtype)
                    if problem is not None:
                        raise ValueError(f"state {name!r} of parameter {key} ({arr.dtype}) cannot "
                                         f"be loaded as {p.data.dtype}: {problem}")
                    restored[name] = np.array(arr, dtype=p.data.dtype, copy=True)
                else:
                    restored[name] = value
            new_state[p] = restored

        self.param_groups = new_groups
        self.state = new_state

    # ------------------------------------------------------------------- misc
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
