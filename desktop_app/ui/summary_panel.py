"""The rolling summary, editable: what it says, which messages it replaced, how it was
made, what it costs in the request (the summary message with its header and chat
framing: the gauge's Summary row) against what the messages it replaced would, and how
much of the original information it kept. Compact now folds the older history into it
on request, with an optional focus, and says what that freed."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.counting import Cost, Counting, MessageRun
from desktop_app.ui.gauge import format_percent, format_tokens
from desktop_app.ui.palette import blend, is_dark, ok_color, warning_color
from desktop_app.ui.retention_line import RetentionLine
from desktop_app.ui.sizing import editor_height
from desktop_app.ui.theme import set_style_sheet

if TYPE_CHECKING:
    from desktop_app.core.records import Summary
    from desktop_app.services.compaction import Compaction

_EMPTY_TEXT = ("No summary yet. With the rolling summary or hybrid strategy, older messages "
               "that no longer fit are folded into a summary here.")


def method_label(summary: Summary) -> str:
    if summary.method == "model":
        return f"Written by {summary.model}" if summary.model else "Written by the model"
    return "Extractive (offline: key sentences kept)"


def range_label(summary: Summary, replaced: MessageRun | None) -> str:
    first, last = summary.first_message_id, summary.last_message_id
    if replaced is not None and replaced.count:
        n = replaced.count
        return f"{n:,} message{'s' if n != 1 else ''} (ids {replaced.first_id}–{replaced.last_id})"
    if first is None and last is None:
        return "unknown"
    if first == last or first is None:
        return f"up to message id {last}"
    return f"message ids {first}–{last}"


class SummaryPanel(QWidget):
    """Edit and save the session's rolling summary."""

    summaryEdited = Signal(str)
    compactRequested = Signal(str)  # the focus ("" for none)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._summary: Summary | None = None
        self._encoding = "o200k_base"
        self._counting = Counting()
        self._replaced: MessageRun | None = None
        self._replaced_sum: int | None = None  # their figures' sum, once per set_summary

        self._empty = QLabel(_EMPTY_TEXT)
        self._empty.setWordWrap(True)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName("Rolling summary")
        self.editor.setPlaceholderText("The summary of earlier messages.")
        self.editor.setTabChangesFocus(True)
        self.editor.setMinimumHeight(editor_height(self.editor, 5))

        self._method = QLabel()
        self._range = QLabel()
        self._tokens = QLabel()
        self._retention = QLabel()
        self.retention = RetentionLine("summary")  # what it keeps, as the last fold measured
        self._figure: dict | None = None
        for label in (self._method, self._range, self._tokens, self._retention):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setWordWrap(True)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Method:", self._method)
        form.addRow("Replaces:", self._range)
        form.addRow("Tokens:", self._tokens)
        kept = QWidget()  # the measured figure when there is one, else the stored ratio
        kept_box = QVBoxLayout(kept)
        kept_box.setContentsMargins(0, 0, 0, 0)
        kept_box.setSpacing(0)
        kept_box.addWidget(self._retention)
        kept_box.addWidget(self.retention)
        form.addRow("Retention:", kept)
        self._form_widget = QWidget()
        self._form_widget.setLayout(form)
        form.setContentsMargins(0, 0, 0, 0)

        self._status = QLabel()
        self._status.setTextFormat(Qt.TextFormat.PlainText)
        self._status.setAccessibleName("Summary status")
        self._status.setWordWrap(True)  # a long status never widens the column
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Throw away your edits and show the stored summary")
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.setToolTip("Save the edited summary (Ctrl+S)")
        buttons = QHBoxLayout()
        buttons.addWidget(self._status, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)

        self.compact_focus = QLineEdit()
        self.compact_focus.setAccessibleName("Compact focus")
        self.compact_focus.setPlaceholderText(
            "Focus (optional): keep every decision about the budget")
        self.compact_focus.setToolTip("What the summary must keep, above all")
        self.compact_button = QPushButton("Compact now")
        self.compact_button.setToolTip(
            "Fold the older history into the summary now (by the model when one is set up, "
            "else offline); the newest messages stay as they are")
        self.compact_status = QLabel()
        self.compact_status.setAccessibleName("Compact result")
        self.compact_status.setTextFormat(Qt.TextFormat.PlainText)
        self.compact_status.setWordWrap(True)
        self.compact_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.compact_status.hide()
        compact_row = QHBoxLayout()
        compact_row.addWidget(self.compact_focus, 1)
        compact_row.addWidget(self.compact_button)

        title = QLabel("Rolling summary")
        font = QFont(title.font())
        font.setBold(True)
        title.setFont(font)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self._form_widget)
        layout.addWidget(self._empty, 1)  # with no summary, it takes the room (top-aligned)
        layout.addWidget(self.editor, 1)
        layout.addLayout(buttons)
        layout.addLayout(compact_row)
        layout.addWidget(self.compact_status)
        self.setAccessibleName("Summary")

        self.editor.textChanged.connect(self._text_changed)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        self.compact_button.clicked.connect(self.compact)
        self.compact_focus.returnPressed.connect(self.compact)
        QShortcut(QKeySequence.StandardKey.Save, self.editor, self.save,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self.set_summary(None)

    # --- public API --------------------------------------------------------------------

    def set_counting(self, counting: Counting) -> None:
        """How the request counts (encoding, exactness, chat framing)."""
        self._counting = counting
        self._replaced_sum = None
        if self._summary is not None:
            self._text_changed()

    def set_summary(self, summary: Summary | None, encoding: str = "o200k_base",
                    replaced: MessageRun | None = None) -> None:
        """Show `summary` (None: the empty state). `replaced`, when given, are the
        messages it stands in for: their number and tokens are shown beside its own."""
        self._summary = summary
        self._encoding = encoding
        has = summary is not None
        self._empty.setVisible(not has)
        self._form_widget.setVisible(has)
        self.editor.setVisible(has)
        self.save_button.setVisible(has)
        self.revert_button.setVisible(has)
        self._status.setVisible(has)
        if summary is None:
            self.editor.blockSignals(True)
            self.editor.clear()
            self.editor.blockSignals(False)
            return
        self._replaced = replaced
        self._replaced_sum = None
        self._method.setText(method_label(summary))
        self._range.setText(range_label(summary, replaced))
        self._retention.setText(self._retention_text(summary))
        self.editor.blockSignals(True)
        self.editor.setPlainText(summary.text)
        self.editor.blockSignals(False)
        self._text_changed()

    def summary(self) -> Summary | None:
        return self._summary

    def text(self) -> str:
        return self.editor.toPlainText()

    def is_dirty(self) -> bool:
        return self._summary is not None and self.text() != self._summary.text

    def save(self) -> None:
        if not self.is_dirty():
            return
        text = self.text().strip()
        if not text:
            self._set_status("An empty summary cannot be saved; Revert to keep the old one.",
                             warning=True)
            return
        assert self._summary is not None
        # keep the saved text as the baseline; the controller's set_summary follows
        self._summary = replace(self._summary, text=text)
        self.summaryEdited.emit(text)
        self._text_changed()
        self._set_status("Saved.")

    def revert(self) -> None:
        if self._summary is not None:
            self.set_summary(self._summary, self._encoding, self._replaced)

    def compact(self) -> None:
        """Ask for Compact now; the button waits for show_compacted."""
        if not self.compact_button.isEnabled():
            return
        self.compact_button.setEnabled(False)
        self.compact_status.setText("Compacting…")
        self.compact_status.show()
        self.compactRequested.emit(self.compact_focus.text().strip())

    def show_compacted(self, result: Compaction | None) -> None:
        """What Compact now did (None: it did not run; the error bar says why)."""
        self.compact_button.setEnabled(True)
        if result is None:
            self.compact_status.hide()
            return
        self.compact_status.setText(result.describe())
        self.compact_status.show()
        if result.done:
            self.compact_focus.clear()

    def token_text(self) -> str:
        return self._tokens.text()

    def cost(self) -> Cost:
        """The summary message the text in the editor makes, as the request sends it."""
        return self._counting.under(self._encoding).summary(self.text())

    def retention_text(self) -> str:
        return self._retention.text()

    # --- internals ---------------------------------------------------------------------

    def _replaced_tokens(self) -> int:
        """What the replaced messages would cost in the request: their figures."""
        if self._replaced_sum is None:
            counting = self._counting.under(self._encoding)
            run = self._replaced
            self._replaced_sum = counting.of_run(run) if run is not None else 0
        return self._replaced_sum

    def _text_changed(self) -> None:
        cost = self.cost()
        tokens = cost.total
        text = f"{format_tokens(tokens)} in the request"
        replaced = self._replaced_tokens()
        if replaced:
            ratio = replaced / tokens if tokens else 0
            text += (f", in place of {format_tokens(replaced)}"
                     + (f" ({ratio:.1f}× smaller)" if ratio >= 1.05 else ""))
        self._tokens.setText(text)
        self._tokens.setToolTip(cost.describe("header and summary"))
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)
        self._set_status("Edited, not saved." if dirty else "")

    def _retention_text(self, summary: Summary) -> str:
        if self._figure:
            return ""  # the line below says it in facts
        if summary.retention is None:
            return "not measured"
        return f"{format_percent(summary.retention)} of the key information kept"

    def set_retention(self, measured: dict) -> None:
        """What the summary kept of the facts left out, at the last fold."""
        self._figure = measured.get("summary") if measured else None
        self.retention.set_figure(self._figure)
        if self._summary is not None:
            self._retention.setText(self._retention_text(self._summary))
        self._retention.setVisible(bool(self._retention.text()))

    def _set_status(self, text: str, warning: bool = False) -> None:
        dark = is_dark(self)
        if warning:
            color = warning_color(dark)
        elif text == "Saved.":
            color = ok_color(dark)
        else:
            color = blend(self.palette().color(self.foregroundRole()),
                          self.palette().color(self.backgroundRole()), 0.65)
        set_style_sheet(self._status, f"color: {color.name()};")
        self._status.setText(text)
