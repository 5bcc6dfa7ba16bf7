"""Store benchmarks for `token-budget bench`: opening a 10,000-message session and a
durable append, each measured on a real database file in `tmp_dir`; and at size, on
generated data cached between runs: a start, `sessions`, search and a backup on a 1 GB
database, and a 300k-message import.

Targets (issue 3): open_session_10k_ms < 150, append_message_ms < 5. Issue 15:
start_sessions_1gb_cold_ms < 1000, search_1gb_ms < 50, import_300k_ms < 10000,
import_300k_peak_mb < 400."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
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


def run_store_bench(tmp_dir: Path | str, quick: bool = False) -> dict[str, float]:
    """The small figures, then (unless `quick`) those at size: a 1 GB database and a
    300k-message import (run_big_db_bench, run_import_bench)."""
    figures = run_small_store_bench(tmp_dir)
    if not quick:
        figures.update(run_big_db_bench())
        figures.update(run_import_bench())
    return figures


def run_small_store_bench(tmp_dir: Path | str) -> dict[str, float]:
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


# --- at size (issue 15): a 1 GB database and a 300k-message import --------------------
#
# The generated data is cached between runs in CACHE (rebuilt when the schema changes),
# as building it takes minutes; a run measures on it and adds nothing that grows.


CACHE = Path(tempfile.gettempdir()) / "token-budget-bench-cache"
BIG_BYTES = 1 << 30
BIG_SESSIONS = 2000
IMPORT_MESSAGES = 300_000
IMPORT_SESSION_MESSAGES = 100
RARE_WORD = "zebrafinch"  # in one message of RARE_EVERY
RARE_EVERY = 5000
SEARCHES = ("zebrafinch", "zebraf", "quarterly")  # rare, a prefix, ~1% of messages
_SYLLABLES = ("ka", "lo", "mi", "ra", "te", "su", "no", "vi", "da", "pe", "zo", "ul", "an",
              "or", "is", "be", "qu", "ix", "em", "go")


def _words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(n)]


def _paragraphs(rng: random.Random) -> list[str]:
    vocabulary = _words(rng, 20_000) + ["budget", "quarterly", "forecast", "March", "margin"]
    return [" ".join(rng.choice(vocabulary) for _ in range(rng.randint(40, 160))) + "."
            for _ in range(4000)]


def _big_db(folder: Path) -> Path:
    """A ~1 GB database of BIG_SESSIONS sessions (built once, then reused)."""
    from desktop_app.store import migrate

    folder = folder / f"store-1gb-{migrate.head_revision()}"
    path = folder / "token_budget.sqlite3"
    done = folder / "built"
    if done.exists() and path.exists():
        return path
    if folder.exists():
        for file in folder.rglob("*"):
            if file.is_file():
                file.unlink()
    print(f"bench: building a 1 GB database in {folder} (once)…", file=sys.stderr)
    open_database(folder).close()
    rng = random.Random(15)
    paragraphs = _paragraphs(rng)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=OFF")
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sessions (id, title, model, strategy, strategy_settings, profile, "
        "system_prompt, examples, created_at, updated_at, archived) VALUES "
        "(?, ?, 'gpt-4o', 'full', '{}', 'default', '', '[]', ?, ?, 0)",
        [(i + 1, f"Session {i + 1}", now, now) for i in range(BIG_SESSIONS)])
    conn.execute("COMMIT")
    n = 0
    positions = [0] * BIG_SESSIONS
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    while conn.execute("PRAGMA page_count").fetchone()[0] * page_size < BIG_BYTES:
        batch = []
        for _ in range(20_000):
            sid = rng.randrange(BIG_SESSIONS)
            text = " ".join(rng.choice(paragraphs) for _ in range(rng.randint(1, 3)))
            if n % RARE_EVERY == 0:
                text += f" {RARE_WORD}"
            batch.append((sid + 1, positions[sid], "user" if n % 2 else "assistant",
                          f"{n}: {text}", now, json.dumps({"o200k_base": len(text) // 4})))
            positions[sid] += 1
            n += 1
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (session_id, position, role, content, created_at, status, "
            "pinned, excluded, token_counts) VALUES (?, ?, ?, ?, ?, 'complete', 0, 0, ?)",
            batch)
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    done.write_text(f"{n} messages\n")
    return path


def _drop_cache(path: Path) -> None:
    """Drop the file's pages from the OS page cache, so the next read is cold."""
    for file in (path, Path(f"{path}-wal")):
        if not file.exists():
            continue
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _recent_check(path: Path) -> None:
    """Say the weekly integrity check ran now: the start measured is the everyday one."""
    from desktop_app.store.database import CHECKED_AT

    with sqlite3.connect(path) as conn:
        conn.execute("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                     (CHECKED_AT, json.dumps(datetime.now(UTC).isoformat()),
                      datetime.now(UTC).isoformat()))
    sqlite3.connect(path).close()


