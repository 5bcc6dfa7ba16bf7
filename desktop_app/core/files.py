"""The files a person names. Reading one within a size bound, with a one-line reason
when it cannot be read: missing, a folder, not a regular file, too large (refused before
reading, or once it grew past the bound while being read), binary, not UTF-8, or not
JSON; the command line, experiments and progressive documents read their inputs through
here. Writing one whole or not at all (exports, progressive runs)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

MAX_FILE_BYTES = 64 << 20  # 64 MB: more text than any request, run or experiment takes


class FileReadError(ValueError):
    """Why a file could not be read, in one line that starts with its name;
    `too_large` when its size is why (a caller may add what to do instead)."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def too_large(name: str, limit: int = MAX_FILE_BYTES) -> FileReadError:
    return FileReadError(f"{name}: larger than {limit >> 20} MB", too_large=True)


def read_stream(stream: BinaryIO, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """At most `limit` bytes of `stream`; too_large when there are more."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise too_large(name, limit)
    return data


def check_readable(path: Path, name: str, limit: int = MAX_FILE_BYTES,
                   regular_only: bool = True) -> bool:
    """Refuse what cannot be read as a file before opening it; whether it is a regular
    file (a pipe or device is allowed only when `regular_only` is False)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileReadError(f"{name}: no such file") from None
    except OSError as exc:
        raise FileReadError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise FileReadError(f"{name}: is a folder, not a file")
    regular = stat.S_ISREG(info.st_mode)
    if not regular and regular_only:
        raise FileReadError(f"{name}: not a regular file")
    if regular and info.st_size > limit:
        raise too_large(name, limit)
    return regular


def read_bytes(path: str | Path, name: str | None = None,
               limit: int = MAX_FILE_BYTES) -> bytes:
    """A regular file's bytes, at most `limit` of them."""
    name = str(path) if name is None else name
    check_readable(Path(path), name, limit)
    try:
        with open(path, "rb") as handle:
            return read_stream(handle, name, limit)
    except OSError as exc:
        raise FileReadError(f"{name}: cannot read ({exc.strerror or exc})") from None


def decode_text(data: bytes, name: str, what: str = "text") -> str:
    """`data` as UTF-8 text (a byte-order mark dropped); refused when it looks binary."""
    if b"\x00" in data[:8192]:
        raise FileReadError(f"{name}: looks like a binary file, not {what}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileReadError(f"{name}: not UTF-8 text (bad byte at position {exc.start})"
                            ) from None


def parse_json(text: str, name: str) -> Any:
    """`text` as JSON; one line saying where it is not."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileReadError(f"{name}: invalid JSON at line {exc.lineno}, column "
                            f"{exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise FileReadError(f"{name}: JSON nested too deeply to read") from None


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write the whole file or nothing: a temporary file in the same folder, flushed to
    the disk, then renamed over `path`. OSError (the temporary file removed) when it
    cannot be written."""
    path = Path(path)
    tmp: str | None = None
    try:
        handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
