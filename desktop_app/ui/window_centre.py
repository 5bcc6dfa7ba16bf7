"""The window's centre column: the database panel, the drafting-mode banner, the error
bar and the notice line on top, the conversation (or, with no messages, an invitation
to start one), the reply as it streams in, and the composer. The strips on top, the
live reply and the composer line up with the message cards' column as it resizes."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from desktop_app.core.text import reveal_controls
from desktop_app.ui.composer import Composer
from desktop_app.ui.conversation import ConversationView, LiveReply, column_margin
from desktop_app.ui.database_panel import DatabasePanel
from desktop_app.ui.theme import mute
from desktop_app.ui.window_bars import Bar

NOTICE_MS = 20_000  # a notice clears itself after this long (and on send, or another session)


class CentreColumn(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Centre")
        self.setBackgroundRole(QPalette.ColorRole.Base)
        self.setAutoFillBackground(True)
        self.banner = Bar("Banner", closable=True)
        self.banner.label.setTextFormat(Qt.TextFormat.RichText)  # a fixed text of ours
        self.banner.label.setText(
            "<b>Drafting mode.</b> No model provider is set up yet, so nothing is sent. "
            "Everything else works offline: write, and watch the budget fill as you type."
        )
        self.setup_button = self.banner.add_button("Set up a provider", "Set up a provider")
        self.error_bar = Bar("ErrorBar")
        self.error_bar.label.setAccessibleName("Error message")
        self.notice = QLabel()
        self.notice.setTextFormat(Qt.TextFormat.PlainText)  # says what a file or server said
        mute(self.notice)
        self.notice.setWordWrap(True)
        self.notice.setAccessibleName("Notice")
        self.notice.hide()
        self.notice_timer = QTimer(self)
        self.notice_timer.setSingleShot(True)
        self.notice_timer.setInterval(NOTICE_MS)
        self.notice_timer.timeout.connect(self.clear_notice)

        self.conversation = ConversationView()
        self.conversation.setObjectName("Conversation")
        self.empty_label = QLabel(
            "<p style='font-size:15pt'>Start a conversation</p>"
            "<p>Write below. The gauge on the right shows how your message, the history and "
            "the reply reserve share the model's context window.</p>"
        )
        mute(self.empty_label)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.live_reply = LiveReply()
        self.composer = Composer()

        top = QVBoxLayout()
        self._top_layout = top
        top.setContentsMargins(14, 10, 14, 0)
        top.setSpacing(8)
        self.db_panel = DatabasePanel()
        top.addWidget(self.db_panel)
        top.addWidget(self.banner)
        top.addWidget(self.error_bar)
        top.addWidget(self.notice)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.conversation, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.live_reply)
        layout.addWidget(self.composer)
        self.conversation.hide()

    def show_list(self, has_messages: bool) -> None:
        """The conversation, or the invitation to start one."""
        self.conversation.setVisible(has_messages)
        self.empty_label.setVisible(not has_messages)

    def show_notice(self, text: str) -> None:
        """A passing remark (a warning from the turn, an export done): it clears itself
        after a while, and when a message is sent or another session opens. It may quote
        a title or a server: bidi controls are shown, not obeyed."""
        self.notice.setText(reveal_controls(text))
        self.notice.setVisible(bool(text))
        if text:
            self.notice_timer.start()
        else:
            self.notice_timer.stop()

    def clear_notice(self) -> None:
        self.notice_timer.stop()
        self.notice.clear()
        self.notice.hide()

    def _line_up_column(self) -> None:
        """Banners, the live reply and the composer share the cards' column."""
        width = self.width()
        side = column_margin(width)
        self._top_layout.setContentsMargins(side, 10, side, 0)
        self.composer.layout().setContentsMargins(side + 4, 12, side + 4, 10)
        inner = column_margin(width, 12)
        self.live_reply.layout().setContentsMargins(inner, 8, inner, 8)

    def resizeEvent(self, event: Any) -> None:
        self._line_up_column()
        super().resizeEvent(event)
