"""Versions, releases and ranges of the TinyTorch packages.

The library behind ``tools/release.py`` (the release step) and the
``compat`` nox session (the test of every declared range). Standard library
plus ``packaging`` (which nox and pip already depend on).

* :class:`Release`, :func:`read_releases`, :func:`append_release`: the
  release record ``releases.toml`` at the repository root, one
  ``[[release]]`` table per (package, version, commit, date), oldest first.
* :class:`Project`, :func:`load_projects`: the packages under ``packages/``
  and the projects under ``examples/`` (which may depend on packages too),
  as their ``pyproject.toml`` files declare them.
* :func:`bump`, :func:`compatible_range`, :func:`updated_specifier`: how a
  version moves and how a dependent's range follows it. Under 1.0 a minor
  bump marks a breaking change, so ``0.2.x`` is one compatible series and a
  range following ``0.2.0`` is ``>=0.2,<0.3``.
* :func:`unreleased_body`, :func:`release_changelog`,
  :func:`add_unreleased_note`: the Keep a Changelog files.
* :func:`lowest_admitted`: the oldest recorded releases that a package's
  declared ranges admit, consistent with the ranges those releases declare
  themselves (a small backtracking resolver, oldest first).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

NAMESPACE = "tinytorch"
RELEASES_FILE = "releases.toml"
RELEASES_HEADER = """\
# Every release of every package, oldest first. Written by `tools/release.py`
# (`python -m nox -s release -- <package> <major|minor|patch|X.Y.Z>`), never
# edited by hand. `commit` is the commit whose tree holds exactly the released
# sources of that version: `git worktree add <dir> <commit>` rebuilds it, and
# `python -m nox -s compat` does so to test the declared version ranges.
"""
BUMP_KINDS = ("major", "minor", "patch")
_VERSION_LINE = re.compile(r'^__version__\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)
_HASH = re.compile(r"[0-9a-f]{40}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class VersioningError(ValueError):
    """A release record, a pyproject or a changelog is not what the tools need."""


def is_tinytorch(name: str) -> bool:
    return canonicalize_name(name).startswith(f"{NAMESPACE}-")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it into
    place, so that an interrupted write never leaves a half-written file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def git(root: Path, *args: str) -> str:
    """Run ``git -C root args`` and return its stdout, stripped.

    Raises VersioningError with git's own message when git fails."""
    proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise VersioningError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


# --------------------------------------------------------------------------- #
# The release record
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Release:
    """One recorded release: ``package`` at ``version`` is exactly the tree of
    ``commit`` (a full 40-digit hash), released on ``date`` (YYYY-MM-DD)."""

    package: str
    version: str
    commit: str
    date: str

    def to_toml(self) -> str:
        return (
            f'\n[[release]]\npackage = "{self.package}"\nversion = "{self.version}"\n'
            f'commit = "{self.commit}"\ndate = "{self.date}"\n'
        )


def read_releases(root: Path) -> list[Release]:
    """Every release in ``root/releases.toml``, in file order (oldest first).

    A missing file means no release yet (an empty list). Raises
    VersioningError naming the entry when a field is missing or malformed,
    or when a (package, version) pair is recorded twice."""
    path = root / RELEASES_FILE
    if not path.exists():
        return []
    with path.open("rb") as f:
        entries = tomllib.load(f).get("release", [])
    releases: list[Release] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(entries, start=1):
        where = f"{RELEASES_FILE}: release #{i}"
        missing = [k for k in ("package", "version", "commit", "date") if k not in entry]
        if missing:
            raise VersioningError(f"{where} lacks {', '.join(missing)}")
        try:
            version = str(Version(entry["version"]))
        except InvalidVersion as exc:
            raise VersioningError(f"{where}: invalid version {entry['version']!r}") from exc
        if not _HASH.fullmatch(entry["commit"]):
            raise VersioningError(f"{where}: commit {entry['commit']!r} is not a full hash")
        if not _DATE.fullmatch(entry["date"]):
            raise VersioningError(f"{where}: date {entry['date']!r} is not YYYY-MM-DD")
        release = Release(canonicalize_name(entry["package"]), version, entry["commit"],
                          entry["date"])
        if (release.package, release.version) in seen:
            raise VersioningError(f"{where}: {release.package} {version} is recorded twice")
        seen.add((release.package, release.version))
        releases.append(release)
    return releases


