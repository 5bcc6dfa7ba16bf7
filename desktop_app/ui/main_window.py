"""The main window: sessions on the left, the conversation and composer in the centre,
the live budget gauge with its pickers and panels on the right. It shows what the
controller says and forwards what the user asks; it never reaches the store or the
network itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QRectF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QColor,
    QDesktopServices,
    QKeySequence,
    QPainter,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app import __version__
from desktop_app.controller.app_controller import AppController
from desktop_app.core.records import Message, Session
from desktop_app.ui.app import after_first_paint
from desktop_app.ui.composer import Composer
from desktop_app.ui.conversation import (
    ConversationView,
    LiveReply,
    column_margin,
    copy_message,
)
from desktop_app.ui.database_panel import DatabasePanel
from desktop_app.ui.gauge import BudgetGauge
from desktop_app.ui.palette import blend, is_dark, warning_color
from desktop_app.ui.session_list import SessionList
from desktop_app.ui.theme import THEME_LABELS, THEMES, apply_theme, mute

UNDO_SECONDS = 8
PANEL_TITLES = ("Inspector", "Memory", "Summary", "Profiles", "Usage")
SHORTCUTS = (
    ("Ctrl+Enter", "Send the message"),
    ("Esc", "Stop the reply"),
    ("Ctrl+N", "New session"),
    ("F2", "Rename the session"),
    ("Ctrl+F", "Search all messages"),
    ("Ctrl+C", "Copy the selected message"),
    ("Ctrl+Shift+P", "Pin or unpin the selected message"),
    ("Ctrl+L", "Prompt Lab"),
    ("Ctrl+,", "Settings"),
    ("Ctrl+1 / Ctrl+2", "Show or hide the sessions / budget panels"),
    ("Ctrl+Q", "Quit"),
)


class _Bar(QFrame):
    """A rounded strip with a message, optional buttons and a close button, tinted by
    its kind: "Banner" (information), "ErrorBar" or "Snackbar"."""

    def __init__(self, name: str, parent: QWidget | None = None, closable: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.kind = name
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(12, 8, 8, 8)
        self.row.setSpacing(8)
        self.row.addWidget(self.label, 1)
        if closable:
            close = QPushButton("✕")
            close.setFlat(True)
            close.setFixedWidth(28)
            close.setAccessibleName("Dismiss")
            close.setToolTip("Dismiss")
            close.clicked.connect(self.hide)
            self.close_button = close
            self.row.addWidget(close)
        self.hide()

    def add_button(self, text: str, accessible: str) -> QPushButton:
        b = QPushButton(text)
        b.setAccessibleName(accessible)
        self.row.insertWidget(self.row.count() - (1 if hasattr(self, "close_button") else 0), b)
        return b

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def _colors(self) -> tuple[QColor, QColor | None]:
        pal = self.palette()
        dark = is_dark(pal)
        base = pal.color(QPalette.ColorRole.Base)
        if self.kind == "Snackbar":
            return QColor("#e9ecf0" if dark else "#2a2e35"), None
        tint = warning_color(dark) if self.kind == "ErrorBar" else pal.color(QPalette.ColorRole.Highlight)
        fill = blend(tint, base, (0.20 if dark else 0.09) if self.kind == "ErrorBar"
                     else (0.14 if dark else 0.08))
        return fill, blend(tint, base, 0.4)

    def paintEvent(self, event: Any) -> None:
        fill, border = self._colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(border, 1) if border is not None else Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)


class Snackbar(_Bar):
    """'Session deleted — Undo' for a few seconds, floating at the bottom."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__("Snackbar", parent, closable=False)
        self.undo_button = self.add_button("Undo", "Undo")
        self.undo_button.setFlat(True)
        self._apply_text_colors()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.undo_button.clicked.connect(self.hide)

    def _apply_text_colors(self) -> None:
        dark = is_dark(self.palette())
        pal = self.label.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor("#15171a" if dark else "#f4f5f7"))
        self.label.setPalette(pal)
        pal = self.undo_button.palette()
        pal.setColor(QPalette.ColorRole.ButtonText, QColor("#2f6fd0" if dark else "#8fb8ff"))
        self.undo_button.setPalette(pal)

    def changeEvent(self, event: Any) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_text_colors()

    def flash(self, text: str, seconds: int = UNDO_SECONDS) -> None:
        self.label.setText(text)
        self.adjustSize()
        self.reposition()
        self.show()
        self.raise_()
        self._timer.start(seconds * 1000)

    def reposition(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        w = min(max(self.sizeHint().width(), 320), parent.width() - 40)
        self.resize(w, self.sizeHint().height())
        self.move((parent.width() - w) // 2, parent.height() - self.height() - 110)


class EditMessageDialog(QDialog):
    def __init__(self, m: Message, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit message")
        self.editor = QPlainTextEdit(m.content)
        self.editor.setAccessibleName("Message text")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("The edited text is stored and counted again."))
        layout.addWidget(self.editor, 1)
        layout.addWidget(buttons)
        self.resize(560, 360)

    def text(self) -> str:
        return self.editor.toPlainText()


class MainWindow(QMainWindow):
    def __init__(self, controller: AppController, settings: QSettings | None = None,
                 theme: str = "system") -> None:
        super().__init__()
        self.controller = controller
        self._settings = settings
        self.theme = theme
        self._session: Session | None = None
        self._prompt_lab: QWidget | None = None
        self._request_messages: list[Message] = []  # what the inspector's rows refer to
        self.setWindowTitle("Token Budget")
        self.setAccessibleName("Token Budget")
        self.resize(1360, 860)
        self.setMinimumSize(900, 560)

        self._build_centre()
        self._build_right()
        self.session_list = SessionList()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("MainSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.session_list)
        self.splitter.addWidget(self.centre)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self._widths = {"sessions": 250, "budget": 380}
        self.splitter.setSizes([250, 730, 380])
        self.splitter.splitterMoved.connect(lambda _pos, _index: self._remember_widths())
        self.setCentralWidget(self.splitter)
        self.snackbar = Snackbar(self)  # floats over the window, outside every layout
        self._build_menus()
        self._connect()
        self._restore_layout()
        after_first_paint(self, self.build_panels)

    # --- building -------------------------------------------------------------------
    def _build_centre(self) -> None:
        self.centre = QWidget()
        self.centre.setObjectName("Centre")
        self.centre.setBackgroundRole(QPalette.ColorRole.Base)
        self.centre.setAutoFillBackground(True)
        self.banner = _Bar("Banner", closable=True)
        self.banner.label.setText(
            "<b>Drafting mode.</b> No model provider is set up yet, so nothing is sent. "
            "Everything else works offline: write, and watch the budget fill as you type."
        )
        self.setup_button = self.banner.add_button("Set up a provider", "Set up a provider")
        self.error_bar = _Bar("ErrorBar")
        self.error_bar.label.setAccessibleName("Error message")
        self.notice = QLabel()
        mute(self.notice)
        self.notice.setWordWrap(True)
        self.notice.hide()

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
        layout = QVBoxLayout(self.centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.conversation, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.live_reply)
        layout.addWidget(self.composer)
        self.conversation.hide()
        self.centre.installEventFilter(self)

    def _build_right(self) -> None:
        self.right = QWidget()
        self.right.setObjectName("BudgetPanel")
        self.model_picker = QComboBox()
        self.model_picker.setAccessibleName("Model")
        self.model_picker.setToolTip("The model this session talks to: its window and tokenizer")
        self.model_picker.setMaxVisibleItems(20)
        self.profile_picker = QComboBox()
        self.profile_picker.setAccessibleName("Allocation profile")
        self.profile_picker.setToolTip("How the window is shared between the parts of a request")
        self.strategy_picker = QComboBox()
        self.strategy_picker.setAccessibleName("History strategy")
        self.strategy_picker.setToolTip("Which earlier messages the next request carries")
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_picker)
        form.addRow("Profile", self.profile_picker)
        form.addRow("History", self.strategy_picker)
        self.last_n_spin = QSpinBox()
        self.last_n_spin.setRange(1, 10_000)
        self.last_n_spin.setValue(20)
        self.last_n_spin.setSuffix(" messages")
        self.last_n_spin.setAccessibleName("Messages kept by Last N")
        self.last_n_spin.setToolTip("How many recent messages the Last N strategy keeps")
        self.elastic_check = QCheckBox("Lend unused shares to history")
        self.elastic_check.setAccessibleName("Elastic budget")
        self.elastic_check.setToolTip(
            "Elastic mode: parts of the request under their share lend the slack to the "
            "history. The reply reserve is never lent.")
        form.addRow("Keep", self.last_n_spin)
        form.addRow("", self.elastic_check)
        self._strategy_form = form

        self.gauge = BudgetGauge()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("Panels")
        self.tabs.setDocumentMode(True)
        self.tabs.setAccessibleName("Budget panels")
        for title in PANEL_TITLES:  # the panels themselves come with build_panels()
            self.tabs.addTab(QWidget(), title)
        self.panels_built = False

        layout = QVBoxLayout(self.right)
        layout.setContentsMargins(12, 12, 12, 8)
        layout.setSpacing(10)
        layout.addLayout(form)
        layout.addWidget(self.gauge)
        layout.addWidget(self.tabs, 1)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_action = self._action(file_menu, "&New Session", QKeySequence.StandardKey.New,
                                       lambda: self.controller.sessions.new())
        file_menu.addSeparator()
        self._action(file_menu, "&Import…", "Ctrl+I", self._import)
        self.export_action = self._action(file_menu, "&Export Session…", "Ctrl+E", self._export)
        file_menu.addSeparator()
        settings = self._action(file_menu, "&Settings…", "Ctrl+,", self.open_settings)
        settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addSeparator()
        quit_action = self._action(file_menu, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        edit = bar.addMenu("&Edit")
        self._action(edit, "&Copy Message", QKeySequence.StandardKey.Copy, self._copy_selected)
        self._action(edit, "&Find in All Messages", QKeySequence.StandardKey.Find, self._find)
        edit.addSeparator()
        self._action(edit, "&Rename Session", "F2", self.session_list.rename_current)
        self._action(edit, "&Pin or Unpin Message", "Ctrl+Shift+P", self._pin_selected)

        view = bar.addMenu("&View")
        self.toggle_sessions = self._action(view, "&Sessions Panel", "Ctrl+1",
                                            self._toggle_panel, checkable=True)
        self.toggle_budget = self._action(view, "&Budget Panel", "Ctrl+2",
                                          self._toggle_panel, checkable=True)
        self._action(view, "Prompt &Lab", "Ctrl+L", self.open_prompt_lab)
        view.addSeparator()
        theme_menu = view.addMenu("&Theme")
        self.theme_group = QActionGroup(self)
        self.theme_actions: dict[str, QAction] = {}
        for theme in THEMES:
            a = theme_menu.addAction(THEME_LABELS[theme])
            a.setCheckable(True)
            a.setData(theme)
            self.theme_group.addAction(a)
            self.theme_actions[theme] = a
        self.theme_actions.get(self.theme, self.theme_actions["system"]).setChecked(True)
        self.theme_group.triggered.connect(lambda a: self.set_theme(a.data()))

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Keyboard Shortcuts", "Ctrl+/", self.show_shortcuts)
        about = self._action(help_menu, "&About Token Budget", None, self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)

    def _action(self, menu: Any, text: str, shortcut: Any, slot: Any,
                checkable: bool = False) -> QAction:
        action = menu.addAction(text)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        if checkable:
            action.setChecked(True)
            action.toggled.connect(slot)
        else:
            action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _connect(self) -> None:
        c = self.controller
        c.starting.connect(self.build_panels)
        s = self.session_list
        s.newRequested.connect(lambda: c.sessions.new())
        s.sessionActivated.connect(c.sessions.open)
        s.renameRequested.connect(c.sessions.rename)
        s.deleteRequested.connect(c.sessions.delete)
        s.archiveRequested.connect(c.sessions.archive)
        s.showArchivedChanged.connect(c.sessions.set_show_archived)
        s.searchRequested.connect(c.sessions.search)
        s.resultActivated.connect(self._open_result)
        self.snackbar.undo_button.clicked.connect(c.sessions.undo_delete)

        self.composer.draftChanged.connect(c.budget.set_draft)
        self.composer.sendRequested.connect(c.turns.send)
        self.composer.stopRequested.connect(c.turns.stop)
        self.conversation.olderWanted.connect(c.sessions.load_older)
        self.conversation.actionTriggered.connect(self._message_action)
        self.setup_button.clicked.connect(self.open_settings)
        self.db_panel.restoreRequested.connect(c.database.restore_backup)
        self.db_panel.retryRequested.connect(c.database.retry)
        self.db_panel.openFolderRequested.connect(self.open_data_folder)
        c.databaseTrouble.connect(self._on_database_trouble)

        self.model_picker.activated.connect(
            lambda i: c.budget.set_model(self.model_picker.itemData(i) or self.model_picker.itemText(i)))
        self.profile_picker.activated.connect(
            lambda i: c.budget.set_profile(self.profile_picker.itemData(i)))
        self.strategy_picker.activated.connect(
            lambda i: c.budget.set_strategy(self.strategy_picker.itemData(i)))
        self.last_n_spin.valueChanged.connect(lambda n: c.budget.set_option("last_n", n))
        self.elastic_check.toggled.connect(lambda on: c.budget.set_option("elastic", on))
        c.strategyOptionsChanged.connect(self._on_strategy_options)

        c.sessionsChanged.connect(self._on_sessions)
        c.sessionOpened.connect(self._on_session_opened)
        c.messagesLoaded.connect(self._on_messages_loaded)
        c.olderLoaded.connect(self.conversation.show_older)
        c.messageAdded.connect(self._on_message_added)
        c.messageChanged.connect(self.conversation.update_message)
        c.messageReplaced.connect(self.conversation.replace_message)
        c.inclusionChanged.connect(self.conversation.conversation.set_inclusion)
        c.countingChanged.connect(self.conversation.conversation.set_counting)
        c.requestChanged.connect(self._remember_request_messages)
        c.reportChanged.connect(self.gauge.set_report)
        c.costChanged.connect(self.gauge.set_cost)
        c.draftCounted.connect(self._on_draft_counted)
        c.draftAccepted.connect(self.composer.clear_sent)
        c.streamStarted.connect(self._on_stream_started)
        c.streamText.connect(self.live_reply.append)
        c.streamFinished.connect(self._on_stream_finished)
        c.errorRaised.connect(self.show_error)
        c.noticeRaised.connect(self._show_notice)
        c.providerStateChanged.connect(self._on_provider_state)
        c.choicesChanged.connect(self._on_choices)
        c.selectionChanged.connect(self._on_selection)
        c.searchFinished.connect(self.session_list.set_results)
        c.sessionDeleted.connect(self._on_session_deleted)

    def build_panels(self) -> None:
        """The panels in the tabs beside the gauge. They are made just after the first
        paint (or when the controller starts, whichever comes first), so the window
        appears without waiting for them; imported here for the same reason."""
        if self.panels_built:
            return
        self.panels_built = True
        from desktop_app.ui.inspector import ContextInspector
        from desktop_app.ui.memory_panel import MemoryPanel
        from desktop_app.ui.profile_editor import ProfileEditor
        from desktop_app.ui.summary_panel import SummaryPanel
        from desktop_app.ui.usage_chart import UsageChart

        self.inspector = ContextInspector()
        self.memory_panel = MemoryPanel()
        self.summary_panel = SummaryPanel()
        self.profile_editor = ProfileEditor()
        self.usage_chart = UsageChart()
        current = self.tabs.currentIndex()
        panels = (self.inspector, self.memory_panel, self.summary_panel, self.profile_editor,
                  self.usage_chart)
        self.tabs.setUpdatesEnabled(False)
        for i, (panel, title) in enumerate(zip(panels, PANEL_TITLES)):
            placeholder = self.tabs.widget(i)
            self.tabs.removeTab(i)
            self.tabs.insertTab(i, panel, title)
            placeholder.deleteLater()
        self.tabs.setCurrentIndex(current)
        self.tabs.setUpdatesEnabled(True)

        c = self.controller
        self.memory_panel.factAdded.connect(c.panels.add_fact)
        self.memory_panel.factEdited.connect(c.panels.edit_fact)
        self.memory_panel.factDeleted.connect(c.panels.delete_fact)
        self.memory_panel.factPinned.connect(c.panels.pin_fact)
        self.summary_panel.summaryEdited.connect(c.panels.edit_summary)
        self.profile_editor.profileSaved.connect(c.panels.save_profile)
        self.profile_editor.profileDeleted.connect(c.panels.delete_profile)
        self.inspector.messageSelected.connect(self._reveal_request_message)
        c.requestChanged.connect(self.inspector.set_request)
        c.requestChanged.connect(
            lambda req, _m, _e: self.profile_editor.set_window(req.report.window))
        c.memoryChanged.connect(self.memory_panel.set_facts)
        c.summaryChanged.connect(self.summary_panel.set_summary)
        c.usageChanged.connect(self.usage_chart.set_turns)
        c.profilesChanged.connect(self.profile_editor.set_profiles)

    # --- controller -> window -------------------------------------------------------
    def _on_sessions(self, sessions: list[Session]) -> None:
        self.session_list.set_sessions(sessions)

    def _on_session_opened(self, session: Session) -> None:
        if self._session is None or self._session.id != session.id:
            self.error_bar.hide()  # an error about another session
        self._session = session
        self.session_list.set_current(session.id)
        self.setWindowTitle(f"{session.title} — Token Budget")

    def _on_messages_loaded(self, messages: list[Message], has_more: bool) -> None:
        self.conversation.show_messages(messages, has_more)
        self._show_list(bool(messages))

    def _on_message_added(self, m: Message) -> None:
        self._show_list(True)
        self.conversation.add_message(m)

    def _show_list(self, has_messages: bool) -> None:
        self.conversation.setVisible(has_messages)
        self.empty_label.setVisible(not has_messages)

    def _on_draft_counted(self, tokens: int | None, exact: bool, over: bool, note: str) -> None:
        self.composer.set_count(tokens, exact, note)
        self.composer.set_over(over)

    def _on_stream_started(self, title: str) -> None:
        self.error_bar.hide()
        self.composer.set_streaming(True)
        self.live_reply.begin(title)

    def _on_stream_finished(self) -> None:
        self.live_reply.finish()
        self.composer.set_streaming(False)

    def show_error(self, text: str) -> None:
        self.error_bar.show_text(text)

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _on_database_trouble(self, trouble: Any) -> None:
        """The database could not be opened (or, None, opened after all). The provider
        banner steps aside: the database problem is the one to read."""
        self.db_panel.show_trouble(trouble)
        if trouble is not None:
            self.banner.hide()

    def _on_provider_state(self, configured: bool, why_not: str) -> None:
        self.banner.setVisible(not configured and self.db_panel.trouble is None)
        self.composer.set_can_send(configured, why_not)

    def _on_choices(self, models: list[tuple[str, str]], profiles: list[tuple[str, str]],
                    strategies: list[tuple[str, str]]) -> None:
        for picker, items in ((self.model_picker, models), (self.profile_picker, profiles),
                              (self.strategy_picker, strategies)):
            current = picker.currentData()
            picker.blockSignals(True)
            picker.clear()
            for value, label in items:
                picker.addItem(label, value)
            i = picker.findData(current)
            if i >= 0:
                picker.setCurrentIndex(i)
            picker.blockSignals(False)

    def _on_selection(self, model: str, profile: str, strategy: str) -> None:
        for picker, value in ((self.model_picker, model), (self.profile_picker, profile),
                              (self.strategy_picker, strategy)):
            i = picker.findData(value)
            if i < 0:
                picker.addItem(value, value)
                i = picker.count() - 1
            picker.blockSignals(True)
            picker.setCurrentIndex(i)
            picker.blockSignals(False)
        self._show_last_n(strategy == "last_n")

    def _on_strategy_options(self, settings: dict) -> None:
        for widget, value in ((self.last_n_spin, int(settings.get("last_n", 20))),
                              (self.elastic_check, bool(settings.get("elastic", False)))):
            widget.blockSignals(True)
            if isinstance(widget, QSpinBox):
                widget.setValue(value)
            else:
                widget.setChecked(value)
            widget.blockSignals(False)
        self._show_last_n(self.strategy_picker.currentData() == "last_n")

    def _show_last_n(self, visible: bool) -> None:
        self._strategy_form.setRowVisible(self.last_n_spin, visible)

    def _on_session_deleted(self, _session_id: int, title: str) -> None:
        self.snackbar.flash(f"Deleted “{title}”")

    def set_theme(self, theme: str) -> None:
        """Follow the system, or force light or dark; remembered for the next start."""
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.theme = theme
        action = self.theme_actions.get(theme)
        if action is not None:
            action.setChecked(True)
        if self._settings is not None:
            self._settings.setValue("appearance/theme", theme)

    # --- user -> controller ---------------------------------------------------------
    def _message_action(self, action: str, m: Message) -> None:
        c = self.controller
        if action == "copy":
            copy_message(m)
        elif action in ("pin", "unpin"):
            c.sessions.set_pinned(m.id, action == "pin")
        elif action in ("exclude", "include"):
            c.sessions.set_excluded(m.id, action == "exclude")
        elif action == "edit":
            dialog = EditMessageDialog(m, self)
            if dialog.exec() == QDialog.DialogCode.Accepted and dialog.text() != m.content:
                c.sessions.edit_message(m.id, dialog.text())
        elif action == "resend":
            c.turns.resend(m.id)
        elif action == "retry":
            c.turns.retry(m.id)

    def _open_result(self, session_id: int, message_id: int | None) -> None:
        """A search hit: open its session and show the message (when it is loaded)."""
        if self._session is not None and self._session.id == session_id:
            self.conversation.reveal(message_id)
        else:
            self.controller.sessions.open(session_id,
                                         lambda: self.conversation.reveal(message_id))

    def _remember_request_messages(self, _request: Any, messages: list[Message],
                                   _encoding: str) -> None:
        self._request_messages = messages

    def _reveal_request_message(self, index: int) -> None:
        if 0 <= index < len(self._request_messages):
            self.conversation.reveal(self._request_messages[index].id)

    def _copy_selected(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and focus is not self.conversation and hasattr(focus, "copy"):
            focus.copy()  # a text field: copy its selection as usual
            return
        m = self.conversation.selected_message()
        if m is not None:
            copy_message(m)

    def _pin_selected(self) -> None:
        m = self.conversation.selected_message()
        if m is not None and m.id is not None:
            self.controller.sessions.set_pinned(m.id, not m.pinned)

    def _find(self) -> None:
        self.toggle_sessions.setChecked(True)
        self.session_list.search.setFocus()
        self.session_list.search.selectAll()

    def _toggle_panel(self, _checked: bool) -> None:
        self._remember_widths()
        self.session_list.setVisible(self.toggle_sessions.isChecked())
        self.right.setVisible(self.toggle_budget.isChecked())
        self._apply_widths()

    def _remember_widths(self) -> None:
        """The side panels' widths while shown (a hidden panel has none to save)."""
        sizes = self.splitter.sizes()
        if self.session_list.isVisible() and sizes[0]:
            self._widths["sessions"] = sizes[0]
        if self.right.isVisible() and sizes[2]:
            self._widths["budget"] = sizes[2]

    def _apply_widths(self) -> None:
        left = self._widths["sessions"] if self.toggle_sessions.isChecked() else 0
        right = self._widths["budget"] if self.toggle_budget.isChecked() else 0
        total = max(self.splitter.width(), self.width())
        self.splitter.setSizes([left, max(total - left - right, 300), right])

    def _import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import sessions", str(Path.home()), "Token Budget or ChatGPT export (*.tokenbudget *.json *.zip);;All files (*)"
        )
        if path:
            self.controller.sessions.import_file(Path(path))

    def _export(self) -> None:
        if self._session is None:
            self.show_error("Open a session to export it.")
            return
        name = "".join(ch if ch.isalnum() or ch in " -_" else "_" for ch in self._session.title)
        path, _ = QFileDialog.getSaveFileName(
            self, "Export session",
            str(Path.home() / f"{name.strip() or 'session'}.tokenbudget"),
            "Token Budget export (*.tokenbudget *.json);;Markdown (*.md)",
        )
        if path:
            self.controller.sessions.export(self._session.id, Path(path))

    def open_settings(self) -> None:
        from desktop_app.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.controller, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.settings_dialog = dialog
        dialog.open()

    def open_prompt_lab(self) -> None:
        if self._prompt_lab is None:
            from desktop_app.ui.prompt_lab import PromptLab

            self._prompt_lab = PromptLab()
            self._prompt_lab.setWindowFlag(Qt.WindowType.Window, True)
            self._prompt_lab.setParent(self, Qt.WindowType.Window)
            self._prompt_lab.setWindowTitle("Prompt Lab — Token Budget")
            self._prompt_lab.resize(1100, 720)
        self._prompt_lab.show()
        self._prompt_lab.raise_()
        self._prompt_lab.activateWindow()

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td style='padding-right:18px'><b>{k}</b></td><td>{v}</td></tr>"
                       for k, v in SHORTCUTS)
        self._show_message("Keyboard shortcuts", f"<table>{rows}</table>")

    def show_about(self) -> None:
        self._show_message(
            "About Token Budget",
            f"<p><b>Token Budget</b> {__version__}</p>"
            "<p>See and steer what fills a language model's context window: exact token "
            "counts, allocation profiles, history strategies and a live budget gauge.</p>"
            f"<p>Data folder: {self.controller.data_dir or '(not open)'}</p>",
        )

    def _show_message(self, title: str, html: str) -> None:
        box = QMessageBox(self)
        box.setWindowTitle(title)
        box.setIconPixmap(self.windowIcon().pixmap(48, 48))
        box.setText(html)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.message_box = box
        box.open()

    def open_data_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.controller.database.data_folder())))

    # --- layout memory --------------------------------------------------------------
    def _restore_layout(self) -> None:
        s = self._settings
        if s is None:
            return
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        for key in self._widths:
            width = s.value(f"window/{key}_width")
            if width is not None and int(width) > 0:
                self._widths[key] = int(width)
        tab = s.value("window/tab")
        if tab is not None:
            self.tabs.setCurrentIndex(int(tab))
        for key, action in (("sessions", self.toggle_sessions), ("budget", self.toggle_budget)):
            shown = s.value(f"window/show_{key}")
            if shown is not None:
                action.setChecked(str(shown).lower() in ("true", "1"))
        self._apply_widths()

    def save_layout(self) -> None:
        s = self._settings
        if s is None:
            return
        s.setValue("window/geometry", self.saveGeometry())
        self._remember_widths()
        for key, width in self._widths.items():
            s.setValue(f"window/{key}_width", width)
        s.setValue("window/tab", self.tabs.currentIndex())
        s.setValue("window/show_sessions", self.toggle_sessions.isChecked())
        s.setValue("window/show_budget", self.toggle_budget.isChecked())
        s.sync()

    def _line_up_column(self) -> None:
        """Banners, the live reply and the composer share the cards' column."""
        width = self.centre.width()
        side = column_margin(width)
        self._top_layout.setContentsMargins(side, 10, side, 0)
        self.composer.layout().setContentsMargins(side + 4, 12, side + 4, 10)
        inner = column_margin(width, 12)
        self.live_reply.layout().setContentsMargins(inner, 8, inner, 8)

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if obj is self.centre and event.type() == QEvent.Type.Resize:
            self._line_up_column()
        return False

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.snackbar.isVisible():
            self.snackbar.reposition()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        if self._prompt_lab is not None:
            self._prompt_lab.close()
        self.controller.shutdown()
        event.accept()
