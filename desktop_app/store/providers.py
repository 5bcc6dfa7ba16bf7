"""Model servers the user set up: name, preset, base URL, models and context-window
overrides. Never a secret: keys live in the OS keychain, and a URL carrying credentials
is refused."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import select

from desktop_app.core.app_records import ProviderConfig
from desktop_app.store.errors import NotFoundError, StoreError
from desktop_app.store.models import ProviderRow, utc_now

if TYPE_CHECKING:
    from desktop_app.store.database import Database

SECRET_NAME = re.compile(r"(?i)(api[_-]?key|key|token|secret|password|passwd|auth)")


def check_base_url(url: str) -> str:
    """The URL, trimmed; StoreError if it is not http(s) or carries a credential."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise StoreError(f"base URL {url!r} must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise StoreError(
            "the base URL contains a user name or password; put the key in the keychain "
            "(the provider's API key field), not in the URL"
        )
    if any(SECRET_NAME.search(name) for name, _ in parse_qsl(parts.query)):
        raise StoreError(
            "the base URL carries a key in its query string; put the key in the keychain "
            "(the provider's API key field), not in the URL"
        )
    return url


def to_provider(row: ProviderRow) -> ProviderConfig:
    return ProviderConfig(
        id=row.id,
        name=row.name,
        preset=row.preset,
        base_url=row.base_url,
        models=list(row.models or []),
        context_windows={k: int(v) for k, v in (row.context_windows or {}).items()},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ProviderRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self) -> list[ProviderConfig]:
        with self._db.read() as orm:
            rows = orm.scalars(select(ProviderRow).order_by(ProviderRow.name))
            return [to_provider(r) for r in rows]

    def get(self, name: str) -> ProviderConfig:
        with self._db.read() as orm:
            row = orm.scalars(select(ProviderRow).where(ProviderRow.name == name)).first()
            if row is None:
                raise NotFoundError(f"there is no provider named {name!r}")
            return to_provider(row)

    def save(self, provider: ProviderConfig) -> ProviderConfig:
        """Create or replace the provider with this name."""
        name = provider.name.strip()
        if not name:
            raise StoreError("a provider needs a name")
        base_url = check_base_url(provider.base_url)
        windows = {}
        for model, tokens in provider.context_windows.items():
            if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens <= 0:
                raise StoreError(f"context window for {model!r} must be a positive whole number")
            windows[model] = tokens
        now = utc_now()
        with self._db.write() as orm:
            row = orm.scalars(select(ProviderRow).where(ProviderRow.name == name)).first()
            if row is None:
                row = ProviderRow(name=name, created_at=now)
                orm.add(row)
            row.preset = provider.preset
            row.base_url = base_url
            row.models = [str(m) for m in provider.models]
            row.context_windows = windows
            row.updated_at = now
            orm.flush()
            return to_provider(row)

    def delete(self, name: str) -> None:
        with self._db.write() as orm:
            row = orm.scalars(select(ProviderRow).where(ProviderRow.name == name)).first()
            if row is None:
                raise NotFoundError(f"there is no provider named {name!r}")
            orm.delete(row)
