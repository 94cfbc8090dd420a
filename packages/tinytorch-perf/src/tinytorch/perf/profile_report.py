"""Profile reports: per-op and per-module tables of a forward or backward pass.

:func:`_build_report` aggregates a recorder's ``(op, module path)`` tables
into a :class:`ProfileReport` of :class:`OpStats` and :class:`ModuleStats`
rows, which prints as a table and converts to JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._table import format_count, format_table

__all__ = ["OpStats", "ModuleStats", "ProfileReport"]


class _Rate:
    """The achieved rate of a row that has ``flops`` and ``total_s``."""

    __slots__ = ()
    flops: int | None
    total_s: float

    @property
    def gflops_per_s(self) -> float | None:
        """Achieved GFLOP/s: ``flops / total_s / 1e9`` (None without FLOPs)."""
        if self.flops is None or self.total_s <= 0.0:
            return None
        return self.flops / self.total_s / 1e9


@dataclass(frozen=True)
class OpStats(_Rate):
    """One primitive in a profile: all its calls summed.

    ``total_s``: seconds inside the op (its NumPy forward, or its backward
    rule); ``share``: of the pass's wall time; ``flops``: summed from the
    primitive's ``flops`` function (None for backward rules, whose
    arithmetic does not go through the dispatch path).
    """

    name: str
    calls: int
    total_s: float
    share: float
    flops: int | None


@dataclass(frozen=True)
class ModuleStats(_Rate):
    """One module of the model (inclusive of its submodules).

    Forward: ``calls`` and ``total_s`` from the module hooks (the wall time
    of its ``__call__``), ``flops`` summed over the ops run inside it.
    Backward: ``calls`` counts the backward rules of ops recorded inside it
    and ``total_s`` sums their time.
    """

    path: str
    type: str
    calls: int
    total_s: float
    share: float
    flops: int | None


@dataclass
class ProfileReport:
    """Where the time of a forward (or backward) pass goes.

    Attributes:
        phase: ``"forward"`` or ``"backward"``.
        passes: how many profiled passes the figures sum over.
        wall_time_s: wall time of those passes.
        ops: per primitive, slowest first.
        modules: per module path (model order), inclusive of submodules.
        details: per (op, module path): ``{"op", "module", "calls",
            "total_s", "flops"}`` rows, slowest first.
        forward: for a backward report, the forward report of the same passes.
    """

    phase: str
    passes: int
    wall_time_s: float
    ops: list[OpStats]
    modules: list[ModuleStats]
    details: list[dict] = field(default_factory=list)
    forward: ProfileReport | None = None

    @property
    def op_time_s(self) -> float:
        """Time inside ops; the rest of ``wall_time_s`` is Python between them."""
        return sum(o.total_s for o in self.ops)

    @property
    def total_flops(self) -> int | None:
        if any(o.flops is None for o in self.ops):
            return None
        return sum(o.flops for o in self.ops)

    @property
    def flops_per_pass(self) -> int | None:
        total = self.total_flops
        return None if total is None else total // self.passes

    def table(self, max_rows: int | None = 25) -> str:
        """The printable report: a summary line, the op table, the module table."""
        flops = self.total_flops
        head = (f"{self.phase} pass x{self.passes}: {self.wall_time_s * 1e3:.3f} ms wall, "
                f"ops {self.op_time_s * 1e3:.3f} ms "
                f"({_pct(self.op_time_s, self.wall_time_s)} of wall; the rest is Python "
                f"between ops and the hooks)")
        if flops is not None:
            rate = flops / self.wall_time_s / 1e9 if self.wall_time_s > 0 else float("nan")
            head += f", {format_count(flops)} FLOP = {rate:.3g} GFLOP/s over the wall time"
        op_rows = [{
            "op": o.name, "calls": o.calls, "total ms": o.total_s * 1e3,
            "share": _pct(o.total_s, self.wall_time_s), "FLOPs": format_count(o.flops),
            "GFLOP/s": o.gflops_per_s,
        } for o in self.ops[:max_rows]]
        mod_rows = [{
            "module": m.path, "type": m.type, "calls": m.calls, "total ms": m.total_s * 1e3,
            "share": _pct(m.total_s, self.wall_time_s), "FLOPs": format_count(m.flops),
            "GFLOP/s": m.gflops_per_s,
        } for m in self.modules[:max_rows]]
        parts = [head, "", format_table(op_rows, title="per op:")]
        if len(self.ops) > len(op_rows):
            parts.append(f"... {len(self.ops) - len(op_rows)} more ops")
        if mod_rows:
            parts += ["", format_table(mod_rows, title="per module (inclusive):")]
        return "\n".join(parts)

    __str__ = table

    def to_dict(self) -> dict[str, Any]:
        out = {
            "phase": self.phase,
            "passes": self.passes,
            "wall_time_s": self.wall_time_s,
            "op_time_s": self.op_time_s,
            "total_flops": self.total_flops,
            "ops": [dict(vars(o), gflops_per_s=o.gflops_per_s) for o in self.ops],
            "modules": [dict(vars(m), gflops_per_s=m.gflops_per_s) for m in self.modules],
            "details": self.details,
        }
        if self.forward is not None:
            out["forward"] = self.forward.to_dict()
        return out


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole > 0 else "-"


def _build_report(phase: str, passes: int, wall: float, op_table: dict,
                  module_calls: dict | None, model_order: list[str],
                  types: dict[str, str] | None = None) -> ProfileReport:
    """Aggregate recorder tables into a report.

    ``op_table``: (op, path) -> [calls, seconds, flops or None].
    ``module_calls``: path -> [calls, seconds, type] measured by the module
    hooks (forward); None for the backward, whose module rows are summed
    from the ops recorded inside each module.
    """
    def share(secs: float) -> float:
        return secs / wall if wall > 0 else 0.0

    per_op: dict[str, list] = {}
    for (name, _path), (calls, secs, flops) in op_table.items():
        agg = per_op.setdefault(name, [0, 0.0, 0 if flops is not None else None])
        agg[0] += calls
        agg[1] += secs
        if flops is not None:
            agg[2] += flops
    ops = sorted((OpStats(n, c, s, share(s), f) for n, (c, s, f) in per_op.items()),
                 key=lambda o: -o.total_s)
    details = sorted(
        ({"op": n, "module": p, "calls": c, "total_s": s, "flops": f}
         for (n, p), (c, s, f) in op_table.items()),
        key=lambda r: -r["total_s"],
    )

    # Model modules in model order, then modules outside the model (a loss
    # module called by loss_fn: "<CrossEntropyLoss>") in order of appearance.
    seen = dict.fromkeys(model_order)
    extra = module_calls if module_calls is not None else dict.fromkeys(
        p for (_, p) in op_table)
    paths = list(seen) + [p for p in extra if p and p not in seen]
    types = dict(types or {})
    modules = []
    for path in paths:
        rows = [v for (_, p), v in op_table.items()
                if p == path or p.startswith(path + ".")]
        flops = None if any(f is None for _, _, f in rows) else sum(f for _, _, f in rows)
        if module_calls is not None:
            if path not in module_calls:
                continue  # a module of the model that did not run
            calls, secs, type_name = module_calls[path]
        else:
            if not rows:
                continue
            calls = sum(c for c, _, _ in rows)
            secs = sum(s for _, s, _ in rows)
            type_name = types.get(path, "")
        modules.append(ModuleStats(path, type_name, calls, secs, share(secs), flops))
    return ProfileReport(phase, passes, wall, ops, modules, details)
