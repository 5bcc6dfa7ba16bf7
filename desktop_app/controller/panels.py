"""The panels beside the gauge that edit stored state: memory facts, the rolling
summary (and Compact now), allocation profiles and the library of saved system
prompts. Each edit is stored off the GUI thread; the preview and the panels then show
the stored state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from desktop_app.controller.state import DEFAULT_PROFILE
from desktop_app.core.records import MemoryFact

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController
    from desktop_app.core.budget import AllocationProfile
    from desktop_app.services.compaction import Compaction
    from desktop_app.services.prompt_library import SavedPrompt


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
                                                             session_id=sid, origin="user")))

    def edit_fact(self, old_key: str, fact: MemoryFact) -> None:
        def change(db: Any) -> None:
            if fact.key != old_key:
                old = db.memory.get(old_key, fact.session_id)
                if old is not None and old.id is not None:
                    db.memory.delete(old.id)
            db.memory.upsert(replace(fact, id=None, tokens=None, origin="user"))  # the user's now

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

    def compact(self, focus: str = "") -> None:
        """Compact now: fold the open session's older history into its summary (by the
        model when one is set up, else offline), with an optional focus. `compacted`
        says what it did (None: it failed, and errorRaised says why)."""
        app, db, session = self.app, self.state.db, self.state.session
        if db is None or session is None or session.id is None:
            app.errorRaised.emit("Open a session to compact its history.")
            app.compacted.emit(None)
            return
        if app.turns.streaming:
            app.errorRaised.emit("A reply is being written; compact once it is in.")
            app.compacted.emit(None)
            return
        sid, stamp = session.id, app.session_scope.stamp()

        def done(result: Compaction) -> None:
            line = result.describe()
            app.noticeRaised.emit(" ".join([line, *(n for n in result.notices if n != line)]))
            if not stamp.current:
                return  # another session is open: it shows when this one opens again
            app.compacted.emit(result)
            if result.done:
                current = self.state.session
                if current is not None and current.id == sid:
                    current.strategy = result.strategy
                app.budget.announce_selection()
                app.sessions.invalidate_messages()
                app.sessions.reload()
                app.budget.refresh(full=True)

        def failed(message: str) -> None:
            app.fail(f"Compacting failed: {message}")
            app.compacted.emit(None)

        app.ops.run(app.setup.compact_job(sid, focus), done, failed, serial=False)

    # --- the library of saved system prompts ----------------------------------------------
    def load_prompt_library(self) -> None:
        db = self.state.db
        if db is not None:
            from desktop_app.services import prompt_library

            self.app.ops.run(lambda: prompt_library.load(db),
                             self.app.promptLibraryChanged.emit, self.app.fail)

    def save_prompt(self, name: str, text: str) -> None:
        """Save a system prompt in the library under `name` (replacing one so named)."""
        from desktop_app.services import prompt_library

        self._library(lambda db: prompt_library.save(db, name, text),
                      f"Saved “{' '.join(name.split())}” in the prompt library.")

    def delete_prompt(self, name: str) -> None:
        from desktop_app.services import prompt_library

        self._library(lambda db: prompt_library.delete(db, name), "")

    def _library(self, change: Callable[[Any], list[SavedPrompt]], notice: str) -> None:
        db = self.state.db
        if db is None:
            self.app.errorRaised.emit("The database is not open; the prompt library cannot "
                                      "be saved.")
            return

        def done(prompts: list[SavedPrompt]) -> None:
            self.app.promptLibraryChanged.emit(prompts)
            if notice:
                self.app.noticeRaised.emit(notice)

        self.app.ops.run(lambda: change(db), done, self.app.fail)

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

    def give_more_room(self, component: str) -> None:
        """Give the memory or the summary a larger share: the session's profile with five
        more points of the window for it, saved as a custom profile and chosen."""
        from desktop_app.core.budget import ProfileError, with_more_room

        current = self.state.profiles.get(self.app.budget.selection().profile)
        if current is None:
            return
        try:
            profile = with_more_room(current, component)
        except ProfileError as exc:
            self.app.noticeRaised.emit(str(exc))
            return
        self.save_profile(profile)
        self.app.noticeRaised.emit(
            f"This session now uses the profile “{profile.name}”: {profile.description}.")

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
