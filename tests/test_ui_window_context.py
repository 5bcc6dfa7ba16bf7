"""The Context tab on the real window and a real SQLite file: the session's system
prompt and few-shot examples, each counted as typed (chat framing included) and shown
on the gauge's System prompt and Examples rows and in the inspector, in the order the
request sends them; saved with the session and there again on reopening; the library
of saved system prompts; a ChatGPT export's system message imported as the system
prompt."""

from __future__ import annotations

import json

from PySide6.QtGui import QTextCursor

from desktop_app.core.catalog import lookup_model
from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.services.prompt_library import LIBRARY_SETTING
from desktop_app.store import open_database
from desktop_app.store.transfer import import_file
from tests.test_store_transfer import _node, chatgpt_export
from tests.ui_support import open_window, seed_session, wait_idle

MODEL = "gpt-4o-mini"
ENC = lookup_model(MODEL).encoding
FRAMING = chat_framing(lookup_model(MODEL))


def figure(role: str, text: str) -> int:
    """A message's tokens in the request: its role's head and its content."""
    return FRAMING.head(role, ENC) + count_text(text, ENC)


def used(window, component: str) -> int:
    return window.gauge.report().components[component].used


def sent(window, component: str) -> list[tuple[str, int, str]]:
    return [(role, tokens, text) for c, role, tokens, text in window.inspector.sent_rows()
            if c == component]


def stored_session(data_dir, session_id):
    with open_database(data_dir) as db:
        return db.sessions.get(session_id)


def type_into(qtbot, editor, text: str) -> None:
    """Type at the end of what the field holds."""
    editor.setFocus()
    if hasattr(editor, "moveCursor"):
        editor.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(editor, text)


def add_pair(qtbot, panel, question: str, answer: str) -> None:
    panel.add_button.click()
    type_into(qtbot, panel.example_user, question)
    type_into(qtbot, panel.example_assistant, answer)


def test_typing_a_system_prompt_moves_the_gauge_and_the_inspector(qtbot, data_dir):
    sid = seed_session(data_dir, "Trip", [("user", "Hello"), ("assistant", "Hi!")])
    window = open_window(qtbot, data_dir)
    panel = window.context_panel
    window.tabs.setCurrentWidget(panel)
    assert used(window, "system_prompt") == 0 and sent(window, "system_prompt") == []
    assert panel.system_count.text() == "0 tokens in the request"

    text = "You are a terse travel agent. Answer in one sentence."
    type_into(qtbot, panel.system_editor, text)
    expected = figure("system", text)
    assert expected > count_text(text, ENC)  # the chat framing is in the figure
    # the panel counts as the user types; the gauge follows once typing pauses
    assert panel.system_count.text() == f"{expected} tokens in the request"
    assert "chat framing" in panel.system_count.toolTip()
    wait_idle(qtbot, window)
    assert used(window, "system_prompt") == expected
    assert sent(window, "system_prompt") == [("system", expected, text)]
    assert window.inspector.sent_rows()[0][0] == "system_prompt"  # it leads the request

    # more typing: the row moves again
    type_into(qtbot, panel.system_editor, " Use metric units.")
    wait_idle(qtbot, window)
    longer = text + " Use metric units."
    assert used(window, "system_prompt") == figure("system", longer)
    assert stored_session(data_dir, sid).system_prompt == longer
    window.close()


