"""Sessions: create, list, read, update, archive, and delete with undo.

Deleting is soft (the row gets deleted_at and disappears from every list); restore()
brings it back whole, and purge_deleted() removes deleted sessions for good."""

from __future__ import annotations

import builtins
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from desktop_app.core.catalog import lookup_model
from desktop_app.core.records import Session
from desktop_app.store.errors import NotFoundError
from desktop_app.store.models import SessionRow, SessionTokensRow, utc_now

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session as OrmSession

    from desktop_app.store.database import Database


_IN_CHUNK = 10_000  # ids per IN (...): well under SQLite's limit on variables

EDITABLE_FIELDS = frozenset({"title", "model", "strategy", "profile", "system_prompt", "examples",
                             "archived"})


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def readable_examples(stored: Any) -> list[dict[str, str]]:
    """The stored examples that are chat messages (a role and a text, all text); anything
    else a hand edit left there is not read (find_malformed_rows names the session)."""
    if not isinstance(stored, list):
        return []
    return [dict(e) for e in stored
            if isinstance(e, dict) and isinstance(e.get("role"), str)
            and isinstance(e.get("content"), str) and all(isinstance(v, str) for v in e.values())]


def to_session(row: SessionRow, message_count: int = 0, token_total: int = 0) -> Session:
    return Session(
        id=row.id,
        title=row.title,
        model=row.model,
        strategy=row.strategy,
        strategy_settings=dict(row.strategy_settings or {}),
        profile=row.profile,
        system_prompt=row.system_prompt,
        examples=readable_examples(row.examples),
        created_at=row.created_at,
        updated_at=row.updated_at,
        archived=row.archived,
        message_count=message_count,
        token_total=token_total,
    )


SQLITE_MAX_ID = 2**63 - 1  # SQLite's largest integer: no row has an id past it


def live_session(orm: OrmSession, session_id: int) -> SessionRow:
    """The session row, or NotFoundError if it does not exist or was deleted (an id no
    SQLite integer holds, typed on the command line, included)."""
    if not -SQLITE_MAX_ID <= session_id <= SQLITE_MAX_ID:
        raise NotFoundError(f"there is no session {session_id}")
    row = orm.get(SessionRow, session_id)
    if row is None or row.deleted_at is not None:
        raise NotFoundError(f"there is no session {session_id}")
    return row


def new_session_row(session: Session, now: datetime) -> SessionRow:
    return SessionRow(
        title=session.title,
        model=session.model,
        strategy=session.strategy,
        strategy_settings=dict(session.strategy_settings),
        profile=session.profile,
        system_prompt=session.system_prompt,
        examples=list(session.examples),
        created_at=session.created_at or now,
        updated_at=session.updated_at or now,
        archived=session.archived,
    )


class SessionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, session: Session) -> Session:
        with self._db.write() as orm:
            row = new_session_row(session, utc_now())
            orm.add(row)
            orm.flush()
            return to_session(row)

    def get(self, session_id: int) -> Session:
        with self._db.read() as orm:
            row = live_session(orm, session_id)
            counts = _counts(orm, [row])
            return to_session(row, *counts.get(row.id, (0, 0)))

    def list(self, include_archived: bool = False, search: str | None = None) -> list[Session]:
        """Sessions, most recently updated first, with message counts and the tokens
        cached for each session's model encoding."""
        query = select(SessionRow).where(SessionRow.deleted_at.is_(None))
        if not include_archived:
            query = query.where(SessionRow.archived.is_(False))
        if search:
            query = query.where(SessionRow.title.like(like_pattern(search), escape="\\"))
        with self._db.read() as orm:
            rows = list(orm.scalars(query.order_by(SessionRow.updated_at.desc(), SessionRow.id)))
            counts = _counts(orm, rows)
        return [to_session(r, *counts.get(r.id, (0, 0))) for r in rows]

    def update(self, session: Session) -> Session:
        """Save the editable fields of `session` (title, model, strategy and its settings,
        profile, system prompt, examples, archived)."""
        if session.id is None:
            raise NotFoundError("cannot update a session that was never created")
        with self._db.write() as orm:
            row = live_session(orm, session.id)
            row.title = session.title
            row.model = session.model
            row.strategy = session.strategy
            row.strategy_settings = dict(session.strategy_settings)
            row.profile = session.profile
            row.system_prompt = session.system_prompt
            row.examples = list(session.examples)
            row.archived = session.archived
            row.updated_at = utc_now()
            orm.flush()
            counts = _counts(orm, [row])
            return to_session(row, *counts.get(row.id, (0, 0)))

    def change(self, session_id: int, **fields: Any) -> Session:
        """Save only the named editable fields (title, model, strategy, profile,
        system_prompt, examples, archived) and return the stored session: a stale copy
        elsewhere can never write its other fields back."""
        unknown = set(fields) - EDITABLE_FIELDS
        if unknown:
            raise ValueError(f"not editable fields of a session: {', '.join(sorted(unknown))}")
        with self._db.write() as orm:
            row = live_session(orm, session_id)
            for name, value in fields.items():
                setattr(row, name, list(value) if name == "examples" else value)
            row.updated_at = utc_now()
            orm.flush()
            counts = _counts(orm, [row])
            return to_session(row, *counts.get(row.id, (0, 0)))

    def set_strategy_setting(self, session_id: int, key: str, value: Any) -> Session:
        """Set one strategy setting (None removes it), leaving the others as stored."""
        return self.set_strategy_settings(session_id, {key: value})

    def set_strategy_settings(self, session_id: int, changes: Mapping[str, Any]) -> Session:
        """Set several strategy settings in one write (None removes one), leaving the
        others as stored."""
        with self._db.write() as orm:
            row = live_session(orm, session_id)
            settings = dict(row.strategy_settings or {})
            for key, value in changes.items():
                if value is None:
                    settings.pop(key, None)
                else:
                    settings[key] = value
            row.strategy_settings = settings
            row.updated_at = utc_now()
            orm.flush()
            counts = _counts(orm, [row])
            return to_session(row, *counts.get(row.id, (0, 0)))

    def archive(self, session_id: int, archived: bool = True) -> None:
        with self._db.write() as orm:
            live_session(orm, session_id).archived = archived

    def delete(self, session_id: int) -> None:
        """Hide the session and everything in it; restore() undoes this."""
        with self._db.write() as orm:
            live_session(orm, session_id).deleted_at = utc_now()

    def restore(self, session_id: int) -> Session:
        with self._db.write() as orm:
            row = orm.get(SessionRow, session_id)
            if row is None:
                raise NotFoundError(f"there is no session {session_id} to restore")
            row.deleted_at = None
        return self.get(session_id)

    def deleted(self) -> builtins.list[Session]:
        """Deleted sessions not yet purged (for an undo list or a bin)."""
        with self._db.read() as orm:
            rows = orm.scalars(
                select(SessionRow)
                .where(SessionRow.deleted_at.is_not(None))
                .order_by(SessionRow.deleted_at.desc())
            )
            return [to_session(r) for r in rows]

    def purge_deleted(self, older_than: timedelta = timedelta(0)) -> int:
        """Remove for good the sessions deleted more than `older_than` ago, with their
        messages, summaries and memory. Returns how many went."""
        cutoff = utc_now() - older_than
        with self._db.write() as orm:
            rows = list(
                orm.scalars(
                    select(SessionRow).where(
                        SessionRow.deleted_at.is_not(None), SessionRow.deleted_at <= cutoff
                    )
                )
            )
            for row in rows:
                orm.delete(row)  # the foreign keys cascade to the rest
            return len(rows)

    def touch(self, orm: OrmSession, session_id: int) -> None:
        orm.execute(
            update(SessionRow).where(SessionRow.id == session_id).values(updated_at=utc_now())
        )


def _counts(orm: OrmSession, rows: list[SessionRow]) -> dict[int, tuple[int, int]]:
    """{session id: (messages, cached tokens under the session model's encoding)} from
    the aggregates the triggers keep (migration 0005): one small indexed read, never a
    scan of the messages."""
    if not rows:
        return {}
    wanted = {r.id: lookup_model(r.model).encoding for r in rows}
    tokens: dict[int, int] = {}
    ids = list(wanted)
    for start in range(0, len(ids), _IN_CHUNK):
        found = orm.execute(
            select(SessionTokensRow.session_id, SessionTokensRow.encoding,
                   SessionTokensRow.tokens)
            .where(SessionTokensRow.session_id.in_(ids[start:start + _IN_CHUNK]))
        )
        for sid, encoding, total in found:
            if wanted.get(sid) == encoding:
                tokens[sid] = int(total)
    return {r.id: (int(r.message_count or 0), tokens.get(r.id, 0)) for r in rows}


def uncounted_sessions(orm: OrmSession, encodings: Mapping[int, str]) -> list[int]:
    """Of the sessions in `encodings` ({session id: encoding}), those with a message that
    has no cached count under that encoding, from the aggregates (no message is read)."""
    if not encodings:
        return []
    counted: dict[int, int] = {}
    ids = list(encodings)
    totals: dict[int, int] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start:start + _IN_CHUNK]
        for sid, messages in orm.execute(
            select(SessionRow.id, SessionRow.message_count).where(SessionRow.id.in_(chunk))
        ):
            totals[sid] = int(messages)
        for sid, encoding, done in orm.execute(
            select(SessionTokensRow.session_id, SessionTokensRow.encoding,
                   SessionTokensRow.messages).where(SessionTokensRow.session_id.in_(chunk))
        ):
            if encodings.get(sid) == encoding:
                counted[sid] = int(done)
    return [sid for sid in ids if totals.get(sid, 0) > counted.get(sid, 0)]
