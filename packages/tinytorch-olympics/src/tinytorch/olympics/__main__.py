"""``python -m tinytorch.olympics``: see :mod:`tinytorch.olympics.cli`."""

from .cli import main

raise SystemExit(main())
