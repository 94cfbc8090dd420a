"""Text views: the events table and a submission's figures, for terminals."""

from __future__ import annotations

from collections.abc import Mapping

from tinytorch.perf import EVENT_RULES, OlympicEvent, qualifies_event

__all__ = ["format_events", "format_summary", "format_qualifications"]


def _threshold(value) -> str:
    return "" if value is None else f">= {value:g}x"


def format_events() -> str:
    """The five events and their qualification rules (from ``tinytorch.perf.EVENT_RULES``)."""
    rows = [("event", "speedup", "compression", "combine", "accuracy_delta", "rule")]
    for event in OlympicEvent:
        rule = EVENT_RULES[event]
        both = rule.min_speedup is not None and rule.min_compression is not None
        rows.append((event.value, _threshold(rule.min_speedup), _threshold(rule.min_compression),
                     rule.combine if both else "", f">= {rule.min_accuracy_delta * 100:+g} pts",
                     rule.description))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for i, row in enumerate(rows):
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths)]
        lines.append("  ".join(cells) + "  " + row[-1])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * len(row[-1]))
    return "\n".join(lines)


def format_qualifications(scores: Mapping) -> str:
    """One line per event: qualified or not, for normalized ``scores``."""
    lines = []
    for event in OlympicEvent:
        ok = qualifies_event(scores, event).qualified
        lines.append(f"  {'QUALIFIED' if ok else 'no       '}  {event.value}")
    return "\n".join(lines)


def _fmt(value, spec: str, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "-"
    return f"{value:{spec}}{unit}"


def format_summary(submission: Mapping) -> str:
    """The figures of a (generated) submission as a small table: per model
    SingleStream p90 and median, Offline throughput, memory, accuracy; then
    the normalized scores and the event's verdict."""
    rows = [("", "SS p90 ms", "SS median ms", "Offline /s", "tokens/s", "memory MiB",
             "accuracy")]
    for who in ("baseline", "optimized"):
        m = submission.get(who, {})
        ss = m.get("single_stream") or {}
        off = m.get("offline") or {}
        rows.append((who, _fmt(m.get("latency_ms"), ".3f"), _fmt(ss.get("median_ms"), ".3f"),
                     _fmt(off.get("throughput_sps"), ".1f"), _fmt(m.get("tokens_per_s"), ".0f"),
                     _fmt(m.get("memory_mb"), ".4f"), _fmt(m.get("accuracy"), ".4f")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  " + "  ".join(c.rjust(w) if j else c.ljust(w)
                              for j, (c, w) in enumerate(zip(row, widths))) for row in rows]
    s = submission.get("normalized_scores", {})
    lines.append(f"  speedup {_fmt(s.get('speedup'), '.2f', 'x')}   "
                 f"compression {_fmt(s.get('compression_ratio'), '.2f', 'x')}   "
                 f"accuracy_delta {_fmt(s.get('accuracy_delta', None), '+.4f')}   "
                 f"efficiency {_fmt(s.get('efficiency_score'), '.3f')}")
    q = submission.get("event_qualification", {})
    verdict = "qualifies" if q.get("qualified") else "does NOT qualify"
    lines.append(f"  event {submission.get('event')}: {verdict}")
    lines.extend(f"    {reason}" for reason in q.get("reasons", []))
    return "\n".join(lines)
