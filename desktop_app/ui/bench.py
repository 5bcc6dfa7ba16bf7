"""The window's speed figures (for `token-budget bench`): start-up to the first painted
window beside a bare PySide6 window, opening a 10,000-message session, a keystroke
reaching the painted gauge with a 200,000-token session open, and the GUI-thread cost
of a streamed chunk. Benchmarks, not tests: they measure and report."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

BARE_QT_CHILD = r"""
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication(sys.argv[:1])
window = QWidget()
window.resize(1360, 860)
class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            print("first_paint", flush=True)
            QTimer.singleShot(0, app.quit)
        return False
watcher = FirstPaint()
window.installEventFilter(watcher)
window.show()
app.exec()
"""


def _ensure_platform() -> None:
    """Offscreen where there is no display (CI, a server); the real one elsewhere."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _time_to_line(cmd: list[str], marker: str, env: dict[str, str]) -> float:
    """Milliseconds from launching `cmd` to its printing a line starting with `marker`."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                            text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(marker):
                elapsed = (time.perf_counter() - start) * 1000
                if "heavy_modules=" in line and "heavy_modules=none" not in line:
                    raise RuntimeError(f"start-up imported heavy modules: {line.strip()}")
                return elapsed
        raise RuntimeError(f"{cmd[0]} exited without painting (exit {proc.wait()})")
    finally:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def startup_figures(runs: int = 3) -> dict[str, float]:
    """Launch to first paint of the app and of a bare window, median of `runs` each."""
    _ensure_platform()
    env = dict(os.environ)
    env["TB_REPORT_FIRST_PAINT"] = "1"
    app_ms, bare_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            data = str(Path(tmp) / f"data{i}")
            app_ms.append(_time_to_line([sys.executable, "-m", "desktop_app", "--data-dir", data],
                                        "first_paint_ms", env))
            bare_ms.append(_time_to_line([sys.executable, "-c", BARE_QT_CHILD], "first_paint", env))
    app, bare = statistics.median(app_ms), statistics.median(bare_ms)
    return {
        "startup_first_paint_ms": round(app, 1),
        "bare_qt_first_paint_ms": round(bare, 1),
        "startup_ratio_to_bare_qt": round(app / bare, 2),
    }


# --- in-process figures ------------------------------------------------------------------
def _seed(data_dir: Path, title: str, messages: int, words: int, model: str,
          strategy: str = "token_window") -> int:
    from desktop_app.controller.sample_data import sample_messages, seed_session

    return seed_session(data_dir, title, sample_messages(messages, words), model, strategy)


def _pump(app: Any, until: Any, timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while not until():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not settle in time")
        app.processEvents()
        time.sleep(0.001)


class _PaintWatch:
    """Counts paint events on a widget (the filter runs just before each paint)."""

    def __init__(self, widget: Any) -> None:
        from PySide6.QtCore import QEvent, QObject

        watch = self

        class _Filter(QObject):
            def eventFilter(self, obj: Any, event: Any) -> bool:
                if event.type() == QEvent.Type.Paint:
                    watch.count += 1
                return False

        self.count = 0
        self._filter = _Filter(widget)
        widget.installEventFilter(self._filter)


def _window(data_dir: Path) -> tuple[Any, Any]:
    from desktop_app.ui.app import build_window, create_application

    app = create_application()
    window = build_window(data_dir, "light")
    window.resize(1360, 860)
    window.show()
    window.controller.start()
    _pump(app, lambda: window.controller.db is not None and window.controller.idle)
    return app, window


def open_session_figure(data_dir: Path, repeats: int = 5) -> float:
    """A 10,000-message session opens and paints its last screen (ms, median)."""
    small = _seed(data_dir, "Small", 4, 20, "gpt-4o-mini")
    big = _seed(data_dir, "Ten thousand", 10_000, 40, "gpt-4o-mini")
    app, window = _window(data_dir)
    c = window.controller
    viewport = window.conversation.viewport()
    watch = _PaintWatch(viewport)
    times = []
    try:
        for i in range(repeats + 1):  # the first opening counts and stores the page's tokens
            c.sessions.open(small)
            _pump(app, lambda: c.idle and c.session is not None and c.session.id == small)
            painted = watch.count
            start = time.perf_counter()
            c.sessions.open(big)
            _pump(app, lambda p=painted: c.session is not None and c.session.id == big
                  and window.conversation.conversation.rowCount() > 0 and watch.count > p)
            # the filter saw the paint begin; let it finish
            app.processEvents()
            elapsed = (time.perf_counter() - start) * 1000
            bar = window.conversation.verticalScrollBar()
            assert bar.value() == bar.maximum(), "the newest messages are on screen"
            if i:
                times.append(elapsed)
            _pump(app, lambda: c.idle)
    finally:
        window.close()
    return statistics.median(times)


def keystroke_figure(data_dir: Path, keys: int = 60) -> dict[str, float]:
    """A keystroke reaches the painted gauge (ms) with a 200,000-token session open."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    _seed(data_dir, "Two hundred thousand tokens", 2_000, 75, "gpt-4.1", strategy="full")
    app, window = _window(data_dir)
    c = window.controller
    shown = c.budget.assembly
    session_tokens = sum(shown.request.component_tokens.values()) if shown else 0
    if session_tokens < 200_000:
        raise RuntimeError(f"the keystroke session holds only {session_tokens:,} tokens")
    editor = window.composer.editor
    editor.setFocus()
    watch = _PaintWatch(window.gauge)
    times = []
    try:
        for i in range(keys):
            painted = watch.count
            start = time.perf_counter()
            QTest.keyClick(editor, "abcdefghij"[i % 10] if i % 7 else Qt.Key.Key_Space)
            while watch.count == painted:
                app.processEvents()
            app.processEvents()  # the paint the filter announced
            times.append((time.perf_counter() - start) * 1000)
            c.budget.timer.stop()  # measure keystrokes, not the pause re-assembly
    finally:
        window.close()
    times.sort()
    return {
        "keystroke_to_gauge_ms": round(statistics.median(times), 2),
        "keystroke_to_gauge_p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
    }