def run_big_db_bench(cache: Path = CACHE) -> dict[str, float]:
    """start_sessions_1gb_cold_ms (open and list the sessions with their counts, the
    file's pages dropped from the cache first), search_1gb_ms (median over SEARCHES,
    warm), search_1gb_common_ms (a word in most messages), sessions_1gb_ms (what
    `token-budget sessions` does: list and look for missing counts), backup_1gb_ms and
    backups_total_mb."""
    from desktop_app.store import backups

    path = _big_db(cache)
    _recent_check(path)
    _drop_cache(path)
    started = time.perf_counter()
    db = open_database(path.parent)
    try:
        listed = db.sessions.list()
        start_ms = (time.perf_counter() - started) * 1000
        assert len(listed) == BIG_SESSIONS and listed[0].token_total > 0
        db.wait_for_backup()  # the daily one, made beside the start when due
        started = time.perf_counter()
        from desktop_app.core.catalog import lookup_model

        sessions = db.sessions.list()
        db.messages.missing_counts_for(
            {s.id: lookup_model(s.model).encoding for s in sessions if s.id is not None})
        sessions_ms = (time.perf_counter() - started) * 1000
        times = []
        for query in SEARCHES:
            db.messages.search(query)  # warm
            for _ in range(3):
                started = time.perf_counter()
                hits = db.messages.search(query)
                times.append((time.perf_counter() - started) * 1000)
            assert hits, query
        started = time.perf_counter()
        db.messages.search("budget")
        common_ms = (time.perf_counter() - started) * 1000
    finally:
        db.close()
    started = time.perf_counter()
    backups.make_backup(path, "bench")
    backup_ms = (time.perf_counter() - started) * 1000
    return {
        "start_sessions_1gb_cold_ms": round(start_ms, 1),
        "sessions_1gb_ms": round(sessions_ms, 1),
        "search_1gb_ms": round(statistics.median(times), 2),
        "search_1gb_common_ms": round(common_ms, 1),
        "backup_1gb_ms": round(backup_ms, 0),
        "backups_total_mb": round(backups.total_size(path) / 1e6, 0),
        "db_1gb_mb": round(path.stat().st_size / 1e6, 0),
    }


def _export_300k(cache: Path) -> Path:
    """Our export format with IMPORT_MESSAGES messages (built once, then reused)."""
    path = cache / "import-300k.json"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    rng = random.Random(300)
    words = _words(rng, 5000)
    sessions = []
    for s in range(IMPORT_MESSAGES // IMPORT_SESSION_MESSAGES):
        messages: list[dict[str, object]] = []
        for i in range(IMPORT_SESSION_MESSAGES):
            messages.append({
                "role": "user" if i % 2 == 0 else "assistant",
                "content": " ".join(rng.choice(words) for _ in range(rng.randint(3, 30))),
                "meta": {"status": "complete", "pinned": False, "excluded": False,
                         "created_at": "2025-03-01T10:00:00.000000+00:00",
                         "prompt_tokens": None, "completion_tokens": None, "cost": None,
                         "error": None, "token_counts": {}}})
        sessions.append({"title": f"Imported {s}", "model": "gpt-4o", "strategy": "full",
                         "strategy_settings": {}, "profile": {"name": "default"},
                         "system_prompt": "", "examples": [], "archived": False,
                         "created_at": "2025-03-01T10:00:00.000000+00:00",
                         "updated_at": "2025-03-01T10:00:00.000000+00:00",
                         "messages": messages, "summaries": [], "memory": [], "usage": []})
    doc = {"format": "token-budget", "version": 1, "app_version": "bench",
           "exported_at": "2025-03-01T10:00:00.000000+00:00", "sessions": sessions,
           "global_memory": []}
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(partial, path)
    return path


IMPORT_CHILD = """
import json, resource, sys, tempfile, time
from pathlib import Path
from desktop_app.store import open_database
from desktop_app.store.transfer import import_file
with tempfile.TemporaryDirectory(prefix="token-budget-import-") as folder:
    db = open_database(Path(folder))
    started = time.perf_counter()
    result = import_file(db, Path(sys.argv[1]))
    ms = (time.perf_counter() - started) * 1000
    db.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ms": ms, "peak_mb": peak, "messages": result.messages}))
"""


def import_in_child(export: Path, source_root: Path | None = None) -> dict[str, float]:
    """Import `export` into a fresh database in a child process: its time and peak RSS
    (`source_root`: another checkout of the app, for a before/after comparison)."""
    root = source_root or Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", IMPORT_CHILD, str(export)], env=env,
                          cwd=root, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_import_bench(cache: Path = CACHE, runs: int = 3) -> dict[str, float]:
    """import_300k_ms, the median of `runs` imports, each into a fresh database in a
    process of its own (one import's time varies by a third from run to run on a shared
    machine, as the start-up's does, which is a median too), and import_300k_peak_mb,
    the highest of their peak RSS (the interpreter and libraries included)."""
    export = _export_300k(cache)
    found = [import_in_child(export) for _ in range(runs)]
    assert all(f["messages"] == IMPORT_MESSAGES for f in found)
    return {"import_300k_ms": round(statistics.median(f["ms"] for f in found), 0),
            "import_300k_peak_mb": round(max(f["peak_mb"] for f in found), 0),
            "import_300k_file_mb": round(export.stat().st_size / 1e6, 0)}
