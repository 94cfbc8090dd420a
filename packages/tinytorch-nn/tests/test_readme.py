"""The README's example runs as printed, and the model it trains learns."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch, capsys):
    if not README.is_file():
        pytest.skip("README.md is not next to the tests")
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    monkeypatch.chdir(tmp_path)  # the example saves model.npz in the working directory
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    final = float(re.search(r"loss after 20 steps: ([0-9.]+)", out).group(1))
    assert final < 2.0  # chance level is log(10) = 2.3
    assert (tmp_path / "model.npz").is_file()
    clone, model = namespace["clone"], namespace["model"]
    for (n1, a), (n2, b) in zip(model.state_dict().items(), clone.state_dict().items()):
        assert n1 == n2 and (a == b).all()
