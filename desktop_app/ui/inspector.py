"""The context inspector: exactly what the next request sends, message by message, and
what was left out (summarized or dropped) and why. Both lists are virtual item models
over the assembled request: a row's cells are made from the request's arrays and the
session's messages when the view shows it, so 300,000 messages left out cost nothing
until they scroll into view."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QModelRoleDataSpan,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QStyle,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.budget import COMPONENTS
from desktop_app.core.counting import Counting
from desktop_app.core.glossary import state_label
from desktop_app.core.records import NOT_READ
from desktop_app.ui.gauge import format_percent, format_tokens
from desktop_app.ui.palette import (
    LABELS,
    blend,
    component_color,
    is_dark,
    ok_color,
    warning_color,
)
from desktop_app.ui.retention_line import is_low
from desktop_app.ui.sizing import (
    WIDEST_TOKENS,
    column_width,
    editor_height,
    item_row_height,
    scroll_bar_extent,
    table_height,
)
from desktop_app.ui.theme import set_style_sheet

if TYPE_CHECKING:
    from desktop_app.core.assemble import AssembledRequest
    from desktop_app.core.prefix import PrefixKept
    from desktop_app.core.records import Message

PREVIEW_CHARS = 160
MIN_ROWS = 5  # each table shows at least this many rows (the column scrolls instead)
TOOLTIP_CHARS = 1500
_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
# made once: or-ing two Qt flags is a Python enum operation (most of a cell's cost)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_ACCESSIBLE = int(Qt.ItemDataRole.AccessibleTextRole)
_ANSWERED = frozenset({_DISPLAY, _DECORATION, _TOOLTIP, _ALIGNMENT, _FOREGROUND, _ACCESSIBLE})


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """One line of a message: whitespace folded, cut at `limit` characters."""
    head = " ".join(text[: limit * 2].split())
    return head if len(head) <= limit and len(text) <= limit * 2 else head[:limit].rstrip() + "…"


def tooltip_text(text: str) -> str:
    return text if len(text) <= TOOLTIP_CHARS else text[:TOOLTIP_CHARS] + "\n…"


def content_text(chat: dict[str, Any]) -> str:
    """The text of a chat message's content (content parts joined)."""
    content = chat.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "[image]")) if isinstance(p, dict) else str(p) for p in content
        )
    return "" if content is None else str(content)


class _Row:
    """A message in the table, made when the row is shown. `tokens` is its figure in the
    request, chat framing included (None: counted when first shown)."""

    __slots__ = ("component", "name", "number", "ordinal", "reason", "role", "state", "text",
                 "tokens")
    _FIELDS = __slots__

    def __init__(self, number: int | None, component: str, role: str, tokens: int | None,
                 text: str, state: str = "", reason: str = "", name: str | None = None,
                 ordinal: int | None = None) -> None:
        self.number = number  # 1 + the message's index in the messages assembled
        self.ordinal = ordinal or number  # its place in the session, as the "#" shows
        self.component = component
        self.role = role
        self.tokens = tokens
        self.text = text
        self.state = state
        self.reason = reason
        self.name = name

    def same_as(self, other: _Row) -> bool:
        """Whether `other` shows the same in every column (its text compared last)."""
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)


class _Rows:
    """The rows of a table, made one at a time on demand: a table over 300,000 messages
    holds a reference to the request, not 300,000 rows."""

    def __len__(self) -> int:
        return 0

    def row(self, r: int) -> _Row:
        raise IndexError(r)


def _ordinals(req: AssembledRequest, messages: Sequence[Message]
              ) -> Callable[[int], int | None]:
    """The "#" of the message at an index: its place in the session. When the older
    messages were not read (req.older), the index is not that place; the stored
    position is."""
    if req.older is None:
        return lambda i: i + 1

    def ordinal(i: int) -> int | None:
        position = messages[i].position if i < len(messages) else None
        return None if position is None else position + 1

    return ordinal


