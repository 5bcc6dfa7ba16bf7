"""Light and dark themes: follow the system, or force one. On Windows and macOS the
native style follows the colour scheme Qt is told; elsewhere (and with a style that
cannot draw dark) Fusion with our own palette keeps every widget legible. No style
sheet: the few custom areas paint themselves from the palette (style sheets slow down
the creation and painting of every widget)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
)

from desktop_app.ui.palette import blend

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStyleOption, QWidget

W = TypeVar("W", bound="QWidget")

THEMES = ("system", "light", "dark")
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def system_prefers_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


MUTED_TEXT = 0.65  # how much of the text colour muted text keeps over the page


def make_palette(dark: bool) -> QPalette:
    p = QPalette()
    if dark:
        window, base, alt, text = "#1f2227", "#181a1e", "#24282e", "#e6e8eb"
        # the highlight as dark as the light theme's: white on it reads at 4.9:1
        button, highlight, link, mid = "#2b2f36", "#2f6fd0", "#78a5ea", "#3a4048"
    else:
        window, base, alt, text = "#f4f5f7", "#ffffff", "#f7f8fa", "#1d2025"
        button, highlight, link, mid = "#eceef1", "#2f6fd0", "#2f6fd0", "#c9ced6"
    R, G = QPalette.ColorRole, QPalette.ColorGroup
    p.setColor(R.Window, QColor(window))
    p.setColor(R.WindowText, QColor(text))
    p.setColor(R.Base, QColor(base))
    p.setColor(R.AlternateBase, QColor(alt))
    p.setColor(R.Text, QColor(text))
    p.setColor(R.Button, QColor(button))
    p.setColor(R.ButtonText, QColor(text))
    p.setColor(R.BrightText, QColor("#ffffff"))
    p.setColor(R.Highlight, QColor(highlight))
    p.setColor(R.HighlightedText, QColor("#ffffff"))
    p.setColor(R.Link, QColor(link))
    p.setColor(R.ToolTipBase, QColor(base if dark else "#ffffe8"))
    p.setColor(R.ToolTipText, QColor(text))
    # muted text (placeholders, and the labels `mute` greys: counts, notes) still reads at
    # 4.5:1 or more on the page and the fields
    p.setColor(R.PlaceholderText, blend(QColor(text), QColor(base), MUTED_TEXT))
    p.setColor(R.Mid, QColor(mid))
    p.setColor(R.Midlight, blend(QColor(mid), QColor(base), 0.5))
    p.setColor(R.Dark, QColor("#101215" if dark else "#a0a6b0"))
    p.setColor(R.Light, QColor("#3a3f47" if dark else "#ffffff"))
    p.setColor(R.Shadow, QColor("#000000"))
    muted = blend(QColor(text), QColor(window), 0.45)
    for role in (R.WindowText, R.Text, R.ButtonText):
        p.setColor(G.Disabled, role, muted)
    return p


def indicator_outline(palette: QPalette) -> QColor:
    """The edge of a check box or radio button: Fusion draws it a shade darker than the
    window, which on a dark page leaves an unchecked box all but invisible."""
    text = palette.color(QPalette.ColorRole.Text)
    base = palette.color(QPalette.ColorRole.Base)
    enabled = palette.currentColorGroup() != QPalette.ColorGroup.Disabled
    return blend(text, base, 0.55 if enabled else 0.3)


class LegibleFusion(QProxyStyle):
    """Fusion, with check boxes and radio buttons outlined so they show on a dark page
    (a light page keeps Fusion's own edge). Given only to the widgets that draw check
    boxes or radio buttons, menus of checkable actions among them (see `legible`): a
    style written in Python is called from C++ for every primitive of every widget it
    paints (a table's every cell, a scroll bar's every part), and each call takes the
    GIL, waiting for it while a worker runs."""

    _OUTLINED = (QStyle.PrimitiveElement.PE_IndicatorCheckBox,
                 QStyle.PrimitiveElement.PE_IndicatorRadioButton)

    def __init__(self) -> None:
        super().__init__("Fusion")

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,
                      painter: QPainter, widget: QWidget | None = None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        # every primitive of the widget comes through here: the element is looked at
        # first, and nothing else is done for the others
        if element not in self._OUTLINED:
            return
        pal = option.palette  # type: ignore[attr-defined]
        if pal.color(QPalette.ColorRole.Window).lightnessF() >= 0.5:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(indicator_outline(pal), 1.0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        rect = QRectF(option.rect).adjusted(0.5, 0.5, -0.5, -0.5)  # type: ignore[attr-defined]
        if element == QStyle.PrimitiveElement.PE_IndicatorRadioButton:
            painter.drawEllipse(rect)
        else:
            painter.drawRoundedRect(rect, 1.5, 1.5)
        painter.restore()


def set_style_sheet(widget: QWidget, sheet: str) -> None:
    """Give `widget` this style sheet, unless it has it already: setting one polishes the
    widget again and asks its layout to run, and the labels coloured this way are set
    again at every preview, mostly to the colour they have."""
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)


_style: QStyle | None = None  # the application's Fusion, once set
_legible: LegibleFusion | None = None  # the check boxes' (see legible)


def legible(widget: W) -> W:
    """Outline the check boxes and radio buttons `widget` draws (a QCheckBox, a view of
    checkable items, a menu of checkable actions), so they show on a dark page, where
    the window is drawn with Fusion (a native style draws its own)."""
    global _legible
    style = QApplication.style()
    if style is not None and style.name().lower() == "fusion":
        if _legible is None:
            _legible = LegibleFusion()
        widget.setStyle(_legible)
    return widget


def plain_buttons(box: QWidget) -> None:
    """No icons on a dialog's buttons. Where the window is drawn with Fusion (Linux),
    Qt gives a dialog's stock buttons stock icons, drawn for a light page: Close's black
    cross all but vanishes on a dark one. No other button of the window has an icon."""
    for button in box.findChildren(QAbstractButton):
        button.setIcon(QIcon())


def resolve_dark(theme: str) -> bool:
    if theme == "dark":
        return True
    if theme == "light":
        return False
    return system_prefers_dark()


def apply_theme(app: QApplication, theme: str) -> bool:
    """Apply `theme` ("system", "light" or "dark"); returns whether it is dark."""
    if theme not in THEMES:
        theme = "system"
    dark = resolve_dark(theme)
    native = sys.platform in ("darwin", "win32") and app.style().name().lower() != "windowsvista"
    if native:
        scheme = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light,
                  "dark": Qt.ColorScheme.Dark}[theme]
        QGuiApplication.styleHints().setColorScheme(scheme)
        app.setPalette(app.style().standardPalette())
    else:
        global _style
        if _style is None or app.style() is not _style:
            _style = QStyleFactory.create("Fusion")
            app.setStyle(_style)
        app.setPalette(make_palette(dark))
    return dark


def mute(widget: QWidget) -> QWidget:
    """Draw a label's text in the theme's muted colour (it follows theme changes)."""
    widget.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return widget


def rule_color(p: QPalette) -> QColor:
    """The hairline between areas of the window."""
    return blend(p.color(QPalette.ColorRole.Text), p.color(QPalette.ColorRole.Window), 0.14)


def paint_top_rule(widget: QWidget) -> None:
    painter = QPainter(widget)
    painter.setPen(rule_color(widget.palette()))
    painter.drawLine(0, 0, widget.width(), 0)
