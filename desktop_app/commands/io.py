"""Reading the command line's inputs with clear one-line errors: a missing file, a
binary file, text that is not UTF-8, or JSON that does not parse."""

from __future__ import annotations

import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.cli import CliError
from desktop_app.core.files import (
    FileReadError,
    check_readable,
    decode_text,
    parse_json,
    read_stream,
)

if TYPE_CHECKING:
    from desktop_app.store import Database

STDIN_NOTICE = "token-budget: reading from standard input ({} to end)"


def _say_when_waiting_for_a_person() -> None:
    """Standard input on a terminal waits for typing: say so instead of seeming to hang."""
    try:
        interactive = sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced by something without a tty
        interactive = False
    if interactive:
        keys = "Ctrl+Z then Enter" if sys.platform == "win32" else "Ctrl+D"
        print(STDIN_NOTICE.format(keys), file=sys.stderr, flush=True)


MAX_INPUT_BYTES = 64 << 20  # 64 MB: far beyond any window, well within memory


def argument_text(value: str | None, what: str) -> str | None:
    """A text argument as given, or CliError when it is not UTF-8: bytes that are not
    reach Python as lone surrogates, which no request, database or file can hold."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = value[exc.start]
        raw = f"byte 0x{ord(char) - 0xDC00:02x}" if 0xDC80 <= ord(char) <= 0xDCFF else \
            f"character U+{ord(char):04X}"
        raise CliError(f"{what} is not UTF-8 text ({raw} at character {exc.start + 1})") \
            from None
    return value


def read_text_input(path_or_dash: str | None) -> str:
    """The text of a file, or of standard input for '-' or None (saying so on standard
    error when that is a terminal, where it waits for typing). At most MAX_INPUT_BYTES
    are read: a larger file is refused before reading, an endless one (/dev/zero) after;
    reading something that is not a regular file (a pipe, a device) is said on standard
    error, so waiting for a writer never looks like a hang."""
    limit = MAX_INPUT_BYTES
    name = "standard input" if path_or_dash in (None, "-") else str(path_or_dash)
    try:
        if path_or_dash in (None, "-"):
            _say_when_waiting_for_a_person()
            stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin
            data = read_stream(stream, name, limit)
        else:
            path = Path(path_or_dash)
            if not check_readable(path, name, limit, regular_only=False):
                what = "a pipe" if stat.S_ISFIFO(path.stat().st_mode) else "not a regular file"
                print(f"token-budget: reading {name} ({what}: waiting for its data, at most "
                      f"{limit >> 20} MB)", file=sys.stderr, flush=True)
            try:
                with open(path, "rb") as handle:
                    data = read_stream(handle, name, limit)
            except OSError as exc:
                raise CliError(f"{name}: cannot read ({exc.strerror or exc})") from None
        return data if isinstance(data, str) else decode_text(data, name)
    except FileReadError as exc:
        hint = ("; token-budget reads at most that much text (give it a part)"
                if exc.too_large else "")
        raise CliError(f"{exc}{hint}") from None


def read_json_input(path_or_dash: str | None) -> Any:
    text = read_text_input(path_or_dash)
    name = "standard input" if path_or_dash in (None, "-") else str(path_or_dash)
    try:
        return parse_json(text, name)
    except FileReadError as exc:
        raise CliError(str(exc)) from None


@contextmanager
def store_errors() -> Iterator[None]:
    """A store's error, as the one line the command line prints."""
    from desktop_app.store import StoreError

    try:
        yield
    except StoreError as exc:
        raise CliError(str(exc)) from None


def connect_for(db: Database, model: str, args: Any, *, discover: bool = True) -> Any:
    """(provider, connection) for a command that talks to a model, chosen as the window
    chooses: --base-url, else --provider, else the provider that lists the model (else
    the default one). No model set up, or a setup that cannot work, is one line. The
    connection's warnings are printed."""
    from desktop_app.services.connection import ConnectionSetupError, chosen_provider, connect

    try:
        provider = chosen_provider(db, model, provider=args.provider, base_url=args.base_url)
        connection = connect(db, model, base_url=args.base_url, discover=discover,
                             provider=None if args.base_url or provider is None
                             else provider.name)
    except ConnectionSetupError as exc:
        raise CliError(str(exc)) from None
    if connection is None:
        raise CliError("no model is set up: pass --base-url URL or --provider NAME, "
                       "or set OPENAI_API_KEY")
    for w in connection.warnings:
        print(f"warning: {w}", file=sys.stderr, flush=True)
    return provider, connection


@contextmanager
def open_store(data_dir: str | Path | None, *, read_only_ok: bool = False) -> Iterator[Database]:
    """The database for a command: what the store has to say at open (a reply restored,
    a row skipped as unreadable) printed as notes, every store error as one line, and
    closed at the end. A command that only reads passes `read_only_ok`: a database on
    read-only media then opens for reading (said in a note) instead of being refused."""
    from desktop_app.store import open_database

    with store_errors():
        db = open_database(data_dir, read_only_ok=read_only_ok)
        for note in db.notices:
            print(f"note: {note}", file=sys.stderr, flush=True)
        try:
            yield db
        finally:
            db.close()
