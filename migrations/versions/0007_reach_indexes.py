"""Partial indexes for opening a long session without reading all of it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

The window reads a session's newest messages back only as far as its next request can
reach; the rest it needs only in summary. Two questions about the rest used to scan every
message of the session (55-105 ms at 300,000 messages) and now read a partial index of
the few rows they are about:

- ix_messages_pinned: the pinned messages (sent however old they are);
- ix_messages_usage: the messages carrying usage or a cost (the replies), for the session's
  cost and its usage chart.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

USAGE = "prompt_tokens IS NOT NULL OR completion_tokens IS NOT NULL OR cost IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_messages_pinned", "messages", ["session_id", "position"],
                    sqlite_where=sa.text("pinned = 1"))
    op.create_index("ix_messages_usage", "messages", ["session_id", "position"],
                    sqlite_where=sa.text(USAGE))


def downgrade() -> None:
    op.drop_index("ix_messages_usage", table_name="messages")
    op.drop_index("ix_messages_pinned", table_name="messages")
