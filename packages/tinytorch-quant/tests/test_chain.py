"""QuantizedSequential: runs of static int8 Linears executed as one chain that
keeps integer codes between the layers. Same outputs as the layers run one
by one, bit for bit; the integer part equals an int64 reference."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.quant import (
    QUANTIZED_LINEAR,
    QUANTIZED_LINEAR_CHAIN,
    QuantizedLinear,
    QuantizedSequential,
    linked_runs,
    model_size_bytes,
    quantize_static,
)
from tinytorch.quant import _kernels as K
from tinytorch.tensor import Tensor, manual_seed, register_hook

RNG = np.random.default_rng(7)


def batches(width, n=4, rows=32):
    return [RNG.normal(size=(rows, width)).astype(np.float32) for _ in range(n)]


class Wrapped(nn.Module):
    """A Sequential nested inside another module (not the root)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 8))
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.body(x))


MODELS = {
    "linear-relu-linear": lambda: nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5)),
    "linear-linear": lambda: nn.Sequential(nn.Linear(20, 32), nn.Linear(32, 5)),
    "three, no bias": lambda: nn.Sequential(nn.Linear(20, 32, bias=False), nn.ReLU(),
                                            nn.Linear(32, 24), nn.ReLU(), nn.Linear(24, 5)),
    "tail relu": lambda: nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5),
                                       nn.ReLU()),
    "nested": Wrapped,
}


def one_by_one(model, x: Tensor) -> np.ndarray:
    """The reference: every child of every QuantizedSequential called in turn."""
    if isinstance(model, QuantizedSequential):
        for m in model.children():
            x = one_by_one(m, x)
        return x
    if isinstance(model, Wrapped):
        return model.head(one_by_one(model.body, x))
    return model(x)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_chain_equals_the_layers_run_one_by_one_bit_for_bit(name):
    manual_seed(1)
    model = MODELS[name]()
    q = quantize_static(model, batches(20))
    assert any(isinstance(m, QuantizedSequential) for m in q.modules())
    assert model_size_bytes(q) < model_size_bytes(model) / 2.5  # int8 codes + scales, biases
    for rows in (1, 7, 64):
        x = Tensor(RNG.normal(size=(rows, 20)).astype(np.float32) * 2)
        out = q(x).data
        assert out.dtype == np.float32
        assert np.array_equal(out, one_by_one(q, x).data)


def test_the_chain_integer_part_equals_the_int64_reference():
    manual_seed(2)
    q = quantize_static(MODELS["linear-relu-linear"](), batches(20))
    l1, l2 = q[0], q[2]
    x = RNG.normal(size=(50, 20)).astype(np.float32)
    s1, z1 = float(l1.input_scale.data), float(l1.input_zero_point.data)
    s2, z2 = float(l2.input_scale.data), float(l2.input_zero_point.data)
    c1 = K.quantize_activation(x, s1, z1).astype(np.int64)
    acc1 = c1 @ l1.weight_int8.data.astype(np.int64).T  # exact integers
    assert np.abs(acc1).max() < 2 ** 24
    h = acc1.astype(np.float32) * np.float32(np.float32(s1) * l1.weight_scale.data) + l1.bias.data
    # the next layer's grid, ReLU folded in: max(code, zero point) in uint8 terms
    q2 = np.clip(np.rint(h * (np.float32(1) / np.float32(s2))) + z2, z2, 255).astype(np.int64)
    acc2 = (q2 - int(z2)) @ l2.weight_int8.data.astype(np.int64).T
    ref = acc2.astype(np.float32) * np.float32(np.float32(s2) * l2.weight_scale.data)
    ref += l2.bias.data
    assert np.array_equal(q(Tensor(x)).data, ref)


@pytest.mark.parametrize("layers,runs", [
    (["S", "R", "S"], [(0, 3)]),
    (["S", "S", "S"], [(0, 3)]),
    (["S", "R", "R", "S"], []),          # two ReLUs in a row: not a chain
    (["S", "D", "S"], []),               # a dynamic layer breaks the run
    (["S", "R", "S", "F", "S", "S"], [(0, 3), (4, 6)]),
    (["S"], []),
    (["R", "S", "R"], []),
])
def test_linked_runs(layers, runs):
    make = {"S": lambda: QuantizedLinear(4, 4, static=True), "D": lambda: QuantizedLinear(4, 4),
            "R": nn.ReLU, "F": nn.Flatten}
    assert linked_runs([make[c]() for c in layers]) == runs


