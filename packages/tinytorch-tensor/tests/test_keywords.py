"""PyTorch's keywords (dim=, keepdim=) and their NumPy aliases (axis=, keepdims=).

Every dim-taking op accepts both spellings, as a function and as a Tensor
method, with the same result; giving a keyword together with its alias is a
TypeError that names both.
"""

import numpy as np
import pytest

import tinytorch.tensor as tt
from tinytorch.tensor import Tensor

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 4)).astype(np.float32)

# name, tinytorch function, NumPy reference (axis, keepdims)
REDUCTIONS = [
    ("sum", tt.sum, lambda a, d, k: a.sum(axis=d, keepdims=k)),
    ("mean", tt.mean, lambda a, d, k: a.mean(axis=d, keepdims=k)),
    ("max", tt.max, lambda a, d, k: a.max(axis=d, keepdims=k)),
    ("min", tt.min, lambda a, d, k: a.min(axis=d, keepdims=k)),
    ("var", tt.var, lambda a, d, k: a.var(axis=d, keepdims=k, ddof=1)),
    ("std", tt.std, lambda a, d, k: a.std(axis=d, keepdims=k, ddof=1)),
    ("argmax", tt.argmax, lambda a, d, k: a.argmax(axis=d, keepdims=k)),
    ("argmin", tt.argmin, lambda a, d, k: a.argmin(axis=d, keepdims=k)),
]
DIMS = [0, -1, (0, 2), None]


def _dims_for(name):
    # argmax / argmin take one dim (or None), as in PyTorch.
    return [d for d in DIMS if not (name.startswith("arg") and isinstance(d, tuple))]


@pytest.mark.parametrize("name, fn, ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reductions_take_dim_keepdim_and_the_aliases(name, fn, ref):
    x = Tensor(X)
    for d in _dims_for(name):
        for k in (False, True):
            want = ref(X, d, k)
            spellings = [
                fn(x, dim=d, keepdim=k),
                fn(x, axis=d, keepdims=k),
                fn(x, dim=d, keepdims=k),
                fn(x, axis=d, keepdim=k),
                getattr(x, name)(dim=d, keepdim=k),
                getattr(x, name)(axis=d, keepdims=k),
                fn(x, d, k),
            ]
            for got in spellings:
                assert got.shape == want.shape, (name, d, k)
                np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, fn, ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_a_keyword_and_its_alias_together_is_a_type_error(name, fn, ref):
    x = Tensor(X)
    with pytest.raises(TypeError, match=r"both dim=0 and axis=1"):
        fn(x, dim=0, axis=1)
    with pytest.raises(TypeError, match=r"both dim=0 and axis=1"):
        getattr(x, name)(dim=0, axis=1)
    with pytest.raises(TypeError, match=r"both keepdim=True and keepdims=True"):
        fn(x, dim=0, keepdim=True, keepdims=True)


@pytest.mark.parametrize("keepdim", [1, "yes", None, 1.0])
def test_keepdim_must_be_a_bool(keepdim):
    with pytest.raises(TypeError, match="keepdim must be a bool"):
        tt.sum(Tensor(X), dim=0, keepdim=keepdim)


def test_keepdim_accepts_numpy_bools():
    assert tt.sum(Tensor(X), dim=0, keepdim=np.bool_(True)).shape == (1, 3, 4)


def test_out_of_range_messages_use_the_callers_keyword():
    with pytest.raises(IndexError, match="dim 3 is out of range"):
        Tensor(X).sum(dim=3)
    with pytest.raises(IndexError, match="axis 3 is out of range"):
        Tensor(X).sum(axis=3)


# ---- var / std: correction=, unbiased= (as PyTorch)

@pytest.mark.parametrize("kwargs, ddof", [
    ({}, 1),
    ({"correction": 0}, 0),
    ({"correction": 2}, 2),
    ({"unbiased": True}, 1),
    ({"unbiased": False}, 0),
], ids=["default", "correction=0", "correction=2", "unbiased=True", "unbiased=False"])
@pytest.mark.parametrize("fn, ref", [(tt.var, np.var), (tt.std, np.std)], ids=["var", "std"])
def test_var_std_correction_and_unbiased(fn, ref, kwargs, ddof):
    got = fn(Tensor(X), dim=1, **kwargs)
    np.testing.assert_allclose(got.numpy(), ref(X, axis=1, ddof=ddof), rtol=1e-5)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"correction": 1, "unbiased": True}, TypeError, ["correction=1", "unbiased=True"]),
    ({"correction": 1.5}, TypeError, ["correction must be an int"]),
    ({"correction": -1}, ValueError, ["correction must be >= 0"]),
    ({"unbiased": 1}, TypeError, ["unbiased must be a bool"]),
])
@pytest.mark.parametrize("fn", [tt.var, tt.std], ids=["var", "std"])
def test_var_std_bad_corrections(fn, kwargs, exc, words):
    with pytest.raises(exc) as info:
        fn(Tensor(X), **kwargs)
    for w in words:
        assert w in str(info.value)


