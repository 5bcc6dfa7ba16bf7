"""Text that reads in both themes: muted text (the draft's count, the sessions' subtitles,
placeholders) and text on the selection reach WCAG's 4.5:1 against what they are drawn
on, measured in the window's own pixels as well as in the palette."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage, QPalette

from desktop_app.ui.theme import make_palette
from tests.ui_support import open_window, seed_session, wait_idle

READABLE = 4.5  # WCAG 2's least contrast for text (AA)


def luminance(c: QColor) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF())
            + 0.0722 * channel(c.blueF()))


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_contrast(image: QImage, left: int, top: int, right: int, bottom: int,
                  background: QColor) -> float:
    """The contrast of the text drawn in a region: its strongest pixel against the
    ground (a glyph's stems are drawn in the text's full colour; its edges are blends)."""
    return max(contrast(QColor(image.pixel(x, y)), background)
               for x in range(left, right) for y in range(top, bottom))


@pytest.mark.parametrize("dark", [False, True])
def test_the_palette_reads(dark):
    p = make_palette(dark)
    R = QPalette.ColorRole
    assert contrast(p.color(R.Text), p.color(R.Base)) >= 7
    assert contrast(p.color(R.HighlightedText), p.color(R.Highlight)) >= READABLE
    for ground in (R.Base, R.Window):
        assert contrast(p.color(R.PlaceholderText), p.color(ground)) >= READABLE


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_muted_text_and_the_selected_session_read_in_the_window(qtbot, data_dir, theme):
    seed_session(data_dir, "Older trip", [("user", "Where to?"), ("assistant", "Porto.")])
    seed_session(data_dir, "Trip planning", [("user", "Lisbon?"), ("assistant", "Yes.")])
    window = open_window(qtbot, data_dir, theme=theme)
    wait_idle(qtbot, window)
    view = window.session_list.view
    qtbot.waitUntil(lambda: view.model().rowCount() == 2 and view.currentIndex().isValid())
    image = view.viewport().grab().toImage()
    for row in range(2):
        rect = view.visualRect(view.model().index(row, 0))
        selected = view.currentIndex().row() == row
        # the row's own ground: its selection fill, or the list's page
        ground = QColor(image.pixel(rect.left() + 8, rect.center().y()))
        if selected:
            assert ground == window.palette().color(QPalette.ColorRole.Highlight)
        subtitle = (rect.left() + 10, rect.center().y() + 2, rect.right() - 10,
                    rect.bottom() - 2)  # the second line: "2 messages · 17:27"
        assert text_contrast(image, *subtitle, ground) >= READABLE, (theme, row, selected)
    count = window.composer.count_label
    assert count.text() == "0 tokens"
    image = count.grab().toImage()
    ground = QColor(image.pixel(0, 0))
    assert text_contrast(image, 0, 0, image.width(), image.height(), ground) >= READABLE
    window.close()


def test_dialog_buttons_carry_no_stock_icons_that_vanish_in_the_dark(qtbot, data_dir):
    """Qt's stock button icons (Close's black cross) are drawn for a light page: in the
    dark theme they would be all but invisible, so the dialogs' buttons have none. The
    test platform gives buttons no icons; a Linux desktop's does, as this style does."""
    from PySide6.QtWidgets import QAbstractButton, QApplication, QProxyStyle, QStyle

    from desktop_app.core.records import Message
    from desktop_app.ui.window_dialogs import EditMessageDialog

    class IconsOnButtons(QProxyStyle):
        def styleHint(self, hint, option=None, widget=None, returnData=None):
            if hint == QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
                return 1
            return super().styleHint(hint, option, widget, returnData)

    window = open_window(qtbot, data_dir, theme="dark")
    app = QApplication.instance()
    fusion = app.style()
    fusion.setParent(None)  # kept, to be set back: a style replaced while the
    app.setStyle(IconsOnButtons("Fusion"))  # application owns it is deleted
    try:
        window.open_settings()
        window.show_about()
        edit = EditMessageDialog(Message(role="user", content="Hello"), window)
        qtbot.addWidget(edit)
        box = window.conversation.open_link("https://example.com/")
        dialogs = (window.settings_dialog, window.message_box, edit, box)
        for dialog in dialogs:
            buttons = [b for b in dialog.findChildren(QAbstractButton) if b.text()]
            assert buttons, dialog
            for b in buttons:
                assert b.icon().isNull(), (type(dialog).__name__, b.text())
        for dialog in dialogs:
            dialog.close()
    finally:
        app.setStyle(fusion)
        window.set_theme("light")  # the application's palette, for the tests after this
        window.close()
