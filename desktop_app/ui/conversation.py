"""The conversation: a virtualized list (model, view and delegate; no widget per
message) of Markdown cards with each message's token count, its state in the next
request and its actions, and a live area below it where a reply streams in.

This module holds the view; the model is in `conversation_model`, the card painting
in `message_card` and the streaming area in `live_reply`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QListView,
    QMenu,
    QMessageBox,
    QStyleOptionViewItem,
    QWidget,
)

from desktop_app.ui.conversation_model import (
    ACTION_LABELS,
    ConversationModel,
    MessageRole,
    message_actions,
    needs_retry,
)
from desktop_app.ui.live_reply import LiveReply  # noqa: F401 - re-exported for the window
from desktop_app.ui.sizing import column_margin  # noqa: F401 - re-exported for the window
from desktop_app.ui.theme import plain_buttons

if TYPE_CHECKING:
    from desktop_app.core.records import Message
    from desktop_app.ui.message_card import MessageDelegate


# A new width lays the cards out again this long after the last resize (see resizeEvent).
RELAYOUT_MS = 60
# A page opens with its newest cards, as many as fill the view and a screen more; the
# older ones of the page follow as the reader scrolls up to them. Cards are laid out
# (their Markdown rendered) a slice of a frame per turn of the event loop, so that no
# turn lays out more than fits in a frame however long the messages are.
SLICE_S = 0.005
SCREENS_AHEAD = 1.0
# within this many pixels of the top, the cards above are shown (or the store asked)
NEAR_TOP_PX = 300


class ConversationView(QListView):
    """The list of messages: pixel scrolling, variable heights, paging older messages
    in when scrolled near the top while keeping the reader's place."""

    olderWanted = Signal()
    actionTriggered = Signal(str, object)  # action, Message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.conversation = ConversationModel(self)
        self.setModel(self.conversation)
        self._delegate: MessageDelegate | None = None  # made with the first card
        self.link_box: QMessageBox | None = None  # the open "Open this link?" question
        self.setUniformItemSizes(False)
        # laid out again on a new width only (resizeEvent): Adjust also lays every card
        # out on a new height, a dozen times as a reply streams in below the list
        self.setResizeMode(QListView.ResizeMode.Fixed)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # the scroll bar's room is kept when there is nothing to scroll: a bar that comes
        # and goes changes the cards' width, and every card is laid out again for it
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
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
        self._relayout = QTimer(self)  # see resizeEvent
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(RELAYOUT_MS)
        self._relayout.timeout.connect(self.scheduleDelayedItemsLayout)
        self._pending: list[Message] = []  # the page's older cards, still to be shown
        self._shown_height = 0  # of the page's cards shown, as laid out
        self._pending_more = False  # whether the store holds more before them
        self._feed = QTimer(self)
        self._feed.setSingleShot(True)
        self._feed.setInterval(0)
        self._feed.timeout.connect(self._show_batch)

    @property
    def delegate(self) -> MessageDelegate:
        """The card painter (Markdown and all), made when first wanted: a window with no
        message to show never loads it (about 3 MB)."""
        if self._delegate is None:
            from desktop_app.ui.message_card import MessageDelegate

            self._delegate = MessageDelegate(self)
            self.setItemDelegate(self._delegate)
            self._delegate.actionTriggered.connect(self.actionTriggered)
            self._delegate.linkClicked.connect(self.open_link)
        return self._delegate

    # --- content --------------------------------------------------------------------
    def show_messages(self, messages: list[Message], has_more: bool) -> None:
        if messages or self._delegate is not None:
            self.delegate.reset_caches()
        self._keep_from_bottom = None
        self._at_bottom = True
        self._loading_older = False
        self._pending, self._pending_more = list(messages), has_more
        self._shown_height = 0
        # the first slice fills the view and no more: it is laid out in the same turn of
        # the event loop as the page arrived, and the cards above come a slice at a time
        first = self._take_slice(enough_px=max(self.viewport().height(), 1))
        self.conversation.reset(first, has_more or bool(self._pending))
        self.scrollToBottom()
        if self._pending:
            self._feed.start()

    def _take_slice(self, enough_px: int | None = None) -> list[Message]:
        """The newest of the page's cards still to be shown, as many as are laid out
        within a slice of a frame (at least one), or fewer once the cards shown are
        `enough_px` tall."""
        if not self._pending:
            return []
        start = time.perf_counter()
        take = 0
        while take < len(self._pending):
            take += 1
            self._shown_height += self.delegate.prepare(self._pending[-take])
            if time.perf_counter() - start >= SLICE_S or (
                    enough_px is not None and self._shown_height >= enough_px):
                break
        batch = self._pending[-take:]
        del self._pending[-take:]
        return batch

    def _show_batch(self) -> None:
        """One slice of the page's cards above those shown; another follows on the next
        turn while the view is not yet filled a screen ahead (and whenever the reader
        comes near the top: _on_scrolled)."""
        if not self._pending:
            return
        self._prepend(self._take_slice(), self._pending_more or bool(self._pending))
        # (the scroll bar is read once the cards are laid out: _on_scrolled)
        if self._pending and self._shown_height < max(self.viewport().height(), 1) * (
                1 + SCREENS_AHEAD):
            self._feed.start()

    @property
    def filling(self) -> bool:
        """Whether cards are still being laid out to fill the view a screen ahead."""
        return self._feed.isActive()

    @property
    def holds_more(self) -> bool:
        """Whether cards of the page wait above those shown, until scrolled to."""
        return bool(self._pending)

    def show_all(self) -> None:
        """Show the rest of the page now (a message above the cards shown is wanted)."""
        self._feed.stop()
        if self._pending:
            batch, self._pending = self._pending, []
            for m in batch:
                self._shown_height += self.delegate.prepare(m)
            self._prepend(batch, self._pending_more)

    def show_older(self, messages: list[Message], has_more: bool) -> None:
        """A page of older messages from the store, above those shown: shown a slice at
        a time, as the page opened with."""
        self._pending = list(messages) + self._pending
        self._pending_more = has_more
        self._loading_older = False
        self._show_batch()

    def _prepend(self, messages: list[Message], has_more: bool) -> None:
        self.delegate  # noqa: B018 - made before the cards it paints arrive
        sb = self.verticalScrollBar()
        self._keep_from_bottom = sb.maximum() - sb.value()
        self.conversation.prepend(messages, has_more)
        self._loading_older = False

    def add_message(self, m: Message) -> None:
        self.delegate  # noqa: B018 - made before the cards it paints arrive
        # followed when the list has laid the card out, on its next turn (_restore_place:
        # a reader at the end stays at the end); scrolled to now, the list was laid out
        # at once, the card's Markdown with it, in the same turn as all that stored the
        # reply
        self.conversation.append(m)

    def update_message(self, m: Message) -> None:
        row = self.conversation.row_of(m.id)
        if row is None:
            for k, old in enumerate(self._pending):  # not shown yet: shown as it is now
                if old.id == m.id:
                    self._pending[k] = m
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
                same_height = self.delegate.adopt(old, new)
                messages[row] = new
                index = self.conversation.index(row)
                self.conversation.dataChanged.emit(index, index)
                if not same_height:  # the whole list is laid out again for it
                    self.delegate.sizeHintChanged.emit(index)
                return
        self.add_message(new)

    def reveal(self, message_id: int | None) -> bool:
        """Scroll to a loaded message and select it; False when it is not loaded."""
        if self.conversation.row_of(message_id) is None and any(
                m.id == message_id for m in self._pending):
            self.show_all()
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
        if value >= NEAR_TOP_PX:
            return
        if self._pending:  # the page's own come first
            if not self._feed.isActive():
                self._feed.start()
            return
        if self.conversation.has_more and not self._loading_older:
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

    # --- links ----------------------------------------------------------------------
    def open_link(self, href: str) -> QMessageBox | None:
        """A click on a link in a message: a web or e-mail link opens once the user,
        shown its full target, says so; any other (a file, a script, data, another
        scheme, a relative link) never opens (its tooltip says so). The question, or
        None."""
        from desktop_app.ui.markdown import link_target, openable_link

        url = openable_link(href)
        if url is None:
            return None
        if self.link_box is not None:
            self.link_box.close()
        mail = url.scheme().lower() == "mailto"
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Open link")
        box.setTextFormat(Qt.TextFormat.PlainText)
        where = "your e-mail app" if mail else "your browser"
        box.setText(f"Open this link from the message in {where}?\n\n{link_target(url)}")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_button = box.addButton("Write e-mail" if mail else "Open link",
                                    QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        plain_buttons(box)
        box.setDefaultButton(open_button)

        def finished(_result: int) -> None:
            if box.clickedButton() is open_button:
                QDesktopServices.openUrl(QUrl(url))
            if self.link_box is box:
                self.link_box = None
            box.deleteLater()

        box.finished.connect(finished)
        self.link_box = box
        box.open()
        return box

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """A pointing hand over a link a click can open."""
        super().mouseMoveEvent(event)
        pos = event.position().toPoint()
        index = self.indexAt(pos)
        href = None
        if index.isValid() and self._delegate is not None:
            option = QStyleOptionViewItem()
            self.initViewItemOption(option)
            option.rect = self.visualRect(index)
            href = self._delegate.link_at(option, index, pos)
        if href is not None and _openable(href):
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.viewport().unsetCursor()

    # --- events ---------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        """A card's height follows the list's width, but QListView lays its items out
        again only when its height changes (its flow is top to bottom). A new width (of
        the view or of its viewport: both come here) lays the cards out again once the
        resizing pauses: laying out a page of messages takes longer than a frame, too
        long for every step of a splitter drag. Until then the cards keep the heights
        of the last layout (MessageDelegate.layout_width), so none runs over the next."""
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._relayout.start()

    def doItemsLayout(self) -> None:
        if self._delegate is not None:
            self._delegate.layout_width = self.viewport().width()
        super().doItemsLayout()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            if self._delegate is not None:
                self._delegate.reset_caches()
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


def _openable(href: str) -> bool:
    from desktop_app.ui.markdown import openable_link

    return openable_link(href) is not None
