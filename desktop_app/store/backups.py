"""Timestamped copies of the database (before every migration, and daily) and putting
the newest one back. A damaged file is moved aside, never overwritten or deleted."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from desktop_app.store.errors import StoreError

KEEP = 5  # backups kept per database; older ones are deleted
SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite's companions of a database file


def backup_dir(db_path: Path) -> Path:
    return db_path.parent / "backups"


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def list_backups(db_path: Path) -> list[Path]:
    """This database's backups, oldest first (the names sort by time)."""
    folder = backup_dir(db_path)
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{db_path.stem}-*.sqlite3"))


def newest_backup(db_path: Path) -> Path | None:
    found = list_backups(db_path)
    return found[-1] if found else None


def backup_time(backup: Path) -> datetime | None:
    match = re.search(r"-(\d{8}T\d{6}\.\d{6})Z-", backup.name)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)


def read_only_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro"


def make_backup(db_path: Path, reason: str) -> Path:
    """A consistent copy of the live database (SQLite's online backup, so pages still in
    the WAL are included and other connections may keep working), then prune to KEEP."""
    folder = backup_dir(db_path)
    folder.mkdir(parents=True, exist_ok=True)
    label = re.sub(r"[^A-Za-z0-9_.]+", "-", reason).strip("-") or "backup"
    target = folder / f"{db_path.stem}-{_stamp()}-{label}.sqlite3"
    partial = target.with_name(target.name + ".partial")
    try:
        source = sqlite3.connect(read_only_uri(db_path), uri=True)
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, target)  # a backup either exists whole or not at all
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"could not back up {db_path} to {folder}: {exc}") from exc
    for old in list_backups(db_path)[:-KEEP]:
        old.unlink(missing_ok=True)
    return target


def is_healthy(path: Path) -> bool:
    try:
        conn = sqlite3.connect(read_only_uri(path), uri=True)
        try:
            return conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        finally:
            conn.close()
    except sqlite3.Error:
        return False


@dataclass(frozen=True)
class RestoreResult:
    restored_from: Path
    damaged_copy: Path | None  # where the replaced file now is (None if there was none)

    def message(self) -> str:
        kept = f"; the damaged file is kept as {self.damaged_copy}" if self.damaged_copy else ""
        return f"restored the backup {self.restored_from.name}{kept}"


def move_aside(db_path: Path) -> Path | None:
    """Rename the database and its side files to '<name>.damaged-<time>' (a fresh name,
    so nothing is ever overwritten). Returns the new path of the main file."""
    if not db_path.exists():
        return None
    stamp = _stamp()
    aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}")
    n = 1
    while any(Path(f"{aside}{s}").exists() for s in ("", *SIDE_FILES)):
        n += 1
        aside = db_path.with_name(f"{db_path.name}.damaged-{stamp}-{n}")
    # The side files go too: an old WAL replayed onto the restored file would damage it.
    for suffix in SIDE_FILES:
        side = Path(f"{db_path}{suffix}")
        if side.exists():
            os.replace(side, f"{aside}{suffix}")
    os.replace(db_path, aside)
    return aside


def restore_newest_backup(db_path: Path) -> RestoreResult:
    """Put the newest healthy backup in place of `db_path`, keeping the current file aside."""
    candidates = [b for b in reversed(list_backups(db_path)) if is_healthy(b)]
    if not candidates:
        raise StoreError(f"there is no usable backup of {db_path} in {backup_dir(db_path)}")
    chosen = candidates[0]
    partial = db_path.with_name(db_path.name + ".restoring")
    try:
        shutil.copyfile(chosen, partial)
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        aside = move_aside(db_path)
        os.replace(partial, db_path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"could not restore {chosen} to {db_path}: {exc}") from exc
    return RestoreResult(chosen, aside)
