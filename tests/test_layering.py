"""Mechanical checks of the rules that keep TinyTorch a stack.

Standard library only, so plain ``pytest tests/test_layering.py`` runs it
without installing anything. For every ``packages/*/pyproject.toml``:

1. every declared tinytorch dependency is a package under ``packages/``, and
   the dependency graph has no cycle;
2. no ``src/tinytorch/__init__.py`` exists (``tinytorch`` is a PEP 420
   namespace shared by every distribution);
3. each ``tinytorch.<x>`` subpackage is owned by exactly one package;
4. every ``.py`` file under ``src/`` imports only the subpackages of its own
   package and of the packages it declares, directly or transitively;
5. no package patches another's classes or modules: an assignment, ``del``,
   ``setattr`` or ``delattr`` whose target is an attribute of a name imported
   from another tinytorch package (``Tensor.foo = f``,
   ``setattr(Tensor, "foo", f)``, ``tensor_mod.Tensor.foo = f``) is a violation;
6. no package touches another package's private names (``_name``, dunders
   excepted): see :func:`check_private_access` for the rule.

The checker is a set of pure functions (``check_source`` and
``check_private_access`` on a source string, ``graph_problems`` on a
dependency graph), unit-tested on small synthetic inputs at the bottom of
this file so that each check is shown to fail.
"""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES_DIR = ROOT / "packages"
NAMESPACE = "tinytorch"


# --------------------------------------------------------------------------- #
# Reading the packages
# --------------------------------------------------------------------------- #


def canonical(name: str) -> str:
    """PEP 503 normalisation: ``TinyTorch_Tensor`` -> ``tinytorch-tensor``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution name at the start of a PEP 508 requirement string."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if match is None:
        raise ValueError(f"cannot read a distribution name from requirement {requirement!r}")
    return canonical(match.group(1))


@dataclass(frozen=True)
class PackageInfo:
    """What the checks need to know about one package."""

    name: str  # canonical distribution name
    path: Path  # packages/<dir>
    deps: tuple[str, ...]  # declared tinytorch dependencies (canonical names)
    subpackages: tuple[str, ...]  # the X of every tinytorch.X it owns

    def sources(self) -> list[Path]:
        return sorted((self.path / "src").rglob("*.py"))


def owned_subpackages(package_dir: Path, pyproject: dict) -> tuple[str, ...]:
    """Subpackages under ``src/tinytorch/``, plus the one named by the hatch
    version path (so a package whose sources are not written yet still owns it)."""
    owned: set[str] = set()
    src_ns = package_dir / "src" / NAMESPACE
    if src_ns.is_dir():
        for child in src_ns.iterdir():
            if child.is_dir() and child.name != "__pycache__":
                owned.add(child.name)
            elif child.suffix == ".py" and child.name != "__init__.py":
                owned.add(child.stem)
    version_path = pyproject.get("tool", {}).get("hatch", {}).get("version", {}).get("path", "")
    parts = Path(version_path).parts
    if len(parts) >= 3 and parts[:2] == ("src", NAMESPACE):
        owned.add(Path(parts[2]).stem)
    return tuple(sorted(owned))


def load_packages(packages_dir: Path = PACKAGES_DIR) -> dict[str, PackageInfo]:
    packages: dict[str, PackageInfo] = {}
    for pyproject_path in sorted(packages_dir.glob("*/pyproject.toml")):
        with pyproject_path.open("rb") as f:
            pyproject = tomllib.load(f)
        project = pyproject["project"]
        deps = tuple(
            name
            for name in map(requirement_name, project.get("dependencies", []))
            if name.startswith(f"{NAMESPACE}-")
        )
        name = canonical(project["name"])
        packages[name] = PackageInfo(
            name=name,
            path=pyproject_path.parent,
            deps=deps,
            subpackages=owned_subpackages(pyproject_path.parent, pyproject),
        )
    return packages


# --------------------------------------------------------------------------- #
# The dependency graph
# --------------------------------------------------------------------------- #


def graph_problems(graph: dict[str, tuple[str, ...]]) -> list[str]:
    """Unknown dependencies and cycles in ``graph`` (package -> direct deps)."""
    problems = [
        f"{name} declares {dep}, which is not a package under packages/"
        for name, deps in sorted(graph.items())
        for dep in deps
        if dep not in graph
    ]
    state: dict[str, str] = {}  # "visiting" | "done"

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == "done" or name not in graph:
            return
        if state.get(name) == "visiting":
            cycle = chain[chain.index(name) :] + [name]
            problems.append(f"dependency cycle: {' -> '.join(cycle)}")
            return
        state[name] = "visiting"
        for dep in graph[name]:
            visit(dep, chain + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])
    return problems


def closure(graph: dict[str, tuple[str, ...]], name: str) -> set[str]:
    """``name`` and everything it depends on, transitively (unknown names ignored)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(graph.get(current, ()))
    return seen


