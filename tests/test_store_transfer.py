"""Export and import on real files: our JSON round trip, Markdown, a ChatGPT export, and
malformed files that change nothing and say where they are wrong."""

from __future__ import annotations

import copy
import json
import zipfile
from datetime import UTC, datetime

import pytest

from desktop_app.core.app_records import TurnUsage
from desktop_app.core.budget import AllocationProfile
from desktop_app.core.records import MemoryFact, Message, Session, Summary
from desktop_app.store import ImportFormatError, open_database
from desktop_app.store.transfer import export_document, export_markdown, import_file, write_export


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "db")
    yield database
    database.close()


def fill(db) -> list[int]:
    """Two sessions using every field the format carries."""
    db.profiles.save(AllocationProfile("roomy", {"history": 0.6, "reply_reserve": 0.3}))
    trip = db.sessions.create(
        Session(
            title="Trip to Lisbon",
            model="gpt-4o",
            strategy="rolling_summary",
            strategy_settings={"keep_last": 4},
            profile="roomy",
            system_prompt="You are a travel agent.",
            examples=[
                {"role": "user", "content": "Paris?"},
                {"role": "assistant", "content": "Yes"},
            ],
        )
    )
    msgs = db.messages.append_many(
        trip.id,
        [
            Message("user", "Plan three days in Lisbon, with ünïcödé ✈️", name="ana"),
            Message(
                "assistant", "Day 1: Alfama…", prompt_tokens=50, completion_tokens=80, cost=0.002
            ),
            Message("user", "Cheaper hotels?", pinned=True),
            Message("assistant", "Partial answ", status="interrupted"),
            Message("assistant", "", status="error", error="429: rate limited", excluded=True),
        ],
    )
    db.messages.save_token_counts(msgs[0].id, {"o200k_base": 12, "cl100k_base": 13})
    db.summaries.add(
        Summary(
            "Ana plans Lisbon.",
            session_id=trip.id,
            first_message_id=msgs[0].id,
            last_message_id=msgs[1].id,
            method="model",
            model="gpt-4o-mini",
            tokens=5,
            retention=0.75,
        )
    )
    db.memory.upsert(
        MemoryFact("budget", "low", session_id=trip.id, pinned=True, source_message_id=msgs[2].id)
    )
    db.memory.upsert(MemoryFact("language", "Portuguese"))  # global
    db.usage.record(trip.id, TurnUsage(
        components={"system_prompt": 7, "history": 20, "current_input": 12}, prompt_tokens=42,
        reported_prompt_tokens=50, reported_completion_tokens=80, cost=0.002, model="gpt-4o",
        reply_message_id=msgs[1].id))
    notes = db.sessions.create(Session(title="Notes", archived=True))
    db.messages.append(notes.id, Message("user", "remember the milk"))
    return [trip.id, notes.id]


