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