# --------------------------------------------------------------------------- #
# The source checker
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Violation:
    line: int
    message: str


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of Attribute nodes ending in a Name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute name of ``from <level dots><target> import ...`` inside ``module``."""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _subpackage(qualified: str) -> str | None:
    """``tinytorch.tensor.core.Tensor`` -> ``tensor``; None outside the namespace."""
    parts = qualified.split(".")
    if len(parts) >= 2 and parts[0] == NAMESPACE:
        return parts[1]
    return None


def check_source(
    source: str,
    *,
    module: str,
    is_package: bool,
    allowed: set[str],
    owners: dict[str, str],
    filename: str = "<source>",
) -> list[Violation]:
    """Layering and patching violations in one module's source.

    ``module`` is the module's dotted name (``tinytorch.nn.linear``) and
    ``is_package`` tells whether the file is an ``__init__.py`` (both are needed
    to resolve relative imports). ``allowed`` holds the subpackages the module
    may import (its own package's and its declared dependencies'), ``owners``
    maps every known subpackage to the distribution that owns it; any other
    subpackage is "foreign". Raises SyntaxError when the source does not parse.
    """
    tree = ast.parse(source, filename=filename)
    own = _subpackage(module)
    violations: list[Violation] = []
    # name bound in this module -> fully qualified name of what it refers to,
    # for names bound to something inside another package's subpackage.
    foreign: dict[str, str] = {}

    def imported(qualified: str, line: int) -> None:
        sub = _subpackage(qualified)
        if sub is None or sub == own:
            return
        if sub not in owners:
            violations.append(
                Violation(line, f"imports {NAMESPACE}.{sub}, which no package under packages/ owns")
            )
        elif sub not in allowed:
            violations.append(
                Violation(
                    line,
                    f"imports {NAMESPACE}.{sub} (owned by {owners[sub]}), "
                    "which its package does not declare as a dependency",
                )
            )

    def bind(name: str, qualified: str) -> None:
        sub = _subpackage(qualified)
        if sub is not None and sub != own:
            foreign[name] = qualified
        elif qualified == NAMESPACE:
            foreign[name] = qualified  # `import tinytorch.x`: resolved per use below

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported(alias.name, node.lineno)
                if alias.asname:
                    bind(alias.asname, alias.name)
                else:
                    bind(alias.name.split(".")[0], alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            for alias in node.names:
                if alias.name == "*":
                    imported(base, node.lineno)
                    continue
                # `from tinytorch import tensor` imports the subpackage itself.
                qualified = f"{base}.{alias.name}" if base else alias.name
                imported(qualified if base == NAMESPACE else base, node.lineno)
                bind(alias.asname or alias.name, qualified)
        elif isinstance(node, ast.Call) and node.args:
            func = _dotted(node.func)
            first = node.args[0]
            if (
                func in {"importlib.import_module", "import_module", "__import__"}
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                imported(first.value, node.lineno)

    def patched(target: ast.AST) -> str | None:
        """Qualified name of the foreign object whose attribute ``target`` sets."""
        if not isinstance(target, ast.Attribute):
            return None
        return owner_of(target.value)

    def owner_of(node: ast.AST) -> str | None:
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head not in foreign:
            return None
        qualified = f"{foreign[head]}.{rest}" if rest else foreign[head]
        sub = _subpackage(qualified)
        if sub is None or sub == own:
            return None
        return qualified

    def flag(line: int, what: str, qualified: str, attr: str) -> None:
        owner = owners.get(_subpackage(qualified) or "", "another package")
        violations.append(
            Violation(line, f"{what} {qualified}.{attr}: patches {owner} instead of extending it")
        )

    def targets_of(node: ast.AST) -> list[ast.AST]:
        if isinstance(node, (ast.Tuple, ast.List)):
            return [t for elt in node.elts for t in targets_of(elt)]
        if isinstance(node, ast.Starred):
            return targets_of(node.value)
        return [node]

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets = [t for tgt in node.targets for t in targets_of(tgt)]
            verb = "assigns"
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets, verb = [node.target], "assigns"
        elif isinstance(node, ast.Delete):
            targets = [t for tgt in node.targets for t in targets_of(tgt)]
            verb = "deletes"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"setattr", "delattr"}
            and node.args
        ):
            qualified = owner_of(node.args[0])
            if qualified is not None:
                attr = "<attr>"
                if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    attr = str(node.args[1].value)
                flag(node.lineno, f"{node.func.id}()", qualified, attr)
            continue
        else:
            continue
        for target in targets:
            qualified = patched(target)
            if qualified is not None:
                flag(target.lineno, verb, qualified, target.attr)
    return sorted(violations, key=lambda v: (v.line, v.message))


# --------------------------------------------------------------------------- #
# Private names
# --------------------------------------------------------------------------- #
#
# The rule: in package A, ``obj._name`` (read, written or deleted) and
# ``getattr/setattr/hasattr/delattr(obj, "_name")`` are allowed only when A
# *introduces* ``_name``: A's sources define it as a function, method, class,
# module-level or local name, or import alias; or as an instance attribute
# (an assignment to ``self._name``/``cls._name``,
# ``object.__setattr__(self, "_name", ...)``, a ``__slots__`` entry) that no
# tinytorch dependency of A also defines as an instance attribute. A subclass
# of ``tinytorch.nn.Module`` in a later package therefore cannot use
# ``self._modules``: nn introduces that attribute, and assigning it again does
# not make it the subclass's own. Independently of that, reaching a private
# name through another tinytorch package (``import tinytorch.nn._fused``,
# ``from tinytorch.nn import _fused``, ``F._normalized_shape`` with ``F`` bound
# to ``tinytorch.nn.functional``) is a violation. Attributes of third-party
# libraries follow the same rule (their private names are not A's either).
#
# What it cannot see: an access through a computed name (``getattr(m, n)``
# with ``n`` a variable), and a private name that A introduces for itself
# while also reading another package's attribute of the same name.


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


_SELF_NAMES = {"self", "cls"}
_ATTR_FUNCS = {"getattr", "setattr", "hasattr", "delattr"}


def _attr_call(node: ast.AST) -> tuple[ast.AST, str] | None:
    """``(object, name)`` of ``getattr(obj, "name", ...)`` and friends, including
    ``object.__setattr__(obj, "name", v)``; None for any other node."""
    if not isinstance(node, ast.Call) or len(node.args) < 2:
        return None
    func, name = node.func, node.args[1]
    is_builtin = isinstance(func, ast.Name) and func.id in _ATTR_FUNCS
    is_object = isinstance(func, ast.Attribute) and func.attr in {
        "__setattr__", "__getattribute__", "__delattr__"}
    if (is_builtin or is_object) and isinstance(name, ast.Constant) and isinstance(
            name.value, str):
        return node.args[0], name.value
    return None


@dataclass(frozen=True)
class PrivateNames:
    """The private names a source defines: ``defined`` by a ``def``, a
    ``class``, a name binding or an import alias; ``attributes`` as instance
    attributes (``self._x = ...``, ``object.__setattr__(self, "_x", ...)``,
    ``__slots__``)."""

    defined: frozenset[str]
    attributes: frozenset[str]


def defined_private_names(source: str) -> PrivateNames:
    """The private names one module's source defines (see the rule above)."""
    defined: set[str] = set()
    attributes: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.alias):
            defined.add(node.asname or node.name.split(".")[0])
        elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
              and isinstance(node.value, ast.Name) and node.value.id in _SELF_NAMES):
            attributes.add(node.attr)
        elif (call := _attr_call(node)) is not None:
            obj, name = call
            if isinstance(obj, ast.Name) and obj.id in _SELF_NAMES and isinstance(
                    node.func, ast.Attribute) and node.func.attr == "__setattr__":
                attributes.add(name)
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets):
            attributes.update(c.value for c in ast.walk(node.value)
                              if isinstance(c, ast.Constant) and isinstance(c.value, str))
    return PrivateNames(frozenset(filter(_is_private, defined)),
                        frozenset(filter(_is_private, attributes)))


