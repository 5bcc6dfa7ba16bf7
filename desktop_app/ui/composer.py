"""The composer: where a message is written, with its live figure (its tokens in the
request, chat framing included: the gauge's Current input row), Send (Ctrl+Enter) and
Stop (Esc) while a reply streams."""

from __future__ import annotations

import bisect
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.palette import blend, is_dark, warning_color
from desktop_app.ui.theme import mute, paint_top_rule

if TYPE_CHECKING:
    from desktop_app.core.counting import Counting
    from desktop_app.core.tokens import Edit

MIN_LINES, MAX_LINES = 3, 10
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")  # two UTF-16 units to Qt, one character
# what QTextDocument.toPlainText() makes of the characters a cursor's selection holds:
# paragraph and line separators become newlines, a no-break space a space
_PLAIN_TEXT = str.maketrans({"\u2029": "\n", "\u2028": "\n", "\ufdd0": "\n",
                             "\ufdd1": "\n", "\xa0": " "})


class _Editor(QPlainTextEdit):
    """Plain text editing; Ctrl+Enter sends and Esc stops instead of editing."""

    sendKey = Signal()
    escapeKey = Signal()
    focusChanged = Signal()

    def focusInEvent(self, event: Any) -> None:
        super().focusInEvent(event)
        self.focusChanged.emit()

    def focusOutEvent(self, event: Any) -> None:
        super().focusOutEvent(event)
        self.focusChanged.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.sendKey.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escapeKey.emit()
            return
        super().keyPressEvent(event)


class _Astral:
    """Where the draft holds characters beyond the BMP (an emoji): each is two units of
    UTF-16, in which Qt counts positions, and one character to Python. Kept as their
    UTF-16 offsets, in order, to turn Qt's positions into Python's."""

    def __init__(self) -> None:
        self.at: list[int] = []

    @staticmethod
    def offsets(text: str, start: int = 0) -> list[int]:
        """The UTF-16 offsets of `text`'s astral characters, `text` being at `start`."""
        return [start + m.start() + n for n, m in enumerate(_ASTRAL.finditer(text))]

    def before(self, unit: int) -> int:
        """How many there are before the UTF-16 offset `unit`."""
        return bisect.bisect_left(self.at, unit)

    def splits(self, unit: int) -> bool:
        """Does `unit` fall between the two halves of one?"""
        i = bisect.bisect_left(self.at, unit)
        return i > 0 and self.at[i - 1] == unit - 1


