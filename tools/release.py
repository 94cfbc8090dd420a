"""Release one TinyTorch package.

    python tools/release.py tinytorch-nn minor            # 0.1.0 -> 0.2.0
    python tools/release.py tinytorch-nn 0.2.0            # the same, by number
    python -m nox -s release -- tinytorch-nn minor        # the same, through nox
    python tools/release.py tinytorch-nn patch --dry-run  # show the edits, change nothing
    python tools/release.py --pending                     # what waits to be released, in order

In one step it:

1. bumps ``__version__`` in the package's ``src/tinytorch/<x>/__init__.py``
   (``major``/``minor``/``patch`` or an explicit ``X.Y.Z``; a package never
   released before is released at its current version, given explicitly);
2. moves the ``## [Unreleased]`` entries of its ``CHANGELOG.md`` under
   ``## [X.Y.Z] - <today>``;
3. updates the range of every project that depends on it (``packages/*`` and
   ``examples/*``) when the new version is above that range: a range moves to
   the new compatible series (``>=0.2,<0.3``; ``--keep-lower`` keeps the old
   lower bound, ``>=0.1,<0.3``), an exact pin moves to ``==X.Y.Z``, and the
   dependent's changelog gets a "Changed" bullet saying so; ``--raise-lower
   PKG`` also raises PKG's lower bound to the new version (``>=0.1.1,<0.2``),
   for a dependent that uses something this release adds;
4. commits that as ``Release <package> X.Y.Z`` (the *release commit*, whose
   tree is exactly the released sources), then appends (package, version,
   release commit, date) to ``releases.toml`` in a second commit.

It refuses (exit status 1, nothing written) a dirty work tree, an unknown
package, a version that is not above the current one or already recorded, an
empty Unreleased section, and a release that leaves some dependent's range
excluding the new version (``--keep-range PKG`` leaves PKG's range alone)
unless ``--allow-excluded`` says that is the intent.
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
import versioning as vs  # noqa: E402  (the sibling module, found through the line above)

ROOT = Path(__file__).resolve().parents[1]


class ReleaseError(vs.VersioningError):
    """The release is refused; the message says why and what to do."""


@dataclass
class Plan:
    """Everything one release changes, computed before anything is written."""

    package: str
    old_version: str
    new_version: str
    date: str
    edits: dict[Path, str] = field(default_factory=dict)  # file -> its new text
    range_changes: list[tuple[str, str, str]] = field(default_factory=list)  # dep, old, new
    excluded: list[tuple[str, str]] = field(default_factory=list)  # dep, its range
    packages_moved: set[str] = field(default_factory=set)  # packages (not examples) moved

    def commit_message(self) -> str:
        lines = [f"Release {self.package} {self.new_version}"]
        if self.range_changes:
            lines += ["", f"Ranges on {self.package} that follow it:"]
            lines += [f"- {dep}: {new} (was {old})" for dep, old, new in self.range_changes]
        if self.excluded:
            lines += ["", "Ranges left excluding it on purpose:"]
            lines += [f"- {dep}: {spec}" for dep, spec in self.excluded]
        return "\n".join(lines) + "\n"


def target_version(current: str, target: str, recorded: set[str]) -> str:
    """The version to release: a bump of ``current`` or an explicit version.
    Raises ReleaseError when it is not above ``current`` (equal is allowed only
    for a first release) or is already recorded."""
    if target in vs.BUMP_KINDS and not recorded:
        raise ReleaseError(
            f"this package was never released: release its current version as it is "
            f"(`{current}`), not a {target} bump of an unpublished version")
    if target in vs.BUMP_KINDS:
        new = vs.bump(current, target)
    else:
        try:
            new = str(Version(target))
        except InvalidVersion as exc:
            raise ReleaseError(
                f"{target!r} is neither a bump kind ({', '.join(vs.BUMP_KINDS)}) "
                "nor a version X.Y.Z") from exc
    if new in recorded:
        raise ReleaseError(f"version {new} is already recorded in {vs.RELEASES_FILE}")
    if Version(new) < Version(current) or (new == current and recorded):
        raise ReleaseError(f"version {new} is not above the current version {current}")
    return new


def plan_release(root: Path, package: str, target: str, date: str, *, keep_lower: bool = False,
                 keep_ranges: tuple[str, ...] = (), raise_lower: tuple[str, ...] = (),
                 allow_excluded: bool = False) -> Plan:
    """Compute the edits of one release (see the module docstring) without
    writing anything. Raises ReleaseError for every refusal."""
    projects = vs.load_projects(root)
    package = canonicalize_name(package)
    if package not in projects or not projects[package].is_package:
        known = ", ".join(n for n, p in projects.items() if p.is_package)
        raise ReleaseError(f"unknown package {package!r}; packages: {known}")
    depending = {p.name for p in vs.dependents(projects, package)}
    keep = {canonicalize_name(n) for n in keep_ranges}
    raise_ = {canonicalize_name(n) for n in raise_lower}
    for option, names in (("--keep-range", keep), ("--raise-lower", raise_)):
        for name in sorted(names - depending):
            raise ReleaseError(f"{option} {name}: it does not depend on {package}")
    if keep & raise_:
        raise ReleaseError(f"{', '.join(sorted(keep & raise_))}: both --keep-range and "
                           "--raise-lower")
    project = projects[package]
    recorded = {r.version for r in vs.read_releases(root) if r.package == package}
    new = target_version(project.version, target, recorded)
    plan = Plan(package, project.version, new, date)

    if not project.changelog.exists():
        raise ReleaseError(f"{_rel(root, project.changelog)} does not exist")
    plan.edits[project.changelog] = vs.release_changelog(
        project.changelog.read_text(encoding="utf-8"), new, date, _rel(root, project.changelog))
    plan.edits[project.version_file] = vs.set_version(
        project.version_file.read_text(encoding="utf-8"), new, _rel(root, project.version_file))

    for dep in vs.dependents(projects, package):
        if dep.name in raise_:
            _move_range(root, plan, dep, vs.raised_range(new))
        else:
            _follow(root, plan, dep, keep_lower, dep.name in keep)
    if plan.excluded and not allow_excluded:
        listed = "; ".join(f"{dep} requires {package}{spec}" for dep, spec in plan.excluded)
        raise ReleaseError(
            f"{package} {new} would be excluded by: {listed}. Update those ranges, or pass "
            "--allow-excluded if they are meant to stay on the older versions")
    return plan


def _follow(root: Path, plan: Plan, dep: vs.Project, keep_lower: bool, keep: bool) -> None:
    """Move ``dep``'s range on the released package when the new version is
    above it (unless ``keep``); otherwise note it as excluded, if it is."""
    specifier = dep.requires[plan.package].specifier
    spec = vs.spec_text(specifier)
    if specifier.contains(plan.new_version, prereleases=True):
        return
    if keep or not vs.is_above(specifier, plan.new_version):
        plan.excluded.append((dep.name, spec))
        return
    _move_range(root, plan, dep, vs.updated_specifier(specifier, plan.new_version, keep_lower))


def _move_range(root: Path, plan: Plan, dep: vs.Project, new_spec: str) -> None:
    """Set ``dep``'s range on the released package to ``new_spec`` and note it
    in ``dep``'s changelog."""
    spec = vs.spec_text(dep.requires[plan.package].specifier)
    text, _ = vs.rewrite_requirement(
        dep.pyproject.read_text(encoding="utf-8"), plan.package, new_spec)
    plan.edits[dep.pyproject] = text
    plan.range_changes.append((dep.name, f"{plan.package}{spec}", f"{plan.package}{new_spec}"))
    if dep.is_package:
        plan.packages_moved.add(dep.name)
    if dep.changelog.exists():
        note = (f"Requires `{plan.package}{new_spec}` (was `{plan.package}{spec}`), "
                f"following the {plan.package} {plan.new_version} release.")
        plan.edits[dep.changelog] = vs.add_unreleased_note(
            dep.changelog.read_text(encoding="utf-8"), "Changed", note,
            _rel(root, dep.changelog))


