"""Sessions that build, install and test the TinyTorch packages.

The package list and the dependency graph are read from
``packages/*/pyproject.toml`` every time nox starts: a package added under
``packages/`` appears in every session below without editing this file.

    python -m nox                                      # tests (every package), stack, lint
    python -m nox -s "tests(package='tinytorch-nn')"   # one package alone, fresh venv
    python -m nox -s stack                             # every package together
    python -m nox -s wheels                            # build wheels + sdists, smoke-test them
    python -m nox -s parity                            # test_parity_*.py against torch
    python -m nox -s lint                              # ruff + tests/test_layering.py
    python -m nox -s bench [-- bench_x.py ...]         # benchmarks/bench_*.py
    python -m nox -s demo [-- args]                    # milestones/demo.py
    python -m nox -s ray                               # the leaderboard on a local Ray
    python -m nox -s browser                           # the leaderboard page in headless Chromium
    python -m nox -s compat                            # each range tested at its oldest release
    python -m nox -s downstream                        # examples/downstream against its pins
    python -m nox -s release -- tinytorch-nn minor     # the release step (tools/release.py)

Every session uses the interpreter nox itself runs under and a fresh virtualenv.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))
import versioning  # noqa: E402  (tools/versioning.py: releases, ranges, the oldest admitted)

PACKAGES_DIR = ROOT / "packages"
DIST_DIR = ROOT / "dist"
RELEASE_WHEELS = ROOT / ".nox" / "_release_wheels"  # wheels built from release commits, reused
DOWNSTREAM_DIR = ROOT / "examples" / "downstream"
TORCH = "torch==2.13.0"  # the one PyTorch release used for parity and benchmarks
RUFF = "ruff==0.17.6"  # pinned so that a new ruff release cannot turn CI red on its own
TEST_EXTRA = "test"
NAMESPACE = "tinytorch"

nox.options.sessions = ["tests", "stack", "lint"]


# --------------------------------------------------------------------------- #
# The package graph, read from packages/*/pyproject.toml
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Package:
    """One distribution under ``packages/``, as its pyproject.toml declares it."""

    name: str  # canonical distribution name, e.g. "tinytorch-autograd"
    path: Path  # packages/<name>
    tinytorch_deps: tuple[str, ...]  # direct tinytorch dependencies (canonical names)
    other_deps: tuple[str, ...]  # every other requirement string, e.g. "numpy>=1.24"
    extras: tuple[str, ...]  # names of [project.optional-dependencies]

    @property
    def rel_path(self) -> str:
        """Path relative to the repository root, as pip and pytest are given it."""
        return self.path.relative_to(ROOT).as_posix()

    def requirement(self, extras: tuple[str, ...] = ()) -> str:
        """A pip argument installing this package from its directory: ``./packages/x[a,b]``."""
        suffix = f"[{','.join(extras)}]" if extras else ""
        return f"./{self.rel_path}{suffix}"

    def test_files(self) -> list[Path]:
        tests = self.path / "tests"
        return sorted(tests.rglob("test_*.py")) + sorted(tests.rglob("*_test.py"))


def _is_tinytorch(dist_name: str) -> bool:
    return canonicalize_name(dist_name).startswith(f"{NAMESPACE}-")


def load_packages(packages_dir: Path = PACKAGES_DIR) -> dict[str, Package]:
    """Read every ``packages/*/pyproject.toml``; keys are canonical names, sorted."""
    packages: dict[str, Package] = {}
    for pyproject in sorted(packages_dir.glob("*/pyproject.toml")):
        with pyproject.open("rb") as f:
            project = tomllib.load(f)["project"]
        requirements = [Requirement(r) for r in project.get("dependencies", [])]
        name = canonicalize_name(project["name"])
        packages[name] = Package(
            name=name,
            path=pyproject.parent,
            tinytorch_deps=tuple(
                canonicalize_name(r.name) for r in requirements if _is_tinytorch(r.name)
            ),
            other_deps=tuple(str(r) for r in requirements if not _is_tinytorch(r.name)),
            extras=tuple(project.get("optional-dependencies", {})),
        )
    return packages


