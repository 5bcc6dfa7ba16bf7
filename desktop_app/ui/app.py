"""Starting the window: the QApplication, its name, high-DPI, theme and the main window.
Only Qt and our widgets load before the first paint; the database, the encodings and
the network SDK load afterwards on worker threads."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import Any

_STARTED = time.perf_counter()

APP_NAME = "Token Budget"
ORGANIZATION = "TokenBudget"
# Set by the startup benchmark: print when the window has painted, then quit.
FIRST_PAINT_ENV = "TB_REPORT_FIRST_PAINT"
# Set by the memory benchmark: print the resident memory once the window is idle, then quit.
IDLE_RSS_ENV = "TB_REPORT_IDLE_RSS"
IDLE_SETTLE_MS = 2000
GUI_SWITCH_INTERVAL_S = 0.0005


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

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(argv if argv is not None else sys.argv[:1])
    # The GUI thread shares the GIL with the workers (assembly, the store, the network).
    # Each time it returns from Qt it waits for the GIL for up to the switch interval,
    # and a paint returns from Qt hundreds of times: at CPython's default (5 ms) a busy
    # worker turned one paint into a quarter of a second. 0.5 ms keeps a frame a frame.
    sys.setswitchinterval(GUI_SWITCH_INTERVAL_S)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    app.setDesktopFileName("token-budget")
    from desktop_app import __version__

    app.setApplicationVersion(__version__)
    from PySide6.QtGui import QIcon

    from desktop_app.paths import MissingResourceError, resource

    # a build without icons still runs; the self-test reports the missing file
    with contextlib.suppress(MissingResourceError):
        app.setWindowIcon(QIcon(str(resource("icons", "app.png"))))
    return app


def build_window(data_dir: str | Path | None, theme: str | None = None) -> Any:
    """The main window and its controller, themed, not yet shown or started."""
    from desktop_app.controller.app_controller import AppController
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.theme import apply_theme

    app = create_application()
    settings = window_settings(data_dir)
    theme = theme or str(settings.value("appearance/theme", "system"))
    apply_theme(app, theme)
    controller = AppController(data_dir)
    window = MainWindow(controller, settings, theme=theme)
    return window


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
    window = build_window(getattr(args, "data_dir", None))
    report = bool(os.environ.get(FIRST_PAINT_ENV))
    after_first_paint(window, lambda: _first_painted(window, report))
    _open_files_when_ready(app, window, [Path(f) for f in getattr(args, "open_files", [])])
    window.show()
    return int(app.exec())


def _open_files_when_ready(app: Any, window: Any, files: list[Path]) -> None:
    """Exports opened with the app (Windows passes them as arguments; macOS sends a
    FileOpen event) are imported once the database is open."""
    from PySide6.QtCore import QEvent, QObject

    pending = list(files)
    controller = window.controller

    def flush() -> None:
        while pending:
            controller.sessions.import_file(pending.pop(0))

    controller.ready.connect(flush)

    class FileOpenFilter(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.FileOpen and event.file():
                pending.append(Path(event.file()))
                if controller.db is not None:
                    flush()
                return True
            return False

    window._file_open_filter = FileOpenFilter(window)  # kept alive with the window
    app.installEventFilter(window._file_open_filter)


def _first_painted(window: Any, report: bool) -> None:
    """The window is on screen: now load the database and the rest."""
    if report:
        heavy = [m for m in ("openai", "sqlalchemy", "alembic", "tiktoken") if m in sys.modules]
        print(f"first_paint_ms {(time.perf_counter() - _STARTED) * 1000:.1f} "
              f"heavy_modules={','.join(heavy) or 'none'}", flush=True)
    window.controller.start()
    if report:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, window.close)
    elif os.environ.get(IDLE_RSS_ENV):
        _report_idle_rss(window)


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
                             "pydantic", "jinja2", "markdown_it") if m in sys.modules]
        from desktop_app.core import tokens

        loaded = sorted(getattr(tokens, "_ENCODINGS", {}) or ())
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
