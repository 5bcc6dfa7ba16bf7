"""A model's facts and summaries checked against the offline extractor, on a loopback
OpenAI-compatible server: what the model drops is kept anyway (and labelled), so a model
never does worse than the offline baseline; and where each stored fact came from."""

from __future__ import annotations

import json

import pytest

from desktop_app.core.catalog import lookup_model
from desktop_app.core.facts import facts_of, retention_of
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import MemoryFact, Message, Session
from desktop_app.core.tokens import count_text
from desktop_app.llm.client import ChatClient, RetryPolicy
from desktop_app.llm.memory_extractor import ModelFactExtractor
from desktop_app.llm.summarizer import ALSO_LEAD, ModelSummarizer
from desktop_app.services.folding import fold_after_reply
from desktop_app.services.windows import resolve_window
from desktop_app.store import ImportFormatError, open_database
from desktop_app.store.transfer import export_document, import_file
from tests.openai_test_server import (  # noqa: F401  (the fixture)
    OpenAITestServer,
    Reply,
    openai_server_fixture,
)
from tests.reference.planted_facts import conversation

ENC = "o200k_base"

# what a model might answer for the trip: every fact but the booking code
TRIP_FACTS_WITHOUT_CODE = [
    {"key": "name", "value": "Priya Natarajan"},
    {"key": "partner", "value": "Tom Becker"},
    {"key": "destination", "value": "Lisbon"},
    {"key": "flights", "value": "out 14 June 07:45, back 21 June; never red-eye flights"},
    {"key": "budget", "value": "€4,000"},
    {"key": "hotel", "value": "Casa do Rio in Alfama"},
    {"key": "allergy", "value": "Tom is allergic to shellfish, restaurants need to be careful"},
    {"key": "seats", "value": "Priya prefers aisle seats, Tom likes the window"},
    {"key": "day_trip", "value": "Sintra on 17 June rather than Porto"},
]


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "data")
    yield database
    database.close()


def client_for(server: OpenAITestServer) -> ChatClient:
    return ChatClient(ProviderConfig("test", base_url=server.base_url),
                      retry=RetryPolicy(max_retries=0))


def window(tokens: int):
    def resolve(name: str):
        info = lookup_model(name)
        resolved = resolve_window(info.context_window, tokens, None, "test")
        return info.with_context_window(resolved.tokens), resolved
    return resolve


def trip_messages() -> list[Message]:
    return [Message(m["role"], m["content"], id=i + 1)
            for i, m in enumerate(conversation("trip").messages)]


def trip_session(db, strategy: str) -> Session:
    session = db.sessions.create(Session(title="trip", model="gpt-4o-mini", strategy=strategy))
    db.messages.append_many(session.id, [Message(m["role"], m["content"])
                                         for m in conversation("trip").messages])
    return session


