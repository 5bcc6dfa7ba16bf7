"""Key-value memory as an editable table: key, value, pinned, scope and each fact's
share of the memory message, with the message's figure in the request beneath (its
header, every fact and the chat framing: the gauge's Memory row). Edits are shown at
once and sent to the controller as signals; the controller stores them and later calls
set_facts with what the store holds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.counting import Cost, Counting
from desktop_app.core.records import MemoryFact
from desktop_app.core.tokens import count_text
from desktop_app.ui.context_panel import plain_tooltip
from desktop_app.ui.gauge import format_tokens
from desktop_app.ui.palette import blend, is_dark, warning_color
from desktop_app.ui.retention_line import RetentionLine
from desktop_app.ui.sizing import table_height
from desktop_app.ui.theme import legible, set_style_sheet

COLUMNS = ("Key", "Value", "Pinned", "Scope", "Tokens")
KEY, VALUE, PINNED, SCOPE, TOKENS = range(len(COLUMNS))
_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
# session_id of a session fact added here before the panel was told its session
UNSAVED_SESSION = -1


# who found a fact (memory.origin), as the key's tooltip says it
ORIGINS = {
    "user": "Added or edited by you",
    "model": "Found by the model",
    "offline": "Found by the offline extractor (no model was asked)",
    "offline-check": "Kept by the offline check: the model's extraction left this fact out",
}


def fact_tokens(fact: MemoryFact, encoding: str) -> int:
    """A fact's part of the memory message: its "key: value" line and the newline. The
    parts do not add up to the message exactly (it is counted whole, with its header
    and framing): MemoryPanel shows the message's own figure as the total."""
    return count_text(fact.line() + "\n", encoding)


PART_HELP = ("This fact's line, a part of the memory message. The total below is the "
             "whole message as sent: its header, every line and the chat framing.")


class MemoryModel(QAbstractTableModel):
    """The facts as a table. setData validates and emits `edited`, `pinned` or `rejected`
    (a one-line reason); it never changes a fact into something that cannot be stored."""

    edited = Signal(str, object)  # old key, new MemoryFact
    pinned = Signal(str, bool)
    rejected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._facts: list[MemoryFact] = []
        self._tokens: list[int] = []
        self._encoding = "o200k_base"

    def set_facts(self, facts: list[MemoryFact], encoding: str) -> None:
        self.beginResetModel()
        self._facts = list(facts)
        self._encoding = encoding
        self._tokens = [fact_tokens(f, encoding) for f in self._facts]
        self.endResetModel()

    def facts(self) -> list[MemoryFact]:
        return list(self._facts)

    def fact(self, row: int) -> MemoryFact:
        return self._facts[row]

    @property
    def encoding(self) -> str:
        return self._encoding

    def has_key(self, key: str) -> bool:
        return any(f.key == key for f in self._facts)

    def append(self, fact: MemoryFact) -> None:
        row = len(self._facts)
        self.beginInsertRows(_ROOT, row, row)
        self._facts.append(fact)
        self._tokens.append(fact_tokens(fact, self._encoding))
        self.endInsertRows()

    def remove(self, row: int) -> MemoryFact:
        self.beginRemoveRows(_ROOT, row, row)
        fact = self._facts.pop(row)
        self._tokens.pop(row)
        self.endRemoveRows()
        return fact

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._facts)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole and section == TOKENS:
                return PART_HELP
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in (KEY, VALUE):
            return base | Qt.ItemFlag.ItemIsEditable
        if index.column() == PINNED:
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        fact = self._facts[index.row()]
        col = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if col == KEY:
                return fact.key
            if col == VALUE:
                return fact.value
            if col == SCOPE:
                return "global" if fact.session_id is None else "session"
            if col == TOKENS:
                return format_tokens(self._tokens[index.row()])
        elif role == Qt.ItemDataRole.CheckStateRole and col == PINNED:
            return Qt.CheckState.Checked if fact.pinned else Qt.CheckState.Unchecked
        elif role == Qt.ItemDataRole.ToolTipRole:
            if col == VALUE:
                return plain_tooltip(fact.value)  # the model's or a file's text: never markup
            if col == KEY:
                return ORIGINS.get(fact.origin or "", "")
            if col == PINNED:
                return "Pinned facts are never left out to make room"
            if col == SCOPE:
                return ("Shared by every session" if fact.session_id is None
                        else "Only this session")
            if col == TOKENS:
                return PART_HELP
        elif role == Qt.ItemDataRole.FontRole and col == KEY and fact.origin == "offline-check":
            font = QFont()
            font.setItalic(True)  # kept although the model left it out: worth a look
            return font
        elif role == Qt.ItemDataRole.TextAlignmentRole and col == TOKENS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        row, col = index.row(), index.column()
        fact = self._facts[row]
        if col == PINNED and role == Qt.ItemDataRole.CheckStateRole:
            state = value.value if hasattr(value, "value") else value
            new_pinned = state == Qt.CheckState.Checked.value
            if new_pinned == fact.pinned:
                return False
            self._facts[row] = replace(fact, pinned=new_pinned)
            self.dataChanged.emit(index, index, [role])
            self.pinned.emit(fact.key, new_pinned)
            return True
        if role != Qt.ItemDataRole.EditRole or col not in (KEY, VALUE):
            return False
        text = str(value).strip()
        if col == KEY:
            if not text:
                self.rejected.emit("A fact needs a key; the key was left as it was.")
                return False
            if text == fact.key:
                return False
            if self.has_key(text):
                self.rejected.emit(f"A fact named “{text}” already exists.")
                return False
            new = replace(fact, key=text)
        else:
            if text == fact.value:
                return False
            new = replace(fact, value=text)
        self._facts[row] = new
        self._tokens[row] = fact_tokens(new, self._encoding)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        self.edited.emit(fact.key, new)
        return True


