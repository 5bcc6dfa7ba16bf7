"""The database file's life: where it lives, checking it before anything writes to it,
backups, migrations at start, connection settings, and the repositories callers use.

open_database() is the one way in. It refuses, with a clear StoreError and without
writing a byte, a file that is not an SQLite database, is read-only, is damaged, or was
written by a newer version of the app."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

import platformdirs
from sqlalchemy import URL, Engine, create_engine, event, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import sessionmaker

from desktop_app.store import backups, migrate, recovery
from desktop_app.store.calibration import CalibrationRepository
from desktop_app.store.errors import (
    BadRowError,
    CorruptDatabaseError,
    DatabaseBusyError,
    DiskFullError,
    NewerSchemaError,
    NotADatabaseError,
    ReadOnlyDatabaseError,
    StoreError,
    is_disk_full,
)
from desktop_app.store.experiments import ExperimentRepository
from desktop_app.store.lock import DatabaseLock, acquire_exclusive, acquire_shared
from desktop_app.store.memory import MemoryRepository
from desktop_app.store.messages import MessageRepository
from desktop_app.store.models import MessageRow
from desktop_app.store.profiles import ProfileRepository
from desktop_app.store.providers import ProviderRepository
from desktop_app.store.sessions import SessionRepository
from desktop_app.store.settings import SettingsRepository
from desktop_app.store.summaries import SummaryRepository
from desktop_app.store.usage import UsageRepository

APP_NAME = "TokenBudget"
ENV_VAR = "TOKEN_BUDGET_DATA_DIR"
DB_FILE = "token_budget.sqlite3"
SQLITE_MAGIC = b"SQLite format 3\x00"
# A second app instance waits this long for the other's write to finish before it gives
# up with DatabaseBusyError. Writes here take milliseconds, so 5 s means "really stuck".
BUSY_TIMEOUT_MS = 5000
DAILY_BACKUP_AFTER = timedelta(hours=24)
# More often when there is new work: a start finds changes made since a backup older
# than this, and backs them up (backups.prune keeps the newest few and one a day).
NEW_WORK_BACKUP_AFTER = timedelta(hours=2)
# The full PRAGMA quick_check reads every page (13.5 s cold for 1 GB), so a start runs it
# only when the last one is older than this, or on a file small enough that it costs
# nothing; `token-budget check` runs it (and the full integrity_check) on demand. The
# header, schema and revision are still looked at on every start.
CHECK_EVERY = timedelta(days=7)
CHECK_ALWAYS_BELOW = 64 << 20  # bytes: quick_check of 64 MB takes ~0.1 s warm
CHECKED_AT = "store.checked_at"  # the setting: when the last full check passed (UTC ISO)


def default_data_dir() -> Path:
    """TOKEN_BUDGET_DATA_DIR if set (portable use, tests), else the user's data folder."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def database_path(data_dir: Path | str | None = None) -> Path:
    folder = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return folder / DB_FILE


