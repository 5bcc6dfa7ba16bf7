"""A full turn from the window against the loopback OpenAI-compatible server: the reply
streams into the live area, joins the conversation, is stored with its usage, and the
gauge moves; Stop cancels; a server error is shown and the typed text is kept."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop_app.core.providers import ProviderConfig
from desktop_app.core.tokens import count_chat
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture, unauthorized  # noqa: F401
from tests.ui_support import open_window, seed_session, wait_idle

REPLY = "Sintra is about forty minutes from Rossio by train, with trains every twenty minutes."


def add_provider(data_dir, server, models=("gpt-4o-mini",), preset: str = "custom") -> None:
    db = open_database(data_dir)
    try:
        db.providers.save(ProviderConfig(name="local", base_url=server.base_url, preset=preset,
                                         models=list(models)))
        db.settings.set("default_provider", "local")
    finally:
        db.close()


def stored_messages(data_dir, session_id):
    db = open_database(data_dir)
    try:
        return db.messages.all_for_session(session_id)
    finally:
        db.close()


def send(qtbot, window, text: str) -> None:
    window.composer.editor.setFocus()
    for i, line in enumerate(text.split("\n")):
        if i:
            qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return)
        qtbot.keyClicks(window.composer.editor, line)
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_a_turn_streams_into_the_window_is_stored_and_moves_the_gauge(qtbot, data_dir,
                                                                     openai_server):
    sid = seed_session(data_dir, "Trip", [("user", "I am in Lisbon."), ("assistant", "Nice!")])
    add_provider(data_dir, openai_server)
    openai_server.script(Reply(text=REPLY, delay=0.01))
    window = open_window(qtbot, data_dir)
    assert not window.banner.isVisible() and window.composer.send_button.isEnabled()
    history_before = window.gauge.report().components["history"].used

    seen_live: list[str] = []
    window.controller.streamText.connect(
        lambda _t: seen_live.append(window.live_reply.current_text()))
    send(qtbot, window, "How far is Sintra?")
    qtbot.waitUntil(lambda: window.live_reply.isVisible(), timeout=5000)
    wait_idle(qtbot, window)

    # it streamed through the live area in pieces, then joined the list
    assert len(seen_live) >= 2 and seen_live[-1] == REPLY
    assert all(REPLY.startswith(text) for text in seen_live)
    assert not window.live_reply.isVisible()
    shown = window.conversation.conversation.messages
    assert [(m.role, m.content) for m in shown[-2:]] == [("user", "How far is Sintra?"),
                                                        ("assistant", REPLY)]
    assert all(m.id is not None for m in shown)  # the stored messages, not stand-ins
    assert window.composer.text() == ""

    stored = stored_messages(data_dir, sid)
    assert [m.content for m in stored[-2:]] == ["How far is Sintra?", REPLY]
    assert stored[-1].status == "complete"
    assert stored[-1].prompt_tokens and stored[-1].completion_tokens  # usage recorded
    sent = openai_server.chat_requests()[-1].body["messages"]
    assert stored[-1].prompt_tokens == count_chat(sent, "gpt-4o-mini").tokens
    assert window.gauge.report().components["history"].used > history_before
    turn = window.usage_chart.bars()[-1].values  # the turn's request split by component
    assert turn["reply"] == stored[-1].completion_tokens
    assert turn["history"] > 0 and turn["current_input"] > 0
    window.close()


def test_stop_cancels_the_reply_and_keeps_what_arrived(qtbot, data_dir, openai_server):
    sid = seed_session(data_dir, "Story")
    add_provider(data_dir, openai_server)
    long_reply = " ".join(f"word{i}" for i in range(400))
    openai_server.script(Reply(text=long_reply, delay=0.02))
    window = open_window(qtbot, data_dir)
    send(qtbot, window, "Tell me a long story")
    qtbot.waitUntil(lambda: "word3" in window.live_reply.current_text(), timeout=10_000)
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Escape)
    wait_idle(qtbot, window)

    last = window.conversation.conversation.messages[-1]
    assert last.role == "assistant" and last.status == "interrupted"
    assert last.content.startswith("word0 word1") and len(last.content) < len(long_reply)
    stored = stored_messages(data_dir, sid)
    assert stored[-1].status == "interrupted"
    assert openai_server.wait_for_streams_closed(timeout=3)
    assert window.composer.send_button.isVisible() and not window.composer.stop_button.isVisible()
    window.close()


def test_a_server_error_is_shown_and_the_typed_text_kept(qtbot, data_dir, openai_server):
    sid = seed_session(data_dir, "Auth")
    add_provider(data_dir, openai_server)
    openai_server.script(unauthorized(), Reply(text="Hello again."))
    window = open_window(qtbot, data_dir)
    send(qtbot, window, "Are you there?")
    wait_idle(qtbot, window)

    assert window.error_bar.isVisible()
    assert "401" in window.error_bar.label.text() or "key" in window.error_bar.label.text().lower()
    assert window.composer.text() == "Are you there?"
    failed = window.conversation.conversation.messages[-1]
    assert failed.status == "error" and failed.excluded  # visible, but not sent again

    # sending again works, and the question is not asked twice
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)
    assert window.composer.text() == ""
    assert window.conversation.conversation.messages[-1].content == "Hello again."
    sent = openai_server.chat_requests()[-1].body["messages"]
    assert [m["content"] for m in sent if m["role"] == "user"] == ["Are you there?"]
    assert len(stored_messages(data_dir, sid)) == 4
    window.close()


def test_sending_with_no_session_starts_one_named_after_the_message(qtbot, data_dir,
                                                                   openai_server):
    add_provider(data_dir, openai_server)
    openai_server.script(Reply(text="Hello!"))
    window = open_window(qtbot, data_dir)
    assert window.controller.session is None
    send(qtbot, window, "Plan a picnic for six people\nwith a vegetarian option")
    wait_idle(qtbot, window)
    assert window.session_list.titles() == ["Plan a picnic for six people"]
    assert [m.role for m in window.conversation.conversation.messages] == ["user", "assistant"]
    window.close()


def test_send_again_sends_a_message_older_than_the_preview_read(qtbot, data_dir,
                                                                 openai_server, monkeypatch):
    """Send again takes the message's text from the store: the message may be one the
    preview never read (older than its next request reaches)."""
    from desktop_app.services import reach

    monkeypatch.setattr(reach, "LEAST_READ", 0)  # so this short session is read in part
    words = "we weigh every token of the budget here " * 1_000  # 40 of them: 2x the window
    turns = [("user", f"Question {k}: {words}") if k % 2 == 0 else ("assistant", words)
             for k in range(40)]
    sid = seed_session(data_dir, "Long", turns)
    add_provider(data_dir, openai_server)
    openai_server.script(Reply(text=REPLY))
    window = open_window(qtbot, data_dir)
    wait_idle(qtbot, window)
    assembly = window.controller.budget.assembly
    assert assembly.request.older is not None  # the first question was not read
    first = stored_messages(data_dir, sid)[0]
    assert first.id not in {m.id for m in assembly.messages}
    window.controller.turns.resend(first.id)
    qtbot.waitUntil(lambda: len(stored_messages(data_dir, sid)) == 42, timeout=10_000)
    wait_idle(qtbot, window)
    stored = stored_messages(data_dir, sid)
    assert stored[-2].role == "user" and stored[-2].content == first.content
    assert stored[-1].content == REPLY
