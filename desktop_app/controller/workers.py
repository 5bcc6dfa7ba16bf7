"""Running work off the GUI thread: jobs on a QThreadPool whose results come back to
the GUI thread as queued signals, and a batcher that turns a fast stream of chunks into
a few GUI updates."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

log = logging.getLogger(__name__)

Done = Callable[[Any], None]
Failed = Callable[[str], None]


def describe_error(exc: BaseException) -> str:
    """One line for the user: the error's own message when it has one that says
    something, else its kind."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or type(exc).__name__


class _Job(QRunnable):
    def __init__(self, job_id: int, fn: Callable[[], Any], finished: Any) -> None:
        super().__init__()
        self.job_id = job_id
        self.fn = fn
        self.finished = finished
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result, error = self.fn(), None
        except Exception as exc:  # every failure reaches the window as a message
            if not getattr(exc, "expected", False):
                log.debug("job %s failed", self.job_id, exc_info=True)
            result, error = None, exc
        try:
            self.finished.emit(self.job_id, result, error)
        except RuntimeError:  # the controller is gone (the app is closing)
            pass


class JobRunner(QObject):
    """Submits callables to pools and calls `done(result)` or `failed(message)` on the
    GUI thread. Callers guard against stale results themselves (generation counters);
    the runner only delivers."""

    _finished = Signal(int, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Database work runs on one thread, in order: a write and the read after it
        # never race, and SQLite sees one writer.
        self.serial = QThreadPool(self)
        self.serial.setMaxThreadCount(1)
        self.serial.setExpiryTimeout(-1)
        # Network and long counts run beside it.
        self.parallel = QThreadPool(self)
        self.parallel.setMaxThreadCount(4)
        self._callbacks: dict[int, tuple[Done | None, Failed | None]] = {}
        self._next_id = 0
        self._finished.connect(self._deliver)

    def submit(self, fn: Callable[[], Any], done: Done | None = None,
               failed: Failed | None = None, *, serial: bool = True) -> int:
        self._next_id += 1
        self._callbacks[self._next_id] = (done, failed)
        (self.serial if serial else self.parallel).start(_Job(self._next_id, fn, self._finished))
        return self._next_id

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    @Slot(int, object, object)
    def _deliver(self, job_id: int, result: Any, error: BaseException | None) -> None:
        done, failed = self._callbacks.pop(job_id, (None, None))
        if error is None:
            if done is not None:
                done(result)
        elif failed is not None:
            failed(describe_error(error))
        else:
            log.warning("background job failed: %s", describe_error(error))

    def wait(self, msecs: int = 10_000) -> bool:
        ok = self.parallel.waitForDone(msecs)
        return self.serial.waitForDone(msecs) and ok


class ChunkBatcher(QObject):
    """Collects streamed text on the worker thread; the GUI thread takes it at most
    once per `interval_ms`, so a fast stream costs a handful of appends, not one per
    chunk. `flushed(text)` is emitted on the GUI thread."""

    flushed = Signal(str)
    _pending = Signal()

    def __init__(self, interval_ms: int = 30, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._pending.connect(self._schedule)

    def add(self, text: str) -> None:
        """Called on the worker thread for every chunk."""
        if not text:
            return
        with self._lock:
            first = not self._parts
            self._parts.append(text)
        if first:
            self._pending.emit()

    @Slot()
    def _schedule(self) -> None:
        if self._timer.isActive():
            return
        wait = self.interval_ms - (time.perf_counter() - self._last_flush) * 1000
        if wait <= 0:
            self.flush()
        else:
            self._timer.start(int(wait) + 1)

    @Slot()
    def flush(self) -> None:
        with self._lock:
            parts, self._parts = self._parts, []
        self._last_flush = time.perf_counter()
        if parts:
            self.flushed.emit("".join(parts))

    def reset(self) -> None:
        self._timer.stop()
        with self._lock:
            self._parts = []