def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # pysqlite's own transaction handling would BEGIN lazily and too late; we issue BEGIN
    # ourselves in _on_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL: readers never block the writer nor each other, so a second app instance (or a
    # worker thread) can read while a reply is being stored; and a crash mid-write leaves
    # the last committed state intact.
    cursor.execute("PRAGMA journal_mode=WAL")
    # synchronous=FULL syncs the WAL at every commit. NORMAL would survive an app crash
    # too, but could lose the last commits on power loss or an OS crash; a chat message
    # the user saw "sent" must not vanish, and FULL costs well under a millisecond per
    # append on an SSD (see bench.py).
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _on_begin(connection) -> None:
    # Writes start with BEGIN IMMEDIATE: the write lock is taken up front (waiting up to
    # the busy timeout), instead of failing at once when a read transaction must upgrade
    # to a write while another process is writing. Reads use a plain deferred BEGIN.
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _on_connect_read_only(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Read-only media: nothing may be written, not even the journal mode.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _make_engine(path: Path, read_only_uri: str | None = None) -> Engine:
    if read_only_uri is not None:
        uri = read_only_uri
        engine = create_engine(
            URL.create("sqlite"),
            creator=lambda: sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                            check_same_thread=False),
        )
        event.listen(engine, "connect", _on_connect_read_only)
    else:
        url = URL.create("sqlite", database=str(path))
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def _folder_writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def _read_only_uri(path: Path, no_room: bool = False) -> str:
    """How to read a database nothing may be written beside: SQLite's read-only mode,
    and `immutable` when its folder cannot take the -shm file a WAL reader needs (a
    read-only medium, or a full disk: `no_room`), after a clean close left no
    write-ahead log."""
    uri = backups.read_only_uri(path)
    wal = Path(f"{path}-wal")
    cannot_add = no_room or not _folder_writable(path.parent)
    if cannot_add and not (wal.exists() and wal.stat().st_size):
        uri += "&immutable=1"
    return uri


@dataclass(frozen=True)
class _FileState:
    exists: bool
    revision: str | None  # the schema revision stored in the file
    wal_missing: bool = False  # the write-ahead log was deleted while in use
    checked: bool = False  # this start ran the full quick_check (and it passed)


def _last_check(conn: sqlite3.Connection, tables: set[str]) -> datetime | None:
    if "settings" not in tables:
        return None
    try:
        row = conn.execute("SELECT value FROM settings WHERE key = ?", (CHECKED_AT,)).fetchone()
        when = datetime.fromisoformat(json.loads(row[0])) if row else None
    except (sqlite3.Error, ValueError, TypeError):
        return None
    return when if when is not None and when.tzinfo is not None else None


def _check_due(size: int, last: datetime | None) -> bool:
    if size < CHECK_ALWAYS_BELOW or last is None:
        return True
    return not timedelta(0) <= datetime.now(UTC) - last <= CHECK_EVERY


def _wal_missing(path: Path) -> bool:
    """A WAL-mode file whose -shm is there but whose -wal is gone: a clean close removes
    both, so the log was deleted (or not copied along) while it may have held changes."""
    if not Path(f"{path}-shm").exists() or Path(f"{path}-wal").exists():
        return False
    with open(path, "rb") as handle:
        header = handle.read(20)
    return len(header) == 20 and header[18] == 2


def _damaged(path: Path, detail: str) -> CorruptDatabaseError:
    newest = backups.newest_backup(path)
    if newest is not None:
        taken = backups.backup_time(newest)
        when = f" from {taken:%Y-%m-%d %H:%M} UTC" if taken else ""
        offer = (
            f"The newest backup is {newest}{when}; restore it with "
            "`token-budget restore-backup` (the damaged file is kept aside)."
        )
    else:
        offer = "There is no backup to restore."
    message = f"the database {path} is damaged ({detail}); it was left untouched. {offer}"
    return CorruptDatabaseError(message, path, newest)


LOW_SPACE = 1 << 20  # an I/O error with less free space than this is a full disk


def _disk_full(path: Path, exc: BaseException) -> bool:
    if is_disk_full(exc):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None or code & 0xFF != sqlite3.SQLITE_IOERR:
        return False
    try:  # SQLite reports a failed -shm or WAL extension as a plain I/O error
        return shutil.disk_usage(path.parent).free < LOW_SPACE
    except OSError:
        return False


