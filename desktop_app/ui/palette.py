"""Colours for the budget components and the states around them, chosen to read on
light and dark themes alike. A widget asks with its own palette, so a theme switch
(or a dark palette set on one widget) is followed without restarting."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from desktop_app.core.glossary import COMPONENT_LABELS

# The gauge's segments: the profile's components in request order, then the share of
# the window no component was given.
# the components in budget.Component's order (the glossary is their one list; the
# budget module is not imported before the first paint)
GAUGE_ORDER: tuple[str, ...] = (*COMPONENT_LABELS, "free")
LABELS: dict[str, str] = {**COMPONENT_LABELS, "free": "Free", "reply": "Reply"}

# (light theme, dark theme). No component is red: red means "over its share".
_COMPONENT_HEX: dict[str, tuple[str, str]] = {
    "system_prompt": ("#3b6fb6", "#78a5ea"),
    "examples": ("#8a5cb8", "#b896e3"),
    "memory": ("#3c8a4e", "#72c485"),
    "summary": ("#b8890b", "#e3bd4d"),
    "history": ("#23879a", "#5cc4d2"),
    "current_input": ("#d9772b", "#f2a25c"),
    "reply_reserve": ("#66758a", "#9aa8bb"),
    "free": ("#e4e7eb", "#3a4048"),
    "reply": ("#4a5568", "#c3ccd8"),  # a reply's completion tokens (usage chart)
}
_WARNING_HEX = ("#d11f36", "#ff5f6f")
_OK_HEX = ("#2e7d32", "#7bd07f")
_INSERTED_HEX = ("#d5f5dc", "#1f4a2a")
_DELETED_HEX = ("#fbd9dc", "#5a2328")
_FALLBACK_HEX = ("#8a8f98", "#9aa0a8")


def _pick(pair: tuple[str, str], dark: bool) -> QColor:
    return QColor(pair[1] if dark else pair[0])


def is_dark(source: QWidget | QPalette | None = None) -> bool:
    """Does this widget (or palette, or the application) draw on a dark background?"""
    if isinstance(source, QWidget):
        palette = source.palette()
    elif isinstance(source, QPalette):
        palette = source
    else:
        palette = QApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def component_color(component: str, dark: bool) -> QColor:
    """The solid colour of a component (used tokens)."""
    return _pick(_COMPONENT_HEX.get(component, _FALLBACK_HEX), dark)


def blend(color: QColor, background: QColor, amount: float) -> QColor:
    """`amount` of `color` over `background`, as an opaque colour (cheap to paint and
    stable to test pixel by pixel)."""
    a = max(0.0, min(1.0, amount))
    return QColor.fromRgbF(
        color.redF() * a + background.redF() * (1 - a),
        color.greenF() * a + background.greenF() * (1 - a),
        color.blueF() * a + background.blueF() * (1 - a),
    )


def allocation_color(component: str, dark: bool, background: QColor) -> QColor:
    """The light tint that marks a component's budget (its allocated extent)."""
    if component == "free":
        return component_color("free", dark)
    return blend(component_color(component, dark), background, 0.30 if dark else 0.22)


def warning_color(dark: bool) -> QColor:
    """Over budget, does not fit: the one red in the app."""
    return _pick(_WARNING_HEX, dark)


def ok_color(dark: bool) -> QColor:
    return _pick(_OK_HEX, dark)


def inserted_color(dark: bool) -> QColor:
    """Background of words a variant adds (word diff)."""
    return _pick(_INSERTED_HEX, dark)


def deleted_color(dark: bool) -> QColor:
    """Background of words a variant removes (word diff)."""
    return _pick(_DELETED_HEX, dark)


def heat_color(level: float, dark: bool, background: QColor) -> QColor:
    """Heatmap colour for a level in [0, 1]: from a faint warm tint to a strong one."""
    level = max(0.0, min(1.0, level))
    hot = QColor("#ff7a00") if dark else QColor("#ff6a00")
    return blend(hot, background, 0.10 + 0.45 * level)


def chip_border(dark: bool) -> QColor:
    """A hairline around light colours so a chip or segment never melts into the page."""
    return QColor(255, 255, 255, 60) if dark else QColor(0, 0, 0, 45)
