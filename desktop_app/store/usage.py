"""What each finished turn used (the usage chart's data), one row per turn. The rows go
with their session: exported and imported with it, removed when it is purged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from desktop_app.core.app_records import TurnUsage
from desktop_app.store.errors import NotFoundError
from desktop_app.store.models import SessionRow, TurnUsageRow, utc_now

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as OrmSession

    from desktop_app.store.database import Database

# A chart shows this many turns at most: a session's newest turns.
DEFAULT_LIMIT = 1000


def to_usage(row: TurnUsageRow) -> TurnUsage:
    return TurnUsage(
        components=dict(row.component_tokens or {}),
        prompt_tokens=row.prompt_tokens,
        reported_prompt_tokens=row.reported_prompt_tokens,
        reported_completion_tokens=row.reported_completion_tokens,
        cached_prompt_tokens=row.cached_prompt_tokens,
        cost=row.cost,
        model=row.model,
        reply_message_id=row.reply_message_id,
        session_id=row.session_id,
        id=row.id,
        created_at=row.created_at,
    )


def new_usage_row(usage: TurnUsage, session_id: int) -> TurnUsageRow:
    return TurnUsageRow(
        session_id=session_id,
        reply_message_id=usage.reply_message_id,
        created_at=usage.created_at or utc_now(),
        model=usage.model,
        component_tokens={str(c): int(t) for c, t in usage.components.items() if t},
        prompt_tokens=usage.prompt_tokens,
        reported_prompt_tokens=usage.reported_prompt_tokens,
        reported_completion_tokens=usage.reported_completion_tokens,
        cached_prompt_tokens=usage.cached_prompt_tokens,
        cost=usage.cost,
    )


def insert_usage(orm: OrmSession, session_id: int, usages: Sequence[TurnUsage]) -> None:
    """Add usage rows inside the caller's transaction (import)."""
    orm.add_all(new_usage_row(u, session_id) for u in usages)


class UsageRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, session_id: int, usage: TurnUsage) -> TurnUsage:
        """Keep one finished turn's usage. The session may have been deleted (not yet
        purged) while the reply streamed: the usage is kept with it all the same."""
        with self._db.write() as orm:
            if orm.get(SessionRow, session_id) is None:
                raise NotFoundError(f"there is no session {session_id}")
            row = new_usage_row(usage, session_id)
            orm.add(row)
            orm.flush()
            return to_usage(row)

    def list_for_session(self, session_id: int,
                         limit: int | None = DEFAULT_LIMIT) -> list[TurnUsage]:
        """The session's newest `limit` turns (None: all), oldest first."""
        with self._db.read() as orm:
            query = (
                select(TurnUsageRow)
                .where(TurnUsageRow.session_id == session_id)
                .order_by(TurnUsageRow.created_at.desc(), TurnUsageRow.id.desc())
            )
            if limit is not None:
                query = query.limit(limit)
            rows = list(orm.scalars(query))
            return [to_usage(r) for r in reversed(rows)]
