"""An optimizer step is an in-place write: it bumps each updated parameter's
version, so a retained graph that saved the old weights refuses backward."""

import numpy as np
import pytest

import tinytorch.autograd  # noqa: F401
from tinytorch.nn import Parameter
from tinytorch.optim import SGD, Adam, AdamW


@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.1), lambda ps: Adam(ps, lr=0.1),
                                  lambda ps: AdamW(ps, lr=0.1)])
def test_step_bumps_versions_and_stale_graph_is_refused(make):
    w = Parameter(np.array([1.0, 2.0], dtype=np.float32))
    frozen = Parameter(np.array([1.0], dtype=np.float32))
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    before = w.version
    make([w, frozen]).step()
    assert w.version == before + 1
    assert frozen.version == 0  # no gradient, not written
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