def check_private_access(
    source: str,
    *,
    module: str,
    is_package: bool,
    own_private: set[str],
    filename: str = "<source>",
) -> list[Violation]:
    """Private names of other packages touched by one module's source.

    ``own_private`` holds the private names the module's package introduces
    (its definitions minus those of its tinytorch dependencies); ``module``
    and ``is_package`` resolve relative imports as in :func:`check_source`.
    Raises SyntaxError when the source does not parse.
    """
    tree = ast.parse(source, filename=filename)
    own = _subpackage(module)
    violations: list[Violation] = []
    foreign: dict[str, str] = {}  # local name -> what of another package it is bound to

    def foreign_private(qualified: str) -> str | None:
        sub = _subpackage(qualified)
        if sub is None or sub == own:
            return None
        return next((p for p in qualified.split(".")[2:] if _is_private(p)), None)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            pairs = [(a.name, a.asname) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (_resolve_relative(module, is_package, node.level, node.module)
                    if node.level else node.module or "")
            pairs = [(f"{base}.{a.name}", a.asname or a.name) for a in node.names
                     if a.name != "*"]
        else:
            continue
        for qualified, local in pairs:
            if (name := foreign_private(qualified)) is not None:
                violations.append(Violation(
                    node.lineno, f"imports {qualified}: {name} is private to "
                                 f"{NAMESPACE}.{_subpackage(qualified)}"))
            if local is not None and _subpackage(qualified) not in (None, own):
                foreign[local] = qualified

    def touch(line: int, obj: ast.AST, name: str, how: str) -> None:
        if not _is_private(name):
            return
        head = obj
        while isinstance(head, ast.Attribute):
            head = head.value
        through = foreign.get(head.id) if isinstance(head, ast.Name) else None
        if through is not None:
            violations.append(Violation(line, f"{how} {name} of {through}, another package"))
        elif name not in own_private:
            violations.append(Violation(
                line, f"{how} {name}, a private name its package does not introduce"))

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            touch(node.lineno, node.value, node.attr, "touches")
        elif (call := _attr_call(node)) is not None:
            touch(node.lineno, call[0], call[1], "touches (by name)")
    return sorted(violations, key=lambda v: (v.line, v.message))


def introduced_names(own: list[PrivateNames], dependencies: list[PrivateNames]) -> set[str]:
    """The private names a package introduces, from the names its modules
    define (``own``) and those its dependencies' modules define."""
    inherited = set().union(*(d.attributes for d in dependencies))
    return (set().union(*(o.defined for o in own))
            | (set().union(*(o.attributes for o in own)) - inherited))


def package_private_names(package: PackageInfo, packages: dict[str, PackageInfo]) -> set[str]:
    """The private names ``package`` introduces (see the rule above)."""
    graph = {name: pkg.deps for name, pkg in packages.items()}

    def names(pkg: PackageInfo) -> list[PrivateNames]:
        return [defined_private_names(p.read_text(encoding="utf-8")) for p in pkg.sources()]

    deps = [n for d in closure(graph, package.name) if d in packages and d != package.name
            for n in names(packages[d])]
    return introduced_names(names(package), deps)


def module_name(package: PackageInfo, path: Path) -> tuple[str, bool]:
    """Dotted module name of a file under ``src/`` and whether it is a package."""
    rel = path.relative_to(package.path / "src").with_suffix("")
    parts = list(rel.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def check_package(package: PackageInfo, packages: dict[str, PackageInfo]) -> list[str]:
    """Every violation in a package's sources, as ``file:line: message`` lines."""
    graph = {name: pkg.deps for name, pkg in packages.items()}
    owners = {sub: pkg.name for pkg in packages.values() for sub in pkg.subpackages}
    allowed = {
        sub
        for dep in closure(graph, package.name)
        if dep in packages  # an unknown dependency is reported by graph_problems
        for sub in packages[dep].subpackages
    }
    own_private = package_private_names(package, packages)
    report: list[str] = []
    for path in package.sources():
        module, is_package = module_name(package, path)
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        source = path.read_text(encoding="utf-8")
        found = check_source(source, module=module, is_package=is_package, allowed=allowed,
                             owners=owners, filename=str(rel))
        found += check_private_access(source, module=module, is_package=is_package,
                                      own_private=own_private, filename=str(rel))
        report.extend(f"{rel}:{v.line}: {v.message}" for v in found)
    return report


# --------------------------------------------------------------------------- #
# The checks on the real packages
# --------------------------------------------------------------------------- #

PACKAGES = load_packages()
PACKAGE_NAMES = sorted(PACKAGES)


def test_packages_exist():
    assert PACKAGE_NAMES, f"no package found under {PACKAGES_DIR}"


def test_dependency_graph_is_known_and_acyclic():
    problems = graph_problems({name: pkg.deps for name, pkg in PACKAGES.items()})
    assert not problems, "\n".join(problems)


def test_no_namespace_init():
    offenders = sorted(
        str(p.relative_to(ROOT)) for p in PACKAGES_DIR.glob(f"*/src/{NAMESPACE}/__init__.py")
    )
    assert not offenders, (
        f"{NAMESPACE} is a PEP 420 namespace shared by every package; remove: "
        + ", ".join(offenders)
    )


def test_each_subpackage_has_one_owner():
    owners: dict[str, list[str]] = {}
    for pkg in PACKAGES.values():
        for sub in pkg.subpackages:
            owners.setdefault(sub, []).append(pkg.name)
    shared = {sub: names for sub, names in owners.items() if len(names) > 1}
    assert not shared, f"subpackages owned by several packages: {shared}"


@pytest.mark.parametrize("name", PACKAGE_NAMES)
def test_imports_and_patching(name):
    report = check_package(PACKAGES[name], PACKAGES)
    assert not report, f"{name} breaks the layering rules:\n" + "\n".join(report)


# --------------------------------------------------------------------------- #
# The checker itself, on synthetic inputs
# --------------------------------------------------------------------------- #

# A three-layer toy stack: nn -> autograd -> tensor, plus an unrelated text.
OWNERS = {
    "tensor": "tinytorch-tensor",
    "autograd": "tinytorch-autograd",
    "nn": "tinytorch-nn",
    "text": "tinytorch-text",
}
NN_ALLOWED = {"nn", "autograd", "tensor"}


def _check(source: str, module: str = "tinytorch.nn.linear", is_package: bool = False):
    return check_source(
        source, module=module, is_package=is_package, allowed=NN_ALLOWED, owners=OWNERS
    )


CLEAN = """\
from __future__ import annotations
import numpy as np
import tinytorch.tensor
from tinytorch.tensor import Tensor
from tinytorch import autograd as ag
from tinytorch.tensor import register_hook
from . import init
from .init import kaiming

class Linear:
    weight: Tensor = None
    def __init__(self):
        self.weight = Tensor(np.zeros(3))   # attribute of self, not of Tensor
        self.cache = {}
        Linear.count = 1                   # own class
        x = Tensor.zeros
        register_hook("matmul", lambda *a: None)

init.DEFAULT = "kaiming"                   # own subpackage
"""

# (case id, source, module, is_package, expected fragments, one per violation)
CASES = [
    ("clean file", CLEAN, "tinytorch.nn.linear", False, []),
    (
        "undeclared import",
        "import tinytorch.text.bpe\n",
        "tinytorch.nn.linear",
        False,
        ["imports tinytorch.text (owned by tinytorch-text)"],
    ),
    (
        "undeclared from-import",
        "from tinytorch.text import BPETokenizer\n",
        "tinytorch.nn.linear",
        False,
        ["imports tinytorch.text"],
    ),
    (
        "undeclared subpackage import",
        "from tinytorch import text\n",
        "tinytorch.nn.linear",
        False,
        ["imports tinytorch.text"],
    ),
    (
        "relative import reaching a sibling",
        "from ..text import bpe\n",
        "tinytorch.nn.linear",
        False,
        ["imports tinytorch.text"],
    ),
    (
        "relative import from __init__",
        "from ..text import bpe\n",
        "tinytorch.nn",
        True,
        ["imports tinytorch.text"],
    ),
    (
        "import_module by string",
        "import importlib\nm = importlib.import_module('tinytorch.text')\n",
        "tinytorch.nn.linear",
        False,
        ["imports tinytorch.text"],
    ),
    (
        "unknown subpackage",
        "from tinytorch.quantum import Qubit\n",
        "tinytorch.nn.linear",
        False,
        ["tinytorch.quantum, which no package"],
    ),
    (
        "patch a class attribute",
        "from tinytorch.tensor import Tensor\nTensor.foo = lambda self: 1\n",
        "tinytorch.nn.linear",
        False,
        ["assigns tinytorch.tensor.Tensor.foo"],
    ),
    (
        "patch through a module alias",
        "import tinytorch.tensor as tensor_mod\ntensor_mod.Tensor.foo = 1\n",
        "tinytorch.nn.linear",
        False,
        ["assigns tinytorch.tensor.Tensor.foo"],
    ),
    (
        "patch through the full dotted path",
        "import tinytorch.tensor\ntinytorch.tensor.Tensor.__add__ = None\n",
        "tinytorch.nn.linear",
        False,
        ["assigns tinytorch.tensor.Tensor.__add__"],
    ),
    (
        "patch with an augmented assignment",
        "from tinytorch.autograd import Engine as E\nE.calls += 1\n",
        "tinytorch.nn.linear",
        False,
        ["assigns tinytorch.autograd.Engine.calls"],
    ),
    (
        "patch with an annotated assignment",
        "from tinytorch.tensor import Tensor\nTensor.grad_fn: object = None\n",
        "tinytorch.nn.linear",
        False,
        ["assigns tinytorch.tensor.Tensor.grad_fn"],
    ),
    (
        "patch in a tuple target",
        "from tinytorch.tensor import Tensor\na, Tensor.foo = 1, 2\n",
        "tinytorch.nn.linear",
        False,
        ["assigns tinytorch.tensor.Tensor.foo"],
    ),
    (
        "patch with setattr",
        "from tinytorch.tensor import Tensor\nsetattr(Tensor, 'relu', None)\n",
        "tinytorch.nn.linear",
        False,
        ["setattr() tinytorch.tensor.Tensor.relu"],
    ),
    (
        "patch with delattr",
        "from tinytorch import tensor\ndelattr(tensor.Tensor, 'relu')\n",
        "tinytorch.nn.linear",
        False,
        ["delattr() tinytorch.tensor.Tensor.relu"],
    ),
    (
        "patch with del",
        "from tinytorch.tensor import Tensor\ndel Tensor.relu\n",
        "tinytorch.nn.linear",
        False,
        ["deletes tinytorch.tensor.Tensor.relu"],
    ),
    (
        "patch inside a function",
        "from tinytorch.tensor import Tensor\ndef enable():\n    Tensor.backward = None\n",
        "tinytorch.nn.linear",
        False,
        ["assigns tinytorch.tensor.Tensor.backward"],
    ),
    (
        "undeclared import and patch together",
        "from tinytorch.text import Vocab\nVocab.size = 3\n",
        "tinytorch.nn.linear",
        False,
        ["imports tinytorch.text", "assigns tinytorch.text.Vocab.size"],
    ),
]


@pytest.mark.parametrize(
    "source, module, is_package, expected",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_checker_on_synthetic_sources(source, module, is_package, expected):
    violations = _check(source, module, is_package)
    messages = [v.message for v in violations]
    assert len(messages) == len(expected), messages
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)


def test_checker_flags_an_upward_import_with_the_right_line():
    source = "import numpy as np\n\nfrom tinytorch.nn import Module\n"
    violations = check_source(
        source, module="tinytorch.tensor.core", is_package=False, allowed={"tensor"}, owners=OWNERS
    )
    assert violations == [
        Violation(
            3,
            "imports tinytorch.nn (owned by tinytorch-nn), which its package "
            "does not declare as a dependency",
        )
    ]


def test_checker_allows_patching_own_classes():
    source = "from tinytorch.tensor.core import Tensor\nTensor.__add__ = None\n"
    assert (
        check_source(
            source,
            module="tinytorch.tensor.ops",
            is_package=False,
            allowed={"tensor"},
            owners=OWNERS,
        )
        == []
    )


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": (), "b": ("a",), "c": ("a", "b")}, []),
        ({"a": ("zz",)}, ["a declares zz, which is not a package under packages/"]),
        ({"a": ("b",), "b": ("a",)}, ["dependency cycle: a -> b -> a"]),
        ({"a": ("a",)}, ["dependency cycle: a -> a"]),
        ({"a": ("b",), "b": ("c",), "c": ("b",)}, ["dependency cycle: b -> c -> b"]),
    ],
    ids=["acyclic", "unknown dependency", "two-cycle", "self-loop", "cycle below the root"],
)
def test_graph_problems(graph, expected):
    assert graph_problems(graph) == expected


