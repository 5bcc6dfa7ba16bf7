"""What can go wrong with the database, each with a message a user can act on."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """A storage problem to show the user as one clear line."""


class NotADatabaseError(StoreError):
    """The file is not an SQLite database, or not Token Budget's."""


class ReadOnlyDatabaseError(StoreError):
    """The database file or its folder cannot be written."""


class NewerSchemaError(StoreError):
    """The database was written by a newer version of the app."""


class DatabaseBusyError(StoreError):
    """Another process held the database for longer than the busy timeout."""


class CorruptDatabaseError(StoreError):
    """The file failed its integrity check. It is never written to; the newest backup
    (if any) can replace it with restore_newest_backup(), which keeps it aside."""

    def __init__(self, message: str, path: Path, newest_backup: Path | None) -> None:
        super().__init__(message)
        self.path = path
        self.newest_backup = newest_backup


class DiskFullError(StoreError):
    """A write failed because the disk is full: nothing is damaged, space is needed."""


class BadRowError(StoreError):
    """One stored value cannot be read (malformed JSON); the file itself is sound."""


class HealthyDatabaseError(StoreError):
    """A restore was refused: the current database is sound (replace_healthy overrides)."""


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL from SQLite, or ENOSPC (EDQUOT: a quota) from the operating system."""
    import errno
    import sqlite3

    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == sqlite3.SQLITE_FULL) or (
            "database or disk is full" in str(exc)
        )
    return False


class NotFoundError(StoreError):
    """A session, message or other row that does not exist (or was deleted)."""


class ImportFormatError(StoreError):
    """An import file that cannot be read, naming the file, the place and the field."""

    def __init__(self, file: str, where: str, problem: str) -> None:
        location = f"{file}: {where}: " if where else f"{file}: "
        super().__init__(location + problem)
        self.file = file
        self.where = where
        self.problem = problem
