"""Allocation profiles, budget plans and budget reports over the components of a
request: system prompt, examples, memory, summary, history, current input and the
reply reserve."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from desktop_app.core.glossary import COMPONENT_LABELS

if TYPE_CHECKING:
    from collections.abc import Mapping

class Component(StrEnum):
    """A part of a request that a profile gives a share of the window. A str: members
    compare, hash and serialize as their values ("history"), so dict keys and JSON read
    the same as plain names."""

    SYSTEM_PROMPT = "system_prompt"
    EXAMPLES = "examples"
    MEMORY = "memory"
    SUMMARY = "summary"
    HISTORY = "history"
    CURRENT_INPUT = "current_input"
    REPLY_RESERVE = "reply_reserve"

    @property
    def label(self) -> str:
        return COMPONENT_LABELS[self]


COMPONENTS: tuple[Component, ...] = tuple(Component)
# Components whose unused share elastic mode may lend to history. The reply reserve is
# never lent: a reply needs its room whatever the prompt looks like.
LENDERS: tuple[Component, ...] = (
    Component.SYSTEM_PROMPT,
    Component.EXAMPLES,
    Component.MEMORY,
    Component.SUMMARY,
    Component.CURRENT_INPUT,
)


class ProfileError(ValueError):
    """A custom allocation profile that cannot be used, with the reason."""


@dataclass(frozen=True)
class AllocationProfile:
    name: str
    fractions: Mapping[str, float]
    builtin: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        validate_fractions(self.fractions, self.name)
        full = {c: float(self.fractions.get(c, 0.0)) for c in COMPONENTS}
        object.__setattr__(self, "fractions", full)

    @property
    def total(self) -> float:
        return sum(self.fractions.values())


def validate_fractions(fractions: Mapping[str, float], name: str = "profile") -> None:
    if not str(name).strip():
        raise ProfileError("a profile needs a name")
    unknown = sorted(set(fractions) - set(COMPONENTS))
    if unknown:
        raise ProfileError(
            f"{name}: unknown component {', '.join(unknown)} (known: {', '.join(COMPONENTS)})"
        )
    for comp, value in fractions.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ProfileError(f"{name}: {comp} must be a number, got {value!r}") from None
        if not 0.0 <= v <= 1.0 or math.isnan(v):
            raise ProfileError(f"{name}: {comp} must be between 0 and 1, got {v:g}")
    total = sum(float(v) for v in fractions.values())
    if total > 1.0 + 1e-9:
        raise ProfileError(f"{name}: the fractions add up to {total:.0%}, more than 100%")
    if float(fractions.get(Component.REPLY_RESERVE, 0.0)) <= 0.0:
        raise ProfileError(f"{name}: the reply reserve must be above 0, or no reply fits")


def _p(name: str, description: str, **fractions: float) -> AllocationProfile:
    return AllocationProfile(name, fractions, builtin=True, description=description)


# The guide's frameworks (token_budgeting.md §6). Where the guide names one "history"
# share, memory and summary each take 5 points of it so that every strategy has room.
BUILTIN_PROFILES: dict[str, AllocationProfile] = {
    p.name: p
    for p in (
        _p(
            "40-40-20",
            "40% task context and examples, 40% working memory, 20% reserve",
            system_prompt=0.15, examples=0.15, current_input=0.10,
            history=0.30, memory=0.05, summary=0.05,
            reply_reserve=0.20,
        ),
        _p(
            "pyramid",
            "system prompt 20%, examples 15%, memory 8%, summary 7%, history 30%, "
            "current input 15%, reply reserve 5%",
            system_prompt=0.20, examples=0.15, current_input=0.15,
            history=0.30, memory=0.08, summary=0.07,
            reply_reserve=0.05,
        ),
        _p(
            "simple_qa",
            "simple Q&A: short instructions, long history",
            system_prompt=0.10, examples=0.0, history=0.60, memory=0.05, summary=0.05,
            current_input=0.15, reply_reserve=0.05,
        ),
        _p(
            "creative_writing",
            "creative writing: room for examples and a longer reply",
            system_prompt=0.15, examples=0.20, history=0.30, memory=0.05, summary=0.05,
            current_input=0.15, reply_reserve=0.10,
        ),
        _p(
            "complex_reasoning",
            "complex reasoning: more examples and input",
            system_prompt=0.15, examples=0.25, history=0.20, memory=0.05, summary=0.05,
            current_input=0.20, reply_reserve=0.10,
        ),
        _p(
            "default",
            "the guide's default dynamic allocation",
            system_prompt=0.15, examples=0.15, history=0.30, memory=0.05, summary=0.05,
            current_input=0.20, reply_reserve=0.10,
        ),
    )
}


def builtin_profile(name: str) -> AllocationProfile:
    try:
        return BUILTIN_PROFILES[name]
    except KeyError:
        raise ProfileError(
            f"unknown profile {name!r} (built in: {', '.join(BUILTIN_PROFILES)})"
        ) from None


SHARE_STEP = 0.05  # how much "give it more room" moves, as a share of the window
# where the room for memory or the summary comes from, in order
_DONORS = (Component.HISTORY, Component.EXAMPLES, Component.CURRENT_INPUT,
           Component.SYSTEM_PROMPT)


def with_more_room(profile: AllocationProfile, component: str,
                   step: float = SHARE_STEP) -> AllocationProfile:
    """`profile` with `step` more of the window for `component` (memory or summary),
    taken from history first, then examples, the input and the system prompt (never
    from the reply reserve), as a custom profile named after the original."""
    fractions = dict(profile.fractions)
    want = step
    for donor in _DONORS:
        if donor == component or want <= 1e-9:
            continue
        give = min(want, max(0.0, fractions[donor] - 0.05))  # leave every donor something
        fractions[donor] = round(fractions[donor] - give, 4)
        want -= give
    given = step - want
    if given <= 1e-9:
        raise ProfileError(f"no share is left to give the {COMPONENT_LABELS[component]}")
    fractions[component] = round(fractions[component] + given, 4)
    base = profile.name.split(" + ")[0]
    label = COMPONENT_LABELS[component].lower()
    return AllocationProfile(f"{base} + {label}", fractions,
                             description=f"{base}, with {fractions[component]:.0%} for the "
                                         f"{label}")


@dataclass(frozen=True)
class BudgetPlan:
    """Each component's budget in tokens for one model window and profile."""

    window: int
    profile: AllocationProfile
    budgets: Mapping[str, int]
    elastic: bool = False

    @property
    def reply_reserve(self) -> int:
        return self.budgets[Component.REPLY_RESERVE]

    @property
    def prompt_limit(self) -> int:
        """The most tokens a request may hold: the window less the reply reserve."""
        return self.window - self.reply_reserve


