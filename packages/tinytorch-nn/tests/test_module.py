"""Module mechanics: registration, walking the tree, modes, hooks, state dicts, files."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401
from tinytorch import nn
from tinytorch.tensor import Tensor


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4))
        self.register_buffer("count", np.zeros(1, dtype=np.int64))
        self.register_buffer("scratch", np.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Block(), Block()])
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)[..., :3]
        return self.head(b.fc(x))


# ------------------------------------------------------------- registration


def test_parameters_modules_buffers_are_registered_in_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "blocks.0.scale", "blocks.0.fc.weight", "blocks.0.fc.bias",
        "blocks.1.scale", "blocks.1.fc.weight", "blocks.1.fc.bias",
        "head.weight", "head.bias",
    ]
    assert [n for n, _ in net.named_buffers()] == [
        "blocks.0.count", "blocks.0.scratch", "blocks.1.count", "blocks.1.scratch"]
    assert [n for n, _ in net.named_modules()] == [
        "", "blocks", "blocks.0", "blocks.0.fc", "blocks.1", "blocks.1.fc", "head"]
    assert [n for n, _ in net.named_children()] == ["blocks", "head"]
    assert len(list(net.parameters(recurse=False))) == 0
    assert net.num_parameters() == 2 * (3 * 4 + 4 + 4) + 4 * 2 + 2


def test_shared_parameter_is_listed_once():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight  # weight tying
    seq = nn.Sequential(a, b)
    names = [n for n, _ in seq.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.bias"]
    assert seq.num_parameters() == 9 + 3 + 3
    # the state dict keeps every name (as PyTorch), so tied and untied models share keys
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    # a shared module appears once in named_modules
    shared = nn.Linear(2, 2)
    assert len(list(nn.Sequential(shared, shared).named_modules())) == 2


def test_assign_none_and_delete_unregister():
    m = Block()
    m.scale = None
    assert "scale" not in m._parameters and m.scale is None
    del m.fc
    assert "fc" not in m._modules
    with pytest.raises(AttributeError):
        _ = m.fc
    m.count = None
    assert "count" not in dict(m.named_buffers())


def test_assigning_wrong_type_to_registered_names_is_refused():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="parameter 'weight'"):
        m.weight = Tensor(np.ones((2, 2)))
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="submodule '0'"):
        setattr(seq, "0", 3)


def test_assign_before_init_gives_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(2))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_buffer_reassignment_keeps_registration():
    m = Block()
    m.count = np.array([5], dtype=np.int64)
    assert isinstance(m.count, Tensor) and m.state_dict()["count"].tolist() == [5]
    with pytest.raises(KeyError):
        m.register_buffer("fc", np.zeros(1))


# ---------------------------------------------------------- swap and paths


def test_set_submodule_swaps_in_place_keeping_order():
    net = Net()
    new = nn.Linear(3, 4)
    net.set_submodule("blocks.0.fc", new)
    assert net.get_submodule("blocks.0.fc") is new
    assert [n for n, _ in net.named_parameters()][:3] == [
        "blocks.0.scale", "blocks.0.fc.weight", "blocks.0.fc.bias"]
    # the swapped module is the one that runs
    calls = []
    new.register_forward_hook(lambda mod, args, out: calls.append(out.shape))
    net(Tensor(np.ones((2, 3))))
    assert calls == [(2, 4)]
    # attribute re-assignment is the same swap, same position
    net.head = nn.Identity()
    assert list(net._modules) == ["blocks", "head"]


@pytest.mark.parametrize("path, message", [
    ("blocks.7", "no submodule '7'"),
    ("head.weight", "no submodule 'weight'"),
    ("nothing", "no submodule 'nothing'"),
])
def test_get_submodule_errors_name_the_missing_part(path, message):
    with pytest.raises(AttributeError, match=message):
        Net().get_submodule(path)


def test_set_submodule_errors():
    net = Net()
    with pytest.raises(TypeError):
        net.set_submodule("head", "not a module")
    with pytest.raises(AttributeError, match="no submodule 'missing'"):
        net.set_submodule("blocks.0.missing", nn.ReLU())
    with pytest.raises(ValueError):
        net.set_submodule("", nn.ReLU())


# ------------------------------------------------------------- mode, grads


def test_train_eval_propagate_to_every_descendant():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.blocks.train()
    assert net.blocks[1].fc.training and not net.training and not net.head.training


def test_zero_grad_sets_grads_to_none():
    net = Net()
    net(Tensor(np.ones((2, 3)))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_converts_in_place_and_keeps_objects():
    m = nn.Linear(3, 2)
    w = m.weight
    m.double()
    assert m.weight is w and w.dtype == np.float64
    assert m(Tensor(np.ones((1, 3)), dtype=np.float64)).dtype == np.float64
    m.float()
    assert w.dtype == np.float32


def test_requires_grad_freezes():
    m = nn.Linear(3, 2).requires_grad_(False)
    assert m.num_parameters(trainable_only=True) == 0
    assert not m(Tensor(np.ones((1, 3)))).requires_grad


def test_deepcopy_keeps_tying_and_values():
    import copy
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    clone = copy.deepcopy(model)
    assert clone[0] is clone[2] and clone[0] is not shared
    assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
    np.testing.assert_array_equal(clone[0].weight.data, shared.weight.data)


# ---------------------------------------------------------------- hooks


def test_forward_hooks_run_in_order_and_can_replace_values():
    m = nn.Linear(2, 2)
    log = []
    h1 = m.register_forward_pre_hook(lambda mod, args: log.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: log.append("post"))
    h3 = m.register_forward_hook(lambda mod, args, out: out * 0.0)
    y = m(Tensor(np.ones((1, 2))))
    assert log == ["pre", "post"] and np.all(y.data == 0)
    for h in (h1, h2, h3):
        h.remove()
    h1.remove()  # idempotent
    assert np.any(m(Tensor(np.ones((1, 2)))).data != 0) and log == ["pre", "post"]


def test_pre_hook_can_replace_arguments():
    m = nn.Identity()
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 2.0,))
    assert m(Tensor([1.0])).item() == 2.0


def test_global_hooks_see_every_module_with_paths():
    net = Net()
    names = {id(m): n for n, m in net.named_modules()}
    seen = []
    with nn.register_module_forward_hooks(
        pre=lambda mod, args: seen.append(("pre", names[id(mod)])),
        post=lambda mod, args, out: seen.append(("post", names[id(mod)])),
    ):
        net(Tensor(np.ones((2, 3))))
    assert seen[0] == ("pre", "") and seen[-1] == ("post", "")
    assert ("post", "blocks.1.fc") in seen and ("pre", "head") in seen
    n = len(seen)
    net(Tensor(np.ones((2, 3))))  # removed on exit of the with block
    assert len(seen) == n
    with pytest.raises(ValueError):
        nn.register_module_forward_hooks()
    with pytest.raises(TypeError):
        nn.Linear(1, 1).register_forward_hook(5)


# ------------------------------------------------------------------ repr


def test_repr_is_nested_like_pytorch():
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Sequential(nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=256, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.1)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.LayerNorm(8)) == "LayerNorm((8,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.Embedding(10, 3)) == "Embedding(10, 3)"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')"


# ----------------------------------------------------------- state dicts


def test_state_dict_round_trip_in_place():
    a, b = Net(), Net()
    a.blocks[0].count.data[0] = 7
    sd = a.state_dict()
    assert "blocks.0.count" in sd and "blocks.0.scratch" not in sd  # non-persistent
    w = b.head.weight
    w_array = w.data
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb and np.array_equal(pa.data, pb.data)
    assert b.head.weight is w and b.head.weight.data is w_array  # copied in place
    assert b.blocks[0].count.data[0] == 7
    # the state dict holds copies: changing it does not touch the model
    sd["head.bias"][:] = 123.0
    assert not np.any(a.head.bias.data == 123.0)


def test_load_keeps_dtype():
    m = nn.Linear(2, 2)
    m.load_state_dict({k: v.astype(np.float64) for k, v in m.state_dict().items()})
    assert m.weight.dtype == np.float32


def test_strict_errors_list_every_problem_at_once():
    m = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = m.state_dict()
    del sd["0.bias"]
    sd["extra.weight"] = np.zeros(1)
    sd["1.weight"] = np.zeros((2, 2))  # expected (out, in) = (1, 3)
    before = m[1].bias.data.copy()
    sd["1.bias"] = before + 1.0
    with pytest.raises(nn.StateDictError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "'0.bias'" in msg and "'extra.weight'" in msg and "'1.weight'" in msg
    assert "(1, 3)" in msg and "(2, 2)" in msg
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    assert info.value.missing_keys == ["0.bias"]
    assert info.value.unexpected_keys == ["extra.weight"]
    # nothing was written
    assert np.array_equal(m[1].bias.data, before)


def test_non_strict_reports_but_loads_and_shape_errors_still_raise():
    m = nn.Sequential(nn.Linear(2, 3))
    sd = {"0.weight": np.ones((3, 2)), "junk": np.zeros(1)}
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["junk"]
    assert np.all(m[0].weight.data == 1.0)
    with pytest.raises(ValueError, match="0.weight"):
        m.load_state_dict({"0.weight": np.ones((2, 3))}, strict=False)
    with pytest.raises(TypeError):
        m.load_state_dict([1, 2])


def test_state_keys_that_collide_with_savez_arguments_are_saved(tmp_path):
    m = nn.Module()
    m.file = nn.Parameter(np.arange(3.0))
    m.allow_pickle = nn.Parameter(np.ones(2))
    m.save(tmp_path / "odd.npz")
    with np.load(tmp_path / "odd.npz") as data:  # a standard .npz file
        assert sorted(data.files) == ["allow_pickle", "file"]
        np.testing.assert_array_equal(data["file"], [0.0, 1.0, 2.0])


def test_save_load_file_round_trip(tmp_path):
    a, b = Net(), Net()
    path = tmp_path / "model.npz"
    a.save(path)
    assert b.load(path) is b
    assert all(np.array_equal(x, y) for x, y in zip(a.state_dict().values(),
                                                     b.state_dict().values()))
    assert [f for f in os.listdir(tmp_path)] == ["model.npz"]  # no temp file left
    with pytest.raises(nn.StateDictError):
        nn.Linear(1, 1).load(path)
    with pytest.raises(FileNotFoundError):
        b.load(tmp_path / "missing.npz")


def test_interrupted_save_keeps_previous_file(tmp_path, monkeypatch):
    m = nn.Linear(3, 3)
    path = tmp_path / "ckpt.npz"
    m.save(path)
    original = path.read_bytes()

    written = []

    def failing_write_array(fh, array, **kwargs):
        if written:  # the first array is written, the second one crashes
            fh.write(b"partial garbage")
            raise OSError("disk full")
        written.append(array.shape)
        real_write_array(fh, array, **kwargs)

    real_write_array = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    m.weight.data[...] = 0.0
    with pytest.raises(OSError, match="disk full"):
        m.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    restored = nn.Linear(3, 3).load(path)
    assert np.any(restored.weight.data != 0.0)


def test_active_module_hooks_lists_and_forgets_global_hooks():
    from tinytorch.nn import active_module_hooks, register_module_forward_hooks

    def post(module, args, output):
        return None

    before = active_module_hooks()
    handle = register_module_forward_hooks(post=post)
    assert active_module_hooks()[1] == before[1] + (post,)
    handle.remove()
    assert active_module_hooks() == before


def test_module_hooks_return_the_stack_handle_class():
    from tinytorch.tensor import HookHandle

    m = nn.Linear(2, 2)
    handles = [
        m.register_forward_hook(lambda mod, args, out: None),
        m.register_forward_pre_hook(lambda mod, args: None),
        nn.register_module_forward_hooks(post=lambda mod, args, out: None),
    ]
    assert nn.RemovableHandle is HookHandle  # old name kept
    for handle in handles:
        assert type(handle) is HookHandle and handle.active
        with handle:
            pass
        assert not handle.active
        handle.remove()  # idempotent
    assert nn.active_module_hooks() == ((), ())


def test_has_forward_hooks_sees_own_hooks_only():
    m, other = nn.Linear(2, 2), nn.Linear(2, 2)
    assert not m.has_forward_hooks()
    pre = m.register_forward_pre_hook(lambda mod, args: None)
    assert m.has_forward_hooks() and not other.has_forward_hooks()
    pre.remove()
    post = m.register_forward_hook(lambda mod, args, out: None)
    assert m.has_forward_hooks()
    post.remove()
    glob = nn.register_module_forward_hooks(pre=lambda mod, args: None)
    assert not m.has_forward_hooks()  # global hooks are not the module's own
    glob.remove()


def test_fused_primitives_are_public_and_are_what_the_layers_run():
    from tinytorch.tensor import hooks

    seen = []
    with hooks(post=lambda op, inputs, out, params, saved: seen.append(op)):
        nn.LayerNorm(3)(np.ones((2, 3), np.float32))
        nn.Linear(3, 2)(np.ones((2, 3), np.float32))
    assert seen == [nn.LAYER_NORM, nn.LINEAR]


def test_a_bad_global_post_hook_registers_nothing():
    before = nn.active_module_hooks()
    with pytest.raises(TypeError, match="post hook must be callable"):
        nn.register_module_forward_hooks(pre=lambda mod, args: None, post=3)
    assert nn.active_module_hooks() == before
