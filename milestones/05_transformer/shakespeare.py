"""Milestone 5b (Transformer, 2017): a character-level GPT writes Shakespeare.

A thin wrapper: the code is ``tinytorch.milestones.m05_shakespeare`` (shipped in
tinytorch-tito, also run by ``tito milestone run``). Its docstring tells the
history and the idea; ``--help`` lists the options.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:  # installed (tinytorch-tito), or a checkout whose packages/*/src are on the path
    import tinytorch.milestones  # noqa: F401
except ImportError:
    root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(p) for p in sorted(root.glob("packages/*/src"))]

from tinytorch.milestones.m05_shakespeare import *  # noqa: E402, F403
from tinytorch.milestones.m05_shakespeare import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