def comparable(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc.pop("exported_at")
    for session in doc["sessions"]:  # imported counts are dropped (recounted when needed)
        for message in session["messages"]:
            message["meta"]["token_counts"] = {}
    return doc


def test_export_then_import_gives_the_same_sessions_messages_summaries_and_memory(db, tmp_path):
    fill(db)
    exported = export_document(db)
    path = tmp_path / "all.json"
    write_export(db, path, "json")
    assert len(exported["sessions"]) == 2 and exported["global_memory"]
    assert exported["sessions"][0]["usage"][0]["reply_message"] == 1

    with open_database(tmp_path / "fresh") as fresh:
        result = import_file(fresh, path)
        assert (len(result.session_ids), result.messages) == (2, 6)
        again = export_document(fresh)
    assert comparable(again) == comparable(exported)


def test_an_export_without_usage_still_imports(db, tmp_path):
    """Exports made before usage travelled with sessions have no "usage" lists."""
    doc = _ours(db, tmp_path)
    for session in doc["sessions"]:
        del session["usage"]
    path = tmp_path / "older.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = import_file(db, path)
    assert result.messages == 6
    assert db.usage.list_for_session(result.session_ids[0]) == []
    assert len(db.messages.all_for_session(result.session_ids[0])) == 5


def test_importing_twice_adds_copies_and_keeps_a_clashing_profile_under_a_new_name(db, tmp_path):
    fill(db)
    path = tmp_path / "all.json"
    write_export(db, path, "json")
    db.profiles.save(AllocationProfile("roomy", {"history": 0.2, "reply_reserve": 0.1}))
    result = import_file(db, path)
    assert any("roomy (imported)" in note for note in result.notes)
    imported = db.sessions.get(result.session_ids[0])
    assert imported.profile == "roomy (imported)"
    assert db.profiles.get("roomy (imported)").fractions["history"] == 0.6
    assert len(db.sessions.list(include_archived=True)) == 4


def test_markdown_export_reads_as_the_conversation(db, tmp_path):
    trip_id, _ = fill(db)
    text = export_markdown(db, [trip_id])
    assert text.startswith("# Trip to Lisbon\n")
    assert "## System prompt\n\nYou are a travel agent." in text
    assert "### 1. User (ana)" in text and "Plan three days in Lisbon, with ünïcödé ✈️" in text
    assert "### 3. User" in text and "pinned" in text
    assert "interrupted" in text and "> Error: 429: rate limited" in text
    assert "### Summary 1 of messages 1–2 (model, gpt-4o-mini)" in text
    assert "- **budget**: low (pinned)" in text
    write_export(db, tmp_path / "trip.md", "md", [trip_id])
    assert (tmp_path / "trip.md").read_text(encoding="utf-8") == text


def _node(node_id, parent, children, role=None, text=None, **extra):
    message = None
    if role is not None:
        message = {
            "id": node_id,
            "author": {"role": role, "name": extra.pop("name", None)},
            "create_time": extra.pop("time", 1_700_000_000.0),
            "content": extra.pop("content", {"content_type": "text", "parts": [text]}),
            "metadata": extra.pop("metadata", {}),
        }
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def chatgpt_export() -> list[dict]:
    """Two conversations as ChatGPT exports them; the first was edited, so it branches."""
    branching = {
        "title": "Sourdough",
        "create_time": 1_700_000_000.0,
        "update_time": 1_700_000_900.0,
        "current_node": "a2",
        "default_model_slug": "gpt-4o",
        "mapping": {
            "root": _node("root", None, ["sys"]),
            "sys": _node(
                "sys",
                "root",
                ["u1"],
                "system",
                "",
                metadata={"is_visually_hidden_from_conversation": True},
            ),
            "u1": _node("u1", "sys", ["a1-old", "a1"], "user", "How do I start a starter?"),
            "a1-old": _node("a1-old", "u1", [], "assistant", "An abandoned answer"),
            "a1": _node(
                "a1", "u1", ["tool1"], "assistant", "Mix flour and water.", time=1_700_000_100.0
            ),
            "tool1": _node(
                "tool1",
                "a1",
                ["u2"],
                "tool",
                None,
                name="python",
                content={"content_type": "execution_output", "text": "42"},
            ),
            "u2": _node(
                "u2",
                "tool1",
                ["a2"],
                "user",
                None,
                content={
                    "content_type": "multimodal_text",
                    "parts": [{"content_type": "image_asset_pointer"}, "Is this bubbly enough?"],
                },
            ),
            "a2": _node(
                "a2", "u2", [], "assistant", "Yes, it is ready.", metadata={"model_slug": "gpt-4o"}
            ),
        },
    }
    simple = {
        "title": "Haiku",
        "create_time": 1_700_100_000.0,
        "update_time": 1_700_100_000.0,
        "current_node": "b",
        "mapping": {
            "a": _node("a", None, ["b"], "user", "A haiku about rain"),
            "b": _node(
                "b", "a", [], "assistant", "Soft rain on the roof", metadata={"model_slug": "gpt-4"}
            ),
        },
    }
    return [branching, simple]


def test_a_chatgpt_export_imports_each_conversations_current_branch(db, tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(chatgpt_export()), encoding="utf-8")
    result = import_file(db, path)
    assert result.format == "chatgpt"
    assert any("left out 1 tool" in note for note in result.notes)
    sourdough, haiku = (db.sessions.get(i) for i in result.session_ids)
    assert (sourdough.title, sourdough.model) == ("Sourdough", "gpt-4o")
    assert sourdough.created_at == datetime.fromtimestamp(1_700_000_000, UTC)
    messages = db.messages.all_for_session(sourdough.id)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "How do I start a starter?"),
        ("assistant", "Mix flour and water."),
        ("user", "[image]\nIs this bubbly enough?"),
        ("assistant", "Yes, it is ready."),
    ]
    assert messages[1].created_at == datetime.fromtimestamp(1_700_000_100, UTC)
    assert haiku.model == "gpt-4"
    assert [m.content for m in db.messages.all_for_session(haiku.id)] == [
        "A haiku about rain",
        "Soft rain on the roof",
    ]


def test_a_chatgpt_zip_is_read_directly(db, tmp_path):
    path = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("conversations.json", json.dumps(chatgpt_export()))
        archive.writestr("chat.html", "<html></html>")
    assert len(import_file(db, path).session_ids) == 2


def _ours(db, tmp_path) -> dict:
    fill(db)
    return export_document(db)


def _break_role(doc):
    doc["sessions"][0]["messages"][1]["role"] = "robot"


def _break_summary_range(doc):
    doc["sessions"][0]["summaries"][0]["last_message"] = 99


def _break_time(doc):
    doc["sessions"][1]["messages"][0]["meta"]["created_at"] = "yesterday"


def _break_usage_reply(doc):
    doc["sessions"][0]["usage"][0]["reply_message"] = 5


def _break_version(doc):
    doc["version"] = 7


