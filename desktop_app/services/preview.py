"""The open session as the window sees it, kept on the controller's serial worker:
pages of messages for the view, every message of the session (with its token counts)
in memory, and the preview of the next request with everything the panels show. The
preview goes through the one builder (`services.request`), as the turn does. Plain
Python: the Qt controller calls it only from inside its background operations."""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop_app.core.assemble import left_out_by_itself
from desktop_app.core.counting import MessageRun
from desktop_app.core.live import LiveBudget
from desktop_app.core.prefix import PrefixKept
from desktop_app.core.prefix import kept as prefix_kept
from desktop_app.core.records import NOT_READ, ROLES
from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.services.reach import Reach, count_missing, read_reach
from desktop_app.services.request import (
    HIDDEN_STATUSES,
    LAST_SENT,
    RequestContext,
    Selection,
    build_context,
    next_request,
    reach_of,
    visible,
)

if TYPE_CHECKING:
    from desktop_app.core.app_records import TurnUsage
    from desktop_app.core.assemble import AssembledRequest, Older
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
    replaced: MessageRun | None = None  # the messages the summary stands for
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
    """Holds the open session's messages for assembly: those its next request can reach
    (services.reach), the rest in summary. Not thread-safe by design: the controller
    runs it on its one serial worker."""

    def __init__(self, db: Database | None) -> None:
        self.db = db  # set once the database is open, before the first page is read
        self.session_id: int | None = None
        self.messages: list[Message] = []
        self.not_read: Older | None = None  # the older messages, not read, in summary
        self._reach: tuple[str, Reach] | None = None  # what was read for
        self._usage: list[tuple[int, str, int | None, int | None, float | None]] | None = None
        self._loaded = False
        self._tail_only = False  # the next read may take only the newest page
        self._counted: set[str] = set()  # encodings every loaded message is counted under

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
            self.messages, self.not_read = [], None
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
        self._tail_only = False

    def invalidate_tail(self) -> None:
        """A turn finished: its question and reply, at the end, are all that changed; the
        next preview reads the newest page and puts it in place of the old end."""
        self._tail_only = self._loaded
        self._loaded = False

    def _splice_tail(self, session_id: int) -> bool:
        """The newest messages read again and put in place of the loaded ones from the
        oldest of them on; False when they do not line up (then all are read)."""
        page = self._store.messages.page(session_id, None, TAIL)
        if len(page) < TAIL:  # the whole session
            self.messages, self.not_read = page, None
            return True
        first = page[0].id
        old = self.messages
        for i in range(len(old) - 1, max(-1, len(old) - 2 * TAIL), -1):
            if old[i].id == first:
                self.messages = old[:i] + page
                for encoding in self._counted:  # the rest was counted before
                    self._save_counts(count_missing(visible(page), encoding))
                return True
        return False

    def _all(self, encoding: str, reach: Reach) -> list[Message]:
        """The session's messages `reach` may need (read back from the newest only as
        far as that; `not_read` holds the rest in summary), most without their text
        (NOT_READ: `_read` reads those the request can send or fold), with their counts
        under `encoding`."""
        if self.session_id is None:
            return []
        if self._loaded and not (self._reach is not None and self._reach[0] == encoding
                                 and self._reach[1].covers(reach)):
            self._loaded = self._tail_only = False  # read for another model or strategy
        if not self._loaded:
            sid = self.session_id
            if not (self._tail_only and self._splice_tail(sid)):
                self.messages, self.not_read = _load_quietly(
                    lambda: read_reach(self._store, sid, encoding, reach))
                self._reach = (encoding, reach)
                self._counted = {encoding}
            self._loaded = True
            self._tail_only = False
            self._usage = None
        # a reply still streaming is not counted: its text so far is not its text
        if encoding not in self._counted:
            shown = visible(self.messages)
            self._read([m for m in shown if encoding not in m.token_counts])
            self._save_counts(count_missing(shown, encoding))
            if not any(m.status in HIDDEN_STATUSES for m in self.messages[-CHECK_TAIL:]):
                self._counted.add(encoding)
        return self.messages

    def read_texts(self, messages: Sequence[Message]) -> None:
        """Read the text of those of `messages` read without it, in place. Also called
        from the GUI thread, for the inspector's rows: it only reads the store and sets
        the texts, which the worker reads again when it finds them unread."""
        self._read(messages)

    def _read(self, messages: Sequence[Message]) -> None:
        """Read the text of those of `messages` read without it."""
        unread = [m for m in messages if m.content is NOT_READ and m.id is not None]
        if unread:
            texts = self._store.messages.contents([m.id for m in unread])  # type: ignore[misc]
            for m in unread:
                m.content = texts.get(m.id, "")  # type: ignore[arg-type]

    def read_text(self, message: Message) -> str:
        """A message's text, read now when the preview read it without (the inspector's
        rows of messages left out, when shown)."""
        if message.content is NOT_READ:
            self._read([message])
        return message.content

    def _usage_rows(self, session_id: int | None
                    ) -> list[tuple[int, str, int | None, int | None, float | None]]:
        """The session's messages carrying usage or a cost (kept while its messages are):
        the whole session's cost and usage chart, not only the messages read."""
        if session_id is None or self.db is None:
            return []
        if self._usage is None:
            self._usage = self.db.messages.usage_rows(session_id)
        return self._usage

    def replace_message(self, message: Message) -> None:
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].id == message.id:
                self.messages[i] = message
                self._counted = set()
                self._usage = None
                return
        # one older than those read (its card scrolled back to): read again, as pinned
        # it is sent however old, and the older ones' figures change with it
        self.invalidate()

    # --- the preview ------------------------------------------------------------------
    def assemble(self, session: Session | None, selection: Selection, model: ModelInfo,
                 window: ResolvedWindow, profiles: Mapping[str, AllocationProfile],
                 draft: str, full: bool) -> Assembly:
        enc = model.encoding
        sid = session.id if session is not None else None
        if sid != self.session_id:
            self.session_id, self.messages, self.not_read, self._loaded = sid, [], None, False
        db = self.db
        summary = db.summaries.latest(sid) if (db and sid) else None
        messages = visible(self._all(enc, reach_of(selection, model, summary)))
        if db is None:
            memory: list[MemoryFact] = []
        else:
            memory = db.memory.list_for_session(sid) if sid else db.memory.list_global()
        ctx = build_context(session, selection, model=model, window=window, profiles=profiles,
                            messages=messages, memory=memory, summary=summary, draft=draft,
                            older=self.not_read if sid is not None else None)
        self._read([messages[i] for i in needed_texts(messages, ctx)])
        request = next_request(ctx)
        request.row_index()  # made here, off the GUI thread: the inspector's rows
        inclusion = InclusionMap.of(request)
        replies = [m.completion_tokens for m in messages[-20:]
                   if m.role == "assistant" and m.completion_tokens]
        usage = self._usage_rows(sid)
        result = Assembly(
            session_id=sid,
            context=ctx,
            request=request,
            live=LiveBudget(request, enc, draft),
            messages=messages,
            inclusion=inclusion,
            session_cost=sum(filter(None, (row[4] for row in usage))),
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
            result.replaced = self._replaced_by(summary, messages, enc)
            turns = db.usage.list_for_session(sid) if (db and sid) else []
            result.usage = usage_rows(usage, turns)
        return result

    def _replaced_by(self, summary: Summary | None, messages: list[Message], encoding: str
                     ) -> MessageRun | None:
        """The messages the stored summary stands for, in summary: from those read when
        they hold its whole range, else from the store."""
        if summary is None:
            return None
        ids = [m.id for m in messages]
        if summary.first_message_id in ids and summary.last_message_id in ids:
            first = ids.index(summary.first_message_id)
            last = ids.index(summary.last_message_id)
            return MessageRun.of(messages[first:last + 1], encoding)
        if self.db is None or summary.session_id is None:
            return None
        return self.db.messages.run_of(summary.session_id, summary.first_message_id,
                                       summary.last_message_id, encoding)


def needed_texts(messages: Sequence[Message], ctx: RequestContext) -> list[int]:
    """The indices of the messages whose text the assembly of `ctx` over `messages` may
    read: the pinned, the newest that could fit the window (core.assemble takes history
    from the newest back and stops at the first that does not fit; a message costs at
    least its framing and content count), and those the strategy would fold (after what
    the stored summary, or memory, already covers). The others need only their state."""
    model, strategy, enc = ctx.model, ctx.strategy, ctx.model.encoding
    framing = chat_framing(model)
    head = {r: framing.head(r, enc) for r in ROLES}
    n = len(messages)
    fold_from = n
    if strategy.summarizes:
        fold_from = 0
        if ctx.summary is not None:
            fold_from = _position(messages, ctx.summary.last_message_id) + 1
    if strategy.extracts:
        fold_from = min(fold_from, _position(messages, ctx.memory_through_id) + 1)
    room = max(model.context_window, 0)
    spent = 0
    out: list[int] = []
    for i in range(n - 1, -1, -1):
        m = messages[i]
        if m.excluded or not m.content:
            continue
        if m.pinned:
            out.append(i)
            continue
        if spent <= room:
            out.append(i)
            count = m.token_counts.get(enc)
            spent += (head.get(m.role) or 0) + (count or 0)
        elif i >= fold_from:
            out.append(i)
    out.reverse()
    return out


def _position(messages: Sequence[Message], message_id: int | None) -> int:
    """Index of the message with this id (searched from the newest), or -1."""
    if message_id is not None:
        for i in range(len(messages) - 1, -1, -1):
            if messages[i].id == message_id:
                return i
    return -1


CHECK_TAIL = 50  # a reply still streaming, or failed, sits at the end
TAIL = PAGE_SIZE  # messages read again after a turn


class InclusionMap(Mapping[int, tuple[str, str]]):
    """{message id: (state, reason)} over an assembled request's arrays, looked up by
    bisection when the ids ascend (as a session's do): no 300,000-entry dict of
    tuples is made for the few dozen messages the conversation shows. A message older
    than those read (services.reach) is not among them and fares as they all do
    (`request.older`): scrolled back to, its card still says why it is left out."""

    def __init__(self, ids: list[int], states: list[str], reasons: list[str],
                 older: Older | None = None) -> None:
        self._ids, self._states, self._reasons = ids, states, reasons
        self._older = older

    @staticmethod
    def of(request: AssembledRequest) -> Mapping[int, tuple[str, str]]:
        ids = request.message_ids
        if None not in ids and ids == sorted(ids):  # type: ignore[type-var]  # C speed
            return InclusionMap(ids, request.states, request.reasons,  # type: ignore[arg-type]
                                request.older)
        return {mid: (state, reason) for mid, state, reason in zip(
            ids, request.states, request.reasons, strict=True) if mid is not None}

    def _at(self, mid: object) -> int:
        if not isinstance(mid, int):
            return -1
        i = bisect_left(self._ids, mid)
        return i if i < len(self._ids) and self._ids[i] == mid else -1

    def _is_older(self, mid: object) -> bool:
        # the ids read are those of the newest messages and the older pinned ones: an
        # id below the newest read and not among them is one not read
        return (self._older is not None and isinstance(mid, int) and bool(self._ids)
                and mid < self._ids[-1])

    def __getitem__(self, mid: int) -> tuple[str, str]:
        i = self._at(mid)
        if i >= 0:
            return self._states[i], self._reasons[i]
        if self._is_older(mid):
            assert self._older is not None
            return self._older.state, self._older.reason
        raise KeyError(mid)

    def __contains__(self, mid: object) -> bool:
        return self._at(mid) >= 0 or self._is_older(mid)

    def of_message(self, m: Message) -> tuple[str, str] | None:
        """What becomes of `m`; one older than those read fares as they all do, unless
        the message itself says otherwise (excluded, failed, empty)."""
        if self._at(m.id) < 0 and self._is_older(m.id):
            own = left_out_by_itself(m)
            if own is not None:
                return "dropped", own
        return self.get(m.id) if m.id is not None else None

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


BIG_LOAD = 20_000  # messages: a load this large is kept out of the collector's scans


def _load_quietly(load: Callable[[], tuple[list[Message], Older | None]]
                  ) -> tuple[list[Message], Older | None]:
    """Run `load` with the cyclic garbage collector paused, then move what exists into
    its permanent generation when the result is large. A session of 300,000 messages is
    a million objects; every full collection scanned them all while holding the GIL,
    and the GUI thread stood still for as long (the messages hold no cycles: they are
    still freed, by reference counting, when the session closes). Most reads stop
    long before that (services.reach); one that must read all, does."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        loaded = load()
    finally:
        if enabled:
            gc.enable()
    if len(loaded[0]) >= BIG_LOAD:
        gc.freeze()
    return loaded


def usage_rows(messages: Sequence[tuple[int, str, int | None, int | None, float | None]],
               turns: list[TurnUsage]) -> list[dict[str, Any]]:
    """One row per reply for the usage chart, from the messages carrying usage (id,
    role, prompt tokens, completion tokens, cost): the request split by component when
    the turn's usage was recorded (the turn pipeline records it; else the prompt the
    server billed, as one figure), the reply's own tokens, the turn's cost, the prompt
    tokens the server billed and how many of them it read from its cache (None: it did
    not say)."""
    by_reply = {t.reply_message_id: t for t in turns if t.reply_message_id is not None}
    rows = []
    turn = 0
    for mid, role, prompt, completion, cost in messages:
        if role == "assistant" and (prompt or completion):
            turn += 1
            usage = by_reply.get(mid)
            parts = dict((usage is not None and usage.components)
                         or {"prompt": prompt or 0})
            parts["reply"] = completion or 0
            rows.append({"components": parts, "cost": cost or 0.0, "label": f"Turn {turn}",
                         "prompt": prompt or 0,
                         "cached": usage.cached_prompt_tokens if usage is not None else None})
    return rows
