"""The window's menu bar and its keyboard shortcuts: File, Edit, View (the side panels,
Prompt Lab, the theme) and Help. Each action is added to the window too, so its
shortcut works while the menu bar is hidden."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from desktop_app.ui.theme import THEME_LABELS, THEMES, legible

if TYPE_CHECKING:
    from desktop_app.ui.main_window import MainWindow


def build_menus(window: MainWindow) -> None:
    """The menus; sets the window's new_action, export_action, toggle_sessions,
    toggle_budget, theme_group and theme_actions."""
    w = window
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    w.new_action = add_action(w, file_menu, "&New Session", QKeySequence.StandardKey.New,
                              lambda: w.controller and w.controller.sessions.new())
    file_menu.addSeparator()
    add_action(w, file_menu, "&Import…", "Ctrl+I", w.import_sessions)
    w.export_action = add_action(w, file_menu, "&Export Session…", "Ctrl+E", w.export_session)
    file_menu.addSeparator()
    settings = add_action(w, file_menu, "&Settings…", "Ctrl+,", w.open_settings)
    settings.setMenuRole(QAction.MenuRole.PreferencesRole)
    file_menu.addSeparator()
    quit_action = add_action(w, file_menu, "&Quit", QKeySequence.StandardKey.Quit, w.close)
    quit_action.setMenuRole(QAction.MenuRole.QuitRole)

    edit = bar.addMenu("&Edit")
    add_action(w, edit, "&Copy Message", QKeySequence.StandardKey.Copy, w.copy_selected)
    add_action(w, edit, "&Find in All Messages", QKeySequence.StandardKey.Find, w.find_in_messages)
    edit.addSeparator()
    add_action(w, edit, "&Rename Session", "F2", w.session_list.rename_current)
    add_action(w, edit, "&Pin or Unpin Message", "Ctrl+Shift+P", w.pin_selected)

    view = legible(bar.addMenu("&View"))  # its panels are checked on and off
    w.toggle_sessions = add_action(w, view, "&Sessions Panel", "Ctrl+1",
                                   w.toggle_panels, checkable=True)
    w.toggle_budget = add_action(w, view, "&Budget Panel", "Ctrl+2",
                                 w.toggle_panels, checkable=True)
    add_action(w, view, "Prompt &Lab", "Ctrl+L", w.open_prompt_lab)
    view.addSeparator()
    theme_menu = legible(view.addMenu("&Theme"))
    w.theme_group = QActionGroup(w)
    w.theme_actions = {}
    for theme in THEMES:
        a = theme_menu.addAction(THEME_LABELS[theme])
        a.setCheckable(True)
        a.setData(theme)
        w.theme_group.addAction(a)
        w.theme_actions[theme] = a
    w.theme_actions.get(w.theme, w.theme_actions["system"]).setChecked(True)
    w.theme_group.triggered.connect(lambda a: w.set_theme(a.data()))

    help_menu = bar.addMenu("&Help")
    add_action(w, help_menu, "&Keyboard Shortcuts", "Ctrl+/", w.show_shortcuts)
    about = add_action(w, help_menu, "&About Token Budget", None, w.show_about)
    about.setMenuRole(QAction.MenuRole.AboutRole)


def add_action(window: MainWindow, menu: Any, text: str, shortcut: Any, slot: Any,
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
    window.addAction(action)
    return action
