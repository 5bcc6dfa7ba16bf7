"""The last of issue 12, on real files and a real small disk: a database on read-only
media still exports (and refuses writes in one line); a saved reply whose session was
deleted comes back in a new session; a conversation an import file holds twice is
imported once; and a disk that fills while a reply streams loses neither the reply nor
anything stored before, and is named a full disk, not damage."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.records import Message, Session
from desktop_app.services.turn import Outcome, run_turn
from desktop_app.store import ReadOnlyDatabaseError, open_database, recovery
from desktop_app.store.database import DB_FILE
from desktop_app.store.transfer import export_document, import_file
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_reply_recovery import (  # noqa: F401  (short_waits: an autouse fixture)
    LONG_TEXT,
    client_for,
    lock,
    resolve,
    short_waits,
)
from tests.test_store_restore_faults import add_sessions, fill, snapshot
from tests.test_store_restore_faults import small_disk as small_disk  # noqa: F401  (a fixture)
from tests.test_store_transfer import chatgpt_export
from tests.test_store_transfer import fill as fill_sessions


def one_line(text: str) -> str:
    text = text.strip()
    assert text and "\n" not in text, text
    return text


# --- 1. export from read-only media ------------------------------------------------


@pytest.fixture
def read_only_disk(small_disk):
    """The small tmpfs, holding a database of three sessions, remounted read-only."""
    data = small_disk / "data"
    add_sessions(data, ["Alpha", "Beta", "Gamma"])
    done = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only: {done.stderr!r}")
    return data


def test_export_works_from_read_only_media_and_writes_are_refused_in_one_line(
    read_only_disk, tmp_path, capsys
):
    data = read_only_disk
    before = snapshot(data)
    names = sorted(p.name for p in data.rglob("*"))
    out = tmp_path / "out" / "all.json"
    out.parent.mkdir()

    assert main(["--data-dir", str(data), "export", "--all", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "exported 3 sessions" in err
    assert "read-only" in err and "reading only" in err  # the note says why
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(s["title"] for s in doc["sessions"]) == ["Alpha", "Beta", "Gamma"]
    assert all(s["messages"][0]["content"] == f"work on {s['title']}" for s in doc["sessions"])

    assert main(["--data-dir", str(data), "sessions"]) == 0  # reading lists them too
    assert "Gamma" in capsys.readouterr().out

    # a write command: one line naming the path, exit status 2
    source = tmp_path / "in.json"
    source.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["--data-dir", str(data), "import", str(source)]) == 2
    line = one_line(capsys.readouterr().err)
    assert "read-only" in line and str(data) in line and "Traceback" not in line

    # the store: refused by default, read-only on request, every write refused
    with pytest.raises(ReadOnlyDatabaseError, match="read-only"):
        open_database(data)
    with open_database(data, read_only_ok=True) as db:
        assert db.read_only
        assert any("read-only" in n for n in db.notices)
        assert len(export_document(db)["sessions"]) == 3
        with pytest.raises(ReadOnlyDatabaseError) as caught:
            db.sessions.create(Session(title="new"))
        assert str(db.path) in str(caught.value) and "\n" not in str(caught.value)
    assert snapshot(data) == before
    assert sorted(p.name for p in data.rglob("*")) == names  # no -wal, -shm nor backup


# --- 2. a recovered reply whose session was deleted ----------------------------------


def reply_saved_while_locked(data: Path) -> tuple[int, str]:
    """A reply that could not be stored (the database locked to the end): it goes to a
    recovery file, as the real writer does. Returns its session and the question."""
    db = open_database(data)
    session = db.sessions.create(Session(title="Doomed", model="gpt-4o-mini"))
    db.messages.append(session.id, Message("user", "an earlier question"))
    question = "What is the capital of Portugal?"
    db.messages.append(session.id, Message("user", question))
    writer = db.messages.begin_stream(session.id, prompt=question)
    held = lock(db.path)
    writer.append("Lisbon, ")
    writer.append("of course.")
    writer.finish()
    held.rollback()
    held.close()
    assert writer.recovery_path is not None and writer.recovery_path.exists()
    db.close()
    return session.id, question


@pytest.mark.parametrize("how", ["deleted", "purged"])
def test_a_saved_reply_whose_session_was_deleted_comes_back_in_a_new_session(tmp_path, how):
    data = tmp_path / "data"
    session_id, question = reply_saved_while_locked(data)
    [(file, _record)] = recovery.pending(data / DB_FILE)
    # the session goes before the database is opened again (in another instance, say)
    raw = sqlite3.connect(data / DB_FILE)
    with raw:
        if how == "deleted":  # in the bin
            raw.execute("UPDATE sessions SET deleted_at = CURRENT_TIMESTAMP WHERE id = ?",
                        (session_id,))
        else:  # gone for good
            raw.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            raw.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
    raw.close()

    with open_database(data) as db:
        [new] = [s for s in db.sessions.list() if s.title == recovery.ORPHAN_TITLE]
        assert how == "purged" or new.id != session_id  # (a purged one's id is free)
        messages = db.messages.all_for_session(new.id)
        assert [(m.role, m.content) for m in messages] == [
            ("user", question), ("assistant", "Lisbon, of course.")]
        assert messages[1].status == "complete"
        [notice] = [n for n in db.notices if "restored a reply" in n]
        assert "session was deleted" in notice and f"session {new.id}" in notice
        assert recovery.ORPHAN_TITLE in notice and one_line(notice)
    assert not file.exists()
    assert recovery.pending(data / DB_FILE) == []


def test_the_cli_says_where_a_deleted_sessions_reply_went(tmp_path, capsys):
    data = tmp_path / "data"
    with open_database(data) as db:
        session = db.sessions.create(Session(title="Doomed"))
        db.sessions.delete(session.id)
        db.sessions.purge_deleted()
    saved = recovery.save_reply(data / DB_FILE, {  # as the writer saves one: no question
        "session_id": session.id, "message_id": 1000, "role": "assistant",
        "content": "the saved answer", "status": "complete"})

    assert main(["--data-dir", str(data), "sessions"]) == 0
    out, err = capsys.readouterr()
    [note] = [line for line in err.splitlines() if "restored a reply" in line]
    assert note.startswith("note: ") and "session was deleted" in note
    assert recovery.ORPHAN_TITLE in note and str(saved) in note
    assert recovery.ORPHAN_TITLE in out
    assert not saved.exists()
    with open_database(data) as db:
        [new] = [s for s in db.sessions.list() if s.title == recovery.ORPHAN_TITLE]
        assert [(m.role, m.content) for m in db.messages.all_for_session(new.id)] == [
            ("assistant", "the saved answer")]


# --- 3. the same conversation twice in one import file -------------------------------


def test_our_format_with_a_conversation_twice_imports_it_once(tmp_path, capsys):
    with open_database(tmp_path / "from") as source:
        fill_sessions(source)
        doc = export_document(source)
    titles = [s["title"] for s in doc["sessions"]]
    doc["sessions"].append(json.loads(json.dumps(doc["sessions"][0])))  # the first, again
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    data = tmp_path / "data"

    assert main(["--data-dir", str(data), "import", str(path)]) == 0
    out = one_line(capsys.readouterr().out)
    assert out.startswith(f"imported {len(titles)} sessions")
    assert out.endswith("; 1 conversation appeared twice in the file; imported once")
    with open_database(data) as db:
        assert sorted(s.title for s in db.sessions.list(include_archived=True)) == sorted(titles)
        # the same file again: every conversation skipped as imported before, the repeat
        # still said, nothing written
        result = import_file(db, path)
        assert result.session_ids == [] and len(result.already) == len(titles)
        assert result.summary_line("twice.json").endswith(
            "; 1 conversation appeared twice in the file; imported once")
        assert len(db.sessions.list(include_archived=True)) == len(titles)
        # --again imports each conversation once more, the repeated one still once
        again = import_file(db, path, again=True)
        assert len(again.session_ids) == len(titles) and again.repeated == [2]
        assert len(db.sessions.list(include_archived=True)) == 2 * len(titles)


def test_a_chatgpt_export_with_a_conversation_twice_imports_it_once(tmp_path, capsys):
    conversations = chatgpt_export()
    for c in conversations:
        c["id"] = c["conversation_id"] = c["title"].lower()
    conversations.append(json.loads(json.dumps(conversations[1])))  # "Haiku" again
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(conversations), encoding="utf-8")
    data = tmp_path / "data"

    assert main(["--data-dir", str(data), "import", str(path)]) == 0
    out = one_line(capsys.readouterr().out)
    assert out.startswith("imported 2 sessions")
    assert out.endswith("; 1 conversation appeared twice in the file; imported once")
    with open_database(data) as db:
        assert sorted(s.title for s in db.sessions.list()) == ["Haiku", "Sourdough"]


# --- 4. a disk that fills while a reply streams --------------------------------------


def stored_messages(db) -> dict[int, list[tuple[str, str, str]]]:
    return {s.id: [(m.role, m.content, m.status) for m in db.messages.all_for_session(s.id)]
            for s in db.sessions.list(include_archived=True)}


@pytest.fixture
def own_temp_folder(tmp_path, monkeypatch):
    """The temporary folder (a recovery file's fallback place) inside the test's folder."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def stream_while_the_disk_fills(disk: Path, server, free_after: float | None):
    data = disk / "data"
    add_sessions(data, ["Earlier 1", "Earlier 2"])
    db = open_database(data)
    session = db.sessions.create(Session(title="t", model="gpt-4o-mini"))
    db.messages.append(session.id, Message("user", "a question before"))
    db.messages.append(session.id, Message("assistant", "an answer before"))
    before = stored_messages(db)
    server.script(Reply(text=LONG_TEXT, delay=0.006))
    notices: list[str] = []
    filled = threading.Event()
    count = [0]

    def chunk(_text: str) -> None:
        count[0] += 1
        if count[0] == 60:  # well into the reply, some of it stored already
            fill(disk)
            filled.set()
            if free_after is not None:
                threading.Timer(free_after, (disk / "filler").unlink).start()

    outcome = run_turn(db, client_for(server), session.id, "Say a lot", resolve,
                       on_chunk=chunk, on_notice=notices.append)
    assert filled.is_set(), "the disk filled while the reply streamed"
    return db, session.id, before, outcome, notices


def the_full_disk_notice(notices: list[str]) -> str:
    [failed] = [n for n in notices if "could not store the reply (" in n]
    one_line(failed)
    assert "is full" in failed and "free some space" in failed
    assert "damaged" not in failed and "corrupt" not in failed.lower()
    return failed


def others(messages: dict[int, list], session_id: int) -> dict[int, list]:
    return {k: v for k, v in messages.items() if k != session_id}


def test_a_disk_full_mid_stream_then_freed_stores_the_whole_reply(
    small_disk, openai_server, own_temp_folder
):
    db, session_id, before, outcome, notices = stream_while_the_disk_fills(
        small_disk, openai_server, free_after=0.3)
    assert outcome.outcome is Outcome.COMPLETED
    the_full_disk_notice(notices)
    assert "the reply is being stored again" in notices
    after = stored_messages(db)
    assert others(after, session_id) == others(before, session_id)
    assert after[session_id] == [*before[session_id], ("user", "Say a lot", "complete"),
                                 ("assistant", LONG_TEXT, "complete")]
    assert db.integrity_check() == ["ok"]
    db.close()
    assert not list(own_temp_folder.rglob("reply-*.json"))
    assert not list((small_disk / "data").rglob("reply-*.json"))


def test_a_disk_full_to_the_end_keeps_the_reply_in_the_fallback_recovery_file(
    small_disk, openai_server, own_temp_folder
):
    db, session_id, before, outcome, notices = stream_while_the_disk_fills(
        small_disk, openai_server, free_after=None)
    the_full_disk_notice(notices)
    assert outcome.reply is not None and outcome.reply.content == LONG_TEXT
    [saved] = list((own_temp_folder / recovery.FALLBACK_FOLDER).glob("reply-*.json"))
    assert LONG_TEXT in saved.read_text(encoding="utf-8")
    [where] = [n for n in notices if "it was saved to" in n]
    assert str(saved) in one_line(where)
    # what was stored before is all there, read while the disk is still full
    during = stored_messages(db)
    assert others(during, session_id) == others(before, session_id)
    assert during[session_id][:2] == before[session_id]
    db.close()

    (small_disk / "filler").unlink()  # space again: the next open restores the reply
    with open_database(small_disk / "data") as again:
        assert again.integrity_check() == ["ok"]
        after = stored_messages(again)
        assert others(after, session_id) == others(before, session_id)
        assert after[session_id][:2] == before[session_id]
        assert after[session_id][2:] == [("user", "Say a lot", "complete"),
                                         ("assistant", LONG_TEXT, "complete")]
        assert any("restored a reply" in n for n in again.notices)
    assert not saved.exists()
