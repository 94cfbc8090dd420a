"""The leaderboard: validate every submission in a folder, rank the valid ones.

::

    folder ──scan──> entries (file hash) ──cache?──> validate (pool / Ray) ──> rank ──> HTML
                                   └── SQLite: key -> result, so a re-run
                                       validates only what changed

* :func:`scan`: the submissions of a folder: every ``*.json`` file and every
  sub-folder holding a ``submission.json`` (a bundle, as
  ``generate_submission(bundle_dir=...)`` writes it). Anything else is listed
  as ignored, with the reason.
* :func:`validate_entry`: one submission through
  :func:`tinytorch.olympics.validate_submission` (with ``reproduce``, both of
  its models are rebuilt and re-measured *in that one call*, side by side on
  one worker, so every ratio stays a same-machine ratio).
* :class:`ResultCache`: SQLite, keyed by the SHA-256 of the submission's
  bytes (a bundle: of all its files), the mode and the validator's version.
  An unreadable database file is moved aside and rebuilt, never a crash.
* :func:`run_all`: the entries not in the cache, on a local process pool
  (default) or on Ray (``executor="ray"``).
* :func:`rank`: one athlete, one entry per event: **the newest submission
  counts** (its ``timestamp``; the file name breaks ties), older ones are
  listed as superseded, whatever their verdict. Valid entries are ranked per
  event and division by the event's score (:data:`RANK_BY`).

Cost: one validation per new or changed submission; with ``reproduce`` each
one trains nothing but re-measures two models (seconds to a minute each).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata

SUBMISSION_FILE = "submission.json"  # the submission inside a bundle folder
DB_NAME = ".leaderboard.sqlite"  # default cache, inside the scanned folder
EXECUTORS = ("process", "ray")

# The score an event is ranked by (higher is better), then the tie-breaker.
RANK_BY: dict[str, tuple[str, str]] = {
    "latency_sprint": ("speedup", "accuracy_delta"),
    "memory_challenge": ("compression_ratio", "accuracy_delta"),
    "accuracy_contest": ("accuracy_delta", "efficiency_score"),
    "all_around": ("efficiency_score", "accuracy_delta"),
    "extreme_push": ("efficiency_score", "accuracy_delta"),
}


@dataclass(frozen=True)
class Entry:
    """One submission found in the folder: ``path`` is a JSON file or a
    bundle folder, ``digest`` the SHA-256 of its content."""

    path: str
    digest: str

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip(os.sep))


# --------------------------------------------------------------------------- #
# Scanning
# --------------------------------------------------------------------------- #


def _sha256_file(path: str, h=None):
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h


def content_digest(path: str) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (their relative
    paths and contents, in sorted order): any edit or swapped file changes it."""
    if not os.path.isdir(path):
        return _sha256_file(path).hexdigest()
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            h.update(os.path.relpath(full, path).encode() + b"\0")
            h.update(_sha256_file(full).digest())
    return h.hexdigest()


def scan(directory: str, skip: Iterable[str] = ()) -> tuple[list[Entry], list[tuple[str, str]]]:
    """The submissions in ``directory`` (not recursive beyond bundle folders).

    Returns ``(entries, ignored)``: entries sorted by name; ``ignored`` lists
    ``(name, reason)`` for every other file or folder (paths in ``skip``,
    such as the cache database, are passed over silently).

    Raises:
        NotADirectoryError / FileNotFoundError: ``directory`` is not a folder.
    """
    if not os.path.exists(directory):
        raise FileNotFoundError(f"{directory}: no such folder")
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"{directory} is a file, not a folder of submissions")
    skipped = {os.path.abspath(p) for p in skip}
    entries, ignored = [], []
    for child in sorted(os.scandir(directory), key=lambda d: d.name):
        if os.path.abspath(child.path) in skipped or child.name.startswith(DB_NAME):
            continue
        try:
            if child.is_dir():
                if os.path.isfile(os.path.join(child.path, SUBMISSION_FILE)):
                    entries.append(Entry(child.path, content_digest(child.path)))
                else:
                    ignored.append((child.name, f"a folder without {SUBMISSION_FILE}"))
            elif child.name.lower().endswith(".json"):
                entries.append(Entry(child.path, content_digest(child.path)))
            else:
                ignored.append((child.name, "not a submission: only *.json files and bundle "
                                            "folders are read"))
        except OSError as exc:
            ignored.append((child.name, f"unreadable: {exc.strerror or exc}"))
    return entries, ignored


