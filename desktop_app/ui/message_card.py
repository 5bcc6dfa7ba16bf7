"""A message painted as a card by the conversation's delegate (no widget per message):
who wrote it, its token count, its inclusion badge, hover actions, the Markdown body,
and a Retry line under an interrupted or failed reply; plus the card geometry, shared
by painting and hit-testing (other areas line up with the cards through
`sizing.column_margin`)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPoint,
    QPointF,
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
    QMouseEvent,
    QPainter,
    QPalette,
    QPen,
    QPixmap,
    QPixmapCache,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
)

from desktop_app.core.glossary import state_label
from desktop_app.core.text import format_token_tag, reveal_controls
from desktop_app.ui import palette
from desktop_app.ui.conversation_model import (
    ACTION_LABELS,
    ROLE_TITLES,
    ConversationModel,
    MessageRole,
    message_actions,
    needs_retry,
)
from desktop_app.ui.markdown import (
    DocumentCache,
    MessageDocument,
    bounded,
    link_target,
    openable_link,
)
from desktop_app.ui.sizing import CARD_PAD_X, card_width

if TYPE_CHECKING:
    from desktop_app.core.records import Message

# A card taller than this is painted each time rather than kept as a picture (QPixmapCache
# holds 10 MB: a few screens of cards).
CACHED_CARD_MAX_HEIGHT = 1_200

STATE_HELP = {
    "kept": "Kept: sent in full with the next request",
    "pinned": "Pinned: always sent",
    "summarized": "Summarized: the stored summary (or the facts kept in memory) stands for "
                  "it; its own text is not sent",
    "folding": "To be folded: the next request leaves it out and folds it into the summary "
               "(or takes its facts into memory); the stored summary covers it once the "
               "reply is in",
    "dropped": "Dropped: not sent with the next request",
}
STATE_COLORS = {  # (light, dark)
    "kept": ("#2e7d32", "#7bd07f"),
    "pinned": ("#3b6fb6", "#78a5ea"),
    "summarized": ("#a77a06", "#e3bd4d"),
    "folding": ("#8a6d3b", "#c9a96e"),
    "dropped": ("#7c838d", "#9aa0a8"),
}


def card_title(m: Message) -> str:
    """Who wrote it, and whether it is left out: by the user (excluded) or because its
    turn failed (set aside)."""
    title = ROLE_TITLES.get(m.role, m.role)
    if m.set_aside:
        return title + "  ·  set aside"
    if m.excluded:
        return title + "  ·  excluded"
    return title


class _Layout:
    """Geometry of one card, computed the same way for painting and hit-testing."""

    PAD_X = CARD_PAD_X  # card margin from the viewport edge
    PAD_Y = 5
    INNER = 12  # text inset within the card
    HEADER = 22

    @staticmethod
    def card_width(width: int) -> int:
        return card_width(width)

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
            rect = QRect(x - w + 1, self.header.top() + 1, w, self.header.height() - 2)
            out.append((action, rect))
            x -= w + 4
        out.reverse()
        return out


class MessageDelegate(QStyledItemDelegate):
    """Paints a message as a card: who, token count, inclusion badge, hover actions,
    the Markdown body, and a mark with Retry on an interrupted or failed reply."""

    actionTriggered = Signal(str, object)  # action name, Message
    linkClicked = Signal(str)  # a link's target, as the message wrote it

    FOOTER = 26  # the "interrupted / failed" line
    MORE = 24  # the "long message: showing the first … · Show all" line

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self.documents = DocumentCache()
        self.expanded: set[Any] = set()  # keys of oversized messages shown in full
        self._heights: dict[Any, int] = {}
        self._heights_width = -1
        # The width the view last laid the cards out at (ConversationView.doItemsLayout
        # sets it): heights are given for it until the next layout, so that every card's
        # rect agrees with where the layout put it, and a new width never makes one card
        # run over the next (painting keeps to the card).
        self.layout_width: int | None = None
        self._generation = 0
        self._fonts_for(view.font())

    # --- fonts and caches -----------------------------------------------------------
    def _fonts_for(self, font: QFont) -> None:
        self.body_font = QFont(font)
        self.header_font = QFont(font)
        self.header_font.setPointSizeF(max(font.pointSizeF() - 1.0, 7.0))
        self.title_font = QFont(self.header_font)
        self.title_font.setWeight(QFont.Weight.DemiBold)
        self.header_fm = QFontMetrics(self.header_font)
        self.title_fm = QFontMetrics(self.title_font)

    def reset_caches(self) -> None:
        self._generation += 1  # the cards' pictures made so far are not looked up again
        self.documents.clear()
        self._heights.clear()
        self.expanded.clear()
        self._fonts_for(self._view.font())

    def forget(self, m: Message) -> None:
        key = self._key(m)
        self.documents.forget(key)
        self._heights.pop(key, None)

    def adopt(self, old: Message, new: Message) -> bool:
        """`new` takes `old`'s place (the stored copy of a question shown before it was
        stored): its laid-out card too when it says the same, and True when its height is
        then unchanged (the list need not be laid out again); else `old` is forgotten."""
        if old.content != new.content or needs_retry(old) != needs_retry(new):
            self.forget(old)
            return False
        was, key = self._key(old), self._key(new)
        self.documents.rename(was, key)
        if was in self._heights:
            self._heights[key] = self._heights.pop(was)
        if was in self.expanded:
            self.expanded.discard(was)
            self.expanded.add(key)
        return True

    @staticmethod
    def _key(m: Message) -> Any:
        return m.id if m.id is not None else ("unsaved", id(m))

    def _code_background(self, pal: QPalette) -> QColor:
        dark = palette.is_dark(pal)
        return palette.blend(pal.color(QPalette.ColorRole.Text), pal.color(QPalette.ColorRole.Base),
                             0.10 if dark else 0.06)

    def _document(self, m: Message, width: int, pal: QPalette) -> MessageDocument:
        key = self._key(m)
        return self.documents.get(
            key, m.content or " ", _Layout.text_width(width), self.body_font,
            self._code_background(pal), key in self.expanded,
        )

    def expand(self, index: QModelIndex) -> None:
        """Show more of an oversized message (still bounded: see markdown.EXPANDED_CHARS)."""
        m: Message = index.data(MessageRole)
        self.forget(m)
        self.expanded.add(self._key(m))
        self.sizeHintChanged.emit(index)

    def _more_height(self, doc: MessageDocument) -> int:
        return self.MORE if doc.cut else 0

    # --- size -----------------------------------------------------------------------
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        width = self.layout_width or self._view.viewport().width()
        return QSize(width, self._height(index.data(MessageRole), width, option.palette))

    def prepare(self, m: Message) -> int:
        """Lay `m`'s card out now (its Markdown rendered) at the view's width; its
        height, which sizeHint then gives at once."""
        width = self.layout_width or self._view.viewport().width()
        return self._height(m, width, self._view.palette())

    def _height(self, m: Message, width: int, pal: QPalette) -> int:
        if width != self._heights_width:
            self._heights.clear()
            self._heights_width = width
        key = self._key(m)
        height = self._heights.get(key)
        if height is None:
            doc = self._document(m, width, pal)
            height = int(doc.size().height()) + _Layout.HEADER + 6 + 4 + 10 + 2 * _Layout.PAD_Y
            height += self._more_height(doc)
            if needs_retry(m):
                height += self.FOOTER
            self._heights[key] = height
        return height

    # --- painting -------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        """The card, from a picture of it kept while nothing it shows changes: a card is
        some forty drawing calls from Python, each of which may wait for the GIL while a
        worker runs, and the visible cards are painted again whenever the list moves
        (a reply lands, the list's height changes) though none of them changed."""
        m: Message = index.data(MessageRole)
        model: ConversationModel = index.model()  # type: ignore[assignment]
        rect = option.rect
        if rect.height() > CACHED_CARD_MAX_HEIGHT or rect.width() <= 0 or rect.height() <= 0:
            self._paint_card(painter, option, m, model)
            return
        doc = self._document(m, rect.width(), option.palette)
        looks = (bool(option.state & QStyle.StateFlag.State_MouseOver),
                 bool(option.state & QStyle.StateFlag.State_Selected))
        dpr = painter.device().devicePixelRatioF()
        key = (f"card/{self._generation}/{doc.serial}/{rect.width()}x{rect.height()}@{dpr}/"
               f"{option.palette.cacheKey()}/{looks}/{model.state_of(m)}/"
               f"{self._header_texts(m, model)[0]}/{card_title(m)}/{m.pinned}/{m.status}/"
               f"{hash(m.error)}")
        picture = QPixmapCache.find(key)
        if picture is None:
            picture = QPixmap(round(rect.width() * dpr), round(rect.height() * dpr))
            picture.setDevicePixelRatio(dpr)
            picture.fill(option.palette.color(QPalette.ColorRole.Base))
            card = QStyleOptionViewItem(option)
            card.rect = QRect(0, 0, rect.width(), rect.height())
            card_painter = QPainter(picture)
            try:
                self._paint_card(card_painter, card, m, model)
            finally:
                card_painter.end()
            QPixmapCache.insert(key, picture)
        painter.drawPixmap(rect.topLeft(), picture)

    def _paint_card(self, painter: QPainter, option: QStyleOptionViewItem, m: Message,
                    model: ConversationModel) -> None:
        pal = option.palette
        dark = palette.is_dark(pal)
        lay = _Layout(option.rect, self.header_fm)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)

        painter.save()
        painter.setClipRect(option.rect)  # a card whose height waits for the next layout
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
        title = card_title(m)
        painter.drawText(lay.header, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         title)
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
            radius = badge_rect.height() / 2
            painter.drawRoundedRect(QRectF(badge_rect), radius, radius)
            painter.setPen(color)
            painter.drawText(badge_rect, Qt.AlignmentFlag.AlignCenter, badge_text)
        if hovered or selected:
            for action, rect in self._action_rects(m, lay, tokens_rect.left() - 10):
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
        painter.setClipRect(clip, Qt.ClipOperation.IntersectClip)
        doc.documentLayout().draw(painter, ctx)
        painter.translate(-lay.body_left, -lay.body_top)
        painter.setClipRect(option.rect)

        if doc.cut:
            self._paint_more_line(painter, lay, doc, muted, accent)
        if needs_retry(m):
            self._paint_retry_line(painter, lay, m, doc.size().height() + self._more_height(doc),
                                   dark, pal)
        painter.restore()

    def token_tag(self, index: QModelIndex) -> tuple[str, QRect]:
        """The token tag the card at `index` shows, and where (viewport coordinates)."""
        m: Message = index.data(MessageRole)
        model: ConversationModel = index.model()  # type: ignore[assignment]
        tokens_text, badge_text = self._header_texts(m, model)
        lay = _Layout(self._view.visualRect(index), self.header_fm)
        return tokens_text, lay.right_items(tokens_text, badge_text)[0]

    def _header_texts(self, m: Message, model: ConversationModel) -> tuple[str, str | None]:
        n = model.tokens_of(m)
        tokens_text = "… tok" if n is None else ("" if model.exact else "~") + format_token_tag(n)
        state = model.state_of(m)
        return tokens_text, (state_label(state[0]) if state else None)

    def header_texts(self, index: QModelIndex) -> tuple[str, str, str | None]:
        """What the card at `index` says in its header: its title, its token tag and
        its state badge (None before the preview says)."""
        m: Message = index.data(MessageRole)
        model: ConversationModel = index.model()  # type: ignore[assignment]
        return (card_title(m), *self._header_texts(m, model))

    def _action_rects(self, m: Message, lay: _Layout, right: int) -> list[tuple[str, QRect]]:
        """The hover actions that fit between the card's title and its token count, the
        first ones first (a narrow card shows fewer; the context menu has them all)."""
        title_right = lay.header.left() + self.title_fm.horizontalAdvance(card_title(m)) + 10
        actions = message_actions(m)
        while actions:
            rects = lay.action_rects(actions, right)
            if rects[0][1].left() >= title_right:
                return rects
            actions = actions[:-1]
        return []

    def _more_rects(self, lay: _Layout, doc: MessageDocument) -> tuple[QRect, QRect | None]:
        """The "showing the first …" line under a cut message, and its Show all button
        (None once expanded)."""
        top = lay.body_top + int(doc.size().height()) + 4
        line = QRect(lay.body_left, top, lay.header.width(), self.MORE - 4)
        if not doc.collapsed:
            return line, None
        w = self.header_fm.horizontalAdvance("Show all") + 18
        return line, QRect(line.right() - w + 1, line.top(), w, line.height())

    def _paint_more_line(self, painter: QPainter, lay: _Layout, doc: MessageDocument,
                         muted: QColor, accent: QColor) -> None:
        line, button = self._more_rects(lay, doc)
        what = "Long message, shown as plain text" if doc.collapsed else "Shown as plain text"
        detail = f"{what}: the first {doc.shown:,} of {doc.total:,} characters"
        if not doc.collapsed:
            detail += " (Copy copies all)"
        painter.setFont(self.header_font)
        painter.setPen(muted)
        room = line.width() - (button.width() + 12 if button is not None else 0)
        painter.drawText(QRect(line.left(), line.top(), room, line.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.header_fm.elidedText(detail, Qt.TextElideMode.ElideRight, room))
        if button is not None:
            painter.setPen(QPen(accent, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(QRectF(button).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
            painter.drawText(button, Qt.AlignmentFlag.AlignCenter, "Show all")

    def _retry_rect(self, lay: _Layout, body_height: float) -> QRect:
        top = lay.body_top + int(body_height) + 6
        return QRect(lay.body_left, top, lay.header.width(), self.FOOTER - 6)

    def _paint_retry_line(self, painter: QPainter, lay: _Layout, m: Message, body_height: float,
                          dark: bool, pal: QPalette) -> None:
        line = self._retry_rect(lay, body_height)
        what = "Interrupted" if m.status == "interrupted" else "Failed"
        detail = (f"{what}: {reveal_controls(m.error)}" if m.error
                  else f"{what} before the reply finished")
        warn = palette.warning_color(dark)
        painter.setFont(self.header_font)
        label = "Retry"
        w = self.header_fm.horizontalAdvance(label) + 18
        button = QRect(line.right() - w + 1, line.top(), w, line.height())
        painter.setPen(warn)
        elided = self.header_fm.elidedText(detail, Qt.TextElideMode.ElideRight,
                                           line.width() - w - 12)
        painter.drawText(line.adjusted(0, 0, -w - 10, 0),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "⚠ " + elided)
        painter.setBrush(palette.blend(warn, pal.color(QPalette.ColorRole.Base), 0.15))
        painter.setPen(QPen(warn, 1))
        painter.drawRoundedRect(QRectF(button).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        painter.drawText(button, Qt.AlignmentFlag.AlignCenter, label)

    # --- hit testing: hover actions, retry, tooltips --------------------------------
    def hit(self, option: QStyleOptionViewItem, index: QModelIndex, pos: QPoint) -> str | None:
        """What is under `pos`: an action name, "badge", "tokens", "show_all", or None."""
        m: Message = index.data(MessageRole)
        model: ConversationModel = index.model()  # type: ignore[assignment]
        lay = _Layout(option.rect, self.header_fm)
        tokens_text, badge_text = self._header_texts(m, model)
        tokens_rect, badge_rect = lay.right_items(tokens_text, badge_text)
        if badge_rect is not None and badge_rect.contains(pos):
            return "badge"
        if tokens_rect.contains(pos):
            return "tokens"
        for action, rect in self._action_rects(m, lay, tokens_rect.left() - 10):
            if rect.contains(pos):
                return action
        doc = self._document(m, option.rect.width(), option.palette)
        if doc.collapsed:
            button = self._more_rects(lay, doc)[1]
            if button is not None and button.contains(pos):
                return "show_all"
        body = doc.size().height() + self._more_height(doc)
        if needs_retry(m) and self._retry_rect(lay, body).contains(pos):
            return "retry"
        return None

    def link_at(self, option: QStyleOptionViewItem, index: QModelIndex,
                pos: QPoint) -> str | None:
        """The target of the link in the card's text under `pos`, as written, or None."""
        m: Message = index.data(MessageRole)
        lay = _Layout(option.rect, self.header_fm)
        doc = self._document(m, option.rect.width(), option.palette)
        point = QPointF(pos.x() - lay.body_left, pos.y() - lay.body_top)
        if not QRectF(0, 0, doc.textWidth(), doc.size().height()).contains(point):
            return None
        return doc.documentLayout().anchorAt(point) or None

    def editorEvent(self, event: QEvent, model: Any, option: QStyleOptionViewItem,
                    index: QModelIndex) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease:
            assert isinstance(event, QMouseEvent)
            if event.button() == Qt.MouseButton.LeftButton:
                pos = event.position().toPoint()
                what = self.hit(option, index, pos)
                if what in ACTION_LABELS:
                    self.actionTriggered.emit(what, index.data(MessageRole))
                    return True
                if what == "show_all":
                    self.expand(index)
                    return True
                href = self.link_at(option, index, pos) if what is None else None
                if href is not None:
                    self.linkClicked.emit(href)
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
            cost = model.cost_of(m)
            text = cost.describe() if cost is not None else "Counting…"
        elif what in ACTION_LABELS:
            text = ACTION_LABELS[what]
        elif what == "show_all":
            text = "Show more of this message, as plain text"
        elif what is None and (href := self.link_at(option, index, event.pos())) is not None:
            text = link_tooltip(href)
        if text:
            QToolTip.showText(event.globalPos(), text, view)
            return True
        QToolTip.hideText()
        return True


LINK_TOOLTIP_CHARS = 300


def link_tooltip(href: str) -> str:
    """What hovering a link in a message says: where it goes (before any click), and
    whether a click can open it (as rich text, the target escaped)."""
    url = openable_link(href)
    if url is None:
        text = (f"{bounded(href, LINK_TOOLTIP_CHARS)}\nNot opened: only web and e-mail "
                "links open from a message")
    else:
        text = f"{bounded(link_target(url), LINK_TOOLTIP_CHARS)}\nClick to open (asks first)"
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"