def test_closure_is_transitive():
    graph = {"a": (), "b": ("a",), "c": ("b",), "d": ()}
    assert closure(graph, "c") == {"a", "b", "c"}


def test_package_loading_on_a_synthetic_tree(tmp_path):
    def write(rel: str, text: str) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    write(
        "tinytorch-nn/pyproject.toml",
        '[project]\nname = "TinyTorch_NN"\n'
        'dependencies = ["numpy>=1.24", "tinytorch-autograd>=0.1,<0.2"]\n'
        '[tool.hatch.version]\npath = "src/tinytorch/nn/__init__.py"\n',
    )
    write("tinytorch-nn/src/tinytorch/nn/__init__.py", "from tinytorch.text import x\n")
    write("tinytorch-nn/src/tinytorch/__init__.py", "")
    packages = load_packages(tmp_path)
    assert packages["tinytorch-nn"].deps == ("tinytorch-autograd",)
    assert packages["tinytorch-nn"].subpackages == ("nn",)
    assert graph_problems({n: p.deps for n, p in packages.items()}) == [
        "tinytorch-nn declares tinytorch-autograd, which is not a package under packages/"
    ]
    report = check_package(packages["tinytorch-nn"], packages)
    assert len(report) == 1 and "__init__.py:1: imports tinytorch.text" in report[0]


