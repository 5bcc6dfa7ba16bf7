"""What the command line prints to a terminal cannot drive it: control characters in
titles, messages, file names and model replies (ESC sequences that move the cursor,
retitle the window or hide text; C1's CSI) are shown as escapes."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from desktop_app.core.text import HIDDEN_CONTROL_CLASS

# C0 controls, DEL and C1 controls (U+009B is CSI on many terminals), and the characters
# that reorder or hide text (a right-to-left override makes "gnp.exe" read "exe.png")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]|" + HIDDEN_CONTROL_CLASS)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str, keep: str = "\n\t") -> str:
    """Text with its control characters (all but those in `keep`) shown as escapes, so a
    title or message printed to a terminal cannot move the cursor, retitle the window,
    hide text (ESC sequences) or reverse it (bidi overrides)."""
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m.group()),
                        text)


def json_terminal_safe(text: str) -> str:
    """JSON text with the controls JSON leaves raw (DEL, C1, bidi) written as \\u escapes:
    the same JSON, harmless on a terminal. (json.dumps already escapes C0 in strings.)"""
    return _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else
                        f"\\u{ord(m.group()):04x}", text)


class _TerminalStream:
    """A terminal's stream that writes every control character but a newline, a tab and
    a carriage return (a progress bar's) as an escape; everything else as the stream."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text, keep="\n\t\r"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed, or replaced by something without one
        return False


@contextmanager
def guarded_terminal() -> Iterator[None]:
    """While a command runs, standard output and error that are terminals escape
    control characters, whichever part of the program prints: a reply streamed as it
    comes, an error that quotes a file, a library's message. A pipe or a file gets the
    text as it is."""
    saved = sys.stdout, sys.stderr
    if _is_terminal(sys.stdout):
        sys.stdout = _TerminalStream(sys.stdout)  # type: ignore[assignment]
    if _is_terminal(sys.stderr):
        sys.stderr = _TerminalStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
