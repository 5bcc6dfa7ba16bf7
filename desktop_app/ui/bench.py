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


def _installed_env() -> dict[str, str]:
    """The environment for launching the app as an installed copy runs: its modules
    compiled to bytecode once (an installer ships them compiled), kept in a cache folder
    under the temporary folder rather than beside the sources, even where the shell
    asks Python not to write bytecode (compiling our modules at every launch cost about
    90 ms of first paint that no installed copy pays)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(_cache_root() / "bytecode")
    return env


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


def startup_figures(runs: int = 5) -> dict[str, float]:
    """Launch to first paint of the app and of a bare window, median of `runs` each,
    taken in turn, as installed copies start (see _installed_env). Five each: a launch's
    time varies by a quarter from one to the next on a shared machine, the bare window's
    as much as the app's, and the ratio of two medians of three moved by 0.3 from one
    run of the bench to the next with the same code."""
    _ensure_platform()
    env = _installed_env()
    env["TB_REPORT_FIRST_PAINT"] = "1"
    app_ms, bare_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # a first launch of each, not timed, compiles what the others load
        _time_to_line([sys.executable, "-m", "desktop_app", "--data-dir",
                       str(Path(tmp) / "warm")], "first_paint_ms", env)
        _time_to_line([sys.executable, "-c", BARE_QT_CHILD], "first_paint", env)
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


# --- at size: 100k and 300k messages, a 10 MB draft, idle memory ----------------------
BIG_CACHE_VERSION = "v1"  # bump when the generated data changes
BIG_SESSIONS = {"small": 4, "100k": 100_000, "300k": 300_000}
REPLY_WORDS = 300


def _cache_root() -> Path:
    return Path(tempfile.gettempdir()) / "token-budget-bench-cache"


def _big_data(scratch: Path) -> tuple[Path, dict[str, int]]:
    """A data folder holding a 4-, a 100,000- and a 300,000-message session (counted
    under the model's encoding, as a session used in the window is), generated once and
    cached in the temporary folder; the run works on a copy."""
    import json
    import shutil

    cache = _cache_root() / f"big-{BIG_CACHE_VERSION}"
    ids_file = cache / "ids.json"
    if not ids_file.exists():
        from desktop_app.controller.sample_data import sample_messages
        from desktop_app.core.catalog import lookup_model
        from desktop_app.core.tokens import count_text

        shutil.rmtree(cache, ignore_errors=True)
        data = cache / "data"
        enc = lookup_model("gpt-4o-mini").encoding
        ids = {}
        for title, n in BIG_SESSIONS.items():
            messages = sample_messages(n, 20)
            for m in messages:
                m.token_counts[enc] = count_text(m.content, enc)
            from desktop_app.controller.sample_data import seed_session

            ids[title] = seed_session(data, title, messages, "gpt-4o-mini")
        ids_file.write_text(json.dumps(ids))
    ids = json.loads(ids_file.read_text())
    target = scratch / "data"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(cache / "data", target)
    return target, {k: int(v) for k, v in ids.items()}


class _LagProbe:
    """The GUI thread's longest block: a precise timer that should fire every
    `interval_ms`; how late it fires is how long the thread was busy elsewhere."""

    def __init__(self, interval_ms: int = 2) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms
        self.worst = 0.0
        self.where = ""
        self.phase = ""
        self._last: float | None = None
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.note((now - self._last) * 1000 - self.interval)
        self._last = now

    def note(self, block_ms: float) -> None:
        if block_ms > self.worst:
            self.worst, self.where = block_ms, self.phase


class _ReplyServer:
    """A loopback OpenAI-compatible server streaming `words` words a few milliseconds
    apart, as a fast local model does, in a process of its own (as llama-server or
    Ollama is: run in the window's process, its Python would take turns with the GUI
    thread and be measured as the window's)."""

    def __init__(self, words: int = REPLY_WORDS) -> None:
        import subprocess

        self.process = subprocess.Popen(
            [sys.executable, "-c", f"from desktop_app.ui.bench import serve_replies; "
             f"serve_replies({int(words)})"],
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{port}/v1"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def serve_replies(words: int) -> None:
    """Serve streamed replies on a free loopback port (printed first) until killed."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            data = json.dumps({"object": "list", "data": [
                {"id": "gpt-4o-mini", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.endswith("/chat/completions"):
                # as an OpenAI-compatible server without Ollama's or llama.cpp's own
                # endpoints answers the window and counting probes: at once, 404
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            base = {"id": "c", "object": "chat.completion.chunk", "created": 0,
                    "model": "gpt-4o-mini"}
            for i in range(words):
                delta = {"content": ("" if i == 0 else " ") + f"word{i}"}
                chunk = {**base, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.003)
            end = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.05)


def _current(window: Any, session_id: int) -> bool:
    """The gauge and the inspector show the preview of `session_id`'s next request."""
    c = window.controller
    a = c.budget.assembly
    return (c.idle and a is not None and a.session_id == session_id
            and window.inspector._request is a.request)


def _open_to_gauge(app: Any, window: Any, small: int, big: int, repeats: int) -> float:
    """Opening `big` until its gauge and inspector are current (ms, median)."""
    c = window.controller
    times = []
    for _ in range(repeats):
        c.sessions.open(small)
        _pump(app, lambda: _current(window, small), timeout=300)
        start = time.perf_counter()
        c.sessions.open(big)
        _pump(app, lambda: _current(window, big), timeout=300)
        app.processEvents()  # the paint of what came in
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def big_session_figures(scratch: Path, repeats: int = 3) -> dict[str, float]:
    """Open to a current gauge at 100k and 300k messages; the longest GUI-thread block
    while a 300k session opens, 50 keys are typed with pauses and a reply streams in."""
    from PySide6.QtTest import QTest

    from desktop_app.core.providers import ProviderConfig
    from desktop_app.services.connection import DEFAULT_PROVIDER_SETTING
    from desktop_app.store import open_database

    data, ids = _big_data(scratch)
    server = _ReplyServer()
    url = server.url
    db = open_database(data)
    try:
        db.providers.save(ProviderConfig("local", base_url=url, models=["gpt-4o-mini"]))
        db.settings.set(DEFAULT_PROVIDER_SETTING, "local")
    finally:
        db.close()
    app, window = _window(data)
    c = window.controller
    out: dict[str, float] = {}
    try:
        out["open_session_gauge_100k_ms"] = round(
            _open_to_gauge(app, window, ids["small"], ids["100k"], repeats), 1)
        out["open_session_gauge_300k_ms"] = round(
            _open_to_gauge(app, window, ids["small"], ids["300k"], repeats), 1)
        c.sessions.open(ids["small"])
        _pump(app, lambda: _current(window, ids["small"]), timeout=300)
        probe = _LagProbe()
        probe.start()
        probe.phase = "open"
        c.sessions.open(ids["300k"])
        _pump(app, lambda: _current(window, ids["300k"]), timeout=300)
        probe.phase = "typing"
        editor = window.composer.editor
        editor.setFocus()
        for i in range(50):
            t0 = time.perf_counter()
            QTest.keyClick(editor, "abcdefghij"[i % 10] if i % 6 else " ")
            probe.note((time.perf_counter() - t0) * 1000)
            pause = 0.7 if i % 10 == 9 else 0.06  # a pause lets the preview follow
            end = time.perf_counter() + pause
            while time.perf_counter() < end:
                app.processEvents()
                time.sleep(0.0005)
        _pump(app, lambda: _current(window, ids["300k"]), timeout=300)
        probe.phase = "reply"
        window.composer.send()
        _pump(app, lambda: c.turns.streaming, timeout=60)
        _pump(app, lambda: not c.turns.streaming and _current(window, ids["300k"]),
              timeout=300)
        probe.stop()
        out["gui_block_max_ms_300k"] = round(probe.worst, 1)
        print(f"bench: longest GUI block at 300k: {probe.worst:.1f} ms ({probe.where})",
              file=sys.stderr)
    finally:
        window.close()
        server.close()
    return out


FLOOR_CHUNK_REPAINTS = 40  # a label set and painted 40 times: about 2 ms here
FLOOR_EVERY_S = 0.03


def block_floor(seconds: float = 8.0) -> float:
    """The longest block the same probe sees in a bare Qt window that does a small
    fixed piece of work every 30 ms (a label set and painted 40 times: about 2 ms on a
    quiet machine), pumped as the big-session measure pumps its window. No block of that
    window is longer than the piece of work, but on a shared virtual machine a piece of
    work now and then takes ten times as long as it usually does: this is how long the
    machine stretches a short block, and the longest block of any window, however little
    it does at once, is not below it."""
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance() or QApplication(sys.argv[:1])
    label = QLabel("0")
    label.resize(400, 200)
    label.show()
    app.processEvents()
    probe = _LagProbe()
    probe.start()
    end = time.perf_counter() + seconds
    due = 0.0
    while time.perf_counter() < end:
        if time.perf_counter() >= due:
            start = time.perf_counter()
            for i in range(FLOOR_CHUNK_REPAINTS):
                label.setText(f"{i} tokens at {start:.6f}")
                label.repaint()
            probe.note((time.perf_counter() - start) * 1000)
            due = time.perf_counter() + FLOOR_EVERY_S
        app.processEvents()
        time.sleep(0.0005)
    probe.stop()
    label.close()
    return round(probe.worst, 1)


def big_session_figures_installed(scratch: Path) -> dict[str, float]:
    """big_session_figures in a process of its own that runs as an installed copy does,
    its modules compiled to bytecode beforehand: a module first imported in the middle
    of the measure (the fold's, the reply's) is otherwise compiled from source, holding
    the GIL for milliseconds that no installed copy pays."""
    import json

    env = _installed_env()
    package = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], env=env,
                   stdout=subprocess.DEVNULL, check=False)
    code = ("import json, sys\n"
            "from pathlib import Path\n"
            "from desktop_app.ui.bench import big_session_figures\n"
            "print('FIGURES ' + json.dumps(big_session_figures(Path(sys.argv[1]))))")
    proc = subprocess.run([sys.executable, "-c", code, str(scratch)], env=env,
                          stdout=subprocess.PIPE, text=True, timeout=3600, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("FIGURES "):
            figures: dict[str, float] = json.loads(line[len("FIGURES "):])
            break
    else:
        raise RuntimeError(f"the big-session figures failed (exit {proc.returncode})")
    floor = subprocess.run(
        [sys.executable, "-c", "from desktop_app.ui.bench import block_floor, _ensure_platform; "
         "_ensure_platform(); print('FLOOR', block_floor())"],
        env=env, stdout=subprocess.PIPE, text=True, timeout=600, check=False)
    for line in floor.stdout.splitlines():
        if line.startswith("FLOOR "):
            figures["gui_block_floor_ms"] = float(line.split()[1])
    return figures


def draft_figure(scratch: Path, keys: int = 30, megabytes: int = 10) -> float:
    """A keystroke in a 10 MB draft reaches the painted gauge (ms, median)."""
    from PySide6.QtGui import QTextCursor
    from PySide6.QtTest import QTest

    from desktop_app.core.bench import generate_draft

    line = generate_draft(2_000, "o200k_base")
    draft = (line + "\n") * (megabytes * 1_000_000 // (len(line) + 1) + 1)
    _seed(scratch, "Draft", 4, 20, "gpt-4o-mini")
    app, window = _window(scratch)
    c = window.controller
    editor = window.composer.editor
    watch = _PaintWatch(window.gauge)
    times = []
    try:
        window.composer.set_text(draft)
        _pump(app, lambda: c.idle, timeout=300)
        editor.setFocus()
        cursor = editor.textCursor()
        cursor.setPosition(len(draft) // 2)
        editor.setTextCursor(cursor)
        editor.moveCursor(QTextCursor.MoveOperation.EndOfLine)
        for i in range(keys):
            painted = watch.count
            start = time.perf_counter()
            QTest.keyClick(editor, "abcdefghij"[i % 10] if i % 7 else " ")
            deadline = start + 5
            while watch.count == painted and time.perf_counter() < deadline:
                app.processEvents()
            app.processEvents()
            times.append((time.perf_counter() - start) * 1000)
            c.budget.timer.stop()
    finally:
        window.close()
    return statistics.median(times)


def idle_rss_figures(runs: int = 2) -> dict[str, float]:
    """The window's resident memory (MB) once idle with an empty database: at its very
    first start, which creates the database (and so loads Alembic to migrate it), and
    at a start after that, with the database already there (median of `runs` each)."""
    from desktop_app.ui.app import IDLE_RSS_ENV

    _ensure_platform()
    env = _installed_env()
    env[IDLE_RSS_ENV] = "1"
    first, later = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            for figures in (first, later):  # the same folder twice
                proc = subprocess.run([sys.executable, "-m", "desktop_app", "--data-dir",
                                       str(Path(tmp) / f"d{i}")], env=env, capture_output=True,
                                      text=True, timeout=120)
                for line in proc.stdout.splitlines():
                    if line.startswith("idle_rss_mb "):
                        figures.append(float(line.split()[1]))
    if len(first) != runs or len(later) != runs:
        raise RuntimeError("the window did not report its memory")
    return {"idle_rss_mb": statistics.median(later),
            "idle_rss_first_start_mb": statistics.median(first)}


def idle_rss_figure(runs: int = 2) -> float:
    """The window's resident memory (MB) once idle with an empty database that an
    earlier start created: what every start but the very first one holds."""
    return idle_rss_figures(runs)["idle_rss_mb"]


def run_ui_bench(include_startup: bool = True, quick: bool = False) -> dict[str, Any]:
    """All the window's figures, in milliseconds."""
    _ensure_platform()
    results: dict[str, Any] = {}
    if include_startup:
        results.update(startup_figures())
    with tempfile.TemporaryDirectory() as tmp:
        results["open_session_paint_10k_ms"] = round(open_session_figure(Path(tmp) / "open"), 1)
        results.update(keystroke_figure(Path(tmp) / "keys"))
        results["stream_chunk_gui_ms"] = round(stream_figure(Path(tmp) / "stream"), 3)
        results["draft_10mb_keystroke_ms"] = round(draft_figure(Path(tmp) / "draft"), 2)
        if not quick:
            results.update(big_session_figures_installed(Path(tmp) / "big"))
    results.update({k: round(v, 1) for k, v in idle_rss_figures().items()})
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(run_ui_bench(), indent=2))
