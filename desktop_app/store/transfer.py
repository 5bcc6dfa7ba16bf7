"""Export to our JSON format and to Markdown; import our JSON or a ChatGPT data export.

Our format ("token-budget", version 1) holds, per session: its settings and allocation
profile, its messages in the chat-completions shape (role, content, name) with our
extras under "meta", its summaries, its memory and its per-turn usage; with --all also
the global memory. No ids travel: references are indexes into the session's message
list. Later additions ("usage") are optional on import, so older exports still import.

Import is atomic: the file is read, checked and written a session at a time, all in one
transaction, so a problem anywhere (or a cancel) leaves the database as it was. A problem
names the file, the place and the field."""

from __future__ import annotations

import json
import math
import re
import stat
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from desktop_app import __version__
from desktop_app.core import files
from desktop_app.core.app_records import TurnUsage
from desktop_app.core.budget import AllocationProfile, ProfileError
from desktop_app.core.history import STRATEGIES, HistoryStrategy, StrategyError
from desktop_app.core.records import (
    FACT_ORIGINS,
    MESSAGE_STATUSES,
    ROLES,
    MemoryFact,
    Message,
    Session,
    Summary,
)
from desktop_app.store.bundles import (
    ImportResult,
    MemoryEntry,
    SessionBundle,
    SummaryEntry,
    UsageEntry,
    read_bundles,
    write_bundles,
)
from desktop_app.store.chatgpt import (
    chatgpt_conversation,
    looks_like_chatgpt,
    parse_chatgpt,
    skipped_notes,
)
from desktop_app.store.errors import ImportFormatError, StoreError
from desktop_app.store.validate import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    MAX_DEPTH,
    MAX_INT,
    Fields,
    check_tree,
    kind,
)

if TYPE_CHECKING:
    from desktop_app.store.database import Database

FORMAT_NAME = "token-budget"
FORMAT_VERSION = 1
EXPORT_FORMATS = ("json", "md")


def _time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="microseconds") if moment else None


def _all_ids(db: Database) -> list[int]:
    sessions = db.sessions.list(include_archived=True)
    return [s.id for s in sorted(sessions, key=lambda s: s.id or 0) if s.id is not None]


# --- export: our JSON ----------------------------------------------------------------


def _message_json(m: Message) -> dict[str, Any]:
    out = m.to_chat()
    out["meta"] = {
        "status": m.status,
        "pinned": m.pinned,
        "excluded": m.excluded,
        "created_at": _time(m.created_at),
        "prompt_tokens": m.prompt_tokens,
        "completion_tokens": m.completion_tokens,
        "cost": m.cost,
        "error": m.error,
        "token_counts": dict(sorted(m.token_counts.items())),
    }
    return out


def _fact_json(f: MemoryFact, source: int | None) -> dict[str, Any]:
    return {
        "key": f.key,
        "value": f.value,
        "pinned": f.pinned,
        "source_message": source,
        "tokens": f.tokens,
        "updated_at": _time(f.updated_at),
        "origin": f.origin,
    }


def _usage_json(e: UsageEntry) -> dict[str, Any]:
    u = e.usage
    return {
        "reply_message": e.reply,
        "created_at": _time(u.created_at),
        "model": u.model,
        "components": dict(sorted(u.components.items())),
        "prompt_tokens": u.prompt_tokens,
        "reported_prompt_tokens": u.reported_prompt_tokens,
        "reported_completion_tokens": u.reported_completion_tokens,
        "cached_prompt_tokens": u.cached_prompt_tokens,
        "cost": u.cost,
    }


