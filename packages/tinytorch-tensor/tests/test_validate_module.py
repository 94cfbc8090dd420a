"""The public checks of tinytorch.tensor.validate: one row per (call, exception, message)."""

import sys
import warnings

import numpy as np
import pytest

from tinytorch.tensor import deprecated_alias
from tinytorch.tensor import validate as V

ERRORS = [
    (lambda: V.check_int(2.0, "size", "f"), TypeError, "f: size must be an int, got float 2.0"),
    (lambda: V.check_int(True, "size", "f"), TypeError, "size must be an int, got bool True"),
    (lambda: V.check_int(0, "size", "f", 1), ValueError, "f: size must be >= 1, got 0"),
    (lambda: V.check_int("3", "n"), TypeError, "n must be an int, got str '3'"),
    (lambda: V.check_positive_int(0, "out_features", "Linear"), ValueError,
     "Linear: out_features must be a positive int, got 0"),
    (lambda: V.check_positive_int(1.5, "d", "g"), TypeError, "g: d must be a positive int"),
    (lambda: V.check_bool(1, "keepdim", "sum"), TypeError, "sum: keepdim must be a bool"),
    (lambda: V.check_real("1e-5", "eps", "LayerNorm"), TypeError,
     "LayerNorm: eps must be a number, got str '1e-5'"),
    (lambda: V.check_real(False, "eps"), TypeError, "eps must be a number, got bool"),
    (lambda: V.check_probability("0.5", "p", "Dropout"), TypeError,
     "Dropout: p must be a probability (a float), got str"),
    (lambda: V.check_probability(1.5, "p", "Dropout"), ValueError,
     "p must be a probability in [0, 1], got 1.5"),
    (lambda: V.check_probability(1.0, "dropout", "GPT", allow_one=False), ValueError,
     "GPT: dropout must be a probability in [0, 1), got 1.0"),
    (lambda: V.check_probability(float("nan"), "p"), ValueError, "p must be a probability"),
    (lambda: deprecated_alias(1, 2, "generator", "seed", "f"), TypeError,
     "f: got both generator= and seed=; pass only generator= (seed= is its deprecated alias)"),
]


@pytest.mark.parametrize("call, exc, message", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_bad_values_raise_the_policy_exception_with_its_message(call, exc, message):
    with pytest.raises(exc) as info:
        call()
    assert type(info.value) is exc
    assert message in str(info.value)


@pytest.mark.parametrize("call, expected", [
    (lambda: V.check_int(np.int32(3), "n", "f", 0), 3),
    (lambda: V.check_int(-5, "n"), -5),
    (lambda: V.check_positive_int(np.int64(7), "n"), 7),
    (lambda: V.check_bool(np.bool_(True), "flag"), True),
    (lambda: V.check_real(np.float32(0.5), "x"), 0.5),
    (lambda: V.check_real(2, "x"), 2.0),
    (lambda: V.check_probability(1, "p"), 1.0),
    (lambda: V.check_probability(0.0, "p", allow_one=False), 0.0),
])
def test_good_values_come_back_as_python_scalars(call, expected):
    out = call()
    assert out == expected and type(out) is type(expected)


def test_deprecated_alias_warns_at_the_callers_line_and_returns_the_old_value():
    def api(generator=None, *, rng=None):
        if rng is not None:
            generator = deprecated_alias(generator, rng, "generator", "rng", "api")
        return generator

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call_line = sys._getframe().f_lineno + 1
        assert api(rng=5) == 5
    assert len(caught) == 1 and caught[0].category is DeprecationWarning
    assert str(caught[0].message) == "api(rng=...) is deprecated; pass generator="
    # The default stacklevel points past api() at the line that called it.
    assert caught[0].filename == __file__ and caught[0].lineno == call_line
    with pytest.warns(DeprecationWarning, match=r"pass generator=Generator\(seed\)"):
        deprecated_alias(None, 1, "generator", "seed", "Dropout",
                         instead="generator=Generator(seed)", stacklevel=2)
