"""Sessions: the list, the open session and the pages of its messages, its context
(system prompt and few-shot examples), renaming, archiving, deleting with undo,
search, import and export, and the per-message actions (pin, exclude, edit).

This part owns the open session's record (`state.session`). Every write saves only
the fields it changes and puts the stored copy in its place, so what a turn wrote
(how far facts were extracted, say) is never overwritten by a stale copy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer

from desktop_app.core.catalog import lookup_model
from desktop_app.core.records import Message, Session
from desktop_app.services.preview import Page, SessionWork
from desktop_app.services.reach import count_missing

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController

UNDO_DELETE_MS = 8_000
SAVE_CONTEXT_AFTER_MS = 600  # a system prompt or example is stored once typing pauses
CONTEXT_FIELDS = frozenset({"system_prompt", "examples"})
NEW_TITLE = "New session"


def title_for(text: str, limit: int = 60) -> str:
    """A session title from its first message: the first line, shortened."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), NEW_TITLE)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


class SessionsController:
    def __init__(self, app: AppController) -> None:
        self.app = app
        self.state = app.state
        self.ops = app.ops
        # the open session's messages for the preview; used only inside serial operations
        self.work = SessionWork(None)
        self._oldest_position: int | None = None
        self._pending_deletes: dict[int, tuple[QTimer, Session]] = {}
        # system prompts and examples typed but not stored yet, by session
        self._unsaved: dict[int, dict[str, Any]] = {}
        self._save_timer = QTimer(app)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_CONTEXT_AFTER_MS)
        self._save_timer.timeout.connect(self.save_context_now)

    @property
    def busy(self) -> bool:
        """An edit of a session's context is waiting to be stored."""
        return self._save_timer.isActive()

    # --- the list ------------------------------------------------------------------------
    def show_list(self, sessions: list[Session]) -> None:
        hidden = set(self._pending_deletes)
        self.state.sessions = [s for s in sessions if s.id not in hidden]
        self.app.sessionsChanged.emit(list(self.state.sessions))

    def refresh(self) -> None:
        db = self.state.db
        if db is None:
            return
        archived = self.state.show_archived
        self.ops.run(lambda: db.sessions.list(include_archived=archived), self.show_list,
                     self.app.fail)

    def set_show_archived(self, show: bool) -> None:
        self.state.show_archived = show
        self.refresh()

    def search(self, query: str) -> None:
        query, db = query.strip(), self.state.db
        if not query or db is None:
            self.app.searchFinished.emit(query, [])
            return
        self.ops.run(lambda: db.messages.search(query),
                     lambda hits: self.app.searchFinished.emit(query, hits), self.app.fail)

    # --- the open session ----------------------------------------------------------------
    def new(self, then: Callable[[], None] | None = None, title: str = NEW_TITLE) -> None:
        db = self.state.db
        if db is None:
            self.app.errorRaised.emit("The database is not open, so nothing can be saved."
                                      if self.state.trouble else
                                      "The database is not open yet; try again in a moment.")
            return
        # a new session takes the defaults from Settings, and what the pickers showed
        # when no session was open (once: they are not the defaults)
        chosen = {**self.state.defaults, **self.state.draft_choices}
        session = Session(title=title, model=chosen["model"], profile=chosen["profile"],
                          strategy=chosen["strategy"],
                          strategy_settings=dict(self.state.draft_strategy_settings))
        self.state.draft_choices.clear()
        self.state.draft_strategy_settings.clear()

        def done(created: Session) -> None:
            self.state.sessions.insert(0, created)
            self.app.sessionsChanged.emit(list(self.state.sessions))
            self.open(created.id, then)

        self.ops.run(lambda: db.sessions.create(session), done, self.app.fail)

    def open(self, session_id: int | None, then: Callable[[], None] | None = None) -> None:
        """Show a session; `then()` runs once it is open (the first send of a new one)."""
        if self.state.db is None or session_id is None:
            return
        self.save_context_now()
        if self.app.turns.streaming:
            self.app.turns.stop()
        self.app.session_scope.advance()
        stamp = self.app.session_scope.stamp()
        listed = next((s for s in self.state.sessions if s.id == session_id), None)
        encoding = lookup_model(listed.model if listed else self.state.defaults["model"]).encoding
        work = self.work
        self.ops.run(lambda: work.open(session_id, encoding),
                     lambda page: self._opened(page, then), self.app.fail, stamp=stamp)

    def _opened(self, page: Page, then: Callable[[], None] | None) -> None:
        self.state.session = page.session
        self._oldest_position = page.messages[0].position if page.messages else None
        app = self.app
        app.sessionOpened.emit(page.session)
        app.setup.learn_window(page.session.model)
        app.budget.announce_selection()
        app.budget.announce_counting()
        app.messagesLoaded.emit(page.messages, page.has_more)
        app.budget.refresh_after_paint()
        if then is not None:
            then()

    def load_older(self) -> None:
        session, before = self.state.session, self._oldest_position
        if self.state.db is None or session is None or before is None:
            self.app.olderLoaded.emit([], False)
            return
        sid, encoding, work = session.id, self.app.budget.model().encoding, self.work

        def done(page: Page) -> None:
            if page.messages:
                self._oldest_position = page.messages[0].position
            self.app.olderLoaded.emit(page.messages, page.has_more)

        self.ops.run(lambda: work.older(sid, before, encoding), done, self.app.fail,
                     stamp=self.app.session_scope.stamp())

    def close(self) -> None:
        self.save_context_now()
        self.app.session_scope.advance()
        self.state.session = None
        self._oldest_position = None
        self.app.messagesLoaded.emit([], False)
        self.app.budget.announce_selection()
        self.app.budget.refresh(full=True)

    # --- writing a session: only the fields that change ------------------------------------
    def change(self, session_id: int, **fields: Any) -> None:
        """Save some fields of a session. The open session shows the change at once and
        takes the stored copy when it comes back."""
        db = self.state.db
        if db is None:
            return
        if self.state.session is not None and self.state.session.id == session_id:
            for name, value in fields.items():
                setattr(self.state.session, name, value)
        self.ops.run(lambda: db.sessions.change(session_id, **fields), self.accept,
                     self.app.fail)

    # --- the session's context: its system prompt and few-shot examples -------------------
    def edit_context(self, session_id: int | None, **fields: Any) -> None:
        """The system prompt or the examples as the user types them: the gauge follows
        once typing pauses (as it does for the draft), and the session stores them a
        moment later (or at once when another session opens, or the window closes)."""
        unknown = set(fields) - CONTEXT_FIELDS
        if unknown:
            raise ValueError(f"not a part of a session's context: {', '.join(sorted(unknown))}")
        session = self.state.session
        if session_id is None or session is None or session.id != session_id:
            return  # only the open session is edited
        if "examples" in fields:
            fields["examples"] = [dict(e) for e in fields["examples"]]
        for name, value in fields.items():
            setattr(session, name, value)
        self._unsaved.setdefault(session_id, {}).update(fields)
        self._save_timer.start()
        self.app.budget.refresh_soon()

    def save_context_now(self) -> None:
        """Store the context edits not stored yet."""
        self._save_timer.stop()
        pending, self._unsaved = self._unsaved, {}
        for session_id, fields in pending.items():
            self.change(session_id, **fields)

    def set_strategy_setting(self, session_id: int, key: str, value: Any) -> None:
        db = self.state.db
        if db is None:
            return
        if self.state.session is not None and self.state.session.id == session_id:
            self.state.session.strategy_settings[key] = value
        self.ops.run(lambda: db.sessions.set_strategy_setting(session_id, key, value),
                     self.accept, self.app.fail)

    def read_texts_later(self, messages: Sequence[Message], then: Callable[[], None]) -> None:
        """Read the texts the preview left unread (the inspector's left-out rows) on a
        worker, then call `then` on the GUI thread, if this session is still open."""
        work = self.work
        self.app.ops.run(lambda: work.read_texts(messages), lambda _r: then(), self.app.fail,
                         serial=False, stamp=self.app.session_scope.stamp())

    def reload(self) -> None:
        """Read the open session again (a turn or a fold wrote to it)."""
        db, session = self.state.db, self.state.session
        if db is None or session is None or session.id is None:
            return
        sid = session.id
        self.ops.run(lambda: db.sessions.get(sid), self.accept, self.app.fail,
                     stamp=self.app.session_scope.stamp())

    def accept(self, stored: Session) -> None:
        """The stored copy of a session replaces every copy the window holds."""
        for i, s in enumerate(self.state.sessions):
            if s.id == stored.id:
                self.state.sessions[i] = stored
        self.app.sessionsChanged.emit(list(self.state.sessions))
        if self.state.session is not None and self.state.session.id == stored.id:
            # what was typed since this copy was stored stays until it is stored too
            for name, value in self._unsaved.get(stored.id or 0, {}).items():
                setattr(stored, name, value)
            self.state.session = stored
            self.app.sessionOpened.emit(stored)

    def rename(self, session_id: int, title: str) -> None:
        title = title.strip()
        if title:
            self.change(session_id, title=title)

    def archive(self, session_id: int, archived: bool = True) -> None:
        db = self.state.db
        if db is not None:
            self.ops.run(lambda: db.sessions.archive(session_id, archived),
                         lambda _r: self.refresh(), self.app.fail)

    def delete(self, session_id: int) -> None:
        """Hide the session at once; undo_delete() brings it back within a few seconds."""
        db = self.state.db
        session = next((s for s in self.state.sessions if s.id == session_id), None)
        if db is None or session is None:
            return
        self._unsaved.pop(session_id, None)  # nothing to store in a deleted session
        self.ops.run(lambda: db.sessions.delete(session_id), None, self.app.fail)
        timer = QTimer(self.app)
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: self._pending_deletes.pop(session_id, None))
        timer.start(UNDO_DELETE_MS)
        self._pending_deletes[session_id] = (timer, session)
        self.state.sessions = [s for s in self.state.sessions if s.id != session_id]
        self.app.sessionsChanged.emit(list(self.state.sessions))
        self.app.sessionDeleted.emit(session_id, session.title)
        if self.state.session is not None and self.state.session.id == session_id:
            self.close()
            if self.state.sessions:
                self.open(self.state.sessions[0].id)

    def undo_delete(self) -> None:
        """Restore the most recently deleted session."""
        db = self.state.db
        if not self._pending_deletes or db is None:
            return
        session_id = next(reversed(self._pending_deletes))
        timer, _session = self._pending_deletes.pop(session_id)
        timer.stop()

        def done(_restored: Session) -> None:
            self.refresh()
            self.open(session_id)

        self.ops.run(lambda: db.sessions.restore(session_id), done, self.app.fail)

    def drop_pending_deletes(self) -> None:
        for timer, _session in self._pending_deletes.values():
            timer.stop()
        self._pending_deletes.clear()

    # --- messages: pin, exclude, edit ----------------------------------------------------
    def set_pinned(self, message_id: int | None, pinned: bool) -> None:
        self._change_message(message_id, lambda db: db.messages.set_pinned(message_id, pinned))

    def set_excluded(self, message_id: int | None, excluded: bool) -> None:
        self._change_message(message_id,
                             lambda db: db.messages.set_excluded(message_id, excluded))

    def edit_message(self, message_id: int | None, content: str) -> None:
        def change(db: Any) -> None:
            m = db.messages.get(message_id)
            m.content = content
            db.messages.update(m)

        self._change_message(message_id, change)

    def _change_message(self, message_id: int | None, change: Callable[[Any], None]) -> None:
        db = self.state.db
        if db is None or message_id is None:
            return
        work, encoding = self.work, self.app.budget.model().encoding

        def job() -> Message:
            change(db)
            m = db.messages.get(message_id)
            db.messages.save_token_counts_many(count_missing([m], encoding))
            work.replace_message(m)
            return m

        def done(m: Message) -> None:
            self.app.messageChanged.emit(m)
            self.app.budget.refresh()

        self.ops.run(job, done, self.app.fail, stamp=self.app.session_scope.stamp())

    def invalidate_messages(self, tail: bool = False) -> None:
        """A turn wrote messages: the worker reads them again before its next preview
        (as an operation of its own, so it is ordered with the worker's other work).
        `tail`: only the newest messages changed (a turn finished): only they are read."""
        self.ops.run(self.work.invalidate_tail if tail else self.work.invalidate)

    # --- import and export ---------------------------------------------------------------
    def export(self, session_id: int | None, path: Path) -> None:
        db = self.state.db
        if db is None or session_id is None:
            return

        def job() -> str:
            from desktop_app.store.transfer import write_export

            fmt = "md" if path.suffix.lower() in (".md", ".markdown") else "json"
            write_export(db, path, fmt, [session_id])
            return f"Exported to {path}"

        self.ops.run(job, self.app.noticeRaised.emit, self.app.fail)

    def import_file(self, path: Path, again: bool = False) -> None:
        """Import a file; conversations imported before are skipped and said so (the
        window may then offer to import them `again`, as new sessions)."""
        db = self.state.db
        if db is None:
            return

        def job() -> Any:
            from desktop_app.store.transfer import import_file

            return import_file(db, path, again=again)

        def done(result: Any) -> None:
            notes = "; ".join(result.notes)
            line = result.summary_line(path.name) + (f" ({notes})" if notes else "")
            self.app.noticeRaised.emit(line)
            if result.already and not result.session_ids:  # the whole file, again
                self.app.importRepeated.emit(path, result.already_text())
            self.refresh()

        self.ops.run(job, done, self.app.fail)