# --------------------------------------------------------------------------- #
# Validating one submission (runs on a worker)
# --------------------------------------------------------------------------- #


def _summary(submission) -> dict:
    """The fields the ranking needs, each None when missing or malformed."""
    sub = submission if isinstance(submission, dict) else {}

    def pick(section, *keys):
        part = sub.get(section)
        return {k: part.get(k) for k in keys} if isinstance(part, dict) else dict.fromkeys(keys)

    return {
        "athlete": sub.get("athlete_name") if isinstance(sub.get("athlete_name"), str) else None,
        "event": sub.get("event") if isinstance(sub.get("event"), str) else None,
        "division": sub.get("division") if isinstance(sub.get("division"), str) else None,
        "timestamp": sub.get("timestamp") if isinstance(sub.get("timestamp"), str) else None,
        "scores": pick("normalized_scores", "speedup", "compression_ratio", "accuracy_delta",
                       "efficiency_score"),
        "optimized": pick("optimized", "accuracy", "latency_ms", "memory_mb"),
    }


def validate_entry(path: str, reproduce: bool = False) -> dict:
    """Validate the submission at ``path`` (a JSON file or a bundle folder).

    Returns ``{"report": <validate_submission's report>, "summary": {...},
    "seconds": float}``. Never raises: an unreadable file is an invalid
    report naming the problem. With ``reproduce`` the submission's two
    models are re-measured here, in this one process.
    """
    from tinytorch.olympics import read_submission, validate_submission

    start = time.perf_counter()
    json_path = os.path.join(path, SUBMISSION_FILE) if os.path.isdir(path) else path
    try:
        submission = read_submission(json_path)
    except (OSError, ValueError, RecursionError) as exc:
        report = {"valid": False, "checks": [], "warnings": [],
                  "errors": [f"cannot read {os.path.basename(json_path)}: {exc}"]}
        return {"report": report, "summary": _summary(None),
                "seconds": time.perf_counter() - start}
    if reproduce:
        try:
            report = validate_submission(path, reproduce=True)
        except TypeError:  # a tinytorch-olympics without reproduction
            report = {"valid": False, "checks": [], "warnings": [], "errors": [
                "this tinytorch-olympics cannot reproduce submissions: upgrade it"]}
    else:
        report = validate_submission(submission)
    return {"report": report, "summary": _summary(submission),
            "seconds": time.perf_counter() - start}


def validator_version() -> str:
    """The tinytorch-olympics version (a new validator re-validates everything)."""
    try:
        return metadata.version("tinytorch-olympics")
    except metadata.PackageNotFoundError:
        from tinytorch.olympics import __version__

        return __version__ + "+src"


# --------------------------------------------------------------------------- #
# The cache
# --------------------------------------------------------------------------- #


class ResultCache:
    """Validation results in SQLite (standard library), one row per key.

    The key is ``"<sha256>:<mode>:<validator version>"``: a changed file, the
    other mode (``--reproduce`` or not) or a new validator misses the cache.
    A database that cannot be read (not SQLite, truncated, locked by a
    crashed writer...) is renamed to ``<path>.unreadable`` and rebuilt:
    ``self.rebuilt`` says so. Use as a context manager.
    """

    SCHEMA = "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, result TEXT NOT NULL)"

    def __init__(self, path: str) -> None:
        self.path = path
        self.rebuilt: str | None = None
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"cannot create the cache {path}: {folder} does not exist")
        if os.path.isdir(path):
            raise IsADirectoryError(f"the cache {path} is a folder, not a file")
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as exc:
            self.rebuilt = f"{path} could not be read ({exc}): rebuilt it"
            os.replace(path, path + ".unreadable")
            self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=5.0)
        try:
            conn.execute(self.SCHEMA)
            conn.execute("SELECT count(*) FROM results").fetchone()  # reads the pages
            conn.commit()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def get(self, keys: Iterable[str]) -> dict[str, dict]:
        """The cached results among ``keys`` (a row that does not parse is a miss)."""
        found = {}
        for key in keys:
            row = self.conn.execute("SELECT result FROM results WHERE key = ?", (key,)).fetchone()
            if row is not None:
                try:
                    found[key] = json.loads(row[0])
                except ValueError:
                    continue
        return found

    def put(self, key: str, result: dict) -> None:
        with self.conn:  # one transaction per result: an interrupted run keeps what it did
            self.conn.execute("INSERT OR REPLACE INTO results VALUES (?, ?)",
                              (key, json.dumps(result)))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- #
