"""Verified, atomic downloads into a local cache (stdlib and tinytorch-tensor).

The life of one file::

    url = mirror + "/" + filename
      |  stream in 1 MiB chunks, hashing (SHA-256 and MD5) as bytes arrive
      v
    <cache>/.<filename>.<random>.tmp       (a temporary name: never looks valid)
      |  byte count == Content-Length?  digests == the pinned checksums?
      |     no  -> delete the .tmp file, try the next mirror, finally raise
      v     yes
    os.replace(tmp, <cache>/<filename>)   (atomic rename: the file appears whole or not at all)

The temporary file and the rename are :func:`tinytorch.tensor.atomic_write`'s.
An interrupted download (Ctrl-C, a dropped connection, a full disk) leaves
at most a ``.tmp`` file (after a hard crash), which no loader ever reads;
every failure that Python sees deletes even that. A file in the cache is
therefore always one that passed its checksum (or one the user put there,
which is checked on every load).

Mirrors: each data set has a tuple of default base URLs. The ``mirrors=``
argument replaces them; otherwise the environment variable
``TINYTORCH_DATA_MIRROR`` (one base URL, or several separated by commas)
does. Files are fetched as ``<base>/<filename>``.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

from tinytorch.tensor import atomic_write

__all__ = [
    "MIRROR_ENV_VAR",
    "DownloadError",
    "ChecksumError",
    "DatasetNotFoundError",
    "resolve_mirrors",
    "normalize_checksums",
    "file_digests",
    "download_file",
    "ensure_files",
]

MIRROR_ENV_VAR = "TINYTORCH_DATA_MIRROR"
_CHUNK = 1 << 20
_HEX = re.compile(r"^[0-9a-f]+$")
_DIGEST_LENGTHS = {"sha256": 64, "md5": 32}


class DownloadError(OSError):
    """No mirror could deliver a file (network failure, HTTP error, truncation)."""


class ChecksumError(ValueError):
    """A file's bytes do not match its pinned checksum."""


class DatasetNotFoundError(FileNotFoundError):
    """Data files are missing and downloading was not allowed."""


class _TruncatedError(OSError):
    """The server closed the connection before sending Content-Length bytes."""


def resolve_mirrors(mirrors, defaults: Iterable[str]) -> tuple[str, ...]:
    """Base URLs to try, in order: ``mirrors`` > ``$TINYTORCH_DATA_MIRROR`` > defaults.

    Raises:
        TypeError: ``mirrors`` is not a string or a sequence of strings.
        ValueError: an empty list, or a URL whose scheme is not http, https
            or file.
    """
    if mirrors is None:
        env = os.environ.get(MIRROR_ENV_VAR, "").strip()
        mirrors = [m for m in re.split(r"[,\s]+", env) if m] if env else list(defaults)
    elif isinstance(mirrors, str):
        mirrors = [mirrors]
    else:
        mirrors = list(mirrors)
        if not all(isinstance(m, str) for m in mirrors):
            raise TypeError(f"mirrors must be a URL string or a list of them, got {mirrors!r}")
    if not mirrors:
        raise ValueError("mirrors is empty: give at least one base URL")
    out = []
    for m in mirrors:
        scheme = urllib.parse.urlsplit(m).scheme
        if scheme not in ("http", "https", "file"):
            raise ValueError(f"mirror {m!r} must be an http://, https:// or file:// URL")
        out.append(m.rstrip("/"))
    return tuple(out)


def normalize_checksums(checksums: Mapping) -> dict[str, dict[str, str]]:
    """``{filename: {"sha256": hex, "md5": hex}}`` from a user table.

    Each value is either a dict with ``"sha256"`` and/or ``"md5"`` keys, or a
    bare hex string (64 characters: SHA-256, 32: MD5).

    Raises:
        TypeError / ValueError: a value that is not such a digest.
    """
    if not isinstance(checksums, Mapping):
        raise TypeError(
            f"checksums must be a mapping filename -> digest, got {type(checksums).__name__}"
        )
    out: dict[str, dict[str, str]] = {}
    for name, value in checksums.items():
        if isinstance(value, str):
            algo = {64: "sha256", 32: "md5"}.get(len(value.strip()))
            if algo is None:
                raise ValueError(
                    f"checksum for {name!r} has {len(value.strip())} characters; expected a "
                    "64-character SHA-256 or a 32-character MD5 hex digest"
                )
            value = {algo: value}
        if not isinstance(value, Mapping) or not value:
            raise TypeError(f"checksum for {name!r} must be a hex string or a dict, got {value!r}")
        entry = {}
        for algo, digest in value.items():
            if algo not in _DIGEST_LENGTHS:
                raise ValueError(
                    f"checksum for {name!r}: unknown algorithm {algo!r} (sha256 or md5)"
                )
            digest = str(digest).strip().lower()
            if len(digest) != _DIGEST_LENGTHS[algo] or not _HEX.match(digest):
                raise ValueError(f"checksum for {name!r}: {digest!r} is not a {algo} hex digest")
            entry[algo] = digest
        out[name] = entry
    return out


def _new_hashers() -> dict:
    # MD5 is only an integrity check here (it is what torchvision publishes).
    return {"sha256": hashlib.sha256(), "md5": hashlib.md5(usedforsecurity=False)}


def file_digests(path) -> dict[str, str]:
    """SHA-256 and MD5 of a file, read in 1 MiB chunks (one pass)."""
    hashers = _new_hashers()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {k: h.hexdigest() for k, h in hashers.items()}


