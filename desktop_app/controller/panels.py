"""The panels beside the gauge that edit stored state: memory facts, the rolling
summary and allocation profiles. Each edit is stored off the GUI thread; the preview
and the panels then show the stored state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from desktop_app.controller.state import DEFAULT_PROFILE
from desktop_app.core.records import MemoryFact

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController
    from desktop_app.core.budget import AllocationProfile


class PanelsController:
    def __init__(self, app: AppController) -> None:
        self.app = app
        self.state = app.state

    # --- memory --------------------------------------------------------------------------
    def _session_id(self) -> int | None:
        return self.state.session.id if self.state.session is not None else None

    def add_fact(self, key: str, value: str, is_global: bool = False) -> None:
        sid = None if is_global else self._session_id()
        self._memory(lambda db: db.memory.upsert(MemoryFact(key=key, value=value,
                                                             session_id=sid)))

    def edit_fact(self, old_key: str, fact: MemoryFact) -> None:
        def change(db: Any) -> None:
            if fact.key != old_key:
                old = db.memory.get(old_key, fact.session_id)
                if old is not None and old.id is not None:
                    db.memory.delete(old.id)
            db.memory.upsert(replace(fact, id=None, tokens=None))

        self._memory(change)

    def delete_fact(self, key: str) -> None:
        sid = self._session_id()

        def change(db: Any) -> None:
            fact = db.memory.get(key, sid) or db.memory.get(key, None)
            if fact is not None and fact.id is not None:
                db.memory.delete(fact.id)

        self._memory(change)

    def pin_fact(self, key: str, pinned: bool) -> None:
        sid = self._session_id()

        def change(db: Any) -> None:
            fact = db.memory.get(key, sid) or db.memory.get(key, None)
            if fact is not None and fact.id is not None:
                db.memory.pin(fact.id, pinned)

        self._memory(change)

    def _memory(self, change: Callable[[Any], None]) -> None:
        db = self.state.db
        if db is None:
            self.app.errorRaised.emit("The database is not open; memory cannot be saved.")
            return
        self.app.ops.run(lambda: change(db), lambda _r: self.app.budget.refresh(full=True),
                         self.app.fail)

    # --- the summary ---------------------------------------------------------------------
    def edit_summary(self, text: str) -> None:
        db, assembly = self.state.db, self.app.budget.assembly
        if db is None or self.state.session is None or assembly is None:
            return
        current = assembly.summary
        if current is None:
            return
        edited = replace(current, text=text, id=None, tokens=None, created_at=None)
        self.app.ops.run(lambda: db.summaries.add(edited),
                         lambda _r: self.app.budget.refresh(full=True), self.app.fail)

    # --- allocation profiles -------------------------------------------------------------
    def save_profile(self, profile: AllocationProfile) -> None:
        db = self.state.db
        if db is None:
            return

        def job() -> list[AllocationProfile]:
            db.profiles.save(profile)
            return db.profiles.list()

        def done(profiles: list[AllocationProfile]) -> None:
            self.state.profiles = {p.name: p for p in profiles}
            self.app.budget.announce_choices()
            self.app.budget.set_profile(profile.name)

        self.app.ops.run(job, done, self.app.fail)

    def delete_profile(self, name: str) -> None:
        db = self.state.db
        profiles = self.state.profiles
        if db is None or name not in profiles or profiles[name].builtin:
            return

        def job() -> list[AllocationProfile]:
            db.profiles.delete(name)
            return db.profiles.list()

        def done(profiles: list[AllocationProfile]) -> None:
            self.state.profiles = {p.name: p for p in profiles}
            self.app.budget.announce_choices()
            if self.app.budget.selection().profile == name:
                self.app.budget.set_profile(DEFAULT_PROFILE)
            else:
                self.app.budget.announce_profiles()

        self.app.ops.run(job, done, self.app.fail)
