"""No reply is lost to a fault (issue 12): a write lock held by another connection
while a reply streams, released later or never, with real SQLite files and the loopback
OpenAI-compatible server."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from desktop_app.cli import main
from desktop_app.core.catalog import lookup_model
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import Session
from desktop_app.llm.client import ChatClient, RetryPolicy
from desktop_app.services.turn import Outcome, run_turn
from desktop_app.services.windows import resolve_window
from desktop_app.store import database, open_database, recovery
from desktop_app.store.messages import StreamWriter
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401

LONG_TEXT = " ".join(f"word{i:03d}" for i in range(250))  # ~2,000 characters


@pytest.fixture(autouse=True)
def short_waits(monkeypatch):
    # the store waits BUSY_TIMEOUT_MS (5 s) for a lock and retries the end state for
    # END_RETRY_SECONDS; the tests need not wait that long
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(StreamWriter, "RETRY_DELAYS", (0.05, 0.1, 0.2))
    monkeypatch.setattr(StreamWriter, "END_RETRY_SECONDS", 0.6)


def resolve(name: str):
    info = lookup_model(name)
    window = resolve_window(info.context_window, None, None, "t")
    return info.with_context_window(window.tokens), window


def client_for(server) -> ChatClient:
    return ChatClient(ProviderConfig(name="test", preset="custom", base_url=server.base_url),
                      retry=RetryPolicy(max_retries=0, base_delay=0.01))


def lock(path) -> sqlite3.Connection:
    """Another connection takes the database's write lock and keeps it."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_lock_taken_mid_stream_and_released_later_loses_nothing(tmp_path, openai_server):
    db = open_database(tmp_path / "data")
    session = db.sessions.create(Session(title="t", model="gpt-4o-mini"))
    openai_server.script(Reply(text=LONG_TEXT, delay=0.008))
    notices: list[str] = []
    held: list[sqlite3.Connection] = []

    def chunk(_text: str) -> None:
        if len(held) == 0 and len(notices) == 0 and chunk.count == 40:
            held.append(lock(db.path))
            threading.Timer(0.8, held[0].commit).start()
        chunk.count += 1
    chunk.count = 0

    outcome = run_turn(db, client_for(openai_server), session.id, "Say a lot", resolve,
                       on_chunk=chunk, on_notice=notices.append)
    assert held, "the lock was taken mid-stream"
    assert outcome.outcome is Outcome.COMPLETED
    stored = db.messages.all_for_session(session.id)[-1]
    assert stored.content == LONG_TEXT and stored.status == "complete"
    failed = [n for n in notices if "could not store the reply" in n]
    assert len(failed) == 1 and "retrying" in failed[0]  # said once
    assert not list((tmp_path / "data" / recovery.FOLDER).glob("*.json"))
    held[0].close()
    db.close()


def test_a_lock_never_released_puts_the_reply_in_a_recovery_file(tmp_path, openai_server):
    db = open_database(tmp_path / "data")
    session = db.sessions.create(Session(title="t", model="gpt-4o-mini"))
    openai_server.script(Reply(text=LONG_TEXT, delay=0.002))
    notices: list[str] = []
    held: list[sqlite3.Connection] = []

    def chunk(_text: str) -> None:
        if not held:
            held.append(lock(db.path))

    outcome = run_turn(db, client_for(openai_server), session.id, "Say a lot", resolve,
                       on_chunk=chunk, on_notice=notices.append)
    assert outcome.reply is not None and outcome.reply.content == LONG_TEXT
    files = list((tmp_path / "data" / recovery.FOLDER).glob("reply-*.json"))
    assert len(files) == 1 and LONG_TEXT in files[0].read_text(encoding="utf-8")
    assert any(str(files[0]) in n and "restored" in n for n in notices)
    held[0].rollback()
    held[0].close()
    db.close()

    with open_database(tmp_path / "data") as again:  # the next start restores it
        stored = again.messages.all_for_session(session.id)[-1]
        assert stored.content == LONG_TEXT and stored.status == "complete"
        assert any("restored a reply" in n for n in again.notices)
    assert not files[0].exists()


def test_chat_command_says_where_the_reply_was_saved(tmp_path, openai_server, capsys):
    data = tmp_path / "data"
    openai_server.script(Reply(text=LONG_TEXT, delay=0.004))
    done = threading.Event()
    held: list[sqlite3.Connection] = []

    def take_the_lock_while_streaming() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not done.is_set():
            try:
                watcher = sqlite3.connect(database.database_path(data))
                row = watcher.execute(
                    "select count(*) from messages where status='streaming'").fetchone()
                watcher.close()
            except sqlite3.Error:
                row = (0,)
            if row[0]:
                held.append(lock(database.database_path(data)))
                done.wait(20)
                held[0].rollback()
                held[0].close()
                return
            time.sleep(0.01)

    thread = threading.Thread(target=take_the_lock_while_streaming)
    thread.start()
    try:
        code = main(["--data-dir", str(data), "chat", "--base-url", openai_server.base_url,
                     "--model", "llama3.1:8b", "Say a lot"])
    finally:
        done.set()
        thread.join()
    out, err = capsys.readouterr()
    assert held, "the lock was taken while the reply streamed"
    assert "Traceback" not in err
    assert out.strip() == LONG_TEXT
    saved = list((data / recovery.FOLDER).glob("reply-*.json"))
    assert len(saved) == 1 and str(saved[0]) in err
    assert code in (0, 2)
    # the next command restores it and says so
    code = main(["--data-dir", str(data), "chat", "--base-url", openai_server.base_url,
                 "--model", "llama3.1:8b", "again"])
    _, err = capsys.readouterr()
    assert "restored a reply" in err
