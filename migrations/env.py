"""Alembic environment for Token Budget.

The app runs migrations itself at start-up (desktop_app/store/migrate.py): it builds the
Alembic Config in code and hands over an open connection, already inside a write
transaction, in config.attributes["connection"]. No alembic.ini is needed.

For development (`alembic revision --autogenerate`), a `sqlalchemy.url` main option in
the Config, or the TOKEN_BUDGET_DB_URL environment variable, names the database."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from desktop_app.store.models import Base, is_modelled

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=True,
        # SQLite runs DDL inside transactions: a failed migration leaves nothing behind.
        transactional_ddl=True,
        # the full-text index's tables are not models (store/models.py)
        include_name=is_modelled,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("TOKEN_BUDGET_DB_URL")
    if not url:
        raise RuntimeError("set sqlalchemy.url or TOKEN_BUDGET_DB_URL to run Alembic by hand")
    engine = create_engine(url)
    with engine.connect() as connection:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
