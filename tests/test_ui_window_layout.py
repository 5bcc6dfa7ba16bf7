"""A window people can work in all day (issue 11, the layout): the first window fits the
screen with the composer on it and is remembered; the right-hand column keeps its width
whatever its panels show, names every tab in full and scrolls rather than squeezing its
tables below five rows; figures are never cut; message cards never overlap, however the
conversation is resized."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from desktop_app.core.records import MemoryFact, Message, Summary
from desktop_app.store import open_database
from desktop_app.ui.conversation_model import MessageRole
from desktop_app.ui.message_card import _Layout
from desktop_app.ui.sizing import WIDEST_TOKENS, cell_padding, first_window_geometry
from tests.ui_support import conversation, open_window, seed_session, wait_idle

CHILD = Path(__file__).with_name("window_screen_child.py")


def seed_long(data_dir: Path, facts: int = 9, model: str = "gpt-4") -> int:
    """60 messages (on gpt-4's 8,192-token window most are left out), a long one among
    the newest (over a thousand tokens), memory facts and a summary."""
    messages = conversation(60, words=100)
    messages[58] = Message("user", "A long one. " + " ".join(f"w{i}" for i in range(500)))
    sid = seed_session(data_dir, "Long", messages, model=model)
    db = open_database(data_dir)
    try:
        for i in range(facts):
            db.memory.upsert(MemoryFact(f"fact{i}", f"value {i}", session_id=sid))
        db.summaries.add(Summary("What was said before. " * 20, first_message_id=1,
                                 last_message_id=10, session_id=sid))
        db.settings.set("last_session", sid)
    finally:
        db.close()
    return sid


def run_child(data_dir: Path, tmp_path: Path, width: int, height: int) -> dict:
    screen = tmp_path / f"screen_{width}x{height}.json"
    screen.write_text(json.dumps({"screens": [
        {"name": "Laptop", "x": 0, "y": 0, "width": width, "height": height,
         "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1}]}), encoding="utf-8")
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screen}",
               TOKEN_BUDGET_DATA_DIR=str(data_dir))
    done = subprocess.run([sys.executable, str(CHILD), str(data_dir)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def inside(inner: list[int] | QRect, outer: list[int] | QRect) -> bool:
    a = inner if isinstance(inner, QRect) else QRect(*inner)
    b = outer if isinstance(outer, QRect) else QRect(*outer)
    return b.contains(a)


# --- the first window ----------------------------------------------------------------------

@pytest.mark.parametrize("screen", [(1366, 768), (1024, 700), (1440, 900), (1920, 1080),
                                    (2560, 1400)])
def test_the_first_window_fits_the_available_area(screen):
    for origin in ((0, 0), (1920, 24)):  # a second screen, a panel on top
        available = QRect(*origin, *screen)
        place = first_window_geometry(available)
        assert place.width() <= 1360 and place.height() <= 860
        # room left for the frame and title bar the window manager adds
        framed = place.adjusted(0, 0, 16, 48)
        assert available.contains(framed), (place, available)
        if screen[0] >= 1360 + 16 and screen[1] >= 860 + 48:
            assert (place.width(), place.height()) == (1360, 860)


def test_on_a_1366x768_screen_send_is_on_screen_and_the_layout_is_remembered(data_dir,
                                                                            tmp_path):
    seed_long(data_dir)
    first = run_child(data_dir, tmp_path, 1366, 768)
    assert first["send_visible"]
    assert inside(first["frame"], first["available"]), first
    assert inside(first["send"], first["available"]), first
    assert first["sizes"][2] >= first["right_min"]

    again = run_child(data_dir, tmp_path, 1366, 768)  # the next start: as it was left
    assert again["frame"][2:] == first["frame"][2:]
    assert inside(again["frame"], again["available"]), again
    assert again["sizes"] == first["sizes"]

    smaller = run_child(data_dir, tmp_path, 1024, 700)  # remembered on a larger screen
    assert inside(smaller["frame"], smaller["available"]), smaller
    assert inside(smaller["send"], smaller["available"]), smaller
    # the Prompt Lab opens inside the screen too (it was 1,100 px wide on any screen)
    assert inside(smaller["lab"], smaller["available"]), smaller


def test_fit_to_screen_puts_send_inside_the_available_area(qtbot, data_dir):
    seed_long(data_dir)
    window = open_window(qtbot, data_dir, size=None)
    available = QRect(0, 0, 1366, 768)
    window.fit_to_screen(available)
    qtbot.waitUntil(lambda: window.width() <= 1366 and window.height() <= 768)
    send = window.composer.send_button
    top_left = send.mapTo(window, send.rect().topLeft()) + window.geometry().topLeft()
    assert available.contains(QRect(top_left, send.size()))
    window.close()


# --- the right-hand column -----------------------------------------------------------------

def choose_model(qtbot, window, model: str) -> None:
    picker = window.model_picker
    index = picker.findData(model)
    assert index >= 0
    picker.setCurrentIndex(index)
    picker.activated.emit(index)
    wait_idle(qtbot, window)


def panel_pages(window):
    tabs = window.tabs
    return [(tabs.tabText(i), tabs.widget(i)) for i in range(tabs.count())]


def show_tab(qtbot, window, index: int) -> None:
    window.tabs.setCurrentIndex(index)
    qtbot.wait(20)


def test_at_1024x700_every_panel_shows_five_rows(qtbot, data_dir):
    seed_long(data_dir)
    window = open_window(qtbot, data_dir, size=(1024, 700))
    right = window.right
    inspector = window.inspector
    assert len(inspector.sent_rows()) >= 5 and len(inspector.left_out_rows()) >= 5
    assert len(window.memory_panel.facts()) >= 5

    def shows_rows(view, rows: int = 5) -> None:
        # tall enough for five rows, and no taller than the column's view of it: scrolled
        # to, the whole table is on screen at once
        row = view.sizeHintForRow(0)
        assert row > 0
        assert view.viewport().height() >= rows * row, view.accessibleName()
        right.ensureWidgetVisible(view, 0, 0)
        qtbot.wait(10)
        top_left = view.mapTo(right.viewport(), view.rect().topLeft())
        assert right.viewport().rect().contains(QRect(top_left, view.size())), \
            view.accessibleName()

    for index, (title, page) in enumerate(panel_pages(window)):
        show_tab(qtbot, window, index)
        # no page is squeezed below what it needs (the column scrolls instead)
        need = page.minimumSizeHint()
        assert page.height() >= need.height() and page.width() >= need.width(), title
        if page is inspector:
            shows_rows(inspector.sent_view)
            shows_rows(inspector.left_out_view)
        elif page is window.memory_panel:
            shows_rows(window.memory_panel.view)
        elif page is window.summary_panel:
            editor = window.summary_panel.editor
            assert editor.viewport().height() >= 5 * editor.fontMetrics().lineSpacing()
        elif page is window.profile_editor:
            for slider in window.profile_editor.sliders.values():
                assert slider.height() > 0 and slider.isVisibleTo(page)
        elif page is window.usage_chart:
            assert window.usage_chart.height() >= window.usage_chart.minimumSizeHint().height()
    window.close()


def test_the_right_column_keeps_its_width_when_its_content_changes(qtbot, data_dir):
    seed_long(data_dir, facts=0)  # no facts yet: the first one changes the memory tab most
    window = open_window(qtbot, data_dir, size=(1366, 740))
    right = window.right
    width = right.width()
    assert width >= right.minimumWidth()
    for index, _page in enumerate(panel_pages(window)):
        show_tab(qtbot, window, index)
        assert right.width() == width
    memory = window.memory_panel
    show_tab(qtbot, window, window.tabs.indexOf(memory))
    memory.key_edit.setText("favourite colour")
    memory.value_edit.setText("a rather long value that goes on and on, far past the panel")
    qtbot.mouseClick(memory.add_button, Qt.MouseButton.LeftButton)
    wait_idle(qtbot, window)
    qtbot.wait(50)
    assert len(memory.facts()) == 1
    assert right.width() == width
    memory.show_message("A long note under the table that says something went wrong with "
                        "saving this fact, in more words than fit on one line of the panel.")
    qtbot.wait(50)
    assert right.width() == width
    window.close()


def test_the_tab_bar_names_every_tab_in_full(qtbot, data_dir):
    seed_long(data_dir)
    window = open_window(qtbot, data_dir, size=(1024, 700))
    # the right column as narrow as it goes
    window.splitter.setSizes([200, 2000, 0])
    qtbot.wait(20)
    assert window.right.width() == window.right.minimumWidth()
    bar = window.tabs.tabBar()
    assert bar.elideMode() == Qt.TextElideMode.ElideNone and not bar.usesScrollButtons()
    fm = bar.fontMetrics()
    for i in range(bar.count()):
        rect = bar.tabRect(i)
        assert bar.rect().contains(rect), bar.tabText(i)
        assert rect.width() >= bar.tabSizeHint(i).width(), bar.tabText(i)
        assert rect.width() > fm.horizontalAdvance(bar.tabText(i)), bar.tabText(i)
    window.close()


def test_the_tokens_column_shows_its_figures_whole(qtbot, data_dir):
    seed_long(data_dir, model="gpt-4o-mini")  # a 128k window: every message is sent
    window = open_window(qtbot, data_dir, size=(1024, 700))
    window.splitter.setSizes([200, 2000, 0])  # the right column as narrow as it goes
    show_tab(qtbot, window, window.tabs.indexOf(window.inspector))

    def figures_whole(view) -> list[str]:
        model = view.model()
        assert model.rowCount() > 5
        assert view.verticalScrollBar().isVisible(), view.accessibleName()
        col = model._columns.index("Tokens")
        need = view.fontMetrics().horizontalAdvance(WIDEST_TOKENS) + cell_padding(view)
        assert view.columnWidth(col) >= need
        figures = []
        for row in range(model.rowCount()):
            index = model.index(row, col)
            cell = view.visualRect(index)  # where it is across the view (scrolled or not)
            text = index.data()
            figures.append(text)
            assert cell.left() >= 0 and cell.right() <= view.viewport().rect().right(), text
            assert view.sizeHintForIndex(index).width() <= cell.width(), text
        return figures

    assert any("," in f for f in figures_whole(window.inspector.sent_view))
    choose_model(qtbot, window, "gpt-4")  # 8,192 tokens: most messages left out
    qtbot.waitUntil(window.inspector.left_out_view.verticalScrollBar().isVisible)
    figures_whole(window.inspector.left_out_view)
    # the figure from the issue, as wide as a cell of this column needs
    view = window.inspector.sent_view
    col = view.model()._columns.index("Tokens")
    assert view.fontMetrics().horizontalAdvance("2,144") + cell_padding(view) \
        <= view.columnWidth(col)
    window.close()


# --- the conversation ----------------------------------------------------------------------

def header_parts_apart(view, index, rect: QRect) -> None:
    """A card's title, hover actions, token tag and badge side by side, none over another
    (a narrow card shows fewer actions)."""
    d = view.delegate
    lay = _Layout(rect, d.header_fm)
    title, tokens_text, badge_text = d.header_texts(index)
    title_rect = QRect(lay.header.left(), lay.header.top(), d.title_fm.horizontalAdvance(title),
                       lay.header.height())
    tokens, badge = lay.right_items(tokens_text, badge_text)
    actions = [r for _a, r in d._action_rects(index.data(MessageRole), lay, tokens.left() - 10)]
    parts = [title_rect, tokens, *([badge] if badge is not None else []), *actions]
    for i, a in enumerate(parts):
        for b in parts[i + 1:]:
            assert not a.intersects(b), (title, a, b, rect.width())


def test_cards_do_not_overlap_after_the_conversation_is_narrowed(qtbot, data_dir):
    seed_session(data_dir, "Chat", conversation(12, words=80))
    window = open_window(qtbot, data_dir, size=(1440, 860))
    window.banner.hide()  # nothing above the list changes height: only its width changes
    qtbot.wait(150)
    view = window.conversation
    sizes = window.splitter.sizes()

    def check() -> None:
        width = view.viewport().width()
        rects = []
        for row in range(view.model().rowCount()):
            index = view.model().index(row)
            rect = view.visualRect(index)
            if rect.intersects(view.viewport().rect()):
                # each card as tall as its text needs at this width
                need = view.sizeHintForIndex(index).height()
                assert rect.height() >= need, (row, width)
                rects.append(rect)
                header_parts_apart(view, index, rect)
        assert len(rects) >= 2
        for a, b in zip(rects, rects[1:], strict=False):
            assert not a.intersects(b), (a, b, width)

    check()
    for centre in (sizes[1] - 250, sizes[1] - 450, sizes[1] - 100):  # narrower, then wider
        height = view.height()
        window.splitter.setSizes([sizes[0], centre, sizes[1] + sizes[2] - centre])
        assert view.height() == height
        check()  # at once: the heights of the last layout, where that layout put them
        # once the resizing pauses, laid out again for the new width
        qtbot.waitUntil(lambda: view.delegate.layout_width == view.viewport().width())
        check()
    window.close()


def test_the_wheel_scrolls_the_column_past_its_sliders(qtbot, data_dir):
    seed_long(data_dir)
    window = open_window(qtbot, data_dir, size=(1024, 700))
    editor = window.profile_editor
    show_tab(qtbot, window, window.tabs.indexOf(editor))
    bar = window.right.verticalScrollBar()
    assert bar.maximum() > 0  # a short window: the column scrolls
    bar.setValue(0)
    slider = editor.sliders["history"]
    value = slider.value()
    centre = slider.rect().center()
    for _ in range(3):
        event = QWheelEvent(QPointF(centre), QPointF(slider.mapToGlobal(centre)), QPoint(0, 0),
                            QPoint(0, -120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(slider, event)
    assert slider.value() == value  # not changed on the way past
    assert bar.value() > 0  # the column scrolled instead
    slider.setFocus()
    qtbot.waitUntil(slider.hasFocus)
    event = QWheelEvent(QPointF(centre), QPointF(slider.mapToGlobal(centre)), QPoint(0, 0),
                        QPoint(0, -120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(slider, event)
    assert slider.value() != value  # with the focus, the wheel moves it
    window.close()


def test_the_drafting_banner_reads_in_lines_not_a_column_at_1024(qtbot, data_dir):
    """With no provider, the banner says so above the conversation. In a narrow centre
    column (1024x700 with both side columns) its button goes under the message, which
    keeps lines of a readable length; in a wide one the button sits beside it."""
    window = open_window(qtbot, data_dir, size=(1024, 700))
    banner, button = window.banner, window.setup_button
    assert banner.isVisible()
    qtbot.wait(20)
    label = banner.label
    assert button.geometry().top() >= label.geometry().bottom()  # under the message
    assert button.geometry().right() <= banner.contentsRect().right()  # to its right
    # the message has the row but for the close button: five lines here, not eight
    close = banner.close_button.width() + banner.row.spacing()
    assert label.width() >= banner.contentsRect().width() - close - 20
    lines = label.height() / label.fontMetrics().lineSpacing()
    assert lines <= 5, lines
    window.resize(1360, 860)
    qtbot.waitUntil(lambda: not banner.buttons_below)
    qtbot.wait(20)
    assert button.geometry().top() < label.geometry().bottom()  # beside it
    assert label.width() >= banner.NARROW_MESSAGE
    window.close()
