"""Why the database could not be opened, as plain data the window can show: the kind of
problem, a calm message in the window's words (the store's own messages speak of
command-line options), and for a damaged file the backup that can replace it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

CORRUPT = "corrupt"
NEWER_SCHEMA = "newer_schema"
NOT_A_DATABASE = "not_a_database"
READ_ONLY = "read_only"
BUSY = "busy"
DISK_FULL = "disk_full"
OTHER = "other"


@dataclass(frozen=True)
class DatabaseTrouble:
    kind: str  # one of the constants above
    title: str  # one short line
    message: str  # what happened and what the user can do, in plain words
    detail: str  # the store's own message, for a support request
    folder: Path  # the data folder ("Open data folder")
    database: Path
    backup: Path | None = None  # the newest backup (a damaged file only)
    backup_time: datetime | None = None  # when it was taken, local time
    damaged_name: str = ""  # the name the damaged file will be kept under

    @property
    def can_restore(self) -> bool:
        return self.kind == CORRUPT and self.backup is not None

    @property
    def can_retry(self) -> bool:
        """Worth trying again once the user has done something (closed the other window,
        made the file writable, moved it away)."""
        return self.kind != NEWER_SCHEMA and not self.can_restore


def when(moment: datetime | None) -> str:
    """'14 March 2025 at 09:30' in local time ('an unknown time' if unknown)."""
    if moment is None:
        return "an unknown time"
    local = moment.astimezone()
    return f"{local.day} {local:%B %Y} at {local:%H:%M}"


def describe(exc: BaseException, database: Path) -> DatabaseTrouble:
    """The trouble behind `exc`, raised while opening `database`."""
    from desktop_app.store import backups
    from desktop_app.store.errors import (
        CorruptDatabaseError,
        DatabaseBusyError,
        DiskFullError,
        NewerSchemaError,
        NotADatabaseError,
        ReadOnlyDatabaseError,
    )

    detail = str(exc).strip() or type(exc).__name__
    folder = database.parent
    common = {"detail": detail, "folder": folder, "database": database}
    if isinstance(exc, CorruptDatabaseError):
        backup = exc.newest_backup
        taken = backups.backup_time(backup) if backup is not None else None
        kept = f"{database.name}.damaged-…"
        if backup is not None:
            message = (  # read after the title: "The database file is damaged."
                f"Your newest backup is from {when(taken)}. Restore it? The damaged file "
                f"is kept as {kept} in the data folder."
            )
        else:
            message = (
                "There is no backup to restore; the file was left untouched. Move it out "
                "of the data folder (keep it: a recovery tool may save some of it), then "
                "try again to start a new database."
            )
        return DatabaseTrouble(CORRUPT, "The database file is damaged", message, **common,
                               backup=backup, backup_time=taken, damaged_name=kept)
    if isinstance(exc, DiskFullError):
        return DatabaseTrouble(
            DISK_FULL, "The disk is full",
            "The disk that holds the data folder is full, so Token Budget cannot save. "
            "Nothing is damaged. Free some space, then try again.", **common)
    if isinstance(exc, NewerSchemaError):
        from desktop_app import __version__  # importlib.metadata: only when it is said

        return DatabaseTrouble(
            NEWER_SCHEMA, "Written by a newer Token Budget",
            f"A newer version of Token Budget wrote this database, and this version "
            f"({__version__}) cannot read it. It was left untouched. Install the newer "
            "version to open it.", **common)
    if isinstance(exc, DatabaseBusyError):
        return DatabaseTrouble(
            BUSY, "The database is in use",
            "Another Token Budget (or another program) is using this database and did "
            "not let go in time. Close the other window or wait a moment, then retry.",
            **common)
    if isinstance(exc, ReadOnlyDatabaseError):
        return DatabaseTrouble(
            READ_ONLY, "The database cannot be written",
            "The database file or its folder is read-only, so Token Budget cannot save "
            "anything. It was left untouched. Make it writable, or copy it to a folder you "
            "can write to, then try again.", **common)
    if isinstance(exc, NotADatabaseError):
        return DatabaseTrouble(
            NOT_A_DATABASE, "This is not a Token Budget database",
            f"The file {database.name} in the data folder is not a Token Budget database. "
            "It was left untouched. Move it out of the folder (a new database will be "
            "made), then try again.", **common)
    said = detail.rstrip(".")
    return DatabaseTrouble(
        OTHER, "The database could not be opened",
        f"{said[:1].upper()}{said[1:]}. Drafting still works; nothing is saved until "
        "this is fixed.", **common)
