"""Opening an export with the app (a double-click: Windows passes the file as an
argument, macOS sends a FileOpen event) imports it into the window's database."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QFileOpenEvent

from desktop_app.cli import _window_request, main
from desktop_app.core.records import Message, Session
from desktop_app.store import open_database
from desktop_app.ui.app import _open_files_when_ready, build_window, create_application
from tests.ui_support import close_window, wait_idle


def make_export(tmp_path: Path, title: str) -> Path:
    source = tmp_path / f"source-{title}"
    db = open_database(source)
    session = db.sessions.create(Session(title=title, model="gpt-4o"))
    db.messages.append(session.id, Message("user", f"hello from {title}"))
    db.close()
    out = tmp_path / f"{title}.tokenbudget"
    assert main(["--data-dir", str(source), "export", "--all", "--format", "json",
                 "-o", str(out)]) == 0
    return out


def test_the_command_line_routes_exports_and_bare_launches_to_the_window(tmp_path):
    export = make_export(tmp_path, "routed")
    request = _window_request([str(export)])
    assert request is not None and request.open_files == [str(export)]
    assert _window_request(["--data-dir", "x"]).data_dir == "x"
    assert _window_request([]).open_files == []
    assert _window_request(["count", "file.txt"]) is None  # a subcommand, not the window
    assert _window_request([str(tmp_path / "missing.tokenbudget")]) is None


def test_files_given_at_launch_and_file_open_events_are_imported(qtbot, data_dir, tmp_path):
    at_launch = make_export(tmp_path, "At launch")
    later = make_export(tmp_path, "From Finder")
    app = create_application()
    window = build_window(data_dir, "light")
    qtbot.addWidget(window)
    _open_files_when_ready(app, window, [at_launch])
    window.show()
    window.controller.start()

    def titles() -> set[str]:
        db = window.controller.db
        return {s.title for s in db.sessions.list()} if db is not None else set()

    qtbot.waitUntil(lambda: "At launch" in titles(), timeout=15_000)
    QCoreApplication.sendEvent(app, QFileOpenEvent(str(later)))
    qtbot.waitUntil(lambda: "From Finder" in titles(), timeout=15_000)
    wait_idle(qtbot, window)
    close_window(window)
