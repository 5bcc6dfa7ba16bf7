"""The window's budget: typing moves the composer count and the gauge; profile and
strategy pickers change the gauge and the inspector; pinning and excluding change
what the inspector says the next request sends; the gauge says which window it budgets
with and where its size comes from."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop_app.core.catalog import lookup_model
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.services.connection import DEFAULT_PROVIDER_SETTING
from desktop_app.store import open_database
from tests.openai_test_server import openai_server_fixture  # noqa: F401
from tests.ui_support import conversation, open_window, seed_session, wait_idle, whole_page


def choose(qtbot, window, picker, value: str) -> None:
    index = picker.findData(value)
    assert index >= 0, f"{value} is not offered"
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    wait_idle(qtbot, window)


def test_typing_updates_the_composer_count_and_the_gauge(qtbot, data_dir):
    seed_session(data_dir, "Chat", [("user", "Hello there"), ("assistant", "Hi! How can I help?")])
    window = open_window(qtbot, data_dir)
    before = window.gauge.report().components["current_input"].used
    assert before == 0

    text = "Please summarize the history of the Roman Empire in three sentences."
    qtbot.keyClicks(window.composer.editor, text)

    # the draft's tokens in the request: its content and the user message's framing,
    # the same figure in the composer and in the gauge's Current input row, counted
    # without waiting for a worker
    content = count_text(text, "o200k_base")
    expected = content + chat_framing(lookup_model("gpt-4o-mini")).head("user", "o200k_base")
    assert window.composer.count_label.text() == f"{expected} tokens"
    report = window.gauge.report()
    assert report.components["current_input"].used == expected
    tip = window.composer.count_label.toolTip()
    assert tip.startswith(f"{expected} tokens in the request: {content} content + "
                          f"{expected - content} chat framing"), tip
    assert report.components["history"].used > 0
    window.close()


def test_a_draft_edited_every_way_is_counted_whole_and_previewed_as_typed(qtbot, data_dir):
    """Keystrokes reach the counter as the text they put in; an emoji, a paste too big
    to count at once, an undo and a pause all leave the count, the draft the controller
    previews and the composer's text the same."""
    from PySide6.QtGui import QTextCursor

    from desktop_app.controller import budget as budget_module

    seed_session(data_dir, "Chat", [("user", "Hello there"), ("assistant", "Hi!")])
    window = open_window(qtbot, data_dir)
    c, editor = window.controller, window.composer.editor
    user_head = chat_framing(lookup_model("gpt-4o-mini")).head("user", "o200k_base")

    def counted() -> int:
        return window.gauge.report().components["current_input"].used

    def agrees() -> None:
        text = editor.toPlainText()
        assert window.composer.text() == text == c.budget.draft
        assert counted() == count_text(text, "o200k_base") + (user_head if text else 0)

    window.composer.set_text("line of the draft\n" * 2000)
    wait_idle(qtbot, window)
    agrees()
    cursor = editor.textCursor()
    cursor.setPosition(18 * 1000)
    editor.setTextCursor(cursor)
    qtbot.keyClicks(editor, "typed ")
    # the counter holds the draft: keystrokes are not copied into a whole text
    assert c.budget._draft is None and c.budget.live.draft_length == 36_006
    agrees()
    handed = []
    window.composer.draftEdited.connect(
        lambda text, edits: handed.append("whole" if edits is None else "edits"))
    editor.insertPlainText("\U0001F600 and more")  # two UTF-16 units, one character
    qtbot.keyClicks(editor, "!")
    assert handed[-2:] == ["edits", "edits"]
    agrees()
    window.composer.set_text(editor.toPlainText())  # a text set whole: handed on as one edit
    assert handed[-1] == "edits"
    agrees()
    editor.undo()
    agrees()
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    assert handed[-1] == "edits" and c.budget._draft is None
    agrees()
    budget_module.BIG_EDIT_CHARS, big = 1_000, budget_module.BIG_EDIT_CHARS
    try:  # a paste bigger than is counted at once: counted on the pool
        editor.moveCursor(QTextCursor.MoveOperation.End)
        editor.insertPlainText("pasted words " * 200)
        assert handed[-1] == "edits" and c.budget._draft_busy
        qtbot.keyClicks(editor, " meanwhile")  # typed while the pool counts
        qtbot.waitUntil(lambda: not c.budget._draft_busy, timeout=10_000)
    finally:
        budget_module.BIG_EDIT_CHARS = big
    assert c.budget._draft is None
    agrees()
    editor.undo()  # an undo of several edits at once
    assert handed[-1] == "edits"
    agrees()
    # a preview begun mid-typing arrives with the draft as it was: the new counter
    # takes the draft as it is now
    c.budget.refresh()
    qtbot.keyClicks(editor, " end")
    wait_idle(qtbot, window)
    assert c.budget._draft is None
    agrees()
    assert c.budget.assembly.live.draft_text == editor.toPlainText()
    window.close()


def test_first_launch_is_drafting_mode_and_the_gauge_works(qtbot, data_dir):
    window = open_window(qtbot, data_dir)
    assert window.banner.isVisible()
    assert "provider" in window.banner.label.text().lower()
    assert not window.composer.send_button.isEnabled()

    qtbot.keyClicks(window.composer.editor, "Draft a polite reply to my landlord")
    assert window.gauge.report().components["current_input"].used > 0
    assert window.composer.text() == "Draft a polite reply to my landlord"
    window.close()


