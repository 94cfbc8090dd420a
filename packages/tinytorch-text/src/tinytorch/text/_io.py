"""Saving and loading tokenizer files: atomic JSON writes and checked reads.

Both tokenizers save themselves as a small JSON document with a ``"type"``
and a ``"format_version"`` field. Writing goes through the stack's one
:func:`tinytorch.tensor.atomic_write` (temporary file in the destination
directory, fsync, ``os.replace``), so an interrupted save leaves either the
old file or the new one, never a truncated mix. That helper is the reason
``tinytorch-text`` declares ``tinytorch-tensor``: the tokenizers themselves
only need NumPy.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tinytorch.tensor import atomic_write

FORMAT_VERSION = 1
#: The largest tokenizer file read (64 MiB): a BPE file of MAX_VOCAB_SIZE
#: merges is about 4 MB, a character vocabulary far less.
MAX_FILE_BYTES = 64 * 2**20


def atomic_write_json(path: str | os.PathLike[str], document: dict[str, Any]) -> None:
    """Write ``document`` as JSON to ``path`` atomically.

    The JSON is serialised completely *before* the temporary file is opened,
    so a document that cannot be serialised never touches the disk. The
    temporary file lives in the same directory as ``path`` because
    ``os.replace`` is only atomic within one file system.

    Raises:
        TypeError: ``document`` holds a value JSON cannot represent.
        OSError: the directory does not exist or is not writable. In every
            failure case the previous contents of ``path`` are left intact
            and the temporary file is removed.
    """
    path = os.fspath(path)
    # ensure_ascii=True escapes every non-ASCII character (including lone
    # surrogates, which a UTF-8 file could not hold) so any str round-trips.
    text = json.dumps(document, indent=1, ensure_ascii=True) + "\n"
    atomic_write(path, lambda f: f.write(text), binary=False, encoding="ascii")


def read_json_document(path: str | os.PathLike[str], expected_type: str) -> dict[str, Any]:
    """Read a tokenizer file and check its envelope (``type``, ``format_version``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is larger than ``MAX_FILE_BYTES``, is not UTF-8
            JSON (or is nested too deeply to parse), is not a JSON object,
            was written by another tokenizer class, or has an unknown format
            version. The message names the file.
    """
    path = os.fspath(path)
    size = os.stat(path).st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(f"{path!r} is not a valid {expected_type} file: {size:,} bytes, more "
                         f"than the {MAX_FILE_BYTES:,} a tokenizer file may have")
    with open(path, "rb") as f:
        raw = f.read(MAX_FILE_BYTES + 1)  # a file that grew since the stat is still bounded
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(f"{path!r} is not a valid {expected_type} file: more than "
                         f"{MAX_FILE_BYTES:,} bytes")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path!r} is not a valid {expected_type} file: not UTF-8 text ({exc})"
        ) from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path!r} is not a valid {expected_type} file: invalid JSON ({exc})"
        ) from None
    except RecursionError:
        raise ValueError(
            f"{path!r} is not a valid {expected_type} file: JSON nested too deeply"
        ) from None
    if not isinstance(document, dict):
        raise ValueError(
            f"{path!r} is not a valid {expected_type} file: expected a JSON object, "
            f"got {type(document).__name__}"
        )
    found_type = document.get("type")
    if found_type != expected_type:
        raise ValueError(
            f"{path!r} is not a valid {expected_type} file: its 'type' field is {found_type!r}"
        )
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path!r}: unsupported {expected_type} format_version {version!r} "
            f"(this version reads {FORMAT_VERSION})"
        )
    return document


def require_field(
    document: dict[str, Any], name: str, kind: type | tuple[type, ...], path: Any, what: str
) -> Any:
    """Return ``document[name]``; a ValueError names the file if it is missing or mistyped."""
    if name not in document:
        raise ValueError(f"{os.fspath(path)!r} is not a valid {what} file: missing field {name!r}")
    value = document[name]
    # bool is a subclass of int; a JSON true is never a valid count or id here.
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(
            f"{os.fspath(path)!r} is not a valid {what} file: field {name!r} must be {names}, "
            f"got {type(value).__name__}"
        )
    return value