class _SentRows(_Rows):
    """One row per section the request sends; a history section names its message and
    whether it was pinned."""

    def __init__(self, req: AssembledRequest, messages: Sequence[Message] = ()) -> None:
        self._req = req
        self._ordinal = _ordinals(req, messages)
        index = req.row_index()
        # history sections follow the kept and pinned messages in order: they pair up
        # when there are as many of each
        paired = len(index.history) == len(index.history_sections)
        self._history = index.history if paired else None
        self._sections = index.history_sections

    def __len__(self) -> int:
        return len(self._req.sections)

    def row(self, r: int) -> _Row:
        comp, chat, tokens = self._req.sections[r]
        number, state, ordinal = None, "", None
        if comp == "history" and self._history is not None:
            k = bisect_left(self._sections, r)
            if k < len(self._sections) and self._sections[k] == r:
                i = self._history[k]
                number, state, ordinal = i + 1, self._req.states[i], self._ordinal(i)
        name = chat.get("name")
        return _Row(number, comp, str(chat.get("role", "")), tokens, content_text(chat),
                    state, name=str(name) if name else None, ordinal=ordinal)


class _LeftOutRows(_Rows):
    """One row per message summarized, folding or dropped, with the figure it would
    cost in the request (as its card says); first, when the older messages of a long
    session were not read (req.older), one row for all of them."""

    def __init__(self, req: AssembledRequest, messages: Sequence[Message],
                 counting: Counting, read: ReadTexts | None = None,
                 on_read: Callable[[], None] | None = None) -> None:
        self._req = req
        self._messages = messages
        self._counting = counting
        self._read = read
        self._on_read = on_read or (lambda: None)
        self._asked: set[int] = set()  # blocks of rows whose texts are being read
        self._ordinal = _ordinals(req, messages)
        self._older = 1 if req.older is not None else 0  # the older messages' row
        left = req.row_index().left_out
        # the inclusion list and the messages normally agree; never index past either
        self._left = left if not left or left[-1] < len(messages) else \
            left[:bisect_left(left, len(messages))]

    def __len__(self) -> int:
        return self._older + len(self._left)

    @property
    def messages_left_out(self) -> int:
        older = self._req.older
        return len(self._left) + (older.messages if older is not None else 0)

    def row(self, r: int) -> _Row:
        older = self._req.older
        if self._older and r == 0 and older is not None:
            n = older.messages
            return _Row(None, "history", "", older.tokens,
                        f"{n:,} older message{'s' if n != 1 else ''}: none of them can be "
                        "sent, so they are not read here. Scroll back in the conversation "
                        "to read them.", older.state, older.reason)
        r -= self._older
        i = self._left[r]
        m = self._messages[i]
        if m.content is NOT_READ and self._read is not None and r // READ_AHEAD not in self._asked:
            # the preview did not read the texts of messages it could not send: ask for a
            # block of rows at once, off the GUI thread; the row shows "…" until they come
            block = r // READ_AHEAD
            self._asked.add(block)
            left, messages = self._left, self._messages
            start = block * READ_AHEAD
            self._read([messages[left[k]]
                        for k in range(start, min(start + READ_AHEAD, len(left)))],
                       self._on_read)
        cost = self._counting.of_message(m)
        return _Row(i + 1, "history", m.role, None if cost is None else cost.total,
                    m.content, self._req.states[i], self._req.reasons[i], m.name,
                    self._ordinal(i))


READ_AHEAD = 64  # left-out rows whose texts are read at once, when first shown
# reads the texts of the messages given that were read without them (in place), off the
# GUI thread, then calls back on it
ReadTexts = Callable[[Sequence["Message"], Callable[[], None]], None]

ROW_CACHE = 512  # rows kept made: a few screens of both tables


