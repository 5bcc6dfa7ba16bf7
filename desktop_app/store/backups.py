"""Timestamped copies of the database (before every migration, and daily) and putting
the newest one back. A damaged file is moved aside, never overwritten or deleted."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from desktop_app.store.errors import (
    DiskFullError,
    HealthyDatabaseError,
    StoreError,
    is_disk_full,
)

KEEP = 5  # the newest backups kept per database
KEEP_DAYS = 7  # and beyond them, the newest of each of the last seven days that have one
# and whatever the rule keeps, the backups together stay within this many times the
# size of the newest one, or MAX_TOTAL_FLOOR if that is more (oldest go first; the
# newest is always kept): a 1 GB database keeps three, not twelve; a small one all
MAX_TOTAL_FACTOR = 3
MAX_TOTAL_FLOOR = 1 << 30
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
        Path(f"{partial}-journal").unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(
                f"could not back up {db_path}: the disk is full; free some space on it "
                "and try again (the database itself was not changed)"
            ) from exc
        raise StoreError(f"could not back up {db_path} to {folder}: {exc}") from exc
    for old in prunable(list_backups(db_path),
                        max(MAX_TOTAL_FACTOR * _size(target), MAX_TOTAL_FLOOR)):
        old.unlink(missing_ok=True)
    return target


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def total_size(db_path: Path) -> int:
    """The bytes this database's backups take together."""
    return sum(_size(b) for b in list_backups(db_path))


def prunable(backups: list[Path], max_total: int | None = None) -> list[Path]:
    """The backups a new one makes redundant, by one rule: the newest KEEP are kept, and
    beyond them the newest backup of each of the last KEEP_DAYS days that have one; then,
    with `max_total` (bytes), the oldest of those kept go until the rest fit in it (the
    newest backup always stays)."""
    keep = set(backups[-KEEP:])
    days: set[str] = set()
    for backup in reversed(backups):
        taken = backup_time(backup)
        if taken is None or len(days) >= KEEP_DAYS:
            continue
        day = f"{taken:%Y-%m-%d}"
        if day not in days:
            days.add(day)
            keep.add(backup)
    if max_total is not None:
        total = 0
        for n, backup in enumerate([b for b in reversed(backups) if b in keep]):
            size = _size(backup)
            if n and total + size > max_total:
                keep.discard(backup)
            else:
                total += size
    return [b for b in backups if b not in keep]


