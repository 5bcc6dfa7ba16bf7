"""Crash safety: a child process writing to the database is killed (SIGKILL) at random
moments; the file must stay sound and keep every message whose append had returned."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from desktop_app.core.records import Session
from desktop_app.store import open_database
from desktop_app.store.database import DB_FILE

CHILD = Path(__file__).with_name("store_crash_child.py")
KILLS = 18


def spawn(data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def kill(child: subprocess.Popen[str]) -> list[str]:
    child.kill()  # SIGKILL on POSIX, TerminateProcess on Windows: no clean-up runs
    out, _ = child.communicate(timeout=30)
    return out.split()


def check_sound(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    return conn


@pytest.mark.slow
def test_killed_appends_never_damage_the_file_or_lose_a_returned_message(tmp_path):
    rng = random.Random(20240601)
    with open_database(tmp_path) as db:
        session_id = db.sessions.create(Session(title="crash")).id
    returned: set[int] = set()
    for round_ in range(KILLS):
        child = spawn(tmp_path, "append", str(session_id))
        if round_ % 3 == 0:
            time.sleep(rng.uniform(0.0, 0.5))  # anywhere, start-up and migration checks too
        else:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.25))  # in the middle of the appends
        lines = kill(child)
        returned |= {int(x) for x in lines if x.isdigit()}
        conn = check_sound(tmp_path / DB_FILE)
        stored = {r[0] for r in conn.execute("SELECT id FROM messages")}
        conn.close()
        missing = returned - stored
        assert not missing, f"round {round_}: appended messages lost: {sorted(missing)[:10]}"
    assert len(returned) > KILLS  # the kills did land among appends
    with open_database(tmp_path) as db:
        positions = [m.position for m in db.messages.all_for_session(session_id)]
    assert positions == list(range(len(positions)))


@pytest.mark.slow
def test_a_killed_stream_keeps_what_was_stored_and_is_marked_interrupted(tmp_path):
    with open_database(tmp_path) as db:
        session_id = db.sessions.create(Session(title="stream")).id
    child = spawn(tmp_path, "stream", str(session_id))
    assert child.stdout is not None
    flushed = 0
    while flushed < 2:  # let it store twice, then kill it between or during writes
        line = child.stdout.readline()
        assert line, "the child stopped early"
        flushed += line.startswith("flushed")
    stored_length = int(line.split()[1])
    kill(child)
    check_sound(tmp_path / DB_FILE).close()
    with open_database(tmp_path) as db:
        (message,) = db.messages.all_for_session(session_id)
    assert message.status == "interrupted"
    assert len(message.content) >= stored_length
    assert message.content == "chunk " * (len(message.content) // 6)