class _RowsModel(QAbstractTableModel):
    """A read-only table with the given columns over _Rows; a row's cells are made when
    the view asks for them, and only the rows lately shown are kept."""

    def __init__(self, columns: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._columns = list(columns)
        self._rows: _Rows = _Rows()
        self._made: dict[int, _Row] = {}
        self.counting = Counting()
        self._chips: dict[str, QPixmap] = {}
        self._muted = QColor()
        self._dark = False

    @property
    def rows(self) -> _Rows:
        return self._rows

    def set_rows(self, rows: _Rows, counting: Counting) -> set[int] | None:
        """Show `rows`. With as many rows as before, of the same kind, counted the same
        way, they take the place of the old ones and only the rows shown lately whose
        content changed are painted again (a preview follows every pause in typing and
        mostly changes a row or none); the rows changed, or None when the table was
        made anew."""
        old = self._rows
        if (type(rows) is not type(old) or len(rows) != len(old) or not len(rows)
                or counting != self.counting):
            self.beginResetModel()
            self._rows = rows
            self._made = {}
            self.counting = counting
            self.endResetModel()
            return None
        shown, self._made, self._rows = self._made, {}, rows
        changed = set()
        for r, before in shown.items():
            after = self.row(r)
            if before.tokens is not None:
                self.tokens(after)
            if not before.same_as(after):
                changed.add(r)
        if changed:
            self.dataChanged.emit(self.index(min(changed), 0),
                                  self.index(max(changed), len(self._columns) - 1))
        return changed

    def refresh(self) -> None:
        """The rows' data changed (texts read later): made again when next shown."""
        self._made = {}
        n = self.rowCount()
        if n:
            self.dataChanged.emit(self.index(0, 0), self.index(n - 1, self.columnCount() - 1))

    def set_theme(self, dark: bool, muted: QColor, chip_size: int) -> None:
        self._dark = dark
        self._muted = muted
        self._chips = {}
        for comp in LABELS:
            pix = QPixmap(chip_size, chip_size)
            pix.fill(component_color(comp, dark))
            self._chips[comp] = pix
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1,
                                                               len(self._columns) - 1))

    def row(self, r: int) -> _Row:
        made = self._made.get(r)
        if made is None:
            if len(self._made) >= ROW_CACHE:
                self._made.clear()
            made = self._made[r] = self._rows.row(r)
        return made

    def tokens(self, row: _Row) -> int:
        if row.tokens is None:  # counted when first shown; count_text keeps the result
            row.tokens = self.counting.of_text(row.role, row.text, row.name).total
        return row.tokens

    def tokens_tip(self, row: _Row) -> str:
        """How the row's figure splits into content and chat framing."""
        return self.counting.split(row.role, self.tokens(row), row.name).describe()

    def rowCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._columns[section]
        if (orientation == Qt.Orientation.Horizontal
                and role == Qt.ItemDataRole.TextAlignmentRole
                and self._columns[section] in ("#", "Tokens")):
            return _RIGHT
        return None

    def multiData(self, index: _Index, roles: QModelRoleDataSpan) -> None:
        """A painted cell's seven roles in one call from Qt, not seven calls of data():
        each call from Qt takes the GIL, and waits for it while a worker runs Python (a
        table painted beside the preview's read took twice as long)."""
        data = self.data
        for wanted in roles:
            wanted.setData(data(index, wanted.role()))

    def data(self, index: _Index, role: int = _DISPLAY) -> Any:
        # roles not answered are turned away first, and roles are compared as the ints
        # Qt passes
        if role not in _ANSWERED or not index.isValid():
            return None
        column = self._columns[index.column()]
        if role == _FOREGROUND:
            return self._muted if column in ("#", "Role", "State") else None
        if role == _ALIGNMENT:
            return _RIGHT if column in ("#", "Tokens") else None
        row = self.row(index.row())
        if role == _DISPLAY:
            if column == "#":
                return "" if row.ordinal is None else str(row.ordinal)
            if column == "Component":
                label = LABELS.get(row.component, row.component)
                return f"{label} (pinned)" if row.state == "pinned" else label
            if column == "Role":
                return row.role
            if column == "Tokens":
                return format_tokens(self.tokens(row))
            if column == "State":
                return state_label(row.state)
            if column == "Reason":
                return row.reason
            if column == "Content":
                return preview(row.text)
        elif role == _DECORATION:
            return self._chips.get(row.component) if column == "Component" else None
        elif role == _TOOLTIP:
            if column == "Reason":
                return row.reason
            if column == "Tokens":
                return self.tokens_tip(row)
            if column in ("Content", "Component", "Role"):
                return tooltip_text(row.text) or "(empty)"
        elif role == _ACCESSIBLE:
            return f"{column}: {self.data(index)}"
        return None