def _fault(path: Path, exc: BaseException) -> StoreError:
    """Name what went wrong truly: only a file SQLite finds corrupt is 'damaged'."""
    text = str(getattr(exc, "orig", None) or exc)
    code = getattr(getattr(exc, "orig", None) or exc, "sqlite_errorcode", None)
    primary = code & 0xFF if code is not None else None
    if _disk_full(path, getattr(exc, "orig", None) or exc):
        return DiskFullError(
            f"the disk holding {path.parent} is full, so the database cannot be written; "
            "free some space and try again (the file itself is fine)"
        )
    if primary == sqlite3.SQLITE_READONLY or "readonly" in text or "read-only" in text:
        return ReadOnlyDatabaseError(
            f"the database {path} (or its folder) is read-only; make it writable, or copy "
            "it to another folder and use --data-dir (nothing is damaged)"
        )
    if primary == sqlite3.SQLITE_CANTOPEN:
        return StoreError(
            f"the database {path} could not be opened ({text}); check that the folder is "
            "there and readable, then try again (nothing is damaged)"
        )
    if primary == sqlite3.SQLITE_IOERR:
        return StoreError(
            f"the disk reported an error while reading {path} ({text}); check the disk or "
            "network share and try again (the file was left untouched)"
        )
    if "malformed json" in text.lower():
        return BadRowError(
            f"a stored value in {path} is not valid JSON ({text}); the rest of the database "
            "is sound"
        )
    return _damaged(path, text)


def _is_read_only(path: Path) -> bool:
    # The mode bits as well as access(): an administrator (or root in a container) may
    # write anyway, but a file someone marked read-only is one they expect unchanged.
    mode = path.stat().st_mode
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def _check_header(path: Path, size: int) -> None:
    with open(path, "rb") as handle:
        header = handle.read(100)
    if not header.startswith(SQLITE_MAGIC[: len(header)]) or not header:
        raise NotADatabaseError(
            f"{path} is not an SQLite database, so not Token Budget's; it was left "
            "untouched. Move it away, or choose another folder with --data-dir."
        )
    if len(header) < 100:
        raise _damaged(path, f"truncated to {size} bytes")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_count_valid = header[92:96] == header[24:28]
    wal = Path(f"{path}-wal")
    # With a non-empty WAL the main file may legitimately lag its header; the integrity
    # check that follows judges that case.
    if header_count_valid and not (wal.exists() and wal.stat().st_size > 0):
        expected = pages * page_size
        if size < expected or (page_size and size % page_size):
            raise _damaged(path, f"truncated: {size:,} of {expected:,} bytes")


def _inspect(path: Path, read_only_ok: bool = False, no_room: bool = False) -> _FileState:
    """Look at an existing file without changing it (read-only connection)."""
    if not path.exists():
        return _FileState(False, None)
    if not path.is_file():
        raise NotADatabaseError(f"{path} is not a file; choose another folder with --data-dir")
    if _is_read_only(path) and not read_only_ok:
        raise ReadOnlyDatabaseError(
            f"the database {path} is read-only; Token Budget needs to write to it. Make it "
            "writable, or copy it to another folder and use --data-dir."
        )
    size = path.stat().st_size
    if size == 0:
        if backups.newest_backup(path) is not None:  # it held data once: do not start over
            raise _damaged(path, "the file is empty")
        return _FileState(True, None)
    _check_header(path, size)
    wal_missing = _wal_missing(path)
    try:
        uri = _read_only_uri(path, no_room)
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            found = conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            tables = {r[0] for r in found}
            checked = _check_due(size, _last_check(conn, tables))
            if checked:
                verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
                if verdict != "ok":
                    if wal_missing:
                        verdict += f"; its write-ahead log {path.name}-wal is missing"
                    raise _damaged(path, verdict)
            revision = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseBusyError(
                f"the database {path} is locked by another program; close it and try again"
            ) from exc
        raise _fault(path, exc) from exc
    except sqlite3.DatabaseError as exc:
        raise _fault(path, exc) from exc
    if revision is None and tables - {"alembic_version"}:
        names = ", ".join(sorted(tables)[:5])
        raise NotADatabaseError(
            f"{path} is an SQLite database but not Token Budget's (it holds {names}); it "
            "was left untouched. Choose another folder with --data-dir."
        )
    if revision is not None and not migrate.is_known(revision):
        raise NewerSchemaError(
            f"the database {path} was written by a newer version of Token Budget (schema "
            f"{revision}; this version knows up to {migrate.head_revision()}). Install the "
            "newer version to open it; the file was left untouched."
        )
    return _FileState(True, revision, wal_missing, checked)


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """SQLite's errors as StoreErrors a user can act on."""
    try:
        yield
    except (sa_exc.IntegrityError, sqlite3.IntegrityError) as exc:
        text = str(getattr(exc, "orig", None) or exc)
        if "FOREIGN KEY" in text:
            raise StoreError(
                "the change refers to a session or message that does not exist (any more)"
            ) from exc
        raise StoreError(f"the database refused the change: {text}") from exc
    except (sa_exc.DBAPIError, sqlite3.Error) as exc:
        text = str(getattr(exc, "orig", None) or exc).lower()
        if "locked" in text or "busy" in text:
            raise DatabaseBusyError(
                f"the database {path} is busy in another Token Budget window; try again"
            ) from exc
        if "readonly" in text or "read-only" in text:
            raise ReadOnlyDatabaseError(f"the database {path} has become read-only") from exc
        if _disk_full(path, getattr(exc, "orig", None) or exc):
            raise _fault(path, exc) from exc
        if "malformed json" in text:
            raise _fault(path, exc) from exc
        if "malformed" in text or "not a database" in text or "disk i/o" in text:
            raise _fault(path, exc) from exc
        raise StoreError(f"database error in {path}: {text}") from exc


