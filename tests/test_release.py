"""The release step (``tools/release.py``) and the oldest-admitted resolution
behind the ``compat`` session (``tools/versioning.py``).

Every release test runs on a throw-away git repository: three toy packages
(``tinytorch-tensor`` <- ``tinytorch-nn`` <- ``tinytorch-optim``), a toy
``tinytorch-app`` on top of nn and optim, and an example project pinning
``tinytorch-tensor==0.1.0``, all at 0.1.0 and recorded as released. The last
tests check the repository's own ``releases.toml`` and changelogs.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import release  # noqa: E402
import versioning as vs  # noqa: E402

DATE = "2026-12-01"
CHANGELOG = """# Changelog

## [Unreleased]
{unreleased}
## [0.1.0] - 2026-11-25

### Added
- First release.
"""
TOY = {  # package -> its tinytorch requirements
    "tinytorch-tensor": [],
    "tinytorch-nn": ["tinytorch-tensor>=0.1,<0.2"],
    "tinytorch-optim": ["tinytorch-tensor>=0.1,<0.2", "tinytorch-nn>=0.1,<0.2"],
    "tinytorch-app": ["tinytorch-nn>=0.1,<0.2", "tinytorch-optim>=0.1,<0.2"],
}


def sh(repo: Path, *args: str) -> str:
    return vs.git(repo, *args)


def write_package(repo: Path, name: str, requires: list[str], unreleased: str = "") -> None:
    sub = name.removeprefix("tinytorch-")
    pkg = repo / "packages" / name
    (pkg / "src" / "tinytorch" / sub).mkdir(parents=True)
    deps = ", ".join(f'"{r}"' for r in ["numpy>=1.24", *requires])
    (pkg / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\ndynamic = ["version"]\ndependencies = [{deps}]\n\n'
        f'[project.optional-dependencies]\ntest = ["pytest>=7"]\n\n'
        f'[tool.hatch.version]\npath = "src/tinytorch/{sub}/__init__.py"\n')
    (pkg / "src" / "tinytorch" / sub / "__init__.py").write_text(
        f'"""Toy {name}."""\n\n__version__ = "0.1.0"\n')
    (pkg / "CHANGELOG.md").write_text(CHANGELOG.format(unreleased=unreleased))


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A committed toy repository with every package released at 0.1.0 and
    an Unreleased entry in each changelog."""
    for var, value in [("GIT_AUTHOR_NAME", "Maintainer"), ("GIT_COMMITTER_NAME", "Maintainer"),
                       ("GIT_AUTHOR_EMAIL", "m@example.org"),
                       ("GIT_COMMITTER_EMAIL", "m@example.org")]:
        monkeypatch.setenv(var, value)
    repo = tmp_path / "repo"
    repo.mkdir()
    sh(repo, "init", "--quiet")
    for name, requires in TOY.items():
        write_package(repo, name, requires, unreleased="\n### Fixed\n- A fix.\n")
    example = repo / "examples" / "downstream"
    example.mkdir(parents=True)
    (example / "pyproject.toml").write_text(
        '[project]\nname = "downstream-fit"\nversion = "1.0.0"\n'
        'dependencies = ["numpy>=1.24", "tinytorch-tensor==0.1.0"]\n')
    sh(repo, "add", "-A")
    sh(repo, "commit", "--quiet", "-m", "toy stack")
    first = sh(repo, "rev-parse", "HEAD")
    for name in TOY:
        vs.append_release(repo, vs.Release(name, "0.1.0", first, "2026-11-25"))
    sh(repo, "add", "-A")
    sh(repo, "commit", "--quiet", "-m", "record 0.1.0")
    return repo


def run(repo: Path, *args: str) -> int:
    return release.main([*args, "--root", str(repo), "--date", DATE])


def version_of(repo: Path, name: str, commit: str | None = None) -> str:
    rel = f"packages/{name}/src/tinytorch/{name.removeprefix('tinytorch-')}/__init__.py"
    text = sh(repo, "show", f"{commit}:{rel}") if commit else (repo / rel).read_text()
    return vs.read_version(text, rel)


