"""load_state on damaged files and malformed metadata: always a ValueError
that names the path (never BadZipFile, EOFError, KeyError, TypeError or
RecursionError)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinytorch.optim import load_state, save_state


def with_meta(tmp_path, meta, arrays=None, name="s.npz"):
    path = tmp_path / name
    payload = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
    np.savez(path, __meta__=np.frombuffer(payload, dtype=np.uint8), **(arrays or {}))
    return path


def envelope(tree):
    return {"format": "tinytorch-state", "version": 1, "tree": tree}


GOOD = {"step": 3, "w": np.arange(4.0), "pair": (1, 2), "by_index": {0: {"m": np.ones(2)}}}


@pytest.mark.parametrize("cut", [0, 1, 10, 100, -100, -1])
def test_truncated_and_empty_files(tmp_path, cut):
    path = tmp_path / "good.npz"
    save_state(path, GOOD)
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    bad.write_bytes(data[:cut])
    with pytest.raises(ValueError) as info:
        load_state(bad)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize("meta", ids=lambda m: repr(m)[:30], argvalues=[
    {"format": "tinytorch-state", "version": 1},                     # no tree (was KeyError)
    envelope({"__tuple__": 5}),                                       # was TypeError
    envelope({"__items__": [[1]]}),                                   # was ValueError/TypeError
    envelope({"__items__": [[[1, 2], 3]]}),                           # unhashable key
    envelope({"__items__": 7}),
    envelope({"__array__": ["a0"]}),                                  # unhashable array name
    envelope({"__array__": "a9"}),                                    # missing array
    b"[" * 200_000 + b"]" * 200_000,                                  # was RecursionError
    b'{"format": "tinytorch-state", "version": 1, "tree": ' + b"[" * 990 + b"]" * 990 + b"}",
    b"\xff\xfe not utf-8",
    b"{not json",
    [1, 2, 3],
])
def test_malformed_metadata(tmp_path, meta):
    path = with_meta(tmp_path, meta)
    with pytest.raises(ValueError) as info:
        load_state(path)
    assert str(path) in str(info.value)


def test_good_file_still_round_trips(tmp_path):
    path = tmp_path / "good.npz"
    save_state(path, GOOD)
    back = load_state(path)
    assert back["step"] == 3 and back["pair"] == (1, 2)
    np.testing.assert_array_equal(back["by_index"][0]["m"], np.ones(2))


def test_optimizer_state_that_overflows_float32_is_refused():
    from tinytorch.nn import Parameter
    from tinytorch.optim import Adam

    p = Parameter(np.zeros(2, np.float32))
    opt = Adam([p], lr=0.1)
    p.grad = Parameter(np.ones(2, np.float32))
    opt.step()
    state = opt.state_dict()
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v)
              for k, v in opt.state_dict()["state"][0].items()}
    state["state"][0]["exp_avg_sq"] = np.array([1e300, 0.0])
    with pytest.raises(ValueError, match="overflows float32"):
        opt.load_state_dict(state)
    for k, v in opt.state_dict()["state"][0].items():
        np.testing.assert_array_equal(v, before[k])
