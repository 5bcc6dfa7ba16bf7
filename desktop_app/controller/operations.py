"""Work off the GUI thread, results back on it: the one background-operation helper
(in the spirit of Anki's QueryOp). A caller hands over a plain function that gets its
inputs as arguments (never by reading GUI objects), and callbacks that run on the GUI
thread. Staleness is built in: an operation may carry a `Stamp` of a `Scope` (the open
session, the newest draft…); when the scope has moved on by the time the result
arrives, the callbacks are skipped.

Database work runs in order on one serial thread, so a write and the read after it
never race and SQLite sees one writer; network and long counts run beside it."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)
T = TypeVar("T")


def describe_error(exc: BaseException) -> str:
    """One line for the user: the error's own message when it has one that says
    something, else its kind."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def set_aside_long_lived() -> None:
    """Leave what exists now out of the cyclic garbage collector's scans. A full
    collection walks every tracked object while holding the GIL: with the app's
    modules and a session loaded, 100,000+ objects and 30-80 ms in which neither the
    GUI thread nor a worker runs. Nearly all of them live as long as the app (modules,
    widgets) or the open session (its messages, which hold no cycles and are still freed
    by reference counting), so they are moved into the collector's permanent generation
    once things settle (the window open, a session opened); the scans then cover only
    what came after."""
    gc.freeze()


class Scope:
    """Something results can go stale against: advancing it drops the callbacks of
    every operation stamped before."""

    def __init__(self) -> None:
        self.generation = 0

    def advance(self) -> None:
        self.generation += 1

    def stamp(self) -> Stamp:
        return Stamp(self, self.generation)


@dataclass(frozen=True)
class Stamp:
    scope: Scope
    generation: int

    @property
    def current(self) -> bool:
        return self.scope.generation == self.generation


@dataclass
class _Callbacks(Generic[T]):
    success: Callable[[T], None] | None
    failure: Callable[[str], None] | None
    stamp: Stamp | None


class _Runnable(QRunnable):
    def __init__(self, op_id: int, work: Callable[[], Any], finished: Any) -> None:
        super().__init__()
        self.op_id = op_id
        self.work = work
        self.finished = finished
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result, error = self.work(), None
        except Exception as exc:  # every failure reaches the window as a message
            if not getattr(exc, "expected", False):
                log.debug("operation %s failed", self.op_id, exc_info=True)
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the receiver is gone (the app is closing)
            self.finished.emit(self.op_id, result, error)


class Operations(QObject):
    """Runs functions on worker threads and calls `success(result)` or
    `failure(message)` on the GUI thread, unless their stamp has gone stale."""

    _finished = Signal(int, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.serial = QThreadPool(self)
        self.serial.setMaxThreadCount(1)
        self.serial.setExpiryTimeout(-1)
        self.parallel = QThreadPool(self)
        self.parallel.setMaxThreadCount(4)
        self._waiting: dict[int, _Callbacks[Any]] = {}
        self._next_id = 0
        self._finished.connect(self._deliver)

    def run(self, work: Callable[[], T], success: Callable[[T], None] | None = None,
            failure: Callable[[str], None] | None = None, *, serial: bool = True,
            stamp: Stamp | None = None) -> int:
        self._next_id += 1
        self._waiting[self._next_id] = _Callbacks(success, failure, stamp)
        pool = self.serial if serial else self.parallel
        pool.start(_Runnable(self._next_id, work, self._finished))
        return self._next_id

    @property
    def pending(self) -> int:
        """Operations started whose callbacks have not run yet."""
        return len(self._waiting)

    @Slot(int, object, object)
    def _deliver(self, op_id: int, result: Any, error: BaseException | None) -> None:
        callbacks = self._waiting.pop(op_id, None)
        if callbacks is None:
            return
        if callbacks.stamp is not None and not callbacks.stamp.current:
            if error is not None:
                log.info("a stale operation failed: %s", describe_error(error))
            return
        if error is None:
            if callbacks.success is not None:
                callbacks.success(result)
        elif callbacks.failure is not None:
            callbacks.failure(describe_error(error))
        else:
            log.warning("background operation failed: %s", describe_error(error))

    def wait(self, msecs: int = 10_000) -> bool:
        """Block until the threads are idle (closing, tests); callbacks still queue."""
        ok = self.parallel.waitForDone(msecs)
        return self.serial.waitForDone(msecs) and ok
