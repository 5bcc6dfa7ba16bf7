"""The conversation: a virtualized list (model, view and delegate; no widget per
message) of Markdown cards with each message's token count, its state in the next
request and its actions, and a live area below it where a reply streams in."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QListView,
    QMenu,
    QPlainTextEdit,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.records import Message
from desktop_app.ui import palette
from desktop_app.ui.markdown import DocumentCache
from desktop_app.ui.theme import paint_top_rule

MessageRole = Qt.ItemDataRole.UserRole + 1

ROLE_TITLES = {"user": "You", "assistant": "Assistant", "system": "System", "tool": "Tool"}
STATE_HELP = {
    "kept": "Kept: sent in full with the next request",
    "pinned": "Pinned: always sent",
    "summarized": "Summarized: its content reaches the model through the summary or memory",
    "dropped": "Dropped: not sent with the next request",
}
STATE_COLORS = {  # (light, dark)
    "kept": ("#2e7d32", "#7bd07f"),
    "pinned": ("#3b6fb6", "#78a5ea"),
    "summarized": ("#a77a06", "#e3bd4d"),
    "dropped": ("#7c838d", "#9aa0a8"),
}
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


def format_tokens(n: int) -> str:
    return f"{n:,} tok" if n < 100_000 else f"{n / 1000:,.0f}k tok"


class ConversationModel(QAbstractListModel):
    """The loaded page of a session's messages (oldest first), the inclusion state of
    each in the next request, and how their tokens are counted."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.messages: list[Message] = []
        self.has_more = False
        self.inclusion: Mapping[int, tuple[str, str]] = {}
        self.encoding = "o200k_base"
        self.exact = True

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
        self.inclusion = inclusion
        self._all_changed()

    def set_counting(self, encoding: str, exact: bool) -> None:
        self.encoding, self.exact = encoding, exact
        self._all_changed()

    def _all_changed(self) -> None:
        if self.messages:
            self.dataChanged.emit(self.index(0), self.index(len(self.messages) - 1))

    # --- what a row shows -----------------------------------------------------------
    def state_of(self, m: Message) -> tuple[str, str] | None:
        return self.inclusion.get(m.id) if m.id is not None else None

    def tokens_of(self, m: Message) -> int | None:
        return m.token_counts.get(self.encoding)


def column_margin(width: int, inset: int = 0) -> int:
    """Side margin that lines an area up with the conversation's cards (`inset`: how far
    inside the card the area's content starts)."""
    return (width - _Layout.card_width(width)) // 2 + inset


class _Layout:
    """Geometry of one card, computed the same way for painting and hit-testing."""

    PAD_X = 14  # card margin from the viewport edge
    PAD_Y = 5
    INNER = 12  # text inset within the card
    HEADER = 22
    MAX_CARD = 920  # lines longer than this are hard to read: wide windows centre the cards

    @classmethod
    def card_width(cls, width: int) -> int:
        return min(width - 2 * cls.PAD_X, cls.MAX_CARD)

    @classmethod
    def text_width(cls, width: int) -> int:
        return max(cls.card_width(width) - 2 * cls.INNER, 60)

    def __init__(self, rect: QRect, header_font: QFontMetrics) -> None:
        card_w = self.card_width(rect.width())
        left = rect.left() + (rect.width() - card_w) // 2
        self.card = QRect(left, rect.top() + self.PAD_Y, card_w, rect.height() - 2 * self.PAD_Y)
        self.header = QRect(
            self.card.left() + self.INNER, self.card.top() + 6,
            self.card.width() - 2 * self.INNER, self.HEADER,
        )
        self.body_left = self.card.left() + self.INNER
        self.body_top = self.header.bottom() + 4
        self.fm = header_font

    def right_items(self, tokens_text: str, badge_text: str | None) -> tuple[QRect, QRect | None]:
        """Rects of the token count and the state badge, packed from the right."""
        right = self.header.right()
        badge = None
        if badge_text:
            w = self.fm.horizontalAdvance(badge_text) + 14
            badge = QRect(right - w + 1, self.header.top() + 2, w, self.header.height() - 4)
            right = badge.left() - 8
        w = self.fm.horizontalAdvance(tokens_text)
        tokens = QRect(right - w + 1, self.header.top(), w, self.header.height())
        return tokens, badge

    def action_rects(self, actions: list[str], right: int) -> list[tuple[str, QRect]]:
        """Hover actions, packed right to left ending at `right`."""
        out: list[tuple[str, QRect]] = []
        x = right
        for action in reversed(actions):
            w = self.fm.horizontalAdvance(ACTION_LABELS[action]) + 14
            out.append((action, QRect(x - w + 1, self.header.top() + 1, w, self.header.height() - 2)))
            x -= w + 4
        out.reverse()
        return out


