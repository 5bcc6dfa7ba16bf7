"""The repositories the controller calls, on a real database file: plain records in and
out, nothing lost, nothing secret stored."""

from __future__ import annotations

import statistics

import pytest

from desktop_app.core.app_records import TurnUsage
from desktop_app.core.budget import BUILTIN_PROFILES, AllocationProfile, ProfileError
from desktop_app.core.providers import ProviderConfig, ProviderError
from desktop_app.core.records import MemoryFact, Message, Session, Summary
from desktop_app.store import NotFoundError, StoreError, open_database
from desktop_app.store.messages import StreamWriter


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path)
    yield database
    database.close()


@pytest.fixture
def session(db) -> Session:
    return db.sessions.create(Session(title="Trip to Lisbon", model="gpt-4o"))


def test_sessions_are_created_listed_updated_and_archived(db, session):
    other = db.sessions.create(Session(title="Tax return", model="gpt-4o-mini"))
    assert [s.title for s in db.sessions.list()] == ["Tax return", "Trip to Lisbon"]
    assert [s.id for s in db.sessions.list(search="lisb")] == [session.id]

    session.title = "Trip to Porto"
    session.strategy_settings = {"window_tokens": 2000}
    session.examples = [{"role": "user", "content": "hi"}]
    updated = db.sessions.update(session)
    assert db.sessions.get(session.id) == updated
    assert updated.strategy_settings == {"window_tokens": 2000}
    assert updated.updated_at > session.created_at

    db.sessions.archive(other.id)
    assert [s.id for s in db.sessions.list()] == [session.id]
    assert {s.id for s in db.sessions.list(include_archived=True)} == {session.id, other.id}


def test_turn_usage_is_kept_per_session_and_read_newest_last(db, session):
    reply = db.messages.append(session.id, Message("assistant", "hi", prompt_tokens=9))
    for n in range(1, 5):
        db.usage.record(session.id, TurnUsage(
            components={"history": n, "current_input": 3, "memory": 0}, prompt_tokens=n + 3,
            reported_prompt_tokens=n + 4, reported_completion_tokens=2, cost=n / 100,
            model="gpt-4o", reply_message_id=reply.id))
    turns = db.usage.list_for_session(session.id)
    assert [t.components for t in turns] == [{"history": n, "current_input": 3}
                                             for n in range(1, 5)]  # empty parts dropped
    first = turns[0]
    assert (first.prompt_tokens, first.reported_prompt_tokens, first.reported_completion_tokens,
            first.cost, first.model) == (4, 5, 2, 0.01, "gpt-4o")
    assert first.session_id == session.id and first.reply_message_id == reply.id
    assert first.created_at is not None and first.id is not None
    # a chart asks for the newest turns only, still oldest first
    assert [t.cost for t in db.usage.list_for_session(session.id, limit=2)] == [0.03, 0.04]
    other = db.sessions.create(Session(title="Other"))
    assert db.usage.list_for_session(other.id) == []
    with pytest.raises(NotFoundError):
        db.usage.record(9999, TurnUsage())


def test_a_deleted_session_comes_back_whole_until_purged(db, session):
    db.messages.append(session.id, Message("user", "keep me"))
    db.summaries.add(Summary("a summary", session_id=session.id))
    db.memory.upsert(MemoryFact("city", "Lisbon", session_id=session.id))
    db.usage.record(session.id, TurnUsage(components={"history": 10}, cost=0.01))

    db.sessions.delete(session.id)
    assert db.sessions.list() == []
    assert db.messages.search("keep") == []
    with pytest.raises(NotFoundError):
        db.sessions.get(session.id)

    restored = db.sessions.restore(session.id)
    assert restored.message_count == 1
    assert [m.content for m in db.messages.all_for_session(session.id)] == ["keep me"]
    assert db.summaries.latest(session.id).text == "a summary"
    assert [u.cost for u in db.usage.list_for_session(session.id)] == [0.01]

    db.sessions.delete(session.id)
    assert db.sessions.purge_deleted() == 1
    assert db.messages.all_for_session(session.id) == []
    assert db.memory.list_for_session(session.id) == []
    assert db.usage.list_for_session(session.id) == []
    with pytest.raises(NotFoundError):
        db.sessions.restore(session.id)


def test_appends_keep_order_and_pages_walk_back(db, session):
    stored = db.messages.append_many(
        session.id, [Message("user" if i % 2 == 0 else "assistant", f"m{i}") for i in range(25)]
    )
    assert [m.position for m in stored] == list(range(25))
    last = db.messages.page(session.id, limit=10)
    assert [m.content for m in last] == [f"m{i}" for i in range(15, 25)]
    before = db.messages.page(session.id, before_position=last[0].position, limit=10)
    assert [m.content for m in before] == [f"m{i}" for i in range(5, 15)]
    assert [m.content for m in db.messages.page(session.id, before_position=5)] == [
        f"m{i}" for i in range(5)
    ]
    appended = db.messages.append(session.id, Message("user", "tail", name="alice"))
    assert (appended.position, appended.name, appended.session_id) == (25, "alice", session.id)


