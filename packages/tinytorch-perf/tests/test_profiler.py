"""Profiler: parameters, memory, latency, per-op tables, and leaving no trace behind."""

import gc
import time
import tracemalloc

import numpy as np
import pytest

from tinytorch import nn
from tinytorch import tensor as tt
from tinytorch.autograd import is_grad_enabled
from tinytorch.perf import BenchmarkResult, Profiler, ProfileReport


def test_count_parameters(mlp):
    p = Profiler()
    assert p.count_parameters(mlp) == 8 * 16 + 16 + 16 * 4 + 4
    mlp[0].weight.requires_grad_(False)
    assert p.count_parameters(mlp, trainable_only=True) == 16 + 16 * 4 + 4


def test_shared_parameters_are_counted_once():
    a = nn.Linear(4, 4, bias=False)
    model = nn.Sequential(a, nn.ReLU(), a)
    assert Profiler().count_parameters(model) == 16


def test_plain_function_has_no_parameters_and_non_callables_are_rejected():
    p = Profiler()
    assert p.count_parameters(lambda x: x) == 0
    with pytest.raises(TypeError, match="callable"):
        p.count_parameters(42)
    with pytest.raises(TypeError, match="callable"):
        p.count_flops("model", np.ones(3))


def test_measure_memory_breakdown(mlp):
    x = np.ones((256, 8), dtype=np.float32)
    m = Profiler().measure_memory(mlp, x)
    assert m["parameter_count"] == 212
    assert m["parameter_bytes"] == 212 * 4
    assert m["buffer_bytes"] == 0
    assert m["input_bytes"] == x.nbytes
    # At least the hidden activation (256 x 16) and the output (256 x 4) in float32.
    assert m["activation_peak_bytes"] >= 256 * 16 * 4
    assert m["peak_memory_bytes"] == (m["parameter_bytes"] + m["buffer_bytes"]
                                      + m["activation_peak_bytes"])
    assert m["peak_memory_mb"] == pytest.approx(m["peak_memory_bytes"] / 2**20)


def test_measure_memory_grows_with_the_batch(mlp):
    p = Profiler()
    small = p.measure_memory(mlp, np.ones((16, 8), dtype=np.float32))
    big = p.measure_memory(mlp, np.ones((4096, 8), dtype=np.float32))
    assert big["activation_peak_bytes"] > 100 * small["activation_peak_bytes"] / 16
    assert big["activation_peak_bytes"] >= 4096 * (16 + 4) * 4


def test_measure_memory_leaves_tracemalloc_as_found(mlp, data):
    assert not tracemalloc.is_tracing()
    Profiler().measure_memory(mlp, data)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        Profiler().measure_memory(mlp, data)
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_measure_latency_statistics_and_metadata(mlp, data):
    r = Profiler().measure_latency(mlp, data, warmup=3, iterations=25)
    assert isinstance(r, BenchmarkResult) and r.metric_name == "latency_ms"
    assert r.n == 25 and np.all(r.values > 0)
    assert r.min <= r.median <= r.p90 <= r.p99 <= r.max
    assert r.metadata["warmup"] == 3 and r.metadata["iterations"] == 25
    assert r.metadata["input_shapes"] == [[32, 8]]
    assert r.metadata["system"]["numpy"] == np.__version__


def test_measure_latency_runs_warmup_then_iterations_under_no_grad():
    calls = []

    def model(x):
        calls.append(is_grad_enabled())
        return x

    Profiler().measure_latency(model, np.ones(3), warmup=4, iterations=7)
    assert calls == [False] * 11


def test_time_calls_honours_iterations_and_min_duration():
    p = Profiler()
    seen = []
    t = p.time_calls(seen.append, warmup=2, iterations=5)
    assert t.shape == (5,) and seen == [0, 1, 0, 1, 2, 3, 4]
    start = time.perf_counter()
    t = p.time_calls(lambda i: time.sleep(0.002), iterations=3, min_duration_s=0.05)
    assert time.perf_counter() - start >= 0.05
    assert t.size >= 3 and t.sum() >= 0.04
    assert np.all(t >= 0.0015)


