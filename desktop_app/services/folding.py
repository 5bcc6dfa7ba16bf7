"""Bringing the stored summary and memory up to date after a reply. This runs in the
background once a turn has finished (never between Send and the request), through the
model when there is one and with the offline methods otherwise; the next preview shows
what it stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core.records import MemoryFact, Summary
from desktop_app.services.request import MEMORY_THROUGH, RequestContext, ResolveModel, load_context

if TYPE_CHECKING:
    from desktop_app.core.cancel import CancelToken
    from desktop_app.llm.client import ChatClient
    from desktop_app.store.database import Database

log = logging.getLogger(__name__)
HELPER_INPUT_BUDGET = 6000  # tokens of prompt per summarizer or extractor call, at most


@dataclass(frozen=True)
class FoldResult:
    summary: Summary | None = None  # the summary stored, if one was
    facts: dict[str, str] = field(default_factory=dict)  # facts stored
    memory_through_id: int | None = None  # how far facts have now been taken
    notices: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.summary or self.facts or self.memory_through_id)


def helper_input_budget(ctx: RequestContext) -> int:
    """A summarizer's or extractor's request must fit the same window the turn does."""
    return max(256, min(HELPER_INPUT_BUDGET, ctx.model.context_window // 2))


def fold_after_reply(db: Database, session_id: int, resolve: ResolveModel,
                     client: ChatClient | None = None,
                     cancel: CancelToken | None = None) -> FoldResult:
    """Fold what the next request will leave out into the stored summary and memory."""
    from desktop_app.core.assemble import assemble
    from desktop_app.llm.memory_extractor import ModelFactExtractor
    from desktop_app.llm.summarizer import ModelSummarizer

    ctx = load_context(db, session_id, "", resolve)
    due = assemble(ctx.assembly_input())
    if not (due.due_for_summary or due.due_for_memory):
        return FoldResult()
    name, budget = ctx.model.name, helper_input_budget(ctx)
    summarizer = ModelSummarizer(client, name, cancel=cancel, input_budget=budget)
    extractor = ModelFactExtractor(client, name, cancel=cancel, input_budget=budget,
                                   encoding=ctx.model.encoding)
    folded = assemble(ctx.assembly_input(),
                      summarizer=summarizer if due.due_for_summary else None,
                      extractor=extractor if due.due_for_memory else None)
    notices: list[str] = []
    stored: Summary | None = None
    if folded.new_summary is not None and ctx.session is not None:
        summary = folded.new_summary
        summary.session_id = session_id
        label = summarizer.last_result
        if label is not None:
            summary.method, summary.model = label.method, label.model
            if label.warning:
                notices.append(f"summary: {label.warning}")
        summary.retention = _retention(ctx, folded.messages)
        stored = db.summaries.add(summary)
    through = None
    if due.due_for_memory:
        through = due.due_for_memory[-1].id
        db.sessions.set_strategy_setting(session_id, MEMORY_THROUGH, through)
    for key, value in folded.new_memory.items():
        db.memory.upsert(MemoryFact(key=key, value=value, session_id=session_id))
    fact_label = extractor.last_result
    if fact_label is not None and fact_label.warning:
        notices.append(f"memory: {fact_label.warning}")
    return FoldResult(stored, dict(folded.new_memory), through, tuple(notices))


def _retention(ctx: RequestContext, messages: list[dict[str, Any]]) -> float | None:
    if not ctx.memory:
        return None
    from desktop_app.core.metrics import information_retention

    context = "\n".join(str(m.get("content", "")) for m in messages)
    return information_retention({f.key: f.value for f in ctx.memory}, context).ratio