def install_closure(names: list[str] | tuple[str, ...]) -> list[str]:
    """The packages ``names`` need: themselves and their tinytorch dependencies,
    transitively, dependencies first (a topological order).

    Raises ValueError naming the package when a dependency is not under
    ``packages/`` or when the graph has a cycle (``tests/test_layering.py``
    reports the same problems in detail).
    """
    order: list[str] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"dependency cycle: {' -> '.join((*chain, name))}")
        if name not in PACKAGES:
            needed_by = f" (required by {chain[-1]})" if chain else ""
            raise ValueError(f"unknown tinytorch package {name!r}{needed_by}")
        state[name] = "visiting"
        for dep in PACKAGES[name].tinytorch_deps:
            visit(dep, (*chain, name))
        state[name] = "done"
        order.append(name)

    for name in names:
        visit(canonicalize_name(name), ())
    return order


PACKAGES = load_packages()


# --------------------------------------------------------------------------- #
# Helpers shared by the sessions
# --------------------------------------------------------------------------- #


# Extras too heavy for every session: only the session that tests them installs them.
SESSION_ONLY_EXTRAS = {"ray"}  # tinytorch-tito[ray]: the `ray` session


def install_all(session: nox.Session, *more: str) -> None:
    """Install every package with all its optional extras (non-editable; those
    of SESSION_ONLY_EXTRAS excepted) and ``more`` in one pip command, so pip
    resolves the siblings from ``packages/``."""
    session.install(
        "pytest",
        *(
            PACKAGES[name].requirement(
                tuple(e for e in PACKAGES[name].extras if e not in SESSION_ONLY_EXTRAS))
            for name in install_closure(list(PACKAGES))
        ),
        *more,
    )


def run_pytest(session: nox.Session, *paths: str) -> None:
    session.run("pytest", "--import-mode=importlib", *paths)


# --------------------------------------------------------------------------- #
# Sessions
# --------------------------------------------------------------------------- #


@nox.session
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """One package's tests in a fresh venv holding only it and its declared
    tinytorch dependencies (plus pytest and the package's ``test`` extra)."""
    pkg = PACKAGES[package]
    if not pkg.test_files():
        session.error(f"{package} has no test files (expected {pkg.rel_path}/tests/test_*.py)")
    install_set = install_closure([package])
    session.log(f"install set of {package}: {', '.join(install_set)}")
    own_extras = (TEST_EXTRA,) if TEST_EXTRA in pkg.extras else ()
    session.install(
        "pytest",
        *(
            PACKAGES[name].requirement(own_extras if name == package else ())
            for name in install_set
        ),
    )

    # Exit code 5 means "no tests collected". The package does have test files,
    # so that happens only when every one of them skips itself at import (for
    # example test_parity_*.py files without torch); pytest says so, not a failure.
    session.run("pytest", "--import-mode=importlib", f"{pkg.rel_path}/tests", success_codes=[0, 5])


@nox.session
def stack(session: nox.Session) -> None:
    """Every package installed together (all extras), every package's tests
    plus the integration tests in the root ``tests/``."""
    install_all(session)
    run_pytest(
        session,
        *(f"{PACKAGES[n].rel_path}/tests" for n in PACKAGES if PACKAGES[n].test_files()),
        "tests",
    )


@nox.session
def wheels(session: nox.Session) -> None:
    """Build every package's sdist and wheel, install the wheels alone, smoke-test them."""
    session.install("build", "hatchling>=1.21")
    if DIST_DIR.exists():
        shutil.rmtree(DIST_DIR)
    for name in install_closure(list(PACKAGES)):
        # `python -m build` makes the sdist, then the wheel *from that sdist*:
        # a file missing from the sdist breaks the wheel build or its tests.
        session.run(
            "python",
            "-m",
            "build",
            "--no-isolation",
            "--outdir",
            str(DIST_DIR),
            PACKAGES[name].rel_path,
        )

    # Third-party runtime dependencies come from the normal index; tinytorch
    # comes only from the wheels just built (--no-index).
    others = sorted({req for pkg in PACKAGES.values() for req in pkg.other_deps})
    if others:
        session.install(*others)
    built = sorted(str(p.relative_to(ROOT)) for p in DIST_DIR.glob("*.whl"))
    session.install("--no-index", "--find-links", str(DIST_DIR), *built)
    session.run(
        "python", "tests/smoke_wheels.py", "--dist", str(DIST_DIR), "--packages", str(PACKAGES_DIR)
    )


