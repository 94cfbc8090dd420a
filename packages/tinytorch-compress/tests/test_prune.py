"""Unstructured magnitude pruning: masks, persistence under every optimizer,
removal, the gradual schedule and the errors at the boundary."""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.autograd import gradcheck
from tinytorch.compress import (
    GradualPruning,
    MaskedConv2d,
    MaskedLinear,
    cubic_sparsity,
    magnitude_prune,
    measure_sparsity,
    remove_pruning,
)
from tinytorch.optim import SGD, Adam, AdamW, StepSchedule, Trainer
from tinytorch.tensor import Tensor, manual_seed


def mlp():
    manual_seed(0)
    return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 5))


def batches(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [(Tensor(rng.standard_normal((8, 6)).astype(np.float32)),
             rng.integers(0, 5, 8)) for _ in range(n)]


def test_measure_sparsity_counts_zeros_and_bytes():
    model = mlp()
    model[0].weight.data[:3] = 0.0          # 3 rows of 6 -> 18 zeros
    model[2].bias.data[:] = 0.0             # 5 zeros
    report = measure_sparsity(model)
    assert [r.name for r in report.layers] == ["0", "2"]
    assert report.layers[0].zeros == 18 and report.layers[0].elements == 6 * 12 + 12
    assert report.layers[1].zeros == 5 and report.layers[1].elements == 12 * 5 + 5
    assert report.zeros == 23 and report.elements == 84 + 65
    assert report.bytes == 4 * (84 + 65)
    # weight: 54 nonzeros + a 72-bit mask; bias: dense (a mask would not pay)
    assert report.layers[0].sparse_bytes == (4 * 54 + 9) + 4 * 12
    assert "total" in str(report)


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.9])
def test_layer_scope_prunes_the_smallest_of_each_layer(amount):
    model = mlp()
    pruned = magnitude_prune(model, amount, scope="layer")
    for i in (0, 2):
        w = model[i].weight.data
        layer = pruned[i]
        assert isinstance(layer, MaskedLinear)
        keep = layer.mask()
        assert (~keep).sum() == round(amount * w.size)
        if 0 < amount:
            assert np.abs(w[keep]).min() >= np.abs(w[~keep]).max()
        np.testing.assert_array_equal(layer.effective_weight(), w * keep)
    # the input model is untouched
    assert isinstance(model[0], nn.Linear) and np.count_nonzero(model[0].weight.data) == 72


def test_global_scope_uses_one_threshold():
    model = mlp()
    model[2].weight.data *= 10.0  # the second layer is much larger: it keeps more
    pruned = magnitude_prune(model, 0.6, scope="global")
    kept = np.concatenate([np.abs(pruned[i].weight_orig.data[pruned[i].mask()]) for i in (0, 2)])
    gone = np.concatenate([np.abs(pruned[i].weight_orig.data[~pruned[i].mask()]) for i in (0, 2)])
    assert gone.size == round(0.6 * (72 + 60))
    assert kept.min() >= gone.max()
    assert (~pruned[0].mask()).mean() > (~pruned[2].mask()).mean()


def test_parameters_selects_layers():
    pruned = magnitude_prune(mlp(), 0.5, parameters=["2.weight"])
    assert isinstance(pruned[0], nn.Linear) and isinstance(pruned[2], MaskedLinear)


def test_forward_and_gradient_of_a_masked_linear():
    manual_seed(1)
    layer = nn.Linear(4, 3).double()
    masked = magnitude_prune(nn.Sequential(layer), 0.5)[0]
    x = Tensor(np.random.default_rng(0).standard_normal((5, 4)))
    ref = x.data @ (masked.weight_orig.data * masked.weight_mask.data).T + masked.bias.data
    np.testing.assert_allclose(masked(x).data, ref)
    assert gradcheck(lambda w, b: nn.functional.linear(x, w * masked.weight_mask, b),
                     [masked.weight_orig, masked.bias])
    masked(x).sum().backward()
    assert np.all(masked.weight_orig.grad.data[~masked.mask()] == 0.0)


def test_masked_conv2d_matches_conv_with_masked_weight():
    manual_seed(2)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1))
    pruned = magnitude_prune(model, 0.7)
    assert isinstance(pruned[0], MaskedConv2d)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 2, 5, 5)).astype(np.float32))
    ref = nn.functional.conv2d(x, Tensor(pruned[0].effective_weight()), pruned[0].bias, 1, 1)
    np.testing.assert_allclose(pruned[0](x).data, ref.data, rtol=1e-6)


