"""Session aggregates kept on write, full-text search, and a cheap look for bad rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

- sessions.message_count and the table session_tokens ({session, encoding}: the sum of
  the messages' cached counts under that encoding and how many messages have one) are
  kept right by triggers on messages (insert, delete, a change of token_counts or of
  session), so every write path, an import and a purge's cascade included, keeps them,
  and the session list reads them instead of scanning every message. A malformed
  token_counts cell counts as no counts (as the old scan read it).
- messages_fts: an FTS5 index over messages.content (external content: the text is
  stored once, in messages), kept by triggers. Skipped when this SQLite has no FTS5;
  search then falls back to LIKE (store/search.py).
- ix_messages_bad_counts: a partial index of the (normally no) messages whose
  token_counts is not valid JSON, so finding them at start reads the index, not the
  whole table.

Existing databases are rebuilt here: the aggregates from one grouped scan and the
search index with FTS5's 'rebuild'.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A message's counts as an object to iterate: a malformed or non-object cell as none.
_OBJ = ("CASE WHEN json_valid({c}) THEN CASE WHEN json_type({c}) = 'object' THEN {c} END "
        "END")


def _each(cell: str) -> str:
    return f"json_each(coalesce({_OBJ.format(c=cell)}, '{{}}'))"


def _add(row: str) -> str:
    return (
        f"INSERT INTO session_tokens (session_id, encoding, tokens, messages) "
        f"SELECT {row}.session_id, key, CAST(value AS INTEGER), 1 "
        f"FROM {_each(row + '.token_counts')} "
        f"WHERE type IN ('integer', 'real') "
        f"ON CONFLICT (session_id, encoding) DO UPDATE SET "
        f"tokens = tokens + excluded.tokens, messages = messages + 1;"
    )


def _subtract(row: str) -> str:
    each = _each(row + ".token_counts")
    return (
        f"UPDATE session_tokens SET "
        f"tokens = tokens - (SELECT CAST(value AS INTEGER) FROM {each} "
        f"WHERE key = session_tokens.encoding), messages = messages - 1 "
        f"WHERE session_id = {row}.session_id AND encoding IN "
        f"(SELECT key FROM {each} WHERE type IN ('integer', 'real'));"
    )


AGGREGATE_TRIGGERS = {
    "messages_aggregates_insert": (
        "AFTER INSERT ON messages BEGIN "
        "UPDATE sessions SET message_count = message_count + 1 WHERE id = new.session_id; "
        + _add("new") + " END"
    ),
    "messages_aggregates_delete": (
        "AFTER DELETE ON messages BEGIN "
        "UPDATE sessions SET message_count = message_count - 1 WHERE id = old.session_id; "
        + _subtract("old") + " END"
    ),
    "messages_aggregates_update": (
        "AFTER UPDATE OF token_counts, session_id ON messages BEGIN "
        "UPDATE sessions SET message_count = message_count - 1 WHERE id = old.session_id; "
        "UPDATE sessions SET message_count = message_count + 1 WHERE id = new.session_id; "
        + _subtract("old") + " " + _add("new") + " END"
    ),
}

FTS_TRIGGERS = {
    "messages_fts_insert": (
        "AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    ),
    "messages_fts_delete": (
        "AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); END"
    ),
    "messages_fts_update": (
        "AFTER UPDATE OF content ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) "
        "VALUES ('delete', old.id, old.content); "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END"
    ),
}

# unicode61 folds case (beyond ASCII) and, with remove_diacritics 2, accents
FTS_TABLE = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
)


def has_fts5(conn: sa.Connection) -> bool:
    options = {r[0] for r in conn.exec_driver_sql("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options


def upgrade() -> None:
    conn = op.get_bind()
    # in place (a batch copy of sessions would cascade-delete what refers to it)
    conn.exec_driver_sql(
        "ALTER TABLE sessions ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0")
    op.create_table(
        "session_tokens",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=100), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("messages", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE",
                                name="fk_session_tokens_session_id_sessions"),
        sa.PrimaryKeyConstraint("session_id", "encoding", name="pk_session_tokens"),
    )
    op.create_index("ix_messages_bad_counts", "messages", ["session_id"],
                    sqlite_where=sa.text("NOT json_valid(token_counts)"))
    # rebuild the aggregates of what is already stored, then keep them from now on
    conn.exec_driver_sql(
        "UPDATE sessions SET message_count = "
        "(SELECT count(*) FROM messages WHERE messages.session_id = sessions.id)")
    conn.exec_driver_sql(
        "INSERT INTO session_tokens (session_id, encoding, tokens, messages) "
        f"SELECT m.session_id, j.key, sum(CAST(j.value AS INTEGER)), count(*) "
        f"FROM messages AS m, {_each('m.token_counts')} AS j "
        "WHERE j.type IN ('integer', 'real') GROUP BY m.session_id, j.key")
    for name, body in AGGREGATE_TRIGGERS.items():
        conn.exec_driver_sql(f"CREATE TRIGGER {name} {body}")
    if has_fts5(conn):
        conn.exec_driver_sql(FTS_TABLE)
        conn.exec_driver_sql("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
        for name, body in FTS_TRIGGERS.items():
            conn.exec_driver_sql(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    conn = op.get_bind()
    for name in (*FTS_TRIGGERS, *AGGREGATE_TRIGGERS):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    conn.exec_driver_sql("DROP TABLE IF EXISTS messages_fts")
    op.drop_index("ix_messages_bad_counts", table_name="messages")
    op.drop_table("session_tokens")
    # in place: a batch copy would drop the table the messages cascade from
    conn.exec_driver_sql("ALTER TABLE sessions DROP COLUMN message_count")
