"""The tables, as SQLAlchemy 2 typed ORM classes. Nothing outside store/ sees these: the
repositories turn rows into the plain records of desktop_app.core.

A change here needs a new revision in migrations/versions/ (tests/test_store_migrations.py
checks that the migrated schema matches these classes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from desktop_app.core.records import MESSAGE_STATUSES, ROLES

# Stable constraint names, so that later migrations (batch mode on SQLite) can refer to them.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class ReadableJSON(TypeDecorator[Any]):
    """JSON whose malformed cell reads as an empty value of its kind instead of failing
    every query that touches the row (a file edited by hand, a disk that lost a page):
    the rest of the database keeps working, and Database.find_bad_rows names the row."""

    impl = JSON
    cache_ok = True

    def __init__(self, empty: type | None = None) -> None:
        super().__init__()
        self.empty = empty  # dict or list: what a malformed cell reads as; None: None

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        import json

        empty = self.empty

        def process(value: Any) -> Any:
            if value is None or not isinstance(value, str | bytes):
                return value
            try:
                return json.loads(value)
            except ValueError:
                return empty() if empty is not None else None

        return process


class UtcTimestamp(TypeDecorator[datetime]):
    """A moment stored as ISO-8601 text in UTC ('2025-01-31T09:15:00.123456+00:00'):
    readable in any SQLite tool, sorts as text, and parses fast (datetime.fromisoformat is
    C code, which matters when a 10,000-message session opens)."""

    impl = String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)  # naive times are taken as UTC
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        try:
            return datetime.fromisoformat(value)
        except (TypeError, ValueError):  # edited by hand or by another tool
            return UNREADABLE_TIME  # named by Database.find_malformed_rows


# What a stored time that is not one reads as: the rest of its row, and of the database,
# keeps working (one malformed cell used to stop every query that touched it).
UNREADABLE_TIME = datetime(1970, 1, 1, tzinfo=UTC)


class ReadableText(TypeDecorator[str]):
    """Text whose cell holds something else (bytes written by another tool, a number)
    reads as text instead of failing where text is expected; find_malformed_rows names
    the row."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(ReadableText)
    model: Mapped[str] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(50))
    strategy_settings: Mapped[dict[str, Any]] = mapped_column(ReadableJSON(dict))
    profile: Mapped[str] = mapped_column(String(200))
    system_prompt: Mapped[str] = mapped_column(ReadableText)
    examples: Mapped[list[dict[str, str]]] = mapped_column(ReadableJSON(list))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    archived: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    # Deleting is soft, so that "undo" brings everything back; purge_deleted() removes.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    # kept by triggers on messages (migration 0005), never written from Python
    message_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "position", name="uq_messages_session_position"),
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(ReadableText)
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    status: Mapped[str] = mapped_column(String(20), server_default="complete")
    pinned: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    excluded: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    # {encoding: content tokens}: one JSON column rather than a child table, because the
    # whole map is read with every message when a session opens and a join would cost more.
    token_counts: Mapped[dict[str, int]] = mapped_column(JSON, server_default=text("'{}'"))


# Messages left 'streaming' are found at start-up; the partial index keeps that instant.
Index(
    "ix_messages_streaming",
    MessageRow.status,
    sqlite_where=MessageRow.status == "streaming",
)


# The pinned messages and those carrying usage or a cost (the replies), read without a
# scan of the session when it opens (migration 0007: the window reads only the newest
# messages and these).
Index(
    "ix_messages_pinned",
    MessageRow.session_id,
    MessageRow.position,
    sqlite_where=text("pinned = 1"),
)
USAGE_WHERE = "prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL OR cost IS NOT NULL"
Index(
    "ix_messages_usage",
    MessageRow.session_id,
    MessageRow.position,
    sqlite_where=text(USAGE_WHERE),
)


# The (normally no) messages whose cached counts are not valid JSON, found at start from
# this index instead of a scan of every message (Database.find_bad_rows).
Index(
    "ix_messages_bad_counts",
    MessageRow.session_id,
    sqlite_where=text("NOT json_valid(token_counts)"),
)


class SessionTokensRow(Base):
    """Per session and encoding: the sum of its messages' cached counts and how many
    messages have one. Kept by triggers on messages (migration 0005), never written from
    Python; the session list reads these instead of scanning messages."""

    __tablename__ = "session_tokens"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    encoding: Mapped[str] = mapped_column(String(100), primary_key=True)
    tokens: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    messages: Mapped[int] = mapped_column(Integer, server_default=text("0"))


# The full-text index (migration 0005): an FTS5 table and its shadow tables, which the
# models do not describe; Alembic's comparison leaves them out (include_name).
FTS_TABLE = "messages_fts"


