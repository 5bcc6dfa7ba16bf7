"""The open session as the window sees it, kept on the controller's serial worker:
pages of messages for the view, every message of the session (with its token counts)
in memory, and the preview of the next request with everything the panels show. The
preview goes through the one builder (`services.request`), as the turn does. Plain
Python: the Qt controller calls it only from inside its background operations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core.live import LiveBudget
from desktop_app.core.prefix import PrefixKept
from desktop_app.core.prefix import kept as prefix_kept
from desktop_app.core.tokens import count_text
from desktop_app.services.request import (
    LAST_SENT,
    RequestContext,
    Selection,
    build_context,
    count_missing,
    next_request,
    visible,
)

if TYPE_CHECKING:
    from desktop_app.core.app_records import TurnUsage
    from desktop_app.core.assemble import AssembledRequest
    from desktop_app.core.budget import AllocationProfile
    from desktop_app.core.catalog import ModelInfo
    from desktop_app.core.records import MemoryFact, Message, Session, Summary
    from desktop_app.services.windows import ResolvedWindow
    from desktop_app.store.database import Database

PAGE_SIZE = 200


@dataclass
class Page:
    session: Session
    messages: list[Message]
    has_more: bool


@dataclass
class Assembly:
    """Everything a fresh preview tells the window."""

    session_id: int | None
    context: RequestContext
    request: AssembledRequest
    live: LiveBudget
    messages: list[Message]
    inclusion: Mapping[int, tuple[str, str]]
    session_cost: float
    reply_estimate: int  # completion tokens a reply usually takes in this session
    memory: list[MemoryFact] | None = None  # only on a full refresh
    summary: Summary | None = None
    replaced: list[Message] = field(default_factory=list)
    usage: list[dict[str, Any]] | None = None
    prefix: PrefixKept | None = None  # how much repeats the last request sent

    @property
    def encoding(self) -> str:
        return self.context.model.encoding

    @property
    def exact(self) -> bool:
        return self.context.model.exact

    @property
    def window(self) -> ResolvedWindow:
        return self.context.window


class SessionWork:
    """Holds the open session's messages for assembly. Not thread-safe by design: the
    controller runs it on its one serial worker."""

    def __init__(self, db: Database | None) -> None:
        self.db = db  # set once the database is open, before the first page is read
        self.session_id: int | None = None
        self.messages: list[Message] = []
        self._loaded = False

    @property
    def _store(self) -> Database:
        if self.db is None:
            raise RuntimeError("the database is not open")
        return self.db

    # --- pages for the view -----------------------------------------------------------
    def open(self, session_id: int, encoding: str) -> Page:
        session = self._store.sessions.get(session_id)
        if session_id != self.session_id:
            self.session_id = session_id
            self.messages = []
            self._loaded = False
        rows = self._store.messages.page(session_id, None, PAGE_SIZE + 1)
        return self._page(session, rows, encoding)

    def older(self, session_id: int, before_position: int, encoding: str) -> Page:
        session = self._store.sessions.get(session_id)
        rows = self._store.messages.page(session_id, before_position, PAGE_SIZE + 1)
        return self._page(session, rows, encoding)

    def _page(self, session: Session, rows: list[Message], encoding: str) -> Page:
        has_more = len(rows) > PAGE_SIZE
        rows = visible(rows[-PAGE_SIZE:])
        self._save_counts(count_missing(rows, encoding))
        return Page(session, rows, has_more)

    def _save_counts(self, counts: dict[int, dict[str, int]]) -> None:
        if counts:
            self._store.messages.save_token_counts_many(counts)

    # --- the session's messages, kept for assembly ----------------------------------
    def invalidate(self) -> None:
        """Messages were added or changed behind our back (a turn): read them again."""
        self._loaded = False

    def _all(self, encoding: str) -> list[Message]:
        if self.session_id is None:
            return []
        if not self._loaded:
            self.messages = self._store.messages.all_for_session(self.session_id)
            self._loaded = True
        # a reply still streaming is not counted: its text so far is not its text
        self._save_counts(count_missing(visible(self.messages), encoding))
        return self.messages

    def replace_message(self, message: Message) -> None:
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].id == message.id:
                self.messages[i] = message
                return

    # --- the preview ------------------------------------------------------------------
    def assemble(self, session: Session | None, selection: Selection, model: ModelInfo,
                 window: ResolvedWindow, profiles: Mapping[str, AllocationProfile],
                 draft: str, full: bool) -> Assembly:
        enc = model.encoding
        sid = session.id if session is not None else None
        if sid != self.session_id:
            self.session_id, self.messages, self._loaded = sid, [], False
        messages = visible(self._all(enc))
        db = self.db
        if db is None:
            memory: list[MemoryFact] = []
        else:
            memory = db.memory.list_for_session(sid) if sid else db.memory.list_global()
        summary = db.summaries.latest(sid) if (db and sid) else None
        ctx = build_context(session, selection, model=model, window=window, profiles=profiles,
                            messages=messages, memory=memory, summary=summary, draft=draft)
        request = next_request(ctx)
        inclusion = {
            mid: (state, reason)
            for mid, state, reason in zip(request.message_ids, request.states, request.reasons,
                                          strict=True)
            if mid is not None
        }
        replies = [m.completion_tokens for m in messages[-20:]
                   if m.role == "assistant" and m.completion_tokens]
        result = Assembly(
            session_id=sid,
            context=ctx,
            request=request,
            live=LiveBudget(request, enc, draft),
            messages=messages,
            inclusion=inclusion,
            session_cost=sum(m.cost or 0.0 for m in messages),
            reply_estimate=round(sum(replies) / len(replies)) if replies else 0,
        )
        if session is not None:
            result.prefix = prefix_kept(request.sections,
                                        (session.strategy_settings or {}).get(LAST_SENT))
        if full:
            for fact in memory:
                if fact.tokens is None:
                    fact.tokens = count_text(fact.line(), enc)
            result.memory = memory
            result.summary = summary
            result.replaced = _replaced_by(summary, messages)
            turns = db.usage.list_for_session(sid) if (db and sid) else []
            result.usage = usage_rows(messages, turns)
        return result


def _replaced_by(summary: Summary | None, messages: list[Message]) -> list[Message]:
    """The messages the stored summary stands for."""
    if summary is None:
        return []
    out: list[Message] = []
    ends = {summary.first_message_id, summary.last_message_id}
    inside = False
    for m in messages:
        if m.id in ends or inside:
            out.append(m)
            inside = m.id != summary.last_message_id
        if m.id == summary.last_message_id:
            break
    return out


def usage_rows(messages: list[Message], turns: list[TurnUsage]) -> list[dict[str, Any]]:
    """One row per reply for the usage chart: the request split by component when the
    turn's usage was recorded (the turn pipeline records it; else the prompt the server
    billed, as one figure), the reply's own tokens, the turn's cost, the prompt tokens the
    server billed and how many of them it read from its cache (None: it did not say)."""
    by_reply = {t.reply_message_id: t for t in turns if t.reply_message_id is not None}
    rows = []
    turn = 0
    for m in messages:
        if m.role == "assistant" and (m.prompt_tokens or m.completion_tokens):
            turn += 1
            usage = by_reply.get(m.id) if m.id is not None else None
            parts = dict((usage is not None and usage.components)
                         or {"prompt": m.prompt_tokens or 0})
            parts["reply"] = m.completion_tokens or 0
            rows.append({"components": parts, "cost": m.cost or 0.0, "label": f"Turn {turn}",
                         "prompt": m.prompt_tokens or 0,
                         "cached": usage.cached_prompt_tokens if usage is not None else None})
    return rows
