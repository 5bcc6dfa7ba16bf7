"""Builds the exact request for a turn under a session's allocation profile and history
strategy, and says for every earlier message whether it was kept, summarized, dropped
or pinned, and why. "Summarized" is said only of messages a stored summary (or the
facts already stored in memory) stands for; messages this request folds into the
summary, or whose facts it takes into memory, are "folding" until that is stored.

The one rule that never bends: the request plus the reply reserve fits the model's
window. When even the minimum (system prompt, pinned messages, the new input) cannot
fit, the result says so (fits=False, problem=...) and carries nothing to send; nothing
is cut silently.

Assembly reads its input and writes nothing back: content token counts come from
AssemblyInput.counts, else from each Message.token_counts, else they are counted here
and returned in AssembledRequest.new_counts for the caller to keep. The steps, in order:
the fixed parts, one walk over the history, the optional parts, the history under the
strategy, folding what was evicted, the request in order, and the report."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import compress
from typing import TYPE_CHECKING, Any, NamedTuple

from desktop_app.core.budget import (
    AllocationProfile,
    BudgetPlan,
    BudgetReport,
    Component,
    elastic_history_budget,
    make_report,
    plan_budget,
)
from desktop_app.core.facts import priority
from desktop_app.core.history import HistoryStrategy
from desktop_app.core.records import ROLES, MemoryFact, Message, Summary
from desktop_app.core.tokens import (
    OPENAI_FRAMING,
    ChatFraming,
    chat_framing,
    count_text,
    message_tokens,
    rendered_prompt_tokens,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from desktop_app.core.catalog import ModelInfo
    from desktop_app.core.history import FactExtractor, Summarizer


class InclusionState(StrEnum):
    """What became of an earlier message in this request. A str, so it compares, hashes
    and serializes as its value ("kept").

    SUMMARIZED: the stored summary, or facts already stored in memory, stand for it.
    FOLDING: outside the history, and folded into the summary (or its facts taken into
    memory) by this request; the stored summary covers it once the reply is in."""

    KEPT = "kept"
    SUMMARIZED = "summarized"
    DROPPED = "dropped"
    PINNED = "pinned"
    FOLDING = "folding"


INCLUSION_STATES: tuple[InclusionState, ...] = tuple(InclusionState)
_SENT_STATES = frozenset({"kept", "pinned"})
_LEFT_OUT_STATES = frozenset({"summarized", "folding", "dropped"})


class RowIndex(NamedTuple):
    """An assembled request's rows by where they come from. history: the index (into the
    input's messages) of each message sent, in order; history_sections: the index into
    `sections` of each history section (they pair up when the lengths agree); left_out:
    the index of each message summarized, folding or dropped."""

    history: array[int]
    history_sections: array[int]
    left_out: array[int]
# local names for the hot loops
_KEPT, _SUMMARIZED, _DROPPED, _PINNED, _FOLDING = INCLUSION_STATES

MEMORY_HEADER = "Known facts about this conversation:\n"
SUMMARY_HEADER = "Summary of the earlier conversation:\n"

# Reasons are shared strings so that a 10,000-message map costs references, not copies.
R_KEPT = "in the history window"
R_PINNED = "pinned: always sent"
R_EXCLUDED = "excluded by you"
R_FAILED = "failed reply: not sent"
# left out after a failed turn, never by the user's choice (see Message.set_aside)
R_SET_ASIDE = "set aside: its reply failed, so it is not sent again"
R_REPLY_SET_ASIDE = "failed or interrupted reply: set aside, not sent"
R_EMPTY = "empty message: not sent"
R_COVERED = "replaced by the rolling summary"
R_LAST_N = "older than the last {n} messages"
R_OVER = "outside the history budget ({budget:,} tokens)"
R_BLOCK = ("outside the history: evicted with its block, so that the next requests start "
           "the same way (stable prefix)")
# With a stable prefix, history grows until it fills its budget (the high watermark),
# then a block of the oldest messages goes at once, down to this share of the budget.
LOW_WATERMARK = 0.5
R_FOLD_PENDING = "outside the history budget: to be folded into the summary before sending"
R_FOLDED = ("outside the history budget: folded into the summary this request sends "
            "(stored once the reply is in)")
R_MEMORY = "outside the history budget: its facts are kept in key-value memory"
R_MEMORY_PENDING = ("outside the history budget: its facts are taken into key-value memory "
                    "with this request")
R_NOT_SENT = "not sent: the request does not fit"


class Inclusion(NamedTuple):
    index: int  # type: ignore[assignment]  # the message's position; shadows tuple.index
    message_id: int | None
    state: str
    reason: str


class Older(NamedTuple):
    """The messages older than those an assembly is given, known only in summary: a
    long session is read back only as far as its next request can reach (pinned
    messages, the window, what is still to be folded), so everything older is left out
    and fares alike. How many, their content tokens as far as counted, and what became
    of them (set by assembly: one state and reason for all)."""

    messages: int
    tokens: int
    state: str = ""
    reason: str = ""


@dataclass(frozen=True)
class AssemblyInput:
    """What one request is assembled from. Frozen: lists given by a caller are kept as
    tuples, and assembly never changes them or the messages in them.

    `counts`, when given, holds the content tokens of each message under the model's
    encoding, in the order of `messages` (None where not known). Assembly takes a count
    from there first, then from Message.token_counts[encoding], and counts the text
    itself only when neither has it (see AssembledRequest.new_counts)."""

    system_prompt: str
    messages: Sequence[Message]
    draft: str
    model: ModelInfo
    profile: AllocationProfile
    strategy: HistoryStrategy = field(default_factory=HistoryStrategy)
    examples: Sequence[Mapping[str, Any]] = ()
    memory: Sequence[MemoryFact] = ()
    summary: Summary | None = None
    elastic: bool = False
    # facts were already extracted from the messages up to this id (kv_memory, hybrid)
    memory_through_id: int | None = None
    counts: Sequence[int | None] | None = None
    # the oldest history message the last request sent (strategy.stable_prefix)
    history_from_id: int | None = None
    # messages older than `messages`, not read (none of them can be sent)
    older: Older | None = None

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: only here, to keep tuples
        set_field(self, "messages", tuple(self.messages))
        set_field(self, "examples", tuple(self.examples))
        set_field(self, "memory", tuple(self.memory))
        if self.counts is not None:
            counts = tuple(self.counts)
            if len(counts) != len(self.messages):
                raise ValueError(f"counts has {len(counts)} entries for "
                                 f"{len(self.messages)} messages")
            set_field(self, "counts", counts)


@dataclass
class AssembledRequest:
    messages: list[dict[str, Any]]
    tokens: int
    exact: bool
    max_tokens: int
    report: BudgetReport
    states: list[InclusionState]  # per input message
    reasons: list[str]
    message_ids: list[int | None]
    fits: bool = True
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)
    due_for_summary: list[Message] = field(default_factory=list)
    due_for_memory: list[Message] = field(default_factory=list)
    component_tokens: dict[str, int] = field(default_factory=dict)  # keys: Component
    sections: list[tuple[str, dict[str, Any], int]] = field(default_factory=list)
    new_summary: Summary | None = None
    new_memory: dict[str, str] = field(default_factory=dict)
    new_memory_sources: dict[str, int | None] = field(default_factory=dict)  # key: message id
    history_from_id: int | None = None  # the oldest history message sent (stable prefix)
    older: Older | None = None  # the messages older than those given, and their fate
    # content tokens this assembly had to count, by index into the input's messages,
    # under the model's encoding: the caller may store them so no text is counted twice
    new_counts: dict[int, int] = field(default_factory=dict)
    framing: ChatFraming = OPENAI_FRAMING  # the chat framing the request was costed with
    fixed_tokens: int = OPENAI_FRAMING.reply_priming  # the request's own framing, once
    _rows: RowIndex | None = field(default=None, init=False, repr=False, compare=False)

    def row_index(self) -> RowIndex:
        """Where each table row of the request comes from, as compact int arrays (made
        once, at C speed; the preview makes it on its worker so a view showing 300,000
        messages left out builds no per-row objects)."""
        if self._rows is None:
            n = len(self.states)
            sent = array("l", compress(range(n), map(_SENT_STATES.__contains__,
                                                     self.states)))
            left = array("l", compress(range(n), map(_LEFT_OUT_STATES.__contains__,
                                                     self.states)))
            comps = [c for c, _m, _t in self.sections]
            sections = array("l", compress(range(len(comps)),
                                           map("history".__eq__, comps)))
            self._rows = RowIndex(sent, sections, left)
        return self._rows

    @property
    def inclusion(self) -> list[Inclusion]:
        return [
            Inclusion(i, mid, s, r)
            for i, (mid, s, r) in enumerate(
                zip(self.message_ids, self.states, self.reasons, strict=True))
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
            "older": self.older._asdict() if self.older is not None else None,
            "inclusion": [
                {"index": i.index, "id": i.message_id, "state": i.state, "reason": i.reason}
                for i in self.inclusion
            ],
        }


# --- costing ---------------------------------------------------------------------------------
class _Costs:
    """Chat-format cost of messages: the model's framing + role + content (+ name).
    Content counts come from the input's counts, else the message's cached counts, else
    are counted here and remembered in `counted` (never written onto a message)."""

    def __init__(self, model: ModelInfo, counts: Sequence[int | None] | None) -> None:
        self.model = model
        self.enc = model.encoding
        self.exact = model.chat_exact
        self.framing = chat_framing(model)
        self.counts = counts
        self.counted: dict[int, int] = {}
        # role -> the framing and role tokens every message in that role costs
        self.head = {r: self.framing.head(r, self.enc) for r in ROLES}

    def content(self, i: int, m: Message) -> int:
        n = self.counts[i] if self.counts is not None else None
        if n is None:
            n = m.token_counts.get(self.enc)
        if n is None:
            n = self.counted[i] = count_text(m.content, self.enc)
        return n

    def message(self, i: int, m: Message, n: int | None = None) -> int:
        """Cost of msgs[i] == m; `n` is its content count when the caller has it."""
        if n is None:
            n = self.content(i, m)
        head = self.head.get(m.role)
        if head is None:
            head = self.head[m.role] = self.framing.head(m.role, self.enc)
        if m.name and self.framing.names:
            return head + n + count_text(m.name, self.enc) + self.framing.per_name
        return head + n

    def chat(self, msg: Mapping[str, Any] | None) -> int:
        if msg is None:
            return 0
        n, ok = message_tokens(msg, self.model, self.framing)
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


def memory_message(memory: Sequence[MemoryFact]) -> dict[str, Any] | None:
    if not memory:
        return None
    return {"role": "system", "content": MEMORY_HEADER + "\n".join(f.line() for f in memory)}


def summary_message(text: str) -> dict[str, Any] | None:
    return {"role": "system", "content": SUMMARY_HEADER + text} if text else None


# --- the steps' results ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Fixed:
    """The parts never dropped: the system prompt and the new input."""

    system_msg: dict[str, Any] | None
    system_cost: int
    input_msg: dict[str, Any] | None
    input_cost: int


@dataclass(slots=True)
class _Walk:
    """One pass over the history: each message's state and reason so far, the messages
    that may be kept, and the cost of those already sent (the pinned ones)."""

    states: list[InclusionState]
    reasons: list[str]
    candidates: list[int]
    cost_of: dict[int, int]  # the messages sent: index -> cost
    pinned_cost: int


@dataclass(slots=True)
class _Extras:
    """The optional parts as trimmed to fit: examples, memory and the rolling summary,
    with the room held back for a summary or memory this turn may grow."""

    examples: list[dict[str, Any]]
    example_costs: list[int]
    memory: list[MemoryFact] = field(default_factory=list)
    memory_msg: dict[str, Any] | None = None
    memory_cost: int = 0
    memory_room: int = 0
    summary_text: str = ""
    summary_msg: dict[str, Any] | None = None
    summary_cost: int = 0
    summary_room: int = 0

    @property
    def room(self) -> int:
        return sum(self.example_costs) + self.memory_room + self.summary_room

    def set_memory(self, memory: list[MemoryFact], costs: _Costs) -> None:
        self.memory = memory
        self.memory_msg = memory_message(memory)
        self.memory_cost = costs.chat(self.memory_msg)

    def set_summary(self, text: str, costs: _Costs) -> None:
        self.summary_text = text
        self.summary_msg = summary_message(text)
        self.summary_cost = costs.chat(self.summary_msg)


@dataclass(frozen=True, slots=True)
class _Folded:
    """What became of the messages evicted from the history: `state` and `reason`, but
    those up to `stored_upto` (an index) have their facts stored in memory already."""

    state: InclusionState
    reason: str
    stored_upto: int = -1
    due_for_summary: list[Message] = field(default_factory=list)
    due_for_memory: list[Message] = field(default_factory=list)
    new_summary: Summary | None = None
    new_memory: dict[str, str] = field(default_factory=dict)
    new_memory_sources: dict[str, int | None] = field(default_factory=dict)  # key: message id


# --- the steps -------------------------------------------------------------------------------
def _fixed_parts(inp: AssemblyInput, costs: _Costs) -> _Fixed:
    system_msg = {"role": "system", "content": inp.system_prompt} if inp.system_prompt else None
    input_msg = {"role": "user", "content": inp.draft} if inp.draft else None
    return _Fixed(system_msg, costs.chat(system_msg), input_msg, costs.chat(input_msg))


def _walk_history(inp: AssemblyInput, costs: _Costs) -> _Walk:
    """States for the messages whose fate does not depend on the budget (pinned,
    excluded, failed, empty, covered by the summary); the others become candidates."""
    msgs = inp.messages
    n = len(msgs)
    states = [_DROPPED] * n
    reasons = [R_OVER] * n
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
            states[i], reasons[i] = _PINNED, R_PINNED
            cost_of[i] = c = costs.message(i, m)
            pinned_cost += c
        else:
            own = left_out_by_itself(m)
            if own is not None:
                reasons[i] = own
            else:  # older than what the rolling summary covers
                states[i], reasons[i] = _SUMMARIZED, R_COVERED
    return _Walk(states, reasons, candidates, cost_of, pinned_cost)


def left_out_by_itself(m: Message) -> str | None:
    """Why `m` is left out whatever the budget (excluded, set aside after a failed turn,
    a failed or empty reply); None when nothing about the message itself does."""
    if m.excluded:
        if not m.set_aside:
            return R_EXCLUDED
        return R_SET_ASIDE if m.role == "user" else R_REPLY_SET_ASIDE
    if m.status == "error" and not m.content:
        return R_FAILED
    if not m.content:
        return R_EMPTY
    return None


def _optional_parts(
    inp: AssemblyInput, plan: BudgetPlan, costs: _Costs, fixed: int, warnings: list[str]
) -> _Extras:
    """Examples, memory and the summary, trimmed only to fit the window: examples go
    first (the last first), then unpinned facts (the newest first), then the room held
    back for growth, then the summary itself."""
    strategy = inp.strategy
    examples = [dict(e) for e in inp.examples if e.get("content")]
    x = _Extras(examples, [costs.chat(e) for e in examples])
    # memory is sent whenever there is any (every strategy may use facts the user keeps),
    # within its share; in elastic mode it may borrow from the history's
    memory = list(inp.memory)
    if not inp.elastic and memory:
        memory, left = fit_memory(memory, plan.budgets[Component.MEMORY], costs.chat)
        if left:
            warnings.append(_left_out(left, "memory share"))
    x.set_memory(memory, costs)
    x.set_summary(inp.summary.text if (inp.summary and strategy.summarizes) else "", costs)
    # room to hold back for a summary or memory that this turn may grow
    x.summary_room = (max(x.summary_cost, plan.budgets[Component.SUMMARY])
                      if strategy.summarizes else x.summary_cost)
    x.memory_room = (max(x.memory_cost, plan.budgets[Component.MEMORY])
                     if strategy.extracts else x.memory_cost)
    limit = plan.prompt_limit
    while fixed + x.room > limit and x.examples:
        x.examples.pop()
        dropped_cost = x.example_costs.pop()
        warnings.append(f"an example was left out to fit the window ({dropped_cost} tokens)")
    while fixed + x.room > limit and any(not f.pinned for f in x.memory):
        idx = max(i for i, f in enumerate(x.memory) if not f.pinned)
        fact = x.memory.pop(idx)
        warnings.append(f"memory fact {fact.key!r} was left out to fit the window")
        x.set_memory(x.memory, costs)
        x.memory_room = x.memory_cost
    if fixed + x.room > limit and (x.summary_room or x.memory_room):
        # the reserved growth room goes first, then the summary itself
        x.summary_room, x.memory_room = x.summary_cost, x.memory_cost
        if fixed + x.room > limit and x.summary_msg:
            warnings.append("the rolling summary was left out to fit the window")
            x.set_summary("", costs)
            x.summary_room = 0
    return x


def _history_budget(inp: AssemblyInput, plan: BudgetPlan, fixed: _Fixed, walk: _Walk,
                    x: _Extras, room: int) -> int:
    """Tokens the history (pinned messages included) may take under the strategy."""
    if inp.strategy.kind in ("full", "last_n"):
        return room + walk.pinned_cost  # count-based: bounded by the window only
    used_now: dict[str, int] = {
        Component.SYSTEM_PROMPT: fixed.system_cost,
        Component.EXAMPLES: sum(x.example_costs),
        Component.MEMORY: x.memory_room,
        Component.SUMMARY: x.summary_room,
        Component.CURRENT_INPUT: fixed.input_cost,
    }
    share, _lent = elastic_history_budget(plan, used_now)
    return min(share, room + walk.pinned_cost)


def _take_in_blocks(inp: AssemblyInput, candidates: list[int], budget: int, costs: _Costs,
                    cost_of: dict[int, int]) -> tuple[list[int], int, bool]:
    """The history with a stable start: every candidate from where the last request's
    history started, when they all fit the budget (so the request only grows at its
    end); else the newest that fit LOW_WATERMARK of it, a block evicted at once."""
    msgs = inp.messages
    start = 0
    if inp.history_from_id is not None:
        first = _index_of(msgs, inp.history_from_id)
        if first >= 0 and msgs[first].id == inp.history_from_id:
            start = next((k for k, i in enumerate(candidates) if i >= first), len(candidates))
    tail = candidates[start:]
    trial: dict[int, int] = {}
    taken, left, _ = _take_history(msgs, tail, len(tail), budget, costs, trial)
    if len(taken) < len(tail):  # full: evict down to the low watermark
        trial = {}
        low = int(budget * LOW_WATERMARK)
        taken, left_low, _ = _take_history(msgs, candidates, len(candidates), low, costs, trial)
        left = budget - (low - left_low)
    cost_of.update(trial)
    return taken, left, False


def _take_history(msgs: Sequence[Message], candidates: list[int], max_taken: int,
                  budget_left: int, costs: _Costs, cost_of: dict[int, int]
                  ) -> tuple[list[int], int, bool]:
    """The newest candidates that fit in `budget_left`, at most `max_taken` of them:
    (taken, newest first; budget left; whether the count, not the budget, stopped it).
    The hot loop of a long session: no property calls, no allocation per message."""
    if max_taken < len(candidates):
        window, by_count = candidates[len(candidates) - max_taken:], True
    else:
        window, by_count = candidates, False
    counts, enc, head = costs.counts, costs.enc, costs.head
    taken: list[int] = []
    for i in reversed(window):
        m = msgs[i]
        n = m.token_counts.get(enc) if counts is None else counts[i]
        h = head.get(m.role)
        c = costs.message(i, m, n) if n is None or h is None or m.name else h + n
        if c > budget_left:
            by_count = False
            break
        cost_of[i] = c
        budget_left -= c
        taken.append(i)
    return taken, budget_left, by_count


def _fold_evicted(inp: AssemblyInput, evicted: list[int], stop_reason: str, x: _Extras,
                  costs: _Costs, summarizer: Summarizer | None,
                  extractor: FactExtractor | None, warnings: list[str]) -> _Folded:
    """Messages the history had no room for: folded into the rolling summary and their
    facts into memory when the strategy does so and a helper is given, else marked due."""
    strategy, msgs, enc = inp.strategy, inp.messages, costs.enc
    state = _FOLDING if (strategy.summarizes or strategy.extracts) else _DROPPED
    reason = stop_reason
    stored_upto = -1
    due_summary: list[Message] = []
    due_memory: list[Message] = []
    new_summary: Summary | None = None
    new_memory: dict[str, str] = {}
    new_sources: dict[str, int | None] = {}
    if evicted and strategy.summarizes:
        due_summary = [msgs[i] for i in evicted]
        reason = R_FOLD_PENDING
        if summarizer is not None:
            overhead = costs.framing.head("system", enc) + count_text(SUMMARY_HEADER, enc)
            budget = max(x.summary_room - overhead, 0)
            folded = summarizer.summarize(x.summary_text, due_summary, budget, enc)
            x.set_summary(folded, costs)
            while x.summary_cost > x.summary_room and folded:  # a summarizer that overshoots
                folded = folded.rsplit("\n", 1)[0] if "\n" in folded else ""
                x.set_summary(folded, costs)
            new_summary = Summary(
                text=folded,
                first_message_id=(inp.summary and inp.summary.first_message_id)
                or due_summary[0].id,
                last_message_id=due_summary[-1].id,
                method=getattr(summarizer, "method", "model"),
                tokens=count_text(folded, enc),
            )
            reason = R_FOLDED
            due_summary = []
    if evicted and strategy.extracts:
        done_upto = _index_of(msgs, inp.memory_through_id)
        due_memory = [msgs[i] for i in evicted if i > done_upto]
        if not strategy.summarizes:
            reason, stored_upto = R_MEMORY_PENDING, done_upto
        if extractor is not None and due_memory:
            found = extractor.extract(due_memory, {f.key: f.value for f in x.memory})
            sources: dict[str, int | None] = getattr(found, "sources", {})
            pinned_keys = {f.key for f in x.memory if f.pinned}
            new_memory = {k: v for k, v in found.items() if k not in pinned_keys}
            new_sources = {k: sources.get(k) for k in new_memory}
            if new_memory:
                merged = {f.key: f for f in x.memory}
                for k, v in new_memory.items():
                    merged[k] = MemoryFact(key=k, value=v, session_id=None,
                                           source_message_id=sources.get(k))
                sent, left = fit_memory(list(merged.values()), x.memory_room, costs.chat)
                x.set_memory(sent, costs)
                if left:
                    warnings.append(_left_out(left, "memory budget"))
            due_memory = []
    return _Folded(state, reason, stored_upto, due_summary, due_memory, new_summary, new_memory,
                   new_sources)


def fit_memory(facts: list[MemoryFact], room: int, cost: Any
               ) -> tuple[list[MemoryFact], list[MemoryFact]]:
    """The facts to send within `room` tokens, in their stored order, and those left out:
    pinned facts always go; of the rest, those that carry the most (core.facts.priority:
    codes, amounts, names, rules before small notes) and then the newest go first."""
    if cost(memory_message(facts)) <= room:
        return facts, []
    order = sorted((i for i, f in enumerate(facts) if not f.pinned),
                   key=lambda i: (-priority(facts[i].line()), -i))
    keep = {i for i, f in enumerate(facts) if f.pinned}
    for i in order:
        trial = keep | {i}
        if cost(memory_message([facts[j] for j in sorted(trial)])) <= room:
            keep = trial
    sent = [facts[i] for i in sorted(keep)]
    return sent, [f for i, f in enumerate(facts) if i not in keep]


def _left_out(facts: list[MemoryFact], budget: str) -> str:
    keys = ", ".join(f.key for f in facts[:5]) + (" …" if len(facts) > 5 else "")
    n = len(facts)
    return (f"{n} memory fact{'s' if n != 1 else ''} did not fit the {budget} and "
            f"{'were' if n != 1 else 'was'} stored, not sent ({keys})")


def _older(inp: AssemblyInput, reason: str) -> Older | None:
    """What became of the messages older than those given: the reader stops at the
    summary's or memory's boundary when the strategy folds, so older ones are covered
    by the summary, or their facts are in memory; otherwise they are outside the
    history for `reason` (why the walk stopped)."""
    older = inp.older
    if older is None or not older.messages:
        return None
    strategy, msgs = inp.strategy, inp.messages
    if (strategy.summarizes and inp.summary is not None
            and _index_of(msgs, inp.summary.last_message_id) >= 0):
        return older._replace(state=_SUMMARIZED, reason=R_COVERED)
    if (strategy.extracts and not strategy.summarizes and reason != R_NOT_SENT
            and _index_of(msgs, inp.memory_through_id) >= 0):
        return older._replace(state=_SUMMARIZED, reason=R_MEMORY)
    return older._replace(state=_DROPPED, reason=reason)


def _sections(msgs: Sequence[Message], fixed: _Fixed, x: _Extras, cost_of: dict[int, int]
              ) -> list[tuple[str, dict[str, Any], int]]:
    """The request in order: (component, chat message, tokens) for every message sent."""
    sections: list[tuple[str, dict[str, Any], int]] = []
    if fixed.system_msg:
        sections.append((Component.SYSTEM_PROMPT, fixed.system_msg, fixed.system_cost))
    for e, c in zip(x.examples, x.example_costs, strict=True):
        sections.append((Component.EXAMPLES, e, c))
    if x.memory_msg:
        sections.append((Component.MEMORY, x.memory_msg, x.memory_cost))
    if x.summary_msg:
        sections.append((Component.SUMMARY, x.summary_msg, x.summary_cost))
    history = Component.HISTORY
    for i in sorted(cost_of):  # exactly the pinned and kept messages
        m = msgs[i]
        chat = {"role": m.role, "content": m.content}
        if m.name:
            chat["name"] = m.name
        sections.append((history, chat, cost_of[i]))
    if fixed.input_msg:
        sections.append((Component.CURRENT_INPUT, fixed.input_msg, fixed.input_cost))
    return sections


def _over_share_warnings(report: BudgetReport, kind: str) -> list[str]:
    out = []
    for comp in report.over_components:
        # full and last-N histories are bounded by the window, not the share: no nagging
        if comp != Component.REPLY_RESERVE and not (
            comp == Component.HISTORY and kind in ("full", "last_n")
        ):
            r = report.components[comp]
            out.append(f"{comp.replace('_', ' ')} uses {r.used:,} tokens, over its share of "
                       f"{r.budget:,}")
    return out


# --- assembly --------------------------------------------------------------------------------
def assemble(
    inp: AssemblyInput,
    summarizer: Summarizer | None = None,
    extractor: FactExtractor | None = None,
    _slack: int = 0,
) -> AssembledRequest:
    """The request for `inp`. With the model's chat template at hand, its total is the
    rendered prompt's exact count: the messages are costed one by one (framing + content)
    to choose what fits, and what the template does at their joins (a trimmed space, two
    newlines merged into one token) goes into the request's own framing figure. Should
    that push the request past the window, it is assembled again with that much less
    history (`_slack`)."""
    model = inp.model
    plan = plan_budget(model.context_window, inp.profile, model.max_output, inp.elastic)
    limit = plan.prompt_limit
    costs = _Costs(model, inp.counts)
    warnings: list[str] = [model.warning] if model.warning else []

    fixed = _fixed_parts(inp, costs)
    # the request's own framing; a template may add more when no system message leads
    # (known once memory and summary are placed: the larger figure holds room till then)
    priming = costs.framing.fixed(fixed.system_msg is not None)
    walk = _walk_history(inp, costs)
    fixed_total = priming + fixed.system_cost + fixed.input_cost + walk.pinned_cost
    if fixed_total > limit:
        return _does_not_fit(inp, plan, costs, fixed, walk, warnings)

    x = _optional_parts(inp, plan, costs, fixed_total, warnings)
    if fixed_total + x.room > limit:
        return _does_not_fit(inp, plan, costs, fixed, walk, warnings, memory_cost=x.memory_cost)

    history_budget = _history_budget(inp, plan, fixed, walk, x,
                                     limit - fixed_total - x.room - _slack)
    kind, candidates = inp.strategy.kind, walk.candidates
    max_taken = inp.strategy.last_n if kind == "last_n" else len(candidates)
    if inp.strategy.keeps_prefix:
        taken, budget_left, by_count = _take_in_blocks(
            inp, candidates, history_budget - walk.pinned_cost, costs, walk.cost_of)
    else:
        taken, budget_left, by_count = _take_history(
            inp.messages, candidates, max_taken, history_budget - walk.pinned_cost, costs,
            walk.cost_of)
    states, reasons = walk.states, walk.reasons
    for i in taken:
        states[i], reasons[i] = _KEPT, R_KEPT

    evicted = candidates[: len(candidates) - len(taken)]
    stop_reason = (R_LAST_N.format(n=inp.strategy.last_n) if by_count
                   else R_BLOCK if inp.strategy.keeps_prefix
                   else R_OVER.format(budget=max(0, history_budget)))
    folded = _fold_evicted(inp, evicted, stop_reason, x, costs, summarizer, extractor, warnings)
    stored_upto = folded.stored_upto
    for i in evicted:
        if i <= stored_upto:  # its facts are in memory already
            states[i], reasons[i] = _SUMMARIZED, R_MEMORY
        else:
            states[i], reasons[i] = folded.state, folded.reason

    sections = _sections(inp.messages, fixed, x, walk.cost_of)
    priming = costs.framing.fixed(bool(sections) and sections[0][1]["role"] == "system")
    used: dict[str, int] = {
        Component.SYSTEM_PROMPT: fixed.system_cost,
        Component.EXAMPLES: sum(x.example_costs),
        Component.MEMORY: x.memory_cost,
        Component.SUMMARY: x.summary_cost,
        Component.HISTORY: history_budget - budget_left,
        Component.CURRENT_INPUT: fixed.input_cost,
    }
    rendered = rendered_prompt_tokens([s[1] for s in sections], model) if sections else None
    if rendered is not None:
        rendered += model.learned_framing.tokens(len(sections))
        if rendered > limit and taken and _slack < rendered - limit:
            return assemble(inp, summarizer, extractor, _slack=rendered - limit)
        priming = rendered - sum(used.values())
    tokens = priming + sum(used.values())
    report = make_report(plan, used, costs.exact, tokens, priming)
    warnings.extend(_over_share_warnings(report, kind))
    return AssembledRequest(
        messages=[s[1] for s in sections],
        tokens=tokens,
        exact=costs.exact,
        max_tokens=plan.reply_reserve,
        report=report,
        states=states,
        reasons=reasons,
        message_ids=[m.id for m in inp.messages],
        warnings=warnings,
        due_for_summary=folded.due_for_summary,
        due_for_memory=folded.due_for_memory,
        component_tokens=used,
        sections=sections,
        new_summary=folded.new_summary,
        new_memory=folded.new_memory,
        new_memory_sources=folded.new_memory_sources,
        history_from_id=min((i for i in (inp.messages[k].id for k in taken) if i is not None),
                            default=None),
        older=_older(inp, stop_reason),
        new_counts=costs.counted,
        framing=costs.framing,
        fixed_tokens=priming,
    )


def _does_not_fit(
    inp: AssemblyInput,
    plan: BudgetPlan,
    costs: _Costs,
    fixed: _Fixed,
    walk: _Walk,
    warnings: list[str],
    memory_cost: int = 0,
) -> AssembledRequest:
    system_cost, input_cost, pinned_cost = fixed.system_cost, fixed.input_cost, walk.pinned_cost
    priming = costs.framing.fixed(fixed.system_msg is not None)
    need = priming + system_cost + input_cost + pinned_cost + memory_cost
    parts = [f"the system prompt ({system_cost:,})"] if system_cost else []
    if input_cost:
        parts.append(f"your message ({input_cost:,})")
    if pinned_cost:
        parts.append(f"pinned messages ({pinned_cost:,})")
    if memory_cost:
        parts.append(f"pinned memory ({memory_cost:,})")
    # the verb agrees with what it says: "your message needs", "pinned messages need"
    plural = len(parts) > 1 or bool(parts and parts[0].startswith("pinned messages"))
    problem = (
        f"Does not fit: {', '.join(parts) or 'the request'} {'need' if plural else 'needs'} "
        f"{need:,} tokens, but "
        f"{inp.model.name}'s window of {plan.window:,} leaves {plan.prompt_limit:,} after the "
        f"reply reserve of {plan.reply_reserve:,}. Shorten the message, unpin messages, or "
        f"choose a model with a larger window."
    )
    states, reasons = walk.states, walk.reasons
    for i, s in enumerate(states):
        if s != _PINNED and reasons[i] == R_OVER:
            reasons[i] = R_NOT_SENT
    used: dict[str, int] = {
        Component.SYSTEM_PROMPT: system_cost,
        Component.CURRENT_INPUT: input_cost,
        Component.HISTORY: pinned_cost,
        Component.MEMORY: memory_cost,
    }
    report = make_report(plan, used, costs.exact, need, priming)
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
        older=_older(inp, R_NOT_SENT),
        new_counts=costs.counted,
        framing=costs.framing,
        fixed_tokens=priming,
    )
