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
from PySide6.QtCore import QObject, QPoint, QRect, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QFont, QImage, QPainter
from PySide6.QtWidgets import QMessageBox, QStyleOptionViewItem, QWidget

from desktop_app.core.records import Message
from desktop_app.ui.conversation import ConversationView
from desktop_app.ui.inspector import ContextInspector
from desktop_app.ui.markdown import link_target, openable_link
from desktop_app.ui.message_card import _Layout, link_tooltip
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
    view.show_all()  # the cards are laid out a slice at a time: all of them, now
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
    assert f"[image: a picture — {fifo.path}]" in shown
    assert "[image: /dev/zero]" in shown
    assert f"[image: r — {fifo.path}]" in shown
    assert f"<img src='{fifo.path}'>" in shown
    assert second.strip() == f"[image: {fifo.path}]"


def test_image_alt_text_is_shown_plain_bounded_and_revealed(view):
    long_alt, long_target = "A" * 300, "/p/" + "b" * 300 + ".png"
    _show(view, "See ![a *bold* <b>claim</b>](/dev/zero \"title\") now",
          "![gnp\u202eexe &#x202E;png\u200b](/x\u202e/y.png)",
          f"![{long_alt}]({long_target})")
    _, first = _measure_and_paint(view, 0)
    _, second = _measure_and_paint(view, 1)
    _, third = _measure_and_paint(view, 2)
    assert "[image: a bold <b>claim</b> — /dev/zero]" in first
    # (Qt splits an alt text at a character reference: shown as two images)
    assert second.strip() == ("[image: gnp⟨U+202E⟩exe — /x⟨U+202E⟩/y.png]⟨U+202E⟩"
                              "[image: png⟨U+200B⟩ — /x⟨U+202E⟩/y.png]")
    assert "\u202e" not in second and "\u200b" not in second
    alt, target = third.strip().removeprefix("[image: ").removesuffix("]").split(" — ")
    assert len(alt) == len(target) == 200
    assert alt == "A" * 199 + "…" and target == long_target[:199] + "…"


def test_character_references_cannot_write_controls(view):
    _show(view, "*open* gnp&#x202E;exe.png &#8203;x &lrm;y &#xFEFF;z")
    _, shown = _measure_and_paint(view)
    assert "gnp⟨U+202E⟩exe.png ⟨U+200B⟩x ⟨U+200E⟩y ⟨U+FEFF⟩z" in shown
    for control in "\u202e\u200b\u200e\ufeff":
        assert control not in shown


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


@pytest.mark.parametrize(("href", "opens"), [
    ("https://example.com/a?b=1#c", "https://example.com/a?b=1#c"),
    ("HTTP://Example.com/", "http://example.com/"),
    ("https://exämple.com/ä", "https://xn--exmple-cua.com/%C3%A4"),  # shown as opened
    ("mailto:someone@example.com", "mailto:someone@example.com"),
    ("file:///dev/zero", None), ("FILE:/etc/passwd", None), ("javascript:alert(1)", None),
    ("JavaScript:alert(1)", None), ("data:text/html,%3Cb%3Ex", None), ("foo:bar", None),
    ("ms-settings:privacy", None), ("notes/readme.md", None), ("/etc/passwd", None),
    ("//example.com/x", None), ("#top", None), ("", None), ("http:/nohost", None),
    ("mailto:", None), ("https://a\u202eb.com/", None), ("http://e.com/" + "a" * 3000, None),
])
def test_only_web_and_mail_links_may_open(href, opens):
    url = openable_link(href)
    assert (None if url is None else link_target(url)) == opens