def test_profile_and_strategy_change_the_gauge_and_the_inspector(qtbot, data_dir):
    # gpt-4's 8,192-token window: the default profile's history share (30%) cannot hold
    # 40 messages of ~130 tokens, simple_qa's (60%) can.
    seed_session(data_dir, "Long", conversation(40, words=100), model="gpt-4")
    window = open_window(qtbot, data_dir)
    assert window.gauge.report().plan.profile.name == "default"
    dropped_default = len(window.inspector.left_out_rows())
    assert dropped_default > 0

    choose(qtbot, window, window.profile_picker, "simple_qa")
    assert window.gauge.report().plan.profile.name == "simple_qa"
    assert window.gauge.report().components["history"].budget > 8192 * 0.5
    assert len(window.inspector.left_out_rows()) < dropped_default

    choose(qtbot, window, window.strategy_picker, "last_n")
    left_out = window.inspector.left_out_rows()
    assert len(left_out) == 20  # 40 messages, the last 20 kept
    assert all("last 20" in reason for _i, _state, reason in left_out)
    window.close()


def test_pinning_and_excluding_change_the_inspector(qtbot, data_dir):
    seed_session(data_dir, "Long", conversation(40, words=100), model="gpt-4")
    window = open_window(qtbot, data_dir)
    view = window.conversation
    model = whole_page(window)
    first = model.messages[0]
    assert model.state_of(first)[0] == "dropped"
    assert 0 in [i for i, _s, _r in window.inspector.left_out_rows()]

    view.actionTriggered.emit("pin", first)
    wait_idle(qtbot, window)
    assert model.messages[0].pinned
    assert model.state_of(model.messages[0])[0] == "pinned"
    assert 0 not in [i for i, _s, _r in window.inspector.left_out_rows()]
    assert any(text.startswith("Message 0:") for _c, _r, _t, text in window.inspector.sent_rows())

    last = model.messages[-1]
    view.actionTriggered.emit("exclude", last)
    wait_idle(qtbot, window)
    reasons = {i: r for i, _s, r in window.inspector.left_out_rows()}
    assert reasons[39] == "excluded by you"
    assert model.state_of(model.messages[-1])[0] == "dropped"

    # choosing a message in the inspector shows it in the conversation
    window.inspector.messageSelected.emit(39)
    assert window.conversation.selected_message().id == model.messages[39].id
    window.close()


def test_messages_show_their_token_counts_and_states(qtbot, data_dir):
    seed_session(data_dir, "Chat",
                 [("user", "Hello there"), ("assistant", "**Hi!** How can I help?")])
    window = open_window(qtbot, data_dir)
    model = window.conversation.conversation
    assert model.rowCount() == 2
    # a card's figure is its tokens in the request: content and the chat framing
    head = chat_framing(lookup_model("gpt-4o-mini")).head("user", "o200k_base")
    assert model.tokens_of(model.messages[0]) == count_text("Hello there", "o200k_base") + head
    assert [model.state_of(m)[0] for m in model.messages] == ["kept", "kept"]
    index = model.index(1)
    assert "Hi!" in index.data(Qt.ItemDataRole.DisplayRole)
    window.close()


def test_last_n_and_elastic_settings_change_the_request_and_persist(qtbot, data_dir):
    seed_session(data_dir, "Long", conversation(40, words=100), model="gpt-4")
    window = open_window(qtbot, data_dir)
    assert not window.last_n_spin.isVisibleTo(window)  # only for the Last N strategy
    choose(qtbot, window, window.strategy_picker, "last_n")
    assert window.last_n_spin.isVisibleTo(window)
    window.last_n_spin.setValue(6)
    wait_idle(qtbot, window)
    assert len(window.inspector.left_out_rows()) == 34
    assert all("last 6" in reason for _i, _state, reason in window.inspector.left_out_rows())

    choose(qtbot, window, window.strategy_picker, "token_window")
    tight = len(window.inspector.left_out_rows())
    window.elastic_check.setChecked(True)
    wait_idle(qtbot, window)
    report = window.gauge.report()
    assert report.plan.elastic and report.lent_to_history > 0
    assert len(window.inspector.left_out_rows()) < tight
    window.close()

    window = open_window(qtbot, data_dir)  # the same database, the window reopened
    assert window.elastic_check.isChecked()
    assert window.gauge.report().plan.elastic
    choose(qtbot, window, window.strategy_picker, "last_n")
    assert window.last_n_spin.value() == 6
    window.close()


def test_the_gauge_says_which_window_it_budgets_with(qtbot, data_dir, openai_server):
    """The user's setting for the provider, else the catalog's figure; never more than
    what the server serves once it has said (a vLLM-like loopback server here)."""
    openai_server.models = [{"id": "gpt-4o-mini"}, {"id": "gpt-4o"},
                            {"id": "gpt-4", "max_model_len": 4_096}]
    db = open_database(data_dir)
    try:
        db.providers.save(ProviderConfig("local", base_url=openai_server.base_url, preset="vllm",
                                         models=["gpt-4o-mini"],
                                         context_windows={"gpt-4o-mini": 16_000}))
        db.settings.set(DEFAULT_PROVIDER_SETTING, "local")
    finally:
        db.close()
    window = open_window(qtbot, data_dir)
    gauge = window.gauge
    assert gauge.window_text() == "Window: 16,000 tokens, from your setting for local"
    assert gauge.report().window == 16_000

    choose(qtbot, window, window.model_picker, "gpt-4o")
    assert gauge.window_text() == "Window: 128,000 tokens, from the model catalog"

    choose(qtbot, window, window.model_picker, "gpt-4")  # the catalog says 8,192
    qtbot.waitUntil(lambda: gauge.window_text() == "Window: 4,096 tokens, as local serves it",
                    timeout=10_000)
    assert gauge.report().window == 4_096
    window.close()
