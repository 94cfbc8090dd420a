"""``tito leaderboard``: scanning, the SQLite cache, ranking, the HTML page."""

from __future__ import annotations

import pytest
from tito.cli import app
from tito.leaderboard import DB_NAME, ResultCache, build, rank, run_all, scan
from typer.testing import CliRunner

runner = CliRunner()


@pytest.fixture
def folder(board_folder):
    return board_folder


def test_build_ranks_dedupes_and_rejects(folder):
    board = build(str(folder))
    rows = board["events"]["accuracy_contest"]
    assert [(r["summary"]["athlete"].strip(), r["rank"]) for r in rows] == [
        ("Ada", 1), ("bea", 2), ("Cyd", 2)]  # Bea's newest (1.02x) counts: a tie with Cyd
    assert [r["name"] for r in board["superseded"]] == ["bea_old.json"]
    assert [r["name"] for r in board["rejected"]] == ["liar.json"]
    assert board["rejected"][0]["reasons"]
    assert dict(board["ignored"]) == {
        "notes.txt": "not a submission: only *.json files and bundle folders are read",
        "empty_folder": "a folder without submission.json"}
    assert board["validated"] == 5 and board["cached"] == 0


def test_rerun_validates_only_what_changed(folder, make_submission):
    assert build(str(folder))["validated"] == 5
    again = build(str(folder))
    assert (again["validated"], again["cached"]) == (0, 5)
    make_submission(folder / "cyd.json", athlete="Cyd", speedup=1.09)  # changed content
    third = build(str(folder))
    assert (third["validated"], third["cached"]) == (1, 4)
    assert third["events"]["accuracy_contest"][0]["summary"]["athlete"] == "Cyd"


@pytest.mark.parametrize("garbage", [b"this is not sqlite", b"SQLite format 3\x00" + b"\x07" * 90,
                                     b""])
def test_unreadable_cache_is_rebuilt(folder, garbage):
    (folder / DB_NAME).write_bytes(garbage)
    board = build(str(folder))
    assert board["validated"] == 5
    if garbage:
        assert board["notes"] and "rebuilt" in board["notes"][0]
        assert (folder / (DB_NAME + ".unreadable")).read_bytes() == garbage
    assert build(str(folder))["cached"] == 5


def test_cache_round_trip(tmp_path):
    with ResultCache(str(tmp_path / "c.sqlite")) as cache:
        cache.put("k", {"report": {"valid": True}})
        assert cache.get(["k", "missing"]) == {"k": {"report": {"valid": True}}}


def _row(name, athlete, event, division, speedup, valid=True, ts="2026-01-01T00:00:00Z"):
    return {"name": name, "path": name, "report": {"valid": valid, "errors": [] if valid else
                                                   ["bad"]},
            "summary": {"athlete": athlete, "event": event, "division": division,
                        "timestamp": ts, "optimized": {},
                        "scores": {"speedup": speedup, "compression_ratio": 1.0,
                                   "accuracy_delta": 0.0, "efficiency_score": speedup ** 0.5}}}


def test_rank_per_event_and_division():
    board = rank([
        _row("a", "A", "latency_sprint", "closed", 2.0),
        _row("b", "B", "latency_sprint", "closed", 3.0),
        _row("c", "C", "latency_sprint", "open", 1.6),
        _row("d", "D", "memory_challenge", "open", 9.0),
        _row("e", "A", "latency_sprint", "closed", 5.0, valid=False, ts="2026-03-01T00:00:00Z"),
    ])
    sprint = board["events"]["latency_sprint"]
    assert [(r["name"], r["summary"]["division"], r["rank"]) for r in sprint] == [
        ("b", "closed", 1), ("c", "open", 1)]  # A's newest (e) is invalid: a is superseded
    assert [r["name"] for r in board["rejected"]] == ["e"]
    assert [(r["name"], r["by"]) for r in board["superseded"]] == [("a", "e")]
    assert list(board["events"]) == ["latency_sprint", "memory_challenge"]


@pytest.mark.parametrize("kwargs, error", [
    ({"executor": "dask"}, "unknown executor"),
    ({"workers": 0}, "workers must be"),
])
def test_run_all_rejects_bad_settings(kwargs, error):
    with pytest.raises(ValueError, match=error):
        run_all(["x.json"], False, **kwargs)


def test_scan_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        scan(str(tmp_path / "nope"))
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        scan(str(tmp_path / "f"))


def test_two_workers_give_the_same_board(folder):
    one = build(str(folder), db_path=str(folder.parent / "one.sqlite"))
    two = build(str(folder), workers=2, db_path=str(folder.parent / "two.sqlite"))
    strip = lambda b: {e: [(r["name"], r["rank"]) for r in rows]  # noqa: E731
                       for e, rows in b["events"].items()}
    assert strip(one) == strip(two) and two["validated"] == 5


def test_cli_writes_html_with_tables(folder, tmp_path, html_tables):
    out = tmp_path / "board.html"
    result = runner.invoke(app, ["leaderboard", str(folder), "--html", str(out)])
    assert result.exit_code == 0, result.output
    assert "rejected liar.json" in result.output and "superseded bea_old.json" in result.output
    page = html_tables(out.read_text(encoding="utf-8"))
    table = page.tables["event-accuracy_contest"]
    assert table["headers"][:3] == ["rank", "division", "athlete"]
    assert [(row[0], row[2].strip()) for row in table["rows"]] == [
        ("1", "Ada"), ("2", "bea"), ("2", "Cyd")]
    assert [row[0] for row in page.tables["rejected"]["rows"]] == ["liar.json"]
    assert [row[0] for row in page.tables["superseded"]["rows"]] == ["bea_old.json"]
    assert {row[0] for row in page.tables["ignored"]["rows"]} == {"notes.txt", "empty_folder"}
    if page.images:  # matplotlib installed: the Pareto plot is embedded
        assert page.images[0]["src"].startswith("data:image/png;base64,")


def test_pareto_plot_embedded_with_matplotlib(folder, tmp_path, html_tables):
    pytest.importorskip("matplotlib")
    out = tmp_path / "board.html"
    assert runner.invoke(app, ["leaderboard", str(folder), "--html", str(out)]).exit_code == 0
    assert html_tables(out.read_text(encoding="utf-8")).images[0]["id"] == "pareto"


@pytest.mark.parametrize("args, code, message", [
    (["leaderboard", "/no/such/folder"], 2, "no such folder"),
    (["leaderboard", "DIR", "--executor", "dask"], 2, "--executor must be one of"),
    (["leaderboard", "DIR", "--workers", "0"], 2, ""),
    (["leaderboard", "DIR", "--db", "/no/such/dir/c.sqlite"], 2, "does not exist"),
    (["leaderboard", "DIR", "--db", "DIR"], 2, "is a folder"),
    (["leaderboard", "DIR", "--html", "/no/such/dir/b.html"], 2, "folder does not exist"),
])
def test_cli_bad_input(tmp_path, args, code, message):
    args = [str(tmp_path) if a == "DIR" else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
