"""Argument checks shared by the loaders, datasets and transforms of ``tinytorch.data``.

One policy for bad arguments, in one place (the stack's): ``TypeError`` for
a wrong type (a float where an int is needed, a list for a generator),
``ValueError`` for a bad value (a batch size of 0, a probability of 1.5).
Messages start with the public name that was called and name the argument.
The checks are the stack's shared ones, :mod:`tinytorch.tensor.validate`.

The random source of every shuffling or augmenting object is ``generator=``,
PyTorch's keyword, resolved by :func:`random_source`; the older ``seed=`` /
``rng=`` keywords are deprecated aliases.
"""

from __future__ import annotations

import numpy as np

from tinytorch.tensor import Generator, as_numpy_generator, deprecated_alias
from tinytorch.tensor.validate import check_int as int_at_least
from tinytorch.tensor.validate import check_probability as probability

__all__ = ["int_at_least", "probability", "random_source"]

# int_at_least(value, name, where, minimum) and probability(p, name, where)
# (in [0, 1]) are the stack's shared checks of tinytorch.tensor.validate,
# under the names this package has always used.


def random_source(generator, where: str, *, seed=None, rng=None) -> np.random.Generator:
    """The NumPy generator behind ``generator=`` and its deprecated aliases.

    ``generator``: a ``tinytorch.tensor.Generator``, a
    ``numpy.random.Generator``, or None for tinytorch's default generator
    (seeded by ``manual_seed``), as PyTorch falls back on its global one.
    ``seed=s`` (deprecated) means ``generator=Generator(s)``; ``rng=g``
    (deprecated) means ``generator=g``. Each deprecated keyword warns.

    Raises:
        TypeError: more than one of the three given, or a generator of
            another type.
    """
    given = [k for k, v in (("generator", generator), ("seed", seed), ("rng", rng))
             if v is not None]
    if len(given) > 1:
        raise TypeError(f"{where}: got {' and '.join(k + '=' for k in given)}; pass only "
                        "generator= (seed= and rng= are its deprecated aliases)")
    # stacklevel 4: past deprecated_alias and this function, at the user's call.
    if seed is not None:
        generator = Generator(deprecated_alias(None, seed, "generator", "seed", where,
                                               instead="generator=Generator(seed)",
                                               stacklevel=4))
    elif rng is not None:
        generator = deprecated_alias(None, rng, "generator", "rng", where, stacklevel=4)
    return as_numpy_generator(generator, where)
