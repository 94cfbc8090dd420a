"""Module.load on damaged or hostile files: a ValueError that names the
path, bounded work, and no value silently changed by a dtype cast."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from tinytorch.nn import Linear, Module, serialization
from tinytorch.tensor import Tensor


def saved(tmp_path):
    model = Linear(3, 2)
    path = tmp_path / "m.npz"
    model.save(path)
    return model, path


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def zip_of(members: dict, compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def damaged_variants(good: bytes) -> dict:
    header = npy_bytes(np.zeros((2, 3), np.float32))[:80]
    return {
        "empty": b"",
        "truncated": good[: len(good) // 2],
        "one byte": good[:1],
        "text": b"not an npz at all\n",
        "npy": npy_bytes(np.zeros(3)),
        "json": b'{"weight": [1, 2]}',
        "non-npy member": zip_of({"weight.txt": b"hello"}),
        "object dtype": zip_of({"weight.npy": header.replace(b"<f4", b"|O8")}),
        "lying header": zip_of({"weight.npy": npy_bytes(np.zeros((2, 3), np.float32))[:-8]}),
        "huge claim": zip_of({"weight.npy": header.replace(b"(2, 3)", b"(99999999999, 3)")}),
        "garbage header": zip_of({"weight.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <<<<<"}),
        "broken signatures": good.replace(b"PK\x03\x04", b"PK\x03\x05"),
    }


@pytest.mark.parametrize("variant", list(damaged_variants(b"x" * 400)))
def test_damaged_files_raise_value_error_naming_the_path(tmp_path, variant):
    model, path = saved(tmp_path)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    bad = tmp_path / f"{variant.replace(' ', '_')}.npz"
    bad.write_bytes(damaged_variants(path.read_bytes())[variant])
    with pytest.raises(ValueError) as info:
        model.load(bad)
    assert str(bad) in str(info.value)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_a_zip_bomb_is_refused_before_it_is_expanded(tmp_path):
    model = Linear(3, 2)
    bomb = zip_of({"weight.npy": npy_bytes(np.zeros((2, 3), np.float32)),
                   "bias.npy": npy_bytes(np.zeros(2, np.float32)),
                   "pad.npy": npy_bytes(np.zeros(50_000_000, np.uint8))},
                  compression=zipfile.ZIP_DEFLATED)
    path = tmp_path / "bomb.npz"
    path.write_bytes(bomb)
    assert path.stat().st_size < 200_000
    with pytest.raises(ValueError, match="more than"):
        model.load(path, strict=False)


def test_missing_file_and_directory_keep_their_os_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        Linear(2, 2).load(tmp_path / "nope.npz")
    with pytest.raises(IsADirectoryError):
        Linear(2, 2).load(tmp_path)


class Counter(Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("count", Tensor(np.array([0, 0], dtype=np.int64)))
        self.register_buffer("flag", Tensor(np.array([False])))
        self.weight_like = Linear(1, 1)


@pytest.mark.parametrize("key, value, match", [
    ("weight_like.weight", np.array([[1e300]]), "overflows float32"),
    ("weight_like.weight", np.array([[-3.5e38]]), "overflows float32"),
    ("count", np.array([1.5, 2.0]), "fractional"),
    ("count", np.array([np.nan, 2.0]), "NaN"),
    ("count", np.array([2**63, 0], dtype=np.uint64), "do not fit"),
    ("flag", np.array([2]), "0 and 1"),
])
def test_values_that_a_cast_would_change_are_refused(tmp_path, key, value, match):
    model = Counter()
    state = model.state_dict()
    state[key] = value
    path = tmp_path / "s.npz"
    np.savez(path, **state)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        model.load(path)
    with pytest.raises(ValueError, match=match):
        model.load_state_dict(state)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("key, value", [
    ("weight_like.weight", np.array([[0.1]], dtype=np.float64)),  # rounds, does not overflow
    ("weight_like.weight", np.array([[np.inf]], dtype=np.float64)),  # inf stays inf
    ("count", np.array([3.0, -4.0])),  # whole numbers
    ("count", np.array([7, 8], dtype=np.int32)),
    ("flag", np.array([1])),
])
def test_values_that_survive_the_cast_load(key, value):
    model = Counter()
    state = model.state_dict()
    state[key] = value
    model.load_state_dict(state)
    loaded = model.state_dict()[key]
    np.testing.assert_array_equal(loaded, value.astype(loaded.dtype))


def test_read_npz_reads_what_np_savez_writes(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.int16).reshape(2, 3), "b": np.asfortranarray(
        np.ones((3, 2))), "c": np.array(True)}
    np.savez(tmp_path / "x.npz", **arrays)
    back = serialization.read_npz(tmp_path / "x.npz")
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k], v)