def _parity_files() -> list[str]:
    files = sorted(ROOT.glob("packages/*/tests/**/test_parity_*.py"))
    files += sorted(ROOT.glob("tests/**/test_parity_*.py"))
    return [f.relative_to(ROOT).as_posix() for f in files]


@nox.session
def parity(session: nox.Session) -> None:
    """Every ``test_parity_*.py`` file, with every package and torch installed."""
    files = _parity_files()
    if not files:
        session.log("no test_parity_*.py files exist yet: nothing to compare with PyTorch")
        return
    session.log(f"{len(files)} parity test file(s): {', '.join(files)}")
    # transformers and tokenizers: the GPT-2 checkpoint and tokenizer references.
    install_all(session, TORCH, "transformers", "tokenizers")
    run_pytest(session, *files)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the repository, then the mechanical layering checks."""
    session.install(RUFF, "pytest")
    session.run("ruff", "check", ".")
    run_pytest(session, "tests/test_layering.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Run ``benchmarks/bench_*.py`` in sorted order, or the ones named after ``--``."""
    bench_dir = ROOT / "benchmarks"
    if session.posargs:
        scripts = []
        for arg in session.posargs:
            script = bench_dir / Path(arg).name
            if script.suffix != ".py":
                script = script.with_suffix(".py")
            if not script.is_file():
                session.error(f"no benchmark script {script.relative_to(ROOT)}")
            scripts.append(script)
    else:
        scripts = sorted(bench_dir.glob("bench_*.py"))
    if not scripts:
        session.log("benchmarks/ holds no bench_*.py script yet: nothing to run")
        return
    # threadpoolctl: every benchmark sets BLAS/numexpr/torch threads through it;
    # transformers: the GPT-2 reference of bench_gpt2.py.
    install_all(session, TORCH, "transformers", "tqdm", "matplotlib", "threadpoolctl")
    for script in scripts:
        session.log(f"=== {script.relative_to(ROOT)} ===")
        session.run("python", str(script.relative_to(ROOT)), env={"MPLBACKEND": "Agg"})


@nox.session
def ray(session: nox.Session) -> None:
    """``tito leaderboard --executor ray`` on a local Ray (``ray.init()`` in the test)."""
    install_all(session, "ray")
    run_pytest(session, "packages/tinytorch-tito/tests/test_ray.py")


@nox.session
def browser(session: nox.Session) -> None:
    """The leaderboard page in headless Chromium (Debian's ``chromium``,
    installed with apt-get when missing): it must render its tables."""
    if shutil.which("chromium") is None:
        session.run("apt-get", "update", external=True)
        session.run("apt-get", "install", "-y", "--no-install-recommends", "chromium",
                    external=True)
    install_all(session)
    session.run("pytest", "--import-mode=importlib",
                "packages/tinytorch-tito/tests/test_browser.py", env={"TITO_REQUIRE_CHROMIUM": "1"})


@nox.session
def demo(session: nox.Session) -> None:
    """The end-to-end demo: ``milestones/demo.py`` with every package installed."""
    script = ROOT / "milestones" / "demo.py"
    if not script.is_file():
        session.error("milestones/demo.py does not exist yet")
    install_all(session, "threadpoolctl")  # the milestones' --threads goes through it
    session.run("python", "milestones/demo.py", *session.posargs)


# --------------------------------------------------------------------------- #
# Versions: releases, declared ranges, a downstream project that pins
# --------------------------------------------------------------------------- #


