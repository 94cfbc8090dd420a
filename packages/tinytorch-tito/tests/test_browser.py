"""The leaderboard page in a real browser: headless Chromium renders its tables.

Skipped when no Chromium is installed, except in the ``browser`` nox
session (it installs Debian's chromium and sets TITO_REQUIRE_CHROMIUM=1,
so that a missing browser fails there instead of skipping).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from tito.cli import app
from typer.testing import CliRunner

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("TITO_REQUIRE_CHROMIUM"):
        pytest.fail("TITO_REQUIRE_CHROMIUM is set but no Chromium is installed")
    return None


def dump_dom(browser: str, url: str, profile) -> str:
    """The DOM after the page's scripts ran, as headless Chromium prints it."""
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--no-first-run",
         "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_chromium_renders_the_tables_and_runs_the_sort(board_folder, tmp_path, html_tables):
    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium installed (the browser nox session installs it)")
    page = tmp_path / "board.html"
    result = CliRunner().invoke(app, ["leaderboard", str(board_folder), "--html", str(page)])
    assert result.exit_code == 0, result.output

    dom = html_tables(dump_dom(browser, page.as_uri(), tmp_path / "profile"))
    ranked = dom.tables["event-accuracy_contest"]
    assert ranked["headers"][:3] == ["rank", "division", "athlete"]
    assert [row[2].strip() for row in ranked["rows"]] == ["Ada", "bea", "Cyd"]
    assert [row[0] for row in dom.tables["rejected"]["rows"]] == ["liar.json"]

    # The page's script ran: opened with #sort=<table>:<column>:desc it sorts
    # the table by file name, descending, in the browser.
    column = ranked["headers"].index("file")
    url = page.as_uri() + f"#sort=event-accuracy_contest:{column}:desc"
    files = [row[column] for row in
             html_tables(dump_dom(browser, url, tmp_path / "profile")).tables[
                 "event-accuracy_contest"]["rows"]]
    assert files == sorted(files, reverse=True) != [row[column] for row in ranked["rows"]]
