"""Time ``tito leaderboard`` over 20 generated submissions, on 1 and 2 workers.

    python benchmarks/bench_leaderboard.py                 # 20 submissions, 3 rounds
    python benchmarks/bench_leaderboard.py --count 8 --rounds 2

The submissions are generated once: one real measured submission of a small
MLP on the digits (a reproducible bundle when the installed tinytorch-olympics
writes them), copied under 20 athletes' names. Then ``tito leaderboard`` runs
as a user runs it (a subprocess, a fresh SQLite cache each time), with
``--workers 1`` and ``--workers 2`` alternating round by round (1, 2, 1, 2...)
so that drift in the machine's load hits both alike, ``--reproduce`` when the
submissions are bundles (every bundle's two models re-measured: the job that
outgrows a machine). Prints each run with how many of the (honest)
submissions it rejected, the medians and the ratio.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import load_average, print_table, use_source_tree

use_source_tree()

REPO = "https://github.com/ada/tinytorch"


def make_one(folder: Path) -> tuple[Path, bool]:
    """One measured submission in ``folder``: ``(path, is_bundle)``."""
    from tinytorch.olympics import cli

    run = getattr(cli, "run_pairing", None)
    if run is not None and "bundle" in inspect.signature(run).parameters:
        bundle = folder / "seed"
        run("mlp", athlete="seed", github_repo=REPO, honor_code=True, bundle=str(bundle),
            quick=True, log=lambda *a, **k: None)
        return bundle, True
    path = folder / "seed.json"
    code = cli.main(["run", "--model", "mlp", "--quick", "--athlete", "seed", "--github-repo",
                     REPO, "--honor-code", "--output", str(path)])
    if not path.exists():
        raise SystemExit(f"could not generate a submission (exit status {code})")
    return path, False


def copy_as(seed: Path, is_bundle: bool, target: Path, athlete: str) -> None:
    """A copy of the seed submission under another athlete's name."""
    if is_bundle:
        shutil.copytree(seed, target)
        json_path = target / "submission.json"
    else:
        json_path = target
        shutil.copyfile(seed, target)
    sub = json.loads(json_path.read_text())
    sub["athlete_name"] = athlete
    json_path.write_text(json.dumps(sub))


def time_leaderboard(folder: Path, workers: int, reproduce: bool, db: Path) -> tuple[float, int]:
    """Wall seconds of one ``tito leaderboard`` run (a fresh cache), and how
    many submissions it rejected (all are honest: rejections are noise)."""
    if db.exists():
        db.unlink()
    cmd = [sys.executable, "-m", "tito", "leaderboard", str(folder), "--workers", str(workers),
           "--db", str(db)] + (["--reproduce"] if reproduce else [])
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"tito leaderboard failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, sum(line.startswith("rejected ") for line in proc.stdout.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env_path = os.pathsep.join(p for p in sys.path if p)
    os.environ["PYTHONPATH"] = env_path  # the subprocess sees the same packages

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subs = tmp / "submissions"
        subs.mkdir()
        t0 = time.perf_counter()
        seed, is_bundle = make_one(tmp)
        for i in range(args.count):
            copy_as(seed, is_bundle, subs / (f"athlete{i:02d}" + ("" if is_bundle else ".json")),
                    f"athlete{i:02d}")
        print(f"{args.count} submissions ({'bundles, --reproduce' if is_bundle else 'JSON files'})"
              f" generated in {time.perf_counter() - t0:.1f} s; {load_average()}; "
              f"{os.cpu_count()} cores")
        times: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.rounds):
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                seconds, rejected = time_leaderboard(subs, workers, is_bundle,
                                                     tmp / "cache.sqlite")
                times[workers].append(seconds)
                print(f"round {r + 1}: {workers} worker(s) {seconds:.2f} s, "
                      f"{rejected} of {args.count} rejected", flush=True)
    m1, m2 = statistics.median(times[1]), statistics.median(times[2])
    print_table([("1 worker", f"{m1:.2f}", "1.00"), ("2 workers", f"{m2:.2f}", f"{m1 / m2:.2f}")],
                headers=("tito leaderboard", "median s", "speedup vs 1"))
    print(f"after: {load_average()}")


if __name__ == "__main__":
    main()
