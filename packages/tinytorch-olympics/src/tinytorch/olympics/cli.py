"""``python -m tinytorch.olympics``: events, run, validate, submit.

::

    python -m tinytorch.olympics events
    python -m tinytorch.olympics run --model gpt --athlete ada \\
        --github-repo https://github.com/ada/tinytorch --honor-code --output sub.json
    python -m tinytorch.olympics validate sub.json
    python -m tinytorch.olympics submit sub.json --output-dir final/
    python -m tinytorch.olympics submit sub.json        # into ./submissions/

Every command is a plain function (:func:`events_text`, :func:`run_pairing`,
:func:`validate_path`, :func:`submit_path`) that another front end (``tito
olympics``) calls as well: one implementation. They raise
:class:`UsageError` (a ValueError) for bad input and return the submission
and report; ``main`` only parses arguments and prints.

A FILE is a submission JSON or a bundle folder (``run --bundle DIR`` writes
one; ``validate DIR --reproduce`` runs it again on this machine).

Exit status: 0 success (a valid submission); 1 an invalid submission
(``validate``, ``submit``, or ``run`` whose result does not validate);
2 a usage error or a file that cannot be read or written. Errors are one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from tinytorch.perf import OlympicEvent

from .bundle import SUBMISSION_FILE, bundle_paths
from .submission import (
    DIVISIONS,
    _check_destination,
    generate_submission,
    read_submission,
    utc_timestamp,
    write_submission,
)
from .summary import format_events, format_summary
from .validation import format_report, validate_submission

__all__ = ["main", "build_parser", "UsageError", "events_text", "run_pairing", "validate_path",
           "submit_path", "read_path"]

OUT_OF_SCOPE = ("Sending it anywhere (a leaderboard, a server, an e-mail) is out of scope: "
                "this command only checks the file and writes the final copy.")


class UsageError(ValueError):
    """A user error (bad argument, unreadable file): the command line prints
    it as one line and exits with status 2."""


#: Where ``submit`` writes the checked file when ``--output-dir`` is not given,
#: relative to the working directory, so that ``tito submit FILE`` works as is.
DEFAULT_SUBMIT_DIR = "submissions"

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tinytorch.olympics",
        description="The TorchPerf Olympics: measure an optimized model against its baseline, "
                    "write a submission, validate it.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    sub.add_parser("events", help="list the five events and their qualification rules")

    run = sub.add_parser("run", help="train a built-in baseline, optimize it, measure both and "
                                     "write a submission")
    run.add_argument("--model", choices=("gpt", "mlp", "cnn", "cnn-int8"), default="gpt",
                     help="gpt: tiny GPT generation without vs with the KV cache (default); "
                          "mlp / cnn: a digits classifier against an exact copy (A/A); "
                          "cnn-int8: the digits CNN against its int8 quantize_static copy")
    run.add_argument("--athlete", required=True, help="your name")
    run.add_argument("--github-repo", required=True,
                     help="https URL of the repository with your code")
    run.add_argument("--division", choices=DIVISIONS, default="closed")
    run.add_argument("--event", default="auto",
                     help="one of " + ", ".join(e.value for e in OlympicEvent)
                          + ", or auto (the most demanding event the scores qualify for)")
    run.add_argument("--honor-code", action="store_true",
                     help="affirm that the figures are measured by this code, unedited "
                          "(required for a valid submission)")
    run.add_argument("--output", default=None,
                     help="submission JSON to write (default: submission.json, unless --bundle)")
    run.add_argument("--bundle", default=None, metavar="DIR",
                     help="write a reproducible bundle folder: submission.json and both models' "
                          "state files with their SHA-256 (validate DIR --reproduce re-runs it)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing file")
    run.add_argument("--quick", action="store_true",
                     help="shorter training and measurement (a smoke run)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--training", type=int, default=None,
                     help="training steps (gpt) or epochs (mlp, cnn)")
    run.add_argument("--min-duration", type=float, default=None,
                     help="SingleStream minimum duration per model, seconds")

    validate = sub.add_parser("validate", help="check a submission file")
    validate.add_argument("file", help="a submission JSON or a bundle folder")
    validate.add_argument("--reproduce", action="store_true",
                          help="run the bundle again here: check its hashes, recompute accuracy "
                               "and re-measure the speedup and compression ratios")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.add_argument("--quiet", action="store_true",
                          help="print only the warnings, errors and verdict")

    submit = sub.add_parser("submit", help="validate, then write the final checked file "
                                           "into a directory")
    submit.add_argument("file")
    submit.add_argument("--reproduce", action="store_true",
                        help="validate with --reproduce first (needs a bundle)")
    submit.add_argument("--output-dir", default=DEFAULT_SUBMIT_DIR,
                        help=f"folder for the checked file (default: ./{DEFAULT_SUBMIT_DIR})")
    submit.add_argument("--overwrite", action="store_true")
    return parser


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def read_path(path) -> dict:
    """The submission at ``path`` (a JSON file, or a bundle folder's
    ``submission.json``).

    Raises:
        UsageError: the file cannot be read, is not UTF-8 or not JSON.
    """
    path = bundle_paths(path)[1]
    try:
        return read_submission(path)
    except FileNotFoundError:
        raise UsageError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"cannot read {path}: it is a directory") from None
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"cannot read {path}: not JSON ({exc})") from None
    except (OSError, RecursionError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def events_text() -> str:
    """The five events, their qualification rules and the divisions, as text."""
    return ("The five events of the TorchPerf Olympics (scores relative to the baseline):\n\n"
            + format_events()
            + "\n\nDivisions: closed (same architecture, accuracy >= 99% of the baseline's and "
              "at most 1 point above it) and open (anything goes; accuracy recorded).")


def _cmd_events(_args) -> int:
    print(events_text())
    return 0


#: (quick, full) training of each built-in pairing: AdamW steps (gpt) or epochs.
TRAINING = {"gpt": (40, 200), "mlp": (3, 10), "cnn": (1, 5), "cnn-int8": (1, 5)}


def _check_run_targets(output, bundle, overwrite: bool) -> None:
    """Fail before training when a destination exists or cannot be written."""
    try:
        if output is not None:
            _check_destination(output, overwrite)
        if bundle is not None:
            bundle = os.fspath(bundle)
            if os.path.exists(bundle) and not os.path.isdir(bundle):
                raise FileExistsError(f"--bundle {bundle!r} is a file, not a folder")
            if os.path.isdir(bundle):
                _check_destination(os.path.join(bundle, SUBMISSION_FILE), overwrite)
            elif not os.path.isdir(os.path.dirname(os.path.abspath(bundle))):
                raise FileNotFoundError(f"cannot create {bundle!r}: its parent folder does not "
                                        f"exist")
    except (FileExistsError, FileNotFoundError, IsADirectoryError) as exc:
        raise UsageError(str(exc).replace("overwrite=True", "--overwrite")) from None


def run_pairing(model: str = "gpt", *, athlete: str, github_repo: str, division: str = "closed",
                event: str = "auto", honor_code: bool = False, output=None, bundle=None,
                overwrite: bool = False, quick: bool = False, seed: int = 0,
                training: int | None = None, min_duration: float | None = None,
                log=print) -> tuple[dict, dict]:
    """Train a built-in pairing (``pairings.PAIRINGS``), measure both models,
    write the submission JSON (``output``) and/or a reproducible bundle
    folder (``bundle``), and validate the result.

    ``log`` receives progress lines (``print`` by default).

    Returns:
        ``(submission, report)``.

    Raises:
        UsageError: an unknown model or event, a bad count, a destination
            that exists (without ``overwrite``) or cannot be written.
    """
    from . import pairings  # trains models: imported only when asked to

    if model not in TRAINING:
        raise UsageError(f"unknown model {model!r}; choose one of {', '.join(TRAINING)}")
    _check_run_targets(output, bundle, overwrite)
    if event != "auto":
        try:
            event = OlympicEvent.parse(event).value
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if training is not None and training < 0:
        raise UsageError("--training must be >= 0")
    if min_duration is not None and not min_duration >= 0:
        raise UsageError("--min-duration must be >= 0")
    amount = training if training is not None else TRAINING[model][0 if quick else 1]
    log(f"building the {model} pairing (seed {seed}) ...")
    if model == "gpt":
        pairing = pairings.tiny_gpt(steps=amount, seed=seed)
    else:
        pairing = pairings.PAIRINGS[model](epochs=amount, seed=seed)
    log(f"  baseline:  {pairing.descriptions[0]}")
    log(f"  optimized: {pairing.descriptions[1]}")
    log(f"  optimization: {pairing.optimization}")
    min_duration = min_duration if min_duration is not None else (0.0 if quick else 1.0)
    log("measuring (SingleStream interleaved, Offline, memory, accuracy) ...")
    bundle_args = ({} if bundle is None else
                   {"bundle_dir": bundle, "task_identity": pairing.task_identity,
                    "architectures": pairing.architectures})
    try:
        submission = generate_submission(
            pairing.baseline, pairing.optimized, pairing.data, division,
            event=event, athlete_name=athlete, github_repo=github_repo,
            techniques=pairing.techniques, honor_code=honor_code,
            output_path=output, overwrite=overwrite,
            warmup_runs=2 if quick else 5, measurement_runs=3 if quick else 10,
            min_duration_s=min_duration, seed=seed,
            notes=pairing.optimization, descriptions=pairing.descriptions, **bundle_args)
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, IsADirectoryError) as exc:
        raise UsageError(str(exc).replace("overwrite=True", "--overwrite")) from None
    return submission, validate_submission(submission)


def _cmd_run(args) -> int:
    if args.output is None and args.bundle is None:
        args.output = "submission.json"
    submission, report = run_pairing(
        args.model, athlete=args.athlete, github_repo=args.github_repo, division=args.division,
        event=args.event, honor_code=args.honor_code, output=args.output, bundle=args.bundle,
        overwrite=args.overwrite, quick=args.quick, seed=args.seed, training=args.training,
        min_duration=args.min_duration, log=lambda line: print(line, flush=True))
    print(format_summary(submission))
    print(f"\nwrote {' and '.join(p for p in (args.output, args.bundle) if p)}; validation:")
    print(format_report(report, verbose=False))
    if not args.honor_code:
        print("the honor code was not affirmed: pass --honor-code to affirm that the figures "
              "are measured by this code, unedited")
    return 0 if report["valid"] else 1


def validate_path(path, reproduce: bool = False) -> dict:
    """The validation report of the submission at ``path`` (a JSON file or a
    bundle folder); with ``reproduce``, the bundle is run again here
    (:func:`validate_submission`).

    Raises:
        UsageError: the file cannot be read.
    """
    submission = read_path(path)
    if not reproduce:
        return validate_submission(submission)
    return validate_submission(os.fspath(path), reproduce=True)


def _cmd_validate(args) -> int:
    report = validate_path(args.file, reproduce=args.reproduce)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.file}:")
        print(format_report(report, verbose=not args.quiet))
    return 0 if report["valid"] else 1


def submit_path(path, output_dir, *, overwrite: bool = False,
                reproduce: bool = False) -> tuple[dict, str | None]:
    """Validate the submission at ``path`` (with ``reproduce``: run its bundle
    again); when valid, write the checked copy (with ``validated_at`` and the
    report) into ``output_dir``, named after the file (a bundle folder
    ``DIR`` gives ``DIR.json``).

    Returns:
        ``(report, written path)``; the path is None when the submission is invalid.

    Raises:
        UsageError: unreadable input, ``output_dir`` a file, a target that
            exists (without ``overwrite``) or cannot be written.
    """
    submission = read_path(path)
    report = validate_path(path, reproduce=True) if reproduce else \
        validate_submission(submission)
    if not report["valid"]:
        return report, None
    final = {k: v for k, v in submission.items() if k not in ("validated_at", "validation")}
    final["validated_at"] = utc_timestamp()
    final["validation"] = report
    name = os.path.basename(os.path.normpath(os.fspath(path)))
    target = os.path.join(output_dir, name if name.endswith(".json") else f"{name}.json")
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise UsageError(f"--output-dir {output_dir} is a file, not a directory")
    try:
        os.makedirs(output_dir, exist_ok=True)
        write_submission(final, target, overwrite=overwrite)
    except FileExistsError:
        raise UsageError(f"{target} already exists; pass --overwrite to replace it") from None
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"cannot write {target}: {exc}") from None
    return report, target


def _cmd_submit(args) -> int:
    report, target = submit_path(args.file, args.output_dir, overwrite=args.overwrite,
                                 reproduce=args.reproduce)
    print(f"{args.file}:")
    print(format_report(report, verbose=False))
    if target is None:
        print("not submitted: fix the errors above first")
        return 1
    print(f"wrote the checked submission to {target}")
    print(OUT_OF_SCOPE)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse usage errors
    exit with 2 through SystemExit)."""
    args = build_parser().parse_args(argv)
    commands = {"events": _cmd_events, "run": _cmd_run, "validate": _cmd_validate,
                "submit": _cmd_submit}
    try:
        return commands[args.command](args)
    except UsageError as exc:
        _err(str(exc))
        return 2
