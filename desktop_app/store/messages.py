"""Messages: durable appends, edits, paging, flags, cached token counts, search across
sessions, and a writer that stores a streaming reply as it arrives."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, cast

from sqlalchemy import String, case, func, select, type_coerce, update

from desktop_app.core.app_records import SearchHit
from desktop_app.core.counting import MessageRun
from desktop_app.core.records import MESSAGE_STATUSES, NOT_READ, ROLES, Message
from desktop_app.store import search
from desktop_app.store.errors import NotFoundError, StoreError
from desktop_app.store.models import USAGE_WHERE, MessageRow, SessionRow, UtcTimestamp, utc_now
from desktop_app.store.sessions import like_pattern, live_session, uncounted_sessions

if TYPE_CHECKING:
    from sqlalchemy import CursorResult, Update
    from sqlalchemy.orm import Session as OrmSession

    from desktop_app.store.database import Database

# Read as plain columns on the session's Core connection rather than as ORM objects: a
# 10,000-message session opens several times faster this way.
_COLUMNS = (
    MessageRow.id,
    MessageRow.session_id,
    MessageRow.position,
    MessageRow.role,
    MessageRow.name,
    MessageRow.content,
    MessageRow.created_at,
    MessageRow.status,
    MessageRow.pinned,
    MessageRow.excluded,
    MessageRow.prompt_tokens,
    MessageRow.completion_tokens,
    MessageRow.cost,
    MessageRow.error,
    type_coerce(MessageRow.token_counts, String),  # raw JSON text, parsed by _counts()
)


@lru_cache(maxsize=4096)
def _parsed_counts(raw: str) -> tuple[tuple[str, int], ...]:
    return tuple(json.loads(raw).items())


def _counts(raw: str | None) -> dict[str, int]:
    """A message's cached counts: most messages share a handful of distinct JSON texts,
    so each is parsed once (a fresh dict each time: callers may change theirs). Malformed
    JSON (reported by Database.find_bad_rows) counts as no cache: it is counted again."""
    if not raw:
        return {}
    try:
        return dict(_parsed_counts(raw))
    except (ValueError, AttributeError):
        return {}


def _to_message(row: Any) -> Message:
    return Message(
        id=row[0],
        session_id=row[1],
        position=row[2],
        role=row[3],
        name=row[4],
        content=row[5],
        created_at=row[6],
        status=row[7],
        pinned=bool(row[8]),
        excluded=bool(row[9]),
        prompt_tokens=row[10],
        completion_tokens=row[11],
        cost=row[12],
        error=row[13],
        token_counts=_counts(row[14]),
    )


def _check(message: Message) -> None:
    if message.role not in ROLES:
        raise StoreError(f"unknown message role {message.role!r} (known: {', '.join(ROLES)})")
    if message.status not in MESSAGE_STATUSES:
        raise StoreError(
            f"unknown message status {message.status!r} (known: {', '.join(MESSAGE_STATUSES)})"
        )
    if not isinstance(message.content, str):
        raise StoreError(f"message content must be text, got {type(message.content).__name__}")


_INSERT_COLUMNS = ("session_id", "position", "role", "name", "content", "created_at", "status",
                   "pinned", "excluded", "prompt_tokens", "completion_tokens", "cost", "error",
                   "token_counts")
_INSERT = (f"INSERT INTO messages ({', '.join(_INSERT_COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(_INSERT_COLUMNS))})")
_TIMESTAMP = UtcTimestamp()
_IN_CHUNK = 900  # ids per IN (...): under SQLite's variable limit
_UNSEARCHABLE = re.compile("[\x00\ud800-\udfff]")  # a NUL; half a surrogate pair


def _row(message: Message, session_id: int, position: int,
         now: datetime | None = None) -> tuple[Any, ...]:
    """A message as the stored row (in _INSERT_COLUMNS order), with the same text for
    times and counts the ORM writes; `now` for a message without a time."""
    counts = message.token_counts
    return (session_id, position, message.role, message.name, message.content,
            _TIMESTAMP.process_bind_param(message.created_at or now or utc_now(), None),
            message.status, int(message.pinned), int(message.excluded),
            message.prompt_tokens, message.completion_tokens, message.cost, message.error,
            json.dumps({k: int(v) for k, v in counts.items()}) if counts else "{}")


def insert_messages(orm: OrmSession, session_id: int, messages: Sequence[Message]) -> list[int]:
    """Insert at the end of a session inside the caller's transaction; returns the ids."""
    if not messages:
        return []
    for message in messages:
        _check(message)
    # plain SQL on the transaction's own connection, past the ORM (an import runs this
    # once per session, and building and binding through the ORM cost more than the SQL):
    # one executemany of plain tuples (an INSERT ... RETURNING runs row by row here),
    # then the new ids by position, which is unique in the session
    orm.flush()
    dbapi = orm.connection().connection.driver_connection
    assert dbapi is not None
    last = dbapi.execute("SELECT max(position) FROM messages WHERE session_id = ?",
                         (session_id,)).fetchone()[0]
    start = 0 if last is None else last + 1
    now = utc_now()
    rows = [_row(m, session_id, start + i, now) for i, m in enumerate(messages)]
    # The table's CHECKs on role and status are what _check has just done. SQLite
    # builds a table for a CHECK's IN (...) list at every row, two fifths of what an
    # import's inserts cost (2 s of 5 for 300k messages here): for these rows only,
    # the checks are left to _check. A flag pragma recompiles the statements it affects.
    dbapi.execute("PRAGMA ignore_check_constraints = ON")
    try:
        dbapi.executemany(_INSERT, rows)
    finally:
        dbapi.execute("PRAGMA ignore_check_constraints = OFF")
    return [i for (i,) in dbapi.execute(
        "SELECT id FROM messages WHERE session_id = ? AND position >= ? ORDER BY position",
        (session_id, start))]


