"""``Module``: the tree of layers that owns parameters, buffers and submodules.

A model is a tree. Each node is a Module; its state lives in three ordered
dicts filled automatically by attribute assignment::

    model = Sequential(Linear(784, 256), ReLU(), Linear(256, 10))

    Sequential                      _modules:    {"0": Linear, "1": ReLU, "2": Linear}
    ├── (0) Linear                  _parameters: {"weight": (784, 256), "bias": (256,)}
    ├── (1) ReLU
    └── (2) Linear                  _parameters: {"weight": (256, 10), "bias": (10,)}

    named_parameters() -> "0.weight", "0.bias", "2.weight", "2.bias"

``self.w = Parameter(...)`` lands in ``_parameters``, ``self.fc = Linear(...)``
in ``_modules`` and ``register_buffer("running_mean", ...)`` in ``_buffers``
(non-trainable state saved with the model). Walking the tree gives dotted
names (``blocks.0.attn.qkv.weight``), the state dict, ``train()``/``eval()``
propagation and module swaps (``set_submodule``).

Calling a module runs, in order: the global forward pre-hooks, its own
forward pre-hooks, ``forward``, the global forward hooks, its own forward
hooks (PyTorch's order). A hook that returns something other than None
replaces the arguments (pre-hooks) or the output (hooks).
"""

from __future__ import annotations

import itertools
import zipfile
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator

import numpy as np

from tinytorch.tensor import HookHandle, Tensor, atomic_write

from .parameter import Parameter
from .serialization import cast_problem, read_npz

__all__ = [
    "Module",
    "RemovableHandle",
    "StateDictError",
    "IncompatibleKeys",
    "register_module_forward_hooks",
    "register_module_forward_pre_hook",
    "register_module_forward_hook",
]

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(KeyError, ValueError):
    """``load_state_dict`` found missing, unexpected or mis-shaped keys.

    Catchable as ``KeyError`` (missing/unexpected keys) and as ``ValueError``
    (shape mismatches); one exception reports every problem at once. The
    lists are available as ``missing_keys``, ``unexpected_keys`` and
    ``mismatched`` (``(key, expected_shape, got_shape)`` triples).
    """

    def __init__(self, message: str, missing=(), unexpected=(), mismatched=()) -> None:
        super().__init__(message)
        self.message = message
        self.missing_keys = list(missing)
        self.unexpected_keys = list(unexpected)
        self.mismatched = list(mismatched)

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.message


# ------------------------------------------------------------------- hooks

_hook_ids = itertools.count()
_global_pre_hooks: OrderedDict = OrderedDict()
_global_post_hooks: OrderedDict = OrderedDict()


# Module hooks hand back the stack's one handle class (tinytorch.tensor's).
RemovableHandle = HookHandle


def _handle(*entries: tuple[OrderedDict, int], pre=None, post=None) -> HookHandle:
    """A handle that pops each ``(registry, key)`` entry when removed."""
    def undo() -> None:
        for registry, key in entries:
            registry.pop(key, None)
    return HookHandle(undo, pre, post)


def _add_hook(registry: OrderedDict, fn, what: str) -> tuple[OrderedDict, int]:
    """Store ``fn`` under a fresh key; the ``(registry, key)`` entry for a handle.

    Raises:
        TypeError: ``fn`` is not callable (``what`` names it).
    """
    if not callable(fn):
        raise TypeError(f"{what} must be callable, got {type(fn).__name__}")
    key = next(_hook_ids)
    registry[key] = fn
    return registry, key


def register_module_forward_hooks(pre: Callable | None = None,
                                  post: Callable | None = None) -> HookHandle:
    """Hooks called around *every* module's ``__call__`` (profilers use this).

    ``pre(module, args)`` runs before each forward, ``post(module, args, output)``
    after it; as with per-module hooks, a non-None return value replaces the
    arguments / the output. Returns one handle removing both.

    Raises:
        ValueError: neither hook given. TypeError: a hook is not callable.
    """
    if pre is None and post is None:
        raise ValueError("register_module_forward_hooks needs pre, post, or both")
    if post is not None and not callable(post):  # before pre is registered: nothing leaks
        raise TypeError(f"the post hook must be callable, got {type(post).__name__}")
    entries = []
    if pre is not None:
        entries.append(_add_hook(_global_pre_hooks, pre, "the pre hook"))
    if post is not None:
        entries.append(_add_hook(_global_post_hooks, post, "the post hook"))
    return _handle(*entries, pre=pre, post=post)


