"""Builds the exact request for a turn under a session's allocation profile and history
strategy, and says for every earlier message whether it was kept, summarized, dropped
or pinned, and why.

The one rule that never bends: the request plus the reply reserve fits the model's
window. When even the minimum (system prompt, pinned messages, the new input) cannot
fit, the result says so (fits=False, problem=...) and carries nothing to send; nothing
is cut silently."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from desktop_app.core.budget import (
    AllocationProfile,
    BudgetPlan,
    BudgetReport,
    elastic_history_budget,
    make_report,
    plan_budget,
)
from desktop_app.core.catalog import ModelInfo
from desktop_app.core.history import FactExtractor, HistoryStrategy, Summarizer
from desktop_app.core.records import MemoryFact, Message, Summary
from desktop_app.core.tokens import REPLY_PRIMING, count_text, message_tokens

INCLUSION_STATES = ("kept", "summarized", "dropped", "pinned")
MEMORY_HEADER = "Known facts about this conversation:\n"
SUMMARY_HEADER = "Summary of the earlier conversation:\n"

# Reasons are shared strings so that a 10,000-message map costs references, not copies.
R_KEPT = "in the history window"
R_PINNED = "pinned: always sent"
R_EXCLUDED = "excluded by you"
R_FAILED = "failed reply: not sent"
R_EMPTY = "empty message: not sent"
R_COVERED = "replaced by the rolling summary"
R_LAST_N = "older than the last {n} messages"
R_OVER = "outside the history budget ({budget:,} tokens)"
R_FOLD_PENDING = "outside the history budget: to be folded into the summary before sending"
R_FOLDED = "outside the history budget: folded into the summary"
R_MEMORY = "outside the history budget: its facts are kept in key-value memory"


class Inclusion(NamedTuple):
    index: int
    message_id: int | None
    state: str
    reason: str


@dataclass
class AssemblyInput:
    system_prompt: str
    messages: list[Message]
    draft: str
    model: ModelInfo
    profile: AllocationProfile
    strategy: HistoryStrategy = field(default_factory=HistoryStrategy)
    examples: list[dict[str, Any]] = field(default_factory=list)
    memory: list[MemoryFact] = field(default_factory=list)
    summary: Summary | None = None
    elastic: bool = False
    # facts were already extracted from the messages up to this id (kv_memory, hybrid)
    memory_through_id: int | None = None


@dataclass
class AssembledRequest:
    messages: list[dict[str, Any]]
    tokens: int
    exact: bool
    max_tokens: int
    report: BudgetReport
    states: list[str]  # per input message, one of INCLUSION_STATES
    reasons: list[str]
    message_ids: list[int | None]
    fits: bool = True
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    due_for_summary: list[Message] = field(default_factory=list)
    due_for_memory: list[Message] = field(default_factory=list)
    component_tokens: dict[str, int] = field(default_factory=dict)
    sections: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    new_summary: Summary | None = None
    new_memory: dict[str, str] = field(default_factory=dict)

    @property
    def inclusion(self) -> list[Inclusion]:
        return [
            Inclusion(i, mid, s, r)
            for i, (mid, s, r) in enumerate(zip(self.message_ids, self.states, self.reasons))
        ]

    @property
    def plan(self) -> BudgetPlan:
        return self.report.plan

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "tokens": self.tokens,
            "exact": self.exact,
            "max_tokens": self.max_tokens,
            "fits": self.fits,
            "problem": self.problem,
            "warnings": self.warnings,
            "report": self.report.to_dict(),
            "inclusion": [
                {"index": i.index, "id": i.message_id, "state": i.state, "reason": i.reason}
                for i in self.inclusion
            ],
        }


class _Costs:
    """Chat-format cost of a message from cached content counts: framing + role + content
    (+ name). Counts are stored on the message so no text is counted twice."""

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        self.enc = model.encoding
        self.exact = model.exact
        self._role: dict[str, int] = {}

    def role_costs(self) -> dict[str, int]:
        for role in ("user", "assistant", "system", "tool"):
            if role not in self._role:
                self._role[role] = count_text(role, self.enc)
        return self._role

    def message(self, m: Message) -> int:
        n = m.token_counts.get(self.enc)
        if n is None:
            n = count_text(m.content, self.enc)
            m.token_counts[self.enc] = n
        role = self._role.get(m.role)
        if role is None:
            role = self._role[m.role] = count_text(m.role, self.enc)
        cost = 3 + role + n
        if m.name:
            cost += count_text(m.name, self.enc) + 1
        return cost

    def chat(self, msg: dict[str, Any]) -> int:
        n, ok = message_tokens(msg, self.model)
        self.exact = self.exact and ok
        return n


def _index_of(msgs: Sequence[Message], message_id: int | None) -> int:
    """Index of the message with this id (searched from the newest), or -1."""
    if message_id is None:
        return -1
    for i in range(len(msgs) - 1, -1, -1):
        if msgs[i].id == message_id:
            return i
    return -1


def _memory_message(memory: Sequence[MemoryFact]) -> dict[str, Any] | None:
    if not memory:
        return None
    return {"role": "system", "content": MEMORY_HEADER + "\n".join(f.line() for f in memory)}


def _summary_message(text: str) -> dict[str, Any] | None:
    return {"role": "system", "content": SUMMARY_HEADER + text} if text else None


def assemble(
    inp: AssemblyInput,
    summarizer: Summarizer | None = None,
    extractor: FactExtractor | None = None,
) -> AssembledRequest:
    model = inp.model
    plan = plan_budget(model.context_window, inp.profile, model.max_output, inp.elastic)
    limit = plan.prompt_limit
    costs = _Costs(model)
    warnings: list[str] = []
    if model.warning:
        warnings.append(model.warning)

    # --- the fixed parts: never dropped --------------------------------------------
    system_msg = {"role": "system", "content": inp.system_prompt} if inp.system_prompt else None
    input_msg = {"role": "user", "content": inp.draft} if inp.draft else None
    system_cost = costs.chat(system_msg) if system_msg else 0
    input_cost = costs.chat(input_msg) if input_msg else 0

    # --- walk the history once: states, pinned, candidates -------------------------
    msgs = inp.messages
    n = len(msgs)
    states: list[str] = ["dropped"] * n
    reasons: list[str] = [R_OVER] * n
    covered_upto = -1
    if inp.strategy.summarizes and inp.summary is not None:
        covered_upto = _index_of(msgs, inp.summary.last_message_id)
    pinned_cost = 0
    candidates: list[int] = []
    cost_of: dict[int, int] = {}  # each message's cost, computed once per assembly
    for i, m in enumerate(msgs):
        if not (m.pinned or m.excluded) and m.content and i > covered_upto:
            candidates.append(i)  # the common case first: a long session's hot loop
        elif m.pinned and not m.excluded:
            states[i], reasons[i] = "pinned", R_PINNED
            cost_of[i] = c = costs.message(m)
            pinned_cost += c
        elif m.excluded:
            reasons[i] = R_EXCLUDED
        elif m.status == "error" and not m.content:
            reasons[i] = R_FAILED
        elif not m.content:
            reasons[i] = R_EMPTY
        else:  # older than what the rolling summary covers
            states[i], reasons[i] = "summarized", R_COVERED

    fixed = REPLY_PRIMING + system_cost + input_cost + pinned_cost
    if fixed > limit:
        return _does_not_fit(inp, plan, costs, states, reasons, system_cost, input_cost,
                             pinned_cost, warnings)

    # --- optional parts: examples, memory, summary (trimmed only to fit the window) --
    examples = [dict(e) for e in inp.examples if e.get("content")]
    example_costs = [costs.chat(e) for e in examples]
    memory = list(inp.memory)
    summary_text = inp.summary.text if (inp.summary and inp.strategy.summarizes) else ""
    # memory is sent whenever there is any (every strategy may use facts the user keeps)
    memory_msg = _memory_message(memory)
    memory_cost = costs.chat(memory_msg) if memory_msg else 0
    summary_msg = _summary_message(summary_text)
    summary_cost = costs.chat(summary_msg) if summary_msg else 0
    # room to hold back for a summary or memory that this turn may grow
    summary_room = max(summary_cost, plan.budgets["summary"]) if inp.strategy.summarizes else summary_cost
    memory_room = max(memory_cost, plan.budgets["memory"]) if inp.strategy.extracts else memory_cost

    def optional_total() -> int:
        return sum(example_costs) + memory_room + summary_room

    while fixed + optional_total() > limit and examples:
        examples.pop()
        dropped_cost = example_costs.pop()
        warnings.append(f"an example was left out to fit the window ({dropped_cost} tokens)")
    while fixed + optional_total() > limit and any(not f.pinned for f in memory):
        idx = max(i for i, f in enumerate(memory) if not f.pinned)
        fact = memory.pop(idx)
        warnings.append(f"memory fact {fact.key!r} was left out to fit the window")
        memory_msg = _memory_message(memory)
        memory_cost = costs.chat(memory_msg) if memory_msg else 0
        memory_room = memory_cost
    if fixed + optional_total() > limit and (summary_room or memory_room):
        # the reserved growth room goes first, then the summary itself
        summary_room, memory_room = summary_cost, memory_cost
        if fixed + optional_total() > limit and summary_msg:
            warnings.append("the rolling summary was left out to fit the window")
            summary_msg, summary_cost, summary_room, summary_text = None, 0, 0, ""
    if fixed + optional_total() > limit:
        return _does_not_fit(inp, plan, costs, states, reasons, system_cost, input_cost,
                             pinned_cost, warnings, memory_cost=memory_cost)

    # --- history under the strategy ------------------------------------------------
    used_now = {
        "system_prompt": system_cost,
        "examples": sum(example_costs),
        "memory": memory_room,
        "summary": summary_room,
        "current_input": input_cost,
    }
    share, _lent = elastic_history_budget(plan, used_now)
    room = limit - fixed - optional_total()
    kind = inp.strategy.kind
    if kind in ("full", "last_n"):
        history_budget = room + pinned_cost  # count-based: bounded by the window only
    else:
        history_budget = min(share, room + pinned_cost)
    budget_left = history_budget - pinned_cost
    taken: list[int] = []
    stop_reason = R_OVER.format(budget=max(0, history_budget))
    max_taken = inp.strategy.last_n if kind == "last_n" else len(candidates)
    enc, role_cost = costs.enc, costs.role_costs()
    for i in reversed(candidates):  # newest first; the hot loop of a long session
        if len(taken) >= max_taken:
            stop_reason = R_LAST_N.format(n=inp.strategy.last_n)
            break
        m = msgs[i]
        n = m.token_counts.get(enc)
        if n is None or m.name or m.role not in role_cost:
            c = costs.message(m)
        else:
            c = 3 + role_cost[m.role] + n
        if c > budget_left:
            break
        cost_of[i] = c
        budget_left -= c
        taken.append(i)
    history_cost = history_budget - budget_left
    for i in taken:
        states[i], reasons[i] = "kept", R_KEPT
    evicted = candidates[: len(candidates) - len(taken)]

    due_summary: list[Message] = []
    due_memory: list[Message] = []
    new_summary: Summary | None = None
    new_memory: dict[str, str] = {}
    evicted_reason = stop_reason
    if evicted and inp.strategy.summarizes:
        due_summary = [msgs[i] for i in evicted]
        evicted_reason = R_FOLD_PENDING
        if summarizer is not None:
            budget = max(summary_room - 3 - count_text(SUMMARY_HEADER + "system", model.encoding), 0)
            folded = summarizer.summarize(summary_text, due_summary, budget, model.encoding)
            summary_msg = _summary_message(folded)
            summary_cost = costs.chat(summary_msg) if summary_msg else 0
            while summary_cost > summary_room and folded:  # a summarizer that overshoots
                folded = folded.rsplit("\n", 1)[0] if "\n" in folded else ""
                summary_msg = _summary_message(folded)
                summary_cost = costs.chat(summary_msg) if summary_msg else 0
            summary_text = folded
            new_summary = Summary(
                text=folded,
                first_message_id=(inp.summary and inp.summary.first_message_id) or due_summary[0].id,
                last_message_id=due_summary[-1].id,
                method=getattr(summarizer, "method", "model"),
                tokens=count_text(folded, model.encoding),
            )
            evicted_reason = R_FOLDED
            due_summary = []
    if evicted and inp.strategy.extracts:
        done_upto = _index_of(msgs, inp.memory_through_id)
        due_memory = [msgs[i] for i in evicted if i > done_upto]
        if not inp.strategy.summarizes:
            evicted_reason = R_MEMORY
        if extractor is not None and due_memory:
            existing = {f.key: f.value for f in memory}
            found = extractor.extract(due_memory, existing)
            pinned_keys = {f.key for f in memory if f.pinned}
            new_memory = {k: v for k, v in found.items() if k not in pinned_keys}
            if new_memory:
                merged = {f.key: f for f in memory}
                for k, v in new_memory.items():
                    merged[k] = MemoryFact(key=k, value=v, session_id=None)
                candidate = list(merged.values())
                cand_msg = _memory_message(candidate)
                cand_cost = costs.chat(cand_msg) if cand_msg else 0
                if cand_cost <= memory_room:
                    memory, memory_msg, memory_cost = candidate, cand_msg, cand_cost
                else:
                    warnings.append("new memory facts did not fit the memory budget; stored, not sent")
            due_memory = []
    evicted_state = "summarized" if (inp.strategy.summarizes or inp.strategy.extracts) else "dropped"
    for i in evicted:
        states[i] = evicted_state
        reasons[i] = evicted_reason

    # --- the request, in order -----------------------------------------------------
    sections: list[tuple[str, dict[str, Any], int]] = []
    if system_msg:
        sections.append(("system_prompt", system_msg, system_cost))
    for e, c in zip(examples, example_costs):
        sections.append(("examples", e, c))
    if memory_msg:
        sections.append(("memory", memory_msg, memory_cost))
    if summary_msg:
        sections.append(("summary", summary_msg, summary_cost))
    for i in sorted(cost_of):  # exactly the pinned and kept messages
        m = msgs[i]
        chat = {"role": m.role, "content": m.content}
        if m.name:
            chat["name"] = m.name
        sections.append(("history", chat, cost_of[i]))
    if input_msg:
        sections.append(("current_input", input_msg, input_cost))

    used = {
        "system_prompt": system_cost,
        "examples": sum(example_costs),
        "memory": memory_cost,
        "summary": summary_cost,
        "history": history_cost,
        "current_input": input_cost,
    }
    tokens = REPLY_PRIMING + sum(used.values())
    report = make_report(plan, used, costs.exact, tokens, REPLY_PRIMING)
    for comp in report.over_components:
        # full and last-N histories are bounded by the window, not the share: no nagging
        if comp != "reply_reserve" and not (comp == "history" and kind in ("full", "last_n")):
            r = report.components[comp]
            warnings.append(f"{comp.replace('_', ' ')} uses {r.used:,} tokens, over its share of {r.budget:,}")
    return AssembledRequest(
        messages=[s[1] for s in sections],
        tokens=tokens,
        exact=costs.exact,
        max_tokens=plan.reply_reserve,
        report=report,
        states=states,
        reasons=reasons,
        message_ids=[m.id for m in msgs],
        warnings=warnings,
        due_for_summary=due_summary,
        due_for_memory=due_memory,
        component_tokens=used,
        sections=sections,
        new_summary=new_summary,
        new_memory=new_memory,
    )


def _does_not_fit(
    inp: AssemblyInput,
    plan: BudgetPlan,
    costs: _Costs,
    states: list[str],
    reasons: list[str],
    system_cost: int,
    input_cost: int,
    pinned_cost: int,
    warnings: list[str],
    memory_cost: int = 0,
) -> AssembledRequest:
    need = REPLY_PRIMING + system_cost + input_cost + pinned_cost + memory_cost
    parts = [f"the system prompt ({system_cost:,})"] if system_cost else []
    if input_cost:
        parts.append(f"your message ({input_cost:,})")
    if pinned_cost:
        parts.append(f"pinned messages ({pinned_cost:,})")
    if memory_cost:
        parts.append(f"pinned memory ({memory_cost:,})")
    problem = (
        f"Does not fit: {', '.join(parts) or 'the request'} need {need:,} tokens, but "
        f"{inp.model.name}'s window of {plan.window:,} leaves {plan.prompt_limit:,} after the "
        f"reply reserve of {plan.reply_reserve:,}. Shorten the message, unpin messages, or "
        f"choose a model with a larger window."
    )
    for i, s in enumerate(states):
        if s != "pinned" and reasons[i] in (R_OVER,):
            reasons[i] = "not sent: the request does not fit"
    used = {
        "system_prompt": system_cost,
        "current_input": input_cost,
        "history": pinned_cost,
        "memory": memory_cost,
    }
    report = make_report(plan, used, costs.exact, need, REPLY_PRIMING)
    return AssembledRequest(
        messages=[],
        tokens=need,
        exact=costs.exact,
        max_tokens=plan.reply_reserve,
        report=report,
        states=states,
        reasons=reasons,
        message_ids=[m.id for m in inp.messages],
        fits=False,
        problem=problem,
        warnings=warnings,
        component_tokens=used,
    )
