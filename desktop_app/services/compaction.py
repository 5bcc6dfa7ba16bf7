"""Compact now: fold a session's older history into its rolling summary on request, with
an optional focus ("keep every decision about the budget"). The model writes the
summary when there is one, else the offline extractive summarizer does. The window
(on a worker, through the controller) and `token-budget compact` both call
`compact_now`; the result says what was folded and what the next request gained.

The newest messages stay as they are (`keep`); pinned and excluded messages keep their
state (a pinned message is still sent, an excluded one still left out). A strategy
that does not send a summary is switched to one that does, or the summary would not
count: token window, full and last N to the rolling summary, key-value memory to
hybrid (summary, memory and window)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from math import ceil
from typing import TYPE_CHECKING

from desktop_app.core.assemble import SUMMARY_HEADER
from desktop_app.core.budget import Component
from desktop_app.core.history import STRATEGY_LABELS, HistoryStrategy
from desktop_app.core.records import Message, Summary
from desktop_app.core.text import format_tokens
from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.services.folding import helper_input_budget
from desktop_app.services.request import load_context, next_request

if TYPE_CHECKING:
    from collections.abc import Sequence

    from desktop_app.core.cancel import CancelToken
    from desktop_app.core.records import MemoryFact
    from desktop_app.llm.client import ChatClient
    from desktop_app.services.request import ResolveModel
    from desktop_app.store.database import Database

KEEP_RECENT = 4  # the newest messages stay in the history as they are (two exchanges)
COMPACT_RATIO = 0.25  # the summary aims at a quarter of what it replaces...
MIN_SUMMARY_TOKENS = 64  # ...but no less than this, and never more than its share
# the strategy that sends a summary, for one that does not
SUMMARIZING_INSTEAD = {"kv_memory": "hybrid"}
DEFAULT_SUMMARIZING = "rolling_summary"


@dataclass(frozen=True)
class Compaction:
    """What Compact now did: the messages it folded, the summary it stored, and the next
    request's parts before and after (tokens, framing included, as the gauge has them)."""

    session_id: int
    folded: tuple[Message, ...] = ()
    summary: Summary | None = None
    focus: str = ""
    before: dict[str, int] = field(default_factory=dict)  # component -> tokens
    after: dict[str, int] = field(default_factory=dict)
    tokens_before: int = 0  # the whole next request
    tokens_after: int = 0
    strategy_before: str = ""
    strategy: str = ""  # after: another one when the old one sent no summary
    notices: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        return self.summary is not None

    @property
    def freed(self) -> int:
        """Tokens the next request no longer carries (negative: it grew)."""
        return self.tokens_before - self.tokens_after

    def change(self, component: str) -> tuple[int, int]:
        return self.before.get(component, 0), self.after.get(component, 0)

    def describe(self) -> str:
        """One line for a person: what was folded, by what, and what it freed."""
        if not self.done:
            return self.notices[0] if self.notices else "Nothing to compact."
        assert self.summary is not None
        n = len(self.folded)
        by = (f"by {self.summary.model or 'the model'}" if self.summary.method == "model"
              else "offline, extractive")
        h0, h1 = self.change(Component.HISTORY)
        s0, s1 = self.change(Component.SUMMARY)
        freed = self.freed
        gain = (f"{format_tokens(freed)} tokens freed" if freed >= 0
                else f"{format_tokens(-freed)} tokens more")
        line = (f"Compacted {n} message{'s' * (n != 1)} into the summary ({by}): history "
                f"{format_tokens(h0)} → {format_tokens(h1)} tokens, summary "
                f"{format_tokens(s0)} → {format_tokens(s1)}; {gain} in the next request.")
        if self.strategy != self.strategy_before:
            line += f" History strategy now {STRATEGY_LABELS.get(self.strategy, self.strategy)}."
        return line


def summarizing_strategy(kind: str) -> str:
    """`kind` if it sends the rolling summary, else the strategy that does in its place."""
    if HistoryStrategy(kind).summarizes:
        return kind
    return SUMMARIZING_INSTEAD.get(kind, DEFAULT_SUMMARIZING)


