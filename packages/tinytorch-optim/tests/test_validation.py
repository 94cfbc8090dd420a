"""One exception policy at the public boundary of tinytorch.optim.

A wrong type is a TypeError, a bad value a ValueError; the message names the
hyperparameter. One row per (call, exception, words that must appear).
"""

import numpy as np
import pytest

from tinytorch.nn import Parameter
from tinytorch.optim import SGD, Adam, AdamW, CosineSchedule, StepSchedule, clip_grad_norm
from tinytorch.tensor.testing import assert_raises


def _params():
    return [Parameter(np.zeros(3, np.float32))]


def _sgd():
    return SGD(_params(), lr=0.1)


ERRORS = [
    ("SGD str lr", lambda: SGD(_params(), lr="0.1"), TypeError, ["lr", "real number"]),
    ("SGD negative lr", lambda: SGD(_params(), lr=-0.1), ValueError, ["lr", "-0.1"]),
    ("SGD bool momentum", lambda: SGD(_params(), lr=0.1, momentum=True), TypeError,
     ["momentum"]),
    ("Adam beta 1", lambda: Adam(_params(), betas=(0.9, 1.0)), ValueError, ["beta2"]),
    ("Adam str betas", lambda: Adam(_params(), betas="0.9"), TypeError, ["betas"]),
    ("AdamW nan eps", lambda: AdamW(_params(), eps=float("nan")), ValueError, ["eps"]),
    ("StepSchedule float step", lambda: StepSchedule(_sgd(), 1.5), TypeError,
     ["step_size", "int"]),
    ("StepSchedule zero step", lambda: StepSchedule(_sgd(), 0), ValueError, ["step_size"]),
    ("CosineSchedule bool T_max", lambda: CosineSchedule(_sgd(), True), TypeError, ["T_max"]),
    ("clip str max_norm", lambda: clip_grad_norm(_params(), "1"), TypeError, ["max_norm"]),
    ("clip negative max_norm", lambda: clip_grad_norm(_params(), -1.0), ValueError,
     ["max_norm"]),
]


@pytest.mark.parametrize("desc, call, exc, words", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_arguments_raise_the_policy_exception(desc, call, exc, words):
    assert_raises(exc, call, words, desc=desc)
