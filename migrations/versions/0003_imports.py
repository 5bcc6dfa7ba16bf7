"""Imports remember what they were made from (imports): each session an import makes
gets a row with the SHA-256 of its conversation, so that importing the same file (or
the same conversation in a later export) again is recognised and skipped unless asked.

Revision ID: 0003
Revises: 0002
Create Date: 2025-03-01

Frozen like every revision: the table is spelled out here. Sessions imported before this
revision have no row (nothing recorded what they came from): a second import of their
file is not recognised, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=50), nullable=False),
        sa.Column("imported_at", sa.String(length=32), nullable=False),  # ISO-8601, UTC
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_imports_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_index("ix_imports_session_id", "imports", ["session_id"], unique=False)
    op.create_index("ix_imports_content_hash", "imports", ["content_hash"], unique=False)


def downgrade() -> None:
    op.drop_table("imports")  # its indexes go with it
