"""The controller behind the window: it holds the state of the open session, runs
everything slow (database, network, large counts) on worker threads and tells the
window what changed through signals. The window calls its methods and never touches
the store or the network itself.

Threads: database work runs in order on one serial worker; a turn (which streams for
seconds) and connection tests run on a parallel pool. Results come back as queued
signals; a generation counter drops results that belong to a session no longer open."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from desktop_app.controller.workers import ChunkBatcher, JobRunner
from desktop_app.core.app_records import ProviderConfig
from desktop_app.core.budget import BUILTIN_PROFILES, AllocationProfile, BudgetReport
from desktop_app.core.catalog import ModelInfo, default_catalog, lookup_model
from desktop_app.core.records import MemoryFact, Message, Session

if TYPE_CHECKING:  # loaded when the window has painted (start), not on the way to it
    from desktop_app.controller.database_trouble import DatabaseTrouble
    from desktop_app.controller.session_work import Assembly, Choice, Page, SessionWork
    from desktop_app.core.live import LiveBudget

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_PROFILE = "default"
DEFAULT_STRATEGY = "token_window"
# A draft edit that changes more characters than this is counted on the pool; smaller
# edits are counted on the GUI thread, where DraftCounter recounts only what changed.
BIG_EDIT_CHARS = 200_000
ASSEMBLE_AFTER_TYPING_MS = 500  # the inspector follows the draft once typing pauses
UNDO_DELETE_MS = 8_000
log = logging.getLogger(__name__)
NO_PROVIDER = "Set up a provider to send messages (File ▸ Settings)."
NEW_TITLE = "New session"


def title_for(text: str, limit: int = 60) -> str:
    """A session title from its first message: the first line, shortened."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), NEW_TITLE)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass
class _Turn:
    """The turn under way: its question, and whether the window shows it yet."""

    text: str
    session_id: int
    user_shown: bool = False
    provisional: Message | None = None


@dataclass
class _Failure:
    """A turn that failed before the pipeline could say more (no provider, say)."""

    message: str


