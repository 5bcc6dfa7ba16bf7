"""Message text is untrusted (imported files, model replies): rendering it loads no
file, shows HTML and controls as text, and stays bounded in time; the window's bars
show what they are given as plain text."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem, QWidget

from desktop_app.core.records import Message
from desktop_app.ui.conversation import ConversationView
from desktop_app.ui.message_card import _Layout
from desktop_app.ui.window_bars import Bar, Snackbar
from desktop_app.ui.window_centre import CentreColumn
from desktop_app.ui.window_dialogs import about_html

HOSTILE = "<img src=/dev/zero> <b>x</b>"


@pytest.fixture
def view(qtbot):
    v = ConversationView()
    qtbot.addWidget(v)
    v.resize(800, 600)
    v.show()
    qtbot.waitExposed(v)
    return v


def _show(view: ConversationView, *texts: str) -> list[Message]:
    messages = [Message("assistant", t) for t in texts]
    view.show_messages(messages, has_more=False)
    return messages


def _measure_and_paint(view: ConversationView, row: int = 0) -> tuple[float, str]:
    """sizeHint + a paint into a QImage of the card at `row`: seconds, and its text."""
    delegate = view.delegate
    index = view.conversation.index(row)
    option = QStyleOptionViewItem()
    option.initFrom(view.viewport())
    start = time.perf_counter()
    size = delegate.sizeHint(option, index)
    option.rect = QRect(0, 0, size.width(), min(size.height(), 2000))
    image = QImage(size.width(), option.rect.height(), QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    delegate.paint(painter, option, index)
    painter.end()
    elapsed = time.perf_counter() - start
    m = view.conversation.messages[row]
    doc = delegate._document(m, size.width(), option.palette)
    return elapsed, doc.toPlainText()


_WATCHER = """
import errno, os, sys, time
fifo, seen, stop = sys.argv[1:]
while not os.path.exists(stop):
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as e:
        if e.errno != errno.ENXIO:  # ENXIO: nobody reads
            raise
        time.sleep(0.002)
        continue
    open(seen, "w").close()
    os.close(fd)  # the reader sees end of file
    time.sleep(0.002)
"""


class _FifoWatch:
    """A FIFO that records whether anyone opened it for reading, and then lets them go
    (a process of its own: a reader blocked in Qt may hold the GIL)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self._seen = path.with_suffix(".seen")
        self._stop = path.with_suffix(".stop")
        self._child = subprocess.Popen(
            [sys.executable, "-B", "-c", _WATCHER, str(path), str(self._seen), str(self._stop)])

    @property
    def opened(self) -> bool:
        return self._seen.exists()

    def stop(self) -> None:
        self._stop.touch()
        self._child.wait(5)


def test_images_are_never_loaded_and_show_a_placeholder(view, qtbot, tmp_path):
    fifo = _FifoWatch(tmp_path / "pic.png")
    try:
        text = (f"Look: ![a picture]({fifo.path}) and ![](/dev/zero) and ![r][ref] "
                f"and <img src='{fifo.path}'>\n\n[ref]: {fifo.path}\n")
        _show(view, text, f"![]({fifo.path})")
        elapsed, shown = _measure_and_paint(view, 0)
        _, second = _measure_and_paint(view, 1)
        view.viewport().grab()  # the real paint path too
        qtbot.wait(50)
        assert not fifo.opened
    finally:
        fifo.stop()
    assert f"[image: {fifo.path}]" in shown
    assert "[image: /dev/zero]" in shown
    assert f"<img src='{fifo.path}'>" in shown
    assert second.strip() == f"[image: {fifo.path}]"


def test_html_and_comments_are_shown_as_text(view):
    _show(view, "a <b>bold</b> claim <!-- hidden note --> *and* `code`\n\n<div>block</div>")
    _, shown = _measure_and_paint(view)
    assert "<b>bold</b>" in shown
    assert "<!-- hidden note -->" in shown
    assert "<div>block</div>" in shown


def test_bidi_and_zero_width_controls_are_made_visible(view):
    _show(view, "open gnp\u202eexe.png now, *or* a\u200bb\ufeffc \u2066x\u2069 \u200f")
    _, shown = _measure_and_paint(view)
    assert "gnp⟨U+202E⟩exe.png" in shown
    for code in ("200B", "FEFF", "2066", "2069", "200F"):
        assert f"⟨U+{code}⟩" in shown
    assert "\u202e" not in shown and "\u200b" not in shown