def _bundle_json(b: SessionBundle) -> dict[str, Any]:
    s = b.session
    profile = (
        {
            "name": b.profile.name,
            "builtin": b.profile.builtin,
            "description": b.profile.description,
            "fractions": dict(b.profile.fractions),
        }
        if b.profile
        else {"name": s.profile}
    )
    return {
        "title": s.title,
        "model": s.model,
        "strategy": s.strategy,
        "strategy_settings": s.strategy_settings,
        "profile": profile,
        "system_prompt": s.system_prompt,
        "examples": s.examples,
        "archived": s.archived,
        "created_at": _time(s.created_at),
        "updated_at": _time(s.updated_at),
        "messages": [_message_json(m) for m in b.messages],
        "summaries": [
            {
                "text": e.summary.text,
                "first_message": e.first,
                "last_message": e.last,
                "method": e.summary.method,
                "model": e.summary.model,
                "tokens": e.summary.tokens,
                "retention": e.summary.retention,
                "created_at": _time(e.summary.created_at),
            }
            for e in b.summaries
        ],
        "memory": [_fact_json(e.fact, e.source) for e in b.memory],
        "usage": [_usage_json(e) for e in b.usage],
    }


def export_document(db: Database, session_ids: Sequence[int] | None = None) -> dict[str, Any]:
    """Our JSON document for these sessions (None: every session and the global memory)."""
    everything = session_ids is None
    ids = _all_ids(db) if session_ids is None else list(session_ids)
    doc: dict[str, Any] = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "app_version": __version__,
        "exported_at": _time(datetime.now(UTC)),
        "sessions": [_bundle_json(b) for b in read_bundles(db, ids)],
    }
    if everything:
        doc["global_memory"] = [_fact_json(f, None) for f in db.memory.list_global()]
    return doc


# --- export: Markdown ----------------------------------------------------------------


