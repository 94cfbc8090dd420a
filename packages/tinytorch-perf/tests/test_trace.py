"""Chrome / Perfetto trace files written by Profiler.trace."""

import json
import os

import numpy as np
import pytest

from tinytorch import tensor as tt
from tinytorch.perf import Profiler


def _load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_trace_structure(mlp, data, tmp_path):
    path = tmp_path / "trace.json"
    x = tt.Tensor(data)
    with Profiler().trace(path, mlp) as tr:
        mlp(x).sum().backward()
    doc = _load(path)
    assert set(doc) >= {"traceEvents", "displayTimeUnit", "otherData"}
    assert doc["otherData"]["system"]["numpy"] == np.__version__
    events = doc["traceEvents"]
    assert events == tr.events
    complete = [e for e in events if e["ph"] == "X"]
    meta = [e for e in events if e["ph"] == "M"]
    assert {e["name"] for e in meta} == {"process_name", "thread_name"}
    for e in complete:
        assert set(e) >= {"name", "cat", "ph", "ts", "dur", "pid", "tid", "args"}
        assert isinstance(e["ts"], float) and e["ts"] >= 0 and e["dur"] >= 0
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
    assert [e["ts"] for e in complete] == sorted(e["ts"] for e in complete)

    forward = [e for e in complete if e["cat"] == "forward"]
    backward = [e for e in complete if e["cat"] == "backward"]
    modules = [e for e in complete if e["cat"] == "module"]
    assert [e["name"] for e in forward] == ["linear", "relu", "linear", "sum"]
    assert [e["args"]["module"] for e in forward] == [
        "model.0", "model.1", "model.2", ""]
    first = forward[0]["args"]
    assert first["input_shapes"] == [[32, 8], [16, 8], [16]]  # x, W (out, in), b
    assert first["output_shape"] == [32, 16]
    assert first["flops"] == 2 * 32 * 8 * 16 + 32 * 16 and first["dtype"] == "float32"
    assert sorted(e["name"] for e in backward) == sorted(e["name"] for e in forward)
    assert {e["args"]["module"] for e in backward} == {"model.0", "model.1", "model.2", ""}
    assert "flops" not in backward[0]["args"]
    assert [e["args"]["module"] for e in modules] == ["model", "model.0", "model.1", "model.2"]
    # Modules enclose their ops (viewers nest events by time).
    lin0 = modules[1]
    for e in forward[:1]:
        assert lin0["ts"] <= e["ts"] and e["ts"] + e["dur"] <= lin0["ts"] + lin0["dur"] + 1e-3
    # The backward runs after the forward.
    assert min(e["ts"] for e in backward) >= max(e["ts"] for e in forward)


def test_trace_is_written_atomically_and_replaces(mlp, data, tmp_path):
    path = tmp_path / "trace.json"
    path.write_text("old")
    with Profiler().trace(path, mlp):
        mlp(tt.Tensor(data))
    assert _load(path)["traceEvents"]
    assert os.listdir(tmp_path) == ["trace.json"]  # no temporary file left behind


def test_trace_written_even_when_the_block_raises(mlp, data, tmp_path):
    path = tmp_path / "trace.json"
    with pytest.raises(ZeroDivisionError):
        with Profiler().trace(path, mlp):
            mlp(tt.Tensor(data))
            raise ZeroDivisionError("after the forward")
    names = [e["name"] for e in _load(path)["traceEvents"] if e["ph"] == "X"]
    assert "linear" in names


def test_trace_without_model_names_modules_by_type(mlp, data, tmp_path):
    path = tmp_path / "t.json"
    with Profiler().trace(path):
        mlp(tt.Tensor(data))
    modules = [e["args"]["module"] for e in _load(path)["traceEvents"]
               if e.get("cat") == "module"]
    assert modules == ["<Sequential>", "<Sequential>.<Linear>", "<Sequential>.<ReLU>",
                       "<Sequential>.<Linear>"]


def test_trace_into_a_missing_directory_fails_before_running(tmp_path):
    ran = []
    with pytest.raises(FileNotFoundError):
        with Profiler().trace(tmp_path / "nope" / "t.json"):
            ran.append(1)
    assert ran == []