def test_mismatched_widths_are_not_linked():
    assert linked_runs([QuantizedLinear(4, 5, static=True), QuantizedLinear(4, 4, static=True)]) \
        == []


def test_one_dispatch_with_the_flops_of_its_layers():
    manual_seed(3)
    q = quantize_static(MODELS["three, no bias"](), batches(20))
    x = Tensor(RNG.normal(size=(16, 20)).astype(np.float32))
    seen = []
    handle = register_hook(lambda op, inputs, out, params, saved: seen.append(
        (op.name, op.flops([t.data for t in inputs], out.data, params))))
    try:
        q(x)
    finally:
        handle.remove()
    assert [name for name, _ in seen] == [QUANTIZED_LINEAR_CHAIN.name]
    expected = 0
    for lin in (q[0], q[2], q[4]):
        w = lin.weight_int8.data
        expected += QUANTIZED_LINEAR.flops((np.empty((16, w.shape[1])), w), None, {})
    assert seen[0][1] == expected


def test_a_hooked_layer_is_called_so_its_hook_sees_it():
    manual_seed(4)
    q = quantize_static(MODELS["linear-relu-linear"](), batches(20))
    x = Tensor(RNG.normal(size=(8, 20)).astype(np.float32))
    ref = q(x).data
    calls = []
    handle = q[2].register_forward_hook(lambda m, args, out: calls.append(out.shape))
    try:
        assert np.array_equal(q(x).data, ref)
    finally:
        handle.remove()
    assert calls == [(8, 5)]


def test_it_stands_for_a_sequential_and_rejects_bad_input():
    q = quantize_static(MODELS["linear-relu-linear"](), batches(20))
    seq = nn.Sequential  # the closed-division signature names the float container
    assert q.float_architecture() == {"type": f"{seq.__module__}.{seq.__qualname__}",
                                      "parameters": [], "buffers": []}
    assert list(dict(q.named_children())) == ["0", "1", "2"]
    with pytest.raises(ValueError, match="QuantizedSequential: expected 20"):
        q(Tensor(np.zeros((2, 19), np.float32)))
    with pytest.raises(TypeError, match="QuantizedSequential: input must be a Tensor"):
        q(np.zeros((2, 20), np.float32))


def test_the_workspace_is_reused_and_tiles_give_the_same_result():
    w = RNG.integers(-128, 128, (300, 40)).astype(np.int8)
    a = RNG.integers(-255, 256, (6, 40)).astype(np.float32)
    first = K.widen(w, np.float32)
    assert first.dtype == np.float32 and np.array_equal(first, w)
    assert np.shares_memory(K.widen(w[:10], np.float32), first)  # no new allocation
    ref = a.astype(np.int64) @ w.astype(np.int64).T
    for tile in (None, 1, 41, 4000, 10 ** 9):
        assert np.array_equal(K._exact_gemm(a, w, tile), ref)


def test_a_replaced_child_or_buffer_is_seen_by_the_next_call():
    """The chain's plan and each layer's buffer tuple are caches: swapping a
    child, assigning a buffer or loading a state dict must show at once."""
    manual_seed(5)
    q = quantize_static(MODELS["linear-relu-linear"](), batches(20))
    other = quantize_static(MODELS["linear-relu-linear"](), batches(20))
    x = Tensor(RNG.normal(size=(8, 20)).astype(np.float32))
    q(x)
    q[2] = other[2]  # a child swapped
    assert np.array_equal(q(x).data, one_by_one(q, x).data)
    for name in ("weight_int8", "weight_scale", "bias", "input_scale", "input_zero_point"):
        setattr(q[0], name, getattr(other[0], name).data.copy())  # buffers assigned
    assert np.array_equal(q(x).data, other(x).data)
    q.load_state_dict(quantize_static(MODELS["linear-relu-linear"](), batches(20)).state_dict())
    assert np.array_equal(q(x).data, one_by_one(q, x).data)
    q[2] = nn.Linear(32, 5)  # no longer a chain: the float layer runs
    assert np.array_equal(q(x).data, one_by_one(q, x).data)