def ranges(repo: Path, project: str, on: str) -> list[str]:
    where = "examples/downstream" if project == "downstream" else f"packages/{project}"
    with (repo / where / "pyproject.toml").open("rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    return [d.split(on, 1)[1] for d in deps if d.startswith(on)]


# --------------------------------------------------------------------------- #
# Releasing
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("package", "target", "expected"),
    [
        ("tinytorch-nn", "patch", "0.1.1"),
        ("tinytorch-nn", "minor", "0.2.0"),
        ("tinytorch-nn", "major", "1.0.0"),
        ("tinytorch-nn", "0.3.0", "0.3.0"),
        ("tinytorch-optim", "patch", "0.1.1"),
        ("tinytorch-tensor", "minor", "0.2.0"),
    ],
)
def test_bump_kinds_record_the_release_commit(repo, package, target, expected):
    assert run(repo, package, target) == 0
    assert version_of(repo, package) == expected
    last = vs.read_releases(repo)[-1]
    assert (last.package, last.version, last.date) == (package, expected, DATE)
    # The recorded commit is the release commit (HEAD~1): its tree holds the new
    # version; HEAD only adds the record.
    assert last.commit == sh(repo, "rev-parse", "HEAD~1")
    assert version_of(repo, package, last.commit) == expected
    assert sh(repo, "diff", "--name-only", "HEAD~1", "HEAD") == "releases.toml"
    assert sh(repo, "status", "--porcelain") == ""
    changelog = (repo / "packages" / package / "CHANGELOG.md").read_text()
    assert f"## [Unreleased]\n\n## [{expected}] - {DATE}\n\n### Fixed\n- A fix.\n" in changelog
    assert vs.unreleased_body(changelog, "CHANGELOG.md") == ""


@pytest.mark.parametrize(
    ("package", "args", "expected"),
    [
        # a patch stays inside every range: nothing moves
        ("tinytorch-nn", ["patch"], {("tinytorch-optim", "tinytorch-nn"): ">=0.1,<0.2"}),
        # a breaking (minor) release moves the dependents to the new series
        ("tinytorch-nn", ["minor"], {("tinytorch-optim", "tinytorch-nn"): ">=0.2,<0.3",
                                     ("tinytorch-app", "tinytorch-nn"): ">=0.2,<0.3"}),
        # --keep-lower widens instead: a claim the compat session then tests
        ("tinytorch-nn", ["minor", "--keep-lower"],
         {("tinytorch-optim", "tinytorch-nn"): ">=0.1,<0.3"}),
        ("tinytorch-nn", ["1.0.0"], {("tinytorch-app", "tinytorch-nn"): ">=1.0,<2"}),
        # an exact pin follows exactly
        ("tinytorch-tensor", ["patch"], {("downstream", "tinytorch-tensor"): "==0.1.1",
                                         ("tinytorch-nn", "tinytorch-tensor"): ">=0.1,<0.2"}),
        # a dependent that uses what a patch adds raises its lower bound
        ("tinytorch-tensor", ["patch", "--raise-lower", "tinytorch-nn"],
         {("tinytorch-nn", "tinytorch-tensor"): ">=0.1.1,<0.2",
          ("tinytorch-optim", "tinytorch-tensor"): ">=0.1,<0.2"}),
        ("tinytorch-tensor", ["minor"], {("downstream", "tinytorch-tensor"): "==0.2.0",
                                         ("tinytorch-nn", "tinytorch-tensor"): ">=0.2,<0.3",
                                         ("tinytorch-optim", "tinytorch-tensor"): ">=0.2,<0.3"}),
    ],
)
def test_dependent_ranges_follow_the_release(repo, package, args, expected):
    assert run(repo, package, *args) == 0
    for (project, on), spec in expected.items():
        assert ranges(repo, project, on) == [spec]


def test_a_moved_range_is_noted_in_the_dependents_changelog(repo):
    assert run(repo, "tinytorch-nn", "minor") == 0
    text = (repo / "packages" / "tinytorch-optim" / "CHANGELOG.md").read_text()
    body = vs.unreleased_body(text, "optim")
    assert body == ("### Changed\n- Requires `tinytorch-nn>=0.2,<0.3` (was "
                    "`tinytorch-nn>=0.1,<0.2`), following\n  the tinytorch-nn 0.2.0 release.\n\n"
                    "### Fixed\n- A fix.")
    untouched = (repo / "packages" / "tinytorch-tensor" / "CHANGELOG.md").read_text()
    assert "Requires" not in untouched