class AppController(QObject):
    # start-up and sessions
    starting = Signal()  # before anything else: the window makes what it deferred
    ready = Signal()
    # why the database could not be opened (DatabaseTrouble); None once it opened after all
    databaseTrouble = Signal(object)
    sessionsChanged = Signal(list)  # list[Session], newest first
    sessionOpened = Signal(object)  # Session
    sessionDeleted = Signal(int, str)  # id, title: the window offers Undo
    searchFinished = Signal(str, list)  # query, list[SearchHit]
    # the conversation
    messagesLoaded = Signal(list, bool)  # the newest page, whether older ones exist
    olderLoaded = Signal(list, bool)
    messageAdded = Signal(object)
    messageChanged = Signal(object)
    messageReplaced = Signal(object, object)  # shown before it was stored, the stored one
    inclusionChanged = Signal(object)  # {message id: (state, reason)}
    countingChanged = Signal(str, bool)  # encoding, exact
    # the budget
    requestChanged = Signal(object, list, str)  # AssembledRequest, messages, encoding
    reportChanged = Signal(object, object)  # BudgetReport, uncertainty (or None)
    costChanged = Signal(object, object)  # next request, session (None: unpriced)
    draftCounted = Signal(object, bool, bool, str)  # tokens (None: counting), exact, over, note
    # a turn
    streamStarted = Signal(str)
    streamText = Signal(str)
    streamFinished = Signal()
    draftAccepted = Signal()  # the user's message is stored: the composer may clear
    errorRaised = Signal(str)
    noticeRaised = Signal(str)
    # panels and settings
    choicesChanged = Signal(list, list, list)  # [(value, label)] models, profiles, strategies
    selectionChanged = Signal(str, str, str)  # model, profile, strategy
    strategyOptionsChanged = Signal(dict)  # {"last_n": int, "elastic": bool}
    profilesChanged = Signal(list, str)  # list[AllocationProfile], current
    memoryChanged = Signal(list, str, object)  # facts, encoding, session id
    summaryChanged = Signal(object, str, list)  # Summary | None, encoding, replaced
    usageChanged = Signal(list)
    providerStateChanged = Signal(bool, str)  # can send, why not
    providersChanged = Signal(list)  # list[ProviderConfig] (keys live in the keychain)
    connectionTested = Signal(bool, str)

    _workerNotice = Signal(str)

    def __init__(self, data_dir: str | Path | None = None, parent: QObject | None = None,
                 *, keys: Any = None) -> None:
        super().__init__(parent)
        self.data_dir: Path | None = Path(data_dir).expanduser() if data_dir else None
        self.jobs = JobRunner(self)
        self.batcher = ChunkBatcher(30, self)
        self.batcher.flushed.connect(self.streamText)
        self._workerNotice.connect(self.noticeRaised)
        self.batcher.flushed.connect(self._on_stream_text)
        self._keys = keys
        self.db: Any = None
        self.trouble: DatabaseTrouble | None = None  # why the database is not open
        self._opening = False
        self._work: SessionWork | None = None  # made in start()
        self.closed = False

        self.sessions: list[Session] = []
        self.session: Session | None = None
        self.profiles: dict[str, AllocationProfile] = dict(BUILTIN_PROFILES)
        self.providers: list[ProviderConfig] = []
        self.defaults = {"model": DEFAULT_MODEL, "profile": DEFAULT_PROFILE,
                         "strategy": DEFAULT_STRATEGY}
        # strategy settings chosen before any session exists; a new session takes them
        self.draft_strategy_settings: dict[str, Any] = {}
        self.show_archived = False
        self.can_send = False

        self._generation = 0  # bumps whenever another session opens
        self._assembling = False
        self._assemble_again = False
        self._assemble_full = False
        self.assembly: Assembly | None = None
        self.live: LiveBudget | None = None
        self.draft = ""
        self._draft_busy = False
        self._uncertainty: float | None = None
        self._problem = ""  # why the next request cannot be sent, shown as a notice
        self._oldest_position: int | None = None

        self.streaming = False
        self._cancel: threading.Event | None = None
        self._turn: _Turn | None = None
        self._connections: dict[tuple[str | None, str], Any] = {}
        self._connections_lock = threading.Lock()
        self._pending_deletes: dict[int, tuple[QTimer, Session]] = {}

        self._assemble_timer = QTimer(self)
        self._assemble_timer.setSingleShot(True)
        self._assemble_timer.setInterval(ASSEMBLE_AFTER_TYPING_MS)
        self._assemble_timer.timeout.connect(self._request_assembly)

    # =============================================================================
    # start and stop
    # =============================================================================
    def start(self) -> None:
        """Open the database and load the first state, off the GUI thread. Until it
        arrives the window works in drafting mode on the default model."""
        from desktop_app.controller.session_work import SessionWork

        self.starting.emit()
        self._work = SessionWork(None)
        self._emit_choices()
        self._emit_selection()
        self.providerStateChanged.emit(False, NO_PROVIDER)
        self._request_assembly()  # the gauge works before the database is open
        self._open_database()

    def _open_database(self) -> None:
        if self._opening or self.db is not None:
            return
        self._opening = True
        self.jobs.submit(self._load_start, self._on_started, self._on_start_failed)

    def _load_start(self) -> dict[str, Any] | DatabaseTrouble:
        """The first state, or why the database cannot be opened (the window explains
        each kind of trouble in its own way, so it gets more than a message)."""
        from desktop_app.controller.database_trouble import describe
        from desktop_app.store.database import database_path, open_database

        try:
            db = open_database(self.data_dir)
        except Exception as exc:  # noqa: BLE001 - every kind of trouble is shown, calmly
            log.info("the database could not be opened: %s", exc)
            return describe(exc, database_path(self.data_dir))
        try:
            # sessions deleted in an earlier run are past their undo: remove them for good
            db.sessions.purge_deleted(older_than=timedelta(minutes=1))
            settings = db.settings
            state = {
                "db": db,
                "sessions": db.sessions.list(include_archived=self.show_archived),
                "profiles": db.profiles.list(),
                "providers": db.providers.list(),
                "defaults": {
                    "model": settings.get("default_model", DEFAULT_MODEL),
                    "profile": settings.get("default_profile", DEFAULT_PROFILE),
                    "strategy": settings.get("default_strategy", DEFAULT_STRATEGY),
                },
                "last_session": settings.get("last_session", None),
            }
        except Exception as exc:  # noqa: BLE001 - busy after opening, say: close and explain
            db.close()
            return describe(exc, db.path)
        self._work.db = db
        return state

    def _on_started(self, state: dict[str, Any] | DatabaseTrouble) -> None:
        self._opening = False
        if not isinstance(state, dict):
            self._on_trouble(state)
            return
        if self.closed:
            state["db"].close()
            return
        if self.trouble is not None:
            self.trouble = None
            self.databaseTrouble.emit(None)
        self.db = state["db"]
        self.data_dir = Path(self.db.data_dir)
        self.defaults.update({k: v for k, v in state["defaults"].items() if v})
        self.profiles = {p.name: p for p in state["profiles"]} or dict(BUILTIN_PROFILES)
        self._set_providers(state["providers"])
        self._set_sessions(state["sessions"])
        self._emit_choices()
        self._emit_profiles()
        last = state["last_session"]
        ids = [s.id for s in self.sessions]
        if last in ids:
            self.open_session(last)
        elif ids:
            self.open_session(ids[0])
        else:
            self._emit_selection()
            self._request_assembly(full=True)
        self.ready.emit()

    def _on_trouble(self, trouble: DatabaseTrouble) -> None:
        if self.closed:
            return
        self.trouble = trouble
        self.databaseTrouble.emit(trouble)
        self.ready.emit()

    def retry_start(self) -> None:
        """Try to open the database again (the other window has let go, the file was made
        writable or moved away)."""
        self._open_database()

    def restore_backup(self) -> None:
        """Put the newest backup in place of the damaged database, then open it. The
        store keeps the damaged file (and its WAL) aside under a new name."""
        trouble = self.trouble
        if trouble is None or not trouble.can_restore or self._opening or self.db is not None:
            return
        self._opening = True
        data_dir = self.data_dir

        def job() -> Any:
            from desktop_app.store.database import restore_newest_backup

            return restore_newest_backup(data_dir)

        def done(result: Any) -> None:
            from desktop_app.controller.database_trouble import when
            from desktop_app.store.backups import backup_time

            self._opening = False
            kept = result.damaged_copy.name if result.damaged_copy else ""
            self.noticeRaised.emit(
                f"Restored the backup from {when(backup_time(result.restored_from))}."
                + (f" The damaged file is kept as {kept} in the data folder." if kept else ""))
            self._open_database()

        def failed(message: str) -> None:
            self._opening = False
            self.errorRaised.emit(f"The backup could not be restored: {message}")
            self.databaseTrouble.emit(self.trouble)  # the choices stay on offer

        self.jobs.submit(job, done, failed)

    def data_folder(self) -> Path:
        """The folder that holds the database and its backups ("Open data folder")."""
        if self.data_dir is not None:
            return self.data_dir
        from desktop_app.store.database import default_data_dir

        return default_data_dir()

    def _on_start_failed(self, message: str) -> None:
        self._opening = False
        self.errorRaised.emit(
            f"The database could not be opened: {message}. Drafting still works; nothing "
            "will be saved until this is fixed."
        )
        self.ready.emit()

    def shutdown(self) -> None:
        """Stop a running reply, finish pending deletions and close the database."""
        if self.closed:
            return
        self.closed = True
        if self._cancel is not None:
            self._cancel.set()
        for sid in list(self._pending_deletes):
            timer, _session = self._pending_deletes.pop(sid)
            timer.stop()
        self.jobs.wait(15_000)
        if self.db is not None and self.session is not None and self.session.id is not None:
            try:
                self.db.settings.set("last_session", self.session.id)
            except Exception as exc:  # noqa: BLE001 - closing must not fail on a busy database
                log.info("could not remember the open session: %s", exc)
        if self.db is not None:
            self.db.close()

    @property
    def idle(self) -> bool:
        """No work under way or scheduled (for tests, benchmarks and a clean exit)."""
        return not (self.jobs.pending or self._assembling or self._assemble_again
                    or self._assemble_timer.isActive() or self.streaming or self._draft_busy)

    # =============================================================================
    # sessions
    # =============================================================================
    def _set_sessions(self, sessions: list[Session]) -> None:
        hidden = set(self._pending_deletes)
        self.sessions = [s for s in sessions if s.id not in hidden]
        self.sessionsChanged.emit(self.sessions)

    def refresh_sessions(self) -> None:
        if self.db is None:
            return
        archived = self.show_archived
        self.jobs.submit(lambda: self.db.sessions.list(include_archived=archived),
                         self._set_sessions, self._failed)

    def set_show_archived(self, show: bool) -> None:
        self.show_archived = show
        self.refresh_sessions()

    def new_session(self, then: Any = None, title: str = NEW_TITLE) -> None:
        if self.db is None:
            self.errorRaised.emit("The database is not open, so nothing can be saved."
                                  if self.trouble else
                                  "The database is not open yet; try again in a moment.")
            return
        session = Session(
            title=title,
            model=self._choice_names()[0],
            profile=self._choice_names()[1],
            strategy=self._choice_names()[2],
            strategy_settings=dict(self._strategy_settings()),
        )

        def done(created: Session) -> None:
            self.sessions.insert(0, created)
            self.sessionsChanged.emit(self.sessions)
            self.open_session(created.id, then)

        self.jobs.submit(lambda: self.db.sessions.create(session), done, self._failed)

    def open_session(self, session_id: int, then: Any = None) -> None:
        """Show a session; `then()` runs once it is open (the first send of a new one)."""
        if self.db is None or session_id is None:
            return
        if self.streaming:
            self.stop()
        self._generation += 1
        gen = self._generation
        target = next((s for s in self.sessions if s.id == session_id), None)
        encoding = lookup_model(target.model).encoding if target else self._model().encoding
        work = self._work
        self.jobs.submit(lambda: work.open(session_id, encoding),
                         lambda page: self._on_opened(gen, page, then), self._failed)

    def _on_opened(self, gen: int, page: Page, then: Any = None) -> None:
        if gen != self._generation:
            return
        self.session = page.session
        self._oldest_position = page.messages[0].position if page.messages else None
        model = self._model()
        self.sessionOpened.emit(page.session)
        self._emit_selection()
        self.countingChanged.emit(model.encoding, model.exact)
        self.messagesLoaded.emit(page.messages, page.has_more)
        self._request_assembly(full=True)
        if then is not None:
            then()

    def load_older(self) -> None:
        if self.db is None or self.session is None or self._oldest_position is None:
            self.olderLoaded.emit([], False)
            return
        gen, sid, before = self._generation, self.session.id, self._oldest_position
        encoding = self._model().encoding
        work = self._work

        def done(page: Page) -> None:
            if gen != self._generation:
                return
            if page.messages:
                self._oldest_position = page.messages[0].position
            self.olderLoaded.emit(page.messages, page.has_more)

        self.jobs.submit(lambda: work.older(sid, before, encoding), done, self._failed)

    def rename_session(self, session_id: int, title: str) -> None:
        title = title.strip()
        if not title or self.db is None:
            return
        listed = next((s for s in self.sessions if s.id == session_id), None)
        if listed is not None:
            listed.title = title
        if self.session is not None and self.session.id == session_id:
            self.session.title = title  # the open session's own record is the one saved
            self.sessionOpened.emit(self.session)
            self._save_session(self.session)
        elif listed is not None:
            self._save_session(listed)

    def archive_session(self, session_id: int, archived: bool = True) -> None:
        if self.db is None:
            return
        self.jobs.submit(lambda: self.db.sessions.archive(session_id, archived),
                         lambda _r: self.refresh_sessions(), self._failed)

    def delete_session(self, session_id: int) -> None:
        """Hide the session at once; undo_delete() brings it back within a few seconds."""
        if self.db is None:
            return
        session = next((s for s in self.sessions if s.id == session_id), None)
        if session is None:
            return
        self.jobs.submit(lambda: self.db.sessions.delete(session_id), None, self._failed)
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(lambda: self._pending_deletes.pop(session_id, None))
        timer.start(UNDO_DELETE_MS)
        self._pending_deletes[session_id] = (timer, session)
        self.sessions = [s for s in self.sessions if s.id != session_id]
        self.sessionsChanged.emit(self.sessions)
        self.sessionDeleted.emit(session_id, session.title)
        if self.session is not None and self.session.id == session_id:
            self._close_session()
            if self.sessions:
                self.open_session(self.sessions[0].id)

    def undo_delete(self) -> None:
        """Restore the most recently deleted session."""
        if not self._pending_deletes or self.db is None:
            return
        session_id = next(reversed(self._pending_deletes))
        timer, _session = self._pending_deletes.pop(session_id)
        timer.stop()

        def done(_restored: Session) -> None:
            self.refresh_sessions()
            self.open_session(session_id)

        self.jobs.submit(lambda: self.db.sessions.restore(session_id), done, self._failed)

    def _close_session(self) -> None:
        self._generation += 1
        self.session = None
        self._oldest_position = None
        self.messagesLoaded.emit([], False)
        self._emit_selection()
        self._request_assembly(full=True)

    def search(self, query: str) -> None:
        query = query.strip()
        if not query or self.db is None:
            self.searchFinished.emit(query, [])
            return
        self.jobs.submit(lambda: self.db.messages.search(query),
                         lambda hits: self.searchFinished.emit(query, hits), self._failed)

    def _save_session(self, session: Session) -> None:
        if self.db is None or session.id is None:
            return
        snapshot = replace(session)

        def done(saved: Session) -> None:
            # self.session stays the record edits go to (a later edit may be on its way);
            # the list shows what was saved
            for i, s in enumerate(self.sessions):
                if s.id == saved.id:
                    self.sessions[i] = saved
            self.sessionsChanged.emit(self.sessions)

        self.jobs.submit(lambda: self.db.sessions.update(snapshot), done, self._failed)

    # =============================================================================
    # model, profile, strategy
    # =============================================================================
    def _choice_names(self) -> tuple[str, str, str]:
        s = self.session
        if s is not None:
            return s.model, s.profile, s.strategy
        return self.defaults["model"], self.defaults["profile"], self.defaults["strategy"]

    def _model(self) -> ModelInfo:
        name = self._choice_names()[0]
        info = lookup_model(name)
        for provider in self.providers:
            if name in provider.context_windows:
                return info.with_context_window(int(provider.context_windows[name]))
        return info

    def _choice(self) -> Choice:
        from desktop_app.controller.session_work import Choice
        from desktop_app.core.history import HistoryStrategy

        _model_name, profile_name, strategy_name = self._choice_names()
        profile = self.profiles.get(profile_name) or BUILTIN_PROFILES[DEFAULT_PROFILE]
        settings = self._strategy_settings()
        try:
            strategy = HistoryStrategy.from_settings(strategy_name, settings)
        except ValueError:
            strategy = HistoryStrategy()
        return Choice(self._model(), profile, strategy, dict(settings))

    def _strategy_settings(self) -> dict[str, Any]:
        if self.session is not None:
            return self.session.strategy_settings
        return self.draft_strategy_settings

    def set_strategy_option(self, key: str, value: Any) -> None:
        """A setting of the history strategy: "last_n" (a count) or "elastic" (lend the
        unused shares of other components to history)."""
        settings = self._strategy_settings()
        if settings.get(key) == value:
            return
        settings[key] = value
        if self.session is not None:
            self._save_session(self.session)
        self.strategyOptionsChanged.emit(dict(settings))
        self._request_assembly()

    def set_model(self, name: str) -> None:
        self._set_choice("model", name)

    def set_profile(self, name: str) -> None:
        if name in self.profiles:
            self._set_choice("profile", name)

    def set_strategy(self, kind: str) -> None:
        from desktop_app.core.history import STRATEGIES

        if kind in STRATEGIES:
            self._set_choice("strategy", kind)

    def _set_choice(self, field_name: str, value: str) -> None:
        if not value:
            return
        if self.session is not None:
            setattr(self.session, field_name, value)
            self._save_session(self.session)
        else:
            self.defaults[field_name] = value
            self._save_setting(f"default_{field_name}", value)
        self._emit_selection()
        model = self._model()
        if field_name == "model":
            self.countingChanged.emit(model.encoding, model.exact)
        if field_name == "profile":
            self._emit_profiles()
        self._request_assembly(full=field_name == "model")

    def _emit_choices(self) -> None:
        models = [(m.name, m.name) for m in default_catalog().models]
        known = {m for m, _ in models}
        for provider in self.providers:
            for name in provider.models:
                if name not in known:
                    models.append((name, f"{name} ({provider.name})"))
                    known.add(name)
        current = self._choice_names()[0]
        if current not in known:
            models.insert(0, (current, current))
        profiles = [(p.name, p.name + ("" if p.builtin else " (yours)"))
                    for p in self.profiles.values()]
        from desktop_app.core.history import STRATEGIES, STRATEGY_LABELS

        strategies = [(k, STRATEGY_LABELS[k]) for k in STRATEGIES]
        self.choicesChanged.emit(models, profiles, strategies)

    def _emit_selection(self) -> None:
        self.selectionChanged.emit(*self._choice_names())
        self.strategyOptionsChanged.emit(dict(self._strategy_settings()))

    def _emit_profiles(self) -> None:
        self.profilesChanged.emit(list(self.profiles.values()), self._choice_names()[1])

    # =============================================================================
    # the keystroke path: no database, no network
    # =============================================================================
    def set_draft(self, text: str) -> None:
        self.draft = text
        self._count_draft()
        self._assemble_timer.start()

    def _count_draft(self) -> None:
        live = self.live
        if live is None or self._draft_busy:
            return  # the count follows when the budget (or the running count) arrives
        text = self.draft
        if abs(len(text) - len(live.draft_text)) <= BIG_EDIT_CHARS:
            self._show_report(live.update_draft(text))
            return
        self._draft_busy = True
        self.draftCounted.emit(None, live.request.exact, False, "")

        def done(report: BudgetReport) -> None:
            self._draft_busy = False
            if live is self.live:
                self._show_report(report)
            if self.live is not None and self.live.draft_text != self.draft:
                self._count_draft()

        def failed(message: str) -> None:
            self._draft_busy = False
            self._failed(message)

        self.jobs.submit(lambda: live.update_draft(text), done, failed, serial=False)

    def _show_report(self, report: BudgetReport) -> None:
        live = self.live
        assert live is not None
        self.reportChanged.emit(report, self._uncertainty)
        current = report.components["current_input"]
        note = ""
        if current.over:
            note = f"over its share of {current.budget:,} tokens"
        if not report.fits:
            note = "too long for the model's window"
        self.draftCounted.emit(live.draft_tokens, report.exact, current.over or not report.fits,
                               note)
        self._emit_cost(report)

    def _emit_cost(self, report: BudgetReport) -> None:
        model = self._model()
        session_cost = self.assembly.session_cost if self.assembly else 0.0
        if not (model.input_per_million or model.output_per_million):
            self.costChanged.emit(None, session_cost or None)
            return
        reply = self.assembly.reply_estimate if self.assembly else 0
        self.costChanged.emit(model.cost(report.request_tokens, reply), session_cost)

    # =============================================================================
    # assembly: what the next request sends (on the worker)
    # =============================================================================
    def _request_assembly(self, full: bool = False) -> None:
        self._assemble_full = self._assemble_full or full
        if self._assembling:
            self._assemble_again = True
            return
        self._assembling = True
        full, self._assemble_full = self._assemble_full, False
        gen = self._generation
        session = replace(self.session) if self.session is not None else None
        choice = self._choice()
        draft = self.draft
        work = self._work

        def job() -> tuple[Assembly, float | None]:
            result = work.assemble(session, choice, draft, full)
            return result, self._calibration_uncertainty(choice.model)

        def done(out: tuple[Assembly, float | None]) -> None:
            self._assembling = False
            if gen == self._generation and not self.closed:
                self._apply_assembly(*out)
            self._next_assembly()

        def failed(message: str) -> None:
            self._assembling = False
            self._failed(message)
            self._next_assembly()

        self.jobs.submit(job, done, failed)

    def _next_assembly(self) -> None:
        if self._assemble_again:
            self._assemble_again = False
            self._request_assembly()

    def _calibration_uncertainty(self, model: ModelInfo) -> float | None:
        """Relative spread of our estimate against what the server reported (None for
        an exact count, or before any report)."""
        if model.exact or self.db is None:
            return None
        try:
            cal = self.db.calibration.get(model.name)
        except Exception as exc:  # noqa: BLE001 - a missing figure is not worth an error
            log.info("no calibration for %s: %s", model.name, exc)
            return None
        return cal.stddev / cal.ratio if cal.stddev and cal.ratio else None

    def _apply_assembly(self, result: Assembly, uncertainty: float | None) -> None:
        self.assembly = result
        self.live = result.live
        self._uncertainty = uncertainty
        self.requestChanged.emit(result.request, result.messages, result.encoding)
        self.inclusionChanged.emit(result.inclusion)
        sid = result.session_id
        if result.memory is not None:
            self.memoryChanged.emit(result.memory, result.encoding, sid)
        if result.usage is not None:
            self.summaryChanged.emit(result.summary, result.encoding, result.replaced)
            self.usageChanged.emit(result.usage)
        if not self._draft_busy and result.live.draft_text != self.draft:
            self._count_draft()
        else:
            self._show_report(result.live.report)
        problem = result.request.problem or ""
        if problem != self._problem:  # other notices stay until something replaces them
            self._problem = problem
            self.noticeRaised.emit(problem)

    # =============================================================================
    # messages: pin, exclude, edit
    # =============================================================================
    def set_pinned(self, message_id: int | None, pinned: bool) -> None:
        self._change_message(message_id, lambda db: db.messages.set_pinned(message_id, pinned))

    def set_excluded(self, message_id: int | None, excluded: bool) -> None:
        self._change_message(message_id, lambda db: db.messages.set_excluded(message_id, excluded))

    def edit_message(self, message_id: int | None, content: str) -> None:
        def change(db: Any) -> None:
            m = db.messages.get(message_id)
            m.content = content
            db.messages.update(m)

        self._change_message(message_id, change)

    def _change_message(self, message_id: int | None, change: Any) -> None:
        if self.db is None or message_id is None:
            return
        db, work, gen = self.db, self._work, self._generation
        encoding = self._model().encoding

        def job() -> Message:
            change(db)
            m = db.messages.get(message_id)
            from desktop_app.controller.session_work import count_missing

            db.messages.save_token_counts_many(count_missing([m], encoding))
            work.replace_message(m)
            return m

        def done(m: Message) -> None:
            if gen == self._generation:
                self.messageChanged.emit(m)
                self._request_assembly()

        self.jobs.submit(job, done, self._failed)

    # =============================================================================
    # memory, summary, profiles
    # =============================================================================
    def add_fact(self, key: str, value: str, is_global: bool = False) -> None:
        sid = None if is_global or self.session is None else self.session.id
        self._memory_job(lambda db: db.memory.upsert(MemoryFact(key=key, value=value,
                                                                 session_id=sid)))

    def edit_fact(self, old_key: str, fact: MemoryFact) -> None:
        def change(db: Any) -> None:
            if fact.key != old_key:
                old = db.memory.get(old_key, fact.session_id)
                if old is not None and old.id is not None:
                    db.memory.delete(old.id)
            db.memory.upsert(replace(fact, id=None, tokens=None))

        self._memory_job(change)

    def delete_fact(self, key: str) -> None:
        sid = self.session.id if self.session else None

        def change(db: Any) -> None:
            fact = db.memory.get(key, sid) or db.memory.get(key, None)
            if fact is not None and fact.id is not None:
                db.memory.delete(fact.id)

        self._memory_job(change)

    def pin_fact(self, key: str, pinned: bool) -> None:
        sid = self.session.id if self.session else None

        def change(db: Any) -> None:
            fact = db.memory.get(key, sid) or db.memory.get(key, None)
            if fact is not None and fact.id is not None:
                db.memory.pin(fact.id, pinned)

        self._memory_job(change)

    def _memory_job(self, change: Any) -> None:
        if self.db is None:
            self.errorRaised.emit("The database is not open; memory cannot be saved.")
            return
        db = self.db
        self.jobs.submit(lambda: change(db), lambda _r: self._request_assembly(full=True),
                         self._failed)

    def edit_summary(self, text: str) -> None:
        if self.db is None or self.session is None or self.assembly is None:
            return
        current = self.assembly.summary
        if current is None:
            return
        db = self.db
        edited = replace(current, text=text, id=None, tokens=None, created_at=None)
        self.jobs.submit(lambda: db.summaries.add(edited),
                         lambda _r: self._request_assembly(full=True), self._failed)

    def save_profile(self, profile: AllocationProfile) -> None:
        if self.db is None:
            return
        db = self.db

        def job() -> list[AllocationProfile]:
            db.profiles.save(profile)
            return db.profiles.list()

        def done(profiles: list[AllocationProfile]) -> None:
            self.profiles = {p.name: p for p in profiles}
            self._emit_choices()
            self._set_choice("profile", profile.name)

        self.jobs.submit(job, done, self._failed)

    def delete_profile(self, name: str) -> None:
        if self.db is None or name not in self.profiles or self.profiles[name].builtin:
            return
        db = self.db

        def job() -> list[AllocationProfile]:
            db.profiles.delete(name)
            return db.profiles.list()

        def done(profiles: list[AllocationProfile]) -> None:
            self.profiles = {p.name: p for p in profiles}
            self._emit_choices()
            if self._choice_names()[1] == name:
                self._set_choice("profile", DEFAULT_PROFILE)
            else:
                self._emit_profiles()

        self.jobs.submit(job, done, self._failed)

    # =============================================================================
    # a turn
    # =============================================================================
    def send(self, text: str) -> None:
        if self.streaming or not text.strip():
            return
        if not self.can_send:
            self.errorRaised.emit(NO_PROVIDER)
            return
        if self.db is None:
            self.errorRaised.emit("The database is not open yet; your message is kept here.")
            return
        if self.session is None:
            self.new_session(then=lambda: self._start_turn(text), title=title_for(text))
            return
        if self.session.title == NEW_TITLE and self.session.id is not None:
            self.rename_session(self.session.id, title_for(text))
        self._start_turn(text)

    def resend(self, message_id: int | None) -> None:
        m = self._find_loaded(message_id)
        if m is not None:
            self.send(m.content)

    def retry(self, message_id: int | None) -> None:
        """Ask again for a reply that failed or was interrupted: the failed pair stays
        visible but is excluded from later requests, and the question is sent again."""
        if self.streaming or self.db is None or message_id is None:
            return
        db, gen, work = self.db, self._generation, self._work

        def job() -> tuple[str, list[Message]]:
            messages = db.messages.all_for_session(db.messages.get(message_id).session_id)
            at = next(i for i, m in enumerate(messages) if m.id == message_id)
            question = next((m for m in reversed(messages[:at]) if m.role == "user"), None)
            if question is None:
                raise ValueError("there is no question before this reply to ask again")
            changed = []
            for m in (question, messages[at]):
                db.messages.set_excluded(m.id, True)
                changed.append(db.messages.get(m.id))
            work.invalidate()
            return question.content, changed

        def done(out: tuple[str, list[Message]]) -> None:
            text, changed = out
            if gen == self._generation:
                for m in changed:
                    self.messageChanged.emit(m)
                self._start_turn(text)

        self.jobs.submit(job, done, self._failed)

    def _find_loaded(self, message_id: int | None) -> Message | None:
        if self.assembly is None:
            return None
        return next((m for m in self.assembly.messages if m.id == message_id), None)

    def stop(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _start_turn(self, text: str) -> None:
        if self.session is None or self.session.id is None or self.db is None:
            return
        self._assemble_timer.stop()
        sid, model, gen = self.session.id, self.session.model, self._generation
        db = self.db
        cancel = threading.Event()
        self._cancel = cancel
        self.streaming = True
        self._turn = _Turn(text, sid)
        self.batcher.reset()
        self.streamStarted.emit("Assistant is replying…")

        def job() -> Any:
            from desktop_app.controller.turn import TurnError, TurnPipeline

            connection = self._connection(db, model)
            for warning in connection.warnings:
                self._workerNotice.emit(warning)
            pipeline = TurnPipeline(db, connection.client, connection.context_window)
            replied: list[bool] = []

            def on_chunk(chunk: str) -> None:
                if not replied:
                    replied.append(True)
                self.batcher.add(chunk)

            try:
                return pipeline.run_turn(sid, text, on_chunk=on_chunk,
                                         on_notice=self._workerNotice.emit, cancel=cancel)
            except TurnError as err:
                if err.user_stored and not replied:
                    _set_aside(db, err.reply)
                return err  # carries whether the user's message was stored

        self.jobs.submit(job, lambda r: self._turn_done(gen, r),
                         lambda msg: self._turn_done(gen, _Failure(msg)), serial=False)

    def _connection(self, db: Any, model: str) -> Any:
        """The server for `model` (runs on a worker: it may ask the server its window).
        Kept per provider and model until the providers change."""
        from desktop_app.controller.clients import connect

        provider = next((p.name for p in self.providers if model in p.models), None)
        key = (provider, model)
        with self._connections_lock:
            found = self._connections.get(key)
        if found is None:
            found = connect(db, model, provider=provider, keys=self._keystore())
            if found is None:
                raise RuntimeError(NO_PROVIDER)
            with self._connections_lock:
                self._connections[key] = found
        return found

    def _keystore(self) -> Any:
        """The keychain access, made once (worker threads may ask at the same time)."""
        with self._connections_lock:
            if self._keys is None:
                from desktop_app.llm.keys import KeyStore

                self._keys = KeyStore()
            return self._keys

    def _on_stream_text(self, _text: str) -> None:
        """The first words of the reply: the question is stored by now."""
        turn = self._turn
        if turn is not None and not turn.user_shown:
            self._show_user_message(turn, None)

    def _show_user_message(self, turn: _Turn, stored: Message | None) -> None:
        """The question is stored: the composer clears and the question joins the list
        (shown at once; swapped for the stored copy when the turn ends)."""
        first = not turn.user_shown
        turn.user_shown = True
        here = self.session is not None and self.session.id == turn.session_id
        if stored is None:
            turn.provisional = Message("user", turn.text, session_id=turn.session_id)
            if self.live is not None and self.live.draft_text == turn.text:
                turn.provisional.token_counts[self.live.encoding] = self.live.draft_tokens
        if first:
            self.draftAccepted.emit()
        if not here:
            return
        if stored is None:
            self.messageAdded.emit(turn.provisional)
        elif turn.provisional is not None:
            self.messageReplaced.emit(turn.provisional, stored)
        else:
            self.messageAdded.emit(stored)

    def _invalidate_messages(self) -> None:
        """The turn wrote messages: the worker reads them again before its next
        assembly (as a job of its own, so it is ordered with the worker's other work)."""
        work = self._work
        if work is not None:
            self.jobs.submit(work.invalidate)

    def _end_stream(self) -> None:
        self.batcher.flush()
        self.batcher.reset()
        self.streaming = False
        self._cancel = None
        self.streamFinished.emit()

    def _turn_done(self, gen: int, result: Any) -> None:
        """`result` is a TurnResult, or a failure (TurnError or _Failure) with its
        message and whether the user's message was stored before it failed."""
        turn, self._turn = self._turn, None
        self._end_stream()
        self._invalidate_messages()
        here = gen == self._generation
        user = getattr(result, "user_message", None)
        if user is not None:  # the turn completed (perhaps interrupted by Stop)
            if turn is not None and here:
                self._show_user_message(turn, user)
            if here:
                self.messageAdded.emit(result.reply)
        else:
            # Before any reply text the question stays in the composer to send again
            # (its stored copy was set aside); after, it is in the conversation.
            self.errorRaised.emit(result.message)
            if getattr(result, "user_stored", False) and here and self.session is not None:
                self.open_session(self.session.id)  # the question and the failed reply
                return
        self.refresh_sessions()
        if here:
            self._request_assembly(full=True)

    # =============================================================================
    # providers and settings
    # =============================================================================
    def _set_providers(self, providers: list[ProviderConfig]) -> None:
        self.providers = list(providers)
        with self._connections_lock:
            self._connections.clear()
        self.can_send = bool(self.providers) or bool(os.environ.get("OPENAI_API_KEY"))
        self.providersChanged.emit(self.providers)
        self.providerStateChanged.emit(self.can_send, "" if self.can_send else NO_PROVIDER)
        self._emit_choices()

    def settings_snapshot(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.data_dir) if self.data_dir else "",
            "default_model": self.defaults["model"],
            "default_profile": self.defaults["profile"],
            "default_strategy": self.defaults["strategy"],
            "models": [m.name for m in default_catalog().models],
            "profiles": list(self.profiles),
        }

    def set_default(self, what: str, value: str) -> None:
        if what in self.defaults and value:
            self.defaults[what] = value
            self._save_setting(f"default_{what}", value)
            if self.session is None:
                self._emit_selection()
                self._request_assembly()

    def _save_setting(self, key: str, value: Any) -> None:
        if self.db is not None:
            db = self.db
            self.jobs.submit(lambda: db.settings.set(key, value), None, self._failed)

    def save_provider(self, provider: ProviderConfig, api_key: str | None = None) -> None:
        """Store a provider's settings, and its key in the keychain (never the database)."""
        if self.db is None:
            self.errorRaised.emit("The database is not open; the provider cannot be saved.")
            return
        db = self.db

        def job() -> tuple[list[ProviderConfig], str | None]:
            from desktop_app.controller.clients import DEFAULT_PROVIDER_SETTING, llm_config

            checked = llm_config(provider)  # a clear message for a bad URL or name
            where = None
            if api_key:
                where = self._keystore().set(checked.name, api_key)
            db.providers.save(replace(provider, name=checked.name, base_url=checked.base_url))
            if not db.settings.get(DEFAULT_PROVIDER_SETTING):
                db.settings.set(DEFAULT_PROVIDER_SETTING, checked.name)
            return db.providers.list(), where

        def done(out: tuple[list[Any], str | None]) -> None:
            providers, where = out
            self._set_providers(providers)
            if where == "session":
                self.noticeRaised.emit(self._keystore().message or "")

        self.jobs.submit(job, done, self._failed)

    def delete_provider(self, name: str) -> None:
        if self.db is None:
            return
        db = self.db

        def job() -> list[Any]:
            from desktop_app.controller.clients import DEFAULT_PROVIDER_SETTING

            db.providers.delete(name)
            self._keystore().delete(name)
            remaining = db.providers.list()
            if db.settings.get(DEFAULT_PROVIDER_SETTING) == name:
                if remaining:
                    db.settings.set(DEFAULT_PROVIDER_SETTING, remaining[0].name)
                else:
                    db.settings.delete(DEFAULT_PROVIDER_SETTING)
            return remaining

        self.jobs.submit(job, self._set_providers, self._failed)

    @staticmethod
    def provider_presets() -> list[tuple[str, str, str, bool]]:
        """(name, label, base URL, needs a key) of each kind of server the app knows."""
        from desktop_app.llm.providers import PRESETS

        return [(p.name, p.label, p.base_url, p.needs_key) for p in PRESETS.values()]

    def key_source(self, name: str, preset: str | None = None) -> str | None:
        """Where a provider's key is kept (shown instead of the key)."""
        return self._keystore().source(name, preset)

    def test_connection(self, provider: ProviderConfig, api_key: str | None = None) -> None:
        def job() -> str:
            from desktop_app.controller.clients import llm_config
            from desktop_app.llm.client import ChatClient

            config = llm_config(provider)
            key = api_key or self._keystore().get(config.name, config.preset)
            client = ChatClient(config, key)
            try:
                models = client.list_models()
            finally:
                client.close()
            shown = ", ".join(models[:5]) + ("…" if len(models) > 5 else "")
            return f"Connected: {len(models)} model{'s' if len(models) != 1 else ''}" + (
                f" ({shown})" if models else "")

        self.jobs.submit(job, lambda text: self.connectionTested.emit(True, text),
                         lambda msg: self.connectionTested.emit(False, msg), serial=False)

    # =============================================================================
    # import and export
    # =============================================================================
    def export_session(self, session_id: int | None, path: Path) -> None:
        if self.db is None or session_id is None:
            return
        db = self.db

        def job() -> str:
            from desktop_app.store.transfer import write_export

            fmt = "md" if path.suffix.lower() in (".md", ".markdown") else "json"
            write_export(db, path, fmt, [session_id])
            return f"Exported to {path}"

        self.jobs.submit(job, self.noticeRaised.emit, self._failed)

    def import_file(self, path: Path) -> None:
        if self.db is None:
            return
        db = self.db

        def job() -> Any:
            from desktop_app.store.transfer import import_file

            return import_file(db, path)

        def done(result: Any) -> None:
            notes = "; ".join(result.notes)
            self.noticeRaised.emit(result.summary_line(path.name) + (f" ({notes})" if notes else ""))
            self.refresh_sessions()

        self.jobs.submit(job, done, self._failed)

    # =============================================================================
    def _failed(self, message: str) -> None:
        if not self.closed:
            self.errorRaised.emit(message)


def _set_aside(db: Any, failed_reply: Message | None) -> None:
    """A turn failed before any reply text: the question (kept in the composer to send
    again) and the failed reply stay visible but leave later requests, so sending again
    does not ask the same question twice."""
    if failed_reply is None or failed_reply.id is None or failed_reply.session_id is None:
        return
    recent = db.messages.page(failed_reply.session_id, failed_reply.position, 1)
    for m in [*recent, failed_reply]:
        if m.id is not None and (m is failed_reply or m.role == "user"):
            db.messages.set_excluded(m.id, True)
