"""Chrome / Perfetto traces of what a recorder saw.

The recorder's raw events become "complete" events (``ph: "X"``, ``ts`` and
``dur`` in microseconds from the start of the block), one per op and one per
module call, written atomically as ``{"traceEvents": [...], ...}``. Open the
file in https://ui.perfetto.dev or chrome://tracing.
"""

from __future__ import annotations

import os
import threading

from tinytorch.tensor import atomic_write

from ._io import dumps
from ._recorder import _Recorder
from .system import system_info

__all__ = ["Trace"]


class Trace:
    """What :meth:`Profiler.trace` recorded: ``path`` and, once the block
    has exited, ``events`` (the Chrome trace events written to the file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.events: list[dict] = []

    def __repr__(self) -> str:
        return f"Trace({self.path!r}, {len(self.events)} events)"


def _chrome_events(rec: _Recorder, origin: float) -> list[dict]:
    """Chrome trace "complete" events (ph "X", ts and dur in microseconds)."""
    pid = os.getpid()
    tid = threading.get_native_id()
    out = [
        {"name": "process_name", "ph": "M", "pid": pid, "tid": tid,
         "args": {"name": "tinytorch"}},
        {"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
         "args": {"name": "main"}},
    ]
    body = []
    for ev in rec.events or ():
        kind = ev[0]
        if kind == "module":
            _, path, t0, dt, type_name = ev
            body.append({"name": f"{path} ({type_name})", "cat": "module", "ph": "X",
                         "ts": (t0 - origin) * 1e6, "dur": dt * 1e6, "pid": pid, "tid": tid,
                         "args": {"module": path, "type": type_name}})
        else:
            _, name, t0, dt, path, in_shapes, out_shape, dtype, flops = ev
            args = {"module": path, "input_shapes": in_shapes, "output_shape": out_shape,
                    "dtype": dtype}
            if flops is not None:
                args["flops"] = flops
            body.append({"name": name, "cat": kind, "ph": "X",
                         "ts": (t0 - origin) * 1e6, "dur": dt * 1e6, "pid": pid, "tid": tid,
                         "args": args})
    # Parents first when two events start together, so viewers nest them.
    body.sort(key=lambda e: (e["ts"], -e["dur"]))
    return out + body


def _write_trace(path: str, rec: _Recorder, origin: float) -> list[dict]:
    """Write the recorder's events to ``path`` as a Chrome trace; return the events."""
    events = _chrome_events(rec, origin)
    document = {
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {"producer": "tinytorch.perf", "system": system_info()},
    }
    text = dumps(document, indent=None)
    atomic_write(path, lambda f: f.write(text), binary=False)
    return events