def test_dry_run_writes_nothing(repo, capsys):
    head = sh(repo, "rev-parse", "HEAD")
    assert run(repo, "tinytorch-nn", "minor", "--dry-run") == 0
    assert sh(repo, "rev-parse", "HEAD") == head and sh(repo, "status", "--porcelain") == ""
    assert '+__version__ = "0.2.0"' in capsys.readouterr().out


def empty_nn_changelog(repo: Path) -> None:
    (repo / "packages/tinytorch-nn/CHANGELOG.md").write_text(
        CHANGELOG.format(unreleased="\n### Added\n\n"))
    sh(repo, "commit", "--quiet", "-am", "empty")


def dirty(repo: Path) -> None:
    (repo / "packages/tinytorch-nn/CHANGELOG.md").write_text("edited\n")


@pytest.mark.parametrize(
    ("prepare", "args", "message"),
    [
        (empty_nn_changelog, ["tinytorch-nn", "minor"], "Unreleased section is empty"),
        (None, ["tinytorch-nope", "minor"], "unknown package"),
        (None, ["tinytorch-nn", "huge"], "neither a bump kind"),
        (None, ["tinytorch-nn", "0.1.0"], "already recorded"),
        (None, ["tinytorch-nn", "0.0.9"], "not above the current version"),
        (None, ["tinytorch-nn", "minor", "--keep-range", "tinytorch-optim"],
         "would be excluded by: tinytorch-optim requires tinytorch-nn>=0.1,<0.2"),
        (None, ["tinytorch-nn", "minor", "--keep-range", "tinytorch-tensor"],
         "does not depend on tinytorch-nn"),
        (None, ["tinytorch-nn", "patch", "--raise-lower", "tinytorch-tensor"],
         "--raise-lower tinytorch-tensor: it does not depend on tinytorch-nn"),
        (None, ["tinytorch-nn", "patch", "--raise-lower", "tinytorch-app", "--keep-range",
                "tinytorch-app"], "both --keep-range and --raise-lower"),
        (dirty, ["tinytorch-nn", "minor"], "uncommitted changes"),
    ],
)
def test_refusals_change_nothing(repo, capsys, prepare, args, message):
    if prepare is not None:
        prepare(repo)
    head, status = sh(repo, "rev-parse", "HEAD"), sh(repo, "status", "--porcelain")
    releases = (repo / "releases.toml").read_text()
    assert run(repo, *args) == 1
    assert message in capsys.readouterr().err
    assert sh(repo, "rev-parse", "HEAD") == head
    assert sh(repo, "status", "--porcelain") == status
    assert (repo / "releases.toml").read_text() == releases


def test_allow_excluded_releases_and_keeps_the_range(repo):
    assert run(repo, "tinytorch-nn", "minor", "--keep-range", "tinytorch-optim",
               "--allow-excluded") == 0
    assert ranges(repo, "tinytorch-optim", "tinytorch-nn") == [">=0.1,<0.2"]
    assert ranges(repo, "tinytorch-app", "tinytorch-nn") == [">=0.2,<0.3"]
    message = sh(repo, "log", "-1", "--format=%B", "HEAD~1")
    assert "Ranges left excluding it on purpose:\n- tinytorch-optim: >=0.1,<0.2" in message


def test_first_release_of_a_new_package_keeps_its_version(repo):
    write_package(repo, "tinytorch-quant", ["tinytorch-nn>=0.1,<0.2"],
                  unreleased="\n### Added\n- Quantized layers.\n")
    sh(repo, "add", "-A")
    sh(repo, "commit", "--quiet", "-m", "quant")
    assert "never released: release it as 0.1.0" in release.pending(repo)[-1][2]
    assert run(repo, "tinytorch-quant", "minor") == 1  # would skip the unpublished 0.1.0
    assert run(repo, "tinytorch-quant", "0.1.0") == 0
    last = vs.read_releases(repo)[-1]
    assert (last.package, last.version) == ("tinytorch-quant", "0.1.0")
    assert run(repo, "tinytorch-quant", "0.1.0") == 1  # now it is recorded


def test_pending_lists_unreleased_packages_dependencies_first(repo, capsys):
    assert run(repo, "tinytorch-tensor", "patch") == 0  # its Unreleased is now empty
    assert [name for name, _, _ in release.pending(repo)] == [
        "tinytorch-nn", "tinytorch-optim", "tinytorch-app"]
    assert release.main(["--pending", "--root", str(repo)]) == 0
    assert "tinytorch-nn                 0.1.0    unreleased: Fixed" in capsys.readouterr().out


