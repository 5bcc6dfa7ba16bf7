"""One number per message, everywhere: a message's figure is its tokens in the next
request, chat framing included, and the card, the inspector, the gauge and the Memory
and Summary tabs show that same figure for the same item (the composer too, for the
draft). A message has its figure as soon as it is stored: after a turn and after Retry,
counted on its final text. Real window, real SQLite, the loopback server."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from desktop_app.core.assemble import MEMORY_HEADER, SUMMARY_HEADER
from desktop_app.core.catalog import lookup_model
from desktop_app.core.records import MemoryFact, Message, Session, Summary
from desktop_app.core.text import format_token_tag
from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_controller_turn import REPLY, add_provider, send, stored_messages
from tests.ui_support import open_window, seed_session, wait_idle

MODEL = "gpt-4o-mini"
ENC = lookup_model(MODEL).encoding
FRAMING = chat_framing(lookup_model(MODEL))


def figure(m: Message) -> int:
    """A message's tokens in the request, worked out from the framing's own numbers:
    its role's head, its content and (when the format sends names) its name."""
    n = FRAMING.head(m.role, ENC) + count_text(m.content, ENC)
    if m.name and FRAMING.names:
        n += count_text(m.name, ENC) + FRAMING.per_name
    return n


def card_tag_and_tooltip(qtbot, window, message_id: int) -> tuple[str, str]:
    """What the message's card says in its token tag, and what hovering the tag shows."""
    view = window.conversation
    model = view.conversation
    index = model.index(model.row_of(message_id))
    view.scrollTo(index)
    text, rect = view.delegate.token_tag(index)
    viewport = view.viewport()
    QApplication.sendEvent(viewport, QHelpEvent(QEvent.Type.ToolTip, rect.center(),
                                                viewport.mapToGlobal(rect.center())))
    shown = QToolTip.text()
    QToolTip.hideText()
    return text, shown


def seed_planned_trip(data_dir) -> tuple[int, list[Message]]:
    """A rolling-summary session: two messages the stored summary covers, one kept (with
    a name, which the chat format costs too), two memory facts."""
    db = open_database(data_dir)
    try:
        session = db.sessions.create(Session(title="Lisbon", model=MODEL,
                                             strategy="rolling_summary"))
        sid = int(session.id)
        messages = db.messages.append_many(sid, [
            Message("user", "I am planning a trip to Lisbon in May, mostly by train."),
            Message("assistant", "Lisbon in May is lovely: warm days and few crowds."),
            Message("user", "Which day trips are easiest from Rossio station?", name="ada"),
        ])
        db.summaries.add(Summary("The user plans a May trip to Lisbon by train.",
                                 first_message_id=messages[0].id,
                                 last_message_id=messages[1].id, session_id=sid))
        db.memory.upsert(MemoryFact("city", "Lisbon", session_id=sid, pinned=True))
        db.memory.upsert(MemoryFact("travel", "by train, no car", session_id=sid))
        return sid, messages
    finally:
        db.close()


def test_the_same_item_shows_the_same_figure_everywhere(qtbot, data_dir):
    _sid, (covered, _reply, kept) = seed_planned_trip(data_dir)
    window = open_window(qtbot, data_dir)
    model = window.conversation.conversation
    inspector = window.inspector
    used = {c: r.used for c, r in window.gauge.report().components.items()}
    sent = {c: tokens for c, _role, tokens, _text in inspector.sent_rows() if c != "history"}
    history_rows = [tokens for c, _r, tokens, _t in inspector.sent_rows() if c == "history"]

    # a history message: its card, its inspector row and the gauge's History row (the
    # only message the history sends), content and chat framing (and its name) included
    expected = figure(kept)
    assert expected > count_text(kept.content, ENC)  # the framing is in the figure
    tag, tooltip = card_tag_and_tooltip(qtbot, window, kept.id)
    assert tag == format_token_tag(expected)
    assert model.tokens_of(model.messages[model.row_of(kept.id)]) == expected
    assert history_rows == [expected]
    assert used["history"] == expected
    # the hover explains the split, and says the same on the card and in the inspector
    content = count_text(kept.content, ENC)
    assert tooltip == (f"{expected} tokens in the request: {content} content + "
                       f"{expected - content} chat framing ({FRAMING.source}) · exact")
    sent_model = inspector.sent_model
    history_row = next(r for r in range(sent_model.rowCount())
                       if sent_model.row(r).component == "history")
    assert sent_model.index(history_row, 3).data(Qt.ItemDataRole.ToolTipRole) == tooltip
    assert FRAMING.source in window.gauge.tooltip_text("history")

    # a message the summary stands for: its card and its row among those left out
    assert model.state_of(model.messages[model.row_of(covered.id)])[0] == "summarized"
    tag, _tip = card_tag_and_tooltip(qtbot, window, covered.id)
    assert tag == format_token_tag(figure(covered))
    assert inspector.left_out_tokens()[0] == figure(covered)

    # the memory facts: the tab's total is the memory message as sent (its header, every
    # line, its framing), the gauge's Memory row and the inspector's memory row
    facts = window.memory_panel.facts()
    memory = figure(Message("system", MEMORY_HEADER + "\n".join(f.line() for f in facts)))
    assert window.memory_panel.cost().total == memory
    assert f"{memory:,} tokens in the request" in window.memory_panel.total_text()
    assert used["memory"] == memory and sent["memory"] == memory

    # the summary: the tab, the gauge's Summary row and the inspector's summary row
    summary = window.summary_panel.summary()
    assert summary is not None
    expected_summary = figure(Message("system", SUMMARY_HEADER + summary.text))
    assert window.summary_panel.cost().total == expected_summary
    assert window.summary_panel.token_text().startswith(f"{expected_summary} in the request")
    assert used["summary"] == expected_summary and sent["summary"] == expected_summary

    # the draft: the composer's figure is the gauge's Current input row and the
    # inspector's row for it, once the preview follows
    window.composer.editor.setFocus()
    qtbot.keyClicks(window.composer.editor, "And to Sintra?")
    wait_idle(qtbot, window)
    draft = figure(Message("user", "And to Sintra?"))
    assert window.composer.count_label.text() == f"{draft} tokens"
    assert window.gauge.report().components["current_input"].used == draft
    assert [t for c, _r, t, _x in inspector.sent_rows() if c == "current_input"] == [draft]
    window.close()


