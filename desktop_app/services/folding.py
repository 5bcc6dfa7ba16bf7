"""Bringing the stored summary and memory up to date after a reply. This runs in the
background once a turn has finished (never between Send and the request), through the
model when there is one and with the offline methods otherwise; the next preview shows
what it stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core.records import MemoryFact, Summary
from desktop_app.services.request import (
    MEMORY_THROUGH,
    RequestContext,
    ResolveModel,
    load_context,
    resolve_strategy,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from desktop_app.core.assemble import AssembledRequest
    from desktop_app.core.cancel import CancelToken
    from desktop_app.core.records import Message
    from desktop_app.llm.client import ChatClient
    from desktop_app.store.database import Database

log = logging.getLogger(__name__)
HELPER_INPUT_BUDGET = 6000  # tokens of prompt per summarizer or extractor call, at most
RETENTION = "retention"  # strategy setting: what the summary and memory keep, measured
RETENTION_MESSAGES = 2000  # retention is measured over at most this many recent messages


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

    session = db.sessions.get(session_id)
    strategy = resolve_strategy(session.strategy, session.strategy_settings)
    if not (strategy.summarizes or strategy.extracts):
        return FoldResult()  # nothing to fold: no session read back after every reply
    # the retention figure is measured over the newest messages left out
    ctx = load_context(db, session_id, "", resolve, spare=RETENTION_MESSAGES)
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
    measured = measure_retention(ctx.messages, folded)
    if folded.new_summary is not None and ctx.session is not None:
        summary = folded.new_summary
        summary.session_id = session_id
        label = summarizer.last_result
        if label is not None:
            summary.method, summary.model = label.method, label.model
            if label.warning:
                notices.append(f"summary: {label.warning}")
        if "summary" in measured:
            summary.retention = measured["summary"]["ratio"]
        stored = db.summaries.add(summary)
    through = None
    if due.due_for_memory:
        through = due.due_for_memory[-1].id
        db.sessions.set_strategy_setting(session_id, MEMORY_THROUGH, through)
    fact_label = extractor.last_result
    for key, value in folded.new_memory.items():
        # who found it: the model, the offline check of the model's facts, or the offline
        # extractor (MemoryFact.origin)
        origin = fact_label.origin_of(key) if fact_label is not None else "offline"
        db.memory.upsert(MemoryFact(key=key, value=value, session_id=session_id,
                                    source_message_id=folded.new_memory_sources.get(key),
                                    origin=origin))
    if fact_label is not None and fact_label.warning:
        notices.append(f"memory: {fact_label.warning}")
    if measured:
        db.sessions.set_strategy_setting(session_id, RETENTION, measured)
        notices.extend(_low_retention(measured))
    return FoldResult(stored, dict(folded.new_memory), through, tuple(notices))


def retention_of(session: Any) -> dict[str, dict[str, Any]]:
    """What the last fold measured for `session` (a Session, or None): {} when nothing."""
    settings = getattr(session, "strategy_settings", None) or {}
    kept = settings.get(RETENTION)
    return kept if isinstance(kept, dict) else {}


def measure_retention(messages: Sequence[Message], request: AssembledRequest
                      ) -> dict[str, dict[str, Any]]:
    """What the request's summary and memory keep of the facts found (offline) in the
    messages it leaves out: {"summary": {...}, "memory": {...}} with kept, total, the
    ratio and the first facts lost."""
    from desktop_app.core.facts import facts_of, retention_of

    out_ids = {i for i, state in zip(request.message_ids, request.states, strict=True)
               if state in ("summarized", "folding", "dropped") and i is not None}
    left_out = [m for m in messages if m.id in out_ids][-RETENTION_MESSAGES:]
    if not left_out:
        return {}
    facts = facts_of(left_out)
    measured: dict[str, dict[str, Any]] = {}
    for component, kind in (("summary", "summary"), ("memory", "memory")):
        text = "\n".join(m["content"] for c, m, _ in request.sections if c == component)
        if text:
            r = retention_of(facts, text)
            measured[kind] = {**r.to_dict(), "ratio": r.ratio, "messages": len(left_out)}
    return measured


def _low_retention(measured: dict[str, dict[str, Any]]) -> list[str]:
    from desktop_app.core.facts import RETENTION_WARNING

    return [f"{kind}: kept only {m['kept']} of {m['total']} facts from the messages left out;"
            f" give the {kind} a larger share to keep more"
            for kind, m in measured.items() if m["total"] and m["ratio"] < RETENTION_WARNING]