def test_time_calls_restores_the_garbage_collector():
    p = Profiler()
    assert gc.isenabled()
    p.time_calls(lambda i: None, iterations=2)
    assert gc.isenabled()
    gc.disable()
    try:
        p.time_calls(lambda i: None, iterations=2)
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("kwargs, error", [
    ({"warmup": -1}, ValueError), ({"iterations": 0}, ValueError),
    ({"iterations": 2.5}, TypeError), ({"min_duration_s": -1.0}, ValueError),
    ({"min_duration_s": float("inf")}, ValueError), ({"warmup": True}, TypeError),
])
def test_time_calls_rejects_bad_counts(kwargs, error):
    with pytest.raises(error):
        Profiler().time_calls(lambda i: None, **kwargs)


def test_profile_forward_pass_table(mlp, data):
    p = Profiler()
    rep = p.profile_forward_pass(mlp, data, iterations=3)
    assert isinstance(rep, ProfileReport) and rep.phase == "forward" and rep.passes == 3
    ops = {o.name: o for o in rep.ops}
    assert set(ops) == {"linear", "relu"}  # Linear is one fused primitive (GEMM + bias)
    assert ops["linear"].calls == 6 and ops["relu"].calls == 3
    assert ops["linear"].flops == 3 * (2 * 32 * 8 * 16 + 32 * 16 + 2 * 32 * 16 * 4 + 32 * 4)
    assert rep.total_flops == 3 * p.count_flops(mlp, data)
    assert rep.flops_per_pass == p.count_flops(mlp, data)
    assert all(o.total_s > 0 and 0 < o.share <= 1 for o in rep.ops)
    assert rep.op_time_s <= rep.wall_time_s
    assert ops["linear"].gflops_per_s == pytest.approx(
        ops["linear"].flops / ops["linear"].total_s / 1e9)
    mods = {m.path: m for m in rep.modules}
    assert list(mods) == ["model", "model.0", "model.1", "model.2"]
    assert mods["model.0"].type == "Linear" and mods["model.0"].calls == 3
    assert mods["model"].flops == rep.total_flops
    assert mods["model.0"].flops == 3 * (2 * 32 * 8 * 16 + 32 * 16)
    assert mods["model"].total_s >= mods["model.0"].total_s + mods["model.2"].total_s
    text = rep.table()
    for word in ("linear", "model.0", "Linear", "GFLOP/s", "share"):
        assert word in text
    assert str(rep) == text
    d = rep.to_dict()
    assert d["total_flops"] == rep.total_flops and d["ops"][0]["name"] == rep.ops[0].name


def test_profile_forward_of_a_plain_function_has_ops_but_no_modules():
    rep = Profiler().profile_forward_pass(lambda x: (x * x).sum(), np.ones((4, 4)))
    assert {o.name for o in rep.ops} == {"mul", "sum"}
    assert rep.modules == []
    assert rep.total_flops == 32


def test_profile_backward_pass(mlp, data):
    rep = Profiler().profile_backward_pass(mlp, data, iterations=2)
    assert rep.phase == "backward" and rep.passes == 2
    ops = {o.name: o for o in rep.ops}
    # one backward rule per recorded forward op (the loss's sum included)
    assert ops["linear"].calls == 4
    assert ops["relu"].calls == 2 and ops["sum"].calls == 2
    assert all(o.flops is None for o in rep.ops) and rep.total_flops is None
    mods = {m.path: m for m in rep.modules}
    assert mods["model.0"].calls == 2 and mods["model.0"].type == "Linear"  # one rule per pass
    assert mods["model"].calls == 6  # every rule but the loss's sum
    assert rep.forward is not None and rep.forward.phase == "forward"
    assert {o.name for o in rep.forward.ops} == {"linear", "relu", "sum"}
    assert "-" in rep.table()


