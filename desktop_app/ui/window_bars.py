"""The window's message strips: a rounded bar with a message, optional buttons and a
close button, tinted by its kind (the drafting-mode banner, the error bar), and the
snackbar that floats at the bottom for a few seconds with an Undo button."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop_app.core.text import reveal_controls
from desktop_app.ui.palette import blend, is_dark, warning_color

UNDO_SECONDS = 8


class Bar(QFrame):
    """A rounded strip with a message, optional buttons and a close button, tinted by
    its kind: "Banner" (information), "ErrorBar" or "Snackbar". Where the buttons would
    leave the message less than `NARROW_MESSAGE` pixels of a line (a narrow conversation
    column), they go under it instead, to its right: the message is read in lines of a
    readable length, not squeezed into a column beside them."""

    NARROW_MESSAGE = 320
    STACKS = True

    def __init__(self, name: str, parent: QWidget | None = None, closable: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.kind = name
        self.label = QLabel()
        # messages come from files, servers and models: shown as they are, never as HTML
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons: list[QPushButton] = []
        self.buttons_below = False
        column = QVBoxLayout(self)
        column.setContentsMargins(12, 8, 8, 8)
        column.setSpacing(6)
        self.row = QHBoxLayout()
        self.row.setSpacing(8)
        self.row.addWidget(self.label, 1)
        self.below = QHBoxLayout()
        self.below.setSpacing(8)
        self.below.addStretch(1)
        column.addLayout(self.row)
        column.addLayout(self.below)
        if closable:
            close = QPushButton("✕")
            close.setFlat(True)
            close.setFixedWidth(28)
            close.setAccessibleName("Dismiss")
            close.setToolTip("Dismiss")
            close.clicked.connect(self.hide)
            self.close_button = close
            self.row.addWidget(close)
        self.hide()

    def add_button(self, text: str, accessible: str) -> QPushButton:
        b = QPushButton(text)
        b.setAccessibleName(accessible)
        self.buttons.append(b)
        self._put(b)
        self._place_buttons()
        return b

    def _put(self, button: QPushButton) -> None:
        """The button in its place: under the message, or beside it before the close."""
        if self.buttons_below:
            self.below.addWidget(button)
        else:
            close = 1 if hasattr(self, "close_button") else 0
            self.row.insertWidget(self.row.count() - close, button)

    def _place_buttons(self) -> None:
        if not self.STACKS or not self.buttons:
            return
        margins = self.layout().contentsMargins()
        beside = sum(b.sizeHint().width() + self.row.spacing() for b in self.buttons)
        if hasattr(self, "close_button"):
            beside += self.close_button.width() + self.row.spacing()
        room = self.width() - margins.left() - margins.right() - beside
        below = room < self.NARROW_MESSAGE
        if below == self.buttons_below:
            return
        for b in self.buttons:
            (self.below if self.buttons_below else self.row).removeWidget(b)
        self.buttons_below = below
        for b in self.buttons:
            self._put(b)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._place_buttons()

    def show_text(self, text: str) -> None:
        self.label.setText(reveal_controls(text))  # it may quote a file or a server
        self.show()

    def _colors(self) -> tuple[QColor, QColor | None]:
        pal = self.palette()
        dark = is_dark(pal)
        base = pal.color(QPalette.ColorRole.Base)
        if self.kind == "Snackbar":
            return QColor("#e9ecf0" if dark else "#2a2e35"), None
        tint = (warning_color(dark) if self.kind == "ErrorBar"
                else pal.color(QPalette.ColorRole.Highlight))
        fill = blend(tint, base, (0.20 if dark else 0.09) if self.kind == "ErrorBar"
                     else (0.14 if dark else 0.08))
        return fill, blend(tint, base, 0.4)

    def paintEvent(self, event: Any) -> None:
        fill, border = self._colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(border, 1) if border is not None else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)


class Snackbar(Bar):
    """'Session deleted — Undo' for a few seconds, floating at the bottom."""

    STACKS = False  # sized to its message: never narrower than the message and Undo

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Snackbar", parent, closable=False)
        self.undo_button = self.add_button("Undo", "Undo")
        self.undo_button.setFlat(True)
        self._apply_text_colors()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.undo_button.clicked.connect(self.hide)

    def _apply_text_colors(self) -> None:
        dark = is_dark(self.palette())
        pal = self.label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor("#15171a" if dark else "#f4f5f7"))
        self.label.setPalette(pal)
        pal = self.undo_button.palette()
        pal.setColor(QPalette.ColorRole.ButtonText, QColor("#2f6fd0" if dark else "#8fb8ff"))
        self.undo_button.setPalette(pal)

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_text_colors()

    def flash(self, text: str, seconds: int = UNDO_SECONDS) -> None:
        self.label.setText(text)
        self.adjustSize()
        self.reposition()
        self.show()
        self.raise_()
        self._timer.start(seconds * 1000)

    def reposition(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        w = min(max(self.sizeHint().width(), 320), parent.width() - 40)
        self.resize(w, self.sizeHint().height())
        self.move((parent.width() - w) // 2, parent.height() - self.height() - 110)
