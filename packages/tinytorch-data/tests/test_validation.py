"""One exception policy and one random-source keyword in tinytorch.data.

A wrong type is a TypeError, a bad value a ValueError; the message names the
class or function and the argument. ``generator=`` is the random source of
every shuffling or augmenting object; ``seed=`` / ``rng=`` are deprecated
aliases that warn and give the same draws.
"""

import numpy as np
import pytest

from tinytorch.data import DataLoader, RandomCrop, RandomHorizontalFlip, TensorDataset, random_split
from tinytorch.tensor import Generator
from tinytorch.tensor.testing import assert_raises

DS = TensorDataset(np.arange(20))

ERRORS = [
    ("DataLoader float batch", lambda: DataLoader(DS, batch_size=2.0), TypeError,
     ["DataLoader", "batch_size", "int"]),
    ("DataLoader zero batch", lambda: DataLoader(DS, batch_size=0), ValueError,
     ["DataLoader", "batch_size", ">= 1"]),
    ("DataLoader int generator", lambda: DataLoader(DS, generator=3), TypeError,
     ["DataLoader", "generator"]),
    ("DataLoader generator and seed", lambda: DataLoader(DS, seed=1, generator=Generator(1)),
     TypeError, ["generator=", "seed="]),
    ("DataLoader negative seed", lambda: DataLoader(DS, seed=-1), ValueError, ["seed"]),
    ("random_split list generator", lambda: random_split(DS, [10, 10], generator=[1]),
     TypeError, ["random_split", "generator"]),
    ("random_split generator and seed", lambda: random_split(
        DS, [10, 10], seed=0, generator=Generator(0)), TypeError, ["generator=", "seed="]),
    ("flip str p", lambda: RandomHorizontalFlip(p="0.5"), TypeError,
     ["RandomHorizontalFlip", "p"]),
    ("flip p > 1", lambda: RandomHorizontalFlip(p=1.5), ValueError, ["RandomHorizontalFlip", "p"]),
    ("flip seed and rng", lambda: RandomHorizontalFlip(seed=1, rng=np.random.default_rng()),
     TypeError, ["seed=", "rng="]),
    ("crop float size", lambda: RandomCrop(2.5), TypeError, ["RandomCrop", "size"]),
    ("crop zero size", lambda: RandomCrop(0), ValueError, ["RandomCrop", "size"]),
    ("crop float padding", lambda: RandomCrop(2, padding=1.0), TypeError, ["padding", "int"]),
    ("crop negative padding", lambda: RandomCrop(2, padding=-1), ValueError, ["padding"]),
]


@pytest.mark.parametrize("desc, call, exc, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_raise_the_policy_exception(desc, call, exc, words):
    # a case may spell a deprecated alias on purpose: its warning is not the point
    assert_raises(exc, call, words, desc=desc, ignore=[DeprecationWarning])


def _flips(flip):
    img = np.arange(6.0).reshape(1, 6, 1)  # HWC: a flip reverses the row
    return [flip(img)[0, 0, 0] for _ in range(20)]


def _order(loader):
    return np.concatenate([b[0].numpy() for b in loader])


@pytest.mark.parametrize("make", [
    lambda **kw: _order(DataLoader(DS, batch_size=3, shuffle=True, **kw)),
    lambda **kw: np.concatenate([p.indices for p in random_split(DS, [7, 13], **kw)]),
    lambda **kw: _flips(RandomHorizontalFlip(**kw)),
], ids=["DataLoader", "random_split", "RandomHorizontalFlip"])
def test_deprecated_seed_warns_and_matches_generator(make):
    new = make(generator=Generator(4))
    with pytest.warns(DeprecationWarning, match="generator="):
        old = make(seed=4)
    np.testing.assert_array_equal(old, new)


def test_none_draws_from_the_default_generator():
    from tinytorch.tensor import manual_seed
    manual_seed(9)
    a = _order(DataLoader(DS, batch_size=4, shuffle=True))
    manual_seed(9)
    b = _order(DataLoader(DS, batch_size=4, shuffle=True))
    np.testing.assert_array_equal(a, b)
