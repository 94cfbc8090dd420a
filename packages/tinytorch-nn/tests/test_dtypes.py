"""Layers built with ``dtype=`` hold parameters and buffers of that dtype."""

import warnings

import numpy as np
import pytest

from tinytorch import nn

LAYERS = [
    ("Linear", lambda dt: nn.Linear(3, 2, dtype=dt)),
    ("Linear-nobias", lambda dt: nn.Linear(3, 2, bias=False, dtype=dt)),
    ("Conv2d", lambda dt: nn.Conv2d(2, 4, 3, dtype=dt)),
    ("BatchNorm2d", lambda dt: nn.BatchNorm2d(4, dtype=dt)),
    ("LayerNorm", lambda dt: nn.LayerNorm(5, dtype=dt)),
    ("Embedding", lambda dt: nn.Embedding(7, 3, dtype=dt)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, build", LAYERS, ids=[n for n, _ in LAYERS])
def test_layer_parameters_and_buffers_take_the_requested_dtype(name, build, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no cast of uninitialised memory
        layer = build(dtype)
    arrays = [p.data for p in layer.parameters()] + [b.data if hasattr(b, "data") else b
                                                     for _, b in layer.named_buffers()]
    assert arrays and all(a.dtype == dtype for a in arrays
                          if np.asarray(a).dtype.kind == "f"), name
