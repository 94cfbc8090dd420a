"""tito: the TinyTorch command line.

``tito system info | doctor``, ``tito milestone list | info N | run N``,
``tito test``, ``tito bench``, ``tito profile``, ``tito olympics ...``,
``tito submit`` and ``tito leaderboard``. The commands live in
:mod:`tito.cli`; each one calls the library that does the work, so the
command line holds no second copy of any logic.
"""

# One version for the distribution: the milestones' module holds it (the
# release tool bumps that one file).
from tinytorch.milestones import __version__

__all__ = ["__version__"]