def active_module_hooks() -> tuple[tuple, tuple]:
    """The global ``(pre_hooks, post_hooks)`` registered with
    :func:`register_module_forward_hooks`, in call order."""
    return tuple(_global_pre_hooks.values()), tuple(_global_post_hooks.values())


def register_module_forward_pre_hook(fn: Callable) -> HookHandle:
    """Global ``fn(module, args)`` before every module's forward."""
    return register_module_forward_hooks(pre=fn)


def register_module_forward_hook(fn: Callable) -> HookHandle:
    """Global ``fn(module, args, output)`` after every module's forward."""
    return register_module_forward_hooks(post=fn)


# ------------------------------------------------------------------ Module


def _write_npz(f, arrays: dict) -> None:
    """The ``.npz`` format (a zip of ``.npy`` files), written entry by entry.

    Same bytes as ``np.savez``, without its keyword-argument interface, in
    which a state key named ``file`` or ``allow_pickle`` would collide.
    """
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, np.asanyarray(array), allow_pickle=False)



def _as_buffer(value, name: str) -> Tensor:
    if isinstance(value, Parameter):
        raise TypeError(f"buffer {name!r} cannot be a Parameter; assign it as an attribute")
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value, dtype=value.dtype)  # keeps float64/int64 buffers as they are
    raise TypeError(f"buffer {name!r} must be a Tensor, an ndarray or None, "
                    f"got {type(value).__name__}")


