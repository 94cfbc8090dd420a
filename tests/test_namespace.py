"""``tinytorch`` is one PEP 420 namespace spread over several distributions.

Runs where tinytorch-tensor and tinytorch-autograd are *installed* (the
``stack`` nox session); skipped otherwise, e.g. when the sources are only put
on PYTHONPATH.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
from pathlib import Path

import pytest

# distribution -> the subpackage it provides
REQUIRED = {"tinytorch-tensor": "tinytorch.tensor", "tinytorch-autograd": "tinytorch.autograd"}


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


_missing = [dist for dist in REQUIRED if not _installed(dist)]
if _missing:
    pytest.skip(f"not installed: {', '.join(_missing)}", allow_module_level=True)


def _providing_distribution(module_file: Path) -> list[str]:
    """Names of the installed distributions whose RECORD lists ``module_file``."""
    module_file = module_file.resolve()
    found = []
    for dist in metadata.distributions():
        for f in dist.files or ():
            if f.name == module_file.name and Path(dist.locate_file(f)).resolve() == module_file:
                found.append(dist.metadata["Name"])
                break
    return found


def test_tinytorch_is_a_namespace_package():
    import tinytorch

    assert getattr(tinytorch, "__file__", None) is None, tinytorch.__file__
    assert tinytorch.__spec__.origin in (None, "namespace")
    for directory in tinytorch.__path__:
        assert not (Path(directory) / "__init__.py").exists(), directory


@pytest.mark.parametrize("dist, module_name", sorted(REQUIRED.items()))
def test_subpackage_imports_from_its_own_distribution(dist, module_name):
    module = importlib.import_module(module_name)
    assert module.__file__ is not None
    providers = _providing_distribution(Path(module.__file__))
    assert [metadata.distribution(p).metadata["Name"] for p in providers] == [
        metadata.distribution(dist).metadata["Name"]
    ], f"{module_name} ({module.__file__}) is provided by {providers}, expected {dist}"


def test_namespace_spans_the_distributions():
    import tinytorch

    modules = [importlib.import_module(name) for name in REQUIRED.values()]
    # Every directory holding one of the subpackages is part of the namespace path:
    # one shared site-packages/tinytorch, or several when installed apart.
    roots = {Path(m.__file__).resolve().parent.parent for m in modules}
    path = {Path(p).resolve() for p in tinytorch.__path__}
    assert roots <= path, (roots, path)
    if len(roots) >= 2:
        assert len(list(tinytorch.__path__)) >= 2
    # And the installed metadata names both distributions as providers of `tinytorch`.
    providers = {name.lower() for name in metadata.packages_distributions().get("tinytorch", [])}
    assert set(REQUIRED) <= {p.replace("_", "-") for p in providers}, providers
