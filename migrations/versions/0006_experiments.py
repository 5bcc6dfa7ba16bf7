"""Token-efficiency experiments: a run's settings (experiments) and each variant's
result on each input (experiment_results).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

experiments keeps the variants (name and system prompt) and the inputs as JSON, the
model, provider and evaluator as given, and the run's status ('running' until it ends:
'finished', 'cancelled' with the results so far, or 'failed'). experiment_results holds
one row per variant × input × repeat that came back: the reply, our prompt count and the
server's usage, cost, latency and the evaluator's score; or the error that left it
without a reply. Results go with their experiment.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),  # ISO-8601, UTC
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("evaluator", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.CheckConstraint("status IN ('running', 'finished', 'cancelled', 'failed')",
                           name=op.f("ck_experiments_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
    )
    op.create_table(
        "experiment_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.Integer(), nullable=False),
        sa.Column("input", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("prompt_exact", sa.Boolean(), nullable=False, server_default=sa.text("0")),
        sa.Column("reported_prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("reported_completion_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False, server_default=sa.text("0")),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_results_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_results")),
    )
    op.create_index("ix_experiment_results_experiment_id", "experiment_results",
                    ["experiment_id"], unique=False)


def downgrade() -> None:
    op.drop_table("experiment_results")  # its index goes with it
    op.drop_table("experiments")
