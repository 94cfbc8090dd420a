"""Plain-text tables for the terminal (no dependency, monospace alignment)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["format_table", "format_count", "format_value"]

# A cell that reads as a number ("1.5", "-3e-05", "12.3%", "1.2M", "4.1x", "-"): right-aligned.
_NUMBER = re.compile(r"^(-|[-+]?\d[\d.,]*(e[-+]?\d+)?\s?[A-Za-z%/]{0,6})$")


def format_count(n: float | None, unit: str = "") -> str:
    """``1234567 -> '1.23M'`` (SI prefixes, 3 significant digits); None -> ``'-'``."""
    if n is None:
        return "-"
    n = float(n)
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.3g}{prefix}{unit}"
    return f"{n:.3g}{unit}" if n != int(n) else f"{int(n)}{unit}"


def format_value(v: Any) -> str:
    """How a cell is shown: floats with 4 significant digits, None as '-'."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(format_value(x) for x in v) + "]"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                 *, headers: Mapping[str, str] | None = None, title: str | None = None) -> str:
    """Render dict rows as an aligned text table.

    ``columns`` picks and orders the keys (default: the keys of the first
    row, then any new key of later rows); ``headers`` renames them. Columns
    whose cells all read as numbers are right-aligned, others left-aligned. Cost: O(rows * columns).
    """
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    headers = dict(headers or {})
    names = [headers.get(c, c) for c in columns]
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    numeric = [all(_NUMBER.match(r[i]) for r in cells) for i in range(len(columns))]
    widths = [max([len(n)] + [len(r[i]) for r in cells]) for i, n in enumerate(names)]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = []
    if title:
        out.append(title)
    out.append(line(names))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells)
    return "\n".join(out)