class Composer(QFrame):
    """Emits draftEdited on every edit, sendRequested with the text on Send, and
    stopRequested on Stop. It clears its text only when told (clear_sent), so a failed
    send never loses what was typed."""

    # (text, edits): the whole draft, or None and the edits that made it from the draft
    # the last emission gave, as (position, removed, inserted text) in Python characters.
    # `object`, not `str`: a 10 MB draft is neither converted to a QString and back nor
    # copied at a keystroke.
    draftEdited = Signal(object, object)
    sendRequested = Signal(str)
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Composer")
        # the conversation's colour: the editor's rounded box is the only box here (a
        # band of another colour across a wide column made a box around the box)
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        self._streaming = False
        self._over = False
        self._can_send = True
        self._why_not = ""
        self._counting: Counting | None = None  # the default until the controller says

        self.editor = _Editor()
        self.editor.setObjectName("ComposerEditor")
        self.editor.setPlaceholderText("Write a message…   Ctrl+Enter sends")
        self.editor.setAccessibleName("Message")
        self.editor.setAccessibleDescription("Write a message; Ctrl+Enter sends, Esc stops a reply")
        self.editor.setTabChangesFocus(True)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)  # the composer draws a rounded one
        self.editor.document().setDocumentMargin(7)
        self.editor.focusChanged.connect(self.update)
        self.editor.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._lines_shown = 0
        self._fit_height()
        # The draft is followed by the edits the document reports, each read as the
        # characters it put in: a keystroke copies what it touched, not the draft. The
        # whole text is read from the document only when it is asked for.
        self._text: str | None = ""  # the whole draft, when read since the last edit
        self._units = 0  # its length in UTF-16 units, as Qt counts
        self._astral = _Astral()
        self._followed = True  # do Qt's positions map to Python's (see _on_contents_change)
        self._edits: list[Edit] | None = []  # since the last emission; None: read whole
        self.editor.document().contentsChange.connect(self._on_contents_change)
        self.editor.textChanged.connect(self._on_text_changed)
        self.editor.sendKey.connect(self.send)
        self.editor.escapeKey.connect(self.stop)

        self.count_label = QLabel("0 tokens")
        self.count_label.setObjectName("DraftCount")
        self.count_label.setAccessibleName("Tokens in the message")
        self.count_label.setToolTip("Tokens in this message, counted as you type")
        self.hint_label = QLabel("")
        self.hint_label.setTextFormat(Qt.TextFormat.PlainText)
        self.hint_label.setObjectName("ComposerHint")
        mute(self.hint_label)
        mute(self.count_label)
        self.hint_label.setWordWrap(False)

        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("SendButton")
        self.send_button.setDefault(True)
        self.send_button.setAccessibleName("Send the message")
        keys = QKeySequence("Ctrl+Return").toString(QKeySequence.SequenceFormat.NativeText)
        self.send_button.setToolTip(f"Send ({keys})")
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("StopButton")
        self.stop_button.setAccessibleName("Stop the reply")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()

        bar = QHBoxLayout()
        bar.setContentsMargins(2, 0, 0, 0)
        bar.setSpacing(10)
        bar.addWidget(self.count_label)
        bar.addWidget(self.hint_label, 1)
        bar.addWidget(self.stop_button)
        bar.addWidget(self.send_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 18, 10)
        layout.setSpacing(10)
        layout.addWidget(self.editor)
        layout.addLayout(bar)
        self._update_buttons()

    # --- what the window tells it ---------------------------------------------------
    def text(self) -> str:
        if self._text is None:
            self._text = self.editor.toPlainText()
        return self._text

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.editor.moveCursor(self.editor.textCursor().MoveOperation.End)

    def clear_sent(self) -> None:
        """The message was stored: the composer starts afresh."""
        self.editor.clear()

    def set_counting(self, counting: Counting) -> None:
        """How the request counts: the chat framing a count's hover text names."""
        self._counting = counting

    def set_count(self, tokens: int | None, exact: bool = True, note: str = "") -> None:
        """`tokens`: the message's tokens in the request, chat framing included."""
        tip = "Tokens this message adds to the request, counted as you type"
        if tokens is None:
            self.count_label.setText("Counting…")
        else:
            prefix = "" if exact else "~"
            unit = "token" if tokens == 1 else "tokens"
            self.count_label.setText(f"{prefix}{tokens:,} {unit}")
            if tokens:
                if self._counting is None:  # imported here, not before the first paint
                    from desktop_app.core.counting import Counting

                    self._counting = Counting()
                tip = replace(self._counting.split("user", tokens), exact=exact).describe()
        if not exact:
            tip += "\n(estimated: this model's own tokenizer is not shipped)"
        self.count_label.setToolTip(tip)
        self.hint_label.setText(note)

    def set_over(self, over: bool) -> None:
        """Mark the count when the message is over its share of the window."""
        if over == self._over:
            return
        self._over = over
        font = self.count_label.font()
        font.setWeight(QFont.Weight.DemiBold if over else QFont.Weight.Normal)
        self.count_label.setFont(font)
        if over:
            pal = self.count_label.palette()
            pal.setColor(QPalette.ColorRole.WindowText, warning_color(is_dark(self)))
            self.count_label.setPalette(pal)
            self.count_label.setForegroundRole(QPalette.ColorRole.WindowText)
        else:
            self.count_label.setPalette(self.palette())
            mute(self.count_label)

    def paintEvent(self, event: object) -> None:
        paint_top_rule(self)
        pal = self.palette()
        focused = self.editor.hasFocus()
        border = (pal.color(QPalette.ColorRole.Highlight) if focused
                  else blend(pal.color(QPalette.ColorRole.Text),
                             pal.color(QPalette.ColorRole.Window), 0.28))
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(border, 1.5 if focused else 1.0))
        painter.setBrush(pal.color(QPalette.ColorRole.Base))
        box = QRectF(self.editor.geometry()).adjusted(-4.5, -4.5, 4.5, 4.5)
        painter.drawRoundedRect(box, 8, 8)

    def set_streaming(self, streaming: bool) -> None:
        self._streaming = streaming
        self._update_buttons()

    def set_can_send(self, can: bool, why_not: str = "") -> None:
        self._can_send = can
        self._why_not = why_not
        self._update_buttons()

    # --- user intent ----------------------------------------------------------------
    def send(self) -> None:
        text = self.text()
        if self._streaming or not self._can_send or not text.strip():
            return
        self.sendRequested.emit(text)

    def stop(self) -> None:
        if self._streaming:
            self.stopRequested.emit()

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        """Follow one edit of the document, in UTF-16 units as Qt counts, handed on in
        characters as Python counts (an emoji is two units and one character). Qt reports
        some edits wider than they were (setPlainText: the whole text and its end; a
        format change: the block); the lengths put them right, and the characters in
        between are read again. An edit that cannot be followed has the text read whole."""
        doc = self.editor.document()
        units = doc.characterCount() - 1  # the document's end is not text
        astral = self._astral
        if self._edits is not None and self._followed:
            removed = min(removed, self._units - position)
            added = units - (self._units - removed)
            if (position >= 0 and removed >= 0 and added >= 0 and position + added <= units
                    and not astral.splits(position) and not astral.splits(position + removed)):
                cursor = QTextCursor(doc)
                cursor.setPosition(position)
                cursor.setPosition(position + added, QTextCursor.MoveMode.KeepAnchor)
                inserted = cursor.selectedText().translate(_PLAIN_TEXT)
                new = astral.offsets(inserted, position)
                if len(inserted) + len(new) == added:
                    first, last = astral.before(position), astral.before(position + removed)
                    shift = added - removed
                    astral.at[first:] = new + [at + shift for at in astral.at[last:]]
                    self._edits.append((position - first, removed - (last - first), inserted))
                    self._text, self._units = None, units
                    return
        self._text = self.editor.toPlainText()
        self._units = units
        astral.at = astral.offsets(self._text)
        # half an emoji (a cursor put between its halves by a program) reads as what
        # its UTF-16 units do not tell: such a text is read whole until it is sound
        self._followed = len(self._text) + len(astral.at) == units
        self._edits = None

    def _on_text_changed(self) -> None:
        # the edits since the last emission, in order (an undo of a compound edit is
        # several); the text whole once it had to be read
        edits, self._edits = self._edits, []
        if edits is None:
            self.draftEdited.emit(self.text(), None)
        elif edits:
            self.draftEdited.emit(None, edits)
        self._update_buttons()
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow with the text from three lines up to ten, then scroll."""
        lines = int(self.editor.document().documentLayout().documentSize().height())
        lines = max(MIN_LINES, min(MAX_LINES, lines))
        if lines != self._lines_shown:
            self._lines_shown = lines
            margins = self.editor.contentsMargins()
            frame = 2 * self.editor.frameWidth() + margins.top() + margins.bottom()
            doc_margin = 2 * int(self.editor.document().documentMargin())
            self.editor.setFixedHeight(lines * self.editor.fontMetrics().lineSpacing()
                                       + frame + doc_margin + 4)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._fit_height()

    def _update_buttons(self) -> None:
        self.stop_button.setVisible(self._streaming)
        self.send_button.setVisible(not self._streaming)
        enabled = self._can_send and not self._streaming
        self.send_button.setEnabled(enabled)
        self.send_button.setToolTip("Send (Ctrl+Enter)" if self._can_send else self._why_not)