OPTIMIZERS = {
    "sgd": lambda p: SGD(p, lr=0.1),
    "sgd-momentum": lambda p: SGD(p, lr=0.1, momentum=0.9),
    "sgd-momentum-wd": lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "adam": lambda p: Adam(p, lr=0.01),
    "adamw": lambda p: AdamW(p, lr=0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_no_optimizer_revives_a_pruned_weight(name):
    model = mlp()
    opt = OPTIMIZERS[name](list(model.parameters()))
    loss_fn = nn.CrossEntropyLoss()
    # Steps before pruning fill the momentum / Adam moments of every weight,
    # so the pruned ones would move on the next steps if nothing masked them.
    for x, y in batches(3):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    magnitude_prune(model, 0.6, scope="global", inplace=True)
    pruned = [model[0], model[2]]
    masks = [m.mask().copy() for m in pruned]
    before = [m.weight_orig.data.copy() for m in pruned]
    for x, y in batches(6, seed=1):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    for m, keep, old in zip(pruned, masks, before):
        np.testing.assert_array_equal(m.mask(), keep)
        assert np.all(m.effective_weight()[~keep] == 0.0)
        assert not np.allclose(m.weight_orig.data[keep], old[keep])  # the rest trained
    assert measure_sparsity(remove_pruning(model)).layers[0].zeros >= (~masks[0]).sum()


def test_remove_pruning_gives_plain_layers_with_the_same_outputs():
    pruned = magnitude_prune(mlp(), 0.5)
    x = batches(1)[0][0]
    plain = remove_pruning(pruned)
    assert type(plain[0]) is nn.Linear and type(plain[2]) is nn.Linear
    np.testing.assert_array_equal(plain(x).data, pruned(x).data)
    assert (plain[0].weight.data == 0).sum() == 36
    assert isinstance(pruned[0], MaskedLinear)  # not inplace: the input stays masked


def test_masked_model_saves_and_loads(tmp_path):
    pruned = magnitude_prune(mlp(), 0.5)
    pruned.save(tmp_path / "m.npz")
    other = magnitude_prune(mlp(), 0.1)
    other.load(tmp_path / "m.npz")
    x = batches(1)[0][0]
    np.testing.assert_array_equal(other(x).data, pruned(x).data)
    np.testing.assert_array_equal(other[0].mask(), pruned[0].mask())


def test_pruning_again_keeps_the_old_zeros():
    once = magnitude_prune(mlp(), 0.3)
    old = once[0].mask().copy()
    twice = magnitude_prune(once, 0.6)
    assert (~twice[0].mask()).sum() == round(0.6 * 72)
    assert not np.any(twice[0].mask() & ~old)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(amount=1.0), ValueError, "amount"),
    (dict(amount=-0.1), ValueError, "amount"),
    (dict(amount=1.5), ValueError, "amount"),
    (dict(amount="0.5"), TypeError, "amount"),
    (dict(amount=True), TypeError, "amount"),
    (dict(amount=0.5, scope="row"), ValueError, "scope"),
    (dict(amount=0.5, parameters=["1.weight"]), ValueError, "not the weight"),
    (dict(amount=0.5, parameters=["0.weight", "0.weight"]), ValueError, "twice"),
    (dict(amount=0.5, parameters="0.weight"), TypeError, "list"),
])
def test_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        magnitude_prune(mlp(), **kwargs)


def test_conflicting_masks_and_non_modules():
    once = magnitude_prune(mlp(), 0.6)
    with pytest.raises(ValueError, match="conflicting"):
        magnitude_prune(once, 0.3)
    with pytest.raises(TypeError, match="Module"):
        magnitude_prune(np.zeros(3), 0.5)
    with pytest.raises(TypeError, match="Module"):
        measure_sparsity([1, 2])


@pytest.mark.parametrize("step, expected", [
    (0, 0.0), (10, 0.0), (20, 0.9 * (1 - 0.5 ** 3)), (30, 0.9), (50, 0.9),
])
def test_cubic_sparsity(step, expected):
    assert cubic_sparsity(step, 0.9, 10, 30) == pytest.approx(expected)


def test_gradual_pruning_through_the_trainer():
    model = mlp()
    opt = SGD(list(model.parameters()), lr=0.05, momentum=0.9)
    lr = StepSchedule(opt, step_size=5, gamma=0.5)
    pruner = GradualPruning(model, 0.8, begin_step=2, end_step=10, frequency=2,
                            lr_scheduler=lr)
    seen = []

    def track(outputs, targets):
        seen.append(measure_sparsity(model).layers[0].sparsity)
        return nn.functional.cross_entropy(outputs, targets)

    Trainer(model, opt, track, scheduler=pruner, progress=False).fit(batches(4), epochs=3)
    assert pruner.step_count == 12
    report = measure_sparsity(model)
    weights = sum(m.weight_orig.data.size for m in (model[0], model[2]))
    zeros = sum((~m.mask()).sum() for m in (model[0], model[2]))
    assert zeros == round(0.8 * weights)
    assert report.zeros >= zeros
    assert all(b >= a for a, b in zip(seen, seen[1:]))  # sparsity only grows
    assert seen[0] == 0.0 and seen[-1] > 0.5
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 0.5 ** 2)
    assert pruner.state_dict()["lr_scheduler"] == lr.state_dict()


@pytest.mark.parametrize("kwargs", [
    dict(final_sparsity=1.0, begin_step=0, end_step=5),
    dict(final_sparsity=0.5, begin_step=5, end_step=5),
    dict(final_sparsity=0.5, begin_step=0, end_step=5, frequency=0),
    dict(final_sparsity=0.5, begin_step=0, end_step=5, initial_sparsity=0.6),
])
def test_gradual_pruning_bad_input(kwargs):
    with pytest.raises(ValueError):
        GradualPruning(mlp(), **kwargs)