def test_links_to_local_files_are_not_followed(view):
    _show(view, "[x](file:///dev/zero) <file:///dev/zero>")
    elapsed, shown = _measure_and_paint(view)
    assert "x" in shown and elapsed < 0.5


def test_bars_show_text_literally(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    error = Bar("ErrorBar", parent)
    error.show_text(HOSTILE)
    snackbar = Snackbar(parent)
    snackbar.flash(HOSTILE)
    centre = CentreColumn()
    qtbot.addWidget(centre)
    centre.show_notice(HOSTILE)
    for label in (error.label, snackbar.label, centre.notice):
        assert label.textFormat() == Qt.TextFormat.PlainText
        assert label.text() == HOSTILE
        label.grab()


def test_about_box_escapes_the_data_path():
    html = about_html("/data/<img src=/dev/zero>&<b>x</b>")
    assert "<img" not in html and "<b>x</b>" not in html
    assert "&lt;img src=/dev/zero&gt;&amp;&lt;b&gt;x&lt;/b&gt;" in html


def _timed(view, text: str) -> tuple[float, str]:
    _show(view, text)
    view.delegate.reset_caches()
    return _measure_and_paint(view)


def test_a_megabyte_line_is_measured_and_painted_quickly(view, qtbot):
    text = "x" * (1 << 20)
    elapsed, shown = _timed(view, text)
    assert elapsed < 0.1
    assert 0 < len(shown) < 10_000
    # Show all: more of it, as plain text, still bounded
    index = view.conversation.index(0)
    option = QStyleOptionViewItem()
    option.initFrom(view.viewport())
    option.rect = view.visualRect(index)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0)
    option.rect = view.visualRect(index)
    m = view.conversation.messages[0]
    doc = view.delegate._document(m, option.rect.width(), option.palette)
    assert doc.collapsed
    button = view.delegate._more_rects(_Layout(option.rect, view.delegate.header_fm), doc)[1]
    assert button is not None
    assert view.delegate.hit(option, index, button.center()) == "show_all"
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=button.center())
    assert view.delegate._key(m) in view.delegate.expanded
    start = time.perf_counter()
    elapsed2, shown2 = _measure_and_paint(view)
    assert time.perf_counter() - start < 0.2 and elapsed2 < 0.1
    assert len(shown) < len(shown2) < len(text)


def test_a_2000_row_table_is_measured_and_painted_quickly(view):
    table = "| n | value |\n|---|---|\n" + "".join(f"| {i} | v{i} |\n" for i in range(2000))
    elapsed, shown = _timed(view, table)
    assert elapsed < 0.1
    assert shown.startswith("| n | value |")


def test_ordinary_markdown_is_still_rendered(view):
    _show(view, "# Title\n\n- **one**\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    _, shown = _measure_and_paint(view)
    assert "**" not in shown and "one" in shown and "Title" in shown
    assert not view.delegate._document(view.conversation.messages[0], 800,
                                       view.palette()).cut


_PIECES = st.sampled_from([
    "# ", "## ", "- ", "1. ", "> ", "```\n", "`", "*", "**", "_", "~~", "|", "| a | b |\n",
    "|---|---|\n", "[x](", "](http://e/)", "![", "![](/dev/zero)", "<b>", "</b>", "<!--",
    "-->", "<img src=/dev/zero>", "<div>", "&amp;", "\n", "\n\n", "    ", "\t", "\\",
    "\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200d", "\u2060", "\ufeff", "\u200e",
    "word ", "مرحبا ", "日本語",
])
_RUNS = st.builds(lambda c, n: c * n, st.sampled_from(["x", "|", "*", "`", "-", " ", "\u202e"]),
                  st.integers(1, 5000))
_TEXT = st.lists(st.one_of(_PIECES, _RUNS, st.text(max_size=40)), max_size=60).map("".join)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=_TEXT)
def test_fuzz_rendering_is_safe_and_bounded(view, text):
    elapsed, shown = _timed(view, text)
    assert elapsed < 0.1, (elapsed, len(text))
    assert "\u202e" not in shown and "\u200b" not in shown
