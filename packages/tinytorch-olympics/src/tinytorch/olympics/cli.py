"""``python -m tinytorch.olympics``: events, run, validate, submit.

::

    python -m tinytorch.olympics events
    python -m tinytorch.olympics run --model gpt --athlete ada \\
        --github-repo https://github.com/ada/tinytorch --honor-code --output sub.json
    python -m tinytorch.olympics validate sub.json
    python -m tinytorch.olympics submit sub.json --output-dir final/

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

__all__ = ["main", "build_parser"]

OUT_OF_SCOPE = ("Sending it anywhere (a leaderboard, a server, an e-mail) is out of scope: "
                "this command only checks the file and writes the final copy.")


class _UsageError(Exception):
    """A user error: printed as one line, exit status 2."""


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
    run.add_argument("--output", default="submission.json", help="file to write")
    run.add_argument("--overwrite", action="store_true", help="replace an existing file")
    run.add_argument("--quick", action="store_true",
                     help="shorter training and measurement (a smoke run)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--training", type=int, default=None,
                     help="training steps (gpt) or epochs (mlp, cnn)")
    run.add_argument("--min-duration", type=float, default=None,
                     help="SingleStream minimum duration per model, seconds")

    validate = sub.add_parser("validate", help="check a submission file")
    validate.add_argument("file")
    validate.add_argument("--json", action="store_true", help="print the report as JSON")
    validate.add_argument("--quiet", action="store_true",
                          help="print only the warnings, errors and verdict")

    submit = sub.add_parser("submit", help="validate, then write the final checked file "
                                           "into a directory")
    submit.add_argument("file")
    submit.add_argument("--output-dir", required=True)
    submit.add_argument("--overwrite", action="store_true")
    return parser


def _err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _read(path: str):
    try:
        return read_submission(path)
    except FileNotFoundError:
        raise _UsageError(f"cannot read {path}: no such file") from None
    except IsADirectoryError:
        raise _UsageError(f"cannot read {path}: it is a directory") from None
    except UnicodeDecodeError:
        raise _UsageError(f"cannot read {path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _UsageError(f"cannot read {path}: not JSON ({exc})") from None
    except (OSError, RecursionError, ValueError) as exc:
        raise _UsageError(f"cannot read {path}: {exc}") from None


def _cmd_events(_args) -> int:
    print("The five events of the TorchPerf Olympics (scores relative to the baseline):\n")
    print(format_events())
    print("\nDivisions: closed (same architecture, accuracy >= 99% of the baseline's and at most "
          "1 point above it) and open (anything goes; accuracy recorded).")
    return 0


def _cmd_run(args) -> int:
    from . import pairings  # trains models: imported only when asked to

    try:
        _check_destination(args.output, args.overwrite)
    except (FileExistsError, FileNotFoundError, IsADirectoryError) as exc:
        raise _UsageError(str(exc).replace("overwrite=True", "--overwrite")) from None
    event = args.event
    if event != "auto":
        try:
            event = OlympicEvent.parse(event).value
        except ValueError as exc:
            raise _UsageError(str(exc)) from None
    if args.training is not None and args.training < 0:
        raise _UsageError("--training must be >= 0")
    if args.min_duration is not None and not args.min_duration >= 0:
        raise _UsageError("--min-duration must be >= 0")

    defaults = {"gpt": (40, 200), "mlp": (3, 10), "cnn": (1, 5)}[args.model]
    amount = args.training if args.training is not None else defaults[0 if args.quick else 1]
    print(f"building the {args.model} pairing (seed {args.seed}) ...", flush=True)
    if args.model == "gpt":
        pairing = pairings.tiny_gpt(steps=amount, seed=args.seed)
    else:
        pairing = pairings.PAIRINGS[args.model](epochs=amount, seed=args.seed)
    print(f"  baseline:  {pairing.descriptions[0]}")
    print(f"  optimized: {pairing.descriptions[1]}")
    print(f"  optimization: {pairing.optimization}")
    min_duration = args.min_duration if args.min_duration is not None else (
        0.0 if args.quick else 1.0)
    print("measuring (SingleStream, Offline, memory, accuracy) ...", flush=True)
    try:
        submission = generate_submission(
            pairing.baseline, pairing.optimized, pairing.data, args.division,
            event=event, athlete_name=args.athlete, github_repo=args.github_repo,
            techniques=pairing.techniques, honor_code=args.honor_code,
            output_path=args.output, overwrite=args.overwrite,
            warmup_runs=2 if args.quick else 5, measurement_runs=3 if args.quick else 10,
            min_duration_s=min_duration, seed=args.seed,
            notes=pairing.optimization, descriptions=pairing.descriptions)
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, IsADirectoryError) as exc:
        raise _UsageError(str(exc).replace("overwrite=True", "--overwrite")) from None
    print(format_summary(submission))
    report = validate_submission(submission)
    print(f"\nwrote {args.output}; validation:")
    print(format_report(report, verbose=False))
    if not args.honor_code:
        print("the honor code was not affirmed: pass --honor-code to affirm that the figures "
              "are measured by this code, unedited")
    return 0 if report["valid"] else 1


def _cmd_validate(args) -> int:
    submission = _read(args.file)
    report = validate_submission(submission)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.file}:")
        print(format_report(report, verbose=not args.quiet))
    return 0 if report["valid"] else 1


def _cmd_submit(args) -> int:
    submission = _read(args.file)
    report = validate_submission(submission)
    print(f"{args.file}:")
    print(format_report(report, verbose=False))
    if not report["valid"]:
        print("not submitted: fix the errors above first")
        return 1
    final = {k: v for k, v in submission.items() if k not in ("validated_at", "validation")}
    final["validated_at"] = utc_timestamp()
    final["validation"] = report
    target = os.path.join(args.output_dir, os.path.basename(args.file))
    if os.path.exists(args.output_dir) and not os.path.isdir(args.output_dir):
        raise _UsageError(f"--output-dir {args.output_dir} is a file, not a directory")
    try:
        os.makedirs(args.output_dir, exist_ok=True)
        write_submission(final, target, overwrite=args.overwrite)
    except FileExistsError:
        raise _UsageError(f"{target} already exists; pass --overwrite to replace it") from None
    except (OSError, ValueError, TypeError) as exc:
        raise _UsageError(f"cannot write {target}: {exc}") from None
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
    except _UsageError as exc:
        _err(str(exc))
        return 2
