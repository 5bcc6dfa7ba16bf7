"""The open session's work that runs on the serial worker thread: loading pages of
messages, keeping every message of the session (with its token counts) in memory for
assembly, and assembling the next request with everything the panels show. Plain
Python: the Qt controller calls these methods only from inside its worker jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from desktop_app.controller.turn import session_input
from desktop_app.core.app_records import TurnUsage
from desktop_app.core.assemble import AssembledRequest, assemble
from desktop_app.core.budget import AllocationProfile
from desktop_app.core.catalog import ModelInfo
from desktop_app.core.history import HistoryStrategy
from desktop_app.core.live import LiveBudget
from desktop_app.core.records import MemoryFact, Message, Session, Summary
from desktop_app.core.tokens import count_text

PAGE_SIZE = 200
# Messages a session shows while a reply is being written are not final yet.
HIDDEN_STATUSES = ("streaming",)


@dataclass
class Choice:
    """What the next request is assembled under."""

    model: ModelInfo
    profile: AllocationProfile
    strategy: HistoryStrategy
    settings: dict = field(default_factory=dict)  # the strategy's settings (last_n, elastic…)


@dataclass
class Page:
    session: Session
    messages: list[Message]
    has_more: bool


@dataclass
class Assembly:
    """Everything a fresh assembly tells the window."""

    session_id: int | None
    request: AssembledRequest
    live: LiveBudget
    messages: list[Message]
    inclusion: dict[int, tuple[str, str]]
    encoding: str
    exact: bool
    session_cost: float
    reply_estimate: int  # completion tokens a reply usually takes in this session
    memory: list[MemoryFact] | None = None  # only on a full refresh
    summary: Summary | None = None
    replaced: list[Message] = field(default_factory=list)
    usage: list[dict[str, Any]] | None = None


def visible(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.status not in HIDDEN_STATUSES]


def count_missing(messages: list[Message], encoding: str) -> dict[int, dict[str, int]]:
    """Count the messages with no cached count for `encoding`; returns the new counts
    by message id so the caller can store them (each text is counted once, ever)."""
    new: dict[int, dict[str, int]] = {}
    for m in messages:
        if encoding not in m.token_counts:
            m.token_counts[encoding] = count_text(m.content, encoding)
            if m.id is not None:
                new[m.id] = {encoding: m.token_counts[encoding]}
    return new


class SessionWork:
    """Holds the open session's messages for assembly. Not thread-safe by design: the
    controller runs it on its one serial worker."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.session_id: int | None = None
        self.messages: list[Message] = []
        self._loaded = False

    # --- pages for the view -----------------------------------------------------------
    def open(self, session_id: int, encoding: str) -> Page:
        session = self.db.sessions.get(session_id)
        if session_id != self.session_id:
            self.session_id = session_id
            self.messages = []
            self._loaded = False
        rows = self.db.messages.page(session_id, None, PAGE_SIZE + 1)
        return self._page(session, rows, encoding)

    def older(self, session_id: int, before_position: int, encoding: str) -> Page:
        session = self.db.sessions.get(session_id)
        rows = self.db.messages.page(session_id, before_position, PAGE_SIZE + 1)
        return self._page(session, rows, encoding)

    def _page(self, session: Session, rows: list[Message], encoding: str) -> Page:
        has_more = len(rows) > PAGE_SIZE
        rows = rows[-PAGE_SIZE:]
        self._save_counts(count_missing(rows, encoding))
        return Page(session, visible(rows), has_more)

    def _save_counts(self, counts: dict[int, dict[str, int]]) -> None:
        if counts:
            self.db.messages.save_token_counts_many(counts)

    # --- the session's messages, kept for assembly ----------------------------------
    def invalidate(self) -> None:
        """Messages were added or changed behind our back (a turn): read them again."""
        self._loaded = False

    def _all(self, encoding: str) -> list[Message]:
        if self.session_id is None:
            return []
        if not self._loaded:
            self.messages = self.db.messages.all_for_session(self.session_id)
            self._loaded = True
        self._save_counts(count_missing(self.messages, encoding))
        return self.messages

    def replace_message(self, message: Message) -> None:
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].id == message.id:
                self.messages[i] = message
                return

    # --- assembly -------------------------------------------------------------------
    def assemble(self, session: Session | None, choice: Choice, draft: str,
                 full: bool) -> Assembly:
        enc = choice.model.encoding
        sid = session.id if session is not None else None
        if sid != self.session_id:
            self.session_id, self.messages, self._loaded = sid, [], False
        messages = visible(self._all(enc))
        memory = self.db.memory.list_for_session(sid) if (self.db and sid) else []
        if self.db and sid is None:
            memory = self.db.memory.list_global()
        summary = self.db.summaries.latest(sid) if (self.db and sid) else None
        inp = session_input(session, choice.settings, messages, draft, choice.model,
                            choice.profile, choice.strategy, memory, summary)
        request = assemble(inp)
        live = LiveBudget(request, enc, draft)
        inclusion = {
            mid: (state, reason)
            for mid, state, reason in zip(request.message_ids, request.states, request.reasons)
            if mid is not None
        }
        replies = [m.completion_tokens for m in messages[-20:]
                   if m.role == "assistant" and m.completion_tokens]
        result = Assembly(
            session_id=sid,
            request=request,
            live=live,
            messages=messages,
            inclusion=inclusion,
            encoding=enc,
            exact=choice.model.exact,
            session_cost=sum(m.cost or 0.0 for m in messages),
            reply_estimate=round(sum(replies) / len(replies)) if replies else 0,
        )
        if full:
            for fact in memory:
                if fact.tokens is None:
                    fact.tokens = count_text(fact.line(), enc)
            result.memory = memory
            result.summary = summary
            if summary is not None:
                ids = {summary.first_message_id, summary.last_message_id}
                inside = False
                for m in messages:
                    if m.id in ids or inside:
                        result.replaced.append(m)
                        inside = m.id != summary.last_message_id
                    if m.id == summary.last_message_id:
                        break
            turns = self.db.usage.list_for_session(sid) if (self.db and sid) else []
            result.usage = usage_rows(messages, turns)
        return result


def usage_rows(messages: list[Message], turns: list[TurnUsage]) -> list[dict[str, Any]]:
    """One row per reply for the usage chart: the request split by component when the
    turn's usage was recorded (the turn pipeline records it; else the prompt the server
    billed, as one figure), the reply's own tokens, and the turn's cost."""
    breakdowns = {t.reply_message_id: t.components for t in turns
                  if t.reply_message_id is not None}
    rows = []
    turn = 0
    for m in messages:
        if m.role == "assistant" and (m.prompt_tokens or m.completion_tokens):
            turn += 1
            parts = dict(breakdowns.get(m.id) or {"prompt": m.prompt_tokens or 0})
            parts["reply"] = m.completion_tokens or 0
            rows.append({"components": parts, "cost": m.cost or 0.0, "label": f"Turn {turn}"})
    return rows