SENT_COLUMNS = ("#", "Component", "Role", "Tokens", "Content")
# the widest value a figure column shows, and the longest name a sent row's component has
FIGURE_SAMPLES = {"#": ("00000",), "Tokens": (WIDEST_TOKENS,)}
COMPONENT_SAMPLES = tuple(f"{LABELS[c]} (pinned)" if c == "history" else LABELS[c]
                          for c in COMPONENTS if c != "reply_reserve")
LEFT_OUT_COLUMNS = ("#", "Role", "State", "Tokens", "Reason", "Content")
LEFT_OUT_STATES = frozenset({"summarized", "folding", "dropped"})


class _TableView(QTableView):
    """The tables: a QTableView, which lays out 300,000 rows of one height without
    asking the model about each (a QTreeView asks every row for its children)."""

    def header(self) -> QHeaderView:
        return self.horizontalHeader()


class ContextInspector(QWidget):
    """Shows an AssembledRequest: totals, the messages sent, those left out, and the
    full text of the selected one."""

    messageSelected = Signal(int)  # index into the session's messages

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._request: AssembledRequest | None = None
        self._messages: Sequence[Message] = ()
        # reads the texts the preview left unread (set by the window's wiring)
        self.read_texts: ReadTexts | None = None
        self._counting = Counting()

        self._totals = QLabel("Nothing assembled yet.")
        self._totals.setTextFormat(Qt.TextFormat.PlainText)
        totals_font = QFont(self._totals.font())
        totals_font.setWeight(QFont.Weight.DemiBold)
        self._totals.setFont(totals_font)
        self._totals.setWordWrap(True)
        self._totals.setAccessibleName("Request totals")
        self._totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._status = QLabel()
        self._status.setTextFormat(Qt.TextFormat.PlainText)
        self._status.setWordWrap(True)
        self._status.setAccessibleName("Does the request fit")
        self._status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # warnings (a component over its share, an example left out) in the warning
        # colour, apart from the line that says the request fits
        self._warnings = QLabel()
        self._warnings.setTextFormat(Qt.TextFormat.PlainText)
        self._warnings.setWordWrap(True)
        self._warnings.setAccessibleName("Warnings about the request")
        self._warnings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._warnings.hide()
        # what the summary and memory keep of the facts in the messages left out
        self._retention = QLabel()
        self._retention.setTextFormat(Qt.TextFormat.PlainText)
        self._retention.setWordWrap(True)
        self._retention.setAccessibleName("What memory and the summary keep")
        self._retention.hide()
        # how much of the request repeats the last one sent (a prompt cache reuses it)
        self._prefix = QLabel()
        self._prefix.setTextFormat(Qt.TextFormat.PlainText)
        self._prefix.setWordWrap(True)
        self._prefix.setAccessibleName("Prefix kept from the last request")
        self._prefix.hide()

        self.sent_model = _RowsModel(SENT_COLUMNS, self)
        self.left_out_model = _RowsModel(LEFT_OUT_COLUMNS, self)
        self.sent_view = self._make_view(self.sent_model, "Messages sent")
        self.left_out_view = self._make_view(self.left_out_model, "Messages left out")
        self._sent_title = self._section_title("Sent")
        self._left_out_title = self._section_title("Left out")

        self._detail_title = self._section_title("Select a message to read it in full")
        self._detail = QPlainTextEdit()
        self._detail.setReadOnly(True)
        self._detail.setAccessibleName("Full text of the selected message")
        self._detail.setPlaceholderText("The full text of the selected message appears here.")
        self._detail.setMinimumHeight(editor_height(self._detail, 3))

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        for title, body in ((self._sent_title, self.sent_view),
                            (self._left_out_title, self.left_out_view),
                            (self._detail_title, self._detail)):
            pane = QWidget()
            box = QVBoxLayout(pane)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(4)
            box.addWidget(title)
            box.addWidget(body)
            splitter.addWidget(pane)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setStretchFactor(2, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(self._totals)
        layout.addWidget(self._status)
        layout.addWidget(self._warnings)
        layout.addWidget(self._retention)
        layout.addWidget(self._prefix)
        layout.addWidget(splitter, 1)
        self.setAccessibleName("Context inspector")
        self._apply_theme()

    # --- public API --------------------------------------------------------------------

    def set_counting(self, counting: Counting) -> None:
        """How messages are counted (encoding, exactness, chat framing): the figures of
        the messages left out, and the split every row explains on hover."""
        self._counting = counting
        if self._request is not None:
            self.set_request(self._request, self._messages, counting.encoding)

    def set_retention(self, measured: dict) -> None:
        """"Memory keeps 23 of 24 facts · the summary 20 of 24", from the last fold."""
        parts = []
        for kind, lead in (("memory", "Memory keeps"), ("summary", "the summary")):
            figure = (measured or {}).get(kind)
            if figure and figure.get("total"):
                parts.append(f"{lead} {figure['kept']} of {figure['total']} facts")
        if parts and not parts[0].startswith("Memory"):
            parts[0] = "The summary keeps" + parts[0][len("the summary"):]
        low = any(is_low((measured or {}).get(k)) for k in ("memory", "summary"))
        text = " · ".join(parts) + (" from the messages left out" if parts else "")
        self._retention.setText(text + (" — fewer than it should" if low else ""))
        self._retention.setVisible(bool(parts))
        dark = is_dark(self)
        color = warning_color(dark) if low else blend(
            self.palette().color(self.foregroundRole()),
            self.palette().color(self.backgroundRole()), 0.65)
        set_style_sheet(self._retention, f"color: {color.name()};")

    def set_prefix(self, kept: PrefixKept | None) -> None:
        """"Prefix kept: 94% (2,870 of 3,050 tokens as in the last request sent)"."""
        if kept is None or not kept.total:
            self._prefix.hide()
            return
        self._prefix.setText(kept.describe()[:1].upper() + kept.describe()[1:])
        self._prefix.setToolTip("A server with a prompt cache (OpenAI, llama.cpp) reads "
                                "again only what follows the part a request shares with "
                                "the one before. The stable prefix option keeps it large.")
        self._prefix.show()

    def prefix_text(self) -> str:
        return self._prefix.text() if not self._prefix.isHidden() else ""

    def retention_text(self) -> str:
        return self._retention.text()

    def set_request(self, req: AssembledRequest | None, messages: Sequence[Message],
                    encoding: str = "o200k_base") -> None:
        """Show what `req` sends. `messages` are the session's messages the request was
        assembled from (same order as its inclusion list); the ones left out are shown
        with the figure they would cost in the request (under `encoding`)."""
        self._request = req
        self._messages = messages
        counting = self._counting.under(encoding)
        if req is None:
            self.sent_model.set_rows(_Rows(), counting)
            self.left_out_model.set_rows(_Rows(), counting)
            self._totals.setText("Nothing assembled yet.")
            self._status.clear()
            self._warnings.clear()
            self._warnings.hide()
            self._update_titles()
            return
        kept = [self._keeps_selection(view, model.set_rows(rows, counting))
                for view, model, rows in (
                    (self.sent_view, self.sent_model, _SentRows(req, messages)),
                    (self.left_out_view, self.left_out_model, _LeftOutRows(
                        req, messages, counting, self.read_texts,
                        self.left_out_model.refresh)))]
        self._update_totals(req)
        self._update_titles()
        if not all(kept):
            self._detail.clear()
            self._detail_title.setText("Select a message to read it in full")

    @staticmethod
    def _keeps_selection(view: _TableView, changed: set[int] | None) -> bool:
        """Whether the row selected in `view` (if any) still shows what it showed; when
        not, nothing stays selected there."""
        current = view.selectionModel().currentIndex()
        if changed is not None and not (current.isValid() and current.row() in changed):
            return True
        view.selectionModel().clear()
        return False

    def sent_rows(self) -> list[tuple[str, str, int, str]]:
        """(component, role, tokens, text) per message sent, in order."""
        m = self.sent_model
        return [(r.component, r.role, m.tokens(r), r.text)
                for r in (m.row(i) for i in range(m.rowCount()))]

    def left_out_rows(self) -> list[tuple[int, str, str]]:
        """(message index, state, reason) per message left out."""
        m = self.left_out_model
        return [((r.number or 0) - 1, r.state, r.reason)
                for r in (m.row(i) for i in range(m.rowCount()))]

    def left_out_tokens(self) -> dict[int, int]:
        """{message index: its figure} per message left out (shown in its Tokens cell)."""
        m = self.left_out_model
        return {(r.number or 0) - 1: m.tokens(r)
                for r in (m.row(i) for i in range(m.rowCount()))}

    def totals_text(self) -> str:
        return self._totals.text()

    def status_text(self) -> str:
        """Whether the request fits, then its warnings, one a line."""
        return "\n".join(t for t in (self._status.text(), self._warnings.text()) if t)

    def detail_text(self) -> str:
        return self._detail.toPlainText()

    # --- totals ---------------------------------------------------------------------

    def _update_totals(self, req: AssembledRequest) -> None:
        report = req.report
        kind = "exact" if req.exact else "estimated"
        sent = len(req.sections)
        # no-break spaces keep each part whole where the line wraps: never "messages"
        # alone on the next line
        self._totals.setText(
            f"{format_tokens(req.tokens)} prompt tokens ({kind}) "
            f"+\u00a0{format_tokens(req.max_tokens)}\u00a0reply\u00a0reserve\u00a0· "
            f"{sent}\u00a0message{'s' if sent != 1 else ''}"
        )
        dark = is_dark(self)
        if req.fits and report.fits:
            color = ok_color(dark).name()
            text = (f"Fits the {format_tokens(report.window)}-token window "
                    f"({format_percent(report.utilization)} used).")
        else:
            color = warning_color(dark).name()
            text = req.problem or (f"Does not fit: {format_tokens(report.used)} tokens "
                                   f"for a {format_tokens(report.window)}-token window.")
        set_style_sheet(self._status, f"color: {color};")
        self._status.setText(text)
        set_style_sheet(self._warnings, f"color: {warning_color(dark).name()};")
        self._warnings.setText("\n".join(f"• {w}" for w in req.warnings))
        self._warnings.setVisible(bool(req.warnings))

    def _update_titles(self) -> None:
        sent = self.sent_model.rowCount()
        rows = self.left_out_model.rows
        left = rows.messages_left_out if isinstance(rows, _LeftOutRows) else len(rows)
        self._sent_title.setText(f"Sent · {sent} message{'s' if sent != 1 else ''}")
        if left:
            self._left_out_title.setText(f"Left out · {left:,} (summarized, to be folded "
                                         "or dropped)")
        else:
            self._left_out_title.setText("Left out · nothing")

    # --- widgets -----------------------------------------------------------------------

    def _section_title(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.PlainText)
        # wraps: a selected message's title carries its reason, which may be long, and
        # an unwrapped label would widen the whole panel past its pane
        label.setWordWrap(True)
        font = QFont(label.font())
        font.setBold(True)
        label.setFont(font)
        return label

    def _make_view(self, model: _RowsModel, name: str) -> _TableView:
        view = _TableView()
        view.setModel(model)
        view.verticalHeader().hide()
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.setCornerButtonEnabled(False)
        view.setAlternatingRowColors(True)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.setTextElideMode(Qt.TextElideMode.ElideRight)
        view.setAccessibleName(name)
        header = view.header()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        fm = view.fontMetrics()
        widths = {"#": fm.horizontalAdvance("00000"), "Component": fm.horizontalAdvance(
            "Current input (pinned)") + fm.height() * 2, "Role": fm.horizontalAdvance(
            "assistant") + fm.height(), "Tokens": fm.horizontalAdvance("000,000") + fm.height(),
            "State": fm.horizontalAdvance(state_label("folding")) + fm.height(),
            "Reason": fm.horizontalAdvance("outside the history budget") + fm.height()}
        for col, title in enumerate(model._columns):
            if title in widths:
                view.setColumnWidth(col, widths[title])
        self._fit_view(view)
        view.selectionModel().currentRowChanged.connect(
            lambda current, _previous, m=model: self._show_detail(m, current))
        return view

    def _fit_view(self, view: _TableView) -> None:
        """The figure columns (# and Tokens) as wide as their widest value and fixed, the
        component's as wide as its longest name; the view at least as wide as its
        columns up to Tokens (a figure is never cut at the view's edge, with or without
        the scroll bar) and as tall as MIN_ROWS rows."""
        columns = view.model()._columns  # type: ignore[attr-defined]
        header = view.header()
        for col, title in enumerate(columns):
            if title in FIGURE_SAMPLES:
                view.setColumnWidth(col, column_width(view, col, FIGURE_SAMPLES[title]))
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            elif title == "Component":  # a colour chip, then the name
                chip = view.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize, None, view)
                view.setColumnWidth(col, column_width(view, col, COMPONENT_SAMPLES) + chip + 4)
        tokens = columns.index("Tokens")
        view.setMinimumWidth(sum(view.columnWidth(c) for c in range(tokens + 1))
                             + 2 * view.frameWidth() + scroll_bar_extent(view))
        row = item_row_height(view, decorated="Component" in columns)
        rows = view.verticalHeader()  # every row one line high: nothing is measured
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setMinimumSectionSize(1)
        rows.setDefaultSectionSize(row)
        view.setMinimumHeight(table_height(view, MIN_ROWS, row, header.sizeHint().height()))

    def _show_detail(self, model: _RowsModel, current: QModelIndex) -> None:
        if not current.isValid():
            return
        row = model.row(current.row())
        other = self.left_out_view if model is self.sent_model else self.sent_view
        other.selectionModel().clearSelection()
        where = f"Message {row.ordinal} · " if row.ordinal else ""
        label = LABELS.get(row.component, row.component)
        self._detail_title.setText(
            f"{where}{label} · {row.role} · {format_tokens(model.tokens(row))} tokens"
            + (f" · {state_label(row.state)}: {row.reason}" if row.reason else ""))
        self._detail.setPlainText(row.text)
        if row.number:
            self.messageSelected.emit(row.number - 1)

    def _apply_theme(self) -> None:
        dark = is_dark(self)
        text = self.palette().color(self.foregroundRole())
        muted = blend(text, self.palette().color(self.backgroundRole()), 0.65)
        chip = max(8, round(self.fontMetrics().ascent() * 0.8))
        for model in (self.sent_model, self.left_out_model):
            model.set_theme(dark, muted, chip)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
            if self._request is not None:
                self._update_totals(self._request)
        elif event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            for view in (self.sent_view, self.left_out_view):
                self._fit_view(view)
            self._detail.setMinimumHeight(editor_height(self._detail, 3))
        super().changeEvent(event)
