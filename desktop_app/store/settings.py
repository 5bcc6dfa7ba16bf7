"""App settings as key-value rows (values are JSON). Secrets are refused: they belong
in the OS keychain."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from desktop_app.store.errors import StoreError
from desktop_app.store.models import SettingRow, utc_now

if TYPE_CHECKING:
    from desktop_app.store.database import Database

SECRET_KEY = re.compile(r"(?i)(api[_-]?key|secret|password|passwd|credential|bearer)")
SECRET_VALUE = re.compile(r"^(sk|sk-proj|sk-ant)-[A-Za-z0-9_-]{16,}$")


def _check(key: str, value: Any) -> None:
    if not key.strip():
        raise StoreError("a setting needs a name")
    if SECRET_KEY.search(key) or (isinstance(value, str) and SECRET_VALUE.match(value.strip())):
        raise StoreError(f"setting {key!r} looks like a secret; secrets go in the OS keychain")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"setting {key!r}: the value cannot be stored ({exc})") from None


class SettingsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str, default: Any = None) -> Any:
        with self._db.read() as orm:
            row = orm.get(SettingRow, key)
            return default if row is None else row.value

    def set(self, key: str, value: Any) -> None:
        _check(key, value)
        with self._db.write() as orm:
            row = orm.get(SettingRow, key)
            if row is None:
                row = SettingRow(key=key)
                orm.add(row)
            row.value = value
            row.updated_at = utc_now()

    def delete(self, key: str) -> None:
        with self._db.write() as orm:
            orm.execute(delete(SettingRow).where(SettingRow.key == key))

    def all(self) -> dict[str, Any]:
        with self._db.read() as orm:
            return {r.key: r.value for r in orm.scalars(select(SettingRow))}