def _stamp(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "unknown time"


def _markdown_session(b: SessionBundle) -> str:
    s = b.session
    lines = [f"# {s.title}", ""]
    lines.append(f"- Model: {s.model} · Strategy: {s.strategy} · Profile: {s.profile}")
    lines.append(f"- Created: {_stamp(s.created_at)} · Updated: {_stamp(s.updated_at)}")
    lines.append(f"- Messages: {len(b.messages)}" + (" · Archived" if s.archived else ""))
    if s.system_prompt:
        lines += ["", "## System prompt", "", s.system_prompt]
    if s.examples:
        lines += ["", "## Examples", ""]
        for ex in s.examples:
            lines += [f"**{str(ex.get('role', '')).capitalize()}:** {ex.get('content', '')}", ""]
    lines += ["", "## Conversation"]
    for i, m in enumerate(b.messages, start=1):
        marks = [m.status] if m.status != "complete" else []
        marks += ["pinned"] * m.pinned + ["excluded from context"] * m.excluded
        who = m.role.capitalize() + (f" ({m.name})" if m.name else "")
        extra = f" — {', '.join(marks)}" if marks else ""
        lines += ["", f"### {i}. {who} · {_stamp(m.created_at)}{extra}", "", m.content]
        if m.error:
            lines += ["", f"> Error: {m.error}"]
    if b.summaries:
        lines += ["", "## Summaries"]
        for n, e in enumerate(b.summaries, start=1):
            span = (
                f"messages {e.first + 1}–{e.last + 1}"
                if e.first is not None and e.last is not None
                else "earlier messages"
            )
            by = f"{e.summary.method}" + (f", {e.summary.model}" if e.summary.model else "")
            lines += ["", f"### Summary {n} of {span} ({by})", "", e.summary.text]
    if b.memory:
        lines += ["", "## Memory", ""]
        lines += [
            f"- **{e.fact.key}**: {e.fact.value}" + (" (pinned)" if e.fact.pinned else "")
            for e in b.memory
        ]
    return "\n".join(lines) + "\n"


def export_markdown(db: Database, session_ids: Sequence[int] | None = None) -> str:
    ids = _all_ids(db) if session_ids is None else list(session_ids)
    return "\n---\n\n".join(_markdown_session(b) for b in read_bundles(db, ids))


def render_export(db: Database, fmt: str, session_ids: Sequence[int] | None = None) -> str:
    if fmt == "json":
        return json.dumps(export_document(db, session_ids), ensure_ascii=False, indent=2) + "\n"
    if fmt == "md":
        return export_markdown(db, session_ids)
    raise StoreError(f"unknown export format {fmt!r} (known: {', '.join(EXPORT_FORMATS)})")


def write_text_atomically(path: Path, text: str) -> None:
    """Write the whole file or nothing (core.files), a failure as a StoreError."""
    try:
        files.write_text_atomically(path, text)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_export(
    db: Database, path: Path | str, fmt: str, session_ids: Sequence[int] | None = None
) -> None:
    write_text_atomically(Path(path), render_export(db, fmt, session_ids))


# --- import --------------------------------------------------------------------------


MAX_IMPORT_BYTES = 1 << 30  # 1 GiB of JSON text, the file or the zip's member unpacked


def _too_large(name: str) -> ImportFormatError:
    return ImportFormatError(name, "", f"the file is larger than {MAX_IMPORT_BYTES >> 20:,} MB "
                             "of JSON; not importing it")


def _read_json(path: Path) -> tuple[str, Any]:
    name, text = _read_text(path)
    return name, parse_json_text(text, name)


def _read_text(path: Path) -> tuple[str, str]:
    """The file's JSON text (a zip's conversations.json), bounded by MAX_IMPORT_BYTES."""
    name = path.name
    try:
        # a device (/dev/zero), a pipe or a socket has no end to read to or would wait
        # for a writer: only a file's bytes are imported
        if not stat.S_ISREG(path.stat().st_mode):
            raise ImportFormatError(name, "", "not a file (a folder, a device or a pipe); "
                                    "not importing it")
        if zipfile.is_zipfile(path):  # a ChatGPT export as downloaded
            with zipfile.ZipFile(path) as archive:
                members = [n for n in archive.namelist() if n.endswith("conversations.json")]
                if not members:
                    raise ImportFormatError(name, "", "the zip file has no conversations.json")
                name = f"{name}/{members[0]}"
                if archive.getinfo(members[0]).file_size > MAX_IMPORT_BYTES:
                    raise _too_large(name)
                with archive.open(members[0]) as member:  # the header's size may lie
                    raw = member.read(MAX_IMPORT_BYTES + 1)
        else:
            if path.stat().st_size > MAX_IMPORT_BYTES:
                raise _too_large(name)
            with open(path, "rb") as handle:
                raw = handle.read(MAX_IMPORT_BYTES + 1)
    except (OSError, zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError,
            ValueError) as exc:
        raise ImportFormatError(name, "", f"cannot read the file ({exc})") from exc
    if len(raw) > MAX_IMPORT_BYTES:
        raise _too_large(name)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(name, f"byte {exc.start}", "the file is not UTF-8 text") from exc
    return name, text


def _no_constant(word: str) -> Any:
    raise ValueError(f"{word} is not a number JSON allows")


def _not_json(name: str, exc: ValueError) -> ImportFormatError:
    """The error for a value the decoder refused (NaN, Infinity; a number too long for
    Python, said in our words rather than Python's advice to its programmers)."""
    if "integer string conversion" in str(exc):
        return ImportFormatError(name, "", "a number in it has more than "
                                 f"{sys.get_int_max_str_digits():,} digits")
    return ImportFormatError(name, "", f"not valid JSON ({exc})")


def parse_json_text(text: str, name: str) -> Any:
    """JSON text as checked data: ImportFormatError for anything wrong (NaN and Infinity
    included), never another exception."""
    if not text.strip():
        raise ImportFormatError(name, "", "the file is empty")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(
            name, f"line {exc.lineno}, column {exc.colno}", f"not valid JSON ({exc.msg})"
        ) from exc
    except ValueError as exc:
        raise _not_json(name, exc) from exc
    except RecursionError:
        raise ImportFormatError(name, "", f"nested more than {MAX_DEPTH} levels deep") from None
    check_tree(doc, name)
    return doc


def _parse_message(f: Fields) -> Message:
    meta = f.child("meta", None)
    content = f.text("content", None)
    if content is None:
        f.fail("content", "this field is required")
    message = Message(
        role=f.choice("role", ROLES),
        content=content,
        name=f.text("name", None),
    )
    if meta is not None:
        message.status = meta.choice("status", MESSAGE_STATUSES, "complete")
        message.pinned = meta.flag("pinned")
        message.excluded = meta.flag("excluded")
        message.created_at = meta.time("created_at")
        message.prompt_tokens = meta.integer("prompt_tokens", None)
        message.completion_tokens = meta.integer("completion_tokens", None)
        message.cost = meta.number("cost", None)
        message.error = meta.text("error", None)
        # imported counts are never trusted (a wrong one would make the gauge lie):
        # the message is counted again when it is needed
        meta.child("token_counts", None)
    if message.status == "streaming":
        message.status = "interrupted"  # nothing is streaming into an imported message
    return message


# --- import: the plain message, read fast ---------------------------------------------
#
# Nearly every message of a file is plain: the fields we know, each present or null and
# of the right type. Reading such a message needs neither the checked reader (Fields,
# which builds a place name for every value) nor check_tree's walk over it, and those
# were most of an import's time. Anything else is read as before, so the result and any
# problem named are the same.

_MESSAGE_KEYS = frozenset(("role", "content", "name", "meta"))
_META_KEYS = frozenset(("status", "pinned", "excluded", "created_at", "prompt_tokens",
                        "completion_tokens", "cost", "error", "token_counts"))


def _sound_text(text: str) -> bool:
    """No lone surrogate (check_tree's rule for text)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _sound_leaf(value: Any) -> bool:
    """A value check_tree passes that holds no other: text, a storable number, a flag."""
    of = type(value)
    if of is str:
        return _sound_text(value)
    if of is int:
        return -MAX_INT - 1 <= value <= MAX_INT
    return value is None or of is float or of is bool


def _count(value: Any) -> bool:
    """Fields.integer's rule for a count (absent, or a whole number 0..MAX_INT)."""
    return value is None or type(value) is int and 0 <= value <= MAX_INT


def _plain_time(value: Any) -> datetime | None:
    """Fields.time's reading of an ISO-8601 text; None for anything else."""
    if type(value) is not str or not value.isascii():
        return None
    try:
        moment = datetime.fromisoformat(value)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        moment.astimezone(UTC)  # an offset that leaves the calendar fails here
    except (ValueError, OverflowError):
        return None
    return moment if EARLIEST_YEAR <= moment.year <= LATEST_YEAR else None


def _plain_message(item: Any) -> Message | None:
    """_parse_message's result for a plain message, which check_tree would pass too;
    None for any other."""
    if type(item) is not dict or not item.keys() <= _MESSAGE_KEYS:
        return None
    role, content, name = item.get("role"), item.get("content"), item.get("name")
    if not (role in ROLES and type(content) is str and _sound_text(content)
            and (name is None or type(name) is str and _sound_text(name))):
        return None
    meta = item.get("meta")
    if meta is None:
        return Message(role=role, content=content, name=name)
    if type(meta) is not dict or not meta.keys() <= _META_KEYS:
        return None
    status, pinned, excluded = meta.get("status"), meta.get("pinned"), meta.get("excluded")
    status = "complete" if status is None else status
    pinned = False if pinned is None else pinned
    excluded = False if excluded is None else excluded
    created, cost, error = meta.get("created_at"), meta.get("cost"), meta.get("error")
    prompt, completion = meta.get("prompt_tokens"), meta.get("completion_tokens")
    counts = meta.get("token_counts")  # read and dropped: imported counts are not trusted
    moment = None if created is None else _plain_time(created)
    if not (status in MESSAGE_STATUSES and type(pinned) is bool and type(excluded) is bool
            and (moment is not None or created is None)
            and _count(prompt) and _count(completion)
            and (cost is None or type(cost) is float and math.isfinite(cost))
            and (error is None or type(error) is str and _sound_text(error))
            and (counts is None or type(counts) is dict and (not counts or all(
                _sound_text(k) and _sound_leaf(v) for k, v in counts.items())))):
        return None
    return Message(
        role=role, content=content, name=name,
        status="interrupted" if status == "streaming" else status,
        pinned=pinned, excluded=excluded, created_at=moment, prompt_tokens=prompt,
        completion_tokens=completion, cost=cost, error=error)


def _plain_messages(session: Any) -> list[Message] | None:
    """The session's messages when every one is plain, else None."""
    found = session.get("messages") if type(session) is dict else None
    if type(found) is not list:
        return None
    messages = []
    for item in found:
        message = _plain_message(item)
        if message is None:
            return None
        messages.append(message)
    return messages


def _read_session(item: Any, file: str, where: str) -> SessionBundle:
    """A session of a file: checked (check_tree) and read, its plain messages fast."""
    messages = _plain_messages(item)
    if messages is None:
        check_tree(item, file, where, 2)
        return _parse_session(Fields(file, where, item))
    check_tree({k: v for k, v in item.items() if k != "messages"}, file, where, 2)
    return _parse_session(Fields(file, where, item), messages)


def _index(f: Fields, key: str, count: int) -> int | None:
    value = f.integer(key, None)
    if value is not None and value >= count:
        f.fail(key, f"refers to message {value}, but the session has {count} messages")
    return value


def _parse_fact(f: Fields, count: int) -> MemoryEntry:
    fact = MemoryFact(
        key=f.text("key"),
        value=f.text("value"),
        pinned=f.flag("pinned"),
        tokens=f.integer("tokens", None),
        updated_at=f.time("updated_at"),
        origin=f.choice("origin", FACT_ORIGINS, None),  # absent or null: not recorded
    )
    if not fact.key.strip():
        f.fail("key", "a memory key cannot be empty")
    return MemoryEntry(fact, _index(f, "source_message", count))


def _parse_usage(f: Fields, count: int, notes: list[str]) -> UsageEntry:
    components = f.child("components", None)
    usage = TurnUsage(
        components={k: components.integer(k) for k in components.data} if components else {},
        prompt_tokens=f.integer("prompt_tokens", None),
        reported_prompt_tokens=f.integer("reported_prompt_tokens", None),
        reported_completion_tokens=f.integer("reported_completion_tokens", None),
        cost=f.number("cost", None),
        model=f.text("model", None),
        created_at=f.time("created_at"),
    )
    # a part of the prompt the server billed (ours when it reported none): a count
    # outside 0..prompt cannot be true and is dropped; one that is not a whole number is
    # a broken file, like any other count
    billed = usage.reported_prompt_tokens
    prompt = billed if billed is not None else usage.prompt_tokens
    usage.cached_prompt_tokens = f.count_within("cached_prompt_tokens", prompt, notes)
    return UsageEntry(usage, _index(f, "reply_message", count))


def _parse_profile(f: Fields | None, name: str) -> AllocationProfile | None:
    """The profile the file defines (a built-in of the exporting version included: this
    version may not have it); None when the file only names it."""
    if f is None or "fractions" not in f.data:
        return None
    f.flag("builtin")
    fractions = f.mapping("fractions")
    try:
        return AllocationProfile(name, fractions, description=f.text("description", ""))
    except ProfileError as exc:
        f.fail("fractions", str(exc))


def _parse_session(f: Fields, messages: list[Message] | None = None) -> SessionBundle:
    """A checked session; `messages`: its messages, when _plain_messages has read them."""
    profile_field = f.data.get("profile")
    if isinstance(profile_field, str):  # a bare name is accepted too
        profile_name, profile = profile_field, None
    else:
        pf = f.child("profile", None)
        profile_name = pf.text("name") if pf else "default"
        profile = _parse_profile(pf, profile_name)
    examples = f.items("examples", [])
    for i, ex in enumerate(examples):
        ef = Fields(f.file, f"{f.where}.examples[{i}]", ex)
        ef.choice("role", ROLES)
        ef.text("content")
    strategy = f.text("strategy", Session.strategy)
    strategy_settings = f.mapping("strategy_settings", {})
    try:
        HistoryStrategy.from_settings(strategy, strategy_settings)
    except StrategyError as exc:
        f.fail("strategy_settings" if strategy in STRATEGIES else "strategy", str(exc))
    session = Session(
        title=f.text("title", "Imported session"),
        model=f.text("model", Session.model),
        strategy=strategy,
        strategy_settings=strategy_settings,
        profile=profile_name,
        system_prompt=f.text("system_prompt", ""),
        examples=examples,
        archived=f.flag("archived"),
        created_at=f.time("created_at"),
        updated_at=f.time("updated_at"),
    )
    if messages is None:
        messages = [_parse_message(m) for m in f.each("messages", [])]
    summaries = []
    for sf in f.each("summaries", []):
        summary = Summary(
            text=sf.text("text"),
            method=sf.choice("method", ("model", "extractive"), "extractive"),
            model=sf.text("model", None),
            tokens=sf.integer("tokens", None),
            retention=sf.number("retention", None),
            created_at=sf.time("created_at"),
        )
        first = _index(sf, "first_message", len(messages))
        last = _index(sf, "last_message", len(messages))
        summaries.append(SummaryEntry(summary, first, last))
    memory = [_parse_fact(mf, len(messages)) for mf in f.each("memory", [])]
    notes: list[str] = []
    usage = [_parse_usage(uf, len(messages), notes) for uf in f.each("usage", [])]
    return SessionBundle(session, messages, summaries, memory, profile, usage, notes)


def parse_document(doc: Any, file: str) -> tuple[list[SessionBundle], list[MemoryFact]]:
    """Our JSON format, checked completely, as bundles and global facts."""
    root = Fields(file, "", doc)
    _check_version(root)
    bundles = [_parse_session(s) for s in root.each("sessions")]
    global_memory = [_parse_fact(g, 0).fact for g in root.each("global_memory", [])]
    return bundles, global_memory


class _Stream:
    """JSON text read one value at a time: the top levels of a document walked by hand,
    each session (or conversation) decoded by the json module's C decoder on its own, so
    a file's sessions are checked and written while the next ones are still unparsed and
    only one is in memory as objects at a time."""

    _DECODER = json.JSONDecoder(parse_constant=_no_constant)
    _SPACE = re.compile(r"[ \t\n\r]*")

    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.pos = 0

    def _fail(self, problem: str) -> NoReturn:
        exc = json.JSONDecodeError(problem, self.text, self.pos)
        raise ImportFormatError(self.name, f"line {exc.lineno}, column {exc.colno}",
                                f"not valid JSON ({problem})")

    def peek(self) -> str:
        match = self._SPACE.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos
        return self.text[self.pos:self.pos + 1]

    def take(self, char: str) -> bool:
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def value(self) -> Any:
        self.peek()
        try:
            value, self.pos = self._DECODER.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            raise ImportFormatError(self.name, f"line {exc.lineno}, column {exc.colno}",
                                    f"not valid JSON ({exc.msg})") from exc
        except ValueError as exc:
            raise _not_json(self.name, exc) from exc
        except RecursionError:
            raise ImportFormatError(self.name, "",
                                    f"nested more than {MAX_DEPTH} levels deep") from None
        return value

    def elements(self) -> Iterator[Any]:
        """The values of the list that starts here, one at a time."""
        if not self.take("["):
            self._fail("Expecting '['")
        if self.take("]"):
            return
        while True:
            yield self.value()
            if self.take("]"):
                return
            if not self.take(","):
                self._fail("Expecting ',' delimiter")

    def members(self) -> Iterator[str]:
        """The keys of the object that starts here; the caller reads each one's value
        (value() or elements()) before asking for the next key."""
        if not self.take("{"):
            self._fail("Expecting '{'")
        if self.take("}"):
            return
        while True:
            if self.peek() != '"':
                self._fail("Expecting property name enclosed in double quotes")
            key = self.value()
            if not self.take(":"):
                self._fail("Expecting ':' delimiter")
            yield key
            if self.take("}"):
                return
            if not self.take(","):
                self._fail("Expecting ',' delimiter")

    def end(self) -> None:
        if self.peek():
            self._fail("Extra data")


Progress = Callable[[int, int], None]  # (characters read, characters in all)


def _stream_ours(stream: _Stream, members: Iterator[str], head: dict[str, Any]
                 ) -> tuple[Iterator[SessionBundle], list[MemoryFact]]:
    """Our format from the "sessions" key on: the bundles as they are read, and the
    global memory (filled in once the last bundle has been read)."""
    name = stream.name
    global_memory: list[MemoryFact] = []

    def bundles() -> Iterator[SessionBundle]:
        for i, item in enumerate(stream.elements()):
            where = f"sessions[{i}]"
            yield _read_session(item, name, where)
        for key in members:
            if key == "sessions":
                raise ImportFormatError(name, "sessions", "the file names its sessions twice")
            value = stream.value()
            check_tree(value, name, key, 1)
            head[key] = value
        stream.end()
        root = Fields(name, "", head)
        global_memory.extend(_parse_fact(g, 0).fact for g in root.each("global_memory", []))

    return bundles(), global_memory


def import_file(db: Database, path: Path | str, again: bool = False,
                progress: Progress | None = None) -> ImportResult:
    """Import our JSON export or a ChatGPT conversations.json (or its zip); all or nothing.
    A conversation this database imported before is skipped (the result lists it in
    `already`) unless `again`.

    Streamed: each session (conversation) is read, checked and written in turn, in one
    transaction, so memory holds one session's objects at a time; a problem anywhere (a
    broken session late in the file), or an exception from `progress` (called after each
    session with the characters read and in all: raise to cancel), leaves the database
    as it was. A file whose "sessions" come before its "format" and "version" is read
    whole first, as before."""
    path = Path(path)
    name, text = _read_text(path)
    stream = _Stream(text, name)
    total = len(text)
    tick = (lambda: progress(stream.pos, total)) if progress else None
    first = stream.peek()
    if first == "{":
        head: dict[str, Any] = {}
        members = stream.members()
        for key in members:
            if key != "sessions":
                value = stream.value()
                check_tree(value, name, key, 1)
                head[key] = value
                continue
            if head.get("format") != FORMAT_NAME or "version" not in head:
                break  # not known to be ours yet: read the whole document
            root = Fields(name, "", head)
            _check_version(root)
            bundles, global_memory = _stream_ours(stream, members, head)
            # global_memory is filled in when the last bundle has been read
            result = write_bundles(db, bundles, global_memory, format=FORMAT_NAME,
                                   source=path.name, again=again, progress=tick)
            if progress:
                progress(total, total)
            return result
        else:
            stream.end()
            return _import_document(db, head, name, path, again)
    elif first == "[":
        skipped = [0]

        def conversations() -> Iterator[SessionBundle]:
            i = -1
            for i, item in enumerate(stream.elements()):
                if i < 5 and not (isinstance(item, dict) and "mapping" in item):
                    raise not_ours
                where = f"[{i}]"
                check_tree(item, name, where, 1)
                bundle, left_out = chatgpt_conversation(Fields(name, where, item))
                skipped[0] += left_out
                yield bundle
            if i < 0:
                raise not_ours
            stream.end()

        not_ours = ImportFormatError(
            name, "", "not a Token Budget export or a ChatGPT conversations.json (the top "
            "level is a list)")
        result = write_bundles(db, conversations(), format="chatgpt", source=path.name,
                               again=again, progress=tick)
        result.notes[:0] = skipped_notes(skipped[0])
        if progress:
            progress(total, total)
        return result
    return _import_document(db, parse_json_text(text, name), name, path, again)


def _check_version(root: Fields) -> None:
    version = root.integer("version")
    if version > FORMAT_VERSION:
        root.fail(
            "version",
            f"written by a newer Token Budget (format version {version}; this version reads "
            f"up to {FORMAT_VERSION})",
        )


def _import_document(db: Database, doc: Any, name: str, path: Path,
                     again: bool) -> ImportResult:
    """A document read whole: our format, ChatGPT's, or a clear refusal."""
    if isinstance(doc, dict) and doc.get("format") == FORMAT_NAME:
        bundles, global_memory = parse_document(doc, name)
        return write_bundles(db, bundles, global_memory, format=FORMAT_NAME, source=path.name,
                             again=again)
    if looks_like_chatgpt(doc):
        bundles, notes = parse_chatgpt(doc, name)
        result = write_bundles(db, bundles, format="chatgpt", source=path.name, again=again)
        result.notes[:0] = notes
        return result
    if isinstance(doc, dict) and "format" in doc:
        raise ImportFormatError(
            name, "format", f"unknown format {doc['format']!r} (expected {FORMAT_NAME!r})"
        )
    raise ImportFormatError(
        name,
        "",
        f"not a Token Budget export or a ChatGPT conversations.json (the top level is {kind(doc)})",
    )