def test_appending_to_a_missing_session_or_with_a_bad_role_is_refused(db, session):
    with pytest.raises(NotFoundError, match="no session 999"):
        db.messages.append(999, Message("user", "lost?"))
    with pytest.raises(StoreError, match="unknown message role 'robot'"):
        db.messages.append(session.id, Message("robot", "beep"))
    assert db.messages.all_for_session(session.id) == []


def test_the_file_still_refuses_a_bad_role_after_messages_are_inserted(db, session):
    """insert_messages leaves the table's CHECKs to its own checks while it writes (the
    CHECKs' IN lists cost SQLite a table per row); the connection checks again after,
    also when the insert failed."""
    import sqlite3

    from desktop_app.store.messages import insert_messages

    bad = ("INSERT INTO messages (session_id, position, role, content, created_at, "
           "token_counts) VALUES (?, ?, 'robot', 'beep', '2025-01-01T00:00:00+00:00', '{}')")
    refused = "CHECK constraint failed: ck_messages_role"
    with db.write() as orm:
        assert len(insert_messages(orm, session.id, [Message("user", "hi")] * 3)) == 3
        dbapi = orm.connection().connection.driver_connection
        with pytest.raises(sqlite3.IntegrityError, match=refused):
            dbapi.execute(bad, (session.id, 10))
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            insert_messages(orm, 999, [Message("user", "nowhere")])
        with pytest.raises(sqlite3.IntegrityError, match=refused):
            dbapi.execute(bad, (session.id, 11))
    assert [m.content for m in db.messages.all_for_session(session.id)] == ["hi"] * 3


def test_token_counts_are_cached_and_dropped_when_the_text_changes(db, session):
    message = db.messages.append(session.id, Message("user", "hello there"))
    db.messages.save_token_counts(message.id, {"o200k_base": 2})
    db.messages.save_token_counts(message.id, {"cl100k_base": 3})
    (loaded,) = db.messages.all_for_session(session.id)
    assert loaded.token_counts == {"o200k_base": 2, "cl100k_base": 3}
    assert db.messages.missing_counts(session.id, "o200k_base") == []
    assert db.sessions.get(session.id).token_total == 2  # gpt-4o counts with o200k_base

    loaded.pinned = True
    assert db.messages.update(loaded).token_counts == loaded.token_counts  # same text
    loaded.content = "hello there, friend"
    edited = db.messages.update(loaded)
    assert edited.token_counts == {} and edited.pinned
    assert db.messages.missing_counts(session.id, "o200k_base") == [(message.id, loaded.content)]


def test_pin_exclude_and_search_across_sessions(db, session):
    other = db.sessions.create(Session(title="Recipes"))
    a = db.messages.append(session.id, Message("user", "Where is the 100% best pastel de nata?"))
    db.messages.append(other.id, Message("assistant", "A pastel de nata needs puff pastry."))
    db.messages.append(other.id, Message("user", "unrelated"))
    db.messages.set_pinned(a.id)
    db.messages.set_excluded(a.id)
    assert (db.messages.get(a.id).pinned, db.messages.get(a.id).excluded) == (True, True)

    hits = db.messages.search("PASTEL DE NATA")
    assert {(h.session_title, h.role) for h in hits} == {
        ("Trip to Lisbon", "user"),
        ("Recipes", "assistant"),
    }
    assert all("pastel de nata" in h.snippet.lower() for h in hits)
    assert [h.message_id for h in db.messages.search("100%")] == [a.id]  # % is literal
    with pytest.raises(NotFoundError):
        db.messages.set_pinned(12345)


def test_a_stream_is_stored_as_it_arrives_and_completed(db, session, tmp_path, monkeypatch):
    monkeypatch.setattr(StreamWriter, "FLUSH_INTERVAL", 0.0)  # store on every chunk
    with open_database(tmp_path) as watcher:  # a second connection, as another window
        writer = db.messages.begin_stream(session.id)
        writer.append("Hel")
        writer.append("lo")
        (seen,) = watcher.messages.all_for_session(session.id)
        assert (seen.status, seen.content) == ("streaming", "Hello")
        done = writer.finish(prompt_tokens=120, completion_tokens=2, cost=0.001)
        assert watcher.messages.get(writer.message_id) == done
    assert (done.status, done.content, done.prompt_tokens) == ("complete", "Hello", 120)


