"""The state file format (.npz + JSON metadata) and its atomic writes."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinytorch.optim import checkpoint, load_state, save_state
from tinytorch.tensor import Tensor


def assert_same(a, b):
    """Equal values *and* equal types, recursively (arrays: dtype, shape, bits)."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


TREE = {
    "model": {"fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
              "fc.bias": np.zeros(3, dtype=np.float64),
              "table": np.array([[1, 2]], dtype=np.int64),
              "mask": np.array([True, False]),
              "half": np.ones(2, dtype=np.float16),
              "scalar": np.array(3.5)},
    "optimizer": {"state": {0: {"step": 3, "exp_avg": np.full((2, 3), 0.1, np.float32)}},
                  "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                    "nesterov": False}]},
    "history": {"loss": [0.5, float("nan"), float("inf")], "acc": [None, 0.25]},
    "text": "épsilon ✓",
    "tricky": {"__array__": "not an array", "__tuple__": [1]},
    "float_keys": {0.5: "half", True: "yes", None: "none"},
    "empty": {"list": [], "tuple": (), "dict": {}},
}


def test_round_trip_is_exact(tmp_path):
    path = tmp_path / "state.npz"
    save_state(path, TREE)
    assert_same(load_state(path), TREE)


def test_file_layout_is_documented_npz_with_json(tmp_path):
    path = tmp_path / "state.ckpt"  # the name is used as given
    save_state(path, {"w": np.ones(2), "lr": 0.1})
    assert os.listdir(tmp_path) == ["state.ckpt"]
    if os.name == "posix":  # the usual permissions, not the temporary file's 0600
        mask = os.umask(0)
        os.umask(mask)
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(archive["__meta__"].tobytes().decode())
        assert meta["format"] == "tinytorch-state" and meta["version"] == 1
        assert meta["tree"] == {"w": {"__array__": "a0"}, "lr": 0.1}
        np.testing.assert_array_equal(archive["a0"], np.ones(2))


@pytest.mark.parametrize("bad,word", [
    ({"t": Tensor([1.0])}, "Tensor"),
    ({"f": print}, "builtin_function_or_method"),
    ({"o": np.array([object()], dtype=object)}, "object arrays"),
    ({"k": {(1, 2): 3}}, "dict key"),
])
def test_unsavable_values_are_named(tmp_path, bad, word):
    with pytest.raises(TypeError, match=word):
        save_state(tmp_path / "x.npz", bad)
    assert os.listdir(tmp_path) == []


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_state(tmp_path / "missing.npz")
    with pytest.raises(FileNotFoundError, match="directory"):
        save_state(tmp_path / "nodir" / "x.npz", {})
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a TinyTorch state file"):
        load_state(tmp_path / "junk.npz")
    np.savez(tmp_path / "plain.npz", x=np.ones(2))
    with pytest.raises(ValueError, match="__meta__"):
        load_state(tmp_path / "plain.npz")
    np.save(tmp_path / "one.npy", np.ones(2))
    with pytest.raises(ValueError, match=".npy"):
        load_state(tmp_path / "one.npy")
    meta = json.dumps({"format": "tinytorch-state", "version": 99, "tree": {}}).encode()
    np.savez(tmp_path / "future.npz", __meta__=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(ValueError, match="version 99"):
        load_state(tmp_path / "future.npz")


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    save_state(path, {"w": np.arange(4.0), "epoch": 1})
    before = path.read_bytes()

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")  # some bytes reach the temporary file ...
        raise OSError("disk full")          # ... then the write fails

    monkeypatch.setattr(checkpoint.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        save_state(path, {"w": np.zeros(4), "epoch": 2})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # the temporary file was removed
    monkeypatch.undo()
    assert load_state(path)["epoch"] == 1


def test_killed_process_mid_write_keeps_previous_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    save_state(path, {"w": np.arange(4.0), "epoch": 1})
    before = path.read_bytes()
    child = textwrap.dedent(f"""
        import os, numpy as np
        from tinytorch.optim import save_state

        def dying_savez(f, **arrays):
            f.write(b"PK\\x03\\x04 half a zip")
            f.flush()
            os._exit(9)  # the process dies mid-write: no exception handler runs

        np.savez = dying_savez
        save_state({str(path)!r}, {{"w": np.zeros(4), "epoch": 2}})
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    result = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True,
                            timeout=60)
    assert result.returncode == 9, result.stderr.decode()
    assert path.read_bytes() == before
    assert load_state(path)["epoch"] == 1
    # what is left behind is a hidden temporary file, never the target
    leftovers = [n for n in os.listdir(tmp_path) if n != "ckpt.npz"]
    assert all(n.startswith(".ckpt.npz.") and n.endswith(".tmp") for n in leftovers)