# --------------------------------------------------------------------------- #
# The oldest admitted releases (what the compat session installs)
# --------------------------------------------------------------------------- #


def chosen(repo: Path, package: str) -> dict[str, tuple[str, str | None]]:
    return {n: (c.version, c.commit) for n, c in vs.lowest_admitted(repo, package).items()}


def release_commit(repo: Path, package: str, version: str) -> str:
    return next(r.commit for r in vs.read_releases(repo)
                if (r.package, r.version) == (package, version))


def test_nn_becomes_0_2_while_the_others_pinned_0_1(repo):
    first = release_commit(repo, "tinytorch-nn", "0.1.0")
    assert chosen(repo, "tinytorch-optim")["tinytorch-nn"] == ("0.1.0", first)

    assert run(repo, "tinytorch-nn", "minor") == 0  # the ranges move to >=0.2,<0.3
    nn2 = release_commit(repo, "tinytorch-nn", "0.2.0")
    # optim (in the tree) is now tested against the nn 0.2.0 release commit ...
    assert chosen(repo, "tinytorch-optim") == {"tinytorch-nn": ("0.2.0", nn2),
                                               "tinytorch-tensor": ("0.1.0", first)}
    # ... but app cannot be: every recorded optim release still requires nn<0.2.
    with pytest.raises(vs.ResolutionError, match="no recorded release of tinytorch-nn"):
        vs.lowest_admitted(repo, "tinytorch-app")

    assert run(repo, "tinytorch-optim", "patch") == 0  # its Unreleased holds the range note
    optim = release_commit(repo, "tinytorch-optim", "0.1.1")
    assert chosen(repo, "tinytorch-app") == {"tinytorch-nn": ("0.2.0", nn2),
                                             "tinytorch-optim": ("0.1.1", optim),
                                             "tinytorch-tensor": ("0.1.0", first)}


def test_a_widened_range_is_tested_at_its_old_lower_bound(repo):
    assert run(repo, "tinytorch-nn", "minor", "--keep-lower") == 0
    first = release_commit(repo, "tinytorch-nn", "0.1.0")
    assert chosen(repo, "tinytorch-optim")["tinytorch-nn"] == ("0.1.0", first)


def test_a_raised_lower_bound_is_tested_at_the_new_release(repo):
    assert chosen(repo, "tinytorch-nn")["tinytorch-tensor"][0] == "0.1.0"
    assert run(repo, "tinytorch-tensor", "patch", "--raise-lower", "tinytorch-nn") == 0
    assert chosen(repo, "tinytorch-nn")["tinytorch-tensor"] == (
        "0.1.1", release_commit(repo, "tinytorch-tensor", "0.1.1"))
    # optim keeps >=0.1 on tensor, but its nn 0.1.0 release (which it admits
    # first) is happy with tensor 0.1.0: the oldest consistent set is still 0.1.0.
    assert chosen(repo, "tinytorch-optim")["tinytorch-tensor"][0] == "0.1.0"


def test_an_unreleased_package_is_taken_from_the_tree(repo):
    write_package(repo, "tinytorch-quant", ["tinytorch-nn>=0.1,<0.2"])
    write_package(repo, "tinytorch-compress", ["tinytorch-quant>=0.1,<0.2"])
    assert chosen(repo, "tinytorch-compress")["tinytorch-quant"] == ("0.1.0", None)


def test_a_range_admitting_no_release_is_an_error(repo):
    path = repo / "packages/tinytorch-optim/pyproject.toml"
    path.write_text(path.read_text().replace("tinytorch-nn>=0.1,<0.2", "tinytorch-nn>=0.5,<0.6"))
    with pytest.raises(vs.ResolutionError, match=r"satisfies >=0.5,<0.6 \(by tinytorch-optim\)"):
        vs.lowest_admitted(repo, "tinytorch-optim")


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("version", "kind", "expected"),
    [("0.1.0", "patch", "0.1.1"), ("0.1.3", "minor", "0.2.0"), ("0.9.2", "major", "1.0.0"),
     ("1.2.3", "minor", "1.3.0"), ("1.2.3", "major", "2.0.0"), ("0.1", "patch", "0.1.1")],
)
def test_bump(version, kind, expected):
    assert vs.bump(version, kind) == expected