class MemoryPanel(QWidget):
    """The memory table with an add row, Delete, and a token total."""

    factAdded = Signal(str, str, bool)  # key, value, global
    factEdited = Signal(str, object)  # old key, MemoryFact
    factDeleted = Signal(str)
    factPinned = Signal(str, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = MemoryModel(self)
        self._session_id: int | None = None
        self._counting = Counting()
        self.view = legible(QTableView())  # its Pinned column is check boxes
        self.view.setModel(self.model)
        self.view.setAccessibleName("Memory facts")
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(round(self.fontMetrics().height() * 1.7))
        self._fit_view()
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(KEY, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(VALUE, QHeaderView.ResizeMode.Stretch)
        for col in (PINNED, SCOPE, TOKENS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.view.setColumnWidth(KEY, self.fontMetrics().horizontalAdvance("M" * 10))

        self._summary = QLabel()
        self._summary.setTextFormat(Qt.TextFormat.PlainText)
        self._summary.setAccessibleName("Memory total")
        self._summary.setWordWrap(True)  # its text never sets the column's width
        self._message = QLabel()
        self._message.setTextFormat(Qt.TextFormat.PlainText)
        self._message.setWordWrap(True)
        self._message.setAccessibleName("Memory message")
        self._message.hide()
        self.retention = RetentionLine("memory")  # what it keeps, as the last fold measured

        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText("Key")
        self.key_edit.setAccessibleName("New fact key")
        self.value_edit = QLineEdit()
        self.value_edit.setPlaceholderText("Value")
        self.value_edit.setAccessibleName("New fact value")
        self.global_check = legible(QCheckBox("All sessions"))
        self.global_check.setToolTip("Keep this fact for every session, not just this one")
        self.add_button = QPushButton("Add")
        self.add_button.setAccessibleName("Add fact")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setAccessibleName("Delete selected facts")
        self.delete_button.setEnabled(False)

        add_row = QHBoxLayout()
        add_row.addWidget(self.key_edit, 2)
        add_row.addWidget(self.value_edit, 3)
        add_row.addWidget(self.global_check)
        add_row.addWidget(self.add_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self._summary, 1)
        bottom.addWidget(self.delete_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.retention)  # first: what the facts below are worth
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)
        layout.addWidget(self._message)
        layout.addLayout(add_row)
        self.setAccessibleName("Memory")

        self.add_button.clicked.connect(self._add)
        self.key_edit.returnPressed.connect(self._add)
        self.value_edit.returnPressed.connect(self._add)
        self.delete_button.clicked.connect(self.delete_selected)
        QShortcut(QKeySequence.StandardKey.Delete, self.view, self.delete_selected,
                  context=Qt.ShortcutContext.WidgetShortcut)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.edited.connect(self._on_edited)
        self.model.pinned.connect(self.factPinned)
        self.model.rejected.connect(self.show_message)
        self._update_summary()

    # --- public API --------------------------------------------------------------------

    def set_retention(self, measured: dict) -> None:
        """What memory kept of the facts left out, at the last fold."""
        self.retention.set_figure(measured.get("memory") if measured else None)

    def set_counting(self, counting: Counting) -> None:
        """How the request counts (encoding, exactness, chat framing): the total."""
        self._counting = counting
        self._update_summary()

    def set_facts(self, facts: list[MemoryFact], encoding: str,
                  session_id: int | None = None) -> None:
        """Show `facts`, costed in `encoding`. `session_id` is the open session's id,
        given to session facts added here until the store's version arrives."""
        self._session_id = session_id
        self.model.set_facts(facts, encoding)
        self._update_summary()

    def cost(self) -> Cost:
        """The memory message these facts make, as the request sends it."""
        return self._counting.under(self.model.encoding).memory(self.model.facts())

    def total_text(self) -> str:
        return self._summary.text()

    def facts(self) -> list[MemoryFact]:
        return self.model.facts()

    def message(self) -> str:
        return self._message.text()

    def show_message(self, text: str, warning: bool = True) -> None:
        """A one-line note under the table (a rejected edit, a failed save)."""
        color = warning_color(is_dark(self)).name() if warning else ""
        set_style_sheet(self._message, f"color: {color};" if color else "")
        self._message.setText(text)
        self._message.setVisible(bool(text))

    def delete_selected(self) -> None:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()}, reverse=True)
        for row in rows:
            fact = self.model.remove(row)
            self.factDeleted.emit(fact.key)
        if rows:
            self._update_summary()
            self.show_message("")

    # --- internals ---------------------------------------------------------------------

    def _fit_view(self) -> None:
        """The table shows at least five rows (the column scrolls instead)."""
        self.view.setMinimumHeight(table_height(
            self.view, 5, self.view.verticalHeader().defaultSectionSize(),
            self.view.horizontalHeader().sizeHint().height()))

    def _add(self) -> None:
        key = self.key_edit.text().strip()
        value = self.value_edit.text().strip()
        if not key:
            self.show_message("A fact needs a key.")
            self.key_edit.setFocus()
            return
        if not value:
            self.show_message(f"“{key}” needs a value.")
            self.value_edit.setFocus()
            return
        if self.model.has_key(key):
            self.show_message(f"A fact named “{key}” already exists; edit it in the table.")
            return
        is_global = self.global_check.isChecked()
        # shown at once; the controller's set_facts later brings the stored version
        session = self._session_id if self._session_id is not None else UNSAVED_SESSION
        self.model.append(MemoryFact(key, value, session_id=None if is_global else session))
        self.factAdded.emit(key, value, is_global)
        self.key_edit.clear()
        self.value_edit.clear()
        self.key_edit.setFocus()
        self.show_message("")
        self._update_summary()

    def _on_edited(self, old_key: str, fact: MemoryFact) -> None:
        self.show_message("")
        self._update_summary()
        self.factEdited.emit(old_key, fact)

    def _selection_changed(self) -> None:
        self.delete_button.setEnabled(self.view.selectionModel().hasSelection())

    def _update_summary(self) -> None:
        n = self.model.rowCount()
        if n == 0:
            self._summary.setText("No facts yet. Add one below, or let the memory strategy "
                                  "extract them.")
            self._summary.setToolTip("")
        else:
            pinned = sum(1 for f in self.model.facts() if f.pinned)
            cost = self.cost()
            text = (f"{n} fact{'s' if n != 1 else ''} · {format_tokens(cost.total)} tokens "
                    "in the request")
            if pinned:
                text += f" · {pinned} pinned"
            self._summary.setText(text)
            self._summary.setToolTip(cost.describe("header and facts") + "\n" + PART_HELP)
        muted = blend(self.palette().color(self.foregroundRole()),
                      self.palette().color(self.backgroundRole()), 0.7)
        set_style_sheet(self._summary, f"color: {muted.name()};")