def test_a_stream_keeps_no_count_of_a_partial_text_and_stores_its_final_ones(db, session,
                                                                           monkeypatch):
    monkeypatch.setattr(StreamWriter, "FLUSH_INTERVAL", 0.0)
    writer = db.messages.begin_stream(session.id, count=lambda text: {"o200k_base": len(text)})
    writer.append("The first")
    db.messages.save_token_counts(writer.message_id, {"o200k_base": 2})  # a stale count
    writer.append(" words, and more")
    assert db.messages.get(writer.message_id).token_counts == {}  # not the text's
    done = writer.finish()
    assert done.token_counts == {"o200k_base": len("The first words, and more")}
    assert db.messages.get(writer.message_id) == done
    # a writer given no counting stores none, and keeps no stale one either
    other = db.messages.begin_stream(session.id)
    other.append("partial")
    db.messages.save_token_counts(other.message_id, {"o200k_base": 1})
    assert other.interrupt().token_counts == {}


def test_a_stream_writes_at_most_every_interval(db, session, monkeypatch):
    monkeypatch.setattr(StreamWriter, "FLUSH_INTERVAL", 3600.0)
    writer = db.messages.begin_stream(session.id)
    assert not any(writer.append("x") for _ in range(50))
    assert db.messages.get(writer.message_id).content == ""
    assert writer.interrupt().content == "x" * 50


def test_a_stream_that_raises_keeps_its_text_marked_as_error(db, session):
    with pytest.raises(ConnectionError), db.messages.begin_stream(session.id) as writer:
        writer.append("partial ")
        raise ConnectionError("peer closed connection")
    stored = db.messages.get(writer.message_id)
    assert (stored.status, stored.content) == ("error", "partial ")
    assert "peer closed connection" in stored.error


def test_summaries_keep_the_range_they_replaced(db, session):
    first, last = db.messages.append_many(session.id, [Message("user", "a"), Message("user", "b")])
    db.summaries.add(Summary("old", session_id=session.id, method="extractive"))
    newest = db.summaries.add(
        Summary(
            "new",
            session_id=session.id,
            first_message_id=first.id,
            last_message_id=last.id,
            method="model",
            model="gpt-4o-mini",
            tokens=12,
            retention=0.9,
        )
    )
    assert db.summaries.latest(session.id) == newest
    assert [s.text for s in db.summaries.list(session.id)] == ["old", "new"]
    assert (newest.first_message_id, newest.last_message_id) == (first.id, last.id)
    with pytest.raises(StoreError, match="unknown summary method"):
        db.summaries.add(Summary("x", session_id=session.id, method="magic"))
    with pytest.raises(StoreError, match="does not exist"):
        db.summaries.add(Summary("x", session_id=session.id, first_message_id=9999))
    assert len(db.summaries.list(session.id)) == 2


def test_memory_is_scoped_upserted_by_key_and_pinnable(db, session):
    other = db.sessions.create(Session(title="other"))
    db.memory.upsert(MemoryFact("name", "Ana"))  # global
    db.memory.upsert(MemoryFact("units", "metric"))  # global
    db.memory.upsert(MemoryFact("hotel", "Alfama", session_id=session.id, tokens=3))
    db.memory.upsert(MemoryFact("name", "Ana Silva", session_id=session.id))  # hides global
    changed = db.memory.upsert(MemoryFact("hotel", "Baixa", session_id=session.id))
    assert (changed.value, changed.tokens) == ("Baixa", None)  # the old count is not kept

    facts = db.memory.list_for_session(session.id)
    assert {(f.key, f.value, f.session_id) for f in facts} == {
        ("hotel", "Baixa", session.id),
        ("name", "Ana Silva", session.id),
        ("units", "metric", None),
    }
    assert {f.key for f in db.memory.list_for_session(other.id)} == {"name", "units"}

    units = db.memory.get("units")
    db.memory.pin(units.id)
    assert db.memory.list_for_session(other.id)[0].key == "units"  # pinned first
    removed = db.memory.delete(units.id)
    assert db.memory.get("units") is None
    db.memory.upsert(removed)  # undo
    assert db.memory.get("units").pinned


def test_builtin_profiles_are_seeded_and_protected(db, session):
    names = [p.name for p in db.profiles.list()]
    assert names[: len(BUILTIN_PROFILES)] == list(BUILTIN_PROFILES)
    assert db.profiles.get("pyramid") == BUILTIN_PROFILES["pyramid"]
    with pytest.raises(ProfileError, match="cannot be deleted"):
        db.profiles.delete("default")
    with pytest.raises(ProfileError, match="built-in"):
        db.profiles.save(AllocationProfile("default", {"reply_reserve": 0.5}))