@contextmanager
def _peek(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection that leaves no trace: opening a WAL-mode file creates its
    -wal and -shm, which are removed again if they were not there before. Only for a
    file no one else has open (a backup, or the database under the restore lock)."""
    absent = [Path(f"{path}{s}") for s in ("-wal", "-shm") if not Path(f"{path}{s}").exists()]
    conn = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        yield conn
    finally:
        conn.close()
        for side in absent:
            try:
                if side.exists() and (side.name.endswith("-shm") or side.stat().st_size == 0):
                    side.unlink()
            except OSError:
                pass


def is_healthy(path: Path) -> bool:
    try:
        with _peek(path) as conn:
            return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
    except sqlite3.Error:
        return False


def clean_partial_files(db_path: Path) -> list[Path]:
    """Remove what a killed backup or restore left behind ('.partial' copies and their
    '-journal', a '.restoring' copy). Call only while no other instance is open."""
    found = [
        *backup_dir(db_path).glob("*.partial"),
        *backup_dir(db_path).glob("*.partial-journal"),
        *db_path.parent.glob(f"{db_path.name}.restoring*"),
    ]
    removed = []
    for leftover in found:
        try:
            leftover.unlink()
            removed.append(leftover)
        except OSError:
            pass  # a read-only folder: harmless, they are never read
    return removed


@dataclass(frozen=True)
class Contents:
    """What a database file holds, in the words a user checks: sessions and the newest
    message."""

    sessions: int | None  # None: the file cannot be read
    newest_message: datetime | None

    def describe(self) -> str:
        if self.sessions is None:
            return "unreadable"
        plural = "s" * (self.sessions != 1)
        newest = (
            f"newest message {self.newest_message:%Y-%m-%d %H:%M} UTC"
            if self.newest_message
            else "no messages"
        )
        return f"{self.sessions} session{plural}, {newest}"


def contents(path: Path) -> Contents:
    try:
        with _peek(path) as conn:
            sessions = conn.execute(
                "SELECT count(*) FROM sessions WHERE deleted_at IS NULL"
            ).fetchone()[0]
            newest = conn.execute("SELECT max(created_at) FROM messages").fetchone()[0]
    except sqlite3.Error:
        return Contents(None, None)
    when = None
    if newest:
        try:
            when = datetime.fromisoformat(str(newest)).replace(tzinfo=UTC)
        except ValueError:
            when = None
    return Contents(int(sessions), when)


@dataclass(frozen=True)
class RestoreResult:
    restored_from: Path
    damaged_copy: Path | None  # where the replaced file now is (None if there was none)
    restored: Contents | None = None
    replaced: Contents | None = None
    safety_backup: Path | None = None  # the backup made of a healthy file before replacing it

    def message(self) -> str:
        what = f" ({self.restored.describe()})" if self.restored else ""
        line = f"restored the backup {self.restored_from.name}{what}"
        if self.replaced is not None and self.damaged_copy is not None:
            line += f" in place of the current file ({self.replaced.describe()})"
        if self.safety_backup is not None:
            line += f"; it was backed up first as {self.safety_backup.name}"
        if self.damaged_copy:
            kind = "replaced" if self.safety_backup is not None else "damaged"
            line += f"; the {kind} file is kept as {self.damaged_copy}"
        return line


def move_aside(db_path: Path, label: str = "damaged") -> Path | None:
    """Rename the database and its side files to '<name>.<label>-<time>' (a fresh name,
    so nothing is ever overwritten). Returns the new path of the main file."""
    if not db_path.exists():
        return None
    stamp = _stamp()
    aside = db_path.with_name(f"{db_path.name}.{label}-{stamp}")
    n = 1
    while any(Path(f"{aside}{s}").exists() for s in ("", *SIDE_FILES)):
        n += 1
        aside = db_path.with_name(f"{db_path.name}.{label}-{stamp}-{n}")
    # The side files go too: an old WAL replayed onto the restored file would damage it.
    for suffix in SIDE_FILES:
        side = Path(f"{db_path}{suffix}")
        if side.exists():
            os.replace(side, f"{aside}{suffix}")
    os.replace(db_path, aside)
    return aside


def _is_sound(db_path: Path) -> bool:
    """The current file opens and passes the integrity check (an empty or missing file
    holds nothing to lose)."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return False
    return is_healthy(db_path)


def restore_newest_backup(db_path: Path, *, replace_healthy: bool = False) -> RestoreResult:
    """Put the newest healthy backup in place of `db_path`, keeping the current file aside.
    A sound current file is only replaced with `replace_healthy`, and backed up first.
    The caller holds the database's exclusive lock (store.lock)."""
    candidates = [b for b in reversed(list_backups(db_path)) if is_healthy(b)]
    if not candidates:
        raise StoreError(f"there is no usable backup of {db_path} in {backup_dir(db_path)}")
    chosen = candidates[0]
    restored = contents(chosen)
    sound = _is_sound(db_path)
    replaced = contents(db_path) if db_path.exists() else None
    if sound and not replace_healthy:
        raise HealthyDatabaseError(
            f"the database {db_path} is not damaged ({replaced.describe() if replaced else ''}); "
            f"the newest backup {chosen.name} holds {restored.describe()}. Nothing was "
            "changed; to replace it anyway, use --replace-healthy (it is backed up first)."
        )
    partial = db_path.with_name(db_path.name + ".restoring")
    safety = None
    try:
        shutil.copyfile(chosen, partial)
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        if sound:
            safety = make_backup(db_path, "before-restore")
        aside = move_aside(db_path, "replaced" if sound else "damaged")
        os.replace(partial, db_path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFullError(
                f"could not restore {chosen.name}: the disk is full; free some space and try "
                "again (nothing was changed)"
            ) from exc
        raise StoreError(f"could not restore {chosen} to {db_path}: {exc}") from exc
    except StoreError:
        partial.unlink(missing_ok=True)
        raise
    return RestoreResult(chosen, aside, restored, replaced, safety)

