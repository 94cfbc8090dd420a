"""tinytorch.milestones: the historical milestones of the course, as a package.

Each milestone is a module with a ``main(argv) -> dict`` that trains a model
end to end and checks it reaches the milestone's bar; ``tito milestone run N``
and the scripts in the repository's ``milestones/`` folder both call it.
Shipped in the ``tinytorch-tito`` distribution, whose version this is.
"""

__version__ = "0.1.0"
