"""The database file's life cycle on real SQLite files: where it lives, bad files refused
untouched, backups and restore, two processes on one file, a busy database."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.records import Message, Session
from desktop_app.store import (
    CorruptDatabaseError,
    DatabaseBusyError,
    NewerSchemaError,
    NotADatabaseError,
    ReadOnlyDatabaseError,
    StoreError,
    database,
    open_database,
    restore_newest_backup,
)
from desktop_app.store.backups import KEEP, list_backups
from desktop_app.store.database import DB_FILE, ENV_VAR

CHILD = Path(__file__).with_name("store_crash_child.py")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_db(folder: Path, messages: int = 3) -> int:
    """A database with one session of `messages` messages, closed (no WAL left)."""
    with open_database(folder) as db:
        session = db.sessions.create(Session(title="Kept"))
        db.messages.append_many(session.id, [Message("user", f"m{i}") for i in range(messages)])
        return session.id


def test_explicit_folder_beats_env_var_and_env_var_beats_default(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "from-env"))
    with open_database() as db:
        assert db.path == tmp_path / "from-env" / DB_FILE
    with open_database(tmp_path / "explicit") as db:
        assert db.path == tmp_path / "explicit" / DB_FILE
    assert (tmp_path / "from-env" / DB_FILE).exists()


def test_data_survives_reopening(tmp_path):
    session_id = make_db(tmp_path, messages=5)
    with open_database(tmp_path) as db:
        assert [m.content for m in db.messages.all_for_session(session_id)] == [
            f"m{i}" for i in range(5)
        ]
        assert db.integrity_check() == ["ok"]


def test_connection_settings_make_commits_durable_and_shared(tmp_path):
    with open_database(tmp_path) as db, db.engine.connect() as conn:
        pragma = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")
        }
    assert pragma == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "synchronous": 2,  # FULL
        "busy_timeout": database.BUSY_TIMEOUT_MS,
    }


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path):
    path = tmp_path / DB_FILE
    path.write_bytes(b"my shopping list\n" * 200)
    before = sha(path)
    with pytest.raises(NotADatabaseError, match="not an SQLite database"):
        open_database(tmp_path)
    assert sha(path) == before


def test_another_programs_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / DB_FILE
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()
    before = sha(path)
    with pytest.raises(NotADatabaseError, match="not Token Budget's"):
        open_database(tmp_path)
    assert sha(path) == before


def test_a_truncated_file_is_refused_and_names_the_newest_backup(tmp_path):
    make_db(tmp_path, messages=400)
    with open_database(tmp_path):  # the second open takes the daily backup
        pass
    backup = list_backups(tmp_path / DB_FILE)[-1]
    path = tmp_path / DB_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = sha(path)
    with pytest.raises(CorruptDatabaseError, match="truncated") as caught:
        open_database(tmp_path)
    assert str(backup) in str(caught.value)
    assert caught.value.newest_backup == backup
    assert sha(path) == before


def test_damaged_pages_are_caught_and_the_backup_restores_everything(tmp_path):
    session_id = make_db(tmp_path, messages=400)
    with open_database(tmp_path):
        pass  # daily backup
    path = tmp_path / DB_FILE
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 6 * page] = os.urandom(3 * page)  # garbage over three b-tree pages
    path.write_bytes(bytes(data))
    damaged = sha(path)
    with pytest.raises(CorruptDatabaseError, match="damaged"):
        open_database(tmp_path)
    assert sha(path) == damaged

    result = restore_newest_backup(tmp_path)
    assert result.damaged_copy is not None and sha(result.damaged_copy) == damaged
    with open_database(tmp_path) as db:
        assert db.messages.count(session_id) == 400


def test_restore_without_backups_says_so(tmp_path):
    with pytest.raises(StoreError, match="no usable backup"):
        restore_newest_backup(tmp_path)


def test_an_empty_file_that_once_had_backups_is_not_started_over(tmp_path):
    make_db(tmp_path)
    with open_database(tmp_path):
        pass
    (tmp_path / DB_FILE).write_bytes(b"")
    with pytest.raises(CorruptDatabaseError, match="empty"):
        open_database(tmp_path)
    assert (tmp_path / DB_FILE).read_bytes() == b""


def test_a_read_only_file_is_refused_untouched(tmp_path):
    make_db(tmp_path)
    path = tmp_path / DB_FILE
    before = sha(path)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        with pytest.raises(ReadOnlyDatabaseError, match="read-only"):
            open_database(tmp_path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert sha(path) == before


def test_a_database_from_a_newer_version_is_refused_untouched(tmp_path):
    make_db(tmp_path)
    path = tmp_path / DB_FILE
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()
    before = sha(path)
    backups_before = list_backups(path)
    with pytest.raises(NewerSchemaError, match="newer version") as caught:
        open_database(tmp_path)
    assert "9999_from_the_future" in str(caught.value)
    assert sha(path) == before
    assert list_backups(path) == backups_before


def test_backups_keep_the_newest_few(tmp_path):
    with open_database(tmp_path) as db:
        made = [db.backup(f"manual {i}") for i in range(KEEP + 3)]
    assert list_backups(tmp_path / DB_FILE) == made[-KEEP:]


def test_a_second_process_shares_the_database(tmp_path):
    with open_database(tmp_path) as db:
        mine = db.sessions.create(Session(title="parent"))
        theirs = db.sessions.create(Session(title="child"))
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(tmp_path), "append", str(theirs.id), "150"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(150):
            db.messages.append(mine.id, Message("user", f"parent {i}"))
        out, _ = child.communicate(timeout=60)
        assert child.returncode == 0
        assert len(out.split()) == 151  # "ready" and one id per append
        assert [m.position for m in db.messages.all_for_session(mine.id)] == list(range(150))
        assert [m.position for m in db.messages.all_for_session(theirs.id)] == list(range(150))


def test_a_database_held_too_long_gives_a_clear_busy_message(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    with open_database(tmp_path) as db:
        session = db.sessions.create(Session())
        other = sqlite3.connect(tmp_path / DB_FILE, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another instance in the middle of a long write
        try:
            with pytest.raises(DatabaseBusyError, match="busy in another"):
                db.messages.append(session.id, Message("user", "waiting"))
        finally:
            other.execute("ROLLBACK")
            other.close()
        db.messages.append(session.id, Message("user", "after"))
        assert db.messages.count(session.id) == 1


def test_a_reply_cut_off_by_a_crash_is_marked_interrupted_on_next_open(tmp_path):
    with open_database(tmp_path) as db:
        session = db.sessions.create(Session())
        writer = db.messages.begin_stream(session.id)
        writer.append("half a rep")
        writer.flush()
        # no finish(): the process "dies" here
    with open_database(tmp_path) as db:
        (message,) = db.messages.all_for_session(session.id)
    assert (message.status, message.content) == ("interrupted", "half a rep")
