"""Streamed text, batched: a fast stream of chunks from a worker thread becomes a few
updates on the GUI thread."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, QTimer, Signal, Slot


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
