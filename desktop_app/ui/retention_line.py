"""What the summary or the memory keeps of the facts in the messages left out, as the
last fold measured it (services.folding.measure_retention): "Keeps 23 of 24 facts from
the 92 messages left out". Below core.facts.RETENTION_WARNING it turns to a warning,
names the facts lost, and offers to give that part a larger share of the window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from desktop_app.core.facts import RETENTION_WARNING
from desktop_app.ui.context_panel import plain_tooltip
from desktop_app.ui.palette import blend, is_dark, warning_color
from desktop_app.ui.theme import set_style_sheet

_NAMES = {"memory": "memory", "summary": "summary"}


def retention_text(figure: Mapping[str, Any] | None) -> str:
    """One line for a measured figure, or "" when there is none."""
    if not figure:
        return ""
    kept, total = int(figure.get("kept", 0)), int(figure.get("total", 0))
    messages = int(figure.get("messages", 0))
    if not total:
        return "No facts to keep in the messages left out."
    source = f"the {messages:,} message{'s' if messages != 1 else ''} left out" if messages \
        else "the messages left out"
    return f"Keeps {kept} of {total} facts from {source}."


def is_low(figure: Mapping[str, Any] | None) -> bool:
    if not figure or not figure.get("total"):
        return False
    return float(figure.get("kept", 0)) / float(figure["total"]) < RETENTION_WARNING


class RetentionLine(QWidget):
    raiseRequested = Signal(str)  # "memory" or "summary": give it a larger share

    def __init__(self, component: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.component = component
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setAccessibleName(f"{_NAMES[component].capitalize()} retention")
        self.button = QPushButton(f"Give the {_NAMES[component]} more room")
        self.button.setToolTip(f"Move {5}% of the window from history to the "
                               f"{_NAMES[component]} (a custom profile for this session)")
        self.button.clicked.connect(lambda: self.raiseRequested.emit(self.component))
        self.button.hide()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button, 0, Qt.AlignmentFlag.AlignTop)
        self.set_figure(None)

    def set_figure(self, figure: Mapping[str, Any] | None) -> None:
        text = retention_text(figure)
        low = is_low(figure)
        self.label.setText(text)
        self.setVisible(bool(text))
        self.button.setVisible(low)
        lost = list((figure or {}).get("lost") or [])
        tip = ("Lost: " + "; ".join(str(x) for x in lost[:10])) if lost else ""
        self.label.setToolTip(plain_tooltip(tip) if tip else "")
        dark = is_dark(self)
        color = warning_color(dark) if low else blend(
            self.palette().color(self.foregroundRole()),
            self.palette().color(self.backgroundRole()), 0.7)
        set_style_sheet(self.label, f"color: {color.name()};")

    def text(self) -> str:
        return self.label.text()
