"""What the budget gauge draws, before any pixels: one segment per component of the
allocation profile, in GAUGE_ORDER, each with the share of the window it spans and the
part of it that is used, plus the free rest of the window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from desktop_app.ui.palette import GAUGE_ORDER, LABELS

if TYPE_CHECKING:
    from desktop_app.core.budget import BudgetPlan, BudgetReport


@dataclass(frozen=True)
class SegmentState:
    """One segment as the gauge draws it once any animation has settled."""

    component: str
    label: str
    extent: int  # tokens of the window this segment spans (its allocation)
    used: int  # tokens used (the reply reserve: set aside)
    budget: int  # the report's budget (history: with what elastic mode lent it)
    over: bool

    @property
    def filled(self) -> int:
        """Tokens drawn solid: the used part, never beyond the segment."""
        return min(self.used, self.extent)


def segments_for(report: BudgetReport) -> list[SegmentState]:
    """The gauge's segments for a report, in GAUGE_ORDER. In elastic mode a lender's
    unused share moves to history, so lenders shrink to what they use and history
    grows by what was lent; the extents still add up to the window."""
    plan = report.plan
    out: list[SegmentState] = []
    allocated = 0
    for comp in GAUGE_ORDER[:-1]:
        rep = report.components[comp]
        # in elastic mode a lender's allocation is its share less what it lent, and
        # history's includes what was lent: the rows add up to at most the window
        extent = rep.allocation
        allocated += extent
        out.append(SegmentState(comp, LABELS[comp], extent, rep.used, extent, rep.over))
    free_extent = max(0, plan.window - allocated)
    out.append(SegmentState("free", LABELS["free"], free_extent, 0, free_extent, False))
    return out


def allocation_segments(plan: BudgetPlan) -> list[SegmentState]:
    """A plan's allocation alone, every segment solid (a profile preview), then the
    share of the window no component was given."""
    segs = [SegmentState(c, LABELS[c], plan.budgets[c], plan.budgets[c], plan.budgets[c],
                         False) for c in GAUGE_ORDER[:-1]]
    free = max(0, plan.window - sum(s.extent for s in segs))
    segs.append(SegmentState("free", LABELS["free"], free, 0, free, False))
    return segs
