"""``python -m tito``: the same as the ``tito`` console script."""

from .cli import main

raise SystemExit(main())
