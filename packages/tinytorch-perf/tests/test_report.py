"""Terminal tables, JSON files, the Pareto frontier and the plots."""

import json
import os
import sys

import numpy as np
import pytest

from tinytorch.perf import (
    BenchmarkResult,
    MatplotlibMissingError,
    Profiler,
    pareto_frontier,
    plot_latency_distribution,
    plot_pareto_frontier,
    render_table,
    save_json,
)


def _r(values, **meta):
    return BenchmarkResult("latency_ms", values, meta)


def test_render_table_of_nested_results():
    text = render_table({"mlp": {"digits": _r([1.0, 2.0, 3.0])},
                         "cnn": {"digits": _r([4.0, 5.0])}}, title="latency")
    lines = text.splitlines()
    assert lines[0] == "latency"
    assert lines[1].split()[:4] == ["name", "metric", "n", "median"]
    assert "mlp / digits" in text and "cnn / digits" in text
    row = next(line for line in lines if line.startswith("mlp"))
    assert " 2 " in f" {row} " and "latency_ms" in row  # the median


def test_render_table_of_a_list_rows_and_a_profile(mlp, data):
    text = render_table([_r([1.0], model="a"), _r([2.0], model="b")])
    assert "a" in text and "b" in text
    rows = [{"model": "a", "value": 1.5}, {"model": "b", "value": 2.25}]
    assert render_table(rows).splitlines()[2].split() == ["a", "1.5"]
    report = Profiler().profile_forward_pass(mlp, data)
    assert render_table(report) == report.table()
    with pytest.raises(TypeError):
        render_table(42)


def test_save_json_round_trip(tmp_path):
    path = tmp_path / "results.json"
    results = {"mlp": {"digits": _r([1.0, 2.0, 4.0], seed=0)}, "note": np.float32(0.5),
               "nan": float("nan"), "array": np.arange(3)}
    assert save_json(results, path) == str(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "tinytorch-perf/results" and doc["version"] == 1
    assert doc["system"]["numpy"] == np.__version__ and doc["created"].endswith("+00:00")
    r = BenchmarkResult.from_dict(doc["results"]["mlp"]["digits"])
    assert r == results["mlp"]["digits"]
    assert doc["results"]["note"] == 0.5 and doc["results"]["nan"] is None
    assert doc["results"]["array"] == [0, 1, 2]
    assert os.listdir(tmp_path) == ["results.json"]


def test_save_json_overwrite_and_bad_values(tmp_path):
    path = tmp_path / "r.json"
    save_json({"a": 1}, path)
    with pytest.raises(FileExistsError):
        save_json({"a": 2}, path, overwrite=False)
    with pytest.raises(TypeError):
        save_json({"a": object()}, path)
    assert json.loads(path.read_text())["results"] == {"a": 1}  # untouched by the failures
    with pytest.raises(FileNotFoundError):
        save_json({}, tmp_path / "missing" / "r.json")


def P(acc, lat, mem, name=""):
    return {"accuracy": acc, "latency_ms": lat, "memory_mb": mem, "name": name}


FRONTIERS = [
    ([], []),
    ([P(0.9, 1, 1)], [0]),
    # the second is better everywhere
    ([P(0.9, 2, 2), P(0.95, 1, 1)], [1]),
    # each wins somewhere: both stay
    ([P(0.9, 1, 5), P(0.95, 5, 1)], [0, 1]),
    # equal on two objectives, better on the third: dominates
    ([P(0.9, 1, 1), P(0.9, 1, 2)], [0]),
    # identical points do not dominate each other
    ([P(0.9, 1, 1), P(0.9, 1, 1)], [0, 1]),
    ([P(0.97, 10, 8, "base"), P(0.96, 4, 8, "fast"), P(0.97, 9, 2, "small"),
      P(0.90, 12, 9, "bad"), P(0.96, 5, 9, "fast but worse")], [1, 2]),
]


@pytest.mark.parametrize("points, expected", FRONTIERS)
def test_pareto_frontier_cases(points, expected):
    assert pareto_frontier(points) == expected


def test_pareto_frontier_custom_objectives():
    pts = [{"a": 1, "b": 1}, {"a": 2, "b": 0}, {"a": 0, "b": 2}]
    assert pareto_frontier(pts, {"a": "max"}) == [1]
    assert pareto_frontier(pts, {"a": "min", "b": "min"}) == [0, 1, 2]
    assert pareto_frontier(pts, {"a": "max", "b": "max"}) == [0, 1, 2]
    assert pareto_frontier(pts, {"a": "min", "b": "max"}) == [2]


@pytest.mark.parametrize("points, objectives, error", [
    ([P(0.9, 1, 1)], {}, ValueError),
    ([P(0.9, 1, 1)], {"accuracy": "up"}, ValueError),
    ([{"accuracy": 0.9, "latency_ms": 1}], None, ValueError),
    ([P(float("nan"), 1, 1)], None, ValueError),
    ([P("high", 1, 1)], None, ValueError),
    ([(0.9, 1, 1)], None, TypeError),
])
def test_pareto_frontier_validation(points, objectives, error):
    with pytest.raises(error):
        pareto_frontier(points, objectives)


def _brute_force(points, keys, signs):
    front = []
    for i, p in enumerate(points):
        dominated = False
        for j, q in enumerate(points):
            if i == j:
                continue
            ge = all(s * q[k] >= s * p[k] for k, s in zip(keys, signs))
            gt = any(s * q[k] > s * p[k] for k, s in zip(keys, signs))
            dominated |= ge and gt
        if not dominated:
            front.append(i)
    return front


def test_pareto_frontier_matches_brute_force_on_a_grid():
    rng = np.random.default_rng(0)
    for n in (3, 10, 40):
        # small integer grids make ties and duplicates common
        vals = rng.integers(0, 4, size=(n, 3))
        pts = [P(int(a), int(b), int(c)) for a, b, c in vals]
        expected = _brute_force(pts, ["accuracy", "latency_ms", "memory_mb"], [1, -1, -1])
        assert pareto_frontier(pts) == expected
        # Every point off the frontier is dominated by a point on it.
        front = pareto_frontier(pts)
        for i in set(range(n)) - set(front):
            assert any(_dominates(pts[j], pts[i]) for j in front)


def _dominates(q, p):
    keys, signs = ["accuracy", "latency_ms", "memory_mb"], [1, -1, -1]
    return (all(s * q[k] >= s * p[k] for k, s in zip(keys, signs))
            and any(s * q[k] > s * p[k] for k, s in zip(keys, signs)))


def test_plots_are_png_files(tmp_path):
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(0)
    results = {"base": _r(rng.lognormal(0, 0.3, 200)), "fast": _r(rng.lognormal(-1, 0.3, 200))}
    hist = plot_latency_distribution(results, tmp_path / "latency.png")
    front = plot_pareto_frontier([P(0.97, 10, 8, "base"), P(0.96, 4, 8, "fast"),
                                  P(0.90, 12, 9, "bad")], tmp_path / "pareto.png")
    for path in (hist, front):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["latency.png", "pareto.png"]
    with pytest.raises(TypeError):
        plot_latency_distribution({"x": [1, 2]}, tmp_path / "x.png")


def test_plots_without_matplotlib_say_how_to_install_it(tmp_path, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import now fails
    with pytest.raises(MatplotlibMissingError, match=r"tinytorch-perf\[plots\]"):
        plot_latency_distribution(_r([1.0, 2.0]), tmp_path / "x.png")
    with pytest.raises(ImportError):
        plot_pareto_frontier([P(0.9, 1, 1)], tmp_path / "y.png")
    assert os.listdir(tmp_path) == []
