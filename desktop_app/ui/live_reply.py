"""The live reply: the area under the conversation where a reply streams in, as plain
text appended per batch of chunks, until it is stored and shown as a card."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPalette, QTextCursor
from PySide6.QtWidgets import QFrame, QLabel, QPlainTextEdit, QSizePolicy, QVBoxLayout, QWidget

from desktop_app.ui.theme import paint_top_rule


class LiveReply(QFrame):
    """Where a reply streams in, below the list: text is appended per batch of chunks,
    so the list is never laid out again while streaming. It opens a few lines high and
    grows once, to a dozen lines, then scrolls: each new height shrinks the list above,
    which then paints all its cards again (several milliseconds), so the height changes
    twice a reply rather than with every line."""

    HEIGHTS = (3, 12)  # in lines
    MAX_LINES = HEIGHTS[-1]

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LiveReply")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(26, 8, 26, 8)
        layout.setSpacing(2)
        self.title = QLabel("Assistant is replying…")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setWeight(QFont.Weight.DemiBold)
        font.setPointSizeF(max(font.pointSizeF() - 1.0, 7.0))
        self.title.setFont(font)
        layout.addWidget(self.title)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFrameShape(QFrame.Shape.NoFrame)
        self.text.setAccessibleName("Reply being written")
        self.text.setUndoRedoEnabled(False)
        self.text.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.text.document().setDocumentMargin(0)
        layout.addWidget(self.text)
        self._lines = 0
        self._fit()
        self.hide()

    def paintEvent(self, event: Any) -> None:
        paint_top_rule(self)

    def begin(self, title: str = "Assistant is replying…") -> None:
        self.title.setText(title)
        self.text.clear()
        self._fit()
        self.show()

    def append(self, chunk: str) -> None:
        cursor = self.text.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(chunk)
        self._fit()
        bar = self.text.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _fit(self) -> None:
        needed = int(self.text.document().documentLayout().documentSize().height())
        lines = next((h for h in self.HEIGHTS if h >= needed), self.MAX_LINES)
        if lines != self._lines:
            self._lines = lines
            self.text.setFixedHeight(lines * self.text.fontMetrics().lineSpacing()
                                     + 2 * self.text.frameWidth() + 6)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._fit()

    def finish(self) -> None:
        self.hide()
        self.text.clear()

    def current_text(self) -> str:
        return self.text.toPlainText()