def test_a_sent_turn_shows_both_figures_at_once_and_stores_them(qtbot, data_dir,
                                                                openai_server):
    sid = seed_session(data_dir, "Trip", [("user", "I am in Lisbon."), ("assistant", "Nice!")])
    add_provider(data_dir, openai_server)
    openai_server.script(Reply(text=REPLY, delay=0.01))
    window = open_window(qtbot, data_dir)
    send(qtbot, window, "How far is Sintra?")
    qtbot.waitUntil(lambda: window.live_reply.isVisible(), timeout=5000)
    wait_idle(qtbot, window)

    # the cards the turn added (nothing reopened the session) carry their figures
    shown = window.conversation.conversation.messages[-2:]
    assert [(m.role, m.content) for m in shown] == [("user", "How far is Sintra?"),
                                                    ("assistant", REPLY)]
    for m in shown:
        tag, _tip = card_tag_and_tooltip(qtbot, window, m.id)
        assert tag == format_token_tag(figure(m)), m.role
    # and the store keeps each one's content count under the model's encoding
    stored = stored_messages(data_dir, sid)[-2:]
    assert [m.token_counts.get(ENC) for m in stored] == [count_text(m.content, ENC)
                                                         for m in stored]
    window.close()


def test_a_retried_reply_is_counted_on_its_final_text(qtbot, data_dir, openai_server):
    sid = seed_session(data_dir, "Retry")
    add_provider(data_dir, openai_server)
    long_reply = " ".join(f"word{i}" for i in range(120))
    openai_server.script(Reply(text="cut short here", disconnect_after=1),
                         Reply(text=long_reply, delay=0.02))
    window = open_window(qtbot, data_dir)
    controller = window.controller
    send(qtbot, window, "Question?")
    wait_idle(qtbot, window)
    failed = window.conversation.conversation.messages[-1]
    assert failed.status in ("interrupted", "error")

    # while the retried reply streams (and is stored as it arrives), the user types the
    # next question and the preview follows: it must not count the text so far
    controller.budget.timer.setInterval(10)
    previews_while_streaming = []
    controller.requestChanged.connect(
        lambda *_a: previews_while_streaming.append(controller.turns.streaming))
    window.conversation.actionTriggered.emit("retry", failed)
    qtbot.waitUntil(lambda: "word30" in window.live_reply.current_text(), timeout=10_000)
    window.composer.editor.setFocus()
    qtbot.keyClicks(window.composer.editor, "Next")
    qtbot.waitUntil(lambda: any(previews_while_streaming), timeout=5_000)
    wait_idle(qtbot, window, timeout=30_000)

    reply = stored_messages(data_dir, sid)[-1]
    assert (reply.content, reply.status) == (long_reply, "complete")
    assert reply.token_counts == {ENC: count_text(long_reply, ENC)}
    shown = window.conversation.conversation.messages[-2:]
    assert [m.content for m in shown] == ["Question?", long_reply]
    for m in shown:
        tag, _tip = card_tag_and_tooltip(qtbot, window, m.id)
        assert tag == format_token_tag(figure(m)), m.role
    window.close()


def test_a_model_the_server_names_is_counted_with_its_own_vocabulary_at_once(
        qtbot, data_dir, tmp_path):
    """A llama.cpp server on this computer serving a model whose name says nothing: the
    window asks the server, learns its vocabulary (Llama 3's) and template, and every
    card shows the same exact figure as the inspector, without reopening the session."""
    from desktop_app.core.providers import ProviderConfig
    from tests.reference import llama_cpp
    from tests.reference.tiny_model import write_tiny_model
    from tests.ui_support import conversation

    model_file = write_tiny_model(
        llama_cpp.vocab_path("llama-bpe"),
        llama_cpp.template_path("meta-llama-Llama-3.1-8B-Instruct"), tmp_path / "m.gguf")
    with llama_cpp.serve(model_file, 8192) as url:
        db = open_database(data_dir)
        try:
            db.providers.save(ProviderConfig("here", base_url=url + "/v1", preset="llamacpp",
                                             models=["my-local-model"]))
            db.settings.set("default_provider", "here")
        finally:
            db.close()
        seed_session(data_dir, "Local", conversation(6, words=30), model="my-local-model")
        window = open_window(qtbot, data_dir)
        model = window.conversation.conversation
        qtbot.waitUntil(lambda: model.encoding == "llama3", timeout=15_000)
        wait_idle(qtbot, window)
        rows = [t for c, _r, t, _x in window.inspector.sent_rows() if c == "history"]
        cards = [model.tokens_of(m) for m in model.messages]
        assert model.exact and cards == rows and len(rows) == 6
        assert all(card_tag_and_tooltip(qtbot, window, m.id)[0] == format_token_tag(n)
                   for m, n in zip(model.messages, cards, strict=True))
        window.close()
