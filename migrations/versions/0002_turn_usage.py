"""Per-turn usage gets a table of its own (turn_usage), moved out of the settings rows
'turn_usage.<session id>' where version 0.1 kept it as one JSON blob per session.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01

Like every revision this one is frozen: it names its tables and columns here and never
imports desktop_app. The old blobs were {"<reply message id>": {component: tokens}};
each entry whose reply still exists becomes a row, with the reply's time and the
server's counts and cost taken from the message. Entries that cannot be read are
skipped, and every 'turn_usage.*' settings row is removed (the backup taken before the
upgrade keeps them).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "turn_usage."
KEPT_ON_DOWNGRADE = 1000  # the old blob's cap

# Lightweight views of the tables, as they are at this revision. Text columns where the
# real ones are JSON, so that a damaged value is ours to judge instead of an exception.
settings = sa.table(
    "settings", sa.column("key", sa.String), sa.column("value", sa.Text),
    sa.column("updated_at", sa.String),
)
messages = sa.table(
    "messages", sa.column("id", sa.Integer), sa.column("session_id", sa.Integer),
    sa.column("role", sa.String), sa.column("created_at", sa.String),
    sa.column("prompt_tokens", sa.Integer), sa.column("completion_tokens", sa.Integer),
    sa.column("cost", sa.Float),
)
turn_usage = sa.table(
    "turn_usage", sa.column("id", sa.Integer), sa.column("session_id", sa.Integer),
    sa.column("reply_message_id", sa.Integer), sa.column("created_at", sa.String),
    sa.column("model", sa.String), sa.column("component_tokens", sa.Text),
    sa.column("prompt_tokens", sa.Integer), sa.column("reported_prompt_tokens", sa.Integer),
    sa.column("reported_completion_tokens", sa.Integer), sa.column("cost", sa.Float),
)


def upgrade() -> None:
    op.create_table(
        "turn_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("reply_message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),  # ISO-8601, UTC
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("component_tokens", sa.JSON(), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("reported_prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("reported_completion_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reply_message_id"],
            ["messages.id"],
            name=op.f("fk_turn_usage_reply_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_turn_usage_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_turn_usage")),
    )
    op.create_index("ix_turn_usage_session_id", "turn_usage", ["session_id"], unique=False)
    _move_settings_into_table(op.get_bind())


def downgrade() -> None:
    _move_table_into_settings(op.get_bind())
    op.drop_table("turn_usage")  # its index goes with it


# --- the data ---------------------------------------------------------------------------


def _session_id(key: str) -> int | None:
    suffix = key[len(PREFIX):]
    return int(suffix) if suffix.isdecimal() else None


def _components(value: Any) -> dict[str, int] | None:
    """{component: tokens} from an old blob entry; None if it is not one."""
    if not isinstance(value, dict):
        return None
    out: dict[str, int] = {}
    for name, tokens in value.items():
        if isinstance(tokens, bool) or not isinstance(tokens, int | float):
            continue
        if isinstance(tokens, float) and not math.isfinite(tokens):
            continue
        if tokens > 0:
            out[str(name)] = int(tokens)
    return out


def _rows_for_session(conn: sa.Connection, session_id: int, blob: Any) -> list[dict[str, Any]]:
    if not isinstance(blob, dict):
        return []
    replies = {
        r.id: r
        for r in conn.execute(
            sa.select(messages).where(messages.c.session_id == session_id,
                                      messages.c.role == "assistant")
        )
    }
    rows = []
    for reply_key, entry in blob.items():
        reply = replies.get(int(reply_key)) if str(reply_key).isdecimal() else None
        components = _components(entry)
        if reply is None or components is None:
            continue  # the reply is gone (the chart no longer showed it) or the entry is junk
        rows.append({
            "session_id": session_id,
            "reply_message_id": reply.id,
            "created_at": reply.created_at,
            "model": None,  # the blob did not say; the session's model may have changed since
            "component_tokens": json.dumps(components, sort_keys=True),
            "prompt_tokens": None,
            "reported_prompt_tokens": reply.prompt_tokens,
            "reported_completion_tokens": reply.completion_tokens,
            "cost": reply.cost,
        })
    return rows


def _move_settings_into_table(conn: sa.Connection) -> None:
    old = [
        (key, raw)
        for key, raw in conn.execute(sa.select(settings.c.key, settings.c.value))
        if key.startswith(PREFIX)
    ]
    rows: list[dict[str, Any]] = []
    for key, raw in old:
        session_id = _session_id(key)
        try:
            blob = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            blob = None
        if session_id is not None:
            rows += _rows_for_session(conn, session_id, blob)
    rows.sort(key=lambda r: (r["session_id"], r["created_at"], r["reply_message_id"]))
    if rows:
        conn.execute(turn_usage.insert(), rows)
    if old:
        conn.execute(sa.delete(settings).where(settings.c.key.in_([k for k, _ in old])))


def _move_table_into_settings(conn: sa.Connection) -> None:
    """Back to the old blobs, so that the older version still draws its chart."""
    blobs: dict[int, dict[str, Any]] = {}
    query = (
        sa.select(turn_usage.c.session_id, turn_usage.c.reply_message_id,
                  turn_usage.c.component_tokens)
        .where(turn_usage.c.reply_message_id.is_not(None))
        .order_by(turn_usage.c.reply_message_id)
    )
    for session_id, reply_id, raw in conn.execute(query):
        try:
            components = _components(json.loads(raw))
        except (TypeError, ValueError):
            components = None
        if components is not None:
            blobs.setdefault(session_id, {})[str(reply_id)] = components
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    for session_id, blob in blobs.items():
        newest = dict(list(blob.items())[-KEPT_ON_DOWNGRADE:])
        key = f"{PREFIX}{session_id}"
        conn.execute(sa.delete(settings).where(settings.c.key == key))
        conn.execute(settings.insert().values(key=key, value=json.dumps(newest),
                                              updated_at=now))
