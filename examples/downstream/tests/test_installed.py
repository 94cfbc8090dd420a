"""The project gets exactly what it pins, and nothing else of TinyTorch.

Meaningful only where the project is installed (``python -m nox -s
downstream`` does that): it reads the installed distributions' metadata."""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    """``{distribution: version}`` of the project's ``name==version`` pins on tinytorch."""
    with PYPROJECT.open("rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    pins = {}
    for dep in deps:
        match = re.fullmatch(r"\s*([A-Za-z0-9._-]+)\s*==\s*([0-9][^;\s]*)\s*", dep)
        if match and canonical(match.group(1)).startswith("tinytorch-"):
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def installed_tinytorch() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()
            if canonical(d.metadata["Name"]).startswith("tinytorch-")}


def test_the_project_pins_exactly_two_layers():
    assert pinned().keys() == {"tinytorch-tensor", "tinytorch-autograd"}


def test_installed_tinytorch_is_exactly_the_pins():
    assert installed_tinytorch() == pinned()
    assert metadata.version("downstream-fit") == "1.0.0"


def test_the_namespace_holds_only_the_pinned_layers():
    import tinytorch

    found = {m.name for m in pkgutil.iter_modules(tinytorch.__path__)}
    assert found == {"tensor", "autograd"}


@pytest.mark.parametrize("layer", ["nn", "optim", "data", "text", "transformers", "kvcache",
                                   "perf", "olympics"])
def test_layers_it_did_not_ask_for_are_absent(layer):
    assert importlib.util.find_spec(f"tinytorch.{layer}") is None
