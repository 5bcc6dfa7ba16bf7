"""Every string the budget gauge shows, built once per report (or allocation preview)
rather than per paint: the headline and status lines, each legend row's numbers (in
full and short for a narrow row), the segments' rich-text tooltips, the cost line, the
window's source (plain text) and the accessible description."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from desktop_app.core.glossary import profile_label
from desktop_app.ui.figures import format_cost, format_percent, format_tokens, format_tokens_short
from desktop_app.ui.palette import GAUGE_ORDER, LABELS, warning_color

if TYPE_CHECKING:
    from desktop_app.core.budget import BudgetPlan, BudgetReport
    from desktop_app.services.windows import ResolvedWindow
    from desktop_app.ui.gauge_segments import SegmentState


@dataclass(frozen=True)
class LegendText:
    """What one legend row says."""

    component: str
    label: str
    numbers: str
    short: str  # the numbers for a row too narrow for them
    over: bool


@dataclass
class GaugeTexts:
    """The gauge's strings for one report; the defaults are the "no model yet" state."""

    percent: str = ""
    subtitle: str = "No model yet"
    status: str = ""
    percent_warn: bool = False
    status_warn: bool = False
    rows: list[LegendText] = field(default_factory=list)
    tooltips: dict[str, str] = field(default_factory=dict)
    description: str = "No budget yet"


def empty_texts() -> GaugeTexts:
    """No report: dashes in the legend."""
    return GaugeTexts(rows=[LegendText(c, LABELS[c], "—", "—", False) for c in GAUGE_ORDER])


def report_texts(report: BudgetReport, segments: list[SegmentState], uncertainty: float | None,
                 dark: bool, framing_source: str = "") -> GaugeTexts:
    """The strings for a budget report whose segments are `segments`; `framing_source`
    names the chat framing its messages are counted with."""
    texts = GaugeTexts()
    window = report.window
    texts.percent = f"{format_percent(report.utilization)} used"
    kind = "exact" if report.exact else "estimated"
    if not report.exact and uncertainty:
        kind += f" ±{format_percent(uncertainty)}"
    texts.subtitle = f"{format_tokens(report.used)} of {format_tokens(window)} tokens · {kind}"
    texts.percent_warn = not report.fits
    over = [LABELS[c] for c in report.over_components]
    if not report.fits:
        texts.status = f"Over the window by {format_tokens(-report.free)} tokens"
    elif over:
        texts.status = f"Over budget: {', '.join(over)}"
    else:
        texts.status = "Every component within its budget"
    texts.status_warn = bool(over) or not report.fits
    for seg in segments:
        if seg.component == "reply_reserve":
            numbers = f"{format_tokens(seg.used)} reserved"
        elif seg.component == "free":
            numbers = f"{format_tokens(max(0, report.free))} left"
        else:
            numbers = f"{format_tokens(seg.used)} / {format_tokens(seg.budget)}"
        texts.rows.append(LegendText(seg.component, seg.label, numbers,
                                     short_numbers(seg, report), seg.over))
        texts.tooltips[seg.component] = tooltip_for(seg, report, uncertainty, dark,
                                                    framing_source)
    desc = f"{texts.percent} of a {format_tokens(window)}-token window. "
    desc += f"Over budget: {', '.join(over)}." if over else "All components within budget."
    texts.description = desc
    return texts


def allocation_texts(plan: BudgetPlan, segments: list[SegmentState]) -> GaugeTexts:
    """The strings for an allocation preview; `segments` end with the free share."""
    window = float(plan.window)
    free = segments[-1].extent
    return GaugeTexts(
        subtitle=f"{format_tokens(plan.window)}-token window · "
                 f"{profile_label(plan.profile.name, plan.profile.builtin)}",
        status=f"{format_percent(1 - free / window)} allocated",
        rows=[LegendText(s.component, s.label, format_tokens(s.extent),
                         format_tokens_short(s.extent), False) for s in segments],
        tooltips={
            s.component: f"<b>{s.label}</b><br>{format_tokens(s.extent)} tokens · "
                         f"{format_percent(s.extent / window)} of the window"
            for s in segments
        },
        description=f"Allocation of a {format_tokens(plan.window)}-token window",
    )