def _drop_content(doc):
    del doc["sessions"][1]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("breaker", "where", "problem"),
    [
        (_break_role, "sessions[0].messages[1].role", "expected one of system, user"),
        (_break_summary_range, "sessions[0].summaries[0].last_message", "has 5 messages"),
        (_break_time, "sessions[1].messages[0].meta.created_at", "expected a date and time"),
        (_break_usage_reply, "sessions[0].usage[0].reply_message", "has 5 messages"),
        (_break_version, "version", "newer Token Budget"),
        (_drop_content, "sessions[1].messages[0].content", "required"),
    ],
)
def test_a_malformed_export_changes_nothing_and_names_the_place(
    db, tmp_path, breaker, where, problem
):
    doc = _ours(db, tmp_path)
    before = comparable(export_document(db))
    breaker(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ImportFormatError) as caught:
        import_file(db, path)
    assert str(caught.value).startswith(f"broken.json: {where}: ")
    assert problem in str(caught.value)
    assert comparable(export_document(db)) == before


def test_a_chatgpt_export_with_a_broken_branch_imports_nothing(db, tmp_path):
    conversations = chatgpt_export()
    conversations[1]["mapping"]["b"]["parent"] = "gone"
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(conversations), encoding="utf-8")
    with pytest.raises(
        ImportFormatError, match=r"\[1\]\.mapping\['b'\]\.parent: names node 'gone'"
    ):
        import_file(db, path)
    assert db.sessions.list(include_archived=True) == []  # not even the good first one


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"format": "token-budget", "version": 1, "sessions": [',
            "line 1, column 55: not valid JSON",
        ),
        ("[1, 2, 3]", "not a Token Budget export or a ChatGPT"),
        ('{"format": "other-app"}', "unknown format 'other-app'"),
    ],
)
def test_unreadable_files_say_what_is_wrong(db, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFormatError, match=message):
        import_file(db, path)
    assert db.sessions.list(include_archived=True) == []


def test_profiles_this_version_lacks_are_recreated_or_replaced_by_default(db, tmp_path):
    doc = {
        "format": "token-budget",
        "version": 1,
        "sessions": [
            {
                "title": "from a newer version",
                "profile": {
                    "name": "research",
                    "builtin": True,
                    "fractions": {"history": 0.5, "reply_reserve": 0.25},
                },
            },
            {"title": "names only", "profile": "somebody's profile"},
        ],
    }
    path = tmp_path / "profiles.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = import_file(db, path)
    first, second = (db.sessions.get(i) for i in result.session_ids)
    assert first.profile == "research"
    assert db.profiles.get("research").fractions["history"] == 0.5
    assert second.profile == "default"
    assert any("somebody's profile" in note for note in result.notes)


# --- a second import of the same conversations (issue 11) --------------------------------
def test_a_second_import_of_the_same_file_is_recognised_and_skipped(db, tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(chatgpt_export()), encoding="utf-8")
    first = import_file(db, path)
    assert len(first.session_ids) == 2 and first.already == []

    second = import_file(db, path)  # the same file again: nothing new
    assert second.session_ids == [] and second.messages == 0
    assert second.already == [(first.session_ids[0], "Sourdough"),
                              (first.session_ids[1], "Haiku")]
    assert second.summary_line("conversations.json") == (
        "nothing imported from conversations.json: 2 conversations were already imported "
        f"(sessions {first.session_ids[0]}, {first.session_ids[1]}), skipped")
    assert len(db.sessions.list(include_archived=True)) == 2

    # a later export holds one more conversation: only that one is new
    later = chatgpt_export()
    later.append({**later[1], "title": "Limerick", "create_time": 1_700_200_000.0})
    zipped = tmp_path / "later.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("conversations.json", json.dumps(later))
    third = import_file(db, zipped)
    assert len(third.session_ids) == 1 and len(third.already) == 2
    assert db.sessions.get(third.session_ids[0]).title == "Limerick"
    assert "; 2 conversations were already imported" in third.summary_line("later.zip")

    # asked to, it imports them once more; a deleted session no longer counts
    fourth = import_file(db, path, again=True)
    assert len(fourth.session_ids) == 2 and fourth.already == []
    for session_id in [*first.session_ids, *fourth.session_ids]:
        db.sessions.delete(session_id)
    fifth = import_file(db, path)
    assert len(fifth.session_ids) == 2


def test_our_own_export_imported_twice_is_recognised(db, tmp_path):
    fill(db)
    path = tmp_path / "all.json"
    write_export(db, path, "json")
    with open_database(tmp_path / "fresh") as fresh:
        assert len(import_file(fresh, path).session_ids) == 2
        again = import_file(fresh, path)
        assert again.session_ids == [] and [t for _, t in again.already] == ["Trip to Lisbon",
                                                                             "Notes"]
        assert len(fresh.sessions.list(include_archived=True)) == 2
        (single,) = import_file(fresh, path, again=True).session_ids[:1]
        assert fresh.sessions.get(single).title == "Trip to Lisbon"