def check_clean(root: Path) -> None:
    """Refuse a work tree with uncommitted changes to tracked files: the release
    commit must hold exactly the released sources."""
    dirty = vs.git(root, "status", "--porcelain", "--untracked-files=no")
    if dirty:
        raise ReleaseError(f"the work tree has uncommitted changes; commit or stash them:\n{dirty}")


def apply_release(root: Path, plan: Plan) -> vs.Release:
    """Write the plan, make the release commit, record it in releases.toml and
    commit that record (see :func:`check_clean`)."""
    check_clean(root)
    for path, text in plan.edits.items():
        vs.write_atomic(path, text)
    vs.git(root, "add", "--", *(_rel(root, p) for p in plan.edits))
    vs.git(root, "commit", "--quiet", "-m", plan.commit_message())
    release = vs.Release(plan.package, plan.new_version, vs.git(root, "rev-parse", "HEAD"),
                         plan.date)
    vs.append_release(root, release)
    vs.git(root, "add", "--", vs.RELEASES_FILE)
    vs.git(root, "commit", "--quiet", "-m",
           f"Record the release of {plan.package} {plan.new_version} "
           f"(commit {release.commit[:12]})")
    return release


def show_plan(root: Path, plan: Plan, dry_run: bool) -> None:
    print(f"{plan.package}: {plan.old_version} -> {plan.new_version} ({plan.date})")
    for dep, old, new in plan.range_changes:
        print(f"  {dep}: {old} -> {new}")
    for dep, spec in plan.excluded:
        print(f"  {dep}: keeps {plan.package}{spec} (excludes {plan.new_version})")
    if not dry_run:
        return
    for path, text in plan.edits.items():
        old = path.read_text(encoding="utf-8").splitlines(keepends=True)
        name = _rel(root, path)
        sys.stdout.writelines(difflib.unified_diff(old, text.splitlines(keepends=True),
                                                   f"a/{name}", f"b/{name}"))


