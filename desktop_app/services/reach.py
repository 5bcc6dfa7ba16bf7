"""How far back a session's next request can reach, and reading only that far.

A request sends the history from the newest message back until the history's budget is
full, so no message further back than the model's whole window can be sent; the pinned
ones are, however old. A strategy that folds needs, as well, every message its summary
or memory does not cover yet. So a long session is read from its newest message back
only until all of that is in hand, plus its older pinned messages; everything older is
left out alike and known only in summary (`core.assemble.Older`, from the aggregates
kept on write). Opening a 300,000-message session reads a few thousand.

The window's preview and the turn read through here, so both assemble the same request
from the same messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from desktop_app.core.assemble import Older
from desktop_app.core.records import NOT_READ, ROLES
from desktop_app.core.tokens import chat_framing, count_text

if TYPE_CHECKING:
    from desktop_app.core.catalog import ModelInfo
    from desktop_app.core.history import HistoryStrategy
    from desktop_app.core.records import Message, Summary
    from desktop_app.store.database import Database

FIRST_READ = 1_024  # messages read at first; each further read takes twice as many
MOST_READ = 16_384
# Fewer messages than this are always read, all of them: a session of a few thousand
# reads in milliseconds, and its inspector lists every message left out one by one.
LEAST_READ = 2_000
HIDDEN = frozenset({"streaming"})  # services.request.HIDDEN_STATUSES (not imported: cycle)


@dataclass(frozen=True)
class Reach:
    """What a session's next request may need of its messages: all within `window`
    tokens of history from the newest back (costed as the request costs them: framing
    per role plus content), and, when the strategy folds, all after the message its
    summary (`summary_through`) or its memory (`memory_through`) covers up to (None:
    nothing is covered, so all); `spare` more messages beyond that (the fold measures
    what the summary and memory keep of the messages left out)."""

    window: int
    head: tuple[tuple[str, int], ...]
    summarizes: bool = False
    summary_through: int | None = None
    extracts: bool = False
    memory_through: int | None = None
    spare: int = 0

    @staticmethod
    def of(model: ModelInfo, strategy: HistoryStrategy, summary: Summary | None,
           memory_through: int | None, spare: int = 0) -> Reach:
        framing, enc = chat_framing(model), model.encoding
        return Reach(
            window=max(model.context_window, 0),
            head=tuple((r, framing.head(r, enc)) for r in ROLES),
            summarizes=strategy.summarizes,
            summary_through=summary.last_message_id if summary is not None else None,
            extracts=strategy.extracts,
            memory_through=memory_through,
            spare=spare)

    def covers(self, other: Reach) -> bool:
        """Does what was read for this reach hold all `other` needs? (A read for a
        summarizing strategy stops at the summary, short of the window's worth a
        strategy that does not summarize needs.)"""
        return (self.head == other.head and self.window >= other.window
                and self.spare >= other.spare
                and (self.summary_through, self.memory_through)
                == (other.summary_through, other.memory_through)
                and self.summarizes == other.summarizes
                and (self.extracts or not other.extracts))


@dataclass
class _Walk:
    """The reader's progress from the newest message back."""

    reach: Reach
    spent: int = 0  # tokens of the messages the history could take, so far
    past: int = -1  # messages read since the window was full (-1: not yet full)
    seen_summary: bool = False
    seen_memory: bool = False
    taken: int = 0  # messages read

    def step(self, m: Message, encoding: str, head: dict[str, int]) -> bool:
        """Take `m` (the next older message); True once nothing older is needed."""
        r = self.reach
        self.taken += 1
        if m.id is not None:
            self.seen_summary = self.seen_summary or m.id == r.summary_through
            self.seen_memory = self.seen_memory or m.id == r.memory_through
        if self.past >= 0:
            self.past += 1
        elif (m.status not in HIDDEN and not (m.pinned or m.excluded) and m.content):
            self.spent += head.get(m.role, 0) + (m.token_counts.get(encoding) or 0)
            if self.spent > r.window:
                self.past = 0
        if self.past < 0 and r.summarizes and self.seen_summary:
            self.past = 0  # the summary covers what is older: nothing more can be sent
        return (self.past >= r.spare and self.taken >= LEAST_READ
                and (not r.summarizes or self.seen_summary)
                and (not r.extracts or self.seen_memory))


def read_reach(db: Database, session_id: int, encoding: str, reach: Reach
               ) -> tuple[list[Message], Older | None]:
    """The session's messages `reach` may need, oldest first and read light (see
    MessageStore.light_for_session; those without a count under `encoding` are read and
    counted, and the counts stored), hidden ones left out; and the older ones in
    summary (None when all were read)."""
    store = db.messages
    head = dict(reach.head)
    walk = _Walk(reach)
    newest_first: list[Message] = []
    before: int | None = None
    size = FIRST_READ
    done = False
    while not done:
        rows = store.light_newest(session_id, encoding, before, size)
        _count_missing(db, rows, encoding)
        for m in rows:
            newest_first.append(m)
            if walk.step(m, encoding, head):
                done = True
                break
        if len(rows) < size:  # the session's start
            break
        before = rows[-1].position
        size = min(size * 2, MOST_READ)
    newest_first.reverse()
    read = newest_first
    older = None
    if done:  # stopped before the session's start: its older pinned ones, and the rest
        first = read[0].position if read else None
        pinned = ([] if first is None
                  else store.light_pinned_before(session_id, encoding, first))
        _count_missing(db, pinned, encoding)
        read = pinned + read
        older = _older(db, session_id, encoding, read)
    return [m for m in read if m.status not in HIDDEN], older


def _older(db: Database, session_id: int, encoding: str, read: list[Message]
           ) -> Older | None:
    """The messages not read, in summary: the session's totals less what was read."""
    count, tokens, _counted = db.messages.totals(session_id, encoding)
    left = count - len(read)
    if left <= 0:
        return None
    mine = sum(m.token_counts.get(encoding) or 0 for m in read)
    return Older(left, max(tokens - mine, 0))


def count_missing(messages: Iterable[Message], encoding: str) -> dict[int, dict[str, int]]:
    """Count the messages with no cached count for `encoding` (each text is counted
    once, ever): the counts go into the message records, which are the store's cache,
    and are returned by message id so the caller can store them."""
    new: dict[int, dict[str, int]] = {}
    for m in messages:
        if encoding not in m.token_counts:
            m.token_counts[encoding] = count_text(m.content, encoding)
            if m.id is not None:
                new[m.id] = {encoding: m.token_counts[encoding]}
    return new


def _count_missing(db: Database, messages: list[Message], encoding: str) -> None:
    """Count, under `encoding`, those of `messages` without a count (reading their text
    when it was not read), and store the counts."""
    missing = [m for m in messages if encoding not in m.token_counts
               and m.status not in HIDDEN]
    if not missing:
        return
    unread = [m for m in missing if m.content is NOT_READ and m.id is not None]
    if unread:
        texts = db.messages.contents([m.id for m in unread])  # type: ignore[misc]
        for m in unread:
            m.content = texts.get(m.id, "")  # type: ignore[arg-type]
    new = count_missing(missing, encoding)
    if new:
        db.messages.save_token_counts_many(new)