# --- facts -----------------------------------------------------------------------------
def test_facts_the_model_drops_are_kept_by_the_offline_check(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.script(Reply(text=json.dumps(TRIP_FACTS_WITHOUT_CODE)))
    messages = trip_messages()
    result = ModelFactExtractor(client_for(openai_server), "test-model").run(messages, {})
    assert result.method == "model" and result.warning is None
    code_keys = [k for k, v in result.proposed.items() if "QX7T2L" in v]
    assert code_keys and all(k in result.kept_offline for k in code_keys)
    assert {result.origin_of(k) for k in code_keys} == {"offline-check"}
    assert {result.origin_of(d["key"]) for d in TRIP_FACTS_WITHOUT_CODE} == {"model"}
    for key in code_keys:  # the message it came from, as the offline extractor found it
        assert "QX7T2L" in messages[result.sources[key] - 1].content
    # never worse than the offline baseline: every offline fact is in the proposal
    assert not retention_of(facts_of(messages), "\n".join(result.proposed.values())).lost
    # core.history's interface carries the sources too
    extractor = ModelFactExtractor(client_for(openai_server), "test-model")
    openai_server.script(Reply(text=json.dumps(TRIP_FACTS_WITHOUT_CODE)))
    found = extractor.extract(messages, {})
    assert found == extractor.last_result.proposed
    assert found.sources[code_keys[0]] == result.sources[code_keys[0]]


def test_a_changed_value_the_model_missed_updates_the_known_key(
    openai_server: OpenAITestServer,
) -> None:
    chat = [Message("user", "Our total budget is €3,200 for everything.", id=1),
            Message("assistant", "Noted.", id=2),
            Message("user", "Small update: we raised the budget to €4,000.", id=3)]
    openai_server.script(Reply(text="[]"))  # "nothing new"
    result = ModelFactExtractor(client_for(openai_server), "test-model").run(
        chat, {"total_budget": "€3,200"})
    assert result.proposed == {"total_budget": "€4,000"}
    assert result.kept_offline == ["total_budget"] and result.sources["total_budget"] == 3
    assert result.merge.updated == {"total_budget": ("€3,200", "€4,000")}


def test_a_model_that_keeps_everything_gets_nothing_added(openai_server: OpenAITestServer
                                                          ) -> None:
    chat = [Message("user", "The booking code is QX7T2L.", id=1)]
    openai_server.script(Reply(text='[{"key": "booking_code", "value": "QX7T2L"}]'))
    result = ModelFactExtractor(client_for(openai_server), "test-model").run(chat, {})
    assert result.proposed == {"booking_code": "QX7T2L"} and result.kept_offline == []
    assert result.origins == {"booking_code": "model"}


def test_folding_stores_each_fact_with_its_origin(db, openai_server: OpenAITestServer) -> None:
    session = trip_session(db, "kv_memory")
    openai_server.script(Reply(text=json.dumps(TRIP_FACTS_WITHOUT_CODE)))
    folded = fold_after_reply(db, session.id, window(4000), client_for(openai_server))
    assert folded.facts and len(openai_server.chat_requests()) == 1
    stored = {f.key: f for f in db.memory.list_for_session(session.id, include_global=False)}
    code = [f for f in stored.values() if "QX7T2L" in f.value]
    assert code and {f.origin for f in code} == {"offline-check"}
    assert code[0].source_message_id is not None
    model_keys = {d["key"] for d in TRIP_FACTS_WITHOUT_CODE} & stored.keys()
    assert model_keys and {stored[k].origin for k in model_keys} == {"model"}
    assert {f.origin for f in stored.values()} <= {"model", "offline-check"}


def test_junk_from_the_model_falls_back_to_offline_facts(db, openai_server: OpenAITestServer
                                                         ) -> None:
    session = trip_session(db, "kv_memory")
    openai_server.script(Reply(text="Sure! I'd be happy to remember things for you."))
    folded = fold_after_reply(db, session.id, window(4000), client_for(openai_server))
    assert any("not JSON" in n for n in folded.notices)
    stored = db.memory.list_for_session(session.id, include_global=False)
    assert stored and {f.origin for f in stored} == {"offline"}
    assert any("QX7T2L" in f.value for f in stored)


# --- summaries -------------------------------------------------------------------------
def test_facts_a_model_summary_drops_are_added_back_within_the_budget(
    openai_server: OpenAITestServer,
) -> None:
    messages = trip_messages()[:12]  # the facts, stated early
    openai_server.script(Reply(text="Priya and Tom Becker plan a trip to Lisbon."))
    result = ModelSummarizer(client_for(openai_server), "test-model").run("", messages, 300, ENC)
    assert result.method == "model"
    assert result.text.startswith("Priya and Tom Becker plan a trip to Lisbon.\n" + ALSO_LEAD)
    for needle in ("QX7T2L", "€3,200", "14 June", "07:45", "Casa do Rio", "shellfish"):
        assert needle in result.text
    assert result.tokens == count_text(result.text, ENC) <= 300
    assert "added" in result.warning and "back" in result.warning
    assert not retention_of(facts_of(messages), result.text).lost
    assert result.text.count("\n") == 1  # one short final line


def test_a_tight_budget_adds_back_the_most_important_facts_only(
    openai_server: OpenAITestServer,
) -> None:
    messages = trip_messages()[:12]
    openai_server.script(Reply(text="Priya and Tom Becker plan a trip to Lisbon."))
    result = ModelSummarizer(client_for(openai_server), "test-model").run("", messages, 55, ENC)
    assert result.tokens == count_text(result.text, ENC) <= 55
    assert ALSO_LEAD in result.text and "did not fit" in result.warning
    # the facts that say most for their length (the hotel booked), not the long sentences
    # around the flight times or the allergy
    assert "Casa do Rio" in result.text
    assert "07:45" not in result.text and "shellfish" not in result.text


def test_the_stored_summary_keeps_what_the_model_dropped(
    db, openai_server: OpenAITestServer,
) -> None:
    session = trip_session(db, "rolling_summary")
    openai_server.script(*[Reply(text="Priya and Tom Becker plan a trip to Lisbon.")] * 20)
    folded = fold_after_reply(db, session.id, window(4000), client_for(openai_server))
    summary = db.summaries.latest(session.id)
    assert folded.summary is not None and summary is not None and summary.method == "model"
    assert "QX7T2L" in summary.text and "Casa do Rio" in summary.text
    assert summary.tokens == count_text(summary.text, ENC)
    assert any("added" in n for n in folded.notices)


# --- where a fact came from, in export and import ---------------------------------------
def test_origins_travel_in_exports_and_are_checked_on_import(db, tmp_path) -> None:
    session = db.sessions.create(Session(title="trip"))
    db.memory.upsert(MemoryFact("booking_code", "QX7T2L", session_id=session.id,
                                origin="offline-check"))
    db.memory.upsert(MemoryFact("name", "Priya", session_id=session.id, origin="user"))
    db.memory.upsert(MemoryFact("old", "unknown", session_id=session.id))
    doc = export_document(db, [session.id])
    assert {f["key"]: f["origin"] for f in doc["sessions"][0]["memory"]} == {
        "booking_code": "offline-check", "name": "user", "old": None}
    path = tmp_path / "trip.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with open_database(tmp_path / "fresh") as fresh:
        (sid,) = import_file(fresh, path).session_ids
        assert {f.key: f.origin for f in fresh.memory.list_for_session(sid, False)} == {
            "booking_code": "offline-check", "name": "user", "old": None}

    doc["sessions"][0]["memory"][0]["origin"] = "guesswork"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with open_database(tmp_path / "other") as other, pytest.raises(ImportFormatError) as caught:
        import_file(other, path)
    assert "origin" in str(caught.value) and "offline-check" in str(caught.value)
