"""A session with everything in it, as plain records: what export reads and import
writes. References between them (a summary's message range, a fact's source message,
a turn's reply) are indexes into the bundle's message list, so they survive new ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from desktop_app.core.budget import BUILTIN_PROFILES, AllocationProfile
from desktop_app.store.memory import to_fact, upsert_fact
from desktop_app.store.messages import insert_messages
from desktop_app.store.models import (
    MemoryRow,
    ProfileRow,
    SessionRow,
    UtcTimestamp,
    utc_now,
)
from desktop_app.store.profiles import FALLBACK_PROFILE, save_profile, to_profile
from desktop_app.store.sessions import new_session_row
from desktop_app.store.summaries import new_summary_row
from desktop_app.store.usage import insert_usage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as OrmSession

    from desktop_app.core.app_records import TurnUsage
    from desktop_app.core.records import MemoryFact, Message, Session, Summary
    from desktop_app.store.database import Database


@dataclass
class SummaryEntry:
    summary: Summary
    first: int | None  # index into SessionBundle.messages
    last: int | None


@dataclass
class MemoryEntry:
    fact: MemoryFact
    source: int | None  # index into SessionBundle.messages


@dataclass
class UsageEntry:
    usage: TurnUsage
    reply: int | None  # index into SessionBundle.messages


@dataclass
class SessionBundle:
    session: Session
    messages: list[Message] = field(default_factory=list)
    summaries: list[SummaryEntry] = field(default_factory=list)
    memory: list[MemoryEntry] = field(default_factory=list)
    profile: AllocationProfile | None = None  # the session's profile, when known
    usage: list[UsageEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what reading it left out, and why


@dataclass
class ImportResult:
    format: str  # "token-budget" or "chatgpt"
    session_ids: list[int]
    messages: int
    notes: list[str] = field(default_factory=list)  # what was skipped, renamed, kept
    # conversations imported before and skipped: (the session they became, its title)
    already: list[tuple[int, str]] = field(default_factory=list)
    # how many times each conversation that the file holds more than once appears in it
    # (the same conversation_hash): each is imported (or skipped) once
    repeated: list[int] = field(default_factory=list)

    def summary_line(self, file: str) -> str:
        n = len(self.session_ids)
        if not n and self.already:
            line = f"nothing imported from {file}: {self.already_text()}"
        else:
            line = f"imported {n} session{'s' * (n != 1)} ({self.messages} messages) from {file}"
            if self.session_ids:
                line += f"; ids {_id_list(self.session_ids)}"
            if self.already:
                line += f"; {self.already_text()}"
        if self.repeated:
            line += f"; {self.repeated_text()}"
        return line

    def repeated_text(self) -> str:
        """'1 conversation appeared twice in the file; imported once' and the like."""
        k = len(self.repeated)
        times = "twice" if all(c == 2 for c in self.repeated) else "more than once"
        each = "once" if k == 1 else "once each"
        return (f"{k} conversation{'s' * (k != 1)} appeared {times} in the file; "
                f"imported {each}")

    def already_text(self) -> str:
        """'“Trip” was already imported (session 3)' or 'its 12 conversations were ...'."""
        k = len(self.already)
        ids = _id_list([i for i, _ in self.already])
        if k == 1:
            return f"“{self.already[0][1]}” was already imported (session {ids}), skipped"
        return f"{k} conversations were already imported (sessions {ids}), skipped"


def _id_list(ids: Sequence[int], shown: int = 8) -> str:
    """'3, 4, 9', or a long run as '5–20004' (an import of a whole ChatGPT history makes
    thousands), or the first few and '…'."""
    if len(ids) > shown and list(ids) == list(range(ids[0], ids[0] + len(ids))):
        return f"{ids[0]}–{ids[-1]}"
    return ", ".join(map(str, ids[:shown])) + (", …" if len(ids) > shown else "")


def conversation_hash(bundle: SessionBundle) -> str:
    """SHA-256 of what makes a conversation itself: its title, when it began, its system
    prompt and its messages (role, name, text). The same file imported twice gives the
    same hashes; an export of a conversation that has grown since does not."""
    session = bundle.session
    doc = {
        "title": session.title,
        "created_at": session.created_at.isoformat() if session.created_at else None,
        "system_prompt": session.system_prompt,
        "messages": [[m.role, m.name, m.content] for m in bundle.messages],
    }
    canonical = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_IMPORTED_BEFORE = (
    "SELECT s.id, s.title FROM sessions AS s JOIN imports AS i ON i.session_id = s.id "
    "WHERE i.content_hash = ? AND s.deleted_at IS NULL ORDER BY s.id LIMIT 1")
_IMPORT_ROW = ("INSERT INTO imports (session_id, content_hash, source, format, imported_at) "
               "VALUES (?, ?, ?, ?, ?)")
_SESSION_ROW = ("INSERT INTO sessions (title, model, strategy, strategy_settings, profile, "
                "system_prompt, examples, created_at, updated_at, archived) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_TIMESTAMP = UtcTimestamp()


def _insert_session(dbapi: Any, session: Session) -> int:
    """A new session's row, stored as the ORM stores new_session_row's, in plain SQL (a
    flush of the ORM, once per session of an import, cost more than the insert)."""
    row = new_session_row(session, utc_now())
    return int(dbapi.execute(_SESSION_ROW, (
        row.title, row.model, row.strategy, json.dumps(row.strategy_settings), row.profile,
        row.system_prompt, json.dumps(row.examples),
        _TIMESTAMP.process_bind_param(row.created_at, None),
        _TIMESTAMP.process_bind_param(row.updated_at, None), int(row.archived))).lastrowid)


def read_bundles(db: Database, session_ids: Sequence[int]) -> list[SessionBundle]:
    """Everything in these sessions, as plain records."""
    bundles = []
    profiles = {p.name: p for p in db.profiles.list()}
    for session_id in session_ids:
        session = db.sessions.get(session_id)
        messages = db.messages.all_for_session(session_id)
        index = {m.id: i for i, m in enumerate(messages)}
        summaries = [
            SummaryEntry(s, index.get(s.first_message_id), index.get(s.last_message_id))
            for s in db.summaries.list(session_id)
        ]
        memory = [
            MemoryEntry(f, index.get(f.source_message_id))
            for f in db.memory.list_for_session(session_id, include_global=False)
        ]
        usage = [
            UsageEntry(u, index.get(u.reply_message_id))
            for u in db.usage.list_for_session(session_id, limit=None)
        ]
        bundles.append(
            SessionBundle(session, messages, summaries, memory, profiles.get(session.profile),
                          usage)
        )
    return bundles


def _profile_for(orm, profile: AllocationProfile | None, name: str, notes: list[str]) -> str:
    """The profile name the imported session should use, creating the profile if needed."""
    if name in BUILTIN_PROFILES:
        return name
    existing = {r.name: r for r in orm.scalars(select(ProfileRow))}
    if profile is None:
        if name in existing:
            return name
        notes.append(f"profile {name!r} is not known here: the session uses {FALLBACK_PROFILE!r}")
        return FALLBACK_PROFILE
    candidate, n = name, 1
    while candidate in existing:
        if to_profile(existing[candidate]).fractions == profile.fractions:
            return candidate
        n += 1
        candidate = f"{name} (imported{'' if n == 2 else f' {n - 1}'})"
    save_profile(orm, replace(profile, name=candidate))
    if candidate != name:
        notes.append(f"profile {name!r} differs from yours of that name: kept as {candidate!r}")
    return candidate


def _pick(ids: list[int], index: int | None) -> int | None:
    return ids[index] if index is not None and 0 <= index < len(ids) else None


# An import this large is preceded by a backup: undoing it by hand would be a chore.
LARGE_IMPORT_MESSAGES = 1000


# Messages are inserted this many at a time (one executemany each), so a session of
# any length is written with bounded memory.
INSERT_BATCH = 2000


FTS_INSERT_TRIGGER = "messages_fts_insert"  # migration 0005
AGGREGATES_INSERT_TRIGGER = "messages_aggregates_insert"  # migration 0005

# What the aggregates trigger (migration 0005) adds per message, for all the messages
# after `id > ?` at once: a malformed or non-object token_counts counts as none
_ADD_MESSAGE_COUNTS = (
    "UPDATE sessions SET message_count = message_count + "
    "(SELECT count(*) FROM messages AS m WHERE m.session_id = sessions.id AND m.id > ?) "
    "WHERE id IN (SELECT session_id FROM messages WHERE id > ?)")
_ADD_TOKEN_COUNTS = (
    "INSERT INTO session_tokens (session_id, encoding, tokens, messages) "
    "SELECT m.session_id, j.key, sum(CAST(j.value AS INTEGER)), count(*) "
    "FROM messages AS m, json_each(coalesce(CASE WHEN json_valid(m.token_counts) THEN "
    "CASE WHEN json_type(m.token_counts) = 'object' THEN m.token_counts END END, '{}')) AS j "
    "WHERE m.id > ? AND m.token_counts != '{}' AND j.type IN ('integer', 'real') "
    "GROUP BY m.session_id, j.key "
    "ON CONFLICT (session_id, encoding) DO UPDATE SET "
    "tokens = tokens + excluded.tokens, messages = messages + excluded.messages")


@contextmanager
def _bulk_triggers(orm: OrmSession) -> Iterator[None]:
    """Do what the insert triggers on messages do (the search index, the session
    aggregates) for all the messages an import adds, in a few statements at the end
    (several times faster than the triggers, row by row), inside the import's
    transaction: the triggers are dropped meanwhile and made again before the commit,
    and a failure rolls the drops back with everything else."""
    conn = orm.connection()
    found: dict[str, str] = dict(conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?)",
        (FTS_INSERT_TRIGGER, AGGREGATES_INSERT_TRIGGER)).all())
    last = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM messages").scalar()
    for name in found:
        conn.exec_driver_sql(f"DROP TRIGGER {name}")
    yield
    if AGGREGATES_INSERT_TRIGGER in found:
        conn.exec_driver_sql(_ADD_MESSAGE_COUNTS, (last, last))
        conn.exec_driver_sql(_ADD_TOKEN_COUNTS, (last,))
    if FTS_INSERT_TRIGGER in found:  # absent: no full-text index (no FTS5 here)
        conn.exec_driver_sql("INSERT INTO messages_fts (rowid, content) "
                             "SELECT id, content FROM messages WHERE id > ?", (last,))
    for sql in found.values():
        conn.exec_driver_sql(sql)


def _has_data(db: Database) -> bool:
    with db.read() as orm:
        return orm.scalar(select(SessionRow.id).where(SessionRow.deleted_at.is_(None))
                          .limit(1)) is not None


def write_bundles(
    db: Database,
    bundles: Iterable[SessionBundle],
    global_memory: Sequence[MemoryFact] | Callable[[], Sequence[MemoryFact]] = (),
    format: str = "token-budget",
    source: str | None = None,
    again: bool = False,
    progress: Callable[[], None] | None = None,
) -> ImportResult:
    """Insert the bundles as new sessions, in one transaction: all of them or nothing.
    `bundles` may be a generator that reads them as they are written (a streaming
    import): an exception from it, or from `progress` (called after each bundle; raise
    to cancel), rolls everything back. `global_memory` may be a function, called after
    the last bundle. With a `source` (the file's name) each new session remembers the
    conversation it was made from, and a conversation imported before is skipped (listed
    in `already`) unless `again`; one the file holds more than once is imported once
    (`repeated`). An import of LARGE_IMPORT_MESSAGES or more into a database that holds
    sessions is preceded by a backup (of the state before it: the import is not
    committed yet when the backup reads)."""
    result = ImportResult(format, [], 0)
    imported_at = _TIMESTAMP.process_bind_param(utc_now(), None)
    seen: dict[str, int] = {}  # conversation_hash: times it appeared in the file
    backup_due = _has_data(db)
    with db.write() as orm, _bulk_triggers(orm):
        # the statements run once per session: plain SQL, past the ORM (see insert_messages)
        dbapi = orm.connection().connection.driver_connection
        assert dbapi is not None
        for bundle in bundles:
            digest = conversation_hash(bundle) if source is not None else None
            if digest is not None:
                seen[digest] = seen.get(digest, 0) + 1
                if seen[digest] > 1:
                    continue  # the file holds it twice: once is what the user meant
            before = (dbapi.execute(_IMPORTED_BEFORE, (digest,)).fetchone()
                      if digest and not again else None)
            if before is not None:  # the live session an earlier import made of it
                result.already.append((int(before[0]), str(before[1])))
                continue
            session = replace(bundle.session, id=None)
            session.profile = _profile_for(orm, bundle.profile, session.profile, result.notes)
            session_id = _insert_session(dbapi, session)
            if backup_due and result.messages + len(bundle.messages) >= LARGE_IMPORT_MESSAGES:
                db.backup("before-import")  # a large import is one undo away
                backup_due = False
            ids = []
            for start in range(0, len(bundle.messages), INSERT_BATCH):
                ids += insert_messages(orm, session_id, bundle.messages[start:start + INSERT_BATCH])
            for summary_entry in bundle.summaries:
                summary = replace(
                    summary_entry.summary,
                    first_message_id=_pick(ids, summary_entry.first),
                    last_message_id=_pick(ids, summary_entry.last),
                )
                orm.add(new_summary_row(summary, session_id))
            for memory_entry in bundle.memory:
                fact = replace(
                    memory_entry.fact,
                    id=None,
                    session_id=session_id,
                    source_message_id=_pick(ids, memory_entry.source),
                )
                upsert_fact(orm, fact)
            insert_usage(orm, session_id, [
                replace(e.usage, id=None, session_id=session_id,
                        reply_message_id=_pick(ids, e.reply))
                for e in bundle.usage
            ])
            if digest is not None:
                dbapi.execute(_IMPORT_ROW, (session_id, digest, source, format, imported_at))
            result.session_ids.append(session_id)
            result.messages += len(ids)
            result.notes.extend(bundle.notes)
            if progress is not None:
                progress()
        result.repeated = [times for times in seen.values() if times > 1]
        kept = 0
        for fact in global_memory() if callable(global_memory) else global_memory:
            taken = orm.scalars(
                select(MemoryRow).where(MemoryRow.session_id.is_(None), MemoryRow.key == fact.key)
            ).first()
            if taken is not None and to_fact(taken).value != fact.value:
                kept += 1  # the user's own global fact wins over the file's
                continue
            upsert_fact(orm, replace(fact, id=None, session_id=None, source_message_id=None))
        if kept:
            result.notes.append(
                f"{kept} global memory fact{'s' * (kept != 1)} kept your current value"
            )
    return result
