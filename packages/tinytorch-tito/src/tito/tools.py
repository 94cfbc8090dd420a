"""What ``tito test``, ``tito bench`` and ``tito profile`` run.

* :func:`find_tests`: where an installed package's tests are. Wheels ship
  no tests; the sdists and the repository do. A package installed from a
  folder (``pip install packages/tinytorch-nn``) records that folder in its
  ``direct_url.json``: its ``tests/`` is used. Otherwise a folder given with
  ``--source`` (an unpacked sdist, a checkout), else an explanation.
* :func:`find_benchmarks`: ``benchmarks/bench_*.py`` of a checkout (they
  compare with PyTorch, so they are not part of any wheel).
* :func:`profile_model`: a milestone model's per-op table and a Chrome trace
  through :class:`tinytorch.perf.Profiler`.
"""

from __future__ import annotations

import json
import os
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.utils import canonicalize_name

PROFILE_MODELS = ("mlp", "cnn", "gpt")


class NotFound(LookupError):
    """Something the command needs is not there; the message says what to do."""


def package_name(name: str) -> str:
    """``nn`` / ``tinytorch.nn`` / ``tinytorch_nn`` -> ``tinytorch-nn``."""
    canonical = canonicalize_name(name.replace("tinytorch.", "tinytorch-"))
    return canonical if canonical.startswith("tinytorch-") else f"tinytorch-{canonical}"


def installed_tinytorch() -> list[str]:
    """Names of the installed ``tinytorch-*`` distributions, sorted."""
    names = {canonicalize_name(d.metadata["Name"] or "") for d in metadata.distributions()}
    return sorted(n for n in names if n.startswith("tinytorch-"))


def repository_root(start: Path | None = None) -> Path | None:
    """The TinyTorch checkout holding ``start`` (default: the working folder,
    then this file): the first parent with ``packages/`` and ``noxfile.py``."""
    for origin in ([start] if start else [Path.cwd(), Path(__file__).resolve()]):
        for folder in [origin, *origin.parents]:
            if (folder / "packages").is_dir() and (folder / "noxfile.py").is_file():
                return folder
    return None


def _installed_from(dist: metadata.Distribution) -> Path | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        url = urlparse(json.loads(text).get("url", ""))
    except (ValueError, AttributeError):
        return None
    return Path(unquote(url.path)) if url.scheme == "file" else None


def find_tests(name: str, source: str | None = None) -> Path:
    """The tests folder of package ``name``.

    Raises:
        NotFound: no tests folder could be found (the message explains how
            to get one).
    """
    dist_name = package_name(name)
    if source is not None:
        tests = Path(source) / "tests"
        if not tests.is_dir():
            raise NotFound(f"{source} has no tests/ folder (give an unpacked sdist of "
                           f"{dist_name} or packages/{dist_name} of a checkout)")
        return tests
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        dist = None
    origin = _installed_from(dist) if dist is not None else None
    if origin is not None and (origin / "tests").is_dir():
        return origin / "tests"
    root = repository_root()
    if root is not None and (root / "packages" / dist_name / "tests").is_dir():
        return root / "packages" / dist_name / "tests"
    if dist is None:
        raise NotFound(f"{dist_name} is not installed (installed: "
                       f"{', '.join(installed_tinytorch()) or 'none'})")
    raise NotFound(
        f"{dist_name} {dist.version} was installed from a wheel, and wheels ship no tests. "
        f"Its sdist does: pip download --no-deps --no-binary :all: {dist_name}=={dist.version}, "
        f"unpack it, then tito test {dist_name} --source <unpacked folder>")


def find_benchmarks(root: str | None = None) -> list[Path]:
    """``benchmarks/bench_*.py`` of the checkout at ``root`` (default: found).

    Raises:
        NotFound: no checkout (the benchmarks compare with PyTorch and are
            not shipped in any wheel).
    """
    base = Path(root) if root else repository_root()
    if base is None or not (base / "benchmarks").is_dir():
        raise NotFound("the benchmarks live in the TinyTorch repository (benchmarks/), not in "
                       "a wheel: run tito bench inside a checkout or pass --root")
    return sorted((base / "benchmarks").glob("bench_*.py"))


def pick_benchmark(scripts: list[Path], name: str) -> Path:
    """The script called ``name`` (``mlp``, ``bench_mlp``, ``bench_mlp.py``)."""
    stem = Path(name).stem
    for script in scripts:
        if script.stem in (stem, f"bench_{stem}"):
            return script
    names = ", ".join(s.stem.removeprefix("bench_") for s in scripts)
    raise NotFound(f"no benchmark {name!r}; choose one of {names}")


def _model_and_input(name: str, batch: int):
    """An untrained milestone model and a batch for it (timings do not depend
    on the weights' values)."""
    import numpy as np

    from tinytorch.tensor import Tensor, manual_seed

    manual_seed(0)
    rng = np.random.default_rng(0)
    if name == "mlp":
        from tinytorch.milestones.m03_mlp_digits import build_model

        return build_model(), Tensor(rng.standard_normal((batch, 64)).astype(np.float32))
    if name == "cnn":
        from tinytorch.milestones.m04_cnn_digits import build_model

        return build_model(), Tensor(rng.standard_normal((batch, 1, 8, 8)).astype(np.float32))
    from tinytorch.transformers import GPT

    # Milestone 5b's architecture: 65 characters, 128 dims, 4 layers, 4 heads, context 128.
    model = GPT(65, 128, 4, 4, 128)
    return model, Tensor(rng.integers(0, 65, size=(batch, 128)))


def profile_model(name: str, batch: int = 32, trace: str | None = None, iterations: int = 3):
    """Profile one inference forward of milestone model ``name``.

    Returns ``(report, trace_path)``: a :class:`tinytorch.perf.ProfileReport`
    (``report.table()``) over ``iterations`` passes, and the Chrome trace of
    one more pass written to ``trace`` (None: not written).

    Raises:
        ValueError: an unknown model or ``batch < 1``.
        FileNotFoundError: the trace's folder does not exist.
    """
    if name not in PROFILE_MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(PROFILE_MODELS)}")
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, got {batch!r}")
    from tinytorch.autograd import no_grad
    from tinytorch.perf import Profiler

    model, x = _model_and_input(name, batch)
    model.eval()
    profiler = Profiler()
    report = profiler.profile_forward_pass(model, x, warmup=1, iterations=iterations)
    if trace is not None:
        with profiler.trace(trace, model), no_grad():
            model(x)
    return report, (os.path.abspath(trace) if trace else None)
