"""The one builder of the next request. The window's preview, the turn and
`token-budget assemble --session` all call `build_context` and then `next_request`, so
what the gauge and the inspector show is, message for message, what is sent.

Summaries and memory are brought up to date after a reply, never between Send and the
request (see `services.folding`). When the draft itself pushes messages out of the
history, they are folded into the stored summary (or their facts into memory) with the
offline methods, which are deterministic: the preview and the request fold them the
same way."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core.assemble import AssembledRequest, AssemblyInput, Older, assemble
from desktop_app.core.budget import BUILTIN_PROFILES, AllocationProfile
from desktop_app.core.catalog import ModelInfo
from desktop_app.core.history import (
    ExtractiveSummarizer,
    HistoryStrategy,
    OfflineFactExtractor,
    StrategyError,
)
from desktop_app.core.records import NOT_READ
from desktop_app.services.reach import Reach, read_reach
from desktop_app.services.windows import ResolvedWindow, WindowSource

if TYPE_CHECKING:
    from desktop_app.core.records import MemoryFact, Message, Session, Summary
    from desktop_app.store.database import Database

MEMORY_THROUGH = "memory_through_id"  # strategy setting: facts extracted up to this message
HISTORY_FROM = "history_from_id"  # strategy setting: where the last request's history began
LAST_SENT = "last_sent"  # strategy setting: the last request's prefix (core.prefix)
DEFAULT_PROFILE = "default"
# Messages a session shows while a reply is being written are not final yet.
HIDDEN_STATUSES = frozenset({"streaming"})


@dataclass(frozen=True)
class Selection:
    """What the next request is assembled under: a session's own choices, or the
    window's defaults before any session exists."""

    model: str
    profile: str
    strategy: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Session) -> Selection:
        return cls(session.model, session.profile, session.strategy,
                   dict(session.strategy_settings))


@dataclass(frozen=True)
class RequestContext:
    """Everything the next request is built from, resolved once."""

    session: Session | None
    model: ModelInfo  # carries the resolved window
    window: ResolvedWindow
    profile: AllocationProfile
    strategy: HistoryStrategy
    elastic: bool
    memory_through_id: int | None
    history_from_id: int | None
    messages: tuple[Message, ...]
    memory: tuple[MemoryFact, ...]
    summary: Summary | None
    draft: str
    older: Older | None = None  # messages older than `messages`, not read

    def assembly_input(self) -> AssemblyInput:
        session = self.session
        return AssemblyInput(
            system_prompt=session.system_prompt if session else "",
            messages=list(self.messages),
            draft=self.draft,
            model=self.model,
            profile=self.profile,
            strategy=self.strategy,
            examples=[dict(e) for e in session.examples] if session else [],
            memory=list(self.memory),
            summary=self.summary,
            elastic=self.elastic,
            memory_through_id=self.memory_through_id,
            history_from_id=self.history_from_id,
            older=self.older,
        )


def resolve_profile(name: str, profiles: Mapping[str, AllocationProfile]) -> AllocationProfile:
    """The named profile; a deleted one falls back to the default (visibly: the picker
    shows the default)."""
    return (profiles.get(name) or BUILTIN_PROFILES.get(name)
            or profiles.get(DEFAULT_PROFILE) or BUILTIN_PROFILES[DEFAULT_PROFILE])


def stable_by_default(model: ModelInfo) -> bool:
    """Is a stable prefix on when a session has not chosen? Yes for local models: their
    server's KV cache answers a long chat at once when the request only grows."""
    return model.provider == "local"


def resolve_strategy(kind: str, settings: Mapping[str, Any],
                     stable_default: bool = False) -> HistoryStrategy:
    try:
        return HistoryStrategy.from_settings(kind, settings, stable_default)
    except StrategyError:
        return HistoryStrategy()


def visible(messages: Iterable[Message]) -> list[Message]:
    return [m for m in messages if m.status not in HIDDEN_STATUSES]


def reach_of(selection: Selection, model: ModelInfo, summary: Summary | None,
             spare: int = 0) -> Reach:
    """How far back the next request of a session with this selection can reach (what
    services.reach reads of its messages)."""
    settings = selection.settings
    strategy = resolve_strategy(selection.strategy, settings, stable_by_default(model))
    through = settings.get(MEMORY_THROUGH)
    return Reach.of(model, strategy, summary, through if isinstance(through, int) else None,
                    spare)


