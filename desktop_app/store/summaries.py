"""Summaries of a session's older messages, each with the range of messages it replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from desktop_app.core.records import Summary
from desktop_app.store.errors import StoreError
from desktop_app.store.models import SummaryRow, utc_now
from desktop_app.store.sessions import live_session

if TYPE_CHECKING:
    from desktop_app.store.database import Database

METHODS = ("model", "extractive")


def to_summary(row: SummaryRow) -> Summary:
    return Summary(
        id=row.id,
        session_id=row.session_id,
        text=row.text,
        first_message_id=row.first_message_id,
        last_message_id=row.last_message_id,
        method=row.method,
        model=row.model,
        tokens=row.tokens,
        retention=row.retention,
        created_at=row.created_at,
    )


def new_summary_row(summary: Summary, session_id: int) -> SummaryRow:
    if summary.method not in METHODS:
        raise StoreError(f"unknown summary method {summary.method!r} (known: model, extractive)")
    return SummaryRow(
        session_id=session_id,
        text=summary.text,
        first_message_id=summary.first_message_id,
        last_message_id=summary.last_message_id,
        method=summary.method,
        model=summary.model,
        tokens=summary.tokens,
        retention=summary.retention,
        created_at=summary.created_at or utc_now(),
    )


class SummaryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, summary: Summary) -> Summary:
        if summary.session_id is None:
            raise StoreError("a summary needs the session it belongs to")
        with self._db.write() as orm:
            live_session(orm, summary.session_id)
            row = new_summary_row(summary, summary.session_id)
            orm.add(row)
            orm.flush()
            return to_summary(row)

    def latest(self, session_id: int) -> Summary | None:
        with self._db.read() as orm:
            row = orm.scalars(
                select(SummaryRow)
                .where(SummaryRow.session_id == session_id)
                .order_by(SummaryRow.created_at.desc(), SummaryRow.id.desc())
                .limit(1)
            ).first()
            return to_summary(row) if row else None

    def list(self, session_id: int) -> list[Summary]:
        """The session's summaries, oldest first."""
        with self._db.read() as orm:
            rows = orm.scalars(
                select(SummaryRow)
                .where(SummaryRow.session_id == session_id)
                .order_by(SummaryRow.created_at, SummaryRow.id)
            )
            return [to_summary(r) for r in rows]
