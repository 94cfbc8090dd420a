"""Saving files atomically: the one helper every package of the stack uses.

A save that is interrupted (an exception, Ctrl-C, a full disk, a crash)
must never leave a truncated file where a good one was. The recipe:

    path.tmp-XXXX  <── write(f), flush, fsync        (same folder: same file system)
         │
         └── os.replace(tmp, path)                   (atomic rename: old file or new, never a mix)

On any failure before the rename the temporary file is removed and ``path``
is untouched.

Why this lives in ``tinytorch-tensor``: it is the lowest layer, the one that
every package saving files (nn, optim, data, text, perf, olympics) already
depends on or can depend on without breaking the layer order. ``tinytorch-text``
declares ``tinytorch-tensor`` for this helper alone; a separate utility
distribution for one function would be one more package to version and
install for no gain. The module uses the standard library only.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from typing import IO, Any

__all__ = ["atomic_write"]


def _read_umask() -> int:
    # The only portable way to read the umask is to set it and restore it;
    # done once at import (not per save) because it is not thread-safe.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _target_mode(path: str) -> int:
    """The permission bits the saved file gets: those of the file it
    replaces, else what ``open(path, "w")`` would give (0o666 minus umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_UMASK


def _place(tmp: str, path: str, overwrite: bool) -> None:
    """Move the finished temporary file to ``path``."""
    if overwrite:
        os.replace(tmp, path)
        return
    exists = FileExistsError(f"{path!r} already exists; pass overwrite=True to replace it")
    try:
        os.link(tmp, path)  # atomic, and fails if path exists: never clobbers
    except FileExistsError:
        raise exists from None
    except OSError:  # a file system without hard links: check, then rename
        if os.path.exists(path):
            raise exists from None
        os.replace(tmp, path)


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[IO[Any]], object],
    *,
    binary: bool = True,
    encoding: str = "utf-8",
    overwrite: bool = True,
) -> str:
    """Call ``write(f)`` on a temporary file next to ``path``, then move it to ``path``.

    The temporary file is created in the folder of ``path`` (so the final
    rename stays on one file system and is atomic), flushed and ``fsync``-ed
    before the rename, and given the permission bits of the file it replaces
    (or ``0o666 & ~umask`` for a new file, as ``open`` would). Whatever
    fails, the temporary file is removed and the previous ``path`` is left
    exactly as it was.

    Args:
        path: the file to write.
        write: ``write(f)`` fills the open temporary file ``f``.
        binary: ``f`` is opened in binary mode (default) or as text.
        encoding: the text encoding when ``binary`` is False.
        overwrite: replace an existing ``path`` (default). With False the
            file is linked into place only if ``path`` does not exist, which
            closes the race between checking and writing.

    Returns:
        ``path`` as a string.

    Raises:
        TypeError: ``write`` is not callable.
        FileNotFoundError: the directory of ``path`` does not exist.
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        Whatever ``write`` raises, after the clean-up.
    """
    if not callable(write):
        raise TypeError(f"atomic_write: write must be a callable taking the open file, "
                        f"got {type(write).__name__}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: directory {directory!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        text_args = {} if binary else {"encoding": encoding}
        with os.fdopen(fd, "wb" if binary else "w", **text_args) as f:
            # mkstemp creates the file 0o600; give it the mode the user expects.
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _target_mode(path))
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename publishes them
        if not hasattr(os, "fchmod"):
            os.chmod(tmp, _target_mode(path))
        _place(tmp, path, overwrite)
    finally:
        # After a successful os.replace the name is gone; after os.link (or
        # any failure) it still exists and must not be left behind.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path
