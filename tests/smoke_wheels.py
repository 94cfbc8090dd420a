"""Smoke test of the built distributions, run by ``python -m nox -s wheels``.

    python tests/smoke_wheels.py --dist dist --packages packages

Run after every wheel in ``--dist`` has been installed (and nothing else of
tinytorch). For whatever packages were built, it checks that:

* every wheel has an sdist beside it, and neither ships ``tinytorch/__init__.py``;
* every ``tinytorch.<x>`` subpackage found in the wheels imports from the
  installed wheel (not from ``packages/*/src``), and its ``__version__`` equals
  the installed distribution's metadata version (and the wheel's file name);
* ``tinytorch`` is a namespace package provided by all those distributions;
* every sdist contains ``README.md``, ``pyproject.toml``, the package's
  ``CHANGELOG.md`` (when it has one) and every file of its ``tests/`` directory.

Prints one line per distribution, then every problem found; exits 1 if any.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as metadata
import re
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

NAMESPACE = "tinytorch"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Built:
    """One distribution as found in the dist directory."""

    name: str  # canonical
    version: str
    wheel: Path | None = None
    sdist: Path | None = None
    subpackages: list[str] = field(default_factory=list)


def find_built(dist_dir: Path) -> dict[str, Built]:
    """Wheels (``name-version-tags.whl``) and sdists (``name-version.tar.gz``) by name."""
    built: dict[str, Built] = {}
    for wheel in sorted(dist_dir.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        entry = built.setdefault(canonical(name), Built(canonical(name), version))
        entry.wheel = wheel
    for sdist in sorted(dist_dir.glob("*.tar.gz")):
        name, _, version = sdist.name.removesuffix(".tar.gz").rpartition("-")
        entry = built.setdefault(canonical(name), Built(canonical(name), version))
        entry.sdist = sdist
    return built


def wheel_subpackages(wheel: Path) -> tuple[list[str], bool]:
    """The X of every ``tinytorch/X/__init__.py`` in a wheel, and whether it ships
    ``tinytorch/__init__.py``."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    subs = sorted(
        {n.split("/")[1] for n in names if re.fullmatch(rf"{NAMESPACE}/[^/]+/__init__\.py", n)}
    )
    return subs, f"{NAMESPACE}/__init__.py" in names


def source_dirs(packages_dir: Path) -> dict[str, Path]:
    """Canonical distribution name -> its directory under ``packages/``."""
    dirs = {}
    for pyproject in sorted(packages_dir.glob("*/pyproject.toml")):
        with pyproject.open("rb") as f:
            dirs[canonical(tomllib.load(f)["project"]["name"])] = pyproject.parent
    return dirs


def check_sdist(sdist: Path, package_dir: Path | None) -> list[str]:
    with tarfile.open(sdist) as tf:
        members = tf.getnames()
    if not members:
        return [f"{sdist.name}: empty archive"]
    top = members[0].split("/")[0]
    inside = {m[len(top) + 1 :] for m in members if m.startswith(f"{top}/")}
    problems = [
        f"{sdist.name}: missing {need}"
        for need in ("README.md", "pyproject.toml")
        if need not in inside
    ]
    if not any(re.fullmatch(r"tests/(.*/)?test_[^/]*\.py", m) for m in inside):
        problems.append(f"{sdist.name}: contains no tests/test_*.py")
    if package_dir is not None:
        if (package_dir / "CHANGELOG.md").is_file() and "CHANGELOG.md" not in inside:
            problems.append(f"{sdist.name}: missing CHANGELOG.md (add it to the sdist include)")
        for path in sorted((package_dir / "tests").rglob("*")):
            rel = path.relative_to(package_dir).as_posix()
            if path.is_file() and "__pycache__" not in path.parts and rel not in inside:
                problems.append(f"{sdist.name}: missing {rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=Path("dist"))
    parser.add_argument("--packages", type=Path, default=Path("packages"))
    args = parser.parse_args(argv)

    built = find_built(args.dist)
    sources = source_dirs(args.packages)
    problems: list[str] = []
    if not built:
        problems.append(f"no wheel or sdist in {args.dist}")
    elif len(built) < 2:
        problems.append(f"only {len(built)} distribution built: a namespace needs several")
    for name in sorted(set(sources) - set(built)):
        problems.append(f"{name}: no wheel or sdist built")

    for name, b in sorted(built.items()):
        if b.wheel is None or b.sdist is None:
            problems.append(f"{name}: needs both a wheel and an sdist in {args.dist}")
        if b.sdist is not None:
            problems += check_sdist(b.sdist, sources.get(name))
        if b.wheel is None:
            continue
        b.subpackages, ships_init = wheel_subpackages(b.wheel)
        if ships_init:
            problems.append(f"{b.wheel.name}: ships {NAMESPACE}/__init__.py")
        if not b.subpackages:
            problems.append(f"{b.wheel.name}: holds no {NAMESPACE}.<x> subpackage")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}: wheel built but not installed")
            continue
        if installed != b.version:
            problems.append(f"{name}: installed {installed}, built {b.version}")
        for sub in b.subpackages:
            module_name = f"{NAMESPACE}.{sub}"
            try:
                module = importlib.import_module(module_name)
            except Exception as exc:  # any import error is the finding
                problems.append(f"{module_name}: import failed: {type(exc).__name__}: {exc}")
                continue
            origin = Path(module.__file__ or "").resolve()
            if args.packages.resolve() in origin.parents:
                problems.append(f"{module_name}: imported from the source tree ({origin})")
            version = getattr(module, "__version__", None)
            if version != installed:
                problems.append(
                    f"{module_name}.__version__ is {version!r}, metadata of {name} says "
                    f"{installed!r}"
                )
        print(f"{name:<28} {b.version:<10} {', '.join(f'{NAMESPACE}.{s}' for s in b.subpackages)}")

    try:
        namespace = importlib.import_module(NAMESPACE)
    except ImportError as exc:
        problems.append(f"{NAMESPACE} does not import: {exc}")
    else:
        if getattr(namespace, "__file__", None) is not None:
            problems.append(f"{NAMESPACE} is a regular package ({namespace.__file__})")
        providers = {canonical(d) for d in metadata.packages_distributions().get(NAMESPACE, [])}
        wheels = {name for name, b in built.items() if b.wheel is not None}
        if not wheels <= providers:
            problems.append(
                f"{NAMESPACE} is provided by {sorted(providers)}, expected all of {sorted(wheels)}"
            )
        print(f"{NAMESPACE}: namespace package over {len(providers)} distributions")

    for problem in problems:
        print(f"FAIL {problem}")
    print(f"smoke_wheels: {len(built)} distribution(s) checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
