"""The main window: sessions on the left, the conversation and composer in the centre,
the live budget gauge with its pickers and panels on the right. It shows what the
controller says and forwards what the user asks; it never reaches the store or the
network itself.

Its parts live beside it: the centre column (window_centre), the budget column
(window_budget), the message strips and the snackbar (window_bars), the menus and
shortcuts (window_menus), the small dialogs (window_dialogs) and the wiring of the
controller's signals (window_wiring). This module puts them together, keeps the
window's own state (the open session, the side panels' widths) and handles what the
user asks of the window as a whole."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QRect, QSettings, Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMainWindow, QSplitter, QWidget

from desktop_app.core.text import reveal_controls
from desktop_app.ui.app import after_first_paint
from desktop_app.ui.conversation import copy_message
from desktop_app.ui.session_list import SessionList
from desktop_app.ui.sizing import FIRST_SIZE, first_window_geometry
from desktop_app.ui.theme import apply_theme
from desktop_app.ui.window_bars import Snackbar
from desktop_app.ui.window_budget import BudgetPanel
from desktop_app.ui.window_centre import CentreColumn
from desktop_app.ui.window_menus import build_menus
from desktop_app.ui.window_wiring import connect_panels, connect_window

if TYPE_CHECKING:
    from PySide6.QtGui import QAction, QActionGroup

    from desktop_app.controller.app_controller import AppController
    from desktop_app.core.records import Message, Session


class MainWindow(QMainWindow):
    attached = Signal()  # the controller is there (see attach)
    # set by build_menus (window_menus)
    new_action: QAction
    export_action: QAction
    toggle_sessions: QAction
    toggle_budget: QAction
    theme_group: QActionGroup
    theme_actions: dict[str, QAction]

    def __init__(self, controller: AppController | None, settings: QSettings | None = None,
                 theme: str = "system") -> None:
        super().__init__()
        self.controller: AppController = None  # type: ignore[assignment] # until attach()
        self._settings = settings
        self.theme = theme
        self._session: Session | None = None
        self._prompt_lab: QWidget | None = None
        self._request_messages: list[Message] = []  # what the inspector's rows refer to
        self.setWindowTitle("Token Budget")
        self.setAccessibleName("Token Budget")
        self.fit_to_screen()  # until _restore_layout brings the size it had

        self.centre = CentreColumn()
        # the centre's parts, as the window's own (the tests and the wiring use them)
        self.banner = self.centre.banner
        self.setup_button = self.centre.setup_button
        self.error_bar = self.centre.error_bar
        self.notice = self.centre.notice
        self.db_panel = self.centre.db_panel
        self.conversation = self.centre.conversation
        self.empty_label = self.centre.empty_label
        self.live_reply = self.centre.live_reply
        self.composer = self.centre.composer
        self.right = BudgetPanel()
        self.model_picker = self.right.model_picker
        self.profile_picker = self.right.profile_picker
        self.strategy_picker = self.right.strategy_picker
        self.last_n_spin = self.right.last_n_spin
        self.elastic_check = self.right.elastic_check
        self.gauge = self.right.gauge
        self.tabs = self.right.tabs
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
        self._widths = self._default_widths(self.width())
        self.splitter.setSizes([self._widths["sessions"], 730, self._widths["budget"]])
        self.splitter.splitterMoved.connect(lambda _pos, _index: self._remember_widths())
        self.setCentralWidget(self.splitter)
        self.snackbar = Snackbar(self)  # floats over the window, outside every layout
        build_menus(self)
        if controller is not None:
            self.attach(controller)
        self._restore_layout()
        if controller is not None:  # else they come with the controller (app.run_app)
            after_first_paint(self, self.build_panels)

    def attach(self, controller: AppController) -> None:
        """The controller this window shows and drives. The app makes it just after the
        first paint (its modules take a while to import), so the window appears first;
        what was typed in the meantime reaches it here."""
        self.controller = controller
        connect_window(self)
        if self.panels_built:
            connect_panels(self)
        if self.composer.text():
            controller.budget.set_draft(self.composer.text())
        self.attached.emit()

    def build_panels(self) -> None:
        """The panels in the tabs beside the gauge. They are made just after the first
        paint (or when the controller starts, whichever comes first; when the app
        starts, with the controller), so the window appears without waiting for them."""
        if not self.right.build_panels():
            return
        self.context_panel = self.right.context_panel
        self.inspector = self.right.inspector
        self.memory_panel = self.right.memory_panel
        self.summary_panel = self.right.summary_panel
        self.profile_editor = self.right.profile_editor
        self.usage_chart = self.right.usage_chart
        if self.controller is not None:
            connect_panels(self)

    @property
    def panels_built(self) -> bool:
        return self.right.panels_built

    # --- controller -> window -------------------------------------------------------
    def on_session_opened(self, session: Session) -> None:
        if self._session is None or self._session.id != session.id:
            self.error_bar.hide()  # an error about another session
        if self._session is not None and self._session.id != session.id:
            self.centre.clear_notice()  # a notice about another session
        self._session = session
        self.session_list.set_current(session.id)
        self.setWindowTitle(f"{reveal_controls(session.title)} — Token Budget")

    def on_messages_loaded(self, messages: list[Message], has_more: bool) -> None:
        self.conversation.show_messages(messages, has_more)
        self.centre.show_list(bool(messages))

    def on_message_added(self, m: Message) -> None:
        self.centre.show_list(True)
        self.conversation.add_message(m)

    def on_draft_counted(self, tokens: int | None, exact: bool, over: bool, note: str) -> None:
        self.composer.set_count(tokens, exact, note)
        self.composer.set_over(over)

    def on_stream_started(self, title: str) -> None:
        self.error_bar.hide()
        self.centre.clear_notice()  # what was said about the last turn
        self.composer.set_streaming(True)
        self.live_reply.begin(title)

    def on_stream_finished(self) -> None:
        self.live_reply.finish()
        self.composer.set_streaming(False)

    def show_error(self, text: str) -> None:
        self.error_bar.show_text(text)

    def on_database_trouble(self, trouble: Any) -> None:
        """The database could not be opened (or, None, opened after all). The provider
        banner steps aside: the database problem is the one to read."""
        self.db_panel.show_trouble(trouble)
        if trouble is not None:
            self.banner.hide()

    def on_provider_state(self, configured: bool, why_not: str) -> None:
        self.banner.setVisible(not configured and self.db_panel.trouble is None)
        self.composer.set_can_send(configured, why_not)

    def on_session_deleted(self, _session_id: int, title: str) -> None:
        self.snackbar.flash(f"Deleted “{title}”")

    def remember_request_messages(self, _request: Any, messages: list[Message],
                                  _encoding: str) -> None:
        self._request_messages = messages

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
    def on_message_action(self, action: str, m: Message) -> None:
        c = self.controller
        if action == "copy":
            copy_message(m)
        elif action in ("pin", "unpin"):
            c.sessions.set_pinned(m.id, action == "pin")
        elif action in ("exclude", "include"):
            c.sessions.set_excluded(m.id, action == "exclude")
        elif action == "edit":
            from desktop_app.ui.window_dialogs import EditMessageDialog

            dialog = EditMessageDialog(m, self)
            if dialog.exec() == QDialog.DialogCode.Accepted and dialog.text() != m.content:
                c.sessions.edit_message(m.id, dialog.text())
        elif action == "resend":
            c.turns.resend(m.id)
        elif action == "retry":
            c.turns.retry(m.id)

    def open_result(self, session_id: int, message_id: int | None) -> None:
        """A search hit: open its session and show the message (when it is loaded)."""
        if self._session is not None and self._session.id == session_id:
            self.conversation.reveal(message_id)
        else:
            self.controller.sessions.open(session_id,
                                         lambda: self.conversation.reveal(message_id))

    def reveal_request_message(self, index: int) -> None:
        if 0 <= index < len(self._request_messages):
            self.conversation.reveal(self._request_messages[index].id)

    def copy_selected(self) -> None:
        focus = QApplication.focusWidget()
        if focus is not None and focus is not self.conversation and hasattr(focus, "copy"):
            focus.copy()  # a text field: copy its selection as usual
            return
        m = self.conversation.selected_message()
        if m is not None:
            copy_message(m)

    def pin_selected(self) -> None:
        m = self.conversation.selected_message()
        if m is not None and m.id is not None:
            self.controller.sessions.set_pinned(m.id, not m.pinned)

    def find_in_messages(self) -> None:
        self.toggle_sessions.setChecked(True)
        self.session_list.search.setFocus()
        self.session_list.search.selectAll()

    def import_sessions(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import sessions", str(Path.home()),
            "Token Budget or ChatGPT export (*.tokenbudget *.json *.zip);;All files (*)"
        )
        if path:
            self.controller.sessions.import_file(Path(path))

    def export_session(self) -> None:
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
        if self.controller is None:
            return  # clicked in the moment between the first paint and the controller
        from desktop_app.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.controller, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.settings_dialog = dialog
        dialog.open()

    def open_prompt_lab(self) -> None:
        if self.controller is None:
            return  # as in open_settings
        if self._prompt_lab is None:
            from desktop_app.ui.prompt_lab import PromptLab

            self._prompt_lab = PromptLab(controller=self.controller)
            self._prompt_lab.setWindowFlag(Qt.WindowType.Window, True)
            self._prompt_lab.setParent(self, Qt.WindowType.Window)
            self._prompt_lab.setWindowTitle("Prompt Lab — Token Budget")
            # 1100×720 where the screen has room, else its available area, centred
            screen = self.screen() or QGuiApplication.primaryScreen()
            available = (screen.availableGeometry() if screen is not None
                         else QRect(0, 0, 1100, 720))
            place = first_window_geometry(available, (1100, 720))
            self._prompt_lab.setGeometry(place)
        self._prompt_lab.show()
        self._prompt_lab.raise_()
        self._prompt_lab.activateWindow()

    def show_shortcuts(self) -> None:
        from desktop_app.ui.window_dialogs import shortcuts_html, show_message

        self.message_box = show_message(self, "Keyboard shortcuts", shortcuts_html())

    def show_about(self) -> None:
        from desktop_app.ui.window_dialogs import about_html, show_message

        data_dir = self.controller.data_dir if self.controller is not None else None
        self.message_box = show_message(self, "About Token Budget", about_html(data_dir))

    def open_data_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.controller.database.data_folder())))

    # --- the side panels and layout memory ------------------------------------------
    def fit_to_screen(self, available: QRect | None = None) -> None:
        """The first window: 1360×860 where the screen has room for it, else the
        screen's available area (`available`: QScreen.availableGeometry, without task
        bars and docks) less room for the frame, so that the composer and Send are on
        screen; centred."""
        if available is None:
            screen = self.screen() or QGuiApplication.primaryScreen()
            available = (screen.availableGeometry() if screen is not None
                         else QRect(0, 0, *FIRST_SIZE))
        least = first_window_geometry(available, (900, 560))
        self.setMinimumSize(least.width(), least.height())
        place = first_window_geometry(available, minimum=(least.width(), least.height()))
        self.resize(place.size())
        self.move(place.topLeft())

    def _default_widths(self, width: int) -> dict[str, int]:
        """The side panels' widths before the user sets any: about a fifth of the
        window for the sessions, the budget column at least its minimum."""
        return {"sessions": max(200, min(260, round(width * 0.18))),
                "budget": max(self.right.minimumWidth(), min(440, round(width * 0.3)))}

    def toggle_panels(self, _checked: bool) -> None:
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

    def _restore_layout(self) -> None:
        s = self._settings
        if s is None:
            return
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
            self._keep_on_screen()
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

    def _keep_on_screen(self) -> None:
        """A remembered size from a larger screen: shrunk to this one's available area."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None or self.isMaximized() or self.isFullScreen():
            return
        available = screen.availableGeometry()
        if self.width() > available.width() or self.height() > available.height():
            self.fit_to_screen(available)

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

    # --- Qt events ------------------------------------------------------------------
    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.snackbar.isVisible():
            self.snackbar.reposition()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        if self._prompt_lab is not None:
            self._prompt_lab.close()
        if self.controller is not None:
            self.controller.shutdown()
        event.accept()