def test_custom_profiles_are_validated_saved_and_deleted(db, session):
    mine = AllocationProfile("long chats", {"history": 0.7, "reply_reserve": 0.2})
    assert db.profiles.save(mine).fractions == mine.fractions
    assert db.profiles.get("long chats").fractions["history"] == 0.7
    with pytest.raises(ProfileError, match="more than 100%"):
        db.profiles.save(_unchecked_profile("greedy", {"history": 0.9, "reply_reserve": 0.2}))
    session.profile = "long chats"
    db.sessions.update(session)
    db.profiles.delete("long chats")
    assert db.sessions.get(session.id).profile == "default"
    with pytest.raises(NotFoundError):
        db.profiles.get("long chats")


def _unchecked_profile(name: str, fractions: dict[str, float]) -> AllocationProfile:
    """A profile that skipped its own checks (as a damaged row or a future caller might)."""
    profile = object.__new__(AllocationProfile)
    object.__setattr__(profile, "name", name)
    object.__setattr__(profile, "fractions", fractions)
    object.__setattr__(profile, "builtin", False)
    object.__setattr__(profile, "description", "")
    return profile


def test_providers_are_stored_without_secrets(db):
    saved = db.providers.save(
        ProviderConfig(
            "home",
            base_url="http://localhost:11434/v1",
            preset="ollama",
            models=["llama3.1"],
            context_windows={"llama3.1": 8192},
        )
    )
    assert db.providers.get("home") == saved
    saved.models.append("qwen2.5")
    assert db.providers.save(saved).models == ["llama3.1", "qwen2.5"]
    saved.context_windows["qwen2.5"] = 0  # changed in place: checked again on saving
    with pytest.raises(ProviderError, match="positive"):
        db.providers.save(saved)
    # a bad URL never gets as far as the store: the provider cannot be made
    for url in ("https://user:sk-abc@api.example.com/v1", "https://x.example/v1?api_key=sk-1"):
        with pytest.raises(ProviderError, match="keychain"):
            ProviderConfig("leaky", base_url=url)
    with pytest.raises(ProviderError, match="http"):
        ProviderConfig("odd", base_url="ftp://example.com")
    db.providers.delete("home")
    assert db.providers.list() == []


def test_calibration_is_a_running_mean_and_variance_that_survives_restarts(tmp_path):
    samples = [(1100, 1000), (930, 1000), (1050, 1000), (2040, 2000)]
    with open_database(tmp_path) as db:
        for reported, estimated in samples:
            db.calibration.update("llama3.1", reported, estimated)
        assert db.calibration.update("llama3.1", 0, 1000).samples == 4  # no usage reported
        assert db.calibration.get("unknown-model").samples == 0
    with open_database(tmp_path) as db:
        cal = db.calibration.get("llama3.1")
    ratios = [r / e for r, e in samples]
    assert cal.samples == 4
    assert cal.ratio == pytest.approx(statistics.mean(ratios))
    assert cal.variance == pytest.approx(statistics.variance(ratios))
    assert cal.corrected(1000) == round(1000 * statistics.mean(ratios))


def test_settings_round_trip_and_refuse_secrets(db):
    db.settings.set("theme", "dark")
    db.settings.set("gauge", {"elastic": True, "scale": 1.5})
    assert db.settings.get("gauge") == {"elastic": True, "scale": 1.5}
    assert db.settings.get("missing", 7) == 7
    with pytest.raises(StoreError, match="keychain"):
        db.settings.set("openai_api_key", "anything")
    with pytest.raises(StoreError, match="keychain"):
        db.settings.set("last_value", "sk-proj-abcdefghijklmnopqrstuvwxyz")
    assert db.settings.all() == {"theme": "dark", "gauge": {"elastic": True, "scale": 1.5}}


def test_counts_for_more_messages_than_one_statement_can_name(tmp_path):
    """SQLite bounds the variables of one statement (250,000 in Debian's build, 32,766 by
    default): counts are read back in chunks, so any number of them is saved (here more
    than one chunk), and `sessions` fills them for every session in one write."""
    from desktop_app.cli import main
    from desktop_app.core.records import Message as Msg
    from desktop_app.core.records import Session as Sess
    from desktop_app.store import open_database as open_db

    db = open_db(tmp_path / "data")
    try:
        a = db.sessions.create(Sess(title="a", model="gpt-4o-mini"))
        b = db.sessions.create(Sess(title="b", model="gpt-4"))
        stored = db.messages.append_many(a.id, [Msg("user", f"m{i}") for i in range(12_000)])
        db.messages.append_many(b.id, [Msg("user", "hello there")])
        db.messages.save_token_counts_many({m.id: {"x": 1} for m in stored})
        assert db.messages.get(stored[-1].id).token_counts == {"x": 1}
    finally:
        db.close()
    assert main(["--data-dir", str(tmp_path / "data"), "sessions", "--json"]) == 0
    db = open_db(tmp_path / "data")
    try:
        assert not db.messages.missing_counts(a.id, "o200k_base")
        assert not db.messages.missing_counts(b.id, "cl100k_base")
    finally:
        db.close()