def stream_figure(data_dir: Path, chunks: int = 2_000, interval_s: float = 0.002) -> float:
    """GUI-thread CPU time per streamed chunk (ms): a worker thread feeds chunks at a
    fast model's pace while the window shows them in the live area."""
    _seed(data_dir, "Stream", 20, 30, "gpt-4o-mini")
    app, window = _window(data_dir)
    c = window.controller
    c.streamStarted.emit("Assistant is replying…")
    done = threading.Event()

    def feed() -> None:
        for i in range(chunks):
            c.turns.batcher.add(f" word{i}" + ("\n" if i % 40 == 39 else ""))
            time.sleep(interval_s)
        done.set()

    worker = threading.Thread(target=feed, daemon=True)
    gui_start = time.thread_time()
    worker.start()
    try:
        while not done.is_set():
            app.processEvents()
            time.sleep(0.0005)
        c.turns.batcher.flush()
        app.processEvents()
        gui_cpu = time.thread_time() - gui_start
        shown = window.live_reply.current_text()
        assert shown.count("word") == chunks, "every chunk reached the live area"
    finally:
        c.streamFinished.emit()
        window.close()
    return gui_cpu * 1000 / chunks


def run_ui_bench(include_startup: bool = True) -> dict[str, Any]:
    """All the window's figures, in milliseconds."""
    _ensure_platform()
    results: dict[str, Any] = {}
    if include_startup:
        results.update(startup_figures())
    with tempfile.TemporaryDirectory() as tmp:
        results["open_session_paint_10k_ms"] = round(open_session_figure(Path(tmp) / "open"), 1)
        results.update(keystroke_figure(Path(tmp) / "keys"))
        results["stream_chunk_gui_ms"] = round(stream_figure(Path(tmp) / "stream"), 3)
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run_ui_bench(), indent=2))
