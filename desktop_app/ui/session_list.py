"""The sessions column: newest first, with new, rename, archive, delete and a search
across every message of every session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPoint, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPalette,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.text import reveal_controls
from desktop_app.ui.session_model import (
    MessageIdRole,
    SessionIdRole,
    SessionsModel,
    SubtitleRole,
)
from desktop_app.ui.theme import MUTED_TEXT, legible, mute

if TYPE_CHECKING:
    from desktop_app.core.records import Session

SEARCH_DELAY_MS = 250


class TwoLineDelegate(QStyledItemDelegate):
    """A title over a muted second line, on a rounded highlight when selected."""

    PAD_X, PAD_Y, GAP = 10, 7, 2

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        fm = QFontMetrics(option.font)
        return QSize(200, 2 * self.PAD_Y + fm.height() + self.GAP + self._small_fm(option).height())

    @staticmethod
    def _small_font(option: QStyleOptionViewItem) -> QFont:
        font = QFont(option.font)
        font.setPointSizeF(max(font.pointSizeF() - 1.0, 7.0))
        return font

    def _small_fm(self, option: QStyleOptionViewItem) -> QFontMetrics:
        return QFontMetrics(self._small_font(option))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        rect = option.rect.adjusted(2, 1, -2, -1)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if selected or hovered:
            color = pal.color(QPalette.ColorRole.Highlight)
            if not selected:
                color.setAlpha(40)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(rect), 6, 6)
        text_color = pal.color(QPalette.ColorRole.HighlightedText if selected
                               else QPalette.ColorRole.Text)
        fm = QFontMetrics(option.font)
        inner = rect.adjusted(self.PAD_X, self.PAD_Y, -self.PAD_X, -self.PAD_Y)
        # a title or snippet from a file or a model: its bidi controls shown as markers,
        # not left to reverse it ("gnp.exe" read as "exe.png")
        title = fm.elidedText(reveal_controls(str(index.data(Qt.ItemDataRole.DisplayRole)
                                                  or "")),
                              Qt.TextElideMode.ElideRight, inner.width())
        font = QFont(option.font)
        if index.data(Qt.ItemDataRole.FontRole) is not None:
            font.setItalic(index.data(Qt.ItemDataRole.FontRole).italic())
        painter.setFont(font)
        painter.setPen(text_color)
        painter.drawText(inner.left(), inner.top() + fm.ascent(), title)
        subtitle = reveal_controls(str(index.data(SubtitleRole) or ""))
        if subtitle:
            small = self._small_font(option)
            sfm = QFontMetrics(small)
            # on the selection the subtitle is as white as the title (anything fainter
            # reads under 4.5:1 there), elsewhere muted as the rest of the window
            muted = QColor(text_color)
            if not selected:
                muted.setAlphaF(MUTED_TEXT)
            painter.setFont(small)
            painter.setPen(muted)
            painter.drawText(inner.left(), inner.top() + fm.height() + self.GAP + sfm.ascent(),
                             sfm.elidedText(subtitle, Qt.TextElideMode.ElideRight, inner.width()))
        painter.restore()


class SessionList(QFrame):
    sessionActivated = Signal(int)
    newRequested = Signal()
    renameRequested = Signal(int, str)
    deleteRequested = Signal(int)
    archiveRequested = Signal(int, bool)
    showArchivedChanged = Signal(bool)
    searchRequested = Signal(str)
    resultActivated = Signal(int, object)  # session id, message id (or None)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SessionList")
        self._current: int | None = None
        self._filling = False

        self.new_button = QPushButton("New session")
        self.new_button.setObjectName("NewSessionButton")
        self.new_button.setAccessibleName("New session")
        self.new_button.setToolTip("Start a new session (Ctrl+N)")
        self.new_button.clicked.connect(self.newRequested)

        self.search = QLineEdit()
        self.search.setObjectName("SessionSearch")
        self.search.setPlaceholderText("Search all messages")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search all messages")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._run_search)
        self.search.textChanged.connect(self._on_search_text)

        self.model = SessionsModel(self)
        self.model.renamed.connect(self.renameRequested)
        self.view = QListView()
        self.view.setObjectName("Sessions")
        self.view.setAccessibleName("Sessions")
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        # titles are elided to the column's width: it never scrolls sideways
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setItemDelegate(TwoLineDelegate(self.view))
        self.view.viewport().setBackgroundRole(QPalette.ColorRole.Window)
        self.view.setMouseTracking(True)

        self.results_model = QStandardItemModel(self)
        self.results = QListView()
        self.results.setObjectName("SearchResults")
        self.results.setAccessibleName("Search results")
        self.results.setModel(self.results_model)
        self.results.setFrameShape(QFrame.Shape.NoFrame)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.results.setItemDelegate(TwoLineDelegate(self.results))
        self.results.viewport().setBackgroundRole(QPalette.ColorRole.Window)
        self.results.setMouseTracking(True)
        self.results.activated.connect(self._on_result)
        self.results.clicked.connect(self._on_result)
        self.results_label = QLabel("")
        mute(self.results_label)
        results_box = QWidget()
        rl = QVBoxLayout(results_box)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.results_label)
        rl.addWidget(self.results, 1)

        self.empty_label = QLabel("No sessions yet.\nWhat you send is kept here.")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.empty_label.setContentsMargins(0, 24, 0, 0)
        mute(self.empty_label)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(results_box)
        self.stack.addWidget(self.empty_label)

        self.show_archived = legible(QCheckBox("Show archived"))
        self.show_archived.setAccessibleName("Show archived sessions")
        self.show_archived.toggled.connect(self.showArchivedChanged)

        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.new_button, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 6, 8)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.search)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.show_archived)

    def sizeHint(self) -> QSize:
        return QSize(240, 600)

    # --- what the controller tells it -----------------------------------------------
    def set_sessions(self, sessions: Sequence[Session]) -> None:
        """Replace the list (already sorted newest first)."""
        self._filling = True
        self.model.set_sessions(sessions)
        current_row = self.model.row_of(self._current)
        if current_row is not None and self.view.currentIndex().row() != current_row:
            self.view.setCurrentIndex(self.model.index(current_row, 0))
        self._filling = False
        if not self.search.text().strip():
            self.stack.setCurrentWidget(self.view if sessions else self.empty_label)

    def set_current(self, session_id: int | None) -> None:
        self._current = session_id
        row = self.model.row_of(session_id)
        if row is not None:
            self._filling = True
            self.view.setCurrentIndex(self.model.index(row, 0))
            self._filling = False

    def set_results(self, query: str, results: Sequence[Any]) -> None:
        """Search hits: objects with session_id, session_title, message_id and snippet."""
        if query != self.search.text().strip():
            return  # an older query's answer
        from desktop_app.ui.context_panel import plain_tooltip

        self.results_model.clear()
        for r in results:
            item = QStandardItem(r.session_title)
            item.setData(r.snippet, SubtitleRole)
            item.setData(r.session_id, SessionIdRole)
            item.setData(r.message_id, MessageIdRole)
            item.setToolTip(plain_tooltip(reveal_controls(r.snippet)))
            self.results_model.appendRow(item)
        n = len(results)
        self.results_label.setText(f"{n} match{'es' if n != 1 else ''}" if n else "No matches")

    def session_ids(self) -> list[int]:
        return [s.id for s in self.model.sessions() if s.id is not None]

    def titles(self) -> list[str]:
        return [s.title for s in self.model.sessions()]

    # --- user intent ----------------------------------------------------------------
    def rename_current(self) -> None:
        idx = self.view.currentIndex()
        if idx.isValid():
            self.view.edit(idx)

    def _on_current(self, current: Any, _previous: Any) -> None:
        if self._filling or not current.isValid():
            return
        sid = current.data(SessionIdRole)
        if sid is not None and sid != self._current:
            self._current = sid
            self.sessionActivated.emit(sid)

    def _context_menu(self, pos: QPoint) -> None:
        idx = self.view.indexAt(pos)
        if not idx.isValid():
            return
        sid = idx.data(SessionIdRole)
        s = self.model.session(idx.row())
        menu = QMenu(self)
        rename = menu.addAction("Rename")
        archive = menu.addAction("Unarchive" if s and s.archived else "Archive")
        menu.addSeparator()
        delete = menu.addAction("Delete")
        chosen = menu.exec(self.view.viewport().mapToGlobal(pos))
        if chosen is rename:
            self.view.edit(idx)
        elif chosen is archive:
            self.archiveRequested.emit(sid, not (s and s.archived))
        elif chosen is delete:
            self.deleteRequested.emit(sid)

    def _on_search_text(self, text: str) -> None:
        if text.strip():
            self._search_timer.start()
        else:
            self._search_timer.stop()
            self.stack.setCurrentWidget(self.view if self.model.rowCount() else self.empty_label)

    def _run_search(self) -> None:
        query = self.search.text().strip()
        if query:
            self.stack.setCurrentIndex(1)
            self.results_label.setText("Searching…")
            self.searchRequested.emit(query)

    def _on_result(self, index: Any) -> None:
        if index.isValid():
            self.resultActivated.emit(index.data(SessionIdRole), index.data(MessageIdRole))