def short_numbers(seg: SegmentState, report: BudgetReport) -> str:
    """A legend row's numbers in short figures (12.3k), for a narrow row."""
    if seg.component == "reply_reserve":
        return f"{format_tokens_short(seg.used)} reserved"
    if seg.component == "free":
        return f"{format_tokens_short(max(0, report.free))} left"
    return f"{format_tokens_short(seg.used)} / {format_tokens_short(seg.budget)}"


def tooltip_for(seg: SegmentState, report: BudgetReport, uncertainty: float | None,
                dark: bool, framing_source: str = "") -> str:
    window = report.window
    lines = [f"<b>{seg.label}</b>"]
    if seg.component == "free":
        lines.append(f"{format_tokens(max(0, report.free))} tokens of the window are free")
        if seg.extent:
            lines.append(f"{format_tokens(seg.extent)} tokens are not given to any component")
        if report.framing_tokens:
            lines.append(f"Message framing takes {format_tokens(report.framing_tokens)} tokens")
        return "<br>".join(lines)
    if seg.component == "reply_reserve":
        lines.append(f"{format_tokens(seg.used)} tokens set aside for the reply (max_tokens)")
        lines.append(f"{format_percent(seg.used / window)} of the window")
        return "<br>".join(lines)
    pct = format_percent(seg.used / seg.budget) if seg.budget else "—"
    lines.append(f"{format_tokens(seg.used)} of {format_tokens(seg.budget)} tokens used ({pct})")
    share = report.plan.profile.fractions.get(seg.component, 0.0)
    lines.append(f"Allocation: {format_percent(share)} of the {format_tokens(window)}-token window")
    if framing_source:  # the same figures the messages' cards and the panels show
        lines.append(f"Each message as sent: content + chat framing "
                     f"({html.escape(framing_source, quote=False)})")
    lent = report.components[seg.component].lent
    if lent:
        lines.append(f"Lends its unused {format_tokens(lent)} tokens to history "
                     "(elastic mode)")
    if seg.component == "history" and report.lent_to_history:
        lines.append(f"Includes {format_tokens(report.lent_to_history)} tokens lent by "
                     "under-used components")
    if report.exact:
        lines.append("Exact count")
    elif uncertainty:
        spread = math.ceil(seg.used * uncertainty)
        lines.append(f"Estimated ±{format_percent(uncertainty)} "
                     f"(about ±{format_tokens(spread)} tokens)")
    else:
        lines.append("Estimated count")
    if seg.over:
        warn = warning_color(dark).name()
        lines.append(f"<span style='color:{warn}'><b>Over its share by "
                     f"{format_tokens(seg.used - seg.budget)} tokens</b></span>")
    return "<br>".join(lines)


def cost_line(next_request: float | None, session: float | None,
              prefix_share: float | None = None) -> str:
    """The line beneath the gauge; None leaves a figure out (an unpriced model, or no
    request sent yet to compare the next one's start with)."""
    parts = []
    if next_request is not None:
        parts.append(f"Next request ≈ {format_cost(next_request)}")
    if session is not None:
        parts.append(f"Session {format_cost(session)}")
    if prefix_share is not None:
        parts.append(f"prefix kept {prefix_share:.0%}")
    return " · ".join(parts)


def window_line(window: ResolvedWindow | None) -> str:
    """The window budgeted with and where its size comes from, as plain text: "Window:
    4,096 tokens, as local serves it"; empty when none is known."""
    return f"Window: {window.describe()}" if window is not None else ""


def window_tag(window: ResolvedWindow | None) -> str:
    """A few words after the headline's figures when the window is not the catalog's."""
    return window.tag() if window is not None else ""


def as_rich_text(plain: str) -> str:
    """Plain text for a tooltip, which Qt would read as markup if it looked like some:
    escaped, so it shows exactly what it says, on one line as a plain tooltip would."""
    return f"<p style='white-space:pre'>{html.escape(plain, quote=False)}</p>"
