"""The controller behind the window, as a facade: it owns the app's state, the one
background-operation helper and small controllers by concern, and it announces what
changed through its signals, which the views connect to. The window calls the parts'
methods (`controller.sessions.open(…)`, `controller.turns.send(…)`) and never touches
the store or the network itself.

  database  start-up, database trouble, restoring a backup      (controller/database.py)
  sessions  the session list, the open session, its messages,   (controller/sessions.py)
            its system prompt and examples
  budget    model/profile/strategy, the draft, the preview        (controller/budget.py)
  turns     sending, streaming, stopping, folding after a reply  (controller/turns.py)
  panels    memory facts, the summary and Compact now, allocation (controller/panels.py)
            profiles, the library of saved system prompts
  setup     providers, keys, connections, default settings       (controller/setup.py)
  experiments  Prompt Lab's experiments: run, cancel, apply best (controller/experiments.py)
  progressive  Prompt Lab's progressive documents: run, stop, resume (controller/progressive.py)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from desktop_app.controller.budget import BudgetController
from desktop_app.controller.database import DatabaseController
from desktop_app.controller.experiments import ExperimentsController
from desktop_app.controller.operations import Operations, Scope
from desktop_app.controller.panels import PanelsController
from desktop_app.controller.progressive import ProgressiveController
from desktop_app.controller.sessions import SessionsController
from desktop_app.controller.setup import SetupController
from desktop_app.controller.state import AppState
from desktop_app.controller.turns import TurnController


class AppController(QObject):
    # start-up and sessions
    starting = Signal()  # before anything else: the window makes what it deferred
    ready = Signal()
    # why the database could not be opened (DatabaseTrouble); None once it opened after all
    databaseTrouble = Signal(object)
    # lists go as `object`: the Python list itself; `list` would convert every item to
    # a QVariant and back (half a second for 300,000 messages, on the GUI thread)
    sessionsChanged = Signal(object)  # list[Session], newest first
    sessionOpened = Signal(object)  # Session: opened, or its stored record changed
    sessionDeleted = Signal(int, str)  # id, title: the window offers Undo
    searchFinished = Signal(str, object)  # query, list[SearchHit]
    # the conversation
    messagesLoaded = Signal(object, bool)  # the newest page, whether older ones exist
    olderLoaded = Signal(object, bool)
    messageAdded = Signal(object)
    messageChanged = Signal(object)
    messageReplaced = Signal(object, object)  # shown before it was stored, the stored one
    inclusionChanged = Signal(object)  # {message id: (state, reason)}
    countingChanged = Signal(object)  # core.counting.Counting: encoding, exact, chat framing
    # the budget
    requestChanged = Signal(object, object, str)  # AssembledRequest, messages, encoding
    windowChanged = Signal(object)  # ResolvedWindow: the window budgeted with, and its source
    reportChanged = Signal(object, object)  # BudgetReport, uncertainty (or None)
    costChanged = Signal(object, object)  # next request, session (None: unpriced)
    prefixChanged = Signal(object)  # core.prefix.PrefixKept | None: what repeats the last
    # the draft's tokens in the request, framing included (None: counting), exact, over, note
    draftCounted = Signal(object, bool, bool, str)
    # a turn
    streamStarted = Signal(str)
    streamText = Signal(str)
    streamFinished = Signal()
    draftAccepted = Signal()  # the user's message is stored: the composer may clear
    errorRaised = Signal(str)
    noticeRaised = Signal(str)
    importRepeated = Signal(object, str)  # a file's path, what was already imported
    # panels and settings
    choicesChanged = Signal(list, list, list)  # [(value, label)] models, profiles, strategies
    selectionChanged = Signal(str, str, str)  # model, profile, strategy
    strategyOptionsChanged = Signal(dict)  # {"last_n": int, "elastic": bool}
    profilesChanged = Signal(list, str)  # list[AllocationProfile], current
    memoryChanged = Signal(object, str, object)  # facts, encoding, session id
    summaryChanged = Signal(object, str, object)  # Summary | None, encoding, replaced
    # what the summary and memory kept at the last fold: {"summary"|"memory": {kept, total,
    # lost, ratio, messages}} (services.folding.RETENTION), with every copy of the session
    retentionChanged = Signal(dict)
    compacted = Signal(object)  # services.compaction.Compaction: what Compact now did
    promptLibraryChanged = Signal(list)  # list[SavedPrompt]: the saved system prompts
    usageChanged = Signal(object)
    providerStateChanged = Signal(bool, str)  # can send, why not
    providersChanged = Signal(list)  # list[ProviderConfig] (keys live in the keychain)
    connectionTested = Signal(bool, str)
    modelsFound = Signal(str, list)  # provider name, the models its server lists
    # your own models (core.user_models.UserModel), and what is wrong with the file
    userModelsChanged = Signal(list, list)

    def __init__(self, data_dir: str | Path | None = None, parent: QObject | None = None,
                 *, keys: Any = None) -> None:
        super().__init__(parent)
        self.state = AppState(Path(data_dir).expanduser() if data_dir else None)
        self.ops = Operations(self)
        self.session_scope = Scope()  # advances whenever another session opens
        self.closed = False
        self.database = DatabaseController(self)
        self.setup = SetupController(self, keys)
        self.sessions = SessionsController(self)
        self.budget = BudgetController(self)
        self.panels = PanelsController(self)
        self.turns = TurnController(self)
        self.experiments = ExperimentsController(self)
        self.progressive = ProgressiveController(self)
        self.sessionOpened.connect(self._announce_retention)

    def _announce_retention(self, session: Any) -> None:
        from desktop_app.services.folding import retention_of

        self.retentionChanged.emit(retention_of(session))

    # --- the state views read ------------------------------------------------------------
    @property
    def db(self) -> Any:
        return self.state.db

    @property
    def session(self) -> Any:
        return self.state.session

    @property
    def trouble(self) -> Any:
        return self.state.trouble

    @property
    def providers(self) -> list[Any]:
        return self.state.providers

    @property
    def data_dir(self) -> Path | None:
        return self.state.data_dir

    # --- life ----------------------------------------------------------------------------
    def start(self) -> None:
        """Open the database and load the first state, off the GUI thread. Until it
        arrives the window works in drafting mode on the default model."""
        self.starting.emit()
        self.budget.start()
        self.setup.announce()
        self.database.open()

    def shutdown(self) -> None:
        """Stop a running reply, finish pending deletions and close the database."""
        if self.closed:
            return
        self.closed = True
        self.turns.stop()
        self.experiments.cancel()  # what came back is stored already
        self.progressive.stop()  # the run is saved after every part: Resume continues it
        self.sessions.save_context_now()  # a system prompt typed a moment ago
        self.sessions.drop_pending_deletes()
        self.ops.wait(15_000)
        self.database.close()

    @property
    def idle(self) -> bool:
        """No work under way or scheduled (for tests, benchmarks and a clean exit)."""
        return not (self.ops.pending or self.budget.busy or self.turns.streaming
                    or self.sessions.busy)

    def fail(self, message: str) -> None:
        """A background operation failed: say so, in one line."""
        if not self.closed:
            self.errorRaised.emit(message)