class MessageDelegate(QStyledItemDelegate):
    """Paints a message as a card: who, token count, inclusion badge, hover actions,
    the Markdown body, and a mark with Retry on an interrupted or failed reply."""

    actionTriggered = Signal(str, object)  # action name, Message

    FOOTER = 26  # the "interrupted / failed" line

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self.documents = DocumentCache()
        self._heights: dict[Any, int] = {}
        self._heights_width = -1
        self._fonts_for(view.font())

    # --- fonts and caches -----------------------------------------------------------
    def _fonts_for(self, font: QFont) -> None:
        self.body_font = QFont(font)
        self.header_font = QFont(font)
        self.header_font.setPointSizeF(max(font.pointSizeF() - 1.0, 7.0))
        self.title_font = QFont(self.header_font)
        self.title_font.setWeight(QFont.Weight.DemiBold)
        self.header_fm = QFontMetrics(self.header_font)

    def reset_caches(self) -> None:
        self.documents.clear()
        self._heights.clear()
        self._fonts_for(self._view.font())

    def forget(self, m: Message) -> None:
        key = self._key(m)
        self.documents.forget(key)
        self._heights.pop(key, None)

    @staticmethod
    def _key(m: Message) -> Any:
        return m.id if m.id is not None else ("unsaved", id(m))

    def _code_background(self, pal: QPalette) -> QColor:
        dark = palette.is_dark(pal)
        return palette.blend(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base),
                             0.10 if dark else 0.06)

    def _document(self, m: Message, width: int, pal: QPalette):
        return self.documents.get(
            self._key(m), m.content or " ", _Layout.text_width(width), self.body_font,
            self._code_background(pal),
        )

    # --- size -----------------------------------------------------------------------
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        m: Message = index.data(MessageRole)
        width = self._view.viewport().width()
        if width != self._heights_width:
            self._heights.clear()
            self._heights_width = width
        key = self._key(m)
        height = self._heights.get(key)
        if height is None:
            doc = self._document(m, width, option.palette)
            height = int(doc.size().height()) + _Layout.HEADER + 6 + 4 + 10 + 2 * _Layout.PAD_Y
            if needs_retry(m):
                height += self.FOOTER
            self._heights[key] = height
        return QSize(width, height)

    # --- painting -------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        m: Message = index.data(MessageRole)
        model: ConversationModel = index.model()  # type: ignore[assignment]
        pal = option.palette
        dark = palette.is_dark(pal)
        lay = _Layout(option.rect, self.header_fm)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)

        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        base = pal.color(QPalette.ColorRole.Base)
        accent = pal.color(QPalette.ColorRole.Highlight)
        if m.role == "user":
            fill = palette.blend(accent, base, 0.16 if dark else 0.09)
        elif m.role == "assistant":
            fill = palette.blend(pal.color(QPalette.ColorRole.Text), base, 0.05 if dark else 0.025)
        else:
            fill = palette.blend(palette.component_color("system_prompt", dark), base, 0.10)
        state = model.state_of(m)
        if m.excluded or (state and state[0] == "dropped"):
            fill = palette.blend(fill, base, 0.55)
        painter.setPen(QPen(accent, 1.5) if selected else QPen(palette.chip_border(dark), 1))
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(lay.card).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        if needs_retry(m):  # a warning stripe down the left edge
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.warning_color(dark))
            painter.drawRoundedRect(QRectF(lay.card.left(), lay.card.top() + 6, 3,
                                           lay.card.height() - 12), 1.5, 1.5)

        # header: who, then (from the right) badge, tokens, and hover actions
        text_color = pal.color(QPalette.ColorRole.Text)
        muted = palette.blend(text_color, base, 0.6)
        painter.setFont(self.title_font)
        painter.setPen(text_color)
        title = ROLE_TITLES.get(m.role, m.role)
        if m.excluded:
            title += "  ·  excluded"
        painter.drawText(lay.header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(self.header_font)
        tokens_text, badge_text = self._header_texts(m, model)
        tokens_rect, badge_rect = lay.right_items(tokens_text, badge_text)
        painter.setPen(muted)
        painter.drawText(tokens_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         tokens_text)
        if badge_rect is not None and state is not None:
            pair = STATE_COLORS.get(state[0], STATE_COLORS["dropped"])
            color = QColor(pair[1] if dark else pair[0])
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.blend(color, base, 0.22 if dark else 0.16))
            painter.drawRoundedRect(QRectF(badge_rect), badge_rect.height() / 2, badge_rect.height() / 2)
            painter.setPen(color)
            painter.drawText(badge_rect, Qt.AlignmentFlag.AlignCenter, badge_text)
        if hovered or selected:
            for action, rect in lay.action_rects(message_actions(m), tokens_rect.left() - 10):
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(palette.blend(text_color, fill, 0.08))
                painter.drawRoundedRect(QRectF(rect), 4, 4)
                painter.setPen(accent if not dark else accent.lighter(130))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, ACTION_LABELS[action])

        # body
        doc = self._document(m, option.rect.width(), pal)
        painter.translate(lay.body_left, lay.body_top)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette = pal
        ctx.palette.setColor(QPalette.ColorRole.Text, text_color)
        clip = QRectF(0, 0, doc.textWidth(), doc.size().height())
        ctx.clip = clip
        painter.setClipRect(clip)
        doc.documentLayout().draw(painter, ctx)
        painter.setClipping(False)
        painter.translate(-lay.body_left, -lay.body_top)

        if needs_retry(m):
            self._paint_retry_line(painter, lay, m, doc.size().height(), dark, pal)
        painter.restore()

    def _header_texts(self, m: Message, model: ConversationModel) -> tuple[str, str | None]:
        n = model.tokens_of(m)
        if n is None:
            tokens_text = "… tok"
        else:
            tokens_text = ("" if model.exact else "~") + format_tokens(n)
        state = model.state_of(m)
        return tokens_text, (state[0] if state else None)

    def _retry_rect(self, lay: _Layout, body_height: float) -> QRect:
        top = lay.body_top + int(body_height) + 6
        return QRect(lay.body_left, top, lay.header.width(), self.FOOTER - 6)

    def _paint_retry_line(self, painter: QPainter, lay: _Layout, m: Message, body_height: float,
                          dark: bool, pal: QPalette) -> None:
        line = self._retry_rect(lay, body_height)
        what = "Interrupted" if m.status == "interrupted" else "Failed"
        detail = f"{what}: {m.error}" if m.error else f"{what} before the reply finished"
        warn = palette.warning_color(dark)
        painter.setFont(self.header_font)
        label = "Retry"
        w = self.header_fm.horizontalAdvance(label) + 18
        button = QRect(line.right() - w + 1, line.top(), w, line.height())
        painter.setPen(warn)
        elided = self.header_fm.elidedText(detail, Qt.TextElideMode.ElideRight, line.width() - w - 12)
        painter.drawText(line.adjusted(0, 0, -w - 10, 0),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "⚠ " + elided)
        painter.setBrush(palette.blend(warn, pal.color(QPalette.ColorRole.Base), 0.15))
        painter.setPen(QPen(warn, 1))
        painter.drawRoundedRect(QRectF(button).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.drawText(button, Qt.AlignmentFlag.AlignCenter, label)

    # --- hit testing: hover actions, retry, tooltips --------------------------------
    def hit(self, option: QStyleOptionViewItem, index: QModelIndex, pos: QPoint) -> str | None:
        """What is under `pos`: an action name, "badge", "tokens", or None."""
        m: Message = index.data(MessageRole)
        model: ConversationModel = index.model()  # type: ignore[assignment]
        lay = _Layout(option.rect, self.header_fm)
        tokens_text, badge_text = self._header_texts(m, model)
        tokens_rect, badge_rect = lay.right_items(tokens_text, badge_text)
        if badge_rect is not None and badge_rect.contains(pos):
            return "badge"
        if tokens_rect.contains(pos):
            return "tokens"
        for action, rect in lay.action_rects(message_actions(m), tokens_rect.left() - 10):
            if rect.contains(pos):
                return action
        if needs_retry(m):
            doc = self._document(m, option.rect.width(), option.palette)
            if self._retry_rect(lay, doc.size().height()).contains(pos):
                return "retry"
        return None

    def editorEvent(self, event: QEvent, model: Any, option: QStyleOptionViewItem,
                    index: QModelIndex) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease:
            assert isinstance(event, QMouseEvent)
            if event.button() == Qt.MouseButton.LeftButton:
                what = self.hit(option, index, event.position().toPoint())
                if what in ACTION_LABELS:
                    self.actionTriggered.emit(what, index.data(MessageRole))
                    return True
        return super().editorEvent(event, model, option, index)

    def helpEvent(self, event: Any, view: QAbstractItemView, option: QStyleOptionViewItem,
                  index: QModelIndex) -> bool:
        if event is None or not index.isValid():
            return False
        m: Message = index.data(MessageRole)
        model: ConversationModel = index.model()  # type: ignore[assignment]
        what = self.hit(option, index, event.pos())
        text = None
        if what == "badge":
            state = model.state_of(m)
            if state:
                text = f"{STATE_HELP.get(state[0], state[0])}.\nWhy: {state[1]}"
        elif what == "tokens":
            n = model.tokens_of(m)
            how = "exact" if model.exact else "estimated"
            text = (f"{n:,} tokens of content ({how}, {model.encoding})" if n is not None
                    else "Counting…")
        elif what in ACTION_LABELS:
            text = ACTION_LABELS[what]
        if text:
            QToolTip.showText(event.globalPos(), text, view)
            return True
        QToolTip.hideText()
        return True


class ConversationView(QListView):
    """The list of messages: pixel scrolling, variable heights, paging older messages
    in when scrolled near the top while keeping the reader's place."""

    olderWanted = Signal()
    actionTriggered = Signal(str, object)  # action, Message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.conversation = ConversationModel(self)
        self.setModel(self.conversation)
        self.delegate = MessageDelegate(self)
        self.setItemDelegate(self.delegate)
        self.delegate.actionTriggered.connect(self.actionTriggered)
        self.setUniformItemSizes(False)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMouseTracking(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSpacing(0)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.verticalScrollBar().setSingleStep(24)
        self.setAccessibleName("Conversation")
        self._loading_older = False
        self._keep_from_bottom: int | None = None
        self._at_bottom = True  # follow new messages while the reader is at the end
        self.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        self.verticalScrollBar().rangeChanged.connect(self._restore_place)

    # --- content --------------------------------------------------------------------
    def show_messages(self, messages: list[Message], has_more: bool) -> None:
        self.delegate.reset_caches()
        self._loading_older = False
        self._keep_from_bottom = None
        self._at_bottom = True
        self.conversation.reset(messages, has_more)
        self.scrollToBottom()

    def show_older(self, messages: list[Message], has_more: bool) -> None:
        sb = self.verticalScrollBar()
        self._keep_from_bottom = sb.maximum() - sb.value()
        self.conversation.prepend(messages, has_more)
        self._loading_older = False

    def add_message(self, m: Message) -> None:
        follow = self._at_bottom
        self.conversation.append(m)
        if follow:
            self.scrollToBottom()

    def update_message(self, m: Message) -> None:
        row = self.conversation.row_of(m.id)
        if row is None:
            return
        old = self.conversation.messages[row]
        self.delegate.forget(old)
        self.conversation.replace(m)
        self.delegate.sizeHintChanged.emit(self.conversation.index(row))

    def replace_message(self, old: Message, new: Message) -> None:
        """Swap a message shown before it was stored for the stored one."""
        messages = self.conversation.messages
        for row in range(len(messages) - 1, -1, -1):
            if messages[row] is old:
                self.delegate.forget(old)
                messages[row] = new
                index = self.conversation.index(row)
                self.conversation.dataChanged.emit(index, index)
                self.delegate.sizeHintChanged.emit(index)
                return
        self.add_message(new)

    def reveal(self, message_id: int | None) -> bool:
        """Scroll to a loaded message and select it; False when it is not loaded."""
        row = self.conversation.row_of(message_id)
        if row is None:
            return False
        index = self.conversation.index(row)
        self.setCurrentIndex(index)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def selected_message(self) -> Message | None:
        idx = self.currentIndex()
        return idx.data(MessageRole) if idx.isValid() else None

    # --- paging ---------------------------------------------------------------------
    def _on_scrolled(self, value: int) -> None:
        self._at_bottom = value >= self.verticalScrollBar().maximum() - 4
        if value < 300 and self.conversation.has_more and not self._loading_older:
            if self.verticalScrollBar().maximum() == 0 and not self.conversation.messages:
                return
            self._loading_older = True
            self.olderWanted.emit()

    def _restore_place(self, _min: int, maximum: int) -> None:
        bar = self.verticalScrollBar()
        if self._keep_from_bottom is not None:  # older messages were added above
            bar.setValue(maximum - self._keep_from_bottom)
            self._keep_from_bottom = None
        elif self._at_bottom:  # the view shrank (a reply streams below) or grew
            bar.setValue(maximum)

    # --- events ---------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self.delegate.reset_caches()
            self.scheduleDelayedItemsLayout()
        super().changeEvent(event)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        m: Message = index.data(MessageRole)
        menu = QMenu(self)
        actions = message_actions(m)
        if needs_retry(m):
            actions.append("retry")
        for action in actions:
            menu.addAction(ACTION_LABELS[action]).setData(action)
        chosen = menu.exec(self.viewport().mapToGlobal(pos))
        if chosen is not None:
            self.actionTriggered.emit(chosen.data(), m)


def copy_message(m: Message) -> None:
    QGuiApplication.clipboard().setText(m.content)


class LiveReply(QFrame):
    """Where a reply streams in, below the list: text is appended per batch of chunks,
    so the list is never laid out again while streaming. It grows with the reply up to
    a dozen lines, then scrolls."""

    MAX_LINES = 12

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
        lines = int(self.text.document().documentLayout().documentSize().height())
        lines = max(1, min(self.MAX_LINES, lines))
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