def pending(root: Path) -> list[tuple[str, str, list[str]]]:
    """The packages whose changelog holds unreleased entries, dependencies
    first (the order to release them in): (name, version, the ``###`` groups
    of those entries). A package without a changelog is listed with ["no
    CHANGELOG.md"]."""
    projects = vs.load_projects(root)
    releases = vs.read_releases(root)
    found = []
    for name in vs.dependencies_first(projects):
        project = projects[name]
        if not project.changelog.exists():
            found.append((name, project.version, ["no CHANGELOG.md"]))
            continue
        body = vs.unreleased_body(project.changelog.read_text(encoding="utf-8"), name)
        if body:
            groups = [ln[4:].strip() for ln in body.splitlines() if ln.startswith("### ")]
            groups = groups or ["entries without a group"]
            if not any(r.package == name for r in releases):
                groups.append(f"never released: release it as {project.version}")
            found.append((name, project.version, groups))
    return found


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", nargs="?", help="distribution name, e.g. tinytorch-nn")
    parser.add_argument("target", nargs="?",
                        help="major, minor, patch, or an explicit version X.Y.Z")
    parser.add_argument("--pending", action="store_true",
                        help="list the packages with unreleased entries, dependencies first")
    parser.add_argument("--date", default=datetime.date.today().isoformat(),
                        help="release date, YYYY-MM-DD (default: today)")
    parser.add_argument("--keep-lower", action="store_true",
                        help="moved ranges keep their lower bound (>=0.1,<0.3)")
    parser.add_argument("--keep-range", action="append", default=[], metavar="PKG",
                        help="leave PKG's range unchanged (repeatable)")
    parser.add_argument("--raise-lower", action="append", default=[], metavar="PKG",
                        help="raise PKG's lower bound to the new version (repeatable)")
    parser.add_argument("--allow-excluded", action="store_true",
                        help="release even if some dependent's range excludes the new version")
    parser.add_argument("--dry-run", action="store_true", help="print the edits, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if args.pending:
        for name, version, groups in pending(root):
            print(f"{name:<28} {version:<8} unreleased: {', '.join(groups)}")
        return 0
    if args.package is None or args.target is None:
        parser.error("give a package and a target (or --pending)")
    try:
        if not args.dry_run:
            check_clean(root)
        plan = plan_release(root, args.package, args.target, args.date,
                            keep_lower=args.keep_lower, keep_ranges=tuple(args.keep_range),
                            raise_lower=tuple(args.raise_lower),
                            allow_excluded=args.allow_excluded)
        show_plan(root, plan, args.dry_run)
        if args.dry_run:
            return 0
        release = apply_release(root, plan)
    except vs.VersioningError as exc:
        print(f"release refused: {exc}", file=sys.stderr)
        return 1
    print(f"released {release.package} {release.version} at {release.commit}")
    waiting = [dep for dep, _, _ in plan.range_changes if dep in plan.packages_moved]
    if waiting:
        print(f"unreleased changes now wait in: {', '.join(waiting)} (release them when ready)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
