"""Model servers the user set up, as core.providers.ProviderConfig: name, preset, base
URL, models and context-window overrides. Never a secret: keys live in the OS keychain.
The URL and the rest are checked by ProviderConfig itself (the app's one check), when
a provider is made and again when it is saved.

A row written by an older version that the check now refuses (an unknown preset, a URL
with a #fragment...) does not stop the app: list() leaves it out with a warning in the
log, get() raises StoreError saying to set the provider up again, and saving a provider
of the same name replaces it."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import select

from desktop_app.core.providers import ProviderConfig
from desktop_app.store.errors import NotFoundError, StoreError
from desktop_app.store.models import ProviderRow, utc_now

if TYPE_CHECKING:
    from desktop_app.store.database import Database

log = logging.getLogger(__name__)


def to_provider(row: ProviderRow) -> ProviderConfig:
    """The row as a provider; ValueError (ProviderError, mostly) for a row the provider
    check refuses."""
    return ProviderConfig(
        row.name,
        id=row.id,
        preset=row.preset,
        base_url=row.base_url,
        models=list(row.models or []),
        context_windows={str(k): int(v) for k, v in (row.context_windows or {}).items()},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ProviderRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def list(self) -> list[ProviderConfig]:
        with self._db.read() as orm:
            rows = orm.scalars(select(ProviderRow).order_by(ProviderRow.name))
            found = []
            for row in rows:
                try:
                    found.append(to_provider(row))
                except (ValueError, TypeError) as exc:  # one old bad row must not hide the rest
                    log.warning("skipping unusable provider %r: %s", row.name, exc)
            return found

    def get(self, name: str) -> ProviderConfig:
        with self._db.read() as orm:
            row = orm.scalars(select(ProviderRow).where(ProviderRow.name == name)).first()
            if row is None:
                raise NotFoundError(f"there is no provider named {name!r}")
            try:
                return to_provider(row)
            except (ValueError, TypeError) as exc:
                raise StoreError(
                    f"the stored settings of provider {name!r} cannot be used ({exc}); "
                    "set it up again in Settings"
                ) from None

    def save(self, provider: ProviderConfig) -> ProviderConfig:
        """Create or replace the provider with this name. ProviderError if its models or
        windows were changed in place into something the check refuses."""
        provider = replace(provider)  # checked again: its lists may have changed since
        now = utc_now()
        with self._db.write() as orm:
            row = orm.scalars(
                select(ProviderRow).where(ProviderRow.name == provider.name)
            ).first()
            if row is None:
                row = ProviderRow(name=provider.name, created_at=now)
                orm.add(row)
            row.preset = provider.preset
            row.base_url = provider.base_url
            row.models = list(provider.models)
            row.context_windows = dict(provider.context_windows)
            row.updated_at = now
            orm.flush()
            return to_provider(row)

    def delete(self, name: str) -> None:
        with self._db.write() as orm:
            row = orm.scalars(select(ProviderRow).where(ProviderRow.name == name)).first()
            if row is None:
                raise NotFoundError(f"there is no provider named {name!r}")
            orm.delete(row)
