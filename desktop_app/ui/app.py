"""Starting the window: the QApplication, its name, high-DPI, theme and the main window.
Only Qt and our widgets load before the first paint. After it the controller's modules
are imported on a worker thread, then the controller is made and started; the
database, the encodings and the network SDK load later still, on worker threads."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

_STARTED = time.perf_counter()

APP_NAME = "Token Budget"
ORGANIZATION = "TokenBudget"
# Set by the startup benchmark: print when the window has painted, then quit.
FIRST_PAINT_ENV = "TB_REPORT_FIRST_PAINT"
# What the first paint does without, loaded with the controller after it: the libraries
# of the store and the network, and the counting with the catalog and tokenizers under it
NOT_BEFORE_FIRST_PAINT = ("openai", "sqlalchemy", "alembic", "tiktoken",
                          *(f"desktop_app.core.{m}" for m in (
                              "counting", "budget", "tokens", "catalog", "tokenizers",
                              "records")))
# Set by the memory benchmark: print the resident memory once the window is idle, then quit.
IDLE_RSS_ENV = "TB_REPORT_IDLE_RSS"
IDLE_SETTLE_MS = 2000
GUI_SWITCH_INTERVAL_S = 0.0001


def window_settings(data_dir: str | Path | None) -> Any:
    """Where the window's size and layout are remembered: beside the data when a data
    folder is given (portable use, tests), else in the platform's usual place."""
    from PySide6.QtCore import QSettings

    if data_dir:
        folder = Path(data_dir).expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        return QSettings(str(folder / "window.ini"), QSettings.Format.IniFormat)
    return QSettings()


def create_application(argv: list[str] | None = None) -> Any:
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from desktop_app.ui.application import TokenBudgetApplication

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = TokenBudgetApplication(argv if argv is not None else sys.argv[:1])
    # The GUI thread shares the GIL with the workers (assembly, the store, the network).
    # Each time it returns from Qt it waits for the GIL for up to the switch interval,
    # and a paint returns from Qt hundreds of times: at CPython's default (5 ms) a busy
    # worker turned one paint into a quarter of a second. At 0.5 ms a paint with a busy
    # worker still took 2-3 times as long as without; at 0.1 ms, 1.1-1.5 times.
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setDesktopFileName("token-budget")
    # No setApplicationVersion: nothing reads it, and the version comes from
    # importlib.metadata (~20 ms and ~5 MB with the email package it loads); the About
    # box and exports look __version__ up when they need it.
    from PySide6.QtGui import QIcon

    from desktop_app.paths import MissingResourceError, resource

    # a build without icons still runs; the self-test reports the missing file
    with contextlib.suppress(MissingResourceError):
        app.setWindowIcon(QIcon(str(resource("icons", "app.png"))))
    return app


def build_window(data_dir: str | Path | None, theme: str | None = None) -> Any:
    """The main window and its controller, themed, not yet shown or started."""
    from desktop_app.controller.app_controller import AppController

    window = build_shell(data_dir, theme)
    window.attach(AppController(data_dir))
    return window


def build_shell(data_dir: str | Path | None, theme: str | None = None) -> Any:
    """The main window, themed, without its controller yet (see MainWindow.attach):
    everything its first paint shows."""
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.theme import apply_theme

    app = create_application()
    settings = window_settings(data_dir)
    theme = theme or str(settings.value("appearance/theme", "system"))
    apply_theme(app, theme)
    return MainWindow(None, settings, theme=theme)


def run_app(args: Any) -> int:
    """`token-budget` with no subcommand: the window. Without a display, or without the
    system libraries Qt's X11 plugin needs, one plain line says what to do (exit 1)
    instead of Qt aborting the process."""
    from desktop_app.ui.display_check import display_problem

    problem = display_problem()
    if problem:
        print(f"token-budget: {problem}", file=sys.stderr)
        return 1
    app = create_application()
    data_dir = getattr(args, "data_dir", None)
    # The window first; its controller (~0.1 s of imports: the assembler, the
    # services) is made once the window is on screen.
    window = build_shell(data_dir)
    report = bool(os.environ.get(FIRST_PAINT_ENV))
    after_first_paint(window, lambda: _first_painted(window, data_dir, report))
    _open_files_when_ready(app, window, [Path(f) for f in getattr(args, "open_files", [])])
    window.show()
    return int(app.exec())


