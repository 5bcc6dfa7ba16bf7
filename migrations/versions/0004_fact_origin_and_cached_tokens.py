"""A memory fact says where it came from (memory.origin), and a turn's usage keeps the
prompt tokens the server read from its cache (turn_usage.cached_prompt_tokens).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

origin is one of "user" (typed or edited in the window), "model" (extracted by a model),
"offline" (the offline extractor) or "offline-check" (a fact the model's extraction left
out, kept by the offline check); NULL for facts stored before this revision, whose
origin nobody recorded. cached_prompt_tokens is the server's
usage.prompt_tokens_details.cached_tokens; NULL when it did not say.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN: SQLite does it in place (a batch copy of a table would drop and
    # recreate it, which foreign keys may cascade through)
    op.add_column("memory", sa.Column("origin", sa.String(length=20), nullable=True))
    op.add_column("turn_usage", sa.Column("cached_prompt_tokens", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("turn_usage") as batch:
        batch.drop_column("cached_prompt_tokens")
    with op.batch_alter_table("memory") as batch:
        batch.drop_column("origin")
