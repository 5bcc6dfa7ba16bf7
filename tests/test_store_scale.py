"""The store at scale (issue 15), on real files: session aggregates kept on write match a
fresh scan after any mix of writes; full-text search finds what LIKE found and takes
any text; a streaming import cut short leaves nothing behind; the integrity check and
backups stay bounded; migration 0005 rebuilds the aggregates and the index of an
existing database."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.catalog import lookup_model
from desktop_app.core.records import Message, Session
from desktop_app.store import ImportFormatError, backups, database, open_database
from desktop_app.store.bundles import SessionBundle, write_bundles
from desktop_app.store.database import CHECKED_AT, DB_FILE
from desktop_app.store.search import fts_query
from desktop_app.store.transfer import export_document, import_file

SHARED = [HealthCheck.function_scoped_fixture]  # one database across examples, on purpose
ENCODINGS = ("o200k_base", "cl100k_base")
MODELS = ("gpt-4o", "gpt-4")  # o200k_base and cl100k_base


def fresh_scan(path: Path) -> dict[int, tuple[int, dict[str, tuple[int, int]]]]:
    """{session: (messages, {encoding: (tokens, messages counted)})} by reading every
    message, as the session list did before 0005 (a malformed cell counts as none)."""
    conn = sqlite3.connect(path)
    try:
        out: dict[int, tuple[int, dict[str, tuple[int, int]]]] = {
            sid: (0, {}) for (sid,) in conn.execute("SELECT id FROM sessions")}
        for sid, raw in conn.execute("SELECT session_id, token_counts FROM messages"):
            n, per = out[sid]
            try:
                counts = json.loads(raw)
            except ValueError:
                counts = {}
            for encoding, value in (counts.items() if isinstance(counts, dict) else ()):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    tokens, counted = per.get(encoding, (0, 0))
                    per[encoding] = (tokens + int(value), counted + 1)
            out[sid] = (n + 1, per)
        return out
    finally:
        conn.close()


def stored(path: Path) -> dict[int, tuple[int, dict[str, tuple[int, int]]]]:
    conn = sqlite3.connect(path)
    try:
        out: dict[int, tuple[int, dict[str, tuple[int, int]]]] = {
            sid: (n, {}) for sid, n in conn.execute("SELECT id, message_count FROM sessions")}
        for sid, encoding, tokens, counted in conn.execute(
                "SELECT session_id, encoding, tokens, messages FROM session_tokens"):
            if counted:  # an encoding whose last counted message went reads as none
                out[sid][1][encoding] = (tokens, counted)
        return out
    finally:
        conn.close()


# --- aggregates ---------------------------------------------------------------------

counts_st = st.dictionaries(st.sampled_from(ENCODINGS), st.integers(0, 5000), max_size=2)
operation = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 3), st.lists(counts_st, min_size=1, max_size=4)),
    st.tuples(st.just("edit"), st.integers(0, 50), st.booleans(), counts_st),
    st.tuples(st.just("count"), st.integers(0, 50), counts_st),
    st.tuples(st.just("delete"), st.integers(0, 3)),
    st.tuples(st.just("restore"), st.integers(0, 3)),
    st.tuples(st.just("purge"), st.integers(0, 3)),
    st.tuples(st.just("import"), st.integers(0, 3), st.lists(counts_st, min_size=1, max_size=3)),
    st.tuples(st.just("malformed"), st.integers(0, 50)),
    st.tuples(st.just("new"), st.sampled_from(MODELS)),
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    db = open_database(tmp_path_factory.mktemp("aggregates"))
    yield db
    db.close()


@settings(max_examples=40, deadline=None, suppress_health_check=SHARED)
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_aggregates_match_a_fresh_scan_after_any_writes(scratch, ops):
    db = scratch
    for op in ops:
        sessions = sorted(s.id for s in db.sessions.list(include_archived=True))
        every = sorted(sessions + [s.id for s in db.sessions.deleted()])
        with sqlite3.connect(db.path) as raw:
            # (a hand-broken cell is not edited through the app: the ORM cannot load it)
            message_ids = [r[0] for r in raw.execute(
                "SELECT id FROM messages WHERE json_valid(token_counts) ORDER BY id")]
        kind = op[0]
        if kind == "new" or not sessions and kind in ("append", "import"):
            db.sessions.create(Session(title="s", model=op[1] if kind == "new" else "gpt-4o"))
        elif kind == "append":
            sid = sessions[op[1] % len(sessions)]
            db.messages.append_many(sid, [Message("user", f"m{i}", token_counts=c)
                                          for i, c in enumerate(op[2])])
        elif kind == "edit" and message_ids:
            message = db.messages.get(message_ids[op[1] % len(message_ids)])
            message.content = message.content + ("!" if op[2] else "")
            message.token_counts = op[3]
            db.messages.update(message)
        elif kind == "count" and message_ids:
            db.messages.save_token_counts_many({message_ids[op[1] % len(message_ids)]: op[2]})
        elif kind == "delete" and sessions:
            db.sessions.delete(sessions[op[1] % len(sessions)])
        elif kind == "restore" and every:
            db.sessions.restore(every[op[1] % len(every)])
        elif kind == "purge":
            db.sessions.purge_deleted()
        elif kind == "import":
            write_bundles(db, [SessionBundle(Session(title="imported", model="gpt-4o"),
                                             [Message("user", f"i{i}", token_counts=c)
                                              for i, c in enumerate(op[2])])])
        elif kind == "malformed" and message_ids:
            with sqlite3.connect(db.path) as raw:  # a hand edit: the triggers still hold
                raw.execute("UPDATE messages SET token_counts = '{\"o200k_base\": 1' "
                            "WHERE id = ?", (message_ids[op[1] % len(message_ids)],))
    assert stored(db.path) == fresh_scan(db.path)
    for session in db.sessions.list(include_archived=True):
        n, per = fresh_scan(db.path)[session.id]
        encoding = lookup_model(session.model).encoding
        assert (session.message_count, session.token_total) == (n, per.get(encoding, (0, 0))[0])


def test_the_session_list_and_missing_counts_read_no_message(tmp_path):
    with open_database(tmp_path) as db:
        counted = db.sessions.create(Session(title="counted", model="gpt-4o"))
        db.messages.append_many(counted.id, [Message("user", "a", token_counts={"o200k_base": 3}),
                                             Message("user", "b", token_counts={"o200k_base": 4})])
        bare = db.sessions.create(Session(title="bare", model="gpt-4o"))
        db.messages.append_many(bare.id, [Message("user", "c"), Message("user", "dd")])
        listed = {s.title: (s.message_count, s.token_total) for s in db.sessions.list()}
        assert listed == {"counted": (2, 7), "bare": (2, 0)}
        missing = db.messages.missing_counts_for({counted.id: "o200k_base", bare.id: "o200k_base"})
        assert sorted(text for _, text, _ in missing) == ["c", "dd"]
        db.messages.save_token_counts_many({mid: {enc: 1} for mid, _, enc in missing})
        assert db.messages.missing_counts_for({bare.id: "o200k_base"}) == []
        assert db.sessions.get(bare.id).token_total == 2


def test_a_long_session_is_read_back_only_as_far_as_its_request_reaches(tmp_path):
    """Opening reads the newest messages, the older pinned ones and the replies' usage
    from partial indexes (migration 0007), and the rest in summary from the aggregates:
    the query plans name the indexes, and the figures are those of a full read."""
    from desktop_app.core.history import HistoryStrategy
    from desktop_app.services.reach import LEAST_READ, Reach, read_reach

    model = lookup_model("gpt-4o").with_context_window(4_000)
    n = LEAST_READ + 3_000
    with open_database(tmp_path) as db:
        session = db.sessions.create(Session(title="long", model="gpt-4o"))
        db.messages.append_many(session.id, [
            Message("user" if k % 2 == 0 else "assistant", f"Message {k}: " + "word " * 20,
                    pinned=k in (5, 900), token_counts={"o200k_base": 24},
                    completion_tokens=30 if k % 2 else None, cost=0.001 if k % 2 else None)
            for k in range(n)])
        read, older = read_reach(db, session.id, "o200k_base",
                                 Reach.of(model, HistoryStrategy(), None, None))
        assert LEAST_READ <= len(read) < LEAST_READ + 100
        assert [m.position for m in read[:2]] == [5, 900]  # the older pinned ones
        assert older is not None and older.messages == n - len(read)
        assert older.tokens == 24 * older.messages
        assert db.messages.totals(session.id, "o200k_base") == (n, 24 * n, n)
        usage = db.messages.usage_rows(session.id)
        assert len(usage) == n // 2 and sum(r[4] for r in usage) == pytest.approx(n / 2 * 0.001)
        run = db.messages.run_of(session.id, read[0].id, read[1].id, "o200k_base")
        assert (run.first_id, run.last_id, run.count) == (read[0].id, read[1].id, 896)
        path = db.path
    conn = sqlite3.connect(path)
    try:
        def plan(query: str, *args: object) -> str:
            return " ".join(str(r[-1]) for r in conn.execute("EXPLAIN QUERY PLAN " + query,
                                                              args))
        assert "ix_messages_pinned" in plan(
            "SELECT id FROM messages WHERE session_id = ? AND pinned = 1 AND position < ? "
            "ORDER BY position", 1, 100)
        from desktop_app.store.models import USAGE_WHERE
        assert "ix_messages_usage" in plan(
            f"SELECT id FROM messages WHERE session_id = ? AND ({USAGE_WHERE}) "
            "ORDER BY position", 1)
    finally:
        conn.close()


# --- full-text search ----------------------------------------------------------------

WORDS = ["budget", "Budget", "forecast", "Q3", "café", "naïve", "Привет", "мир", "Ωμέγα",
         "don't", "e-mail", "x_y", "2025", "rock'n'roll", "C++", "well,", "end.", "(aside)",
         "AND", "OR", "NOT", "NEAR", "\"quoted\"", "*", "^start", "col:on", "50%"]
message_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    db = open_database(tmp_path_factory.mktemp("search"))
    session = db.sessions.create(Session(title="corpus", model="gpt-4o"))
    rng = __import__("random").Random(15)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 14))) for _ in range(600)]
    db.messages.append_many(session.id, [Message("user", t) for t in texts])
    yield db, texts
    db.close()


@settings(max_examples=150, deadline=None, suppress_health_check=SHARED)
@given(data=st.data())
def test_full_text_search_finds_what_like_found(corpus, data):
    db, texts = corpus
    text = data.draw(st.sampled_from(texts))
    words = text.split(" ")
    start = data.draw(st.integers(0, len(words) - 1))
    end = data.draw(st.integers(start + 1, len(words)))
    query = " ".join(words[start:end])
    cut = data.draw(st.integers(1, len(words[end - 1])))  # the last word may be a prefix
    query = query[: len(query) - len(words[end - 1]) + cut]
    # FTS5 matches words and word beginnings: every LIKE hit where the text starts a
    # word (not "n" inside "end") is found
    at_word = re.compile(r"(?<![^\W_])" + re.escape(query), re.IGNORECASE)
    like = {h.message_id for h in db.messages.search_like(query, limit=10_000)
            if at_word.search(texts[h.position])}
    found = db.messages.search(query, limit=10_000)
    assert like <= {h.message_id for h in found}
    if fts_query(query) is not None:
        assert all(h.highlights for h in found)
        for hit in found:
            for start_at, end_at in hit.highlights:
                assert 0 <= start_at < end_at <= len(hit.snippet)


@settings(max_examples=200, deadline=None, suppress_health_check=SHARED)
@given(query=st.text(min_size=1, max_size=30))
def test_any_text_is_a_search_that_does_not_raise(corpus, query):
    db, _ = corpus
    db.messages.search(query)
    db.messages.search('"' + query + ' OR NEAR(a b) * ^x:y -"')


def test_search_ranks_and_marks_matches_and_skips_deleted_sessions(tmp_path):
    with open_database(tmp_path) as db:
        one = db.sessions.create(Session(title="one", model="gpt-4o"))
        two = db.sessions.create(Session(title="two", model="gpt-4o"))
        db.messages.append_many(one.id, [Message("user", "The budget, the budget, the BUDGET."),
                                         Message("user", "A word on the budget among many "
                                                         "other words of no interest at all.")])
        db.messages.append_many(two.id, [Message("user", "budget hidden")])
        db.sessions.delete(two.id)
        hits = db.messages.search("budg")
        assert [h.session_id for h in hits] == [one.id, one.id]
        best = hits[0]
        assert best.snippet == "The budget, the budget, the BUDGET."
        assert [best.snippet[a:b] for a, b in best.highlights] == ["budget", "budget", "BUDGET"]
        assert db.messages.search("東京") == []  # LIKE serves unspaced scripts


def test_a_message_holding_marker_like_characters_is_highlighted_only_where_it_matches(
        tmp_path):
    """The snippet's markers were \\x02 and \\x03: an imported message holding them had
    words that did not match highlighted. A NUL alone matched every message (SQLite's
    LIKE reads a pattern up to it); half a surrogate pair raised."""
    with open_database(tmp_path) as db:
        session = db.sessions.create(Session(title="t", model="gpt-4o"))
        db.messages.append_many(session.id, [
            Message("user", "ctl \x02marked\x03 text apples"),
            Message("user", "nothing here")])
        (hit,) = db.messages.search("apples")
        assert [hit.snippet[a:b] for a, b in hit.highlights] == ["apples"]
        assert "marked" in hit.snippet
        assert db.messages.search("\x00") == [] and db.messages.search("a\x00") != []
        assert db.messages.search("\ud800") == []
        assert [h.snippet for h in db.messages.search("apples\udfff")] == [hit.snippet]


# --- import ----------------------------------------------------------------------------


def _export(tmp_path: Path, sessions: int, messages: int) -> Path:
    source = open_database(tmp_path / "source")
    try:
        for n in range(sessions):
            s = source.sessions.create(Session(title=f"s{n}", model="gpt-4o"))
            source.messages.append_many(s.id, [Message("user", f"{n}/{i} words")
                                               for i in range(messages)])
        doc = export_document(source)
    finally:
        source.close()
    path = tmp_path / "export.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _state(path: Path) -> tuple:
    conn = sqlite3.connect(path)
    try:
        return tuple(conn.execute(q).fetchone()[0] for q in (
            "SELECT count(*) FROM sessions", "SELECT count(*) FROM messages",
            "SELECT count(*) FROM session_tokens", "SELECT count(*) FROM imports",
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'words'",
            "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master "
            "WHERE type = 'trigger' ORDER BY name)"))
    finally:
        conn.close()


def test_an_import_cut_short_leaves_nothing_behind(tmp_path):
    path = _export(tmp_path, sessions=6, messages=30)
    with open_database(tmp_path / "db") as db:
        db.sessions.create(Session(title="mine", model="gpt-4o"))
        before = _state(db.path)
        calls = []

        def cancel(done: int, total: int) -> None:
            calls.append((done, total))
            if len(calls) == 3:
                raise KeyboardInterrupt  # Ctrl+C, or the window's Cancel

        with pytest.raises(KeyboardInterrupt):
            import_file(db, path, progress=cancel)
        assert _state(db.path) == before
        assert calls[0][0] < calls[1][0] < calls[2][0] < calls[0][1]

        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["sessions"][4]["messages"][7]["role"] = "wizard"  # broken late in the file
        path.write_text(json.dumps(doc), encoding="utf-8")
        with pytest.raises(ImportFormatError, match=r"sessions\[4\]\.messages\[7\]\.role"):
            import_file(db, path)
        assert _state(db.path) == before

        doc["sessions"][4]["messages"][7]["role"] = "user"
        path.write_text(json.dumps(doc), encoding="utf-8")
        seen = []
        result = import_file(db, path, progress=lambda done, total: seen.append(done))
        assert len(result.session_ids) == 6 and result.messages == 180
        assert seen[-1] == path.stat().st_size  # ASCII: characters are bytes
        assert [s.message_count for s in db.sessions.list() if s.title == "s5"] == [30]
        assert len(db.messages.search("words", limit=1000)) == 180
        # the triggers an import sets aside while it writes are back, and work
        assert _state(db.path)[-1] == before[-1]
        db.messages.append(result.session_ids[0], Message("user", "more words"))
        assert len(db.messages.search("words", limit=1000)) == 181
        assert db.sessions.get(result.session_ids[0]).message_count == 31


def test_a_document_read_whole_still_imports(tmp_path):
    path = _export(tmp_path, sessions=2, messages=3)
    doc = json.loads(path.read_text(encoding="utf-8"))
    reordered = {"sessions": doc.pop("sessions"), **doc}  # sessions before the format
    path.write_text(json.dumps(reordered), encoding="utf-8")
    with open_database(tmp_path / "db") as db:
        assert import_file(db, path).messages == 6
    path.write_text('{"format": "token-budget", "version": 1, "sessions": [] ,}', "utf-8")
    with open_database(tmp_path / "db") as db, pytest.raises(ImportFormatError,
                                                             match="line 1, column"):
        import_file(db, path)


def test_the_import_command_draws_no_bar_into_a_pipe(tmp_path, capsys):
    from desktop_app.cli import main

    path = _export(tmp_path, sessions=2, messages=3)
    assert main(["--data-dir", str(tmp_path / "db"), "import", str(path)]) == 0
    captured = capsys.readouterr()
    assert "imported 2 sessions (6 messages)" in captured.out
    assert "importing" not in captured.err and "\r" not in captured.err


# --- start: the check and backups ------------------------------------------------------


def test_a_large_file_is_checked_weekly_not_at_every_start(tmp_path, monkeypatch):
    with open_database(tmp_path) as db:
        db.sessions.create(Session(title="x", model="gpt-4o"))
        assert db.settings.get(CHECKED_AT) is None  # a small file is checked every start
    monkeypatch.setattr(database, "CHECK_ALWAYS_BELOW", 0)  # every file counts as large
    with open_database(tmp_path) as db:
        first = datetime.fromisoformat(db.settings.get(CHECKED_AT))
    with open_database(tmp_path) as db:  # checked a moment ago: not again
        assert datetime.fromisoformat(db.settings.get(CHECKED_AT)) == first
    assert database._check_due(1 << 40, datetime.now(UTC) - timedelta(days=8))
    assert not database._check_due(1 << 40, datetime.now(UTC) - timedelta(days=1))
    assert database._check_due(1 << 40, None)
    assert database._check_due(1 << 40, datetime.now(UTC) + timedelta(days=1))  # clock moved
    monkeypatch.undo()
    assert database._check_due(1 << 10, datetime.now(UTC))


def test_the_check_command_reports_a_sound_file_and_records_it(tmp_path, capsys):
    from desktop_app.cli import main

    with open_database(tmp_path) as db:
        db.sessions.create(Session(title="x", model="gpt-4o"))
    assert main(["--data-dir", str(tmp_path), "check"]) == 0
    assert "ok" in capsys.readouterr().out
    with open_database(tmp_path) as db:
        assert db.settings.get(CHECKED_AT) is not None


def test_backups_stay_within_three_times_the_database(tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    names = []
    for day in range(10):
        name = folder / f"token_budget-202611{day + 10:02d}T120000.000000Z-daily.sqlite3"
        name.write_bytes(b"x" * 1000)
        names.append(name)
    kept_by_rule = [b for b in names if b not in backups.prunable(names)]
    assert len(kept_by_rule) == 7
    doomed = backups.prunable(names, max_total=3000)
    assert [b for b in names if b not in doomed] == names[-3:]
    assert backups.prunable(names[-1:], max_total=10) == []  # the newest always stays


# --- migration 0005 on an existing database -------------------------------------------


def test_0005_rebuilds_the_aggregates_and_the_index_of_what_is_stored(tmp_path):
    from tests.test_store_migrations import migrate_file

    path = tmp_path / DB_FILE
    migrate_file(path, "0004")
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO sessions (id, title, model, strategy, strategy_settings, "
                     "profile, system_prompt, examples, created_at, updated_at, archived) "
                     "VALUES (1, 'old', 'gpt-4o', 'full', '{}', 'default', '', '[]', "
                     "'2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00', 0)")
        conn.executemany(
            "INSERT INTO messages (session_id, position, role, content, created_at, status, "
            "pinned, excluded, token_counts) VALUES (1, ?, 'user', ?, "
            "'2025-01-01T00:00:00+00:00', 'complete', 0, 0, ?)",
            [(0, "Привет мир", '{"o200k_base": 3}'), (1, "budget talk", '{"o200k_base": 2, '
             '"cl100k_base": 4}'), (2, "broken cell", '{"o200k_base": '), (3, "plain", "{}")])
    conn.close()
    with open_database(tmp_path) as db:
        assert stored(path) == fresh_scan(path)
        [session] = db.sessions.list()
        assert (session.message_count, session.token_total) == (4, 5)
        assert [h.snippet for h in db.messages.search("мир")] == ["Привет мир"]
        assert [h.position for h in db.messages.search("budget")] == [1]
        assert any("message 3 in session 1" in n for n in db.notices)
