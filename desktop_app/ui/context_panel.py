"""The open session's context, editable: its system prompt and its few-shot examples
(question and answer pairs: add, move up or down, remove), each with its figure in the
request, chat framing included (what the gauge's System prompt and Examples rows add
up), counted as you type. A small library of saved system prompts sits beside the
prompt: save the current one under a name, insert a saved one, delete one.

The panel shows what it is given and says what the user did through its signals; the
controller stores the edits with the session. Everything here is plain text: a prompt
is never read as markup."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.counting import Cost, Counting
from desktop_app.ui.figures import format_tokens

if TYPE_CHECKING:
    from desktop_app.core.records import Session
    from desktop_app.services.prompt_library import SavedPrompt

PREVIEW_CHARS = 48
TOOLTIP_CHARS = 1500
NO_SESSION = "Open or start a session to give it a system prompt and examples."


def plain_tooltip(text: str) -> str:
    """Untrusted text for a tooltip (which Qt would read as markup if it looked like
    some): escaped, wrapped, and cut when long."""
    if len(text) > TOOLTIP_CHARS:
        text = text[:TOOLTIP_CHARS] + "\n…"
    return f"<p style='white-space:pre-wrap'>{html.escape(text, quote=False)}</p>"


def _preview(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1].rstrip() + "…"


def pairs_of(examples: list[dict[str, Any]]) -> list[list[str]]:
    """A session's examples (chat messages) as [question, answer] pairs: a user message
    opens a pair, the assistant message after it answers it."""
    pairs: list[list[str]] = []
    open_pair = False
    for e in examples:
        content = str(e.get("content") or "")
        if e.get("role") == "assistant":
            if open_pair:
                pairs[-1][1] = content
            else:
                pairs.append(["", content])
            open_pair = False
        else:
            pairs.append([content, ""])
            open_pair = True
    return pairs


def examples_of(pairs: list[list[str]]) -> list[dict[str, str]]:
    """The pairs as the chat messages the request sends (an empty side is sent as
    nothing: the assembler leaves out examples without content)."""
    out: list[dict[str, str]] = []
    for question, answer in pairs:
        out.append({"role": "user", "content": question})
        out.append({"role": "assistant", "content": answer})
    return out


class ContextPanel(QWidget):
    """The session's system prompt, its examples and the prompt library."""

    systemPromptEdited = Signal(object, str)  # session id, text
    examplesEdited = Signal(object, list)  # session id, the examples as chat messages
    promptSaved = Signal(str, str)  # name, text
    promptDeleted = Signal(str)  # name

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Context")
        self._session_id: int | None = None
        self._counting = Counting()
        self._pairs: list[list[str]] = []

        self._no_session = QLabel(NO_SESSION)
        self._no_session.setWordWrap(True)

        # --- the system prompt
        self.system_count = QLabel()
        self.system_count.setAccessibleName("System prompt tokens")
        self.system_editor = QPlainTextEdit()
        self.system_editor.setAccessibleName("System prompt")
        self.system_editor.setPlaceholderText(
            "How the model should behave in this session: its role, its tone, its rules.")
        self.system_editor.setTabChangesFocus(True)
        self.library_picker = QComboBox()
        self.library_picker.setAccessibleName("Saved system prompts")
        self.library_picker.setToolTip("System prompts saved to reuse in any session")
        self.library_picker.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.library_picker.setMinimumContentsLength(10)
        self.insert_button = QPushButton("Insert")
        self.insert_button.setToolTip("Insert the saved prompt at the cursor")
        self.delete_prompt_button = QPushButton("Delete")
        self.delete_prompt_button.setToolTip("Remove the saved prompt from the library")
        self.prompt_name = QLineEdit()
        self.prompt_name.setAccessibleName("Name to save the system prompt as")
        self.prompt_name.setPlaceholderText("Name to save this prompt as")
        self.save_prompt_button = QPushButton("Save as…")
        self.save_prompt_button.setToolTip(
            "Save the system prompt in the library under this name (replacing one so named)")

        library = QHBoxLayout()
        library.addWidget(self.library_picker, 1)
        library.addWidget(self.insert_button)
        library.addWidget(self.delete_prompt_button)
        saving = QHBoxLayout()
        saving.addWidget(self.prompt_name, 1)
        saving.addWidget(self.save_prompt_button)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(self._heading("System prompt", self.system_count))
        top_layout.addWidget(self.system_editor, 1)
        top_layout.addLayout(library)
        top_layout.addLayout(saving)

        # --- the examples
        self.examples_count = QLabel()
        self.examples_count.setAccessibleName("Examples tokens")
        self.example_list = QListWidget()
        self.example_list.setAccessibleName("Few-shot examples")
        self.example_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.example_list.setWordWrap(False)
        self.example_list.setUniformItemSizes(True)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add a question and its answer")
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Send this example earlier")
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Send this example later")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove this example")
        buttons = QHBoxLayout()
        for b in (self.add_button, self.up_button, self.down_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.example_user = QPlainTextEdit()
        self.example_user.setAccessibleName("Example question")
        self.example_user.setPlaceholderText("The user asks…")
        self.example_user.setTabChangesFocus(True)
        self.example_assistant = QPlainTextEdit()
        self.example_assistant.setAccessibleName("Example answer")
        self.example_assistant.setPlaceholderText("…and the assistant answers.")
        self.example_assistant.setTabChangesFocus(True)
        pair = QHBoxLayout()
        pair.addWidget(self.example_user)
        pair.addWidget(self.example_assistant)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addLayout(self._heading("Few-shot examples", self.examples_count))
        bottom_layout.addWidget(self.example_list, 1)
        bottom_layout.addLayout(buttons)
        bottom_layout.addLayout(pair, 1)

        self._body = QSplitter(Qt.Orientation.Vertical)
        self._body.setChildrenCollapsible(False)
        self._body.addWidget(top)
        self._body.addWidget(bottom)
        layout = QVBoxLayout(self)
        layout.addWidget(self._no_session)
        layout.addWidget(self._body, 1)

        self.system_editor.textChanged.connect(self._system_changed)
        self.insert_button.clicked.connect(self.insert_saved)
        self.delete_prompt_button.clicked.connect(self._delete_saved)
        self.save_prompt_button.clicked.connect(self.save_as)
        self.prompt_name.returnPressed.connect(self.save_as)
        self.prompt_name.textChanged.connect(lambda _t: self._update_buttons())
        self.library_picker.currentIndexChanged.connect(lambda _i: self._update_buttons())
        self.example_list.currentRowChanged.connect(self._show_pair)
        self.example_user.textChanged.connect(lambda: self._pair_changed(0))
        self.example_assistant.textChanged.connect(lambda: self._pair_changed(1))
        self.add_button.clicked.connect(self.add_example)
        self.up_button.clicked.connect(lambda: self.move_example(-1))
        self.down_button.clicked.connect(lambda: self.move_example(1))
        self.remove_button.clicked.connect(self.remove_example)
        self.set_session(None)

    @staticmethod
    def _heading(text: str, count: QLabel) -> QHBoxLayout:
        title = QLabel(text)
        font = QFont(title.font())
        font.setBold(True)
        title.setFont(font)
        count.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(title)
        row.addStretch(1)
        row.addWidget(count)
        return row

    # --- what the controller says ----------------------------------------------------------
    def set_counting(self, counting: Counting) -> None:
        """How the request counts (encoding, exactness, chat framing)."""
        self._counting = counting
        self._show_counts()

    def set_session(self, session: Session | None) -> None:
        """Show a session's context. The session being edited is not shown again when
        its stored copy comes back: what is typed here is newer."""
        sid = session.id if session is not None else None
        if session is not None and sid == self._session_id:
            return
        self._session_id = sid
        self._no_session.setVisible(session is None)
        self._body.setEnabled(session is not None)
        self.system_editor.blockSignals(True)
        self.system_editor.setPlainText(session.system_prompt if session else "")
        self.system_editor.blockSignals(False)
        self._pairs = pairs_of(list(session.examples)) if session else []
        self._fill_list(0 if self._pairs else -1)
        self._show_counts()

    def forget(self, session_id: int, _title: str = "") -> None:
        """The session was deleted: nothing of it stays to edit."""
        if session_id == self._session_id:
            self.set_session(None)

    def set_library(self, prompts: list[SavedPrompt]) -> None:
        current = self.library_picker.currentText()
        self.library_picker.blockSignals(True)
        self.library_picker.clear()
        for p in prompts:
            self.library_picker.addItem(p.name, p.text)
            self.library_picker.setItemData(self.library_picker.count() - 1,
                                            plain_tooltip(p.text), Qt.ItemDataRole.ToolTipRole)
        i = self.library_picker.findText(current)
        self.library_picker.setCurrentIndex(i if i >= 0 else 0)
        self.library_picker.blockSignals(False)
        self._update_buttons()

    # --- what the panel holds ----------------------------------------------------------------
    def session_id(self) -> int | None:
        return self._session_id

    def system_prompt(self) -> str:
        return self.system_editor.toPlainText()

    def examples(self) -> list[dict[str, str]]:
        return examples_of(self._pairs)

    def system_cost(self) -> Cost:
        """The system prompt as the request sends it (nothing when it is empty)."""
        text = self.system_prompt()
        if not text:
            return Cost(0, 0, self._counting.exact, self._counting.framing.source)
        return self._counting.of_text("system", text)

    def example_costs(self) -> list[int]:
        """Each pair's tokens in the request, framing included (an empty side is not sent)."""
        return [self._pair_tokens(pair) for pair in self._pairs]

    def _pair_tokens(self, pair: list[str]) -> int:
        question, answer = pair
        return sum(self._counting.of_text(role, text).total
                   for role, text in (("user", question), ("assistant", answer)) if text)

    def examples_tokens(self) -> int:
        return sum(self.example_costs())

    # --- the system prompt and the library -------------------------------------------------
    def _system_changed(self) -> None:
        self._show_system_count()
        self._update_buttons()
        if self._session_id is not None:
            self.systemPromptEdited.emit(self._session_id, self.system_prompt())

    def insert_saved(self) -> None:
        """The chosen saved prompt, at the cursor (in place of a selection)."""
        text = self.library_picker.currentData()
        if isinstance(text, str) and self._session_id is not None:
            self.system_editor.insertPlainText(text)
            self.system_editor.setFocus()

    def save_as(self) -> None:
        name = " ".join(self.prompt_name.text().split())
        text = self.system_prompt()
        if not name or not text.strip():
            return
        self.promptSaved.emit(name, text)
        self.prompt_name.clear()

    def _delete_saved(self) -> None:
        name = self.library_picker.currentText()
        if name:
            self.promptDeleted.emit(name)

    # --- the examples ----------------------------------------------------------------------
    def add_example(self) -> None:
        if self._session_id is None:
            return
        self._pairs.append(["", ""])
        self._fill_list(len(self._pairs) - 1)
        self._examples_changed()
        self.example_user.setFocus()

    def move_example(self, step: int) -> None:
        row = self.example_list.currentRow()
        to = row + step
        if row < 0 or not 0 <= to < len(self._pairs):
            return
        self._pairs[row], self._pairs[to] = self._pairs[to], self._pairs[row]
        self._fill_list(to)
        self._examples_changed()

    def remove_example(self) -> None:
        row = self.example_list.currentRow()
        if row < 0:
            return
        del self._pairs[row]
        self._fill_list(min(row, len(self._pairs) - 1))
        self._examples_changed()

    def _pair_changed(self, side: int) -> None:
        row = self.example_list.currentRow()
        if row < 0 or row >= len(self._pairs):
            return
        editor = self.example_user if side == 0 else self.example_assistant
        self._pairs[row][side] = editor.toPlainText()
        self._label_item(row)
        self._examples_changed()

    def _examples_changed(self) -> None:
        self._show_examples_count()
        self._update_buttons()
        if self._session_id is not None:
            self.examplesEdited.emit(self._session_id, self.examples())

    def _fill_list(self, current: int) -> None:
        self.example_list.blockSignals(True)
        self.example_list.clear()
        for _pair in self._pairs:
            self.example_list.addItem(QListWidgetItem())
        for row in range(len(self._pairs)):
            self._label_item(row)
        self.example_list.setCurrentRow(current)
        self.example_list.blockSignals(False)
        self._show_pair(current)

    def _label_item(self, row: int) -> None:
        item = self.example_list.item(row)
        if item is None:
            return
        question, answer = self._pairs[row]
        tokens = self._pair_tokens(self._pairs[row])
        item.setText(f"{row + 1}. {_preview(question) or '(no question)'} → "
                     f"{_preview(answer) or '(no answer)'} · {format_tokens(tokens)} tokens")
        item.setToolTip(plain_tooltip(f"User: {question}\n\nAssistant: {answer}"))

    def _show_pair(self, row: int) -> None:
        has = 0 <= row < len(self._pairs)
        for side, editor in enumerate((self.example_user, self.example_assistant)):
            editor.blockSignals(True)
            editor.setPlainText(self._pairs[row][side] if has else "")
            editor.blockSignals(False)
            editor.setEnabled(has)
        self._update_buttons()

    # --- figures and buttons -----------------------------------------------------------------
    def _show_counts(self) -> None:
        self._show_system_count()
        for row in range(self.example_list.count()):
            self._label_item(row)
        self._show_examples_count()
        self._update_buttons()

    def _show_system_count(self) -> None:
        cost = self.system_cost()
        self.system_count.setText(f"{format_tokens(cost.total)} tokens in the request")
        self.system_count.setToolTip(cost.describe("prompt") if cost.total else
                                     "No system prompt: nothing is sent for it.")

    def _show_examples_count(self) -> None:
        n = len(self._pairs)
        total = self.examples_tokens()
        self.examples_count.setText(
            f"{n} pair{'s' * (n != 1)} · {format_tokens(total)} tokens in the request")
        kind = "exact" if self._counting.exact else "estimated"
        self.examples_count.setToolTip(
            f"Every question and answer as the request sends them, chat framing "
            f"({self._counting.framing.source}) included · {kind}")

    def _update_buttons(self) -> None:
        on = self._session_id is not None
        row, n = self.example_list.currentRow(), len(self._pairs)
        self.add_button.setEnabled(on)
        self.up_button.setEnabled(on and row > 0)
        self.down_button.setEnabled(on and 0 <= row < n - 1)
        self.remove_button.setEnabled(on and row >= 0)
        saved = self.library_picker.count() > 0
        self.insert_button.setEnabled(on and saved)
        self.delete_prompt_button.setEnabled(saved)
        self.save_prompt_button.setEnabled(
            on and bool(self.prompt_name.text().strip()) and bool(self.system_prompt().strip()))
