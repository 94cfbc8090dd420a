"""SGD, Adam and AdamW against hand-computed steps; the Optimizer base:
parameter groups, validation, zero_grad, state_dict round trips."""

import numpy as np
import pytest

from tinytorch.optim import SGD, Adam, AdamW, Optimizer
from tinytorch.tensor import Tensor


def param(values, dtype=np.float64):
    return Tensor(np.array(values, dtype=dtype), dtype=dtype, requires_grad=True)


def set_grad(p, values):
    p.grad = Tensor(np.array(values, dtype=p.data.dtype), dtype=p.data.dtype)


def run(opt_factory, p0, grad, steps):
    """Apply ``steps`` updates with a constant gradient; return the parameter."""
    p = param(p0)
    opt = opt_factory([p])
    for _ in range(steps):
        set_grad(p, grad)
        opt.step()
    return p.data


# ------------------------------------------------------------------ hand steps
G = np.array([1.0, -2.0, 0.5])
P0 = np.array([0.3, 0.1, -1.0])

# (name, factory, steps, expected parameter): each expectation is worked out by
# hand from the update rule with a constant gradient G.
HAND_CASES = [
    # plain: p - steps * lr * g
    ("sgd", lambda ps: SGD(ps, lr=0.1), 3, P0 - 3 * 0.1 * G),
    # momentum 0.9: buffers g, 1.9g -> total 2.9g
    ("sgd-momentum", lambda ps: SGD(ps, lr=0.1, momentum=0.9), 2, P0 - 0.1 * 2.9 * G),
    # dampening 0.5: buffers g (first step undamped), 0.9g + 0.5g = 1.4g -> 2.4g
    ("sgd-dampening", lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.5), 2,
     P0 - 0.1 * 2.4 * G),
    # nesterov: d1 = g + 0.9g = 1.9g; buf2 = 1.9g, d2 = g + 0.9*1.9g = 2.71g -> 4.61g
    ("sgd-nesterov", lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True), 2,
     P0 - 0.1 * 4.61 * G),
    # Adam with a constant gradient: m_hat = g and v_hat = g^2 at every step, so
    # with eps = 0 each step moves by exactly lr * sign(g).
    ("adam", lambda ps: Adam(ps, lr=0.01, eps=0.0), 4, P0 - 4 * 0.01 * np.sign(G)),
    ("adam-betas", lambda ps: Adam(ps, lr=0.02, betas=(0.5, 0.7), eps=0.0), 3,
     P0 - 3 * 0.02 * np.sign(G)),
    ("adamw-no-decay", lambda ps: AdamW(ps, lr=0.01, eps=0.0, weight_decay=0.0), 4,
     P0 - 4 * 0.01 * np.sign(G)),
]


@pytest.mark.parametrize("name,factory,steps,expected", HAND_CASES, ids=[c[0] for c in HAND_CASES])
def test_hand_computed_steps(name, factory, steps, expected):
    np.testing.assert_allclose(run(factory, P0, G, steps), expected, rtol=1e-12, atol=1e-14)


def test_sgd_weight_decay_adds_l2_gradient():
    # zero loss gradient: d = wd * p, p <- p - lr * wd * p
    p = run(lambda ps: SGD(ps, lr=0.5, weight_decay=0.1), [2.0], [0.0], 2)
    np.testing.assert_allclose(p, [2.0 * 0.95 * 0.95], rtol=1e-14)


def test_adam_l2_versus_adamw_decoupled_decay():
    # Zero loss gradient, weight decay 0.1, lr 0.1.
    # Adam: the L2 gradient wd*p is normalised by sqrt(v_hat): the first step
    # moves by lr * sign(p) = 0.1, whatever wd is.
    p_adam = run(lambda ps: Adam(ps, lr=0.1, weight_decay=0.1, eps=0.0), [2.0], [0.0], 1)
    np.testing.assert_allclose(p_adam, [1.9], rtol=1e-14)
    # AdamW: p <- p * (1 - lr*wd) and m = v = 0 so the Adam part is 0:
    # the weight shrinks geometrically, 2 * 0.99^n.
    p_adamw = run(lambda ps: AdamW(ps, lr=0.1, weight_decay=0.1), [2.0], [0.0], 5)
    np.testing.assert_allclose(p_adamw, [2.0 * 0.99**5], rtol=1e-14)


def test_adam_two_steps_by_hand():
    # Scalar Adam written out for a changing gradient, weight decay in the gradient.
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-8, 0.05
    p = param([1.5])
    opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
    x, m, v = 1.5, 0.0, 0.0
    for t, g_loss in enumerate([0.4, -1.3], start=1):
        set_grad(p, [g_loss])
        opt.step()
        g = g_loss + wd * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(p.data, [x], rtol=1e-13)
    state = opt.state[p]
    assert state["step"] == 2
    np.testing.assert_allclose(state["exp_avg"], [m], rtol=1e-13)
    np.testing.assert_allclose(state["exp_avg_sq"], [v], rtol=1e-13)