def append_release(root: Path, release: Release) -> None:
    """Append one ``[[release]]`` table to ``root/releases.toml`` (atomically)."""
    path = root / RELEASES_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else RELEASES_HEADER
    write_atomic(path, text.rstrip("\n") + "\n" + release.to_toml())


# --------------------------------------------------------------------------- #
# The projects and their declared requirements
# --------------------------------------------------------------------------- #


@dataclass
class Project:
    """One ``pyproject.toml``: a package under ``packages/`` or a project
    under ``examples/`` (``is_package`` False) that depends on packages."""

    name: str  # canonical distribution name
    path: Path  # its directory
    version: str | None  # __version__ of a package; None for an example project
    version_file: Path | None  # src/tinytorch/<x>/__init__.py of a package
    requires: dict[str, Requirement] = field(default_factory=dict)  # tinytorch deps
    others: list[str] = field(default_factory=list)  # third-party requirement strings
    test_extra: list[str] = field(default_factory=list)  # its "test" extra, third-party
    is_package: bool = True

    @property
    def pyproject(self) -> Path:
        return self.path / "pyproject.toml"

    @property
    def changelog(self) -> Path:
        return self.path / "CHANGELOG.md"


def parse_project(text: str, where: str) -> dict:
    """The fields the tools need from a pyproject.toml text: name, the
    version file, tinytorch requirements, other requirements and the third-party
    part of the ``test`` extra. Raises VersioningError naming ``where``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise VersioningError(f"{where}: not valid TOML ({exc})") from exc
    project = data.get("project", {})
    if "name" not in project:
        raise VersioningError(f"{where}: [project] has no name")
    requires: dict[str, Requirement] = {}
    others: list[str] = []
    for raw in project.get("dependencies", []):
        try:
            req = Requirement(raw)
        except InvalidRequirement as exc:
            raise VersioningError(f"{where}: invalid requirement {raw!r}") from exc
        if is_tinytorch(req.name):
            requires[canonicalize_name(req.name)] = req
        else:
            others.append(raw)
    test_extra = [r for r in project.get("optional-dependencies", {}).get("test", [])
                  if not is_tinytorch(Requirement(r).name)]
    version_path = data.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
    return dict(name=canonicalize_name(project["name"]), requires=requires, others=others,
                test_extra=test_extra, version_path=version_path)


def read_version(text: str, where: str) -> str:
    match = _VERSION_LINE.search(text)
    if match is None:
        raise VersioningError(f"{where}: no line __version__ = \"X.Y.Z\"")
    return match.group(1)


def set_version(text: str, version: str, where: str) -> str:
    """``text`` with its ``__version__ = "..."`` line set to ``version``."""
    read_version(text, where)  # raises when the line is missing
    return _VERSION_LINE.sub(f'__version__ = "{version}"', text, count=1)


def load_projects(root: Path) -> dict[str, Project]:
    """Every ``packages/*/pyproject.toml`` (packages, with their __version__)
    and ``examples/*/pyproject.toml`` (example projects), by canonical name."""
    projects: dict[str, Project] = {}
    for kind in ("packages", "examples"):
        for pyproject in sorted((root / kind).glob("*/pyproject.toml")):
            where = pyproject.relative_to(root).as_posix()
            fields = parse_project(pyproject.read_text(encoding="utf-8"), where)
            version = version_file = None
            if kind == "packages":
                if not fields["version_path"]:
                    raise VersioningError(f"{where}: no [tool.hatch.version] path")
                version_file = pyproject.parent / fields["version_path"]
                version = read_version(version_file.read_text(encoding="utf-8"),
                                       version_file.relative_to(root).as_posix())
            projects[fields["name"]] = Project(
                name=fields["name"], path=pyproject.parent, version=version,
                version_file=version_file, requires=fields["requires"],
                others=fields["others"], test_extra=fields["test_extra"],
                is_package=kind == "packages",
            )
    return projects


def dependencies_first(projects: dict[str, Project]) -> list[str]:
    """The packages (not the examples), each after every package it requires."""
    order: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise VersioningError(f"dependency cycle: {' -> '.join((*chain, name))}")
        if name in order or name not in projects:
            return
        for dep in sorted(projects[name].requires):
            visit(dep, (*chain, name))
        order.append(name)

    for name in sorted(n for n, p in projects.items() if p.is_package):
        visit(name, ())
    return order


def dependents(projects: dict[str, Project], package: str) -> list[Project]:
    """The projects (packages and examples) that declare ``package`` directly."""
    return [p for p in projects.values() if package in p.requires]


def rewrite_requirement(text: str, package: str, specifier: str) -> tuple[str, list[str]]:
    """Replace the version specifier of every requirement on ``package`` in a
    pyproject.toml text (``dependencies`` and every optional extra), keeping
    extras and markers. Returns the new text and the old requirement strings."""
    project = tomllib.loads(text).get("project", {})
    lists = [project.get("dependencies", [])]
    lists += list(project.get("optional-dependencies", {}).values())
    old = sorted({raw for reqs in lists for raw in reqs
                  if canonicalize_name(Requirement(raw).name) == package})
    for raw in old:
        req = Requirement(raw)
        new = req.name + (f"[{','.join(sorted(req.extras))}]" if req.extras else "")
        new += specifier + (f"; {req.marker}" if req.marker else "")
        text = text.replace(f'"{raw}"', f'"{new}"')
    return text, old


# --------------------------------------------------------------------------- #
# How versions move
# --------------------------------------------------------------------------- #


def bump(current: str, kind: str) -> str:
    """The next version after ``current`` for a ``major``, ``minor`` or
    ``patch`` bump. Under 1.0 a ``major`` bump goes to 1.0.0.

    Raises VersioningError for another kind."""
    if kind not in BUMP_KINDS:
        raise VersioningError(f"bump kind must be one of {', '.join(BUMP_KINDS)}, got {kind!r}")
    major, minor, patch = (list(Version(current).release) + [0, 0])[:3]
    if kind == "major":
        return f"{major + 1}.0.0"
    if kind == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def compatible_range(version: str) -> str:
    """The range of one compatible series starting at ``version``'s series:
    ``0.2.1`` -> ``>=0.2,<0.3`` (under 1.0 a minor bump breaks),
    ``1.4.0`` -> ``>=1.0,<2``."""
    major, minor = (list(Version(version).release) + [0])[:2]
    if major == 0:
        return f">=0.{minor},<0.{minor + 1}"
    return f">={major}.0,<{major + 1}"


def spec_text(specifier: SpecifierSet) -> str:
    """A range as people write it, lower bounds first: ``>=0.1,<0.2``."""
    rank = {">=": 0, ">": 0, "==": 1, "===": 1, "~=": 1, "!=": 2, "<": 3, "<=": 3}
    specs = sorted(specifier, key=lambda s: (rank.get(s.operator, 1), str(s)))
    return ",".join(str(s) for s in specs)


def raised_range(version: str) -> str:
    """A range whose lower bound is ``version`` itself, within its compatible
    series: ``0.1.1`` -> ``>=0.1.1,<0.2`` (for a dependent that uses
    something first released in ``version``)."""
    return f">={version}," + compatible_range(version).split(",")[1]


def is_above(specifier: SpecifierSet, version: str) -> bool:
    """True when ``version`` is excluded by an upper bound of ``specifier``
    (``<``, ``<=``, ``==``, ``~=``): the range has to move up to admit it."""
    v = Version(version)
    for spec in specifier:
        if spec.operator in ("<", "<=", "==", "~=") and not spec.contains(v, prereleases=True):
            if spec.operator == "==" and "*" not in spec.version:
                return v > Version(spec.version)
            return True
    return False


def updated_specifier(specifier: SpecifierSet, version: str, keep_lower: bool = False) -> str:
    """The new range for a dependent whose ``specifier`` excludes ``version``
    from above. An exact pin (``==0.1.0``) moves to ``==<version>``; a range
    becomes the compatible series of ``version`` (``>=0.2,<0.3``), or, with
    ``keep_lower``, keeps its lower bound and moves only the upper one
    (``>=0.1,<0.3``: a claim the compat session then tests)."""
    specs = list(specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return f"=={version}"
    new = compatible_range(version)
    if keep_lower:
        lowers = [s for s in specs if s.operator in (">=", ">")]
        if lowers:
            upper = new.split(",")[1]
            new = ",".join([spec_text(SpecifierSet(",".join(map(str, lowers)))), upper])
    return new


# --------------------------------------------------------------------------- #
# Keep a Changelog
# --------------------------------------------------------------------------- #

_UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*\n", re.MULTILINE | re.IGNORECASE)
_NEXT_SECTION = re.compile(r"^## ", re.MULTILINE)
_GROUP_ORDER = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def _split_unreleased(text: str, where: str) -> tuple[str, str, str]:
    """(text up to and with the Unreleased heading, its body, the rest)."""
    match = _UNRELEASED.search(text)
    if match is None:
        raise VersioningError(f"{where} has no '## [Unreleased]' section")
    nxt = _NEXT_SECTION.search(text, match.end())
    end = nxt.start() if nxt else len(text)
    return text[: match.end()], text[match.end():end], text[end:]


def unreleased_body(text: str, where: str) -> str:
    """The entries under ``## [Unreleased]``, stripped; "" when it holds no
    bullet or paragraph (empty ``### Added``-style headings do not count)."""
    body = _split_unreleased(text, where)[1]
    meaningful = [ln for ln in body.splitlines() if ln.strip() and not ln.startswith("### ")]
    return body.strip() if meaningful else ""


def release_changelog(text: str, version: str, date: str, where: str) -> str:
    """Move the Unreleased entries under ``## [<version>] - <date>`` and leave
    an empty Unreleased section above it. Raises VersioningError when
    Unreleased is empty: a release says what changed."""
    head, _, rest = _split_unreleased(text, where)
    body = unreleased_body(text, where)
    if not body:
        raise VersioningError(f"{where}: the Unreleased section is empty, nothing to release")
    section = f"\n## [{version}] - {date}\n\n{body}\n"
    return head + section + ("\n" + rest if rest else "")


def add_unreleased_note(text: str, group: str, bullet: str, where: str) -> str:
    """Add ``- bullet`` (wrapped at 78 columns) to the ``### <group>`` list
    under Unreleased, creating the group (in Keep a Changelog order) when it
    does not exist yet."""
    head, body, rest = _split_unreleased(text, where)
    lines = body.strip("\n").splitlines()
    heading = f"### {group}"
    entry = textwrap.wrap(bullet, width=76, break_long_words=False, break_on_hyphens=False)
    entry = [f"- {entry[0]}", *(f"  {line}" for line in entry[1:])]
    if heading in lines:
        i = lines.index(heading) + 1
        while i < len(lines) and not lines[i].startswith("### "):
            i += 1
        while i > 0 and not lines[i - 1].strip():  # insert after the last bullet
            i -= 1
        lines[i:i] = entry
    else:
        rank = _GROUP_ORDER.index(group) if group in _GROUP_ORDER else len(_GROUP_ORDER)
        pos = len(lines)
        for j, line in enumerate(lines):
            other = line[4:].strip() if line.startswith("### ") else None
            if other in _GROUP_ORDER and _GROUP_ORDER.index(other) > rank:
                pos = j
                break
        block = [heading, *entry, ""]
        if pos == len(lines) and lines and lines[-1].strip():
            block = ["", *block[:-1]]
        lines[pos:pos] = block
    new_body = "\n" + "\n".join(lines).strip("\n") + "\n"
    return head + new_body + ("\n" + rest if rest else "")


# --------------------------------------------------------------------------- #
# The oldest admitted releases
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class Candidate:
    """One version of a package that the compat session can install: a
    recorded release (``commit`` set) or the working tree's own, unreleased
    version (``commit`` None: a package that has never been released)."""

    package: str
    version: str
    commit: str | None
    requires: tuple[tuple[str, str], ...]  # (tinytorch dependency, its specifier)
    others: tuple[str, ...]  # third-party requirement strings
    directory: str  # the package's directory relative to the repository root

    @property
    def source(self) -> str:
        return f"commit {self.commit[:12]}" if self.commit else "working tree (unreleased)"


def _candidate_at(root: Path, release: Release, directory: str) -> Candidate:
    """The Candidate of a recorded release, its requirements read from the
    pyproject.toml in ``directory`` (relative to the root) of its own commit."""
    where = f"{release.commit[:12]}:{directory}/pyproject.toml"
    try:
        text = git(root, "show", where.replace(release.commit[:12], release.commit, 1))
    except VersioningError as exc:
        raise VersioningError(
            f"{RELEASES_FILE} records {release.package} {release.version} at "
            f"{release.commit[:12]}, which this clone cannot read ({exc}); a shallow "
            "clone needs `git fetch --unshallow`"
        ) from exc
    fields = parse_project(text, where)
    requires = tuple((n, spec_text(r.specifier)) for n, r in sorted(fields["requires"].items()))
    return Candidate(release.package, release.version, release.commit, requires,
                     tuple(fields["others"]), directory)


def candidates(root: Path, projects: dict[str, Project]) -> dict[str, list[Candidate]]:
    """Every installable version of every package, oldest first: the recorded
    releases, plus the working tree's version when it was never recorded."""
    found: dict[str, list[Candidate]] = {}
    for release in read_releases(root):
        # A package keeps its directory across releases; one deleted from the
        # tree is looked for where the layout puts it.
        project = projects.get(release.package)
        directory = (project.path.relative_to(root).as_posix() if project
                     else f"packages/{release.package}")
        found.setdefault(release.package, []).append(_candidate_at(root, release, directory))
    for project in projects.values():
        if not project.is_package:
            continue
        recorded = {c.version for c in found.get(project.name, [])}
        if project.version not in recorded:
            found.setdefault(project.name, []).append(Candidate(
                project.name, project.version, None,
                tuple((n, spec_text(r.specifier)) for n, r in sorted(project.requires.items())),
                tuple(project.others), project.path.relative_to(root).as_posix()))
    for name in found:
        found[name].sort(key=lambda c: Version(c.version))
    return found


class ResolutionError(VersioningError):
    """No combination of recorded releases satisfies the declared ranges."""


def lowest_admitted(root: Path, package: str, projects: dict[str, Project] | None = None
                    ) -> dict[str, Candidate]:
    """For ``package`` as the working tree declares it, the oldest version of
    each tinytorch dependency (direct and transitive) that its ranges admit,
    such that every chosen release's own ranges admit the others too.

    Packages are decided dependents-first (by the layer order, so every range
    on a package is known before it is chosen), each trying its candidates
    oldest first and backtracking on a conflict. Raises ResolutionError naming
    the package whose ranges no recorded release satisfies."""
    projects = projects if projects is not None else load_projects(root)
    if package not in projects:
        raise VersioningError(f"unknown package {package!r}")
    pool = candidates(root, projects)
    order = _dependents_first(pool, projects)
    start = {n: [(spec_text(r.specifier), package)]
             for n, r in projects[package].requires.items()}
    failures: list[str] = []
    chosen = _resolve(order, 0, {}, start, pool, failures)
    if chosen is None:
        raise ResolutionError(f"{package}: {failures[-1] if failures else 'unresolvable'}")
    return chosen


def _dependents_first(pool: dict[str, list[Candidate]], projects: dict[str, Project]
                      ) -> list[str]:
    """Every package name, each before all the packages any version of it requires."""
    edges: dict[str, set[str]] = {n: set() for n in pool}
    for name, cands in pool.items():
        for cand in cands:
            edges[name].update(dep for dep, _ in cand.requires)
    for project in projects.values():
        edges.setdefault(project.name, set()).update(project.requires)
    order: list[str] = []
    done: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in chain:
            raise VersioningError(f"dependency cycle: {' -> '.join((*chain, name))}")
        if name in done:
            return
        for dep in sorted(edges.get(name, ())):
            visit(dep, (*chain, name))
        done.add(name)
        order.append(name)  # dependencies first ...

    for name in sorted(edges):
        visit(name, ())
    return order[::-1]  # ... reversed: dependents first


def _resolve(order: list[str], i: int, chosen: dict[str, Candidate],
             constraints: dict[str, list[tuple[str, str]]], pool: dict[str, list[Candidate]],
             failures: list[str]) -> dict[str, Candidate] | None:
    """Depth-first search over ``order[i:]``: ``constraints`` maps a package to
    the (range, required by) pairs of the packages chosen so far. Returns the
    choices, or None (and appends the reason to ``failures``).

    Worst case exponential in the number of packages, in practice a handful
    of releases per package and almost no backtracking."""
    while i < len(order) and order[i] not in constraints:
        i += 1  # nothing chosen so far requires it
    if i == len(order):
        return dict(chosen)
    name = order[i]
    ranges = constraints[name]
    admitted = [c for c in pool.get(name, [])
                if all(SpecifierSet(s).contains(c.version, prereleases=True) for s, _ in ranges)]
    if not admitted:
        wanted = "; ".join(f"{s or 'any'} (by {by})" for s, by in ranges)
        have = ", ".join(c.version for c in pool.get(name, [])) or "none"
        failures.append(
            f"no recorded release of {name} satisfies {wanted}; recorded: {have}. A release "
            "made before a range moved still declares the old range: release the packages "
            "whose ranges the release tool updated (dependencies first)")
        return None
    for cand in admitted:
        more = {k: list(v) for k, v in constraints.items()}
        for dep, spec in cand.requires:
            more.setdefault(dep, []).append((spec, f"{name} {cand.version}"))
        found = _resolve(order, i + 1, {**chosen, name: cand}, more, pool, failures)
        if found is not None:
            return found
    return None


def build_wheel_at(root: Path, candidate: Candidate, outdir: Path, python: str) -> Path:
    """The wheel of ``candidate`` in ``outdir``, built once: from a ``git
    worktree`` of its release commit (removed afterwards), or from the working
    tree for an unreleased package. ``python`` runs ``pip wheel``.

    Raises VersioningError when the built wheel's version is not the recorded one."""
    stem = candidate.package.replace("-", "_")
    outdir = outdir / (candidate.commit[:12] if candidate.commit else "tree")
    existing = sorted(outdir.glob(f"{stem}-{candidate.version}-*.whl"))
    if existing and candidate.commit is not None:
        return existing[0]  # a release commit never changes: its wheel is reusable
    for stale in existing:  # the working tree may have changed since the last build
        stale.unlink()
    outdir.mkdir(parents=True, exist_ok=True)
    before = set(outdir.glob("*.whl"))
    with tempfile.TemporaryDirectory(prefix="tinytorch-release-") as tmp:
        src = root
        if candidate.commit is not None:
            src = Path(tmp) / "src"
            git(root, "worktree", "prune")  # forget worktrees of interrupted runs
            git(root, "worktree", "add", "--detach", str(src), candidate.commit)
        try:
            subprocess.run([python, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "--wheel-dir", str(outdir), str(src / candidate.directory)],
                           check=True)
        finally:
            if candidate.commit is not None:
                git(root, "worktree", "remove", "--force", str(src))
    built = sorted(outdir.glob(f"{stem}-{candidate.version}-*.whl"))
    if not built:
        new = sorted(p.name for p in set(outdir.glob("*.whl")) - before)
        raise VersioningError(
            f"{candidate.package} {candidate.version} ({candidate.source}) built {new}, "
            f"not version {candidate.version}: {RELEASES_FILE} does not match that commit")
    return built[0]