def _open_files_when_ready(app: Any, window: Any, files: list[Path]) -> None:
    """Exports opened with the app (Windows passes them as arguments; macOS sends a
    FileOpen event, possibly before the controller is made) are imported once the
    database is open."""
    from PySide6.QtCore import QObject

    from desktop_app.ui.application import TokenBudgetApplication

    pending = list(files)

    def flush() -> None:
        while pending:
            window.controller.sessions.import_file(pending.pop(0))

    def attached() -> None:
        window.controller.ready.connect(flush)

    if window.controller is not None:
        attached()
    else:
        window.attached.connect(attached)

    class FileOpenReceiver(QObject):
        def take(self, path: str) -> None:
            pending.append(Path(path))
            if window.controller is not None and window.controller.db is not None:
                flush()

    if isinstance(app, TokenBudgetApplication):
        # a child of the window: disconnected when the window goes
        window._file_open_receiver = FileOpenReceiver(window)
        app.fileOpenRequested.connect(window._file_open_receiver.take)


def _first_painted(window: Any, data_dir: str | Path | None, report: bool) -> None:
    """The window is on screen: now the modules of its panels and of the controller
    are imported off the GUI thread, then the panels and the controller are made, and
    the controller loads the database and the rest."""
    if report:
        heavy = [m for m in NOT_BEFORE_FIRST_PAINT if m in sys.modules]
        # cpu_ms: the process's CPU time so far, from its start (steadier than the wall
        # clock on a busy machine)
        print(f"first_paint_ms {(time.perf_counter() - _STARTED) * 1000:.1f} "
              f"cpu_ms={time.process_time() * 1000:.0f} "
              f"heavy_modules={','.join(heavy) or 'none'}", flush=True)
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, window.close)
        return
    from desktop_app.ui.window_budget import PANEL_MODULES

    _import_then(window, [*PANEL_MODULES, "desktop_app.controller.app_controller"],
                 lambda: _start_controller(window, data_dir))


def _start_controller(window: Any, data_dir: str | Path | None) -> None:
    from desktop_app.controller.app_controller import AppController

    window.build_panels()
    window.attach(AppController(data_dir))
    window.controller.start()
    if os.environ.get(IDLE_RSS_ENV):
        _report_idle_rss(window)


def _import_then(window: Any, modules: list[str], then: Any) -> None:
    """Import `modules` on a worker thread, then call `then` on the GUI thread. An
    import is mostly Python code, which lets the GUI thread have the GIL every switch
    interval (0.5 ms), so the window keeps painting and taking input meanwhile (what
    is typed reaches the controller when it is attached). After a failed import,
    `then` imports again and the error is raised there."""
    import importlib

    from PySide6.QtCore import QObject, Signal

    class _Imported(QObject):
        done = Signal()

    imported = _Imported(window)  # on the GUI thread: `done` is delivered there
    imported.done.connect(then)

    def work() -> None:
        try:
            for module in modules:
                importlib.import_module(module)
        finally:
            with contextlib.suppress(RuntimeError):  # the window is gone
                imported.done.emit()

    threading.Thread(target=work, name="import after first paint", daemon=True).start()


def resident_mb() -> float:
    """This process's resident memory (MB; 0 where /proc is not there)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _report_idle_rss(window: Any) -> None:
    """Once the controller is idle and has been for a while: the memory, then quit."""
    import gc

    from PySide6.QtCore import QTimer

    def check() -> None:
        if not window.controller.idle or window.controller.db is None:
            QTimer.singleShot(100, check)
            return
        gc.collect()
        heavy = [m for m in ("openai", "sqlalchemy", "alembic", "tiktoken", "httpx",
                             "pydantic", "jinja2", "markdown_it",
                             "desktop_app.ui.message_card") if m in sys.modules]
        from desktop_app.core.tokenizers import SPECS, is_loaded

        loaded = [name for name in SPECS if is_loaded(name)]
        print(f"idle_rss_mb {resident_mb():.1f} modules={','.join(heavy) or 'none'} "
              f"encodings={','.join(loaded) or 'none'}", flush=True)
        window.close()

    QTimer.singleShot(IDLE_SETTLE_MS, check)


def after_first_paint(window: Any, callback: Any, fallback_ms: int = 300) -> None:
    """Call `callback` once, right after the window's first paint (or after
    `fallback_ms` if it is never painted, e.g. started minimized)."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    fired = False

    def fire() -> None:
        nonlocal fired
        if not fired:
            fired = True
            window.removeEventFilter(watcher)
            callback()

    class _Watcher(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint:
                QTimer.singleShot(0, fire)  # after this paint has finished
            return False

    watcher = _Watcher(window)
    window.installEventFilter(watcher)
    QTimer.singleShot(fallback_ms, fire)
