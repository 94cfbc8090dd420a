"""The ``tito`` command line (typer on click, tables by rich).

Exit status, for every command: 0 success; 1 a failure or an invalid
result (a test failed, a submission is invalid, doctor found an error);
2 a usage error (unknown command or option, a bad value, a file that cannot
be read). Errors are one line on stderr, never a traceback.

Shell completion: ``tito --install-completion`` (bash, zsh, fish, PowerShell).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer
from rich.console import Console
from rich.table import Table

from . import __version__

app = typer.Typer(
    name="tito",
    help="TinyTorch's command line: the system, the milestones, tests, benchmarks, "
         "profiles, the Olympics and their leaderboard.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)
system_app = typer.Typer(help="This machine and the installed TinyTorch packages.",
                         no_args_is_help=True, rich_markup_mode="markdown")
olympics_app = typer.Typer(
    help="The TorchPerf Olympics (the same commands as python -m tinytorch.olympics; "
         "`tito olympics COMMAND --help` shows each one's options).",
    no_args_is_help=True, rich_markup_mode="markdown")
milestone_app = typer.Typer(help="The historical milestones, trained end to end.",
                            no_args_is_help=True, rich_markup_mode="markdown")
app.add_typer(system_app, name="system")
app.add_typer(milestone_app, name="milestone")
app.add_typer(olympics_app, name="olympics")

out = Console()
err = Console(stderr=True)

USAGE = 2
FAILURE = 1

# Commands whose options belong to another parser: extra options go through
# as typed (`tito milestone run 3 --epochs 5`), --help too for the olympics
# commands, so that `tito olympics X` and `python -m tinytorch.olympics X`
# cannot drift apart.
PASSTHROUGH_OPTIONS = {"allow_extra_args": True, "ignore_unknown_options": True}
PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True,
               "help_option_names": []}


def fail(message: str, code: int = USAGE) -> typer.Exit:
    """Print ``error: message`` on stderr; return the Exit to raise."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        out.print(f"tito {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """TinyTorch's command line."""


# --------------------------------------------------------------------------- #
# tito system
# --------------------------------------------------------------------------- #


def _packages_table(packages: list[dict]) -> Table:
    table = Table(title="installed tinytorch packages")
    for column in ("package", "version", "dependencies"):
        table.add_column(column)
    for pkg in packages:
        bad = [f"{r['requirement']}: {r['status']}" for r in pkg["requirements"]
               if r["status"] != "ok"]
        deps = "[green]all satisfied[/green]" if pkg["ok"] else "[red]" + "; ".join(bad) + "[/red]"
        table.add_row(pkg["name"], pkg["version"], f"{len(pkg['requirements'])} declared, {deps}")
    return table


def _machine_table(info: dict) -> Table:
    from .system import cpu_summary, thread_count

    table = Table(title="machine and libraries", show_header=False)
    table.add_column("what")
    table.add_column("value")
    blas = info.get("blas") or {}
    threads = thread_count(info)
    rows = [
        ("python", f"{info.get('python')} ({info.get('python_implementation')})"),
        ("os", str(info.get("os"))),
        ("cpu", cpu_summary(info)),
        ("memory", f"{info.get('memory_available_bytes', 0) / 2**30:.1f} GiB available of "
                   f"{info.get('memory_total_bytes', 0) / 2**30:.1f} GiB"),
        ("numpy", str(info.get("numpy"))),
        ("blas", f"{blas.get('name', '?')} {blas.get('version', '')}".strip()),
        ("blas threads", "unknown (threadpoolctl not installed)" if threads is None
         else str(threads)),
        ("thread variables", ", ".join(f"{k}={v}" for k, v in info.get("thread_env", {}).items())
         or "none set"),
        ("load average", " ".join(str(v) for v in info.get("load_average") or []) or "unknown"),
    ]
    for row in rows:
        table.add_row(*row)
    return table


def _print_findings(found) -> None:
    if not found:
        out.print("[green]no problem found[/green]")
        return
    for f in found:
        colour = "red" if f.level == "error" else "yellow"
        out.print(f"[{colour}]{f.level}[/{colour}]: {f.what}\n    fix: {f.fix}", highlight=False)


@system_app.command("info")
def system_info_cmd() -> None:
    """The installed tinytorch packages, NumPy, its BLAS and threads, Python, the load."""
    from .system import collect

    info, packages, found = collect()
    out.print(_machine_table(info))
    out.print(_packages_table(packages))
    _print_findings(found)


@system_app.command("doctor")
def system_doctor_cmd() -> None:
    """Check the installation and the machine; exit 1 when an error is found
    (an unsatisfied dependency); warnings (load, threads) print their fix."""
    from .system import collect

    _info, packages, found = collect()
    out.print(f"{len(packages)} tinytorch package(s) installed")
    _print_findings(found)
    if any(f.level == "error" for f in found):
        raise typer.Exit(FAILURE)


# --------------------------------------------------------------------------- #
# tito milestone
# --------------------------------------------------------------------------- #


def _find_milestone(key: str):
    from tinytorch.milestones import find

    try:
        return find(key)
    except ValueError as exc:
        raise fail(str(exc)) from None


@milestone_app.command("list")
def milestone_list() -> None:
    """The milestones, their year and their bar."""
    from tinytorch.milestones import MILESTONES

    table = Table(title="milestones (tito milestone run N)")
    for column in ("N", "year", "what", "bar"):
        table.add_column(column)
    for m in MILESTONES:
        table.add_row(m.key, m.year, m.title, m.bar)
    out.print(table)


@milestone_app.command("info")
def milestone_info(n: str = typer.Argument(..., help="the milestone: 1, 2, 3, 4, 5a, 5b, 6, 7")
                   ) -> None:
    """A milestone's history, idea and options (its module's docstring)."""
    m = _find_milestone(n)
    module = m.load()
    out.print(f"[bold]milestone {m.key}[/bold] ({m.module}); bar: {m.bar}\n", highlight=False)
    out.print((module.__doc__ or "").strip(), highlight=False, markup=False)


@milestone_app.command("run", context_settings=PASSTHROUGH_OPTIONS)
def milestone_run(ctx: typer.Context,
                  n: str = typer.Argument(..., help="the milestone: 1, 2, 3, 4, 5a, 5b, 6, 7"),
                  quick: bool = typer.Option(False, "--quick",
                                             help="shorter settings that still meet the bar")
                  ) -> None:
    """Train milestone N; exit 1 when it misses its bar. Options after N
    (--seed, --epochs, ...) go to the milestone: `tito milestone info N`."""
    m = _find_milestone(n)
    argv = (["--quick"] if quick else []) + list(ctx.args)
    try:
        result = m.load().main(argv)
    except SystemExit as exc:  # the milestone's argparse: a bad option
        raise typer.Exit(USAGE if exc.code else 0) from None
    raise typer.Exit(0 if result.get("passed") else FAILURE)


# --------------------------------------------------------------------------- #
# tito olympics / tito submit: one implementation, tinytorch.olympics.cli
# --------------------------------------------------------------------------- #

# The olympics commands are handed to ``tinytorch.olympics.cli.main`` as they
# are typed, options and --help included, so that `tito olympics X` and
# `python -m tinytorch.olympics X` cannot drift apart.


def run_olympics(argv: Sequence[str]) -> int:
    """Run ``python -m tinytorch.olympics *argv`` in this process; its exit status."""
    from tinytorch.olympics.cli import main as olympics_main

    try:
        return int(olympics_main(list(argv)) or 0)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return USAGE


def _olympics_command(name: str, summary: str):
    def command(ctx: typer.Context) -> None:
        raise typer.Exit(run_olympics([name, *ctx.args]))

    command.__doc__ = summary
    return command


for _name, _summary in [
    ("events", "List the five events and their qualification rules."),
    ("run", "Train a built-in baseline, optimize it, measure both, write a submission."),
    ("validate", "Check a submission (FILE [--reproduce] [--json])."),
    ("submit", "Validate, then write the final checked submission (FILE --output-dir DIR)."),
]:
    olympics_app.command(_name, context_settings=PASSTHROUGH, add_help_option=False)(
        _olympics_command(_name, _summary))

app.command("submit", context_settings=PASSTHROUGH, add_help_option=False)(
    _olympics_command("submit", "The same as `tito olympics submit`: validate a submission "
                                "and write its final checked copy."))


# --------------------------------------------------------------------------- #
# tito test / bench / profile
# --------------------------------------------------------------------------- #


def _pytest(tests) -> int:
    import subprocess

    # From a scratch folder, so that `import tinytorch.x` finds what is installed
    # (or on PYTHONPATH), never a source tree that happens to be the working folder.
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        return subprocess.call([sys.executable, "-m", "pytest", "-q", "--import-mode=importlib",
                                "-p", "no:cacheprovider", str(tests)], cwd=scratch)


@app.command("test")
def test_cmd(
    package: str = typer.Argument(None, help="tinytorch-nn, nn, ... (default: every installed "
                                             "tinytorch package)"),
    source: str = typer.Option(None, "--source",
                               help="an unpacked sdist or packages/<name> holding tests/"),
) -> None:
    """Run a package's tests (pytest) against the installed packages.
    Exit 1 when a test fails."""
    from .tools import NotFound, find_tests, installed_tinytorch

    names = [package] if package else installed_tinytorch()
    if not names:
        raise fail("no tinytorch package is installed; name one: tito test tinytorch-nn")
    failed = []
    for name in names:
        try:
            tests = find_tests(name, source)
        except NotFound as exc:
            if package:
                raise fail(str(exc)) from None
            err.print(f"[yellow]skipped[/yellow] {name}: {exc}", highlight=False)
            continue
        out.print(f"[bold]{name}[/bold]: pytest {tests}", highlight=False)
        code = _pytest(tests)
        if code not in (0, 5):  # 5: every test skipped itself (an optional library missing)
            failed.append(name)
    if failed:
        raise fail(f"tests failed: {', '.join(failed)}", FAILURE)


@app.command("bench")
def bench_cmd(
    name: str = typer.Argument(None, help="a benchmark (mlp, conv, ...); default: list them"),
    root: str = typer.Option(None, "--root", help="the TinyTorch checkout"),
) -> None:
    """List the benchmarks, or run one (it prints medians and ratios measured
    in the same run). Exit 1 when the benchmark fails."""
    import subprocess

    from .tools import NotFound, find_benchmarks, pick_benchmark

    try:
        scripts = find_benchmarks(root)
        if name is None:
            for script in scripts:
                doc = script.read_text(encoding="utf-8").split('"""')
                first = doc[1].strip().splitlines()[0] if len(doc) > 2 else ""
                out.print(f"{script.stem.removeprefix('bench_'):<14} {first}", highlight=False)
            return
        script = pick_benchmark(scripts, name)
    except NotFound as exc:
        raise fail(str(exc)) from None
    code = subprocess.call([sys.executable, str(script)], cwd=script.parent.parent)
    if code:
        raise typer.Exit(FAILURE)


@app.command("profile")
def profile_cmd(
    model: str = typer.Argument(..., help="mlp (milestone 3), cnn (milestone 4), gpt (5b)"),
    batch: int = typer.Option(32, "--batch", min=1, help="batch size"),
    trace: str = typer.Option("trace.json", "--trace",
                              help="Chrome trace file (chrome://tracing, ui.perfetto.dev)"),
    rows: int = typer.Option(25, "--rows", min=1, help="rows of the per-op table"),
) -> None:
    """A milestone model's per-op table (time, share, FLOPs) and a Chrome trace."""
    from .tools import profile_model

    try:
        report, path = profile_model(model, batch, trace)
    except (ValueError, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    out.print(report.table(max_rows=rows), highlight=False, markup=False, soft_wrap=True)
    out.print(f"wrote the Chrome trace {path}")


# --------------------------------------------------------------------------- #
# tito leaderboard
# --------------------------------------------------------------------------- #


def _print_board(board: dict) -> None:
    for event, rows in board["events"].items():
        key = rows[0]["score_key"]
        table = Table(title=f"{event} (ranked per division by {key})")
        for column in ("rank", "division", "athlete", key, "accuracy delta", "file"):
            table.add_column(column)
        for r in rows:
            s = r["summary"]
            table.add_row(str(r["rank"]), str(s["division"]), str(s["athlete"]),
                          f"{s['scores'][key]:.4g}", f"{s['scores']['accuracy_delta']:+.4f}",
                          r["name"])
        out.print(table)
    if not board["events"]:
        out.print("no valid submission")
    for r in board["rejected"]:
        out.print(f"[red]rejected[/red] {r['name']}: " + "; ".join(r["reasons"]),
                  highlight=False, markup=True)
    for r in board["superseded"]:
        out.print(f"superseded {r['name']} (by {r['by']}, the newest for "
                  f"{r['summary']['athlete']} in {r['summary']['event']})", highlight=False)
    for name, why in board["ignored"]:
        out.print(f"ignored {name}: {why}", highlight=False)


@app.command("leaderboard")
def leaderboard_cmd(
    directory: str = typer.Argument(..., help="folder of submissions (JSON files, bundles)"),
    reproduce: bool = typer.Option(False, "--reproduce",
                                   help="re-run every bundle: rebuild both models, re-measure"),
    html: str = typer.Option(None, "--html", help="write the static HTML page here"),
    workers: int = typer.Option(1, "--workers", min=1, help="parallel validations (process)"),
    executor: str = typer.Option("process", "--executor",
                                 help="process (local pool) or ray (a Ray cluster)"),
    db: str = typer.Option(None, "--db", help="result cache (default DIR/.leaderboard.sqlite)"),
) -> None:
    """Validate every submission in DIR, rank the valid ones per event and
    division, list the rejected ones; the newest submission of an athlete
    for an event counts. Results are cached in SQLite: a re-run validates
    only new or changed files."""
    from .leaderboard import EXECUTORS, build

    if executor not in EXECUTORS:
        raise fail(f"--executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    if html and not os.path.isdir(os.path.dirname(os.path.abspath(html))):
        raise fail(f"cannot write {html}: its folder does not exist")  # before any validation

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress("validating", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=err, transient=True)
    task = bar.add_task("validating", total=None)

    def progress(path: str, result: dict) -> None:
        verdict = "valid" if result["report"].get("valid") else "rejected"
        bar.console.print(f"  {os.path.basename(path.rstrip(os.sep))}: {verdict} "
                          f"({result['seconds']:.1f} s)", highlight=False)
        bar.advance(task)

    try:
        with bar:
            board = build(directory, reproduce=reproduce, workers=workers, executor=executor,
                          db_path=db, progress=progress,
                          on_start=lambda n: bar.update(task, total=n))
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, ValueError) as exc:
        raise fail(str(exc)) from None
    except RuntimeError as exc:  # Ray missing
        raise fail(str(exc), FAILURE) from None
    except OSError as exc:
        raise fail(f"cannot use {db or directory}: {exc}") from None
    for note in board["notes"]:
        err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    _print_board(board)
    out.print(f"{board['validated']} validated in {board['seconds']:.1f} s "
              f"({workers} worker(s), {executor}), {board['cached']} from the cache")
    if html:
        from .html_report import write_html

        try:
            write_html(board, html)
        except OSError as exc:
            raise fail(f"cannot write {html}: {exc}") from None
        out.print(f"wrote {html}")


def main(argv: Sequence[str] | None = None) -> None:
    """The ``tito`` console script: exits with the command's status."""
    app(args=None if argv is None else list(argv), prog_name="tito")