class Module:
    """Base class of every layer and model.

    Subclasses call ``super().__init__()`` first, assign parameters and
    submodules as attributes, and implement ``forward``. Calling the module
    runs the hooks and ``forward``.

    Attributes:
        training: True in training mode (Dropout active, BatchNorm uses batch
            statistics); set recursively by ``train()`` / ``eval()``.
    """

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    # ------------------------------------------------------------- forward
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        if not (_global_pre_hooks or _global_post_hooks
                or self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)  # the common, hook-free path
        for hook in (*_global_pre_hooks.values(), *self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in (*_global_post_hooks.values(), *self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, fn: Callable) -> HookHandle:
        """``fn(module, args)`` before ``forward``; a non-None return (a tuple,
        or a single value) replaces the positional arguments."""
        return _handle(_add_hook(self._forward_pre_hooks, fn, "a forward pre-hook"), pre=fn)

    def has_forward_hooks(self) -> bool:
        """True when forward pre-hooks or forward hooks are registered on this
        module itself (the global hooks of :func:`register_module_forward_hooks`
        are not counted).

        The extension point for code that may replace a call of this module by
        an equivalent computation (a fused kernel): it must not skip hooks, so
        it falls back to calling the module when this is True. O(1).
        """
        return bool(self._forward_pre_hooks or self._forward_hooks)

    def register_forward_hook(self, fn: Callable) -> HookHandle:
        """``fn(module, args, output)`` after ``forward``; a non-None return
        replaces the output."""
        return _handle(_add_hook(self._forward_hooks, fn, "a forward hook"), post=fn)

    # ------------------------------------------------------- registration
    def __setattr__(self, name: str, value) -> None:
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )
        modules, buffers = self._modules, self._buffers
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value  # a swap keeps the position of the old module
        elif name in params or name in modules:  # assigning None unregisters
            registry, what, kind = ((params, "parameter", "Parameter") if name in params
                                    else (modules, "submodule", "Module"))
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} to {what} {name!r} "
                    f"(expected a {kind} or None)"
                )
            del registry[name]
            object.__setattr__(self, name, None)
        elif name in buffers:
            if value is None:
                del buffers[name]
                self._non_persistent.discard(name)
                object.__setattr__(self, name, None)
            else:
                buffers[name] = _as_buffer(value, name)
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict) -> None:
        """Remove ``name`` from every registry except ``keep`` (and from __dict__)."""
        for registry in (self._parameters, self._modules, self._buffers):
            if registry is not keep:
                registry.pop(name, None)
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str):
        # Only called when normal lookup fails: registered state lives in the dicts.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            table = d.get(registry)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters)
                      | set(self._buffers) | set(self._modules))

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Register non-trainable state (BatchNorm running statistics).

        ``tensor`` is a Tensor, an ndarray (its dtype is kept) or None.
        Persistent buffers are part of ``state_dict()``.

        Raises:
            KeyError: ``name`` is empty, dotted, or already a parameter/submodule/attribute.
            TypeError: ``tensor`` has an unsupported type.
        """
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"buffer name must be a non-empty string without dots, got {name!r}")
        if name in self._parameters or name in self._modules or (
            name in self.__dict__ and name not in self._buffers
        ):
            raise KeyError(f"attribute {name!r} already exists on {type(self).__name__}")
        self._buffers[name] = None if tensor is None else _as_buffer(tensor, name)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Same as ``setattr(self, name, param)`` with a check of the type."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, "
                            f"got {type(param).__name__}")
        setattr(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Same as ``setattr(self, name, module)``; ``name`` may be ``"0"``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module or None, "
                            f"got {type(module).__name__}")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"module name must be a non-empty string without dots, got {name!r}")
        setattr(self, name, module)

    # ------------------------------------------------------------ walking
    def named_modules(self, prefix: str = "", memo: set | None = None
                      ) -> Iterator[tuple[str, Module]]:
        """``(dotted_name, module)`` for this module and every descendant,
        depth-first in registration order; a module reachable twice appears once."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in memo:
                continue
            memo.add(id(module))
            yield name, module
            children = [
                (f"{name}.{child_name}" if name else child_name, child)
                for child_name, child in module._modules.items() if child is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None:
                    continue
                if remove_duplicate:
                    if id(value) in seen:
                        continue
                    seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)`` pairs: each module's own parameters in
        registration order, then its submodules' (depth-first, as PyTorch).
        A parameter shared by two modules is yielded once, under its first name."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The module at dotted path ``target`` (``""`` is this module).

        Raises:
            AttributeError: a path component does not exist or is not a Module
                (the message names the component and the path).
        """
        if not isinstance(target, str):
            raise TypeError(f"get_submodule: target must be a str, got {type(target).__name__}")
        module = self
        if target == "":
            return module
        walked = []
        for part in target.split("."):
            child = module._modules.get(part)
            if child is None:
                where = ".".join(walked) or "the root module"
                raise AttributeError(
                    f"get_submodule({target!r}): {type(module).__name__} at {where} has no "
                    f"submodule {part!r} (children: {list(module._modules)})"
                )
            walked.append(part)
            module = child
        return module

    def set_submodule(self, target: str, module: Module) -> None:
        """Replace the submodule at dotted path ``target`` by ``module``.

        The new module takes the old one's place (same position in the
        parent's ``_modules``, hence the same parameter order). This is the
        module-swap extension point (e.g. quantized or cached layers).

        Raises:
            TypeError: ``module`` is not a Module. ValueError: empty target.
            AttributeError: the parent path or the final name does not exist.
        """
        if not isinstance(module, Module):
            raise TypeError(f"set_submodule: expected a Module, got {type(module).__name__}")
        if not isinstance(target, str) or target == "":
            raise ValueError("set_submodule: target must be a non-empty dotted path")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if name not in parent._modules:
            raise AttributeError(
                f"set_submodule({target!r}): {type(parent).__name__} has no submodule "
                f"{name!r} (children: {list(parent._modules)})"
            )
        setattr(parent, name, module)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn(m)`` on every submodule (children first) and self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ----------------------------------------------------------- mode, grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to None (frees the memory)."""
        for p in self.parameters():
            p.grad = None

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Number of scalar parameters (shared parameters counted once)."""
        return int(sum(p.data.size for p in self.parameters()
                       if p.requires_grad or not trainable_only))

    def to(self, dtype) -> Module:
        """Convert every floating-point parameter and buffer to ``dtype`` in
        place (the Parameter objects stay the same); returns self."""
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"to(dtype): dtype must be floating point, got {dt}")
        for m in self.modules():
            for registry in (m._parameters, m._buffers):
                for t in registry.values():
                    if t is not None and t.data.dtype.kind == "f" and t.data.dtype != dt:
                        t.data = t.data.astype(dt)
                        if t.grad is not None:
                            t.grad = None
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ------------------------------------------------------------ state dict
    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        # Every name, shared tensors included (as PyTorch): the keys then do
        # not depend on which weights happen to be tied.
        for mod_name, module in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield pre + name, p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    yield pre + name, b

    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameters and persistent buffers: ``{dotted_name: ndarray copy}``,
        in ``named_parameters`` order with each module's buffers after its
        parameters."""
        return {name: t.data.copy() for name, t in self._state_items()}

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy ``state`` (name -> ndarray or Tensor) into this module in place.

        Values are copied into the existing arrays, so they keep their dtype
        and every reference to a parameter (an optimizer's) stays valid.
        Nothing is written unless every check passes.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)`` (empty lists
            when strict).

        Raises:
            StateDictError (a KeyError and a ValueError): with ``strict``, any
                missing or unexpected key; in any mode, a shape mismatch. The
                message lists every missing, unexpected and mis-shaped key.
            TypeError: ``state`` is not a mapping, or a value is not numeric.
            ValueError: a value would change on the copy: a finite float64
                that overflows float32, a fraction, NaN or an out-of-range
                number into an integer buffer, a value other than 0/1 into a
                bool one.
        """
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(f"load_state_dict expects a dict, got {type(state).__name__}")
        own = dict(self._state_items())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched, values = [], {}
        for key, target in own.items():
            if key not in state:
                continue
            value = state[key]
            arr = value.data if isinstance(value, Tensor) else np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict: {key!r} has non-numeric dtype {arr.dtype}")
            if arr.shape != target.data.shape:
                mismatched.append((key, target.data.shape, arr.shape))
            else:
                problem = cast_problem(arr, target.data.dtype)
                if problem is not None:
                    raise ValueError(f"load_state_dict: {key!r} ({arr.dtype}) cannot be loaded "
                                     f"into a {target.data.dtype} tensor: {problem}")
            values[key] = arr
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        if mismatched:
            problems.append("shape mismatches: " + ", ".join(
                f"{k!r} expects {exp} but got {got}" for k, exp, got in mismatched))
        if problems:
            raise StateDictError(
                f"error loading state dict into {type(self).__name__}: " + "; ".join(problems),
                missing if strict else (), unexpected if strict else (), mismatched,
            )
        for key, arr in values.items():
            own[key].data[...] = arr
        return IncompatibleKeys([] if strict else missing, [] if strict else unexpected)

    def save(self, path) -> None:
        """Write ``state_dict()`` to ``path`` as an uncompressed ``.npz``.

        Atomic (:func:`tinytorch.tensor.atomic_write`): an interrupted save
        leaves the previous file intact, and the file keeps its permissions.
        The name is used as given (no ``.npz`` is appended).

        Raises:
            FileNotFoundError: the folder of ``path`` does not exist.
        """
        atomic_write(path, lambda f: _write_npz(f, self.state_dict()))

    def load(self, path, strict: bool = True) -> Module:
        """Fill this module from a file written by ``save``; returns self.

        The file is read with :func:`tinytorch.nn.serialization.read_npz`:
        each array may hold at most 8 bytes per element this module expects
        for it (float64 of the right shape), plus a 4 KiB header, and the
        whole file at most that plus 1 MiB, so a hostile file cannot make
        the load allocate more than the model's own size.

        Raises:
            FileNotFoundError: no such file. ValueError: the file is empty,
                truncated, not an ``.npz`` of numeric arrays, or too large
                (the message names the path). StateDictError /
                ValueError / TypeError: see ``load_state_dict``.
        """
        limits = {name: 8 * t.data.size + 4096 for name, t in self._state_items()}
        state = read_npz(path, f"state file for {type(self).__name__}",
                         max_bytes=sum(limits.values()) + 2**20, member_limits=limits)
        self.load_state_dict(state, strict=strict)
        return self

    # ---------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr line."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        if not self._modules:
            return f"{type(self).__name__}({extra})"
        lines = [extra] if extra else []
        for name, module in self._modules.items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        inner = "\n  ".join(lines)
        return f"{type(self).__name__}(\n  {inner}\n)"
