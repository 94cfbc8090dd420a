"""One exception policy at the public boundary of tinytorch.nn.

A wrong type is a TypeError, a bad value a ValueError (a dim out of range an
IndexError, as in Python); the message names the layer or function and the
argument. One row per (call, exception, words that must appear).
"""

import numpy as np
import pytest

from tinytorch import nn
from tinytorch.nn import functional as F
from tinytorch.nn import init
from tinytorch.tensor import Generator, Tensor
from tinytorch.tensor.testing import assert_raises

X = Tensor(np.ones((2, 4), np.float32))
IMG = Tensor(np.ones((1, 3, 6, 6), np.float32))

ERRORS = [
    # sizes: int type, positive value
    ("Linear float size", lambda: nn.Linear(4.0, 3), TypeError, ["Linear", "in_features", "int"]),
    ("Linear bool size", lambda: nn.Linear(True, 3), TypeError, ["Linear", "in_features"]),
    ("Linear zero size", lambda: nn.Linear(4, 0), ValueError, ["Linear", "out_features"]),
    ("Linear int dtype", lambda: nn.Linear(4, 3, dtype="int64"), TypeError, ["floating point"]),
    ("Conv2d str channels", lambda: nn.Conv2d("3", 4, 3), TypeError, ["Conv2d", "in_channels"]),
    ("Conv2d zero channels", lambda: nn.Conv2d(3, 0, 3), ValueError, ["Conv2d", "out_channels"]),
    ("Conv2d float kernel", lambda: nn.Conv2d(3, 4, 2.5), TypeError, ["Conv2d", "kernel_size"]),
    ("Conv2d zero stride", lambda: nn.Conv2d(3, 4, 3, stride=0), ValueError, ["stride", ">= 1"]),
    ("conv2d str padding", lambda: F.conv2d(IMG, Tensor(np.ones((4, 3, 3, 3))), padding="same"),
     TypeError, ["conv2d", "padding"]),
    ("MaxPool2d zero kernel", lambda: nn.MaxPool2d(0), ValueError, ["kernel_size"]),
    ("Embedding float dim", lambda: nn.Embedding(10, 2.0), TypeError, ["embedding_dim"]),
    ("Embedding zero rows", lambda: nn.Embedding(0, 2), ValueError, ["num_embeddings"]),
    ("BatchNorm2d zero", lambda: nn.BatchNorm2d(0), ValueError, ["num_features"]),
    ("BatchNorm2d str eps", lambda: nn.BatchNorm2d(3, eps="1e-5"), TypeError, ["eps"]),
    ("BatchNorm2d momentum", lambda: nn.BatchNorm2d(3, momentum=2.0), ValueError, ["momentum"]),
    ("LayerNorm zero eps", lambda: nn.LayerNorm(4, eps=0.0), ValueError, ["LayerNorm", "eps"]),
    ("LayerNorm str eps", lambda: nn.LayerNorm(4, eps="small"), TypeError, ["LayerNorm", "eps"]),
    ("LayerNorm bad shape", lambda: nn.LayerNorm("4"), TypeError, ["normalized_shape"]),
    # probabilities: a number, in [0, 1]
    ("Dropout str p", lambda: nn.Dropout("0.5"), TypeError, ["Dropout", "p", "probability"]),
    ("Dropout p > 1", lambda: nn.Dropout(1.5), ValueError, ["Dropout", "[0, 1]"]),
    ("dropout bool p", lambda: F.dropout(X, True), TypeError, ["dropout", "p"]),
    ("dropout p < 0", lambda: F.dropout(X, -0.1), ValueError, ["dropout", "[0, 1]"]),
    # random sources
    ("Dropout int generator", lambda: nn.Dropout(0.5, generator=3), TypeError,
     ["Dropout", "generator"]),
    ("dropout int generator", lambda: F.dropout(X, 0.5, generator=3), TypeError,
     ["dropout", "generator"]),
    ("init int generator", lambda: init.normal_(nn.Parameter(np.zeros(3, np.float32)),
                                                generator=1), TypeError, ["init", "generator"]),
    ("Dropout generator and seed", lambda: nn.Dropout(0.5, seed=1, generator=Generator(1)),
     TypeError, ["generator=", "seed="]),
    ("dropout generator and rng", lambda: F.dropout(X, 0.5, generator=Generator(1),
                                                    rng=Generator(2)), TypeError,
     ["generator=", "rng="]),
    # dims
    ("softmax dim and axis", lambda: F.softmax(X, 0, axis=1), TypeError, ["dim=0", "axis=1"]),
    ("log_softmax str dim", lambda: F.log_softmax(X, "last"), TypeError, ["dim", "int"]),
    ("softmax dim range", lambda: F.softmax(X, dim=2), IndexError, ["dim 2", "out of range"]),
    # other
    ("cross_entropy reduction", lambda: F.cross_entropy(X, np.zeros(2, int), reduction="avg"),
     ValueError, ["reduction"]),
    ("cross_entropy float target", lambda: F.cross_entropy(X, np.zeros(2)), TypeError,
     ["target", "integers"]),
]


@pytest.mark.parametrize("desc, call, exc, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_raise_the_policy_exception(desc, call, exc, words):
    # a case may spell a deprecated alias on purpose: its warning is not the point
    assert_raises(exc, call, words, desc=desc, ignore=[DeprecationWarning])


def test_deprecated_random_keywords_warn_and_still_work():
    x = Tensor(np.ones((50,), np.float32))
    with pytest.warns(DeprecationWarning, match="generator"):
        old = nn.Dropout(0.5, seed=7)(x).data
    new = nn.Dropout(0.5, generator=Generator(7))(x).data
    np.testing.assert_array_equal(old, new)
    with pytest.warns(DeprecationWarning, match="generator"):
        old = F.dropout(x, 0.5, rng=Generator(3)).data
    np.testing.assert_array_equal(old, F.dropout(x, 0.5, generator=Generator(3)).data)


def test_generator_accepts_numpy_generators():
    x = Tensor(np.ones((50,), np.float32))
    a = F.dropout(x, 0.5, generator=np.random.default_rng(1)).data
    b = F.dropout(x, 0.5, generator=np.random.default_rng(1)).data
    np.testing.assert_array_equal(a, b)
