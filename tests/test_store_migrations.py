"""Alembic migrations on real files: from an empty file and from every revision in
migrations/versions/ up to head (with a backup first), down again, and a schema that
matches the models."""

from __future__ import annotations

import json
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
from desktop_app.store.models import Base, is_modelled

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
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"include_name": is_modelled}),
            Base.metadata)
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


def usage_blob(path: Path, session_id: int) -> object:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = ?",
                           (f"turn_usage.{session_id}",)).fetchone()
        return json.loads(row[0]) if row else None
    finally:
        conn.close()


def test_usage_kept_in_settings_by_0001_moves_into_its_table(tmp_path):
    """Version 0.1 kept each session's per-turn usage as a settings blob; after the
    upgrade the turns are rows (readable ones only), the blobs are gone, and the backup
    taken first still holds them. Downgrading puts them back for the older version."""
    path = tmp_path / DB_FILE
    with open_database(tmp_path) as db:
        session = db.sessions.create(Session(title="priced", model="gpt-4o-mini"))
        question, first, _, second = db.messages.append_many(session.id, [
            Message("user", "Capital of France?"),
            Message("assistant", "Paris.", prompt_tokens=40, completion_tokens=3, cost=0.01),
            Message("user", "And Spain?"),
            Message("assistant", "Madrid.", prompt_tokens=52, completion_tokens=4, cost=0.02),
        ])
        db.settings.set("default_model", "gpt-4o")
    migrate_file(path, "0001", down=True)
    blob = {
        str(second.id): {"system_prompt": 9, "history": 30, "current_input": 10},
        str(first.id): {"system_prompt": 9, "current_input": 28, "history": 0},
        str(question.id): {"history": 5},  # not a reply: skipped
        "999999": {"history": 1},  # the reply is gone
        "abc": {"history": 1},
        str(first.id + 100): "junk",
    }
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, '2025-01-01T00:00:00')",
            [(f"turn_usage.{session.id}", json.dumps(blob)),
             (f"turn_usage.{session.id + 1}", "{not json"),
             ("turn_usage.x", "[1, 2]")],
        )
    conn.close()

    with open_database(tmp_path) as db:
        turns = db.usage.list_for_session(session.id)
        assert [(t.reply_message_id, t.components) for t in turns] == [
            (first.id, {"system_prompt": 9, "current_input": 28}),
            (second.id, {"system_prompt": 9, "history": 30, "current_input": 10}),
        ]
        assert [(t.reported_prompt_tokens, t.reported_completion_tokens, t.cost)
                for t in turns] == [(40, 3, 0.01), (52, 4, 0.02)]
        assert turns[0].created_at == first.created_at
        assert {k for k in db.settings.all() if k.startswith("turn_usage")} == set()
        assert db.settings.get("default_model") == "gpt-4o"
    (backup,) = list_backups(path)
    assert "before-upgrade-from-0001" in backup.name and revision_of(backup) == "0001"
    assert usage_blob(backup, session.id) == blob

    migrate_file(path, "0001", down=True)
    assert usage_blob(path, session.id) == {
        str(first.id): {"system_prompt": 9, "current_input": 28},
        str(second.id): blob[str(second.id)],
    }


def test_0003_adds_the_record_of_imports_and_takes_it_away_again(tmp_path):
    """Sessions imported under 0002 have no record (a repeat of their file is not
    recognised); from 0003 on every import keeps one, and downgrading drops the table."""
    path = tmp_path / DB_FILE
    migrate_file(path, "0002")
    assert "imports" not in table_names(path)
    with open_database(tmp_path) as db:
        session = db.sessions.create(Session(title="survivor"))
    assert "imports" in table_names(path) and revision_of(path) == migrate.head_revision()
    migrate_file(path, "0002", down=True)
    assert "imports" not in table_names(path)
    with open_database(tmp_path) as db:  # and up again, the sessions untouched
        assert db.sessions.get(session.id).title == "survivor"


def column_names(path: Path, table: str) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    finally:
        conn.close()


def test_0004_adds_fact_origins_and_cached_tokens_and_takes_them_away_again(tmp_path):
    """Facts stored under 0003 have no origin and turns no cached count: after the
    upgrade both columns are there (NULL for what was stored before), new facts keep
    their origin, and downgrading drops the columns with every fact and turn intact."""
    from desktop_app.core.app_records import TurnUsage
    from desktop_app.core.records import MemoryFact

    path = tmp_path / DB_FILE
    migrate_file(path, "0003")
    assert "origin" not in column_names(path, "memory")
    assert "cached_prompt_tokens" not in column_names(path, "turn_usage")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO memory (key, value, session_id, pinned, updated_at) "
                     "VALUES ('budget', '€3,200', NULL, 0, '2025-01-01T00:00:00')")
    conn.close()

    with open_database(tmp_path) as db:  # upgraded to head
        assert db.memory.get("budget").origin is None  # nobody recorded where it came from
        session = db.sessions.create(Session(title="kept", model="gpt-4o-mini"))
        _, reply = db.messages.append_many(session.id, [
            Message("user", "Book it."), Message("assistant", "Booked: QX7T2L.")])
        db.memory.upsert(MemoryFact("booking_code", "QX7T2L", session_id=session.id,
                                    origin="offline-check"))
        db.usage.record(session.id, TurnUsage(components={"history": 5}, prompt_tokens=40,
                                              reported_prompt_tokens=42,
                                              cached_prompt_tokens=32, model="gpt-4o-mini",
                                              reply_message_id=reply.id))
    assert revision_of(path) == migrate.head_revision()
    assert "origin" in column_names(path, "memory")
    assert "cached_prompt_tokens" in column_names(path, "turn_usage")
    with open_database(tmp_path) as db:
        assert db.memory.get("booking_code", session.id).origin == "offline-check"
        assert db.usage.list_for_session(session.id)[0].cached_prompt_tokens == 32

    migrate_file(path, "0003", down=True)
    assert "origin" not in column_names(path, "memory")
    assert "cached_prompt_tokens" not in column_names(path, "turn_usage")
    conn = sqlite3.connect(path)
    try:
        facts = conn.execute("SELECT key, value FROM memory ORDER BY key").fetchall()
        turns = conn.execute("SELECT reported_prompt_tokens FROM turn_usage").fetchall()
    finally:
        conn.close()
    assert facts == [("booking_code", "QX7T2L"), ("budget", "€3,200")]
    assert turns == [(42,)]

    with open_database(tmp_path) as db:  # and up again: the data survives, origins unknown
        assert db.memory.get("booking_code", session.id).value == "QX7T2L"
        assert db.memory.get("booking_code", session.id).origin is None
        assert db.usage.list_for_session(session.id)[0].reported_prompt_tokens == 42