@pytest.mark.parametrize(
    ("spec", "version", "keep_lower", "expected"),
    [(">=0.1,<0.2", "0.2.0", False, ">=0.2,<0.3"), (">=0.1,<0.2", "0.2.0", True, ">=0.1,<0.3"),
     (">=0.1,<0.2", "1.0.0", False, ">=1.0,<2"), ("==0.1.0", "0.1.1", False, "==0.1.1"),
     ("~=0.1.0", "0.2.0", False, ">=0.2,<0.3"), ("<0.2", "0.2.0", True, ">=0.2,<0.3")],
)
def test_updated_specifier(spec, version, keep_lower, expected):
    specifier = vs.SpecifierSet(spec)
    assert vs.is_above(specifier, version)
    assert vs.updated_specifier(specifier, version, keep_lower) == expected


@pytest.mark.parametrize(("spec", "version"), [(">=0.2,<0.3", "0.1.5"), ("==0.2.0", "0.1.0")])
def test_a_version_below_the_range_is_not_above(spec, version):
    assert not vs.is_above(vs.SpecifierSet(spec), version)


@pytest.mark.parametrize(
    ("unreleased", "expected"),
    [("\n### Changed\n- New.\n\n### Fixed\n- Old.\n",
      "### Changed\n- New.\n- Note.\n\n### Fixed\n- Old."),
     ("\n### Added\n- New.\n\n### Fixed\n- Old.\n",
      "### Added\n- New.\n\n### Changed\n- Note.\n\n### Fixed\n- Old."),
     ("\n### Removed\n- Gone.\n", "### Changed\n- Note.\n\n### Removed\n- Gone."),
     ("\n### Added\n- New.\n", "### Added\n- New.\n\n### Changed\n- Note."),
     ("\n", "### Changed\n- Note.")],
)
def test_add_unreleased_note_keeps_the_group_order(unreleased, expected):
    text = CHANGELOG.format(unreleased=unreleased)
    new = vs.add_unreleased_note(text, "Changed", "Note.", "CHANGELOG.md")
    assert vs.unreleased_body(new, "CHANGELOG.md") == expected
    assert "\n\n## [0.1.0] - 2026-11-25\n\n### Added\n- First release.\n" in new


@pytest.mark.parametrize(
    ("entry", "message"),
    [('package = "tinytorch-nn"\nversion = "0.1.0"\ndate = "2026-11-25"', "lacks commit"),
     (f'package = "a"\nversion = "x"\ncommit = "{"a" * 40}"\ndate = "2026-11-25"',
      "invalid version"),
     ('package = "a"\nversion = "0.1.0"\ncommit = "82451cd"\ndate = "2026-11-25"',
      "not a full hash"),
     (f'package = "a"\nversion = "0.1.0"\ncommit = "{"a" * 40}"\ndate = "25.11.2026"',
      "not YYYY-MM-DD")],
)
def test_malformed_release_records_are_refused(tmp_path, entry, message):
    (tmp_path / vs.RELEASES_FILE).write_text(f"[[release]]\n{entry}\n")
    with pytest.raises(vs.VersioningError, match=message):
        vs.read_releases(tmp_path)


# --------------------------------------------------------------------------- #
# This repository
# --------------------------------------------------------------------------- #


def test_every_package_has_a_changelog_with_its_released_versions():
    projects = vs.load_projects(ROOT)
    recorded = vs.read_releases(ROOT)
    for project in (p for p in projects.values() if p.is_package):
        assert project.changelog.is_file(), f"{project.name} has no CHANGELOG.md"
        text = project.changelog.read_text(encoding="utf-8")
        vs.unreleased_body(text, project.name)  # raises without an Unreleased section
        for r in (r for r in recorded if r.package == project.name):
            assert f"## [{r.version}] - " in text, f"{project.name}: no section for {r.version}"


def test_every_recorded_release_names_a_package_and_a_commit_of_this_history():
    projects = vs.load_projects(ROOT)
    shallow = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True).stdout.strip() == "true"
    for r in vs.read_releases(ROOT):
        assert r.package in projects, f"{vs.RELEASES_FILE}: unknown package {r.package}"
        if not shallow:
            path = projects[r.package].version_file.relative_to(ROOT).as_posix()
            text = vs.git(ROOT, "show", f"{r.commit}:{path}")
            assert vs.read_version(text, r.package) == r.version
