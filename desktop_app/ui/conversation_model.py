"""The conversation's list model: the loaded page of a session's messages (oldest
first), each one's state in the next request and its figure (its tokens in the next
request, chat framing included), and the actions a message offers (shared by the
card's hover buttons and the view's context menu)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

if TYPE_CHECKING:
    from desktop_app.core.counting import Cost, Counting
    from desktop_app.core.records import Message

MessageRole = Qt.ItemDataRole.UserRole + 1

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}
ACTION_LABELS = {
    "copy": "Copy",
    "pin": "Pin",
    "unpin": "Unpin",
    "exclude": "Exclude",
    "include": "Include",
    "edit": "Edit",
    "resend": "Resend",
    "retry": "Retry",
}


def message_actions(m: Message) -> list[str]:
    """The actions a message offers, in the order they are shown."""
    actions = ["copy", "unpin" if m.pinned else "pin", "include" if m.excluded else "exclude"]
    if m.role == "user":
        actions += ["edit", "resend"]
    elif m.role == "assistant":
        actions.append("edit")
    return actions


def needs_retry(m: Message) -> bool:
    return m.role == "assistant" and m.status in ("interrupted", "error")


class ConversationModel(QAbstractListModel):
    """The loaded page of a session's messages (oldest first), the inclusion state of
    each in the next request, and how their tokens are counted."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.messages: list[Message] = []
        self.has_more = False
        self.inclusion: Mapping[int, tuple[str, str]] = {}
        self._counting: Counting | None = None

    # --- Qt model API ---------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.messages)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        m = self.messages[index.row()]
        if role == MessageRole:
            return m
        if role == Qt.ItemDataRole.DisplayRole:
            return m.content
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{ROLE_TITLES.get(m.role, m.role)}: {m.content[:300]}"
        return None

    # --- changes --------------------------------------------------------------------
    def reset(self, messages: Iterable[Message], has_more: bool) -> None:
        self.beginResetModel()
        self.messages = list(messages)
        self.has_more = has_more
        self.endResetModel()

    def prepend(self, messages: list[Message], has_more: bool) -> None:
        self.has_more = has_more
        if not messages:
            return
        self.beginInsertRows(QModelIndex(), 0, len(messages) - 1)
        self.messages[0:0] = messages
        self.endInsertRows()

    def append(self, message: Message) -> None:
        row = self.row_of(message.id)
        if row is not None:
            self.replace(message)
            return
        n = len(self.messages)
        self.beginInsertRows(QModelIndex(), n, n)
        self.messages.append(message)
        self.endInsertRows()

    def replace(self, message: Message) -> int | None:
        row = self.row_of(message.id)
        if row is not None:
            self.messages[row] = message
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)
        return row

    def remove(self, message_id: int) -> None:
        row = self.row_of(message_id)
        if row is not None:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.messages[row]
            self.endRemoveRows()

    def row_of(self, message_id: int | None) -> int | None:
        if message_id is None:
            return None
        for row in range(len(self.messages) - 1, -1, -1):  # recent messages change most
            if self.messages[row].id == message_id:
                return row
        return None

    def set_inclusion(self, inclusion: Mapping[int, tuple[str, str]]) -> None:
        """A new preview's states: only the cards whose state changed are painted again
        (a preview follows every pause in typing, and mostly changes none)."""
        before = [self.state_of(m) for m in self.messages]
        self.inclusion = inclusion
        changed = [row for row, m in enumerate(self.messages)
                   if self.state_of(m) != before[row]]
        if changed:
            self.dataChanged.emit(self.index(changed[0]), self.index(changed[-1]))

    @property
    def counting(self) -> Counting:
        """How the next request counts, as the controller last said; until it says,
        the default (made on first use: the counting modules, about 40 ms to import,
        are not among what the window's first paint waits for)."""
        if self._counting is None:
            from desktop_app.core.counting import Counting

            self._counting = Counting()
        return self._counting

    def set_counting(self, counting: Counting) -> None:
        if counting == self.counting:
            return
        self._counting = counting
        self._all_changed()

    def take_counts(self, _request: Any, counted: list[Message], encoding: str) -> None:
        """Counts a preview made under `encoding` (a new model, or a server that named
        its own vocabulary) for the loaded messages that lack them: the cards show
        their figure without reopening the session."""
        # only the loaded messages are looked for (a page, not the session): usually
        # none lacks a count, and those that do are among the newest
        missing = {m.id: m for m in self.messages
                   if m.id is not None and encoding not in m.token_counts}
        changed = False
        for m in reversed(counted):
            if not missing:
                break
            mine = missing.pop(m.id, None) if m.id is not None else None
            n = None if mine is None else m.token_counts.get(encoding)
            if mine is not None and n is not None:
                mine.token_counts[encoding] = n
                changed = True
        if changed:
            self._all_changed()

    @property
    def encoding(self) -> str:
        return self.counting.encoding

    @property
    def exact(self) -> bool:
        return self.counting.exact

    def _all_changed(self) -> None:
        if self.messages:
            self.dataChanged.emit(self.index(0), self.index(len(self.messages) - 1))

    # --- what a row shows -----------------------------------------------------------
    def state_of(self, m: Message) -> tuple[str, str] | None:
        of_message = getattr(self.inclusion, "of_message", None)  # an InclusionMap's
        if of_message is not None:
            found: tuple[str, str] | None = of_message(m)
            return found
        return self.inclusion.get(m.id) if m.id is not None else None

    def cost_of(self, m: Message) -> Cost | None:
        """The message's tokens in the next request and their split; None until its
        content is counted."""
        return self.counting.of_message(m)

    def tokens_of(self, m: Message) -> int | None:
        """The figure its card shows: content and chat framing, as the request has it."""
        cost = self.counting.of_message(m)
        return None if cost is None else cost.total
