"""The session list costs what is on screen (issue 15): 10,000 sessions make the texts
of the rows painted, not of every session, and a refresh after a reply changes the row
that changed, keeping the reader's place and the selection."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from PySide6.QtCore import Qt

import desktop_app.ui.session_model as session_model
from desktop_app.core.records import Session
from desktop_app.ui.session_list import SessionList
from desktop_app.ui.session_model import SessionIdRole, SubtitleRole

MANY = 10_000


def sessions(n: int, messages: int = 4) -> list[Session]:
    now = datetime.now(UTC)
    return [Session(id=i + 1, title=f"Conversation {i + 1}", model="gpt-4o", created_at=now,
                    updated_at=now, message_count=messages) for i in range(n)]


def shown_list(qtbot) -> SessionList:
    column = SessionList()
    qtbot.addWidget(column)
    column.resize(240, 600)
    column.show()
    qtbot.waitExposed(column)
    return column


def settle(qtbot, column: SessionList) -> None:
    """The batched layout done: the scroll bar spans every row."""
    bar = column.view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() >= column.model.rowCount() - 40, timeout=10_000)
    qtbot.wait(20)


def test_ten_thousand_sessions_make_the_texts_of_the_rows_on_screen(qtbot, monkeypatch):
    made: list[int] = []
    subtitle = session_model.session_subtitle
    monkeypatch.setattr(session_model, "session_subtitle",
                        lambda s: made.append(s.id) or subtitle(s))
    column = shown_list(qtbot)
    column.set_current(1)
    column.set_sessions(sessions(MANY))
    settle(qtbot, column)
    rows_on_screen = column.view.viewport().height() // column.view.sizeHintForRow(0) + 1
    assert 0 < len(set(made)) <= 2 * rows_on_screen, len(set(made))
    assert column.view.currentIndex().data(SessionIdRole) == 1
    assert column.titles()[:2] == ["Conversation 1", "Conversation 2"]
    assert len(column.session_ids()) == MANY


def test_a_refresh_changes_the_row_that_changed_and_keeps_the_readers_place(qtbot):
    column = shown_list(qtbot)
    first = sessions(MANY)
    column.set_current(5_000)
    column.set_sessions(first)
    settle(qtbot, column)
    column.view.scrollTo(column.model.index(5_000 - 1, 0))
    bar = column.view.verticalScrollBar()
    place = bar.value()
    assert place > 0
    reply = list(first)
    reply[4_999] = dataclasses.replace(reply[4_999], message_count=6)
    resets: list[int] = []
    column.model.modelReset.connect(lambda: resets.append(1))
    column.set_sessions(reply)
    qtbot.wait(20)
    assert not resets and bar.value() == place
    row = column.model.index(4_999, 0)
    assert row.data(SubtitleRole).startswith("6 messages")
    assert column.view.currentIndex().data(SessionIdRole) == 5_000
    # the list in another order (a reply moved a session to the top): replaced, the
    # open session still selected
    moved = [reply[4_999], *reply[:4_999], *reply[5_000:]]
    column.set_sessions(moved)
    settle(qtbot, column)
    assert resets
    assert column.titles()[0] == "Conversation 5000"
    assert column.view.currentIndex().data(SessionIdRole) == 5_000


def test_a_title_edited_in_place_is_asked_for_and_an_empty_one_refused(qtbot):
    column = shown_list(qtbot)
    column.set_sessions(sessions(3))
    asked: list[tuple[int, str]] = []
    column.renameRequested.connect(lambda sid, title: asked.append((sid, title)))
    model = column.model
    assert model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(model.index(1, 0), "  Lisbon  ")
    assert not model.setData(model.index(1, 0), "   ")
    assert not model.setData(model.index(1, 0), "Lisbon")  # no change
    assert asked == [(2, "Lisbon")]
    assert column.titles() == ["Conversation 1", "Lisbon", "Conversation 3"]
