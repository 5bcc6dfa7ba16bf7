"""Restoring a backup and naming faults truly, on real files: a healthy database is not
swapped out without --replace-healthy, a restore waits for no one (it refuses while
another instance holds the database), a full disk, a missing WAL and one malformed JSON
cell are not called damage, and files left by a killed backup are cleaned up."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.controller.database_trouble import DISK_FULL, describe
from desktop_app.core.records import Message, Session
from desktop_app.store import (
    DatabaseBusyError,
    DiskFullError,
    HealthyDatabaseError,
    open_database,
    restore_newest_backup,
)
from desktop_app.store.backups import backup_dir, contents, list_backups
from desktop_app.store.database import DB_FILE

REPO = Path(__file__).resolve().parent.parent


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` (but the lock file) with its hash."""
    return {
        str(p.relative_to(folder)): sha(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def add_sessions(folder: Path, titles: list[str]) -> None:
    with open_database(folder) as db:
        for title in titles:
            session = db.sessions.create(Session(title=title))
            db.messages.append(session.id, Message("user", f"work on {title}"))


def one_backup_then_more_work(folder: Path) -> None:
    """A backup holding 1 session, then a day of work: 4 sessions in the live file."""
    add_sessions(folder, ["Old"])
    with open_database(folder):
        pass  # the daily backup, of 1 session
    assert len(list_backups(folder / DB_FILE)) == 1
    add_sessions(folder, ["New 1", "New 2", "New 3"])


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err  # one line
    return err


def test_restore_refuses_a_healthy_database_and_changes_nothing(tmp_path, capsys):
    one_backup_then_more_work(tmp_path)
    before = snapshot(tmp_path)

    assert main(["--data-dir", str(tmp_path), "restore-backup"]) == 2
    line = error_line(capsys)
    assert "is not damaged (4 sessions, newest message" in line
    assert "holds 1 session, newest message" in line
    assert "Nothing was changed" in line and "--replace-healthy" in line
    assert snapshot(tmp_path) == before
    with pytest.raises(HealthyDatabaseError):  # the store's own rule, used by the window
        restore_newest_backup(tmp_path)
    assert snapshot(tmp_path) == before


def test_replace_healthy_backs_the_current_file_up_first_and_says_what_it_replaced(
    tmp_path, capsys
):
    one_backup_then_more_work(tmp_path)
    live = sha(tmp_path / DB_FILE)

    assert main(["--data-dir", str(tmp_path), "restore-backup", "--replace-healthy"]) == 0
    out = capsys.readouterr().out
    assert "(1 session, newest message" in out
    assert "in place of the current file (4 sessions, newest message" in out
    assert "backed up first as" in out and "the replaced file is kept as" in out
    safety = [b for b in list_backups(tmp_path / DB_FILE) if "before-restore" in b.name]
    assert len(safety) == 1 and contents(safety[0]).sessions == 4
    kept = [p for p in tmp_path.glob(f"{DB_FILE}.replaced-*") if not p.name.endswith("-shm")]
    assert [sha(p) for p in kept if not p.name.endswith("-wal")] == [live]
    with open_database(tmp_path) as db:
        assert [s.title for s in db.sessions.list()] == ["Old"]


def hold_open(folder: Path) -> subprocess.Popen:
    """Another Token Budget instance with the database open, until its stdin closes."""
    code = textwrap.dedent(f"""
        import sys
        from desktop_app.store import open_database
        db = open_database({str(folder)!r})
        print("ready", flush=True)
        sys.stdin.read()
        db.close()
    """)
    child = subprocess.Popen([sys.executable, "-B", "-c", code], cwd=REPO, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def test_restore_refuses_while_another_instance_holds_the_database(tmp_path, capsys):
    one_backup_then_more_work(tmp_path)
    child = hold_open(tmp_path)
    try:
        before = snapshot(tmp_path)
        for flags in ([], ["--replace-healthy"]):
            assert main(["--data-dir", str(tmp_path), "restore-backup", *flags]) == 2
            line = error_line(capsys)
            assert "is open in another Token Budget" in line and "Nothing was changed" in line
        with pytest.raises(DatabaseBusyError):  # the window's path: same store function
            restore_newest_backup(tmp_path, replace_healthy=True)
        assert snapshot(tmp_path) == before
    finally:
        child.communicate("", timeout=30)
    # once the other instance has closed, the restore goes ahead
    assert main(["--data-dir", str(tmp_path), "restore-backup", "--replace-healthy"]) == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs: a real full disk (needs root, as in the test container)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def fill(disk: Path) -> None:
    with open(disk / "filler", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
        except OSError:
            pass


def test_a_full_disk_is_named_disk_is_full_not_damage(small_disk, capsys):
    data = small_disk / "data"
    add_sessions(data, ["Kept"])
    fill(small_disk)
    before = snapshot(data)

    with pytest.raises(DiskFullError) as caught:
        open_database(data)
    assert "is full" in str(caught.value) and "damaged" not in str(caught.value)
    # what is stored can still be read, and exported to another disk: the commands that
    # only read open it for reading, and say why
    assert main(["--data-dir", str(data), "sessions"]) == 0
    out, err = capsys.readouterr()
    assert "Kept" in out
    assert "disk holding" in err and "is full" in err and "reading only" in err
    assert "damaged" not in err and "restore" not in err
    elsewhere = small_disk.parent / "kept.json"
    assert main(["--data-dir", str(data), "export", "--all", "-o", str(elsewhere)]) == 0
    capsys.readouterr()
    assert json.loads(elsewhere.read_text())["sessions"][0]["title"] == "Kept"
    # a command that writes is refused in one line, naming the full disk
    assert main(["--data-dir", str(data), "import", str(elsewhere)]) == 2
    line = error_line(capsys)
    assert "is full" in line and "free some space" in line and "damaged" not in line
    trouble = describe(caught.value, data / DB_FILE)
    assert trouble.kind == DISK_FULL and trouble.title == "The disk is full"
    assert not trouble.can_restore
    # the database and its backups are as they were (SQLite may leave an empty -wal and
    # a -shm from its read-only look: they hold nothing)
    stored = {k: v for k, v in snapshot(data).items() if not k.endswith(("-wal", "-shm"))}
    assert stored == before

    (small_disk / "filler").unlink()  # space again: it opens as before
    with open_database(data) as db:
        assert [s.title for s in db.sessions.list()] == ["Kept"]


def test_a_malformed_json_cell_is_reported_and_the_rest_of_the_database_opens(tmp_path, capsys):
    add_sessions(tmp_path, ["First", "Second"])
    raw = sqlite3.connect(tmp_path / DB_FILE)
    bad_id = raw.execute("SELECT id FROM messages ORDER BY id LIMIT 1").fetchone()[0]
    raw.execute("UPDATE messages SET token_counts = '{\"o200k_base\": 1' WHERE id = ?", (bad_id,))
    raw.commit()
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()

    with open_database(tmp_path) as db:
        assert [n for n in db.notices if "not valid JSON" in n] == [
            f"skipped an unreadable value: message {bad_id} in session 1: its cached token "
            "counts are not valid JSON (they will be counted again)"
        ]
        assert sorted(s.title for s in db.sessions.list()) == ["First", "Second"]
        first = db.messages.all_for_session(1)
        assert [m.content for m in first] == ["work on First"] and first[0].token_counts == {}
        assert db.messages.missing_counts(1, "o200k_base") == [(bad_id, "work on First")]
    with sqlite3.connect(tmp_path / DB_FILE) as raw:  # reported, not silently rewritten
        cell = raw.execute("SELECT token_counts FROM messages WHERE id=?", (bad_id,)).fetchone()
        assert cell[0] == '{"o200k_base": 1'

    assert main(["--data-dir", str(tmp_path), "sessions"]) == 0
    captured = capsys.readouterr()
    assert "First" in captured.out and "Second" in captured.out
    assert f"note: skipped an unreadable value: message {bad_id}" in captured.err
    assert "damaged" not in captured.err


def test_a_missing_wal_is_named_and_the_rest_opens(tmp_path):
    add_sessions(tmp_path / "live", ["Checkpointed"])
    db = open_database(tmp_path / "live")
    try:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        db.sessions.create(Session(title="Only in the WAL"))
        live = tmp_path / "live" / DB_FILE
        assert Path(f"{live}-wal").stat().st_size > 0
        copy = tmp_path / "copy"
        copy.mkdir()
        for suffix in ("", "-shm"):  # copied without its -wal
            (copy / f"{DB_FILE}{suffix}").write_bytes(Path(f"{live}{suffix}").read_bytes())
    finally:
        db.close()

    with open_database(copy) as opened:
        assert [n for n in opened.notices if "write-ahead log" in n] == [
            f"the database's write-ahead log {DB_FILE}-wal was missing (deleted, or not "
            "copied along with it), so the last changes may be lost; the rest opened "
            "normally. Copy the database together with its -wal file next time"
        ]
        assert [s.title for s in opened.sessions.list()] == ["Checkpointed"]


def test_files_left_by_a_killed_backup_are_cleaned_on_start(tmp_path):
    add_sessions(tmp_path, ["Kept"])
    with open_database(tmp_path):
        pass  # one real backup
    real = list_backups(tmp_path / DB_FILE)
    folder = backup_dir(tmp_path / DB_FILE)
    killed = f"{DB_FILE[:-8]}-20250101T000000.000000Z-before-upgrade-from-x.sqlite3"
    leftovers = [
        folder / f"{killed}.partial",
        folder / f"{killed}.partial-journal",
        tmp_path / f"{DB_FILE}.restoring",
    ]
    child = hold_open(tmp_path)  # another instance might still be writing them: kept
    for path in leftovers:
        path.write_bytes(b"half a copy")
    try:
        with open_database(tmp_path):
            pass
        assert all(p.exists() for p in leftovers)
    finally:
        child.communicate("", timeout=30)

    with open_database(tmp_path):
        pass
    assert not any(p.exists() for p in leftovers)
    assert list_backups(tmp_path / DB_FILE) == real and all(p.exists() for p in real)
    assert os.listdir(folder) == [p.name for p in real]


def test_malformed_json_in_any_column_reads_as_empty_and_is_named(tmp_path, capsys):
    """Settings, providers, profiles and a session's strategy settings and examples: a
    malformed cell in any of them is named at open and reads as empty; nothing fails."""
    from desktop_app.core.providers import ProviderConfig

    add_sessions(tmp_path, ["First"])
    with open_database(tmp_path) as db:
        db.settings.set("default_provider", "box")
        db.providers.save(ProviderConfig("box", preset="ollama",
                                         base_url="http://127.0.0.1:11434/v1", models=["m"]))
    raw = sqlite3.connect(tmp_path / DB_FILE)
    raw.execute("UPDATE sessions SET strategy_settings = '{\"last_n\": ', examples = '[{'")
    raw.execute("UPDATE providers SET models = '[\"m\"', context_windows = 'nope'")
    raw.execute("UPDATE settings SET value = '{oops' WHERE key = 'default_provider'")
    raw.execute("UPDATE profiles SET fractions = '{' WHERE name = (SELECT name FROM profiles "
                "ORDER BY name LIMIT 1)")
    raw.commit()
    raw.close()

    with open_database(tmp_path) as db:
        named = " ".join(db.notices)
        assert "session 1" in named and "provider 'box'" in named
        assert "setting 'default_provider'" in named
        # (a built-in profile's shares are written afresh at every start: nothing to name)
        session = db.sessions.list()[0]
        assert session.title == "First" and session.strategy_settings == {}
        assert session.examples == []
        assert db.providers.get("box").models == []
        assert db.settings.get("default_provider") is None
        assert db.profiles.list()  # every profile still lists
    assert main(["--data-dir", str(tmp_path), "sessions"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "damaged" not in err


def test_values_of_the_wrong_kind_are_read_harmlessly_and_named_by_check(tmp_path, capsys):
    """A time that is not one, bytes where text belongs, examples that are an object: a
    hand edit or another tool leaves such cells. Each used to stop every command that read
    its row (a traceback, or a window that would not open) while `check` called the file
    sound; now they read as something harmless and `check` names each row."""
    add_sessions(tmp_path, ["First", "Second"])
    raw = sqlite3.connect(tmp_path / DB_FILE)
    raw.execute("UPDATE sessions SET created_at = 'notadate', examples = '{\"a\": 1}' "
                "WHERE id = 1")
    raw.execute("UPDATE sessions SET title = x'4869cafe' WHERE id = 2")
    raw.execute("UPDATE messages SET created_at = '2999-99-99', content = x'6869' "
                "WHERE session_id = 1")
    raw.commit()
    raw.close()

    assert main(["--data-dir", str(tmp_path), "sessions"]) == 0
    out = capsys.readouterr().out
    assert "First" in out and "Hi\ufffd" in out
    out_file = tmp_path / "all.json"
    assert main(["--data-dir", str(tmp_path), "export", "--all", "-o", str(out_file)]) == 0
    capsys.readouterr()
    exported = json.loads(out_file.read_text())
    first = next(s for s in exported["sessions"] if s["title"] == "First")
    assert first["messages"][0]["content"] == "hi" and first["examples"] == []
    assert main(["--data-dir", str(tmp_path), "assemble", "--session", "1"]) == 0
    capsys.readouterr()
    with open_database(tmp_path) as db:
        assert {s.title for s in db.sessions.list()} == {"First", "Hi\ufffd\ufffd"}

    assert main(["--data-dir", str(tmp_path), "check"]) == 1
    out = capsys.readouterr().out
    assert "session 1 ('First'): a stored time is not a time" in out
    assert "session 2: its title or system prompt is not text" in out
    assert "session 1 ('First'): its examples are not a list of messages" in out
    assert "in session 1: its time is not a time" in out
    assert "in session 1: its text is not text" in out
