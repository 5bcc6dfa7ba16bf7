"""Start-up and database trouble: opening the database off the GUI thread, the first
state it holds, why it could not be opened, trying again, and restoring a backup."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.controller.state import DEFAULT_MODEL, DEFAULT_PROFILE, DEFAULT_STRATEGY
from desktop_app.core.budget import BUILTIN_PROFILES, AllocationProfile
from desktop_app.services.connection import DEFAULT_PROVIDER_SETTING
from desktop_app.services.windows import WindowResolver

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController
    from desktop_app.controller.database_trouble import DatabaseTrouble
    from desktop_app.core.records import Session

log = logging.getLogger(__name__)


@dataclass
class FirstState:
    """What the window needs from the database before it shows anything of it."""

    db: Any
    sessions: list[Session]
    profiles: list[AllocationProfile]
    providers: list[Any]
    default_provider: str | None
    defaults: dict[str, str]
    last_session: int | None
    resolver: WindowResolver
    # what is wrong with the data folder's model files (your models.json, say)
    catalog_problems: tuple[str, ...] = ()


def load_first_state(data_dir: Path | None, include_archived: bool) -> FirstState | DatabaseTrouble:
    """The first state, or why the database cannot be opened (the window explains each
    kind of trouble in its own way, so it gets more than a message)."""
    from desktop_app.controller.database_trouble import describe
    from desktop_app.store.database import database_path, open_database

    try:
        db = open_database(data_dir)
    except Exception as exc:  # noqa: BLE001 - every kind of trouble is shown, calmly
        log.info("the database could not be opened: %s", exc)
        return describe(exc, database_path(data_dir))
    try:
        # sessions deleted in an earlier run are past their undo: remove them for good
        db.sessions.purge_deleted(older_than=timedelta(minutes=1))
        settings = db.settings
        return FirstState(
            db=db,
            sessions=db.sessions.list(include_archived=include_archived),
            profiles=db.profiles.list(),
            providers=db.providers.list(),
            default_provider=settings.get(DEFAULT_PROVIDER_SETTING),
            defaults={
                "model": settings.get("default_model", DEFAULT_MODEL),
                "profile": settings.get("default_profile", DEFAULT_PROFILE),
                "strategy": settings.get("default_strategy", DEFAULT_STRATEGY),
            },
            last_session=settings.get("last_session", None),
            resolver=WindowResolver.from_store(db),
            catalog_problems=use_data_folder_catalog(db.data_dir),
        )
    except Exception as exc:  # noqa: BLE001 - busy after opening, say: close and explain
        db.close()
        return describe(exc, db.path)


def use_data_folder_catalog(data_dir: Path | str) -> tuple[str, ...]:
    """Read the model catalog with the data folder's files (your models.json, the
    catalog `models --update` wrote) from now on; what is wrong with them, a line each."""
    from desktop_app.core.catalog import default_catalog, set_data_dir

    set_data_dir(data_dir)
    return default_catalog().problems


class DatabaseController:
    def __init__(self, app: AppController) -> None:
        self.app = app
        self.state = app.state
        self.opening = False

    def open(self) -> None:
        if self.opening or self.state.db is not None:
            return
        self.opening = True
        self.app.ops.run(lambda d=self.state.data_dir, a=self.state.show_archived:
                         load_first_state(d, a), self._opened, self._failed)

    retry = open  # the other window has let go, the file was made writable or moved away

    def _opened(self, first: FirstState | DatabaseTrouble) -> None:
        self.opening = False
        app, state = self.app, self.state
        if not isinstance(first, FirstState):
            if not app.closed:
                state.trouble = first
                app.databaseTrouble.emit(first)
                app.ready.emit()
            return
        if app.closed:
            first.db.close()
            return
        if state.trouble is not None:
            state.trouble = None
            app.databaseTrouble.emit(None)
        state.db = first.db
        # e.g. a row skipped as unreadable, a model of yours that is not right: one
        # notice, a line each (a notice replaces the one before)
        notes = [*getattr(first.db, "notices", []), *first.catalog_problems]
        if notes:
            app.noticeRaised.emit("\n".join(n[:1].upper() + n[1:] + ("" if n.endswith(".")
                                                                      else ".") for n in notes))
        work = app.sessions.work
        app.ops.run(lambda: setattr(work, "db", first.db))  # ordered before its first use
        state.data_dir = Path(first.db.data_dir)
        state.defaults.update({k: v for k, v in first.defaults.items() if v})
        state.profiles = {p.name: p for p in first.profiles} or dict(BUILTIN_PROFILES)
        state.resolver = first.resolver
        state.default_provider = first.default_provider
        app.setup.set_providers(first.providers)
        app.sessions.show_list(first.sessions)
        app.budget.announce_choices()
        app.budget.announce_profiles()
        app.panels.load_prompt_library()
        ids = [s.id for s in state.sessions]
        if first.last_session in ids:
            app.sessions.open(first.last_session)
        elif ids:
            app.sessions.open(ids[0])
        else:
            app.budget.announce_selection()
            app.budget.refresh(full=True)
        app.ready.emit()

    def _failed(self, message: str) -> None:
        self.opening = False
        self.app.errorRaised.emit(
            f"The database could not be opened: {message}. Drafting still works; nothing "
            "will be saved until this is fixed.")
        self.app.ready.emit()

    def restore_backup(self) -> None:
        """Put the newest backup in place of the damaged database, then open it. The
        store keeps the damaged file (and its WAL) aside under a new name."""
        trouble = self.state.trouble
        if (trouble is None or not trouble.can_restore or self.opening
                or self.state.db is not None):
            return
        self.opening = True

        def restore(data_dir: Path | None = self.state.data_dir) -> Any:
            from desktop_app.store.database import restore_newest_backup

            return restore_newest_backup(data_dir)

        def done(result: Any) -> None:
            from desktop_app.controller.database_trouble import when
            from desktop_app.store.backups import backup_time

            self.opening = False
            kept = result.damaged_copy.name if result.damaged_copy else ""
            self.app.noticeRaised.emit(
                f"Restored the backup from {when(backup_time(result.restored_from))}."
                + (f" The damaged file is kept as {kept} in the data folder." if kept else ""))
            self.open()

        def failed(message: str) -> None:
            self.opening = False
            self.app.errorRaised.emit(f"The backup could not be restored: {message}")
            self.app.databaseTrouble.emit(self.state.trouble)  # the choices stay on offer

        self.app.ops.run(restore, done, failed)

    def data_folder(self) -> Path:
        """The folder that holds the database and its backups ("Open data folder")."""
        if self.state.data_dir is not None:
            return self.state.data_dir
        from desktop_app.store.database import default_data_dir

        return default_data_dir()

    def close(self) -> None:
        db, session = self.state.db, self.state.session
        if db is None:
            return
        if session is not None and session.id is not None:
            try:
                db.settings.set("last_session", session.id)
            except Exception as exc:  # noqa: BLE001 - closing must not fail on a busy database
                log.info("could not remember the open session: %s", exc)
        db.close()
