"""Alembic migrations on real files: from an empty file and from every revision in
migrations/versions/ up to head (with a backup first), down again, and a schema that
matches the models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, create_engine

from desktop_app.core.records import Message, Session
from desktop_app.store import migrate, open_database
from desktop_app.store.backups import list_backups
from desktop_app.store.database import DB_FILE
from desktop_app.store.models import Base

REVISIONS = migrate.known_revisions()


def revision_of(path: Path) -> str | None:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def migrate_file(path: Path, target: str, down: bool = False) -> None:
    """Run Alembic on a file directly, as an older (or newer) app would have."""
    engine = create_engine(URL.create("sqlite", database=str(path)))
    try:
        with engine.begin() as conn:
            (migrate.downgrade if down else migrate.upgrade)(conn, target)
    finally:
        engine.dispose()


def table_names(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        return {r[0] for r in rows} - {"alembic_version", "sqlite_sequence"}
    finally:
        conn.close()


def test_the_versions_folder_has_one_line_of_revisions():
    assert REVISIONS, "migrations/versions/ holds no revision"
    assert REVISIONS[-1] == migrate.head_revision()


def test_an_empty_folder_gets_the_head_schema_matching_the_models(tmp_path):
    with open_database(tmp_path) as db, db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
    assert revision_of(tmp_path / DB_FILE) == migrate.head_revision()
    assert list_backups(tmp_path / DB_FILE) == []  # nothing to back up yet


@pytest.mark.parametrize("start", [None, *REVISIONS], ids=["empty", *REVISIONS])
def test_upgrade_to_head_from_every_revision_backs_up_first_and_works(tmp_path, start):
    path = tmp_path / DB_FILE
    if start is not None:
        migrate_file(path, start)
        assert revision_of(path) == start
    with open_database(tmp_path) as db:
        session = db.sessions.create(Session(title="survivor"))
        db.messages.append(session.id, Message("user", "still here"))
    assert revision_of(path) == migrate.head_revision()
    if start is not None and start != migrate.head_revision():
        (backup,) = list_backups(path)
        assert f"before-upgrade-from-{start}" in backup.name
        assert revision_of(backup) == start


def test_downgrade_through_every_revision_to_empty_and_back(tmp_path):
    path = tmp_path / DB_FILE
    with open_database(tmp_path):
        pass
    for target in [*reversed(REVISIONS[:-1]), "base"]:
        migrate_file(path, target, down=True)
        assert revision_of(path) == (None if target == "base" else target)
    assert table_names(path) == set()
    migrate_file(path, "head")
    with open_database(tmp_path) as db:
        assert db.profiles.get("default").builtin
