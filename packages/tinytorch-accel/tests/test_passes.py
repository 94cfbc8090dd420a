"""Each pass alone, on a captured graph."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _models (--import-mode=importlib)
from _models import Chain, random  # noqa: E402

from tinytorch import nn  # noqa: E402
from tinytorch.accel import (  # noqa: E402
    capture,
    compile,
    dead_code_elimination,
    fold_constants,
    fuse_elementwise,
    generate,
    plan_buffers,
    run_passes,
)
from tinytorch.autograd import no_grad  # noqa: E402
from tinytorch.tensor import manual_seed  # noqa: E402


def chain_graph():
    model = Chain().eval()
    x = random((3, 8))
    graph, out = capture(model, (x,))
    return graph, x, out


def names(graph):
    return [n.name for n in graph.nodes]


def test_capture_records_every_primitive_and_classifies_values():
    graph, _, _ = chain_graph()
    assert names(graph) == ["linear", "exp", "mul", "add", "relu", "permute", "matmul"]
    kinds = {v.name: v.kind for v in graph.values if v.kind != "node"}
    assert kinds["arg0"] == "input"
    assert kinds["fc.weight"] == kinds["fc.bias"] == kinds["w"] == "param"
    assert sum(k == "const" for k in kinds.values()) == 2  # the scalars 2.0 and 1.0


def test_dead_code_elimination_drops_only_unused_ops():
    graph, _, _ = chain_graph()
    after = dead_code_elimination(graph)
    assert names(after) == ["linear", "mul", "add", "relu", "permute", "matmul"]
    assert names(graph)[1] == "exp"  # the input graph is left unchanged


def test_fold_constants_runs_parameter_only_ops_once():
    graph, _, _ = chain_graph()
    after = fold_constants(graph)
    assert "permute" not in names(after)
    folded = [v for v in after.values if v.name == "fold:permute"]
    assert len(folded) == 1
    w = [v for v in graph.values if v.name == "w"][0]
    np.testing.assert_array_equal(folded[0].array, w.array.T)
    # A transpose stays a view of the parameter: a write into it is seen.
    assert np.shares_memory(folded[0].array, w.array)


def test_fuse_elementwise_merges_single_use_chains():
    graph, _, _ = chain_graph()
    after = fuse_elementwise(dead_code_elimination(graph))
    assert names(after) == ["linear", "fused[mul+add+relu]", "permute", "matmul"]
    fused = after.nodes[1]
    assert fused.inputs[0] == graph.nodes[0].out  # reads the linear output...
    assert fused.out == graph.nodes[4].out  # ...and produces relu's


def test_fusion_keeps_a_value_used_twice():
    class Twice(nn.Module):
        def forward(self, x):
            y = x * 2.0
            return (y + 1.0) * y  # y has two uses: it must stay materialised

    x = random((4, 4))
    graph, _ = capture(Twice().eval(), (x,))
    after = fuse_elementwise(graph)
    assert names(after) == ["fused[mul]", "fused[add+mul]"]
    with no_grad():
        np.testing.assert_array_equal(
            compile(Twice().eval(), (x,))(x).numpy(), Twice()(x).numpy())


def stack_of_linears(width=256, depth=4):
    manual_seed(0)
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers).eval()


def test_plan_buffers_reuses_dead_buffers_and_never_the_output():
    model = stack_of_linears()
    graph, _ = capture(model, (random((8, 256)),))
    planned = plan_buffers(fuse_elementwise(graph))
    buffered = [n for n in planned.nodes if n.buffer is not None]
    # 8 ops write into buffers, but only two values are ever live at once.
    assert len(buffered) == 7 and len(planned.buffers) == 2
    out = planned.nodes[-1]
    assert out.out == planned.outputs[0] and out.buffer is None
    for a, b in zip(buffered, buffered[1:]):
        assert a.buffer != b.buffer  # a node never writes into what it reads


def test_replay_allocates_only_its_output():
    model = stack_of_linears()
    x = random((64, 256))
    fast = compile(model, (x,))
    out_bytes = 64 * 256 * 4
    with no_grad():
        fast(x)
        tracemalloc.start()
        fast(x)
        _, peak_compiled = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        tracemalloc.start()
        model(x)
        _, peak_eager = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak_compiled < 1.5 * out_bytes  # the returned array (plus small objects)
    assert peak_eager > 2 * out_bytes  # eager keeps temporaries alive meanwhile


@pytest.mark.parametrize("passes", [
    (), (dead_code_elimination,), (fold_constants,), (fuse_elementwise,), (plan_buffers,),
    (dead_code_elimination, fold_constants, fuse_elementwise, plan_buffers),
], ids=["none", "dce", "fold", "fuse", "plan", "all"])
def test_every_pass_alone_keeps_the_result(passes):
    graph, x, out = chain_graph()
    replay = generate(run_passes(graph, passes))
    (got,) = replay(x.numpy())
    np.testing.assert_array_equal(got, out.numpy())
