"""Allocation profiles: the built-ins from core.budget (seeded at every start, so they
follow the app's version, and never deletable) and the user's own."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from desktop_app.core.budget import (
    BUILTIN_PROFILES,
    COMPONENTS,
    AllocationProfile,
    ProfileError,
    validate_fractions,
)
from desktop_app.store.errors import NotFoundError
from desktop_app.store.models import ProfileRow, SessionRow, utc_now

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as OrmSession

    from desktop_app.store.database import Database

log = logging.getLogger(__name__)
FALLBACK_PROFILE = "default"


def to_profile(row: ProfileRow) -> AllocationProfile:
    # Components a later version dropped are ignored rather than breaking the profile.
    fractions = {k: v for k, v in (row.fractions or {}).items() if k in COMPONENTS}
    return AllocationProfile(row.name, fractions, builtin=row.builtin, description=row.description)


def save_profile(orm: OrmSession, profile: AllocationProfile) -> AllocationProfile:
    """Insert or replace a user profile in the caller's transaction."""
    name = profile.name.strip()
    if name in BUILTIN_PROFILES:
        raise ProfileError(f"{name!r} is a built-in profile; save yours under another name")
    validate_fractions(profile.fractions, name)
    row = orm.scalars(select(ProfileRow).where(ProfileRow.name == name)).first()
    if row is None:
        row = ProfileRow(name=name, builtin=False)
        orm.add(row)
    row.fractions = {c: float(profile.fractions.get(c, 0.0)) for c in COMPONENTS}
    row.description = profile.description
    row.updated_at = utc_now()
    orm.flush()
    return to_profile(row)


class ProfileRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def seed_builtins(self, orm: OrmSession) -> None:
        """Insert or refresh the built-in profiles (called at every open)."""
        rows = {r.name: r for r in orm.scalars(select(ProfileRow))}
        for profile in BUILTIN_PROFILES.values():
            row = rows.get(profile.name)
            fractions = dict(profile.fractions)
            if row is None:
                orm.add(
                    ProfileRow(
                        name=profile.name,
                        fractions=fractions,
                        builtin=True,
                        description=profile.description,
                        updated_at=utc_now(),
                    )
                )
            elif (
                not row.builtin
                or row.fractions != fractions
                or row.description != profile.description
            ):
                # A user profile that took a built-in's name is replaced by the built-in
                # only after it is kept under a new name.
                if not row.builtin:
                    row.name = f"{row.name} (mine)"
                    orm.flush()
                    orm.add(
                        ProfileRow(
                            name=profile.name,
                            fractions=fractions,
                            builtin=True,
                            description=profile.description,
                            updated_at=utc_now(),
                        )
                    )
                else:
                    row.fractions = fractions
                    row.description = profile.description
                    row.updated_at = utc_now()

    def list(self) -> list[AllocationProfile]:
        """Built-in profiles first (in core's order), then the user's by name."""
        with self._db.read() as orm:
            rows = list(orm.scalars(select(ProfileRow)))
        order = {name: i for i, name in enumerate(BUILTIN_PROFILES)}
        rows.sort(key=lambda r: (not r.builtin, order.get(r.name, 0), r.name.lower()))
        found = []
        for row in rows:
            try:
                found.append(to_profile(row))
            except ProfileError as exc:  # a damaged row must not hide all the others
                log.warning("skipping unusable profile %r: %s", row.name, exc)
        return found

    def get(self, name: str) -> AllocationProfile:
        with self._db.read() as orm:
            row = orm.scalars(select(ProfileRow).where(ProfileRow.name == name)).first()
            if row is None:
                raise NotFoundError(f"there is no allocation profile named {name!r}")
            return to_profile(row)

    def save(self, profile: AllocationProfile) -> AllocationProfile:
        """Create or replace a user profile (validated; built-in names refused)."""
        with self._db.write() as orm:
            return save_profile(orm, profile)

    def delete(self, name: str) -> None:
        """Delete a user profile; sessions that used it switch to the default profile."""
        if name in BUILTIN_PROFILES:
            raise ProfileError(f"{name!r} is a built-in profile and cannot be deleted")
        with self._db.write() as orm:
            row = orm.scalars(select(ProfileRow).where(ProfileRow.name == name)).first()
            if row is None:
                raise NotFoundError(f"there is no allocation profile named {name!r}")
            if row.builtin:
                raise ProfileError(f"{name!r} is a built-in profile and cannot be deleted")
            orm.delete(row)
            orm.execute(
                update(SessionRow)
                .where(SessionRow.profile == name)
                .values(profile=FALLBACK_PROFILE)
            )
