"""The session list's rows: the titles in a QStringListModel, so that the view's layout
of every row (its row count and indexes, asked for each row at each change) runs in C++,
and a proxy over it that adds the rest of each Session (its subtitle, tooltip, font),
made only for the rows the view paints. A list of 10,000 sessions (a whole ChatGPT
history imported) is replaced after every reply: QStandardItems made for every session
took 94 ms at 3,000 sessions and 370 ms at 10,000 on the GUI thread, and a model written
wholly in Python still spent 36-48 ms at 10,000 rows in the layout's calls of rowCount."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QIdentityProxyModel,
    QModelIndex,
    QPersistentModelIndex,
    QStringListModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont

from desktop_app.core.text import reveal_controls

if TYPE_CHECKING:
    from desktop_app.core.records import Session

SessionIdRole = Qt.ItemDataRole.UserRole + 1
MessageIdRole = Qt.ItemDataRole.UserRole + 2
SubtitleRole = Qt.ItemDataRole.UserRole + 3

_Index = QModelIndex | QPersistentModelIndex
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_EDIT = int(Qt.ItemDataRole.EditRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_ID, _SUBTITLE = int(SessionIdRole), int(SubtitleRole)
FEW_CHANGED = 50  # more rows changed than this: the list is replaced (laid out in batches)
_TEXT_ROLES = [_DISPLAY, _EDIT, _SUBTITLE, _TOOLTIP, _ACCESSIBLE, _FONT]


def describe_when(when: datetime | None, now: datetime | None = None) -> str:
    """'14:05' today, 'Mon' this week, '3 Mar' this year, else '3 Mar 2023'."""
    if when is None:
        return ""
    now = now or datetime.now(when.tzinfo)
    days = (now.date() - when.date()).days
    if days <= 0:
        return when.strftime("%H:%M")
    if days < 7:
        return when.strftime("%a")
    if when.year == now.year:
        return f"{when.day} {when.strftime('%b')}"
    return f"{when.day} {when.strftime('%b %Y')}"


def session_subtitle(s: Session) -> str:
    parts = [f"{s.message_count:,} message{'s' if s.message_count != 1 else ''}"]
    when = describe_when(s.updated_at or s.created_at)
    if when:
        parts.append(when)
    if s.archived:
        parts.append("archived")
    return " · ".join(parts)


def _shown(s: Session) -> tuple[Any, ...]:
    """What a row shows of its session (its title, subtitle, tooltip and font)."""
    return (s.title, s.message_count, s.updated_at, s.created_at, s.archived, s.model)


class SessionsModel(QIdentityProxyModel):
    """Sessions newest first; a title edited in place is announced with `renamed`
    (an empty one is no title: the old one stays)."""

    renamed = Signal(int, str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._titles = QStringListModel(self)
        self.setSourceModel(self._titles)
        self._rows: list[Session] = []
        self._row_of: dict[int | None, int] = {}
        self._italic: QFont | None = None

    # --- contents ---------------------------------------------------------------------
    def set_sessions(self, sessions: Sequence[Session]) -> None:
        """The list as it is now. The same sessions in the same order (a reply changed a
        count or a time) are changed in place, which keeps the reader's place in the
        list and the selection; any other list replaces the rows."""
        rows = list(sessions)
        if [s.id for s in rows] == [s.id for s in self._rows]:
            changed = [row for row, (was, now) in enumerate(zip(self._rows, rows, strict=True))
                       if _shown(was) != _shown(now)]
            if len(changed) <= FEW_CHANGED:
                self._rows = rows
                for row in changed:
                    self._titles.setData(self._titles.index(row, 0), rows[row].title)
                    index = self.index(row, 0)
                    self.dataChanged.emit(index, index, _TEXT_ROLES)
                return
        self._rows = rows
        self._row_of = {s.id: row for row, s in enumerate(rows)}
        self._titles.setStringList([s.title for s in rows])  # a reset, through the proxy

    def session(self, row: int) -> Session:
        return self._rows[row]

    def row_of(self, session_id: int | None) -> int | None:
        return self._row_of.get(session_id)

    def sessions(self) -> list[Session]:
        return list(self._rows)

    # --- the view's questions (for the rows it paints) ----------------------------------
    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return (Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsEditable)

    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        role = int(role)
        if role in (_DISPLAY, _EDIT):
            return super().data(index, role)
        s = self._rows[index.row()]
        if role == _ID:
            return s.id
        if role == _SUBTITLE:
            return session_subtitle(s)
        if role == _TOOLTIP:
            # here, not at the top: the context panel's module is made after the first paint
            from desktop_app.ui.context_panel import plain_tooltip

            return plain_tooltip(reveal_controls(
                f"{s.title}\n{session_subtitle(s)}\nModel: {s.model}"))
        if role == _ACCESSIBLE:
            return f"{s.title}, {session_subtitle(s)}"
        if role == _FONT and s.archived:
            if self._italic is None:
                self._italic = QFont()
                self._italic.setItalic(True)
            return self._italic
        return None

    def setData(self, index: _Index, value: Any, role: int = _EDIT) -> bool:
        if not index.isValid() or int(role) != _EDIT:
            return False
        s = self._rows[index.row()]
        title = str(value).strip()
        if not title or title == s.title:
            return False
        # shown at once; the list the controller sends after the rename confirms it
        self._rows[index.row()] = replace(s, title=title)
        self._titles.setData(self._titles.index(index.row(), 0), title)
        if s.id is not None:
            self.renamed.emit(s.id, title)
        return True
