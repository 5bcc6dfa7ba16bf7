"""The card at the top of the conversation when the database could not be opened: what
happened in plain words and what can be done (restore the newest backup, retry, open
the data folder, or go on drafting without saving). It never blocks the window:
writing and counting keep working underneath."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.palette import blend, is_dark
from desktop_app.ui.theme import mute

if TYPE_CHECKING:
    from desktop_app.controller.database_trouble import DatabaseTrouble

COLLAPSED_TEXT = "Drafting only: nothing is saved while the database is not open."


class _ElidedLabel(QLabel):
    """One line that shortens itself in the middle (a long path) instead of widening
    the window; the whole text is in its tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle,
                                              max(self.width(), 40))
        super().setText(shown)


class DatabasePanel(QFrame):
    """Shows a DatabaseTrouble and forwards the user's choice."""

    restoreRequested = Signal()
    retryRequested = Signal()
    openFolderRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("DatabasePanel")
        self.setAccessibleName("Database problem")
        self.trouble: DatabaseTrouble | None = None
        self._working = ""  # "restore" or "retry" while the controller works on it

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setAccessibleName("Database problem title")
        font = QFont(self.title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() + 1)
        self.title.setFont(font)
        self.message = QLabel()
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setAccessibleName("Database problem")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.where = mute(_ElidedLabel())
        self.where.setTextFormat(Qt.TextFormat.PlainText)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = mute(QLabel())
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.hide()

        self.restore_button = QPushButton("Restore backup")
        self.retry_button = QPushButton("Retry")
        self.folder_button = QPushButton("Open data folder")
        self.continue_button = QPushButton("Continue without saving")
        self.continue_button.setFlat(True)
        self.continue_button.setToolTip("Hide this; writing and counting keep working, "
                                        "nothing is saved")
        for b in (self.restore_button, self.retry_button, self.folder_button,
                  self.continue_button):
            b.setAccessibleName(b.text())
        self.restore_button.clicked.connect(self._restore)
        self.retry_button.clicked.connect(self._retry)
        self.folder_button.clicked.connect(self.openFolderRequested)
        self.continue_button.clicked.connect(self.collapse)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.restore_button)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.folder_button)
        buttons.addStretch(1)
        buttons.addWidget(self.continue_button)
        self.full = QWidget()
        full = QVBoxLayout(self.full)
        full.setContentsMargins(0, 0, 0, 0)
        full.setSpacing(6)
        full.addWidget(self.title)
        full.addWidget(self.message)
        full.addWidget(self.where)
        full.addWidget(self.status)
        full.addSpacing(4)
        full.addLayout(buttons)

        # after "Continue without saving": one quiet line, the problem a click away
        self.compact = QWidget()
        compact = QHBoxLayout(self.compact)
        compact.setContentsMargins(0, 0, 0, 0)
        self.compact_label = QLabel(COLLAPSED_TEXT)
        self.compact_label.setWordWrap(True)
        self.show_button = QPushButton("Show the problem")
        self.show_button.setAccessibleName("Show the database problem")
        self.show_button.setFlat(True)
        self.show_button.clicked.connect(self.expand)
        compact.addWidget(self.compact_label, 1)
        compact.addWidget(self.show_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 12, 12, 12)
        layout.addWidget(self.full)
        layout.addWidget(self.compact)
        self.compact.hide()
        self.hide()

    # --- what the controller says -------------------------------------------------------
    def show_trouble(self, trouble: DatabaseTrouble | None) -> None:
        """Show `trouble` (None: the database opened; the panel goes away)."""
        doing = self._working
        same = (self.trouble is not None and trouble is not None
                and trouble.kind == self.trouble.kind)
        self._set_working("")
        self.trouble = trouble
        if trouble is None:
            self.hide()
            return
        # here, not at the top: neither is needed for the first paint
        from desktop_app.controller.database_trouble import BUSY
        from desktop_app.ui.context_panel import plain_tooltip

        self.title.setText(trouble.title)
        self.message.setText(trouble.message)
        self.where.set_full_text(f"Data folder: {trouble.folder}")
        self.where.setToolTip(plain_tooltip(trouble.detail))
        self.message.setToolTip(plain_tooltip(trouble.detail))
        self.restore_button.setVisible(trouble.can_restore)
        self.retry_button.setVisible(trouble.can_retry)
        self.retry_button.setText("Retry" if trouble.kind == BUSY else "Try again")
        self.retry_button.setAccessibleName(self.retry_button.text())
        if doing == "retry" and same:
            self._set_status(f"Tried again at {datetime.now():%H:%M:%S}: still the same.")
        elif doing == "restore" and same:
            self._set_status("The backup could not be restored; the reason is shown below.")
        if not (self.isVisible() and self.compact.isVisible()):
            self.expand()
        self.show()

    def set_status(self, text: str) -> None:
        """A line under the message (a restore that failed, say)."""
        self._set_status(text)

    # --- the user's choices -----------------------------------------------------------
    def _restore(self) -> None:
        self._set_working("restore", "Restoring the backup…")
        self.restoreRequested.emit()

    def _retry(self) -> None:
        self._set_working("retry", "Trying again…")
        self.retryRequested.emit()

    def collapse(self) -> None:
        self.full.hide()
        self.compact.show()

    def expand(self) -> None:
        self.compact.hide()
        self.full.show()

    @property
    def collapsed(self) -> bool:
        return self.compact.isVisibleTo(self)

    def _set_working(self, doing: str, text: str = "") -> None:
        self._working = doing
        for b in (self.restore_button, self.retry_button):
            b.setEnabled(not doing)
        self._set_status(text)

    def _set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    # --- looks ------------------------------------------------------------------------
    def paintEvent(self, event: Any) -> None:
        # a calm card in the theme's accent, not an alarm: nothing is lost
        pal = self.palette()
        dark = is_dark(pal)
        base = pal.color(QPalette.ColorRole.Base)
        accent = pal.color(QPalette.ColorRole.Highlight)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(blend(accent, base, 0.35), 1))
        painter.setBrush(blend(accent, base, 0.14 if dark else 0.07))
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.drawRoundedRect(rect, 8, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(accent)
        painter.drawRoundedRect(QRectF(rect.left() + 5, rect.top() + 10, 3,
                                       max(rect.height() - 20, 4)), 1.5, 1.5)