# ------------------------------------------------------- private names, synthetic

TOY_NN = """\
class Module:
    __slots__ = ("_hooks",)
    def __init__(self):
        object.__setattr__(self, "_modules", {})
        self._parameters = {}
    def _forget(self, name):
        return name
"""

TOY_KVCACHE = """\
from tinytorch.nn import Module

class Cached(Module):
    def __init__(self, original):
        super().__init__()
        self._modules = original._modules      # assigning nn's registry ...
        self._step = None                      # ... and an attribute of its own
    def forward(self, x):
        self._step = x
        return self._modules, self._step       # reading nn's registry

def _forget(name):                             # a function of its own, same name as nn's
    return name
"""


def _private(source: str, deps=(TOY_NN,), module: str = "tinytorch.kvcache.wrapper",
             is_package: bool = False) -> list[str]:
    own = introduced_names([defined_private_names(source)],
                           [defined_private_names(d) for d in deps])
    return [v.message for v in check_private_access(source, module=module, is_package=is_package,
                                                    own_private=own)]


def test_defined_private_names_tells_definitions_from_instance_attributes():
    names = defined_private_names(TOY_NN)
    assert names.defined == {"_forget"}
    assert names.attributes == {"_hooks", "_modules", "_parameters"}


def test_a_subclass_does_not_own_its_base_class_registries():
    messages = _private(TOY_KVCACHE)
    # original._modules, self._modules = ..., and the read of self._modules:
    # three touches of nn's `_modules`; `_step` and `_forget` are the package's own.
    assert len(messages) == 3 and all("_modules" in m for m in messages), messages


