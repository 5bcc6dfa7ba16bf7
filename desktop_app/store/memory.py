"""Key-value memory: facts scoped to one session, or global (shared by all sessions).
One value per key and scope; upsert() replaces it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from desktop_app.core.records import MemoryFact
from desktop_app.store.errors import NotFoundError, StoreError
from desktop_app.store.models import MemoryRow, utc_now
from desktop_app.store.sessions import live_session

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as OrmSession

    from desktop_app.store.database import Database


def to_fact(row: MemoryRow) -> MemoryFact:
    return MemoryFact(
        id=row.id,
        key=row.key,
        value=row.value,
        session_id=row.session_id,
        pinned=row.pinned,
        source_message_id=row.source_message_id,
        tokens=row.tokens,
        updated_at=row.updated_at,
        origin=row.origin,
    )


def _scope(session_id: int | None):
    return (
        MemoryRow.session_id.is_(None)
        if session_id is None
        else (MemoryRow.session_id == session_id)
    )


def upsert_fact(orm: OrmSession, fact: MemoryFact) -> MemoryRow:
    """Insert or replace the fact with this key and scope, in the caller's transaction."""
    key = fact.key.strip()
    if not key:
        raise StoreError("a memory fact needs a key")
    if fact.session_id is not None:
        live_session(orm, fact.session_id)
    query = select(MemoryRow).where(_scope(fact.session_id), MemoryRow.key == key)
    row = orm.scalars(query).first()
    if row is None:
        row = MemoryRow(session_id=fact.session_id, key=key)
        orm.add(row)
    row.value = fact.value
    row.pinned = fact.pinned
    row.source_message_id = fact.source_message_id
    row.tokens = fact.tokens  # the count of this value, as the caller made it (or None)
    row.origin = fact.origin
    row.updated_at = fact.updated_at or utc_now()
    orm.flush()
    return row


class MemoryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def upsert(self, fact: MemoryFact) -> MemoryFact:
        with self._db.write() as orm:
            return to_fact(upsert_fact(orm, fact))

    def get(self, key: str, session_id: int | None = None) -> MemoryFact | None:
        with self._db.read() as orm:
            row = orm.scalars(
                select(MemoryRow).where(_scope(session_id), MemoryRow.key == key.strip())
            ).first()
            return to_fact(row) if row else None

    def pin(self, fact_id: int, pinned: bool = True) -> None:
        with self._db.write() as orm:
            self._row(orm, fact_id).pinned = pinned

    def delete(self, fact_id: int) -> MemoryFact:
        """Remove a fact; returns it so that an undo can upsert() it back."""
        with self._db.write() as orm:
            row = self._row(orm, fact_id)
            fact = to_fact(row)
            orm.delete(row)
            return fact

    def list_for_session(self, session_id: int, include_global: bool = True) -> list[MemoryFact]:
        """The session's facts and (by default) the global ones: pinned first, then by
        key. A session fact hides a global fact with the same key."""
        scope = _scope(session_id)
        if include_global:
            scope = or_(scope, MemoryRow.session_id.is_(None))
        with self._db.read() as orm:
            rows = list(orm.scalars(select(MemoryRow).where(scope)))
        own = {r.key for r in rows if r.session_id is not None}
        kept = [r for r in rows if r.session_id is not None or r.key not in own]
        kept.sort(key=lambda r: (not r.pinned, r.key.lower(), r.session_id is None))
        return [to_fact(r) for r in kept]

    def list_global(self) -> list[MemoryFact]:
        with self._db.read() as orm:
            rows = orm.scalars(select(MemoryRow).where(_scope(None)).order_by(MemoryRow.key))
            return [to_fact(r) for r in rows]

    @staticmethod
    def _row(orm: OrmSession, fact_id: int) -> MemoryRow:
        row = orm.get(MemoryRow, fact_id)
        if row is None:
            raise NotFoundError(f"there is no memory fact {fact_id}")
        return row
