"""The window when the database is in trouble, on real files: a damaged file is offered
its newest backup (and kept aside), a newer version's database and a foreign file are
explained and left untouched, a database held by another program gets Retry. Drafting
keeps working throughout and nothing typed is lost."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from desktop_app.core.records import Message, Session
from desktop_app.store import database, open_database
from desktop_app.store.backups import list_backups
from desktop_app.store.database import DB_FILE
from tests.ui_support import wait_idle

DRAFT = "Half a thought I have not sent yet"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_db(folder: Path, title: str = "Kept", messages: int = 3) -> None:
    """A closed database (no WAL left) with one session of `messages` messages."""
    with open_database(folder) as db:
        session = db.sessions.create(Session(title=title))
        db.messages.append_many(session.id, [Message("user", f"m{i}") for i in range(messages)])


def start_window(qtbot, data_dir: Path):
    """The real window on `data_dir`, with a draft typed before the database answers."""
    from desktop_app.ui.app import build_window

    window = build_window(data_dir, "light")
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    window.composer.set_text(DRAFT)
    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.trouble is not None
                    or window.controller.db is not None, timeout=15_000)
    wait_idle(qtbot, window)
    return window


def screenshot(window, name: str, folder: Path) -> None:
    QApplication.processEvents()  # pending layout (a label that just grew) before the grab
    window.grab().save(str(folder / f"db_trouble_{name}.png"))


def assert_drafting_works(qtbot, window) -> None:
    """Counting goes on without a database, and the draft is still there."""
    window.composer.set_text(DRAFT + " and more")
    qtbot.waitUntil(lambda: window.composer.count_label.text().endswith("tokens"))
    assert window.composer.count_label.text() != "0 tokens"
    assert window.composer.text() == DRAFT + " and more"


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_a_damaged_file_is_offered_its_backup_and_kept_aside(qtbot, data_dir, artifacts_dir):
    make_db(data_dir, "From the backup")
    with open_database(data_dir):
        pass  # the second open takes the daily backup
    path = data_dir / DB_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a truncated file: damaged
    damaged = sha(path)

    window = start_window(qtbot, data_dir)
    panel, c = window.db_panel, window.controller
    assert c.trouble.kind == "corrupt" and c.db is None
    assert panel.isVisible()
    assert panel.title.text() == "The database file is damaged"
    assert panel.message.text().startswith("Your newest backup is from ")
    assert "kept as token_budget.sqlite3.damaged-" in panel.message.text()
    assert panel.restore_button.isVisible() and panel.folder_button.isVisible()
    assert not window.banner.isVisible()  # one message at a time
    assert c.database.data_folder() == data_dir
    assert_drafting_works(qtbot, window)
    screenshot(window, "corrupt", artifacts_dir)
    assert sha(path) == damaged  # nothing was written while it waited

    click(qtbot, panel.restore_button)
    qtbot.waitUntil(lambda: c.db is not None, timeout=15_000)
    wait_idle(qtbot, window)
    assert not panel.isVisible() and c.trouble is None
    assert [s.title for s in c.state.sessions] == ["From the backup"]
    kept = list(data_dir.glob(f"{DB_FILE}.damaged-*"))
    assert [sha(p) for p in kept if not p.name.endswith(("-wal", "-shm"))] == [damaged]
    main = [p for p in kept if not p.name.endswith(("-wal", "-shm"))]  # glob order varies
    assert "Restored the backup" in window.notice.text() and main[0].name in window.notice.text()
    assert window.composer.text() == DRAFT + " and more"
    screenshot(window, "restored", artifacts_dir)
    window.close()


def test_a_damaged_backup_is_not_restored_and_the_reason_is_shown(qtbot, data_dir):
    make_db(data_dir)
    with open_database(data_dir):
        pass  # daily backup
    path = data_dir / DB_FILE
    (backup,) = list_backups(path)
    backup.write_bytes(backup.read_bytes()[:4096])  # the backup is damaged too
    path.write_bytes(path.read_bytes()[:4096])
    damaged = sha(path)

    window = start_window(qtbot, data_dir)
    panel = window.db_panel
    click(qtbot, panel.restore_button)
    qtbot.waitUntil(lambda: window.error_bar.isVisible(), timeout=10_000)
    assert "could not be restored: there is no usable backup" in window.error_bar.label.text()
    assert "could not be restored" in panel.status.text() and panel.restore_button.isEnabled()
    assert sha(path) == damaged and not list(data_dir.glob(f"{DB_FILE}.damaged-*"))
    window.close()


def test_a_damaged_file_without_a_backup_offers_no_restore(qtbot, data_dir):
    make_db(data_dir)
    path = data_dir / DB_FILE
    path.write_bytes(path.read_bytes()[:4096])
    window = start_window(qtbot, data_dir)
    panel = window.db_panel
    assert window.controller.trouble.kind == "corrupt"
    assert panel.message.text().startswith("There is no backup to restore")
    assert not panel.restore_button.isVisibleTo(panel) and panel.retry_button.isVisible()
    window.close()


def test_continue_without_saving_leaves_a_quiet_line_and_the_problem_a_click_away(
        qtbot, data_dir, artifacts_dir):
    (data_dir / DB_FILE).write_bytes(b"my shopping list\n" * 200)
    window = start_window(qtbot, data_dir)
    panel = window.db_panel
    click(qtbot, panel.continue_button)
    assert panel.isVisible() and panel.collapsed and not panel.message.isVisible()
    assert "nothing is saved" in panel.compact_label.text()
    screenshot(window, "continued", artifacts_dir)
    click(qtbot, panel.show_button)
    assert panel.message.isVisible() and not panel.collapsed
    window.close()


def test_a_newer_versions_database_is_explained_and_left_untouched(qtbot, data_dir, artifacts_dir):
    make_db(data_dir)
    path = data_dir / DB_FILE
    conn = sqlite3.connect(path)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()
    before = sha(path)

    window = start_window(qtbot, data_dir)
    panel = window.db_panel
    assert window.controller.trouble.kind == "newer_schema"
    assert "newer version of Token Budget wrote this database" in panel.message.text()
    assert "left untouched" in panel.message.text()
    assert not panel.restore_button.isVisibleTo(panel)
    assert not panel.retry_button.isVisibleTo(panel)
    assert panel.folder_button.isVisible()
    window.controller.database.restore_backup()  # even asked directly, nothing is replaced
    assert_drafting_works(qtbot, window)
    screenshot(window, "newer", artifacts_dir)
    window.close()
    assert sha(path) == before
    assert not list(data_dir.glob(f"{DB_FILE}.damaged-*"))


def test_a_database_held_by_another_program_gets_retry(qtbot, data_dir, monkeypatch, artifacts_dir):
    # The store waits BUSY_TIMEOUT_MS (5 s) for a lock; the test need not.
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    make_db(data_dir, "Shared")
    other = sqlite3.connect(data_dir / DB_FILE, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another instance in the middle of a long write
    try:
        window = start_window(qtbot, data_dir)
        panel, c = window.db_panel, window.controller
        assert c.trouble.kind == "busy"
        assert panel.message.text().startswith("Another Token Budget")
        assert panel.retry_button.text() == "Retry"
        assert not panel.restore_button.isVisibleTo(panel)
        assert_drafting_works(qtbot, window)
        screenshot(window, "busy", artifacts_dir)

        click(qtbot, panel.retry_button)  # still held: the same message, with when
        qtbot.waitUntil(lambda: panel.status.text().startswith("Tried again"), timeout=10_000)
        assert c.db is None and panel.retry_button.isEnabled()
    finally:
        other.execute("ROLLBACK")
        other.close()

    click(qtbot, panel.retry_button)
    qtbot.waitUntil(lambda: c.db is not None, timeout=15_000)
    wait_idle(qtbot, window)
    assert not panel.isVisible()
    assert [s.title for s in c.state.sessions] == ["Shared"]
    assert window.composer.text() == DRAFT + " and more"
    window.close()


def test_a_file_that_is_not_a_database_is_explained_and_left_untouched(
    qtbot, data_dir, artifacts_dir
):
    path = data_dir / DB_FILE
    path.write_bytes(b"my shopping list\n" * 200)
    before = sha(path)

    window = start_window(qtbot, data_dir)
    panel, c = window.db_panel, window.controller
    assert c.trouble.kind == "not_a_database"
    assert "is not a Token Budget database" in panel.message.text()
    assert "Move it out of the folder" in panel.message.text()
    assert panel.retry_button.text() == "Try again"
    assert not panel.restore_button.isVisibleTo(panel)
    screenshot(window, "not_a_database", artifacts_dir)
    assert sha(path) == before

    # the user moves it away, as the message says, and tries again: a new database
    moved = data_dir / "shopping.txt"
    path.rename(moved)
    click(qtbot, panel.retry_button)
    qtbot.waitUntil(lambda: c.db is not None, timeout=15_000)
    wait_idle(qtbot, window)
    assert not panel.isVisible() and sha(moved) == before
    window.close()


@pytest.mark.skipif(not hasattr(stat, "S_IRUSR"), reason="POSIX permissions")
def test_a_read_only_database_says_what_to_do(qtbot, data_dir, artifacts_dir):
    make_db(data_dir)
    path = data_dir / DB_FILE
    before = sha(path)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    try:
        window = start_window(qtbot, data_dir)
        panel = window.db_panel
        assert window.controller.trouble.kind == "read_only"
        assert "Make it writable" in panel.message.text()
        screenshot(window, "read_only", artifacts_dir)
        window.close()
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert sha(path) == before


def test_a_time_that_is_not_one_leaves_the_window_working(qtbot, data_dir):
    """A session whose stored time another tool broke used to keep the whole database
    from opening ("Invalid isoformat string"): now its row reads with a placeholder time
    and every session is there."""
    make_db(data_dir, "Edited elsewhere")
    with open_database(data_dir) as db:
        db.sessions.create(Session(title="Untouched"))
    raw = sqlite3.connect(data_dir / DB_FILE)
    raw.execute("UPDATE sessions SET created_at = 'notadate', updated_at = 'never' "
                "WHERE title = 'Edited elsewhere'")
    raw.execute("UPDATE messages SET created_at = '2999-99-99'")
    raw.commit()
    raw.close()
    window = start_window(qtbot, data_dir)
    assert window.controller.trouble is None
    assert sorted(window.session_list.titles()) == ["Edited elsewhere", "Untouched"]
    window.controller.sessions.open(window.session_list.session_ids()[
        window.session_list.titles().index("Edited elsewhere")])
    qtbot.waitUntil(lambda: window.conversation.conversation.rowCount() == 3)
    window.close()
