"""Persistence: the only code that speaks SQL. Callers get the plain records of
desktop_app.core, never ORM objects.

    db = open_database()            # or open_database(path) / TOKEN_BUDGET_DATA_DIR
    session = db.sessions.create(Session(title="Draft"))
    db.messages.append(session.id, Message("user", "Hello"))
"""

from desktop_app.store.backups import RestoreResult
from desktop_app.store.database import (
    Database,
    database_path,
    default_data_dir,
    open_database,
    restore_newest_backup,
)
from desktop_app.store.errors import (
    CorruptDatabaseError,
    DatabaseBusyError,
    DiskFullError,
    HealthyDatabaseError,
    ImportFormatError,
    NewerSchemaError,
    NotADatabaseError,
    NotFoundError,
    ReadOnlyDatabaseError,
    StoreError,
)
from desktop_app.store.messages import StreamWriter

__all__ = [
    "CorruptDatabaseError",
    "Database",
    "DatabaseBusyError",
    "DiskFullError",
    "HealthyDatabaseError",
    "ImportFormatError",
    "NewerSchemaError",
    "NotADatabaseError",
    "NotFoundError",
    "ReadOnlyDatabaseError",
    "RestoreResult",
    "StoreError",
    "StreamWriter",
    "database_path",
    "default_data_dir",
    "open_database",
    "restore_newest_backup",
]