@pytest.mark.parametrize("factory", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: Adam(ps, weight_decay=0.1),
    lambda ps: AdamW(ps),
])
def test_step_keeps_dtype_and_grad_untouched(factory):
    p = param([1.0, 2.0], dtype=np.float32)
    opt = factory([p])
    set_grad(p, [0.5, -0.5])
    grad_before = p.grad.data.copy()
    data_id = id(p.data)
    opt.step()
    assert p.data.dtype == np.float32
    assert id(p.data) == data_id  # updated in place
    np.testing.assert_array_equal(p.grad.data, grad_before)
    for value in opt.state[p].values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


def test_params_without_grad_are_skipped():
    a, b = param([1.0, 1.0]), param([5.0])
    opt = Adam([a, b], lr=0.1)
    set_grad(a, [1.0, -1.0])
    opt.step()
    np.testing.assert_array_equal(b.data, [5.0])
    assert b not in opt.state or not opt.state[b]
    assert opt.state[a]["step"] == 1


def test_real_backward_then_step():
    # grad of sum(w*w) is 2w
    w = param([1.0, -2.0])
    opt = SGD([w], lr=0.25)
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.data, [0.5, -1.0])


def test_closure_is_called_and_its_loss_returned():
    w = param([3.0])
    opt = SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(w.data, [3.0 - 0.1 * 6.0])


# ------------------------------------------------------------------- groups
def test_param_groups_override_defaults():
    a, b = param([1.0]), param([1.0])
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.9, "name": "head"}],
              lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0.0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0.9
    assert opt.param_groups[1]["name"] == "head"
    set_grad(a, [1.0])
    set_grad(b, [1.0])
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.5])


def test_add_param_group():
    a, b = param([1.0]), param([2.0])
    opt = Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.2})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_zero_grad():
    a = param([1.0, 2.0])
    opt = SGD([a], lr=0.1)
    set_grad(a, [3.0, 4.0])
    grad_array = a.grad.data
    opt.zero_grad(set_to_none=False)
    assert a.grad.data is grad_array
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.0])
    opt.zero_grad()
    assert a.grad is None