def is_modelled(name: str | None, type_: str, _parent: object = None) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(FTS_TABLE))


class SummaryRow(Base):
    __tablename__ = "summaries"
    __table_args__ = (CheckConstraint("method IN ('model', 'extractive')", name="method"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    # The range of messages it replaced (kept as ids; set to NULL if a message is deleted).
    first_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    last_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    text: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(20))
    model: Mapped[str | None] = mapped_column(String(200))
    retention: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class MemoryRow(Base):
    __tablename__ = "memory"
    __table_args__ = (
        # One value per key and scope. SQLite treats NULLs as distinct in a unique index,
        # so global facts (session_id NULL) get an index of their own.
        Index(
            "uq_memory_session_key",
            "session_id",
            "key",
            unique=True,
            sqlite_where=text("session_id IS NOT NULL"),
        ),
        Index("uq_memory_global_key", "key", unique=True, sqlite_where=text("session_id IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(500))
    value: Mapped[str] = mapped_column(Text)
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    pinned: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    tokens: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    # who found it: "user", "model", "offline" or "offline-check" (NULL: not recorded)
    origin: Mapped[str | None] = mapped_column(String(20))


class ProfileRow(Base):
    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    fractions: Mapped[dict[str, float]] = mapped_column(ReadableJSON(dict))
    builtin: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    description: Mapped[str] = mapped_column(Text, server_default="")
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class ProviderRow(Base):
    """Where a model server is and what it offers. No API key column, by design."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    preset: Mapped[str] = mapped_column(String(50))
    base_url: Mapped[str] = mapped_column(Text)
    models: Mapped[list[str]] = mapped_column(ReadableJSON(list))
    context_windows: Mapped[dict[str, int]] = mapped_column(ReadableJSON(dict))
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class CalibrationRow(Base):
    """Per model: the running ratio of server-reported to estimated prompt tokens."""

    __tablename__ = "calibration"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    ratio: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer)
    m2: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class TurnUsageRow(Base):
    """One finished turn: the request split by component as we counted it, beside what
    the server reported and what it cost. Goes with its session (export, purge)."""

    __tablename__ = "turn_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    # The usage outlives its reply: deleting the message keeps what the turn cost.
    reply_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    model: Mapped[str | None] = mapped_column(String(200))
    # {component: tokens}, read whole with the row, like messages.token_counts
    component_tokens: Mapped[dict[str, int]] = mapped_column(
        JSON, server_default=text("'{}'")
    )
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)  # our count
    reported_prompt_tokens: Mapped[int | None] = mapped_column(Integer)  # the server's
    reported_completion_tokens: Mapped[int | None] = mapped_column(Integer)
    # prompt tokens the server read from its prefix cache, as it reported them
    cached_prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)


class ImportRow(Base):
    """A session an import made, with the hash of the conversation it was made from, so
    that importing the same conversation again is recognised (store/transfer.py). Goes
    with its session: a session deleted for good can be imported anew."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    content_hash: Mapped[str] = mapped_column(String(64), index=True)  # SHA-256, hex
    source: Mapped[str] = mapped_column(Text)  # the file's name, as the user chose it
    format: Mapped[str] = mapped_column(String(50))  # "token-budget" or "chatgpt"
    imported_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class SettingRow(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[Any] = mapped_column(ReadableJSON())
    updated_at: Mapped[datetime] = mapped_column(UtcTimestamp)


class ExperimentRow(Base):
    """A token-efficiency experiment: its variants, inputs and evaluator as it was run
    (core/experiments.py). Not tied to a session."""

    __tablename__ = "experiments"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'cancelled', 'failed')",
                        name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
    finished_at: Mapped[datetime | None] = mapped_column(UtcTimestamp)
    model: Mapped[str] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(200))
    evaluator: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    repeats: Mapped[int] = mapped_column(Integer)
    concurrency: Mapped[int] = mapped_column(Integer)
    # [{"name": ..., "text": ...}] and [input text, ...], read whole with the row
    variants: Mapped[list[dict[str, str]]] = mapped_column(ReadableJSON(list))
    inputs: Mapped[list[str]] = mapped_column(ReadableJSON(list))


class ExperimentResultRow(Base):
    """One variant on one input, once: the reply, its tokens (ours and the server's),
    cost, latency and the evaluator's verdict; or the error that left it without one."""

    __tablename__ = "experiment_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    variant: Mapped[int] = mapped_column(Integer)  # index into experiments.variants
    input: Mapped[int] = mapped_column(Integer)  # index into experiments.inputs
    repeat: Mapped[int] = mapped_column(Integer)
    output: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer)  # our count
    prompt_exact: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    reported_prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    reported_completion_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(default=False, server_default=text("0"))
    detail: Mapped[str] = mapped_column(Text, server_default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcTimestamp)