# ---- ops with one dim: softmax family, cat / stack / split, squeeze / unsqueeze

ONE_DIM = [
    ("softmax", lambda x, **kw: tt.softmax(x, **kw), -1, 1),
    ("log_softmax", lambda x, **kw: tt.log_softmax(x, **kw), -1, 1),
    ("Tensor.softmax", lambda x, **kw: x.softmax(**kw), -1, 1),
    ("Tensor.log_softmax", lambda x, **kw: x.log_softmax(**kw), -1, 1),
    ("cat", lambda x, **kw: tt.cat([x, x], **kw), 0, 2),
    ("concat", lambda x, **kw: tt.concat([x, x], **kw), 0, 2),
    ("stack", lambda x, **kw: tt.stack([x, x], **kw), 0, 2),
    ("split", lambda x, **kw: tt.concat(tt.split(x, 1, **kw), **kw), 0, 1),
    ("Tensor.split", lambda x, **kw: tt.concat(x.split(1, **kw), **kw), 0, 1),
    ("unsqueeze", lambda x, **kw: tt.unsqueeze(x, **kw), None, 1),
    ("Tensor.unsqueeze", lambda x, **kw: x.unsqueeze(**kw), None, 1),
    ("squeeze", lambda x, **kw: tt.squeeze(tt.unsqueeze(x, 1), **kw), None, 1),
    ("Tensor.squeeze", lambda x, **kw: tt.unsqueeze(x, 1).squeeze(**kw), None, 1),
]


@pytest.mark.parametrize("name, call, default, d", ONE_DIM, ids=[c[0] for c in ONE_DIM])
def test_dim_and_axis_give_the_same_result(name, call, default, d):
    x = Tensor(X)
    by_dim, by_axis = call(x, dim=d), call(x, axis=d)
    assert by_dim.shape == by_axis.shape
    np.testing.assert_array_equal(by_dim.numpy(), by_axis.numpy())


@pytest.mark.parametrize("name, call, default, d", ONE_DIM, ids=[c[0] for c in ONE_DIM])
def test_dim_and_axis_together_is_a_type_error(name, call, default, d):
    other = 2 if d != 2 else 0
    with pytest.raises(TypeError, match=rf"both dim={other} and axis={d}"):
        call(Tensor(X), dim=other, axis=d)


def test_unsqueeze_without_a_dim_is_a_type_error():
    with pytest.raises(TypeError, match="missing the dim"):
        tt.unsqueeze(Tensor(X))


@pytest.mark.parametrize("call, words", [
    (lambda x: x.transpose(0, 3), ["dim1 3", "out of range"]),
    (lambda x: x.transpose("a", 1), ["dim0 must be an int"]),
    (lambda x: x.flatten(5), ["start_dim 5"]),
    (lambda x: x.flatten(0, 1.0), ["end_dim must be an int"]),
])
def test_named_dims_are_named_in_errors(call, words):
    with pytest.raises((TypeError, IndexError)) as info:
        call(Tensor(X))
    for w in words:
        assert w in str(info.value)