EVERY_MESSAGE = 1 << 62  # as a `spare` count: read the session whole


def compact_now(db: Database, session_id: int, resolve: ResolveModel,
                client: ChatClient | None = None, *, focus: str = "", keep: int = KEEP_RECENT,
                cancel: CancelToken | None = None) -> Compaction:
    """Fold the session's history older than its `keep` newest messages (and not yet in
    the summary) into the stored rolling summary."""
    from desktop_app.llm.summarizer import ModelSummarizer

    focus = focus.strip()
    keep = max(0, keep)
    # all of it: what is compacted is the whole history older than the newest `keep`,
    # not only what the next request can reach (an explicit act, on a worker)
    ctx = load_context(db, session_id, "", resolve, spare=EVERY_MESSAGE)
    before = next_request(ctx)
    session = ctx.session
    assert session is not None
    kind = session.strategy
    base = Compaction(session_id, focus=focus, before=dict(before.component_tokens),
                      tokens_before=before.tokens, strategy_before=kind, strategy=kind)
    messages = list(ctx.messages)
    previous = ctx.summary
    start = 0
    if previous is not None and previous.last_message_id is not None:
        start = next((i + 1 for i, m in enumerate(messages)
                      if m.id == previous.last_message_id), 0)
    older = messages[start: max(start, len(messages) - keep)]
    material = [m for m in older if m.content and not (m.pinned or m.excluded)]
    if not material:
        why = (f"Nothing to compact: no message older than the newest {keep} is left out of "
               "the summary." if messages else "Nothing to compact: the session is empty.")
        return replace(base, notices=(why,), after=base.before, tokens_after=before.tokens)

    model, enc = ctx.model, ctx.model.encoding
    overhead = chat_framing(model).head("system", enc) + count_text(SUMMARY_HEADER, enc)
    share = max(before.plan.budgets[Component.SUMMARY] - overhead, 0)
    prior = previous.text if previous is not None else ""
    replaced = count_text(prior, enc) + sum(
        m.token_counts.get(enc) or count_text(m.content, enc) for m in material)
    target = min(share, max(MIN_SUMMARY_TOKENS, ceil(replaced * COMPACT_RATIO)))
    if target <= 0:
        return replace(base, after=base.before, tokens_after=before.tokens, notices=(
            f"Nothing compacted: the {ctx.profile.name} profile gives the summary no room.",))

    summarizer = ModelSummarizer(client, model.name, input_budget=helper_input_budget(ctx),
                                 cancel=cancel, focus=focus)
    result = summarizer.run(prior, material, target, enc)
    notices = [f"summary: {result.warning}"] if result.warning else []
    if not result.text.strip():
        return replace(base, after=base.before, tokens_after=before.tokens,
                        notices=("Nothing compacted: the summary came out empty.", *notices))
    first = previous.first_message_id if previous is not None else None
    summary = Summary(
        text=result.text,
        first_message_id=first if first is not None else material[0].id,
        last_message_id=older[-1].id,
        method=result.method,
        model=result.model if result.method == "model" else None,
        tokens=result.tokens,
        retention=_retention(ctx.memory, result.text, messages[len(messages) - keep:]
                             if keep else []),
        session_id=session_id,
    )
    stored = db.summaries.add(summary)
    strategy = summarizing_strategy(kind)
    if strategy != kind:
        db.sessions.change(session_id, strategy=strategy)
    after = next_request(load_context(db, session_id, "", resolve))
    return replace(base, folded=tuple(material), summary=stored, strategy=strategy,
                    after=dict(after.component_tokens), tokens_after=after.tokens,
                    notices=tuple(notices))


def _retention(memory: Sequence[MemoryFact], summary: str,
               kept: Sequence[Message]) -> float | None:
    """How much of the session's key facts the summary and the kept messages still
    carry (None without facts to measure with)."""
    facts = {f.key: f.value for f in memory}
    if not facts:
        return None
    from desktop_app.core.metrics import information_retention

    context = "\n".join([summary, *(m.content for m in kept)])
    return information_retention(facts, context).ratio
