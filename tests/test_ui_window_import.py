"""Importing in the window (issue 11): a file imported a second time is recognised,
nothing is duplicated, the window says so and offers to import it again, as new
sessions, which happens only when asked."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt

from desktop_app.store import open_database
from desktop_app.store.transfer import write_export
from tests.ui_support import open_window, seed_session, wait_idle


def exported(tmp_path):
    """A real export from another database: one session with two messages."""
    source = tmp_path / "elsewhere"
    seed_session(source, "Lisbon plans", [("user", "Five days in May?"),
                                         ("assistant", "Here is a plan.")])
    path = tmp_path / "lisbon.tokenbudget"
    with open_database(source) as db:
        write_export(db, path, "json")
    return path


def test_a_second_import_is_recognised_and_imported_again_only_when_asked(qtbot, data_dir,
                                                                          tmp_path):
    path = exported(tmp_path)
    window = open_window(qtbot, data_dir)
    window.controller.sessions.import_file(path)
    wait_idle(qtbot, window)
    assert window.session_list.titles().count("Lisbon plans") == 1
    assert getattr(window, "import_again_box", None) is None  # nothing to ask the first time

    window.controller.sessions.import_file(path)
    wait_idle(qtbot, window)
    assert window.session_list.titles().count("Lisbon plans") == 1  # no duplicate
    assert "“Lisbon plans” was already imported" in window.notice.text()
    box = window.import_again_box
    qtbot.waitUntil(box.isVisible)
    assert box.text().startswith("“Lisbon plans” was already imported (session ")
    skip = next(b for b in box.buttons() if b.text() == "Skip")
    assert box.defaultButton() is skip
    skip.click()
    wait_idle(qtbot, window)
    assert window.session_list.titles().count("Lisbon plans") == 1

    window.controller.sessions.import_file(path)
    wait_idle(qtbot, window)
    box = window.import_again_box
    qtbot.waitUntil(box.isVisible)
    next(b for b in box.buttons() if b.text() == "Import again").click()
    qtbot.waitUntil(lambda: window.session_list.titles().count("Lisbon plans") == 2)
    wait_idle(qtbot, window)
    assert "imported 1 session (2 messages)" in window.notice.text()
    window.close()


def test_a_title_that_reverses_itself_is_shown_with_its_control(qtbot, data_dir, tmp_path):
    """A right-to-left override makes "Budget ‮gnp.exe report" read "Budget troper
    exe.png": the session list, the window's title, the notice and the question show
    the control as a marker instead of obeying it, as the messages do."""
    source = tmp_path / "elsewhere"
    evil = "Budget \u202egnp.exe report"
    seed_session(source, evil, [("user", "Hi"), ("assistant", "Hello")])
    path = tmp_path / "evil.tokenbudget"
    with open_database(source) as db:
        write_export(db, path, "json")
    window = open_window(qtbot, data_dir)
    for _ in range(2):
        window.controller.sessions.import_file(path)
        wait_idle(qtbot, window)
    shown = "Budget ⟨U+202E⟩gnp.exe report"
    box = window.import_again_box
    qtbot.waitUntil(box.isVisible)
    assert shown in box.text() and "\u202e" not in box.text()
    assert shown in window.notice.text() and "\u202e" not in window.notice.text()
    tip = window.session_list.model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert shown in tip and "\u202e" not in tip
    assert window.session_list.titles() == [evil]  # kept as it is: a rename edits it
    box.close()
    window.controller.sessions.open(window.session_list.session_ids()[0])
    qtbot.waitUntil(lambda: shown in window.windowTitle())
    assert "\u202e" not in window.windowTitle()
    window.close()
