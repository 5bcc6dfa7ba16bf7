"""Sessions in the window: new, rename, delete with undo, archive, search across all
messages; long sessions page in from the store; memory and profiles edited in the
window are still there after the window is closed and opened again."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt

from desktop_app.core.budget import builtin_profile
from desktop_app.core.records import Message
from tests.ui_support import conversation, open_window, seed_session, wait_idle


def test_new_rename_delete_undo_and_archive(qtbot, data_dir):
    seed_session(data_dir, "Old one", [("user", "hi")])
    window = open_window(qtbot, data_dir)
    sessions = window.session_list

    qtbot.mouseClick(sessions.new_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert sessions.titles() == ["New session", "Old one"]  # newest first
    window.new_action.trigger()  # File > New Session
    wait_idle(qtbot, window)
    assert sessions.titles() == ["New session", "New session", "Old one"]
    sessions.deleteRequested.emit(sessions.session_ids()[0])
    wait_idle(qtbot, window)
    new_id = sessions.session_ids()[0]
    assert window.controller.session.id == new_id

    # what an inline edit does: the editor's text set on the row
    assert sessions.model.setData(sessions.model.index(0, 0), "Trip planning")
    assert not sessions.model.setData(sessions.model.index(0, 0), "  ")  # no title: kept
    wait_idle(qtbot, window)
    assert window.controller.session.title == "Trip planning"

    sessions.deleteRequested.emit(new_id)
    wait_idle(qtbot, window)
    assert sessions.titles() == ["Old one"]
    assert window.snackbar.isVisible()
    assert "Trip planning" in window.snackbar.label.text()
    qtbot.mouseClick(window.snackbar.undo_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert "Trip planning" in sessions.titles()

    old_id = sessions.session_ids()[sessions.titles().index("Old one")]
    sessions.archiveRequested.emit(old_id, True)
    wait_idle(qtbot, window)
    assert sessions.titles() == ["Trip planning"]
    sessions.show_archived.setChecked(True)
    wait_idle(qtbot, window)
    assert sorted(sessions.titles()) == ["Old one", "Trip planning"]
    window.close()

    # the rename and the restored session are in the database
    again = open_window(qtbot, data_dir)
    assert again.session_list.titles() == ["Trip planning"]
    again.close()


def test_search_finds_messages_in_every_session(qtbot, data_dir):
    seed_session(data_dir, "Cooking", [("user", "How long do I boil an egg?")])
    seed_session(data_dir, "Travel", [("user", "Trains from Porto to Lisbon")])
    window = open_window(qtbot, data_dir)
    qtbot.keyClicks(window.session_list.search, "porto")
    qtbot.waitUntil(lambda: window.session_list.results_model.rowCount() == 1, timeout=5000)
    hit = window.session_list.results_model.item(0)
    assert hit.text() == "Travel"

    window.session_list.results.clicked.emit(hit.index())
    wait_idle(qtbot, window)
    assert window.controller.session.title == "Travel"
    selected = window.conversation.selected_message()
    assert selected is not None and selected.content == "Trains from Porto to Lisbon"
    window.close()


def test_long_sessions_page_in_when_scrolled_to_the_top(qtbot, data_dir, monkeypatch):
    from desktop_app.ui import conversation as conversation_view

    seed_session(data_dir, "Long", conversation(450, words=12))
    window = open_window(qtbot, data_dir)
    view = window.conversation
    model = view.conversation
    bar = view.verticalScrollBar()
    asked: list[bool] = []  # whether the page still held cards when the store was asked
    view.olderWanted.connect(lambda: asked.append(view.holds_more))
    # a page opens on its newest cards, as many as fill the view and a screen more,
    # laid out a slice at a time; the rest of the page waits above until scrolled to
    shown = model.rowCount()
    assert model.messages[-1].content.startswith("Message 449:")
    assert 0 < shown < 200 and view.holds_more and model.has_more
    assert sum(view.visualRect(model.index(r)).height() for r in range(shown)) >= (
        2 * view.viewport().height())
    assert bar.value() == bar.maximum()  # opens on the newest messages
    qtbot.wait(200)
    assert model.rowCount() == shown and not asked  # nothing more while the reader stays

    def scroll_up_until(done) -> None:
        for _ in range(400):
            if done():
                return
            bar.setValue(0)
            qtbot.wait(10)
        raise AssertionError("scrolling up showed nothing more")

    # the page's own cards come first, then the store's older pages
    scroll_up_until(lambda: model.rowCount() >= 200)
    assert model.messages[-200].content.startswith("Message 250:")
    assert not any(asked)  # never while the page held cards
    # the reader's place is kept (once the cards shown are laid out), not jumped to the top
    qtbot.waitUntil(lambda: bar.value() > 0, timeout=2_000)
    scroll_up_until(lambda: model.rowCount() == 450)
    assert model.messages[0].content.startswith("Message 0:")
    assert model.messages[-1].content.startswith("Message 449:")
    assert not model.has_more and asked

    # a card still to come is shown at once when asked for (a search hit), and one
    # changed meanwhile comes as it is now
    page = list(model.messages[-200:])
    with monkeypatch.context() as m:  # a slice long enough for a slow machine
        m.setattr(conversation_view, "SLICE_S", 60.0)
        view.show_messages(page, True)
    # the turn the page arrives in lays out the cards that fill the view, and no more
    heights = [view.delegate.prepare(m) for m in model.messages]
    assert sum(heights) >= view.viewport().height() > sum(heights[1:])
    assert model.rowCount() < 200 and view.holds_more
    changed = replace(page[1], pinned=True)
    view.update_message(changed)
    assert view.reveal(page[0].id) and not view.holds_more
    assert model.messages == [page[0], changed, *page[2:]]
    assert view.selected_message() is page[0]
    window.close()


def test_memory_and_profiles_persist_across_a_restart(qtbot, data_dir):
    seed_session(data_dir, "Chat", [("user", "Hello")])
    window = open_window(qtbot, data_dir)
    panel = window.memory_panel
    panel.key_edit.setText("user_name")
    panel.value_edit.setText("Ana")
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert window.gauge.report().components["memory"].used > 0  # sent with the request

    editor = window.profile_editor
    editor.load_profile("default")
    editor.name_edit.setText("Mine")
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    assert window.profile_picker.currentData() == "Mine"
    window.close()

    window = open_window(qtbot, data_dir)
    assert [(f.key, f.value) for f in window.memory_panel.facts()] == [("user_name", "Ana")]
    assert window.profile_picker.findData("Mine") >= 0
    assert window.profile_picker.currentData() == "Mine"  # the session kept its profile
    assert window.gauge.report().plan.profile.fractions == builtin_profile("default").fractions
    window.close()


def test_editing_a_message_stores_it_and_counts_it_again(qtbot, data_dir):
    seed_session(data_dir, "Chat", [Message("user", "short")])
    window = open_window(qtbot, data_dir)
    model = window.conversation.conversation
    before = model.tokens_of(model.messages[0])
    window.controller.sessions.edit_message(model.messages[0].id,
                                            "a much longer message than before")
    wait_idle(qtbot, window)
    assert model.messages[0].content == "a much longer message than before"
    assert model.tokens_of(model.messages[0]) > before
    window.close()


def test_new_messages_are_followed_from_the_end_and_their_stored_copies_keep_the_card(
        qtbot, data_dir):
    """At the end of the list a new message is scrolled to; scrolled up, the reader
    stays. A question shown before it is stored keeps its card when the stored copy
    takes its place (the list is not laid out again); a copy that differs is laid out."""
    seed_session(data_dir, "Long", conversation(40, words=30))
    window = open_window(qtbot, data_dir)
    try:
        view = window.conversation
        model = view.conversation
        bar = view.verticalScrollBar()
        wait_idle(qtbot, window)
        assert bar.maximum() > 0 and bar.value() == bar.maximum()
        relaid: list[int] = []
        view.delegate.sizeHintChanged.connect(lambda index: relaid.append(index.row()))

        shown = Message("user", "A question, shown before it is stored. " * 8)
        view.add_message(shown)
        qtbot.waitUntil(lambda: bar.value() == bar.maximum() and bar.maximum() > 0)
        assert model.messages[-1] is shown
        before = view.visualRect(model.index(model.rowCount() - 1))
        stored = replace(shown, id=10_000)
        view.replace_message(shown, stored)
        assert model.messages[-1] is stored and relaid == []
        qtbot.wait(20)
        assert view.visualRect(model.index(model.rowCount() - 1)) == before

        other = Message("user", "Edited before it was stored.")
        view.add_message(other)
        view.replace_message(other, replace(other, id=10_001, content="Edited, stored."))
        assert relaid == [model.rowCount() - 1]

        # the reader scrolls up a little: a new message does not pull them down
        place = bar.maximum() - 200
        bar.setValue(place)
        qtbot.wait(20)
        view.add_message(Message("assistant", "A reply, while the reader reads above."))
        qtbot.wait(50)
        assert bar.value() == place < bar.maximum() - 200
    finally:
        window.close()