# Running the validations: a process pool or Ray
# --------------------------------------------------------------------------- #


def _limit_threads(threads: int) -> None:
    """Pool initializer: BLAS threads per worker, set before NumPy loads, so
    that N workers do not oversubscribe the cores."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def _run_process(paths, reproduce, workers, done) -> None:
    if workers == 1:  # in this process: no start-up cost, nothing to pickle
        for path in paths:
            done(path, validate_entry(path, reproduce))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = max(1, (os.cpu_count() or 1) // workers)
    # spawn, not fork: a forked copy of a process whose BLAS threads are running can hang.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_limit_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(validate_entry, p, reproduce): p for p in paths}
        for future in as_completed(futures):
            done(futures[future], future.result())


def _run_ray(paths, reproduce, workers, done) -> None:
    try:
        import ray
    except ImportError:
        raise RuntimeError("--executor ray needs Ray: pip install 'tinytorch-tito[ray]'") from None
    if not ray.is_initialized():
        # RAY_ADDRESS (e.g. ray://head:10001) points at a cluster; unset, a local one starts.
        ray.init(ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(validate_entry)
    pending = {remote.remote(p, reproduce): p for p in paths}
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            done(pending.pop(ref), ray.get(ref))


def run_all(paths: list[str], reproduce: bool, workers: int = 1, executor: str = "process",
            done: Callable[[str, dict], None] | None = None) -> dict[str, dict]:
    """``{path: validate_entry(path, reproduce)}`` for every path.

    ``executor`` "process": ``workers`` local processes (1: this process);
    "ray": one Ray task per submission, on the cluster ``ray.init()`` finds
    (``workers`` is then Ray's business). ``done(path, result)`` is called as
    each one finishes (progress, caching).

    Raises:
        ValueError: an unknown executor or ``workers < 1``.
        RuntimeError: Ray asked for but not installed.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    results: dict[str, dict] = {}

    def record(path: str, result: dict) -> None:
        results[path] = result
        if done is not None:
            done(path, result)

    if paths:
        (_run_ray if executor == "ray" else _run_process)(paths, reproduce, workers, record)
    return results


# --------------------------------------------------------------------------- #
# Ranking
# --------------------------------------------------------------------------- #


def _score(row: dict, key: str) -> float:
    value = row["summary"]["scores"].get(key)
    return float(value) if isinstance(value, (int, float)) else float("-inf")


def _newest_first(rows: list[dict]) -> list[dict]:
    # ISO-8601 UTC timestamps sort as text; a missing one counts as oldest.
    return sorted(rows, key=lambda r: (r["summary"]["timestamp"] or "", r["name"]), reverse=True)


def rank(rows: list[dict]) -> dict:
    """Rank validated submissions.

    Args:
        rows: dicts ``{"name", "path", "report", "summary"}`` (one per entry;
            ``summary`` as :func:`validate_entry` returns it).

    Returns:
        ``{"events": {event: [row + {"rank", "score_key"}, ...]},
        "rejected": [row + {"reasons"}], "superseded": [row + {"by"}]}``.
        Each event's rows are sorted by division, then rank (1 = best, by
        :data:`RANK_BY`; equal scores share a rank). One athlete (case-folded
        name) counts once per event: the newest submission, valid or not.
    """
    latest: dict[tuple[str, str], dict] = {}
    superseded, rejected = [], []
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        s = row["summary"]
        if s["athlete"] and s["event"]:
            groups.setdefault((s["athlete"].strip().casefold(), s["event"]), []).append(row)
        else:
            rejected.append(row)  # no identity to rank by: the validator says why
    for key, group in groups.items():
        newest, *older = _newest_first(group)
        latest[key] = newest
        superseded += [{**r, "by": newest["name"]} for r in older]
    events: dict[str, list[dict]] = {}
    for row in latest.values():
        if row["report"].get("valid"):
            events.setdefault(row["summary"]["event"], []).append(row)
        else:
            rejected.append(row)
    ranked = {}
    for event in sorted(events, key=lambda e: (e not in RANK_BY, list(RANK_BY).index(e)
                                                if e in RANK_BY else e)):
        primary, tie = RANK_BY.get(event, ("efficiency_score", "accuracy_delta"))
        ordered = sorted(events[event], key=lambda r: (r["summary"]["division"] or "",
                                                       -_score(r, primary), -_score(r, tie),
                                                       r["name"]))
        out, previous = [], None
        for row in ordered:
            division = row["summary"]["division"]
            marker = (division, _score(row, primary), _score(row, tie))
            if previous is None or previous[0][0] != division:
                position = 1
            elif marker != previous[0]:
                position = previous[1] + 1
            else:
                position = previous[1]  # a tie shares the rank
            previous = (marker, position)
            out.append({**row, "rank": position, "score_key": primary})
        ranked[event] = out
    rejected = [{**r, "reasons": r["report"].get("errors") or ["invalid"]}
                for r in sorted(rejected, key=lambda r: r["name"])]
    return {"events": ranked, "rejected": rejected,
            "superseded": sorted(superseded, key=lambda r: r["name"])}


# --------------------------------------------------------------------------- #
# The whole job
# --------------------------------------------------------------------------- #


def build(directory: str, *, reproduce: bool = False, workers: int = 1,
          executor: str = "process", db_path: str | None = None,
          progress: Callable[[str, dict], None] | None = None,
          on_start: Callable[[int], None] | None = None) -> dict:
    """Scan ``directory``, validate what the cache does not hold, rank.

    Returns :func:`rank`'s dict plus ``"ignored"`` (``(name, reason)``),
    ``"validated"`` / ``"cached"`` (counts), ``"seconds"`` (wall time of
    the validations), ``"notes"`` (e.g. a rebuilt cache) and ``"mode"``.
    ``on_start(n)`` is called with the number of submissions to validate,
    ``progress(path, result)`` after each one.

    Raises:
        FileNotFoundError / NotADirectoryError: ``directory`` is not a folder;
            the cache's folder does not exist (IsADirectoryError: the cache
            path is a folder).
        ValueError / RuntimeError: see :func:`run_all`.
    """
    db_path = db_path or os.path.join(directory, DB_NAME)
    entries, ignored = scan(directory, skip=[db_path])
    mode = f"{'reproduce' if reproduce else 'check'}:{validator_version()}"
    keys = {e.path: f"{e.digest}:{mode}" for e in entries}
    notes = []
    with ResultCache(db_path) as cache:
        if cache.rebuilt:
            notes.append(cache.rebuilt)
        cached = cache.get(keys.values())
        todo = [e.path for e in entries if keys[e.path] not in cached]

        def done(path: str, result: dict) -> None:
            cache.put(keys[path], result)
            if progress is not None:
                progress(path, result)

        if on_start is not None:
            on_start(len(todo))
        start = time.perf_counter()
        fresh = run_all(todo, reproduce, workers, executor, done)
        seconds = time.perf_counter() - start
    rows = []
    for e in entries:
        result = fresh.get(e.path) or cached[keys[e.path]]
        rows.append({"name": e.name, "path": e.path, **result})
    board = rank(rows)
    board.update(ignored=ignored, validated=len(todo), cached=len(entries) - len(todo),
                 seconds=seconds, notes=notes, mode="reproduce" if reproduce else "check",
                 directory=os.path.abspath(directory))
    return board