def test_profile_backward_with_a_loss_module(mlp, data):
    y = np.arange(32) % 4
    loss_module = nn.CrossEntropyLoss()
    rep = Profiler().profile_backward_pass(mlp, data, lambda out: loss_module(out, y))
    paths = [m.path for m in rep.forward.modules]
    assert "<CrossEntropyLoss>" in paths
    assert "cross_entropy" in {o.name for o in rep.ops}


def test_profile_backward_validates_the_loss(mlp, data):
    with pytest.raises(ValueError, match="one element"):
        Profiler().profile_backward_pass(mlp, data, lambda out: out * 2.0)
    with pytest.raises(TypeError, match="Tensor"):
        Profiler().profile_backward_pass(mlp, data, lambda out: 1.0)


def test_profiling_leaves_gradients_modes_and_buffers_as_found(make_mlp, buffer_counter, data):
    counter = buffer_counter()
    model = nn.Sequential(make_mlp(), counter)
    model.train()
    model[0][0].eval()  # mixed modes must come back mixed
    old = tt.Tensor(np.full((8, 16), 7.0, dtype=np.float32))
    model[0][0].weight.grad = old
    p = Profiler()
    p.profile_backward_pass(model, data, iterations=2)
    p.profile_forward_pass(model, data)
    p.measure_latency(model, data, warmup=1, iterations=2)
    p.measure_memory(model, data)
    p.count_flops(model, data)
    assert model[0][0].weight.grad is old and np.all(old.data == 7.0)
    assert model[0][0].bias.grad is None and model[0][2].weight.grad is None
    assert model.training and counter.training and not model[0][0].training
    assert counter.count.data[0] == 0.0  # the forward incremented it many times
    assert len(counter.seen_training) > 5


@pytest.mark.parametrize("entry", [
    "count_flops", "measure_memory", "measure_latency", "profile_forward_pass",
    "profile_backward_pass", "trace",
])
def test_hooks_and_model_restored_when_the_forward_raises(entry, make_mlp, exploding,
                                                          hook_state, buffer_counter, tmp_path):
    counter = buffer_counter()
    model = nn.Sequential(make_mlp(), counter, exploding())  # raises after some ops ran
    model.train()
    grad = tt.Tensor(np.ones((8, 16), dtype=np.float32))
    model[0][0].weight.grad = grad
    before = hook_state(model)
    x = np.ones((4, 8), dtype=np.float32)
    p = Profiler()
    with pytest.raises(RuntimeError, match="boom"):
        if entry == "trace":
            with p.trace(tmp_path / "t.json", model):
                model(tt.Tensor(x))
        else:
            getattr(p, entry)(model, x)
    assert hook_state(model) == before
    assert model[0][0].weight.grad is grad
    assert model.training and all(m.training for m in model.modules())
    if entry != "trace":  # trace does not own the model: it only watches
        assert counter.count.data[0] == 0.0
    # and the profiler still works afterwards
    assert p.count_flops(model[0], x) == p.count_flops(model[0], x) > 0


def test_hooks_restored_after_success(mlp, data, hook_state, tmp_path):
    before = hook_state(mlp)
    p = Profiler()
    p.profile_forward_pass(mlp, data)
    p.profile_backward_pass(mlp, data)
    with p.trace(tmp_path / "t.json", mlp):
        mlp(tt.Tensor(data)).sum().backward()
    assert hook_state(mlp) == before


def test_tuple_inputs_are_unpacked():
    calls = []

    def model(a, b):
        calls.append((a.shape, b.shape))
        return a @ b

    flops = Profiler().count_flops(model, (np.ones((2, 3)), np.ones((3, 5))))
    assert flops == 2 * 2 * 3 * 5 and calls == [((2, 3), (3, 5))]
