"""Alembic, driven from code: the Config is built here (no alembic.ini), pointing at the
migrations/ folder that desktop_app.paths finds in a checkout, a wheel or a bundle.

Alembic itself (~17 MB resident with Mako and the dialects it loads) is imported only
to migrate: a start on a database already at head reads the revision ids from the
files' `revision = ...` lines and the database's alembic_version table."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from desktop_app.paths import migrations_dir

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Connection

# `revision: str = "0001"` and `down_revision: str | None = "0001"` (script.py.mako)
_REVISION_LINE = re.compile(
    r"^(down_revision|revision)\s*(?::[^=\n]*)?=\s*(?:None|['\"]([^'\"\n]+)['\"])\s*$",
    re.MULTILINE)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection  # env.py runs on it
    return config


@cache
def known_revisions() -> list[str]:
    """Every revision this version of the app ships, oldest first (one line of them)."""
    down_of: dict[str, str | None] = {}
    for path in sorted((migrations_dir() / "versions").glob("*.py")):
        found = dict((m[0], m[1] or None) for m in _REVISION_LINE.findall(path.read_text(
            encoding="utf-8")))
        if "revision" not in found:
            continue  # __init__.py; Alembic skips a file without a revision too
        if not found["revision"] or "down_revision" not in found:
            raise RuntimeError(f"{path.name}: cannot read its revision and down_revision")
        down_of[str(found["revision"])] = found["down_revision"]
    heads = set(down_of) - set(down_of.values())
    if len(heads) != 1:
        raise RuntimeError(f"migrations/ must have one head revision, found {sorted(heads)}")
    line: list[str] = []
    revision: str | None = heads.pop()
    while revision is not None:
        if revision not in down_of or revision in line:
            raise RuntimeError(f"migrations/: revision {revision} is missing or in a loop")
        line.append(revision)
        revision = down_of[revision]
    if len(line) != len(down_of):
        raise RuntimeError("migrations/ must have one line of revisions")
    return line[::-1]


def head_revision() -> str:
    return known_revisions()[-1]


def is_known(revision: str) -> bool:
    return revision in known_revisions()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: not set up yet)."""
    from sqlalchemy import text

    if connection.execute(text("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                "AND name = 'alembic_version'")).first() is None:
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    if len(rows) > 1:
        raise RuntimeError(f"the database has {len(rows)} revisions; expected one")
    return str(rows[0][0]) if rows else None


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Migrate on `connection`, inside the transaction the caller already holds."""
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(connection), revision)
