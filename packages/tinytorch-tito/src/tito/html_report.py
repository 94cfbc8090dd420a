"""The leaderboard as one static HTML page (no server, no network).

A table per event (click a column header to sort it, or open the page as
``board.html#sort=<table id>:<column index>[:desc]``: a few lines of inline
JavaScript), the rejected submissions with their reasons, the superseded
and ignored files, and the accuracy-latency-memory Pareto plot of the valid
submissions' optimized models (matplotlib through
:func:`tinytorch.perf.plot_pareto_frontier`, embedded as a PNG; without
matplotlib the page says how to get it). Every value is HTML-escaped.
"""

from __future__ import annotations

import base64
import math
import os
import tempfile
from datetime import datetime, timezone
from html import escape

from tinytorch.tensor import atomic_write

COLUMNS = [  # (header, where in the row, format)
    ("rank", ("rank",), "{:d}"),
    ("division", ("summary", "division"), "{}"),
    ("athlete", ("summary", "athlete"), "{}"),
    ("speedup", ("summary", "scores", "speedup"), "{:.3f}x"),
    ("compression", ("summary", "scores", "compression_ratio"), "{:.3f}x"),
    ("accuracy delta", ("summary", "scores", "accuracy_delta"), "{:+.4f}"),
    ("efficiency", ("summary", "scores", "efficiency_score"), "{:.3f}"),
    ("accuracy", ("summary", "optimized", "accuracy"), "{:.4f}"),
    ("latency ms", ("summary", "optimized", "latency_ms"), "{:.4g}"),
    ("memory MB", ("summary", "optimized", "memory_mb"), "{:.4g}"),
    ("file", ("name",), "{}"),
]

SORT_SCRIPT = """
function sortTable(table, col, up) {
  var body = table.tBodies[0], rows = Array.from(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
    var nx = parseFloat(x), ny = parseFloat(y);
    var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
    return up ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
  table.tHead.rows[0].cells[col].dataset.order = up ? "asc" : "desc";
}
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    sortTable(th.closest("table"), th.cellIndex, th.dataset.order !== "asc");
  });
});
// A link can open the page sorted: board.html#sort=<table id>:<column>[:desc]
var wanted = /^#sort=([^:]+):(\\d+)(:desc)?$/.exec(decodeURIComponent(location.hash));
if (wanted && document.getElementById(wanted[1])) {
  sortTable(document.getElementById(wanted[1]), +wanted[2], !wanted[3]);
}
"""

STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
th { background: #eee; cursor: pointer; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
"""


def _get(row: dict, path: tuple[str, ...]):
    for key in path:
        row = row.get(key) if isinstance(row, dict) else None
    return row


def _cell(value, fmt: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            return f'<td class="num" data-value="{value}">{value}</td>'
        return f'<td class="num" data-value="{value!r}">{escape(fmt.format(value))}</td>'
    text = "" if value is None else str(value)
    return f'<td data-value="{escape(text)}">{escape(text)}</td>'


def _table(table_id: str, headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return (f'<table class="sortable" id="{escape(table_id)}">\n<thead><tr>{head}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table>")


def event_table(event: str, rows: list[dict]) -> str:
    """One event's ranked rows as a sortable table (id ``event-<event>``)."""
    cells = [[_cell(_get(r, path), fmt) for _, path, fmt in COLUMNS] for r in rows]
    return _table(f"event-{event}", [h for h, _, _ in COLUMNS], cells)


def pareto_png(board: dict) -> str | None:
    """The Pareto plot of every ranked submission as base64 PNG, or None
    (matplotlib missing, or fewer than one plottable point)."""
    from tinytorch.perf import MatplotlibMissingError, plot_pareto_frontier

    points = []
    for event, rows in board["events"].items():
        for r in rows:
            opt = r["summary"]["optimized"]
            if all(isinstance(opt.get(k), (int, float)) and math.isfinite(opt[k])
                   for k in ("accuracy", "latency_ms", "memory_mb")):
                points.append({**opt, "name": f"{r['summary']['athlete']} ({event})"})
    if not points:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pareto.png")
        try:
            plot_pareto_frontier(points, path, name_key="name",
                                 title="optimized models: accuracy, latency, memory")
        except MatplotlibMissingError:
            return None
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode("ascii")


def render(board: dict, plot: bool = True) -> str:
    """The whole page for :func:`tito.leaderboard.build`'s result."""
    parts = [f"<h1>TorchPerf Olympics leaderboard</h1>\n<p>{escape(board['directory'])}: "
             f"{sum(len(r) for r in board['events'].values())} ranked, "
             f"{len(board['rejected'])} rejected, mode {escape(board['mode'])}, generated "
             f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</p>"]
    for event, rows in board["events"].items():
        key = rows[0]["score_key"] if rows else ""
        parts.append(f'<h2 id="h-{escape(event)}">{escape(event)}</h2>\n'
                     f"<p>ranked per division by {escape(key)} (higher is better)</p>")
        parts.append(event_table(event, rows))
    if not board["events"]:
        parts.append("<p>No valid submission yet.</p>")
    image = pareto_png(board) if plot else None
    parts.append("<h2>Pareto plot</h2>")
    parts.append(f'<img id="pareto" alt="accuracy, latency and memory of the optimized models" '
                 f'src="data:image/png;base64,{image}">' if image else
                 "<p>No plot: it needs matplotlib (pip install 'tinytorch-tito[plot]') and at "
                 "least one valid submission.</p>")
    parts.append("<h2>Rejected</h2>")
    parts.append(_table("rejected", ["file", "athlete", "event", "reasons"], [
        [_cell(r["name"], "{}"), _cell(r["summary"]["athlete"], "{}"),
         _cell(r["summary"]["event"], "{}"), _cell("; ".join(r["reasons"]), "{}")]
        for r in board["rejected"]]))
    parts.append("<h2>Superseded (the newest submission of an athlete for an event counts)</h2>")
    parts.append(_table("superseded", ["file", "athlete", "event", "replaced by"], [
        [_cell(r["name"], "{}"), _cell(r["summary"]["athlete"], "{}"),
         _cell(r["summary"]["event"], "{}"), _cell(r["by"], "{}")]
        for r in board["superseded"]]))
    parts.append("<h2>Ignored files</h2>")
    parts.append(_table("ignored", ["name", "reason"],
                        [[_cell(n, "{}"), _cell(why, "{}")] for n, why in board["ignored"]]))
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f"<title>TorchPerf Olympics leaderboard</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n")


def write_html(board: dict, path: str, plot: bool = True) -> str:
    """Render and write the page atomically; returns ``path``."""
    page = render(board, plot=plot)
    return atomic_write(path, lambda f: f.write(page), binary=False)
