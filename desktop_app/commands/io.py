"""Reading the command line's inputs with clear one-line errors: a missing file, a
binary file, text that is not UTF-8, or JSON that does not parse."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from desktop_app.cli import CliError

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


def read_text_input(path_or_dash: str | None) -> str:
    """The text of a file, or of standard input for '-' or None (saying so on standard
    error when that is a terminal, where it waits for typing)."""
    if path_or_dash in (None, "-"):
        _say_when_waiting_for_a_person()
        data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
        name = "standard input"
    else:
        path = Path(path_or_dash)
        name = str(path)
        if not path.exists():
            raise CliError(f"{name}: no such file")
        if path.is_dir():
            raise CliError(f"{name}: is a folder, not a file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CliError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if isinstance(data, str):
        return data
    if b"\x00" in data[:8192]:
        raise CliError(f"{name}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CliError(f"{name}: not UTF-8 text (bad byte at position {exc.start})") from None


def read_json_input(path_or_dash: str | None) -> Any:
    text = read_text_input(path_or_dash)
    name = "standard input" if path_or_dash in (None, "-") else path_or_dash
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: "
                       f"{exc.msg}") from None
