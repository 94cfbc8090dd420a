"""atomic_write: the one way the stack saves files."""

import os
import stat

import pytest

from tinytorch.tensor import atomic_write


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_writes_bytes_and_returns_the_path(tmp_path):
    path = tmp_path / "f.bin"
    assert atomic_write(path, lambda f: f.write(b"\x00\x01")) == str(path)
    assert path.read_bytes() == b"\x00\x01"
    assert os.listdir(tmp_path) == ["f.bin"]


def test_text_mode_uses_the_encoding(tmp_path):
    path = tmp_path / "f.txt"
    atomic_write(path, lambda f: f.write("héllo"), binary=False, encoding="utf-8")
    assert path.read_bytes() == "héllo".encode()
    with pytest.raises(UnicodeEncodeError):
        atomic_write(path, lambda f: f.write("ü"), binary=False, encoding="ascii")
    assert path.read_bytes() == "héllo".encode()


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("error", [Interrupted, KeyboardInterrupt, OSError])
def test_a_write_that_fails_midway_keeps_the_old_file(tmp_path, error):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old content")

    def write(f):
        f.write(b"new, half written")
        f.flush()  # the partial bytes really are in the temporary file
        raise error("interrupted")

    with pytest.raises(error):
        atomic_write(path, write)
    assert path.read_bytes() == b"old content"
    assert os.listdir(tmp_path) == ["model.npz"]  # temporary file removed


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failing_fsync_or_rename_keeps_the_old_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "f.json"
    path.write_text("old")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, lambda f: f.write(b"new"))
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.json"]


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644, 0o664])
def test_replacing_a_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    os.chmod(path, mode)
    atomic_write(path, lambda f: f.write(b"new"))
    assert path.read_bytes() == b"new"
    assert _mode(path) == mode


def test_a_new_file_gets_the_umask_mode_as_open_would(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    atomic_write(tmp_path / "atomic", lambda f: f.write(b"x"))
    assert _mode(tmp_path / "atomic") == _mode(plain) == 0o666 & ~_umask()


def test_no_overwrite_refuses_an_existing_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        atomic_write(path, lambda f: f.write(b"new"), overwrite=False)
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]
    atomic_write(tmp_path / "g", lambda f: f.write(b"new"), overwrite=False)
    assert (tmp_path / "g").read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["f", "g"]


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write(tmp_path / "missing" / "f", lambda f: f.write(b"x"))


def test_write_that_is_not_callable_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="callable"):
        atomic_write(tmp_path / "f", b"bytes")
    assert os.listdir(tmp_path) == []