# -------------------------------------------------------------- validation
BAD_HYPERPARAMETERS = [
    (lambda ps: SGD(ps, lr=-0.1), ValueError, "lr"),
    (lambda ps: SGD(ps, lr=float("nan")), ValueError, "lr"),
    (lambda ps: SGD(ps, lr="0.1"), TypeError, "lr"),
    (lambda ps: SGD(ps), ValueError, "lr"),
    (lambda ps: SGD(ps, lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (lambda ps: SGD(ps, lr=0.1, dampening=-1), ValueError, "dampening"),
    (lambda ps: SGD(ps, lr=0.1, weight_decay=-1e-4), ValueError, "weight_decay"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), ValueError, "Nesterov"),
    (lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "Nesterov"),
    (lambda ps: Adam(ps, lr=-1e-3), ValueError, "lr"),
    (lambda ps: Adam(ps, betas=(1.0, 0.999)), ValueError, "beta1"),
    (lambda ps: Adam(ps, betas=(-0.1, 0.999)), ValueError, "beta1"),
    (lambda ps: Adam(ps, betas=(0.9, 1.5)), ValueError, "beta2"),
    (lambda ps: Adam(ps, betas=0.9), TypeError, "betas"),
    (lambda ps: Adam(ps, betas=(0.9, 0.99, 0.9)), TypeError, "betas"),
    (lambda ps: Adam(ps, eps=-1e-8), ValueError, "eps"),
    (lambda ps: AdamW(ps, weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda ps: Adam([{"params": ps, "lr": -1.0}]), ValueError, "lr"),  # per group too
]


@pytest.mark.parametrize("factory,exc,word", BAD_HYPERPARAMETERS)
def test_bad_hyperparameters(factory, exc, word):
    with pytest.raises(exc, match=word):
        factory([param([1.0])])


def test_edge_hyperparameters_are_accepted():
    SGD([param([1.0])], lr=0.0)
    Adam([param([1.0])], betas=(0.0, 0.0), eps=0.0)


BAD_PARAMS = [
    (lambda: param([1.0]), TypeError, "single Tensor"),
    (lambda: [], ValueError, "empty"),
    (lambda: 3, TypeError, "iterable"),
    (lambda: [np.zeros(3)], TypeError, "ndarray"),
    (lambda: [Tensor(np.arange(3))], TypeError, "floating-point"),
    (lambda: [param([1.0]) * 2], TypeError, "non-leaf"),
    (lambda: [{"lr": 0.1}], ValueError, "'params'"),
    (lambda: [{"params": []}], ValueError, "no parameters"),
    (lambda: [{"params": {param([1.0])}}], TypeError, "set"),
]


@pytest.mark.parametrize("make,exc,word", BAD_PARAMS)
def test_bad_params(make, exc, word):
    with pytest.raises(exc, match=word):
        SGD(make(), lr=0.1)


def test_duplicate_parameter_rejected():
    p = param([1.0])
    with pytest.raises(ValueError, match="more than one"):
        SGD([p, p], lr=0.1)


# -------------------------------------------------------------- state dicts
OPTIMIZERS = {
    "sgd-momentum": lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "adam": lambda ps: Adam(ps, lr=0.01, weight_decay=0.01),
    "adamw": lambda ps: AdamW(ps, lr=0.01, betas=(0.8, 0.95)),
}


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    return [param(rng.normal(size=(3, 2))), param(rng.normal(size=(4,)))]


def apply_steps(opt, params, grads):
    for g in grads:
        for p, gi in zip(params, g):
            set_grad(p, gi)
        opt.step()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_dict_round_trip_resumes_exactly(name):
    rng = np.random.default_rng(1)
    grads = [[rng.normal(size=(3, 2)), rng.normal(size=(4,))] for _ in range(6)]
    # uninterrupted
    ref = make_params()
    opt = OPTIMIZERS[name](ref)
    apply_steps(opt, ref, grads)
    # three steps, snapshot, then a fresh optimizer over copies of the parameters
    first = make_params()
    opt1 = OPTIMIZERS[name](first)
    apply_steps(opt1, first, grads[:3])
    snapshot = opt1.state_dict()
    second = [param(p.data.copy()) for p in first]
    apply_steps(opt1, first, grads[3:4])  # the snapshot must not follow later steps
    opt2 = OPTIMIZERS[name](second)
    opt2.param_groups[0]["lr"] = 123.0  # overwritten by the load
    opt2.load_state_dict(snapshot)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    apply_steps(opt2, second, grads[3:])
    for a, b in zip(ref, second):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_layout_and_copies():
    ps = make_params()
    opt = Adam(ps, lr=0.01)
    apply_steps(opt, ps, [[np.ones((3, 2)), np.ones(4)]])
    sd = opt.state_dict()
    assert sd["param_groups"] == [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
                                   "weight_decay": 0.0, "params": [0, 1]}]
    assert set(sd["state"]) == {0, 1}
    assert sd["state"][0]["step"] == 1
    assert sd["state"][0]["exp_avg"] is not opt.state[ps[0]]["exp_avg"]


def load_error(opt, sd):
    before = opt.state_dict()
    with pytest.raises((ValueError, KeyError, TypeError)) as info:
        opt.load_state_dict(sd)
    after = opt.state_dict()  # nothing changed
    assert before["param_groups"] == after["param_groups"]
    for k in before["state"]:
        for key, v in before["state"][k].items():
            np.testing.assert_array_equal(v, after["state"][k][key])
    return str(info.value)


def test_load_state_dict_validation():
    ps = make_params()
    opt = Adam(ps, lr=0.01)
    apply_steps(opt, ps, [[np.ones((3, 2)), np.ones(4)]])
    good = opt.state_dict()

    fewer = Adam([param(np.zeros((3, 2)))], lr=0.01)
    msg = load_error(fewer, good)
    assert "2 parameter(s)" in msg and "has 1" in msg

    bad_shape = Adam([param(np.zeros((2, 3))), param(np.zeros(4))], lr=0.01)
    msg = load_error(bad_shape, good)
    assert "(3, 2)" in msg and "(2, 3)" in msg

    two_groups = Adam([{"params": [param(np.zeros((3, 2)))]}, {"params": [param(np.zeros(4))]}])
    assert "group" in load_error(two_groups, good)

    sgd = SGD(make_params(), lr=0.1, momentum=0.9)
    assert "keys" in load_error(sgd, good)  # Adam state into SGD

    assert "missing" in load_error(Adam(make_params()), {"state": {}})
    bad_index = {"state": {7: good["state"][0]}, "param_groups": good["param_groups"]}
    assert "7" in load_error(Adam(make_params()), bad_index)
    bad_lr = {"state": {}, "param_groups": [dict(good["param_groups"][0], lr=-1.0)]}
    assert "lr" in load_error(Adam(make_params()), bad_lr)


def test_repr_lists_groups():
    text = repr(SGD(make_params(), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


def test_base_class_needs_update():
    opt = Optimizer([param([1.0])], {"lr": 0.1})
    opt.param_groups[0]["params"][0].grad = Tensor(np.array([1.0]))
    with pytest.raises(NotImplementedError):
        opt.step()
