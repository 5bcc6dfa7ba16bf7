"""Store benchmarks for `token-budget bench`: opening a 10,000-message session and a
durable append, each measured on a real database file in `tmp_dir`.

Targets (issue 3): open_session_10k_ms < 150, append_message_ms < 5."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from desktop_app.core.records import Message, Session
from desktop_app.store.database import open_database

SESSION_MESSAGES = 10_000
OPEN_RUNS = 5
APPENDS = 100
_TEXT = (
    "A paragraph of an ordinary chat message, long enough to look like one: it asks a "
    "question, gives some context and ends with a request for a short answer. "
)


def _fill(db, session_id: int) -> None:
    batch = []
    for i in range(SESSION_MESSAGES):
        role = "user" if i % 2 == 0 else "assistant"
        content = f"{i}: " + _TEXT * (1 + i % 4)
        batch.append(Message(role, content, token_counts={"o200k_base": 40 + i % 120}))
        if len(batch) == 1000:
            db.messages.append_many(session_id, batch)
            batch = []
    if batch:
        db.messages.append_many(session_id, batch)


def run_store_bench(tmp_dir: Path | str) -> dict[str, float]:
    """Median milliseconds: open_session_10k_ms (the session's metadata and every message
    with its cached counts, as the window needs to show it and its gauge) and
    append_message_ms (append one message, committed durably). Also open_database_ms."""
    folder = Path(tmp_dir) / "store-bench"
    db = open_database(folder)
    try:
        session = db.sessions.create(Session(title="Benchmark", model="gpt-4o"))
        assert session.id is not None
        _fill(db, session.id)
    finally:
        db.close()

    started = time.perf_counter()
    db = open_database(folder)
    open_database_ms = (time.perf_counter() - started) * 1000
    try:
        opens = []
        for _ in range(OPEN_RUNS):
            started = time.perf_counter()
            meta = db.sessions.get(session.id)
            messages = db.messages.all_for_session(session.id)
            opens.append((time.perf_counter() - started) * 1000)
            assert meta.message_count == len(messages) == SESSION_MESSAGES
        appends = []
        for i in range(APPENDS):
            started = time.perf_counter()
            db.messages.append(session.id, Message("user", f"appended message {i}"))
            appends.append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    return {
        "open_session_10k_ms": round(statistics.median(opens), 2),
        "append_message_ms": round(statistics.median(appends), 3),
        "open_database_ms": round(open_database_ms, 2),
    }