class Database:
    """An open database and its repositories. Thread-safe: each call takes its own
    connection from the pool. Close it (or use it as a context manager) when done."""

    def __init__(self, path: Path, engine: Engine, lock: DatabaseLock | None = None,
                 read_only: bool = False) -> None:
        self.path = path
        self.engine = engine
        # opened from read-only media (open_database(read_only_ok=True)): reads only
        self.read_only = read_only
        self._lock = lock  # shared: a restore waits until every instance has let go
        self.bad_rows: list[str] = []  # stored values skipped as unreadable (see bad_rows())
        self._reader = sessionmaker(engine, expire_on_commit=False)
        self._writer = sessionmaker(
            engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        self.sessions = SessionRepository(self)
        self.messages = MessageRepository(self)
        self.summaries = SummaryRepository(self)
        self.memory = MemoryRepository(self)
        self.profiles = ProfileRepository(self)
        self.providers = ProviderRepository(self)
        self.calibration = CalibrationRepository(self)
        self.settings = SettingsRepository(self)
        self.usage = UsageRepository(self)
        self.experiments = ExperimentRepository(self)
        # what opening did that the user should hear of (replies restored from
        # recovery files, store.recovery)
        self.notices: list[str] = []
        self._backup_thread: threading.Thread | None = None
        self.backup_error: str | None = None  # a background backup that failed

    @property
    def data_dir(self) -> Path:
        return self.path.parent

    @contextmanager
    def read(self) -> Iterator[OrmSession]:
        """A read transaction: one consistent snapshot, rolled back at the end."""
        with translate_errors(self.path), self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[OrmSession]:
        """A write transaction (BEGIN IMMEDIATE), committed durably on success and rolled
        back entirely on any error."""
        self._refuse_if_read_only()
        with translate_errors(self.path), self._writer.begin() as session:
            yield session

    def _refuse_if_read_only(self) -> None:
        if self.read_only:
            raise ReadOnlyDatabaseError(
                f"the database {self.path} is read-only (opened for reading only); nothing "
                "was changed. Copy it to a writable folder and use --data-dir to change it"
            )

    def backup(self, reason: str = "manual") -> Path:
        self._refuse_if_read_only()
        return backups.make_backup(self.path, reason)

    def backup_in_background(self, reason: str) -> None:
        """Make a backup on a thread of its own (SQLite's online backup reads a snapshot
        while this instance goes on reading and writing); close() waits for it. What went
        wrong is kept in `backup_error`."""
        self._refuse_if_read_only()

        def run() -> None:
            try:
                backups.make_backup(self.path, reason)
            except StoreError as exc:
                self.backup_error = str(exc)

        self._backup_thread = threading.Thread(target=run, name="token-budget-backup",
                                               daemon=True)
        self._backup_thread.start()

    def wait_for_backup(self) -> None:
        if self._backup_thread is not None:
            self._backup_thread.join()
            self._backup_thread = None

    def integrity_check(self) -> list[str]:
        """The full PRAGMA integrity_check: ['ok'] for a sound file."""
        with self.engine.connect() as conn:
            return [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]

    def check(self, full: bool = True) -> list[str]:
        """The check a start skips on a large file (CHECK_EVERY): PRAGMA integrity_check
        (or the faster quick_check) and the unreadable values; [] for a sound file. The
        time of a check that passed is recorded, so the next start does not repeat it."""
        pragma = "integrity_check" if full else "quick_check"
        with translate_errors(self.path), self.engine.connect() as conn:
            verdicts = [r[0] for r in conn.exec_driver_sql(f"PRAGMA {pragma}")]
        problems = [v for v in verdicts if v != "ok"]
        bad = self.find_bad_rows() + self.find_malformed_rows()
        if not problems and not self.read_only:
            self.record_check()
        return problems + [f"unreadable value: {line}" for line in bad]

    def record_check(self) -> None:
        self.settings.set(CHECKED_AT, datetime.now(UTC).isoformat())

    def find_bad_rows(self) -> list[str]:
        """Rows with a stored value that cannot be read (malformed JSON), one line each.
        They read as empty where read (models.ReadableJSON); the rest of the database
        works as usual."""
        checks = (
            ("SELECT id, session_id FROM messages WHERE NOT json_valid(token_counts)",
             "message {0} in session {1}: its cached token counts are not valid JSON "
             "(they will be counted again)"),
            ("SELECT id, title FROM sessions WHERE NOT json_valid(strategy_settings) "
             "OR NOT json_valid(examples)",
             "session {0} ({1!r}): its strategy settings or examples are not valid JSON "
             "(read as empty)"),
            ("SELECT name, name FROM providers WHERE NOT json_valid(models) "
             "OR NOT json_valid(context_windows)",
             "provider {0!r}: its models or windows are not valid JSON (read as empty)"),
            ("SELECT name, name FROM profiles WHERE NOT json_valid(fractions)",
             "profile {0!r}: its shares are not valid JSON (read as empty)"),
            ("SELECT key, key FROM settings WHERE NOT json_valid(value)",
             "setting {0!r}: its value is not valid JSON (read as unset)"),
        )
        found: list[str] = []
        with self.engine.connect() as conn:
            for query, line in checks:
                found.extend(line.format(*row) for row in conn.exec_driver_sql(query))
        return found

    def find_malformed_rows(self) -> list[str]:
        """Rows with a value of the wrong kind (a time that is not one, bytes or a number
        where text belongs, examples that are not a list of messages), as another tool or
        a hand edit may leave them: one line each. They read as something harmless
        (models.UtcTimestamp, ReadableText; sessions.readable_examples) and the rest of
        the database works as usual. A scan of every row: for `check`, not the start."""
        checks = (
            ("SELECT id, title FROM sessions WHERE julianday(created_at) IS NULL "
             "OR julianday(updated_at) IS NULL",
             "session {0} ({1!r}): a stored time is not a time (read as 1 January 1970)"),
            ("SELECT id, id FROM sessions WHERE typeof(title) != 'text' "
             "OR typeof(system_prompt) != 'text'",
             "session {0}: its title or system prompt is not text (read as text)"),
            ("SELECT id, title FROM sessions WHERE json_valid(examples) "
             "AND json_type(examples) != 'array'",
             "session {0} ({1!r}): its examples are not a list of messages (read as none)"),
            ("SELECT id, session_id FROM messages WHERE julianday(created_at) IS NULL",
             "message {0} in session {1}: its time is not a time (read as 1 January 1970)"),
            ("SELECT id, session_id FROM messages WHERE typeof(content) != 'text'",
             "message {0} in session {1}: its text is not text (read as text)"),
        )
        found: list[str] = []
        with translate_errors(self.path), self.engine.connect() as conn:
            for query, line in checks:
                found.extend(line.format(*row) for row in conn.exec_driver_sql(query))
        return found

    def close(self) -> None:
        self.wait_for_backup()
        self.engine.dispose()
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _ensure_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data folder {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ReadOnlyDatabaseError(
            f"the data folder {folder} is read-only; Token Budget needs to write there "
            "(choose another with --data-dir)"
        )


def _backup_due(path: Path, state: _FileState) -> str | None:
    if state.revision is None:
        return None  # nothing in it yet
    if state.revision != migrate.head_revision():
        return f"before-upgrade-from-{state.revision}"
    newest = backups.newest_backup(path)
    taken = backups.backup_time(newest) if newest else None
    if taken is None or datetime.now(UTC) - taken > DAILY_BACKUP_AFTER:
        return "daily"
    if datetime.now(UTC) - taken > NEW_WORK_BACKUP_AFTER and _changed_since(path, taken):
        return "new-work"
    return None


def _changed_since(path: Path, when: datetime) -> bool:
    """Was the database (or its write-ahead log, when it holds anything: a reader makes
    an empty one) written after `when`?"""
    for file in (path, Path(f"{path}-wal")):
        try:
            stat = file.stat()
        except OSError:
            continue
        if stat.st_size and datetime.fromtimestamp(stat.st_mtime, UTC) > when:
            return True
    return False


def _migrate(engine: Engine, path: Path) -> None:
    head = migrate.head_revision()
    writer = engine.execution_options(sqlite_begin="IMMEDIATE")
    with translate_errors(path), writer.connect() as conn, conn.begin():
        # Under the write lock: another instance may have migrated since we looked.
        # (Read without Alembic, which is imported only when there is work for it.)
        current = migrate.current_revision(conn)
        if current is not None and not migrate.is_known(current):
            raise NewerSchemaError(
                f"the database {path} was just upgraded by a newer version of Token Budget "
                f"(schema {current}); install that version to open it"
            )
        if current != head:
            migrate.upgrade(conn, head)


def _recover(db: Database) -> None:
    """Start-up repairs: replies cut off by a crash are marked interrupted, and the
    built-in profiles are brought up to date."""
    with db.write() as session:
        session.execute(
            update(MessageRow).where(MessageRow.status == "streaming").values(status="interrupted")
        )
        db.profiles.seed_builtins(session)


def _can_write(path: Path) -> bool:
    """Can the database (and the files SQLite, backups and the lock keep beside it) be
    written? False on read-only media, in a read-only folder, or for a read-only file."""
    if not path.parent.is_dir():
        return True  # created (or refused) by _ensure_folder
    if not _folder_writable(path.parent):
        return False
    return not (path.exists() and _is_read_only(path))


def open_database(data_dir: Path | str | None = None, *, read_only_ok: bool = False) -> Database:
    """Open (creating or upgrading as needed) the database in `data_dir`, else in
    TOKEN_BUDGET_DATA_DIR, else in the user's data folder.

    With `read_only_ok` (commands that only read, such as export), an existing database
    that cannot be written (read-only media, folder or file) opens for reading only
    instead of being refused: no lock file, backup, upgrade, start-up repair or clean-up,
    a notice saying so, and every write refused with ReadOnlyDatabaseError."""
    path = database_path(data_dir)
    if read_only_ok and path.is_file() and not _can_write(path):
        return _open_read_only(path)
    try:
        return _open_writable(path)
    except DiskFullError as full:
        if not (read_only_ok and path.is_file()):
            raise
        # what is stored can still be read (and exported to another disk): only the
        # start's backup and writes need the space
        try:
            return _open_read_only(path, no_room=True, why=(
                f"the disk holding {path} is full: opened for reading only, without the "
                "backup made at start; free some space on it to change anything"))
        except StoreError:  # not readable either (an upgrade due, a log to replay)
            raise full from None


def _open_writable(path: Path) -> Database:
    _ensure_folder(path.parent)
    # held until close(): a restore waits for it. Files left by a killed backup or
    # restore are removed while no other instance could still be writing them.
    lock = acquire_shared(path, alone=lambda: backups.clean_partial_files(path))
    try:
        state = _inspect(path)
        reason = _backup_due(path, state)
        later = None  # a routine backup of a large file is made beside the work
        if reason in ("daily", "new-work") and path.stat().st_size >= CHECK_ALWAYS_BELOW:
            reason, later = None, reason
        if reason:
            backups.make_backup(path, reason)
        engine = _make_engine(path)
    except BaseException:
        lock.release()
        raise
    try:
        _migrate(engine, path)
        db = Database(path, engine, lock)
        _recover(db)
        db.notices.extend(recovery.restore_pending(db))
        if state.wal_missing:
            db.notices.append(
                f"the database's write-ahead log {path.name}-wal was missing (deleted, or "
                "not copied along with it), so the last changes may be lost; the rest opened "
                "normally. Copy the database together with its -wal file next time"
            )
        with translate_errors(path):
            db.bad_rows = db.find_bad_rows()
        db.notices.extend(f"skipped an unreadable value: {line}" for line in db.bad_rows)
        if state.checked and state.exists and path.stat().st_size >= CHECK_ALWAYS_BELOW:
            db.record_check()  # a small file is checked at every start anyway
        if later:
            db.backup_in_background(later)
    except BaseException:
        engine.dispose()
        lock.release()
        raise
    return db


def _open_read_only(path: Path, why: str | None = None, no_room: bool = False) -> Database:
    state = _inspect(path, read_only_ok=True, no_room=no_room)
    if state.revision is None:
        raise ReadOnlyDatabaseError(
            f"the database {path} is read-only and holds nothing yet; there is nothing to "
            "read, and it cannot be set up (nothing was changed)"
        )
    if state.revision != migrate.head_revision():
        raise ReadOnlyDatabaseError(
            f"the database {path} is read-only and was written by an older version of "
            f"Token Budget (schema {state.revision}); it must be upgraded, which needs "
            "writing. Copy it to a writable folder and use --data-dir (nothing was changed)"
        )
    engine = _make_engine(path, _read_only_uri(path, no_room))
    try:
        db = Database(path, engine, None, read_only=True)
        db.notices.append(why or (
            f"the database {path} is read-only (read-only media, folder or file): opened "
            "for reading only, without the backup, upgrade or clean-up done at start; "
            "nothing can be changed"
        ))
        if state.wal_missing:
            db.notices.append(
                f"the database's write-ahead log {path.name}-wal is missing, so the last "
                "changes may not be there"
            )
        with translate_errors(path):
            db.bad_rows = db.find_bad_rows()
        db.notices.extend(f"skipped an unreadable value: {line}" for line in db.bad_rows)
    except BaseException:
        engine.dispose()
        raise
    return db


def restore_newest_backup(
    data_dir: Path | str | None = None, *, replace_healthy: bool = False
) -> backups.RestoreResult:
    """Replace the database with its newest healthy backup; the current file (and its
    WAL) is renamed aside, never deleted. Refused while any instance has the file open,
    and for a healthy file unless `replace_healthy` (which backs it up first)."""
    path = database_path(data_dir)
    with acquire_exclusive(path):
        return backups.restore_newest_backup(path, replace_healthy=replace_healthy)
