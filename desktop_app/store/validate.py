"""Typed reading of an import file's JSON: every problem raises ImportFormatError naming
the file, the place (a JSON path such as sessions[2].messages[14].role) and what is wrong."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn

from desktop_app.store.errors import ImportFormatError

_MISSING: Any = object()
MAX_INT = 2**63 - 1  # what SQLite stores
MAX_DEPTH = 64  # our format nests about 6 deep, ChatGPT's about 8
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200  # a date outside is a broken file, not history


def _sound(doc: Any, depth: int) -> bool:
    """check_tree's rules without building a place for every value: the fast pass."""
    stack: list[tuple[Any, int]] = [(doc, depth)]
    pop, push = stack.pop, stack.append
    while stack:
        value, level = pop()
        if level > MAX_DEPTH:
            return False
        kind = type(value)
        if kind is str:
            if not value.isascii():  # isascii() is a flag lookup; only others encode
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    return False
        elif kind is dict:
            for key, item in value.items():
                if not key.isascii():
                    try:
                        key.encode("utf-8")
                    except UnicodeEncodeError:
                        return False
                push((item, level + 1))
        elif kind is list:
            for item in value:
                push((item, level + 1))
        elif kind is int and not -MAX_INT - 1 <= value <= MAX_INT:
            return False
    return True


def check_tree(doc: Any, file: str, where: str = "", depth: int = 0) -> None:
    """What no field may hold, checked once over the whole document: nesting deeper
    than MAX_DEPTH, whole numbers SQLite cannot store, text that is not valid Unicode
    (lone surrogates, which JSON's \\u escapes allow). A part of a document (a streaming
    import checks one session at a time) gives its place and depth."""
    if _sound(doc, depth):
        return
    stack: list[tuple[Any, str, int]] = [(doc, where, depth)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ImportFormatError(file, where, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, file, where)
                stack.append((item, join(where, key), depth + 1))
        elif isinstance(value, list):
            stack.extend((item, join(where, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, file, where)
        elif (isinstance(value, int) and not isinstance(value, bool)
              and not -MAX_INT - 1 <= value <= MAX_INT):
            raise ImportFormatError(file, where, "the number is too large to store")


def _check_text(text: str, file: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ImportFormatError(file, where, f"invalid text (a lone surrogate at character "
                                             f"{exc.start})") from None


def kind(value: Any) -> str:
    """A JSON reader's name for a value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {dict: "an object", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    if not key.isidentifier() or not key.isascii():  # quoted, control characters escaped
        return f"{where}[{json.dumps(key)}]"
    return f"{where}.{key}" if where else key


class Fields:
    """One JSON object of an import file."""

    def __init__(self, file: str, where: str, value: Any) -> None:
        if not isinstance(value, dict):
            raise ImportFormatError(file, where, f"expected an object, got {kind(value)}")
        self.file = file
        self.where = where
        self.data: dict[str, Any] = value

    def fail(self, key: str | int | None, problem: str) -> NoReturn:
        where = self.where if key is None else join(self.where, key)
        raise ImportFormatError(self.file, where, problem)

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is _MISSING:
            self.fail(key, "this field is required, and is null" if key in self.data
                      else "this field is required")
        return default

    def text(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, str):
            self.fail(key, f"expected text, got {kind(value)}")
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = 0) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected a whole number, got {kind(value)}")
        if minimum is not None and value < minimum:
            self.fail(key, f"expected a number of at least {minimum}, got {value}")
        if value > MAX_INT:
            self.fail(key, "the number is too large")
        return value

    def count_within(self, key: str, most: int | None, notes: list[str]) -> int | None:
        """An optional whole number that must lie in 0..`most` (None: no bound is known,
        so it cannot be checked): None when absent, and None with a line in `notes` when
        out of that range, as a figure that cannot be true is left out, not believed. Not
        a whole number at all: the file is broken (ImportFormatError), as with `integer`."""
        value = self.integer(key, None, minimum=None)
        if value is None:
            return None
        if most is None or not 0 <= value <= most:
            bound = "no prompt count to check it against" if most is None else (
                f"expected 0 to {most:,}")
            notes.append(f"{self.file}: {join(self.where, key)}: {value:,} left out ({bound})")
            return None
        return int(value)

    def number(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default:
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"expected a number, got {kind(value)}")
        if isinstance(value, int) and abs(value) > MAX_INT:
            self.fail(key, "the number is too large")
        if not math.isfinite(value):
            self.fail(key, f"expected a finite number, got {value}")
        return float(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {kind(value)}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: Any = _MISSING) -> Any:
        value = self.text(key, default)
        if value is not default and value not in choices:
            self.fail(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def mapping(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, dict):
            self.fail(key, f"expected an object, got {kind(value)}")
        return value

    def items(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and not isinstance(value, list):
            self.fail(key, f"expected a list, got {kind(value)}")
        return value

    def time(self, key: str) -> datetime | None:
        """An ISO-8601 time or seconds since 1970 (ChatGPT's form); None if absent."""
        value = self._get(key, None)
        if value is None:
            return None
        moment: datetime | None = None
        try:
            if isinstance(value, int | float) and not isinstance(value, bool):
                moment = datetime.fromtimestamp(value, UTC)
            elif isinstance(value, str):
                moment = datetime.fromisoformat(value)
                moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
                moment.astimezone(UTC)  # an offset that leaves the calendar fails here
        except (ValueError, OverflowError, OSError):
            moment = None
        if moment is None:
            self.fail(key, f"expected a date and time, got {str(value)[:80]!r}")
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            self.fail(key, f"the date {str(value)[:80]!r} is not between {EARLIEST_YEAR} and "
                           f"{LATEST_YEAR}")
        return moment

    def child(self, key: str, default: Any = _MISSING) -> Any:
        value = self.mapping(key, default)
        return value if value is default else Fields(self.file, join(self.where, key), value)

    def each(self, key: str, default: Any = _MISSING) -> Iterator[Fields]:
        """The objects of a list field, each knowing its place."""
        where = join(self.where, key)
        for i, item in enumerate(self.items(key, default) or []):
            yield Fields(self.file, join(where, i), item)
