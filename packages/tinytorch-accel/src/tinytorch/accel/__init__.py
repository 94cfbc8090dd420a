"""tinytorch.accel: capture a model once, replay it without the Python overhead.

Layer 6 of the TinyTorch stack. It adds, without editing any lower layer:

* :func:`compile` -- one forward recorded through the dispatch hooks of
  ``tinytorch.tensor``, passes (dead code, constant folding, elementwise
  fusion, buffer planning), and a guarded replay generated as one flat
  Python function of NumPy calls (:mod:`.compiler`);
* :func:`threads` / :func:`set_num_threads` -- the BLAS thread pool, through
  threadpoolctl (optional extra ``threads``);
* teaching kernels (:mod:`.kernels`): loop, vectorized and tiled matmul,
  fused and unfused GELU.

>>> import numpy as np
>>> from tinytorch import nn
>>> from tinytorch.accel import compile
>>> from tinytorch.autograd import no_grad
>>> from tinytorch.tensor import randn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
>>> x = randn(1, 4)
>>> fast = compile(model, (x,))
>>> with no_grad():
...     bool(np.array_equal(fast(x).numpy(), model(x).numpy()))
True
"""

from . import kernels, passes
from .capture import CompileError, capture
from .codegen import Replay, generate
from .compiler import CompiledModule, compile
from .graph import Graph, Node, Value
from .passes import (
    PASSES,
    dead_code_elimination,
    fold_constants,
    fuse_elementwise,
    plan_buffers,
    run_passes,
)
from .threads import get_num_threads, set_num_threads, threads

__version__ = "0.1.5"

__all__ = [
    "compile", "CompiledModule", "CompileError", "capture", "generate", "Replay",
    "Graph", "Node", "Value", "PASSES", "run_passes", "dead_code_elimination",
    "fold_constants", "fuse_elementwise", "plan_buffers", "passes", "kernels",
    "threads", "set_num_threads", "get_num_threads",
]
