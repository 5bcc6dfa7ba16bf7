"""Alembic, driven from code: the Config is built here (no alembic.ini), pointing at the
migrations/ folder that desktop_app.paths finds in a checkout, a wheel or a bundle."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from desktop_app.paths import migrations_dir

if TYPE_CHECKING:
    from sqlalchemy import Connection


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection  # env.py runs on it
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations/ must have one head revision, found {heads}")
    return heads[0]


def known_revisions() -> list[str]:
    """Every revision this version of the app ships, oldest first."""
    return [s.revision for s in reversed(list(_scripts().walk_revisions()))]


def is_known(revision: str) -> bool:
    return revision in known_revisions()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate on `connection`, inside the transaction the caller already holds."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    command.downgrade(alembic_config(connection), revision)