@nox.session(venv_backend="none")
def release(session: nox.Session) -> None:
    """Release one package: ``nox -s release -- tinytorch-nn minor`` (or ``0.2.0``).

    Runs ``tools/release.py`` with the interpreter that runs nox; see its
    docstring for the steps, the options and the refusals."""
    if not session.posargs:
        session.error("usage: nox -s release -- <package> <major|minor|patch|X.Y.Z> [options]")
    session.run(sys.executable, "tools/release.py", *session.posargs, external=True)


def _third_party(requirements) -> list[str]:
    """Sorted, de-duplicated third-party requirement strings."""
    return sorted({str(r) for r in requirements})


@nox.session
@nox.parametrize("package", [n for n, p in PACKAGES.items() if p.tinytorch_deps])
def compat(session: nox.Session, package: str) -> None:
    """One package's tests against the OLDEST releases its declared ranges admit.

    ``tools/versioning.py`` picks, for each tinytorch dependency (direct and
    transitive), the oldest release in ``releases.toml`` that the package's
    ranges and the chosen releases' own ranges admit; each is built from a
    ``git worktree`` of its release commit (wheels cached in .nox/_release_wheels)
    and installed with ``--no-deps``. The package itself comes from the working
    tree. A range that admits a release lacking something the package uses
    fails here."""
    projects = versioning.load_projects(ROOT)
    try:
        chosen = versioning.lowest_admitted(ROOT, package, projects)
    except versioning.VersioningError as exc:
        session.error(str(exc))
    for name, cand in sorted(chosen.items()):
        session.log(f"oldest admitted: {name} {cand.version} ({cand.source})")
    python = str(Path(session.bin) / "python")
    wheels = []
    for cand in chosen.values():
        try:
            wheels.append(versioning.build_wheel_at(ROOT, cand, RELEASE_WHEELS, python))
        except versioning.VersioningError as exc:
            session.error(str(exc))
    project = projects[package]
    others = [*project.others, *project.test_extra, *(o for c in chosen.values() for o in c.others)]
    session.install("pytest", *_third_party(others))
    session.install("--no-deps", *(str(w) for w in wheels), f"./{PACKAGES[package].rel_path}")
    # Every installed distribution's declared requirements hold: the package's
    # ranges admit the chosen releases, and those releases admit each other.
    session.run("python", "-m", "pip", "check")
    session.run("pytest", "--import-mode=importlib", f"{PACKAGES[package].rel_path}/tests",
                success_codes=[0, 5])


@nox.session
def downstream(session: nox.Session) -> None:
    """``examples/downstream``, a project of its own, installed against its
    exact pins from wheels built into ``dist/`` (``--no-index`` for tinytorch);
    its tests check that it works and that no other tinytorch layer is installed."""
    projects = versioning.load_projects(ROOT)
    project = next((p for p in projects.values() if p.path == DOWNSTREAM_DIR), None)
    if project is None:
        session.error(f"no pyproject.toml in {DOWNSTREAM_DIR.relative_to(ROOT)}")
    pins = [str(r) for r in project.requires.values()]
    loose = [p for p in pins if not str(Requirement(p).specifier).startswith("==")]
    if loose:
        session.error(f"the downstream project must pin exact versions, not {loose}")
    needed = install_closure(list(project.requires))
    session.log(f"pins: {', '.join(pins)}; wheels needed: {', '.join(needed)}")
    # Isolated builds of only the needed packages: nothing of the build
    # toolchain lands in the environment under test.
    session.run("python", "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
                str(DIST_DIR), *(f"./{PACKAGES[n].rel_path}" for n in needed))
    others = [*project.others, *project.test_extra]
    others += [o for n in needed for o in PACKAGES[n].other_deps]
    session.install("pytest", *_third_party(others))
    session.install("--no-index", "--find-links", str(DIST_DIR), *pins)
    session.install("--no-deps", f"./{DOWNSTREAM_DIR.relative_to(ROOT).as_posix()}")
    session.run("python", "-m", "pip", "check")
    session.run("pytest", "--import-mode=importlib",
                f"{DOWNSTREAM_DIR.relative_to(ROOT).as_posix()}/tests")