def plan_budget(
    window: int, profile: AllocationProfile, max_output: int | None = None, elastic: bool = False
) -> BudgetPlan:
    """Budgets in whole tokens (rounded down, so they never add up past the window).
    The reply reserve is capped at the model's maximum output: room a reply can never
    use is left free for the prompt instead."""
    if window <= 0:
        raise ValueError(f"a model window must be positive, got {window}")
    budgets: dict[str, int] = {c: int(window * profile.fractions[c]) for c in COMPONENTS}
    budgets[Component.REPLY_RESERVE] = max(1, budgets[Component.REPLY_RESERVE])
    if max_output is not None and max_output > 0:
        budgets[Component.REPLY_RESERVE] = min(budgets[Component.REPLY_RESERVE], max_output)
    return BudgetPlan(window, profile, budgets, elastic)


@dataclass(frozen=True)
class ComponentReport:
    component: str
    budget: int
    used: int
    lent: int = 0  # elastic mode: the unused part of this share lent to history

    @property
    def allocation(self) -> int:
        """The part of the window this component holds: its budget less what it lent.
        The allocations of a report add up to at most the window (history's budget
        counts what was lent to it, so the lenders' own shares cannot count it too)."""
        return self.budget - self.lent

    @property
    def remaining(self) -> int:
        return self.budget - self.used

    @property
    def utilization(self) -> float:
        return self.used / self.budget if self.budget else (1.0 if self.used else 0.0)

    @property
    def over(self) -> bool:
        return self.used > self.budget


@dataclass(frozen=True)
class BudgetReport:
    """Budget, used, remaining and utilization per component and overall. `used` of the
    reply reserve is what is set aside for the reply (max_tokens)."""

    plan: BudgetPlan
    components: Mapping[str, ComponentReport]
    exact: bool = True
    lent_to_history: int = 0  # elastic mode: slack other components lent to history
    request_tokens: int = 0  # the whole request, framing included
    framing_tokens: int = 0  # per-message framing and reply priming

    @property
    def window(self) -> int:
        return self.plan.window

    @property
    def used(self) -> int:
        """The window taken: the request plus the reply reserve."""
        return self.request_tokens + self.plan.reply_reserve

    @property
    def free(self) -> int:
        return self.plan.window - self.used

    @property
    def utilization(self) -> float:
        return self.used / self.plan.window

    @property
    def over_components(self) -> list[str]:
        return [c for c, r in self.components.items() if r.over]

    @property
    def fits(self) -> bool:
        return self.used <= self.plan.window

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "profile": self.plan.profile.name,
            "exact": self.exact,
            "elastic": self.plan.elastic,
            "lent_to_history": self.lent_to_history,
            "components": {
                c: {
                    "budget": r.budget,
                    "used": r.used,
                    "remaining": r.remaining,
                    "utilization": round(r.utilization, 4),
                    "over": r.over,
                }
                for c, r in self.components.items()
            },
            "overall": {
                "budget": self.window,
                "request_tokens": self.request_tokens,
                "framing_tokens": self.framing_tokens,
                "used": self.used,
                "remaining": self.free,
                "utilization": round(self.utilization, 4),
            },
        }


def elastic_history_budget(plan: BudgetPlan, used: Mapping[str, int]) -> tuple[int, int]:
    """History's budget with the slack of under-used components lent to it, and the
    amount lent. Only the LENDERS lend; the reply reserve never does."""
    base = plan.budgets[Component.HISTORY]
    if not plan.elastic:
        return base, 0
    lent = sum(max(0, plan.budgets[c] - used.get(c, 0)) for c in LENDERS)
    return base + lent, lent


def make_report(
    plan: BudgetPlan,
    used: Mapping[str, int],
    exact: bool = True,
    request_tokens: int | None = None,
    framing_tokens: int = 0,
) -> BudgetReport:
    """A report for component usage `used` (content tokens per component; the reply
    reserve is always its budget). Cheap: the gauge calls it on every keystroke."""
    history_budget, lent = elastic_history_budget(plan, used)
    components: dict[str, ComponentReport] = {}
    for c in COMPONENTS:
        budget = history_budget if c is Component.HISTORY else plan.budgets[c]
        u = plan.reply_reserve if c is Component.REPLY_RESERVE else int(used.get(c, 0))
        gave = max(0, budget - u) if (lent and c in LENDERS) else 0
        components[c] = ComponentReport(c, budget, u, gave)
    if request_tokens is None:
        request_tokens = sum(int(used.get(c, 0)) for c in COMPONENTS
                             if c is not Component.REPLY_RESERVE)
        request_tokens += framing_tokens
    return BudgetReport(plan, components, exact, lent, request_tokens, framing_tokens)