def _mismatches(actual: Mapping[str, str], expected: Mapping[str, str]) -> list[str]:
    return [
        f"{algo} expected {want}, got {actual[algo]}"
        for algo, want in expected.items()
        if actual[algo] != want
    ]


def _describe(exc: BaseException, timeout: float) -> str:
    """A one-line reason for a failed fetch, without a traceback."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return f"timed out after {timeout:g} s"
        return str(reason.strerror if isinstance(reason, OSError) and reason.strerror else reason)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, _TruncatedError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _fetch(url: str, out, timeout: float) -> dict[str, str]:
    """Stream ``url`` into the open file ``out``; return the digests of the bytes."""
    # A fresh opener reads the proxy settings (and no_proxy) of this moment.
    opener = urllib.request.build_opener()
    request = urllib.request.Request(url, headers={"User-Agent": "tinytorch-data"})
    hashers = _new_hashers()
    received = 0
    with opener.open(request, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
        while chunk := resp.read(_CHUNK):
            out.write(chunk)
            received += len(chunk)
            for h in hashers.values():
                h.update(chunk)
    # http.client does not raise when a server closes before Content-Length
    # bytes arrived, so the byte count is checked here.
    if length is not None and length.isdigit() and received != int(length):
        raise _TruncatedError(
            f"connection closed after {received} of {int(length)} bytes (Content-Length)"
        )
    return {k: h.hexdigest() for k, h in hashers.items()}


def _fetch_verified(url: str, expected: Mapping[str, str], timeout: float, out) -> None:
    """Stream ``url`` into ``out``; raise ChecksumError if its digests differ from ``expected``."""
    wrong = _mismatches(_fetch(url, out, timeout), expected)
    if wrong:
        raise ChecksumError("; ".join(wrong))


def download_file(
    filename: str,
    dest_dir,
    mirrors: Iterable[str],
    expected: Mapping[str, str],
    timeout: float = 60.0,
) -> Path:
    """Fetch ``filename`` from the first mirror that delivers verified bytes.

    Args:
        filename: the file's name on the mirrors and in the cache.
        dest_dir: cache directory (created if needed).
        mirrors: base URLs, tried in order.
        expected: ``{"sha256": hex}`` and/or ``{"md5": hex}``; every digest
            given must match.
        timeout: seconds for connecting and for each read.

    Returns:
        ``dest_dir / filename``, written atomically.

    Raises:
        ChecksumError: some mirror delivered bytes with the wrong digest and
            none delivered the right ones (no file is left behind).
        DownloadError: every mirror failed (the message names each URL and
            why), e.g. offline, connection refused, HTTP 404, truncated.
    """
    if not expected:
        raise ValueError(f"no checksum known for {filename!r}: refusing to download it unverified")
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    failures: list[str] = []
    bad_checksums: list[str] = []
    for base in mirrors:
        url = f"{base}/{filename}"
        try:
            # atomic_write deletes the temporary file on every failure,
            # Ctrl-C included: no partial file survives.
            atomic_write(dest, functools.partial(_fetch_verified, url, expected, timeout))
            return dest
        except ChecksumError as exc:
            bad_checksums.append(f"  {url}: {exc}")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            failures.append(f"  {url}: {_describe(exc, timeout)}")
    if bad_checksums:
        raise ChecksumError(
            f"checksum mismatch for {filename} (the download was deleted):\n"
            + "\n".join(bad_checksums + failures)
        )
    raise DownloadError(
        f"could not download {filename}; tried:\n" + "\n".join(failures) + "\n"
        f"Check the network connection, or set {MIRROR_ENV_VAR} (or pass mirrors=) to a "
        f"mirror that serves {filename}, or put the file in {dest_dir} yourself."
    )


def ensure_files(
    filenames: Iterable[str],
    dest_dir,
    *,
    download: bool,
    mirrors: tuple[str, ...],
    checksums: Mapping[str, Mapping[str, str]],
    dataset: str,
    timeout: float = 60.0,
) -> list[Path]:
    """Make sure every file is in ``dest_dir`` and verified; download if allowed.

    A file already in the cache is verified against its checksum (one read,
    O(file size)); a corrupted one is replaced when ``download`` is true and
    reported otherwise.

    Raises:
        DatasetNotFoundError: files missing and ``download=False`` (the
            message says which, where to put them, and to pass download=True).
        ChecksumError: a cached or downloaded file with the wrong digest.
        DownloadError: see :func:`download_file`.
        ValueError: a file with no entry in ``checksums``.
    """
    dest_dir = Path(dest_dir)
    filenames = list(filenames)
    for name in filenames:
        if not checksums.get(name):
            raise ValueError(
                f"{dataset}: no checksum given for {name!r}; refusing to use it unverified"
            )
    missing = [n for n in filenames if not (dest_dir / n).is_file()]
    if missing and not download:
        raise DatasetNotFoundError(
            f"{dataset} files not found in {dest_dir}: {', '.join(missing)}. "
            f"Pass download=True to fetch them (from {mirrors[0]}/...), or copy the files "
            "into that directory yourself."
        )
    paths = []
    for name in filenames:
        path = dest_dir / name
        if path.is_file():
            wrong = _mismatches(file_digests(path), checksums[name])
            if not wrong:
                paths.append(path)
                continue
            if not download:
                raise ChecksumError(
                    f"{dataset}: {path} is corrupted or not the expected file ("
                    + "; ".join(wrong)
                    + "). Delete it and pass download=True to fetch it again."
                )
        paths.append(download_file(name, dest_dir, mirrors, checksums[name], timeout=timeout))
    return paths