def test_examples_are_added_reordered_and_removed_in_the_request(qtbot, data_dir):
    sid = seed_session(data_dir, "Geography", [("user", "And Chile?")])
    window = open_window(qtbot, data_dir)
    panel = window.context_panel
    window.tabs.setCurrentWidget(panel)
    assert used(window, "examples") == 0

    add_pair(qtbot, panel, "Capital of France?", "Paris.")
    add_pair(qtbot, panel, "Capital of Peru?", "Lima.")
    wait_idle(qtbot, window)
    france = figure("user", "Capital of France?") + figure("assistant", "Paris.")
    peru = figure("user", "Capital of Peru?") + figure("assistant", "Lima.")
    assert panel.example_costs() == [france, peru]
    assert used(window, "examples") == france + peru == panel.examples_tokens()
    assert f"{france + peru} tokens in the request" in panel.examples_count.text()
    assert [(r, t) for r, _n, t in sent(window, "examples")] == [
        ("user", "Capital of France?"), ("assistant", "Paris."),
        ("user", "Capital of Peru?"), ("assistant", "Lima.")]
    # the examples come after the system prompt and before the history
    components = [c for c, _r, _n, _t in window.inspector.sent_rows()]
    assert components == ["examples"] * 4 + ["history"]

    # Peru first
    panel.example_list.setCurrentRow(1)
    panel.up_button.click()
    wait_idle(qtbot, window)
    assert [t for _r, _n, t in sent(window, "examples")] == [
        "Capital of Peru?", "Lima.", "Capital of France?", "Paris."]
    assert panel.example_list.currentRow() == 0
    assert panel.example_list.item(0).text().startswith("1. Capital of Peru? → Lima.")
    assert [e["content"] for e in stored_session(data_dir, sid).examples] == [
        "Capital of Peru?", "Lima.", "Capital of France?", "Paris."]

    # and gone
    panel.remove_button.click()
    wait_idle(qtbot, window)
    assert [t for _r, _n, t in sent(window, "examples")] == ["Capital of France?", "Paris."]
    assert used(window, "examples") == france
    assert panel.example_list.count() == 1

    # an answer being written counts as it is typed; a pair without text sends nothing
    panel.add_button.click()
    wait_idle(qtbot, window)
    assert used(window, "examples") == france
    type_into(qtbot, panel.example_user, "Capital of Japan?")
    wait_idle(qtbot, window)
    assert used(window, "examples") == france + figure("user", "Capital of Japan?")
    window.close()


def test_the_context_is_saved_with_the_session_and_restored_on_reopening(qtbot, data_dir):
    first = seed_session(data_dir, "First", [("user", "One")])
    second = seed_session(data_dir, "Second", [("user", "Two")])
    window = open_window(qtbot, data_dir)
    panel = window.context_panel
    window.controller.sessions.open(first)
    wait_idle(qtbot, window)
    assert panel.session_id() == first

    type_into(qtbot, panel.system_editor, "You are a careful editor.")
    add_pair(qtbot, panel, "Fix: teh cat", "the cat")
    # another session at once, before the pause that stores the edit: nothing is lost
    window.controller.sessions.open(second)
    wait_idle(qtbot, window)
    assert panel.session_id() == second
    assert panel.system_prompt() == "" and panel.examples() == []
    assert used(window, "system_prompt") == 0 and used(window, "examples") == 0
    stored = stored_session(data_dir, first)
    assert stored.system_prompt == "You are a careful editor."
    assert stored.examples == [{"role": "user", "content": "Fix: teh cat"},
                               {"role": "assistant", "content": "the cat"}]
    window.controller.sessions.open(first)
    wait_idle(qtbot, window)
    window.close()

    window = open_window(qtbot, data_dir)  # the same database, the window reopened
    panel = window.context_panel
    assert panel.session_id() == first  # the session open when the window closed
    assert panel.system_prompt() == "You are a careful editor."
    assert panel.examples() == stored.examples
    assert panel.example_list.count() == 1
    assert used(window, "system_prompt") == figure("system", "You are a careful editor.")
    assert used(window, "examples") == (figure("user", "Fix: teh cat")
                                        + figure("assistant", "the cat"))
    # typed a moment before the window closes: stored as it closes
    type_into(qtbot, panel.system_editor, " Keep the author's voice.")
    assert window.controller.sessions.busy
    window.close()
    assert stored_session(data_dir, first).system_prompt == (
        "You are a careful editor. Keep the author's voice.")


