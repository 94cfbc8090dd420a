"""Reading ``.npz`` files that may be damaged or hostile, with bounded work.

``numpy.load`` trusts a file more than a loader of user files should: an
empty file raises ``EOFError``, a truncated one ``zipfile.BadZipFile``, a
member that is not an ``.npy`` array comes back as ``bytes``, and an array
header may claim a shape far larger than the data behind it (NumPy
allocates the claimed size before it finds out). :func:`read_npz` checks
every member before reading it:

* the archive opens as a zip file and every member is named ``*.npy``;
* each member's header parses, has a numeric or bool dtype (never object:
  nothing is unpickled) and claims no more bytes than the member holds;
* the members together expand to at most ``max_bytes``, so a small
  compressed file cannot ask for gigabytes;

and turns every failure into one ``ValueError`` that names the file.

Cost: one pass over the headers (a few hundred bytes each), then one copy
of each array.
"""

from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

__all__ = ["read_npz", "cast_problem", "DEFAULT_MAX_EXPANSION"]

#: Without an explicit ``max_bytes``, the arrays of a file may hold at most
#: this many times the file's size (plus 1 MiB). ``np.savez`` stores arrays
#: uncompressed (a ratio of 1); ``np.savez_compressed`` float data rarely
#: shrink below a quarter.
DEFAULT_MAX_EXPANSION = 64

_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
# What a damaged archive can raise from zipfile, zlib and numpy's .npy reader.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError,
            NotImplementedError, UnicodeDecodeError, SyntaxError, TypeError, OverflowError)


def read_npz(path, what: str = "file", max_bytes: int | None = None,
             member_limits: dict | None = None) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` file at ``path``: ``{name: ndarray}``.

    Args:
        path: the file (str or PathLike).
        what: what the file should be, for messages ("module state file").
        max_bytes: the most bytes all arrays together may hold; default
            ``DEFAULT_MAX_EXPANSION * file size + 1 MiB``.
        member_limits: optional ``{name: max_bytes}`` for some members (a
            loader that knows the shapes it expects); other members keep the
            overall limit.

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: a directory.
        ValueError: the file is empty, truncated, not a zip archive, holds
            a member that is not a numeric ``.npy`` array, claims more data
            than it holds, or would expand past the limits. The message
            names ``path``.
    """
    path = os.fspath(path)
    size = os.stat(path).st_size  # FileNotFoundError as is
    budget = DEFAULT_MAX_EXPANSION * size + 2**20 if max_bytes is None else int(max_bytes)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = _checked_members(archive, budget, member_limits or {})
            return {name: _read_member(archive, info) for name, info in infos}
    except IsADirectoryError:
        raise
    except _DAMAGED as exc:
        raise ValueError(f"{path!r} is not a {what} (.npz): {exc}") from None
    except MemoryError:
        raise ValueError(f"{path!r} is not a {what} (.npz): an array is too large "
                         "to hold in memory") from None


def _checked_members(archive: zipfile.ZipFile, budget: int, limits: dict) -> list:
    members, total = [], 0
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise ValueError(f"member {info.filename!r} is not an .npy array")
        name = info.filename[:-4]
        limit = limits.get(name, budget)
        if info.file_size > limit:
            raise ValueError(f"member {name!r} expands to {info.file_size:,} bytes, more than "
                             f"the {limit:,} allowed")
        total += info.file_size
        if total > budget:
            raise ValueError(f"the arrays expand to more than {budget:,} bytes")
        members.append((name, info))
    return members


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f"member {info.filename!r}: unsupported .npy version {version}")
        shape, fortran, dtype = reader(f)
        if any(d < 0 for d in shape):
            raise ValueError(f"member {info.filename!r} has a negative dimension in {shape}")
        if dtype.hasobject or dtype.kind not in "biuf" or dtype.fields is not None:
            raise ValueError(f"member {info.filename!r} has dtype {dtype}, not a number or bool")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if nbytes > info.file_size:
            raise ValueError(f"member {info.filename!r} claims shape {shape} ({nbytes:,} bytes) "
                             f"but holds {info.file_size:,} bytes")
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f"member {info.filename!r} is truncated")
    order = "F" if fortran else "C"
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy()


def cast_problem(arr: np.ndarray, dtype: np.dtype) -> str | None:
    """Why copying ``arr`` into an array of ``dtype`` would change a value
    (a finite float that overflows to inf, a fraction or an out-of-range
    number into an integer or bool), or None when every value survives.
    Cost: O(n) NumPy passes, only when the dtypes differ."""
    if arr.dtype == dtype or arr.size == 0:
        return None
    if dtype.kind == "f":
        if arr.dtype.kind == "f" and arr.dtype.itemsize > dtype.itemsize:
            with np.errstate(over="ignore"):
                overflow = np.isfinite(arr) & ~np.isfinite(arr.astype(dtype))
            if overflow.any():
                return f"a value ({arr[overflow].flat[0]!r}) overflows {dtype}"
        return None
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            return f"NaN or inf cannot be stored in {dtype}"
        if (arr != np.trunc(arr)).any():
            return f"a fractional value cannot be stored in {dtype} without truncation"
    if dtype.kind == "b":
        if not np.isin(arr, (0, 1)).all():
            return "a bool buffer takes only 0 and 1"
        return None
    info = np.iinfo(dtype)
    lo, hi = arr.min(), arr.max()
    if lo < info.min or hi > info.max:
        return f"values in [{lo}, {hi}] do not fit {dtype}"
    return None