PRIVATE_CASES = [
    ("own attribute", "class A:\n    def f(self):\n        self._x = 1\n        return self._x\n",
     []),
    ("own helper used through an own private module",
     "from . import _impl\nprint(_impl._helper)\n\ndef _helper():\n    pass\n", []),
    ("dunders are not private", "def f(x):\n    return x.__class__, x.__dict__\n", []),
    ("another object's registry", "def f(m):\n    return m._parameters['w']\n",
     ["touches _parameters"]),
    ("writing another object's private", "def f(m):\n    m._buffers = {}\n",
     ["touches _buffers"]),
    ("getattr by name", "def f(m):\n    return getattr(m, '_forward_hooks')\n",
     ["touches (by name) _forward_hooks"]),
    ("object.__setattr__ on another object",
     "def f(w, d):\n    object.__setattr__(w, '_modules', d)\n", ["touches (by name) _modules"]),
    ("a third-party private", "import numpy as np\nx = np._NoValue\n", ["touches _NoValue"]),
    ("importing a private module", "import tinytorch.nn._fused\n",
     ["imports tinytorch.nn._fused: _fused is private to tinytorch.nn"]),
    ("importing a private module by name", "from tinytorch.nn import _fused\n",
     ["imports tinytorch.nn._fused"]),
    ("importing a private function", "from tinytorch.nn.functional import _normalized_shape\n",
     ["imports tinytorch.nn.functional._normalized_shape"]),
    ("a private reached through another package, even with a name of one's own",
     "from tinytorch.nn import functional as F\n_normalized_shape = None\n"
     "F._normalized_shape(3)\n",
     ["touches _normalized_shape of tinytorch.nn.functional, another package"]),
    ("own private module, relative import", "from ._impl import helper\n", []),
]


@pytest.mark.parametrize("source, expected", [c[1:] for c in PRIVATE_CASES],
                         ids=[c[0] for c in PRIVATE_CASES])
def test_private_access_on_synthetic_sources(source, expected):
    messages = _private(source)
    assert len(messages) == len(expected), messages
    for fragment in expected:
        assert any(fragment in m for m in messages), (fragment, messages)


def test_private_access_reports_the_line():
    source = "x = 1\n\ndef f(m):\n    return m._modules\n"
    assert check_private_access(source, module="tinytorch.kvcache.wrapper", is_package=False,
                                own_private=set()) == [
        Violation(4, "touches _modules, a private name its package does not introduce")]