class _Opened(QObject):
    """Stands in for the browser and mail app: records each URL Qt would open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString(QUrl.ComponentFormattingOption.FullyEncoded))


_SCHEMES = ("http", "https", "mailto", "file", "javascript", "data", "foo", "ms-settings", "")


@pytest.fixture
def opened():
    handler = _Opened()
    for scheme in _SCHEMES:
        QDesktopServices.setUrlHandler(scheme, handler, "open")
    yield handler
    for scheme in _SCHEMES:
        QDesktopServices.unsetUrlHandler(scheme)


_LINKS = {
    "web": "https://example.com/a?b=1",
    "mail": "mailto:someone@example.com",
    "file": "file:///dev/zero",
    "script": "javascript:alert(1)",
    "data": "data:text/html,%3Cb%3Ex",
    "custom": "ms-settings:privacy",
    "relative": "notes/readme.md",
}


def _link_points(view: ConversationView, row: int = 0) -> dict[str, QPoint]:
    """Where (viewport coordinates) each link in the card at `row` is, by its target."""
    index = view.conversation.index(row)
    rect = view.visualRect(index)
    doc = view.delegate._document(view.conversation.messages[row], rect.width(), view.palette())
    lay = _Layout(rect, view.delegate.header_fm)
    points: dict[str, QPoint] = {}
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            href = frag.charFormat().anchorHref()
            if href and href not in points:
                at = frag.position() - block.position() + 1  # a character in
                line = block.layout().lineForTextPosition(at)
                x = line.cursorToX(at)
                x = x[0] if isinstance(x, tuple) else x
                y = (doc.documentLayout().blockBoundingRect(block).top() + line.y()
                     + line.height() / 2)
                points[href] = QPoint(lay.body_left + int(x), lay.body_top + int(y))
            it += 1
        block = block.next()
    return points


def _click(view, qtbot, point: QPoint) -> None:
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_links_open_only_on_the_web_or_in_mail_and_only_when_confirmed(view, qtbot, opened):
    text = "\n\n".join(f"[{name}]({href})" for name, href in _LINKS.items())
    _show(view, text + "\n\n<file:///etc/passwd>")
    index = view.conversation.index(0)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0)
    points = _link_points(view)
    assert set(points) == {*_LINKS.values(), "file:///etc/passwd"}
    for href, point in points.items():
        if href not in (_LINKS["web"], _LINKS["mail"]):
            _click(view, qtbot, point)
            assert view.link_box is None, href  # not even asked
    qtbot.wait(20)
    assert opened.urls == []

    # a web link: asked first, its full target shown as plain text; Cancel opens nothing
    _click(view, qtbot, points[_LINKS["web"]])
    box = view.link_box
    assert box is not None and box.isVisible()
    assert box.textFormat() == Qt.TextFormat.PlainText
    assert _LINKS["web"] in box.text() and "browser" in box.text()
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: view.link_box is None)
    assert opened.urls == []
    # ... and Open opens it, once
    _click(view, qtbot, points[_LINKS["web"]])
    box = view.link_box
    next(b for b in box.buttons() if b.text() == "Open link").click()
    qtbot.waitUntil(lambda: view.link_box is None)
    assert opened.urls == [_LINKS["web"]]
    # a mail link: the same, in the mail app
    _click(view, qtbot, points[_LINKS["mail"]])
    box = view.link_box
    assert _LINKS["mail"] in box.text() and "e-mail" in box.text()
    next(b for b in box.buttons() if b.text() == "Write e-mail").click()
    qtbot.waitUntil(lambda: view.link_box is None)
    assert opened.urls == [_LINKS["web"], _LINKS["mail"]]


def test_a_link_shows_its_target_before_a_click(view, qtbot):
    _show(view, f"[harmless]({_LINKS['web']})\n\n[report.pdf]({_LINKS['file']})\n\n"
                "[x](https://e.com/<b>x</b>\u202e)")
    index = view.conversation.index(0)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 0)
    points = _link_points(view)
    option = QStyleOptionViewItem()
    option.initFrom(view.viewport())
    option.rect = view.visualRect(index)
    web = view.delegate.link_at(option, index, points[_LINKS["web"]])
    assert web == _LINKS["web"]
    assert _LINKS["web"] in link_tooltip(web) and "asks first" in link_tooltip(web)
    local = view.delegate.link_at(option, index, points[_LINKS["file"]])
    assert local == _LINKS["file"]
    assert _LINKS["file"] in link_tooltip(local) and "Not opened" in link_tooltip(local)
    tip = link_tooltip("https://e.com/<b>x</b>\u202e")
    assert "<b>x" not in tip and "\u202e" not in tip
    assert "&lt;b&gt;x&lt;/b&gt;⟨U+202E⟩" in tip  # not openable (an invalid URL), so as written
    # the pointer: a hand over a link that can open, not over one that cannot
    qtbot.mouseMove(view.viewport(), points[_LINKS["web"]])
    qtbot.waitUntil(lambda: view.viewport().cursor().shape() == Qt.CursorShape.PointingHandCursor)
    qtbot.mouseMove(view.viewport(), points[_LINKS["file"]])
    qtbot.waitUntil(lambda: view.viewport().cursor().shape() == Qt.CursorShape.ArrowCursor)


def test_inspector_labels_show_text_literally(qtbot):
    from dataclasses import replace

    from tests.test_ui_widgets_panels import assembled

    req, messages, model = assembled()
    req = replace(req, warnings=[HOSTILE], fits=False, problem=HOSTILE)
    inspector = ContextInspector()
    qtbot.addWidget(inspector)
    inspector.set_request(req, messages, model.encoding)
    totals = inspector._totals
    assert totals.textFormat() == Qt.TextFormat.PlainText
    assert totals.font().weight() >= QFont.Weight.DemiBold
    assert "<b>" not in inspector.totals_text()
    assert inspector.totals_text().startswith(f"{req.tokens:,} prompt tokens")
    for label in (totals, inspector._status, inspector._warnings, inspector._detail_title):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert inspector._status.text() == HOSTILE
    assert inspector._warnings.text() == f"• {HOSTILE}"
    inspector.grab()


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
    "word ", "مرحبا ", "日本語", "&#x202E;", "&#8203;", "&lrm;", "www.e.com ", "http://e/ ",
    "![alt *x*](", "](javascript:alert(1))", "](file:///dev/zero)", "](data:,x)", "](foo:x)",
])
_RUNS = st.builds(lambda c, n: c * n, st.sampled_from(["x", "|", "*", "`", "-", " ", "\u202e"]),
                  st.integers(1, 5000))
_TARGETS = st.one_of(
    st.sampled_from([
        "/dev/zero", "file:///dev/zero", "javascript:alert(1)", "data:text/html,%3Cb%3E",
        "ms-settings:privacy", "foo:bar", "notes/x.md", "//e.com/x", "#top", "mailto:a@b.c",
        "https://e.com/a?b=1", "http://exämple.com/\u202e", "<b>x</b>", "&#x202E;", "",
    ]),
    st.text(max_size=60),
)
_ALT = st.one_of(st.sampled_from(["", " ", "a *b* `c`", "&#x202E;x", "\u202eexe.png", "A" * 400]),
                 st.text(max_size=300))
_IMAGES = st.builds(lambda alt, target: f"![{alt}]({target})", _ALT, _TARGETS)
_LINKS_FUZZ = st.builds(lambda label, target: f"[{label}]({target})", _ALT, _TARGETS)
_AUTOLINKS = st.builds(lambda target: f"<{target}>", _TARGETS)
_TEXT = st.lists(st.one_of(_PIECES, _RUNS, st.text(max_size=40), _IMAGES, _LINKS_FUZZ,
                           _AUTOLINKS), max_size=60).map("".join)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=_TEXT)
def test_fuzz_rendering_is_safe_and_bounded(view, text):
    elapsed, shown = _timed(view, text)
    assert elapsed < 0.1, (elapsed, len(text))
    assert "\u202e" not in shown and "\u200b" not in shown