def _snippet(content: str, needle: str, width: int = 60) -> str:
    at = max(content.lower().find(needle.lower()), 0)
    start = max(0, at - width)
    end = min(len(content), at + len(needle) + width)
    text = " ".join(content[start:end].split())
    return ("…" if start else "") + text + ("…" if end < len(content) else "")


_IN_CHUNK = 10_000  # ids per IN (...): well under SQLite's limit on variables


class MessageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- writing -------------------------------------------------------------------

    def append(self, session_id: int, message: Message) -> Message:
        """Add a message at the end of the session. Durable when this returns."""
        return self.append_many(session_id, [message])[0]

    def append_many(self, session_id: int, messages: Sequence[Message]) -> list[Message]:
        """Add several messages in one transaction (all or none)."""
        with self._db.write() as orm:
            live_session(orm, session_id)
            ids = insert_messages(orm, session_id, messages)
            self._db.sessions.touch(orm, session_id)
            rows = orm.execute(
                select(*_COLUMNS).where(MessageRow.id.in_(ids)).order_by(MessageRow.position)
            )
            return [_to_message(r) for r in rows]

    def update(self, message: Message) -> Message:
        """Save a message's content, role, name, status, flags, usage, cost and error.
        Changed content drops the cached token counts (they describe the old text);
        save_token_counts() stores new ones."""
        if message.id is None:
            raise NotFoundError("cannot update a message that was never stored")
        _check(message)
        with self._db.write() as orm:
            row = orm.get(MessageRow, message.id)
            if row is None:
                raise NotFoundError(f"there is no message {message.id}")
            counts = dict(message.token_counts) if row.content == message.content else {}
            row.role = message.role
            row.name = message.name
            row.content = message.content
            row.status = message.status
            row.pinned = message.pinned
            row.excluded = message.excluded
            row.prompt_tokens = message.prompt_tokens
            row.completion_tokens = message.completion_tokens
            row.cost = message.cost
            row.error = message.error
            row.token_counts = counts
            self._db.sessions.touch(orm, row.session_id)
            orm.flush()
            return self._get(orm, row.id)

    def set_pinned(self, message_id: int, pinned: bool = True) -> None:
        self._set(message_id, pinned=pinned)

    def set_excluded(self, message_id: int, excluded: bool = True) -> None:
        """The user's choice. A note that a failed turn set the message aside goes (a
        complete message's error is only ever that note): the choice is now the user's."""
        self._set(message_id, excluded=excluded,
                  error=case((MessageRow.status == "complete", None), else_=MessageRow.error))

    def set_aside(self, message_id: int, why: str | None = None) -> None:
        """Leave a message out of later requests because its turn failed (Message.
        set_aside); `why` is kept as its error (a failed reply keeps its own)."""
        values: dict[str, Any] = {"excluded": True}
        if why:
            values["error"] = why
        self._set(message_id, **values)

    def _set(self, message_id: int, **values: Any) -> None:
        with self._db.write() as orm:
            query = update(MessageRow).where(MessageRow.id == message_id).values(**values)
            if not _rows_updated(orm, query):
                raise NotFoundError(f"there is no message {message_id}")

    def save_token_counts(self, message_id: int, counts: Mapping[str, int]) -> None:
        """Add {encoding: tokens} to a message's cached counts."""
        self.save_token_counts_many({message_id: counts})

    def save_token_counts_many(self, counts: Mapping[int, Mapping[str, int]]) -> None:
        """Cache counts for many messages in one transaction. Ids of messages that no
        longer exist are skipped (the message was deleted while being counted). Read in
        chunks (SQLite bounds the variables of one statement) and written as one
        executemany, however many there are."""
        if not counts:
            return
        ids = list(counts)
        with self._db.write() as orm:
            stored: dict[int, Any] = {}
            for start in range(0, len(ids), _IN_CHUNK):
                stored.update(orm.execute(
                    select(MessageRow.id, type_coerce(MessageRow.token_counts, String)).where(
                        MessageRow.id.in_(ids[start:start + _IN_CHUNK]))).all())
            changes = [
                (json.dumps({**_counts(stored[message_id]),
                             **{k: int(v) for k, v in new.items()}}), message_id)
                for message_id, new in counts.items() if message_id in stored]
            if changes:  # one executemany of UPDATE by primary key, plain tuples
                dbapi = orm.connection().connection.driver_connection
                assert dbapi is not None
                dbapi.executemany("UPDATE messages SET token_counts = ? WHERE id = ?", changes)

    # --- reading -------------------------------------------------------------------

    def get(self, message_id: int) -> Message:
        with self._db.read() as orm:
            return self._get(orm, message_id)

    def _get(self, orm: OrmSession, message_id: int) -> Message:
        row = orm.execute(select(*_COLUMNS).where(MessageRow.id == message_id)).first()
        if row is None:
            raise NotFoundError(f"there is no message {message_id}")
        return _to_message(row)

    def all_for_session(self, session_id: int) -> list[Message]:
        """Every message of the session in order, with cached token counts."""
        with self._db.read() as orm:
            rows = orm.connection().execute(
                select(*_COLUMNS)
                .where(MessageRow.session_id == session_id)
                .order_by(MessageRow.position)
            )
            return [_to_message(r) for r in rows]

    def light_for_session(self, session_id: int, encoding: str) -> list[Message]:
        """Every message of the session in order without its text: `content` is
        NOT_READ (or "" when the message is empty), `token_counts` holds the cached count
        under `encoding` only and `created_at` is None. Read `contents` for the texts
        needed: a long session's texts are most of what it weighs."""
        return self._light(session_id, encoding, "ORDER BY position")

    def light_newest(self, session_id: int, encoding: str, before_position: int | None,
                     limit: int) -> list[Message]:
        """Up to `limit` messages read as light_for_session reads them, newest first,
        from just before `before_position` (the newest when None)."""
        where = "" if before_position is None else f"AND position < {int(before_position)}"
        return self._light(session_id, encoding,
                           f"{where} ORDER BY position DESC LIMIT {int(limit)}")

    def light_pinned_before(self, session_id: int, encoding: str,
                            position: int) -> list[Message]:
        """The pinned messages before `position`, oldest first, read light (from a
        partial index: no scan of the session)."""
        return self._light(session_id, encoding,
                           f"AND pinned = 1 AND position < {int(position)} ORDER BY position")

    def _light(self, session_id: int, encoding: str, rest: str) -> list[Message]:
        path = "$." + json.dumps(encoding)
        rows = self._raw(
            "SELECT id, position, role, name, content != '', status, pinned, excluded, "
            "prompt_tokens, completion_tokens, cost, error, "
            "CASE WHEN json_valid(token_counts) THEN json_extract(token_counts, ?) END "
            f"FROM messages WHERE session_id = ? {rest}", (path, session_id))
        out: list[Message] = []
        add = out.append
        for (mid, position, role, name, has_text, status, pinned, excluded, prompt,
             completion, cost, error, n) in rows:
            add(Message(role, NOT_READ if has_text else "", name, mid, session_id, position,
                        status, bool(pinned), bool(excluded), None, prompt, completion, cost,
                        error, {encoding: n} if type(n) is int else {}))
        return out

    def usage_rows(self, session_id: int) -> list[tuple[int, str, int | None, int | None,
                                                         float | None]]:
        """(id, role, prompt tokens, completion tokens, cost) of the messages carrying
        usage or a cost, in order (from a partial index: the replies, not the session)."""
        return self._raw(
            "SELECT id, role, prompt_tokens, completion_tokens, cost FROM messages "
            f"WHERE session_id = ? AND ({USAGE_WHERE}) "
            "ORDER BY position", (session_id,))

    def run_of(self, session_id: int, first_id: int | None, last_id: int | None,
               encoding: str) -> MessageRun:
        """The messages from `first_id` to `last_id` (by position; None: from the start,
        to the end) in summary: per role how many and their cached content tokens."""
        path = "$." + json.dumps(encoding)
        rows = self._raw(
            "SELECT role, count(*), sum(CASE WHEN json_valid(token_counts) "
            "THEN json_extract(token_counts, ?) END), min(id), max(id) FROM messages "
            "WHERE session_id = ? "
            "AND position >= coalesce((SELECT position FROM messages WHERE id = ?), 0) "
            "AND position <= coalesce((SELECT position FROM messages WHERE id = ?), "
            "9223372036854775807) GROUP BY role",
            (path, session_id, first_id, last_id))
        return MessageRun(first_id if first_id is not None else min((r[3] for r in rows),
                                                                     default=None),
                          last_id if last_id is not None else max((r[4] for r in rows),
                                                                  default=None),
                          tuple((role, int(n), int(t or 0)) for role, n, t, _a, _b in rows))

    def totals(self, session_id: int, encoding: str) -> tuple[int, int, int]:
        """(messages, tokens, messages counted) of the session under `encoding`, from
        the aggregates kept on write: no message is read."""
        rows = self._raw(
            "SELECT s.message_count, coalesce(t.tokens, 0), coalesce(t.messages, 0) "
            "FROM sessions s LEFT JOIN session_tokens t "
            "ON t.session_id = s.id AND t.encoding = ? WHERE s.id = ?",
            (encoding, session_id))
        if not rows:
            raise NotFoundError(f"session {session_id} not found")
        count, tokens, counted = rows[0]
        return int(count or 0), int(tokens), int(counted)

    def contents(self, message_ids: Sequence[int]) -> dict[int, str]:
        """{id: text} of the given messages."""
        out: dict[int, str] = {}
        ids = list(message_ids)
        for k in range(0, len(ids), _IN_CHUNK):
            chunk = ids[k:k + _IN_CHUNK]
            out.update(self._raw(
                f"SELECT id, content FROM messages WHERE id IN ({','.join('?' * len(chunk))})",
                tuple(chunk)))
        return out

    def _raw(self, query: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows of a read-only query as plain tuples, on the DB-API connection."""
        with self._db.read() as orm:
            dbapi = orm.connection().connection.driver_connection
            assert dbapi is not None
            return list(dbapi.execute(query, params))

    def page(
        self, session_id: int, before_position: int | None = None, limit: int = 200
    ) -> list[Message]:
        """Up to `limit` messages just before `before_position` (the newest when None),
        oldest first: scroll back by passing the first position of the last page."""
        query = select(*_COLUMNS).where(MessageRow.session_id == session_id)
        if before_position is not None:
            query = query.where(MessageRow.position < before_position)
        query = query.order_by(MessageRow.position.desc()).limit(limit)
        with self._db.read() as orm:
            rows = list(orm.connection().execute(query))
        return [_to_message(r) for r in reversed(rows)]

    def count(self, session_id: int) -> int:
        with self._db.read() as orm:
            return (
                orm.scalar(
                    select(func.count(MessageRow.id)).where(MessageRow.session_id == session_id)
                )
                or 0
            )

    def missing_counts_for(self, encodings: Mapping[int, str]) -> list[tuple[int, str, str]]:
        """(id, content, encoding) of every message with no cached count under its
        session's encoding, for the sessions in `encodings` ({session id: encoding}). The
        session aggregates say which sessions lack counts, so only their messages are
        read (none at all when every session is counted)."""
        out: list[tuple[int, str, str]] = []
        with self._db.read() as orm:
            for sid in uncounted_sessions(orm, encodings):
                encoding = encodings[sid]
                rows = orm.execute(select(MessageRow.id, MessageRow.content,
                                          type_coerce(MessageRow.token_counts, String))
                                   .where(MessageRow.session_id == sid))
                out.extend((mid, content, encoding) for mid, content, raw in rows
                           if encoding not in _counts(raw))
        return out

    def missing_counts(self, session_id: int, encoding: str) -> list[tuple[int, str]]:
        """(id, content) of the session's messages with no cached count for `encoding`."""
        with self._db.read() as orm:
            rows = orm.execute(
                select(
                    MessageRow.id,
                    MessageRow.content,
                    type_coerce(MessageRow.token_counts, String),
                )
                .where(MessageRow.session_id == session_id)
                .order_by(MessageRow.position)
            )
            return [(i, content) for i, content, raw in rows if encoding not in _counts(raw)]

    def search(self, text: str, limit: int = 100) -> list[SearchHit]:
        """Messages matching `text` in sessions that are not deleted, best first: the
        full-text index (words and word beginnings, any case and accent, ranked by
        bm25, the matched words marked in SearchHit.highlights); LIKE, newest sessions
        first, where it cannot serve (store/search.py says when). A NUL (SQLite reads
        a pattern up to it) and half a surrogate pair (no text holds one) are left out."""
        text = _UNSEARCHABLE.sub("", text)
        if not text.strip():
            return []
        phrase = search.fts_query(text.strip())
        with self._db.read() as orm:
            if phrase is not None and search.has_index(orm):
                return search.search_fts(orm, phrase, limit)
        return self.search_like(text, limit)

    def search_like(self, text: str, limit: int = 100) -> list[SearchHit]:
        """Messages containing `text` (case-insensitive for ASCII letters) in sessions
        that are not deleted, newest sessions first: a scan of every message."""
        text = _UNSEARCHABLE.sub("", text)
        if not text.strip():
            return []
        query = (
            select(
                MessageRow.session_id,
                SessionRow.title,
                MessageRow.id,
                MessageRow.position,
                MessageRow.role,
                MessageRow.content,
                MessageRow.created_at,
            )
            .join(SessionRow, SessionRow.id == MessageRow.session_id)
            .where(SessionRow.deleted_at.is_(None))
            .where(MessageRow.content.like(like_pattern(text), escape="\\"))
            .order_by(SessionRow.updated_at.desc(), MessageRow.position)
            .limit(limit)
        )
        with self._db.read() as orm:
            rows = list(orm.execute(query))
        hits = []
        for sid, title, mid, pos, role, content, created in rows:
            snippet = _snippet(content, text)
            at = snippet.lower().find(" ".join(text.split()).lower())
            spans = ((at, at + len(" ".join(text.split()))),) if at >= 0 else ()
            hits.append(SearchHit(sid, title, mid, pos, role, snippet, created, spans))
        return hits

    # --- streaming -----------------------------------------------------------------

    def begin_stream(
        self, session_id: int, role: str = "assistant", name: str | None = None,
        count: Callable[[str], Mapping[str, int]] | None = None,
        on_notice: Callable[[str], None] | None = None,
        prompt: str | None = None,
    ) -> StreamWriter:
        """Store an empty message in 'streaming' status and return a writer that fills
        it in as chunks arrive. `count` gives the final text's {encoding: tokens}, stored
        with it when the reply ends; `on_notice` hears (once) that writing failed and
        the reply is kept in memory, and where it went if it could never be stored.
        `prompt` (the user's message it answers) goes into a recovery file with it, so a
        reply whose session is deleted meanwhile comes back with its question."""
        message = self.append(
            session_id, Message(role=role, content="", name=name, status="streaming")
        )
        return StreamWriter(self._db, message, count, on_notice, prompt)

    def _write_stream(self, message_id: int, **values: Any) -> Message:
        # cached counts describe a text: a new text keeps only the counts made for it
        values.setdefault("token_counts", {})
        with self._db.write() as orm:
            query = update(MessageRow).where(MessageRow.id == message_id).values(**values)
            if not _rows_updated(orm, query):
                raise NotFoundError(f"the streaming message {message_id} was deleted")
            return self._get(orm, message_id)


class StreamWriter:
    """Stores a reply while it streams: append() keeps chunks in memory and writes the
    text so far at most every FLUSH_INTERVAL seconds, so a crash loses at most that much;
    finish(), fail() or interrupt() write the end state, with the final text's counts
    when the writer was given `count` (a partial text keeps none: they would be stale
    once more arrives). As a context manager it marks the message interrupted
    (cancelled) or failed (an exception) if not finished.

    No reply is lost to a fault: when a write fails (the database locked by another
    process beyond the busy timeout, a full disk) the text stays in memory, the writer
    says so once and tries again with growing pauses. At the end it keeps trying for up
    to END_RETRY_SECONDS; if the reply still cannot be stored it goes to a recovery file
    (store.recovery), which the next open of the database brings back into the session;
    `recovery_path` says where."""

    FLUSH_INTERVAL = 0.25
    RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0)  # pauses between tries after a failure
    END_RETRY_SECONDS = 30.0  # how long the end state keeps being retried

    def __init__(self, db: Database, message: Message,
                 count: Callable[[str], Mapping[str, int]] | None = None,
                 on_notice: Callable[[str], None] | None = None,
                 prompt: str | None = None) -> None:
        self._db = db
        self._prompt = prompt
        self.message = message
        self._count = count
        self._notice = on_notice or (lambda _text: None)
        self._parts: list[str] = []
        self._length = 0
        self._flushed_length = 0
        self._last_flush = time.monotonic()
        self._failures = 0  # writes failed in a row
        self._retry_at = 0.0
        self._warned = False
        self.recovery_path: Path | None = None
        self.done = False

    @property
    def message_id(self) -> int:
        assert self.message.id is not None
        return self.message.id

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def flushed_length(self) -> int:
        """How many characters of the reply are stored so far."""
        return self._flushed_length

    def append(self, chunk: str) -> bool:
        """Add a chunk; returns True when this call also wrote the text so far."""
        if self.done:
            raise StoreError("this reply is already finished")
        if chunk:
            self._parts.append(chunk)
            self._length += len(chunk)
        now = time.monotonic()
        if now - self._last_flush >= self.FLUSH_INTERVAL and now >= self._retry_at:
            return self.flush()
        return False

    def flush(self) -> bool:
        """Write the text so far; False when there was nothing new or the write failed
        (the text stays in memory and is tried again later)."""
        if self._length == self._flushed_length:
            return False
        # 'streaming' again: another instance opening the file meanwhile marks open
        # streams interrupted, but this one is alive.
        return self._try_store(content=self.text, status="streaming")

    def _try_store(self, **values: Any) -> bool:
        try:
            self._store(**values)
        except NotFoundError:
            raise
        except StoreError as exc:
            self._failed(exc)
            return False
        if self._failures:
            self._failures = 0
            self._retry_at = 0.0
            self._notice("the reply is being stored again")
        return True

    def _failed(self, exc: StoreError) -> None:
        delay = self.RETRY_DELAYS[min(self._failures, len(self.RETRY_DELAYS) - 1)]
        self._failures += 1
        self._retry_at = time.monotonic() + delay
        if not self._warned:
            self._warned = True
            self._notice(f"could not store the reply ({exc}); keeping it in memory and "
                         "retrying")

    def finish(
        self,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cost: float | None = None,
    ) -> Message:
        return self._end(
            status="complete",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=cost,
        )

    def cut_short(self, reason: str, prompt_tokens: int | None, completion_tokens: int | None,
                  cost: float | None = None) -> Message:
        """The server stopped the reply early (its window was full): keep what arrived,
        with the usage it reported and why it is not whole."""
        return self._end(status="interrupted", error=reason, prompt_tokens=prompt_tokens,
                         completion_tokens=completion_tokens, cost=cost)

    def fail(self, error: str) -> Message:
        """The reply stopped on an error: keep what arrived, with the error."""
        return self._end(status="error", error=error)

    def interrupt(self) -> Message:
        """The user cancelled (or the stream was cut off): keep what arrived."""
        return self._end(status="interrupted")

    def _end(self, **values: Any) -> Message:
        if self.done:
            return self.message
        text = self.text
        counts = {k: int(v) for k, v in self._count(text).items()} if self._count else {}
        give_up = time.monotonic() + self.END_RETRY_SECONDS
        while not self._try_store(content=text, token_counts=counts, **values):
            if self._retry_at > give_up:
                self._save_for_recovery(text, values)
                break
            time.sleep(max(0.0, self._retry_at - time.monotonic()))
        self.done = True
        return self.message

    def _save_for_recovery(self, text: str, values: dict[str, Any]) -> None:
        """The end state could not be written: keep the reply in a recovery file that
        the next open of the database restores, and say where."""
        from desktop_app.store import recovery

        record = {"session_id": self.message.session_id, "message_id": self.message_id,
                  "role": self.message.role, "name": self.message.name, "content": text,
                  **{k: v for k, v in values.items()
                     if k in ("status", "error", "prompt_tokens", "completion_tokens",
                              "cost")}}
        if self._prompt is not None:
            record["user_message"] = self._prompt
        self.message = replace(self.message, content=text, token_counts={},
                               **{k: v for k, v in record.items()
                                  if k in ("status", "error", "prompt_tokens",
                                           "completion_tokens", "cost")})
        try:
            self.recovery_path = recovery.save_reply(self._db.path, record)
        except OSError as exc:
            self._notice(f"the reply could not be stored nor saved to a recovery file "
                         f"({exc.strerror or exc}); it is lost")
            return
        self._notice(f"the reply could not be stored; it was saved to {self.recovery_path} "
                     "and will be restored into the session the next time the database "
                     "opens")

    def _store(self, **values: Any) -> None:
        self.message = self._db.messages._write_stream(self.message_id, **values)
        self._flushed_length = self._length
        self._last_flush = time.monotonic()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object
    ) -> None:
        if self.done:
            return
        if exc is None or isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
            self.interrupt()
        else:
            self.fail(f"{type(exc).__name__}: {exc}")


def _rows_updated(orm: OrmSession, query: Update) -> int:
    """How many rows an UPDATE changed. Session.execute runs it as a CursorResult, which
    its annotation (a plain Result, without rowcount) does not say."""
    return cast("CursorResult[Any]", orm.execute(query)).rowcount
