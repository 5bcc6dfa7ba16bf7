"""One Prompt Lab variant: its editor (with the sentence heatmap and its tooltips), its
count table per chosen model and its summary line.

Counting never blocks the window: a text under LONG_TEXT_CHARS is recounted
incrementally (tokens.DraftCounter) on each keystroke; a longer one is counted on a
worker thread after a short pause in typing, and a result that arrives after a newer
edit is thrown away (the variant's Scope moves on with every edit)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from desktop_app.controller.operations import Operations, Scope, Stamp
from desktop_app.core.tokens import DraftCounter, count_text
from desktop_app.ui.figures import format_tokens
from desktop_app.ui.lab_costs import CountTable
from desktop_app.ui.lab_heatmap import (
    LONG_TEXT_CHARS,
    SentenceHeatmap,
    sentence_spans,
    tokens_per_word,
)
from desktop_app.ui.palette import is_dark

if TYPE_CHECKING:
    from desktop_app.core.catalog import ModelInfo

COUNT_PAUSE_MS = 150  # a long text is counted once typing pauses this long


class VariantEditor(QFrame):
    """A variant's editor and its counts per chosen model. Long counts run on
    `operations` (the lab's)."""

    countsChanged = Signal()
    removeRequested = Signal()

    def __init__(self, title: str, operations: Operations,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._models: list[ModelInfo] = []
        self._counters: dict[str, DraftCounter] = {}
        self._counts: dict[str, int] = {}
        self._long = False
        self._operations = operations
        self._text_scope = Scope()  # moves on with every edit: older counts are dropped
        self._count_stamp: Stamp | None = None  # the long count under way, if any
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COUNT_PAUSE_MS)
        self._timer.timeout.connect(self._count_long)

        self.title = QLabel(title)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setAccessibleName(f"{title} token count")
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setToolTip("Remove this variant")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setAccessibleName(f"Remove {title}")
        self.remove_button.clicked.connect(self.removeRequested)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.summary, 1)
        head.addWidget(self.remove_button)

        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName(f"{title} text")
        self.editor.setPlaceholderText("Write a system prompt or a message…")
        self.editor.setTabChangesFocus(True)
        self.heatmap = SentenceHeatmap(self.editor.document())
        self.editor.viewport().installEventFilter(self)

        self.delta = QLabel()
        self.delta.setTextFormat(Qt.TextFormat.PlainText)
        self.delta.setAccessibleName(f"{title} difference")
        self.table = CountTable(title, round(self.fontMetrics().height() * 1.5))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(head)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.delta)
        layout.addWidget(self.table)
        self.editor.textChanged.connect(self._text_changed)
        self._apply_theme()

    # --- API ---------------------------------------------------------------------------

    def set_title(self, title: str) -> None:
        self.title.setText(title)
        self.summary.setAccessibleName(f"{title} token count")
        self.editor.setAccessibleName(f"{title} text")

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)

    def replace_text(self, text: str) -> None:
        """Replace all text as one undoable edit (Ctrl+Z brings the old text back)."""
        cursor = QTextCursor(self.editor.document())
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()

    def set_models(self, models: Sequence[ModelInfo]) -> None:
        self._models = list(models)
        encodings = {m.encoding for m in self._models}
        for enc in list(self._counters):
            if enc not in encodings:
                del self._counters[enc]
        primary = self._models[0].encoding if self._models else "o200k_base"
        self.heatmap.configure(primary, self.heatmap.enabled)
        self._recount()

    def set_heatmap(self, enabled: bool) -> None:
        self.heatmap.configure(self.heatmap.encoding, enabled)

    def is_long(self) -> bool:
        return self._long

    @property
    def pending(self) -> bool:
        """A long count is under way on a worker thread (its result not in yet)."""
        return self._count_stamp is not None

    def is_counting(self) -> bool:
        return self._timer.isActive() or self.pending

    def cancel_count(self) -> None:
        """Forget any long count under way: its result will be dropped."""
        self._text_scope.advance()
        self._count_stamp = None

    def tokens(self, encoding: str) -> int | None:
        """The text's tokens in `encoding`; None while a long count is under way."""
        if self.is_counting():
            return None
        return self._counts.get(encoding)

    def table_rows(self) -> list[tuple[str, str, str, str]]:
        return self.table.rows()

    # --- counting ----------------------------------------------------------------------

    def _text_changed(self) -> None:
        # characterCount is O(1): a 10 MB paste is not copied out on every keystroke
        long = self.editor.document().characterCount() > LONG_TEXT_CHARS
        if long != self._long:
            self._long = long
            self.heatmap.rehighlight() if not long else None
        self._recount()

    def _recount(self) -> None:
        if self._long:
            self.cancel_count()
            self._timer.start()
            self._show_counts()
            return
        self._timer.stop()
        self.cancel_count()
        text = self.text()
        for enc in {m.encoding for m in self._models}:
            counter = self._counters.get(enc)
            if counter is None:
                counter = self._counters[enc] = DraftCounter(enc)
            self._counts[enc] = counter.update(text)
        self._show_counts()
        self.countsChanged.emit()

    def _count_long(self) -> None:
        text = self.text()
        encodings = sorted({m.encoding for m in self._models})
        self.cancel_count()  # only the newest count is delivered
        self._count_stamp = self._text_scope.stamp()
        self._operations.run(lambda: {enc: count_text(text, enc) for enc in encodings},
                             self._long_counted, self._long_count_failed,
                             serial=False, stamp=self._count_stamp)

    def _long_counted(self, counts: dict[str, int]) -> None:
        self._count_stamp = None
        self._counts.update(counts)
        self._show_counts()
        self.countsChanged.emit()

    def _long_count_failed(self, message: str) -> None:
        self._count_stamp = None
        self.summary.setText(f"Could not count: {message}")

    def _show_counts(self) -> None:
        counting = self.is_counting()
        self.table.show_counts(self._models, self._counts, counting)
        primary = self._models[0] if self._models else None
        if primary is None:
            self.summary.setText("")
        elif counting:
            self.summary.setText("counting…")
        else:
            n = self._counts.get(primary.encoding, 0)
            chars = self.editor.document().characterCount() - 1
            self.summary.setText(f"{format_tokens(n)} tokens · {format_tokens(chars)} chars")

    # --- heatmap tooltip -----------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.editor.viewport() and event.type() == QEvent.Type.ToolTip:
            text = self.sentence_tooltip(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.editor.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().eventFilter(watched, event)

    def sentence_tooltip(self, pos: QPoint) -> str:
        if self._long:
            return ""
        cursor = self.editor.cursorForPosition(pos)
        block = cursor.block()
        offset = cursor.positionInBlock()
        text = block.text()
        for start, length in sentence_spans(text):
            if start <= offset < start + length:
                tokens, words, density = tokens_per_word(text[start:start + length],
                                                         self.heatmap.encoding)
                return (f"{tokens} tokens · {words} words · {density:.2f} tokens per word "
                        f"({self.heatmap.encoding})")
        return ""

    def _apply_theme(self) -> None:
        base = self.editor.palette().color(self.editor.backgroundRole())
        self.heatmap.set_theme(is_dark(self), base)
        self.heatmap.rehighlight()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)
