"""Who is using the database: every open Database holds a shared lock on
'<database>.lock' (so several app windows and CLI commands can work side by side), and a
restore takes it exclusively, so it never swaps the file out under a running instance
whose new rows would otherwise land in the file moved aside.

The lock is the operating system's (flock), so it is released when the process dies,
however it dies: a crashed instance never blocks a restore. Where flock does not exist
(Windows), the lock is not taken; SQLite's own locks are then the only guard."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from desktop_app.store.errors import DatabaseBusyError, StoreError

WAIT_S = 5.0  # how long opening waits for a restore in progress to finish


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class DatabaseLock:
    """A held lock on a database's lock file; release() (or close the process) lets go."""

    def __init__(self, db_path: Path, fd: int | None) -> None:
        self.db_path = db_path
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock

    def __enter__(self) -> DatabaseLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def _open(db_path: Path) -> int | None:
    if fcntl is None:
        return None
    try:
        return os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None  # a read-only folder: nothing can be written, so nothing to guard


def acquire_shared(
    db_path: Path, wait_s: float = WAIT_S, alone: Callable[[], object] | None = None
) -> DatabaseLock:
    """The lock every user of the database holds (waits for a restore to finish).
    `alone` runs first if no other instance has the database open (tidying up files
    another instance might still be writing)."""
    fd = _open(db_path)
    if fd is None:
        return DatabaseLock(db_path, None)
    if alone is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            try:
                alone()
            finally:
                fcntl.flock(fd, fcntl.LOCK_SH)  # others may join from here on
            return DatabaseLock(db_path, fd)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return DatabaseLock(db_path, fd)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise DatabaseBusyError(
                    f"the database {db_path} is being restored from a backup by another "
                    "Token Budget; wait for it to finish, then try again"
                ) from None
            time.sleep(0.05)


def acquire_exclusive(db_path: Path) -> DatabaseLock:
    """The lock a restore holds: refused at once while any instance has the file open."""
    fd = _open(db_path)
    if fd is None:
        if fcntl is not None and db_path.parent.exists() and not os.access(
            db_path.parent, os.W_OK
        ):
            raise StoreError(f"the data folder {db_path.parent} is read-only; nothing to restore")
        return DatabaseLock(db_path, None)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseBusyError(
            f"the database {db_path} is open in another Token Budget (a window or a "
            "command); close it first. Nothing was changed."
        ) from None
    return DatabaseLock(db_path, fd)