def build_context(
    session: Session | None,
    selection: Selection,
    *,
    model: ModelInfo,
    window: ResolvedWindow | None = None,
    profiles: Mapping[str, AllocationProfile],
    messages: Sequence[Message] = (),
    memory: Sequence[MemoryFact] = (),
    summary: Summary | None = None,
    draft: str = "",
    older: Older | None = None,
) -> RequestContext:
    """The one mapping from a session, its settings and the draft to the assembly
    input. `model` already carries the window to budget with (WindowResolver.model)."""
    settings = selection.settings
    through = settings.get(MEMORY_THROUGH)
    history_from = settings.get(HISTORY_FROM)
    return RequestContext(
        session=session,
        model=model,
        window=window or ResolvedWindow(model.context_window, WindowSource.CATALOG),
        profile=resolve_profile(selection.profile, profiles),
        strategy=resolve_strategy(selection.strategy, settings, stable_by_default(model)),
        elastic=bool(settings.get("elastic", False)),
        memory_through_id=through if isinstance(through, int) else None,
        history_from_id=history_from if isinstance(history_from, int) else None,
        messages=tuple(visible(messages)),
        memory=tuple(memory),
        summary=summary,
        draft=draft,
        older=older,
    )


class OfflineFolding:
    """The offline summarizer and fact extractor, remembering their last results: the
    preview after every typing pause, and then the turn, would otherwise fold the same
    evicted messages again (a second or more for thousands never folded, as in an
    imported session). Deterministic, so a remembered result is the result. Thread-safe:
    the preview and a turn run on different workers."""

    KEEP = 8
    method = "extractive"  # how the summaries it writes are labelled

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._summarizer = ExtractiveSummarizer()
        self._extractor = OfflineFactExtractor()

    def _remembered(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = make()
        with self._lock:
            self._results[key] = result
            while len(self._results) > self.KEEP:
                self._results.popitem(last=False)
        return result

    def summarize(self, previous_summary: str, messages: Sequence[Message], budget_tokens: int,
                  encoding: str) -> str:
        key = ("summary", previous_summary, budget_tokens, encoding,
               tuple((m.id, m.role, m.content) for m in messages))
        text: str = self._remembered(key, lambda: self._summarizer.summarize(
            previous_summary, messages, budget_tokens, encoding))
        return text

    def extract(self, messages: Sequence[Message], existing: Mapping[str, str]) -> dict[str, str]:
        key = ("facts", tuple(sorted(existing.items())),
               tuple((m.id, m.role, m.content) for m in messages))
        facts: dict[str, str] = self._remembered(
            key, lambda: self._extractor.extract(messages, existing))
        return dict(facts)


OFFLINE = OfflineFolding()


def next_request(ctx: RequestContext) -> AssembledRequest:
    """The request the next turn sends, exactly. Messages the history has no room for
    are folded with the offline methods (the stored summary and memory are updated
    through the model after the reply)."""
    return assemble(ctx.assembly_input(), summarizer=OFFLINE, extractor=OFFLINE)


ResolveModel = Callable[[str], tuple[ModelInfo, ResolvedWindow]]


def load_context(db: Database, session_id: int, draft: str,
                 resolve: ResolveModel, spare: int = 0) -> RequestContext:
    """A stored session's next request context, read from the database (the turn and
    the command line; the window keeps the messages in memory and calls build_context
    itself): the messages the request can reach, with their texts, and the older ones
    in summary; `spare` more left-out messages (see services.reach.Reach)."""
    session = db.sessions.get(session_id)
    model, window = resolve(session.model)
    selection = Selection.of(session)
    summary = db.summaries.latest(session_id)
    messages, older = read_reach(db, session_id, model.encoding,
                                 reach_of(selection, model, summary, spare))
    unread = [m for m in messages if m.content is NOT_READ and m.id is not None]
    texts = db.messages.contents([m.id for m in unread])  # type: ignore[misc]
    for m in unread:
        m.content = texts.get(m.id, "")  # type: ignore[arg-type]
    profiles = {p.name: p for p in db.profiles.list()}
    return build_context(
        session, selection, model=model, window=window, profiles=profiles,
        messages=messages, memory=db.memory.list_for_session(session_id),
        summary=summary, draft=draft, older=older)