def test_the_prompt_library_saves_inserts_and_deletes(qtbot, data_dir):
    target = seed_session(data_dir, "Old", [("user", "One")])
    seed_session(data_dir, "New", [("user", "Two")])
    window = open_window(qtbot, data_dir)  # the newest session opens
    panel = window.context_panel
    assert window.controller.session.id != target
    assert panel.library_picker.count() == 0
    assert not panel.insert_button.isEnabled() and not panel.save_prompt_button.isEnabled()

    prompt = "You are a patient tutor. Ask one question at a time."
    type_into(qtbot, panel.system_editor, prompt)
    type_into(qtbot, panel.prompt_name, "Tutor")
    assert panel.save_prompt_button.isEnabled()
    panel.save_prompt_button.click()
    wait_idle(qtbot, window)
    assert [panel.library_picker.itemText(i) for i in range(panel.library_picker.count())] == [
        "Tutor"]
    assert panel.prompt_name.text() == ""
    with open_database(data_dir) as db:
        assert db.settings.get(LIBRARY_SETTING) == [{"name": "Tutor", "text": prompt}]

    # another session takes it from the library
    window.controller.sessions.open(target)
    wait_idle(qtbot, window)
    assert panel.system_prompt() == ""
    assert panel.insert_button.isEnabled()
    panel.insert_button.click()
    wait_idle(qtbot, window)
    assert panel.system_prompt() == prompt
    assert used(window, "system_prompt") == figure("system", prompt)
    assert stored_session(data_dir, target).system_prompt == prompt
    window.close()

    window = open_window(qtbot, data_dir)  # the library is kept
    panel = window.context_panel
    assert panel.library_picker.currentText() == "Tutor"
    panel.delete_prompt_button.click()
    wait_idle(qtbot, window)
    assert panel.library_picker.count() == 0
    with open_database(data_dir) as db:
        assert db.settings.get(LIBRARY_SETTING) == []
    window.close()


def chatgpt_export_with_instructions() -> list[dict]:
    """A conversation whose branch starts with a system message with text (a custom
    GPT's instructions), after ChatGPT's usual empty hidden one."""
    conversation = chatgpt_export()[0]
    mapping = conversation["mapping"]
    mapping["sys"]["children"] = ["gpt"]
    mapping["gpt"] = _node("gpt", "sys", ["u1"], "system",
                           "You are a sourdough expert. <b>Be brief.</b>")
    mapping["u1"]["parent"] = "gpt"
    return [conversation]


def test_a_chatgpt_system_message_becomes_the_system_prompt(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(chatgpt_export_with_instructions()), encoding="utf-8")
    with open_database(tmp_path / "db") as db:
        result = import_file(db, path)
        (sid,) = result.session_ids
        session = db.sessions.get(sid)
        assert session.system_prompt == "You are a sourdough expert. <b>Be brief.</b>"
        roles = [m.role for m in db.messages.all_for_session(sid)]
        assert roles == ["user", "assistant", "user", "assistant"]  # no system message
        assert any("left out 1 tool" in n for n in result.notes)  # the system one is not


def test_a_chatgpt_import_shows_its_system_prompt_in_the_window(qtbot, data_dir, tmp_path):
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps(chatgpt_export_with_instructions()), encoding="utf-8")
    window = open_window(qtbot, data_dir)
    window.controller.sessions.import_file(path)
    wait_idle(qtbot, window)
    (imported,) = window.controller.state.sessions
    window.controller.sessions.open(imported.id)
    wait_idle(qtbot, window)
    instructions = "You are a sourdough expert. <b>Be brief.</b>"
    panel = window.context_panel
    assert panel.system_prompt() == instructions  # as plain text, markup and all
    assert window.conversation.conversation.rowCount() == 4
    assert all(m.role != "system" for m in window.conversation.conversation.messages)
    expected = figure("system", instructions)
    assert used(window, "system_prompt") == expected
    assert sent(window, "system_prompt") == [("system", expected, instructions)]
    assert [c for c, _r, _n, _t in window.inspector.sent_rows()].count("history") == 4
    window.close()


def test_stored_examples_read_as_question_and_answer_pairs():
    from desktop_app.ui.context_panel import examples_of, pairs_of

    examples = [{"role": "assistant", "content": "Lone answer"},
                {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]
    assert pairs_of(examples) == [["", "Lone answer"], ["Q", "A"]]
    assert examples_of(pairs_of(examples))[2:] == examples[1:]
