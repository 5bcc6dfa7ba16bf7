"""The live stacked budget gauge: one bar for the model's window, split into the
components of the allocation profile. Each segment's full extent is its budget (lightly
tinted) and its solid part is what is used; a component over its share turns red.

The widget takes a BudgetReport and paints it; everything that allocates (texts,
elision, rectangles) is computed when the report or the size changes, so a repaint
during typing or animation is a handful of fillRect and drawText calls."""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import QEasingCurve, QEvent, QPointF, QRectF, QSize, Qt, QVariantAnimation
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from desktop_app.core.budget import LENDERS, BudgetPlan, BudgetReport
from desktop_app.ui.palette import (
    GAUGE_ORDER,
    LABELS,
    allocation_color,
    blend,
    chip_border,
    component_color,
    is_dark,
    warning_color,
)

ANIMATION_MS = 120
# A change smaller than this share of the window is drawn at once: a keystroke moves the
# bar by a fraction of a pixel, and animating it would only delay the painted result.
_JUMP_BELOW = 0.002


def format_tokens(n: float) -> str:
    return f"{round(n):,}"


def format_tokens_short(n: float) -> str:
    """12,345 -> 12.3k; 1,234,567 -> 1.23M (for narrow places)."""
    n = round(n)
    if abs(n) < 1000:
        return str(n)
    if abs(n) < 1_000_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1_000_000:.2f}M".replace(".00M", "M")


def format_cost(dollars: float) -> str:
    """Readable money at the scale of per-request LLM prices."""
    if dollars == 0:
        return "$0.00"
    if abs(dollars) < 0.0001:
        return "<$0.0001"
    if abs(dollars) < 0.01:
        return f"${dollars:.4f}"
    if abs(dollars) < 1:
        return f"${dollars:.3f}"
    return f"${dollars:,.2f}"


def format_percent(fraction: float) -> str:
    pct = fraction * 100
    if pct == 0:
        return "0%"
    if abs(pct) < 10:
        return f"{pct:.1f}".rstrip("0").rstrip(".") + "%"
    return f"{pct:.0f}%"


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


@dataclass
class _LegendRow:
    component: str
    label: str
    numbers: str
    over: bool
    rect: QRectF
    chip: QRectF
    label_rect: QRectF
    numbers_rect: QRectF
    shown_label: str = ""
    shown_numbers: str = ""


def segments_for(report: BudgetReport) -> list[SegmentState]:
    """The gauge's segments for a report, in GAUGE_ORDER. In elastic mode a lender's
    unused share moves to history, so lenders shrink to what they use and history
    grows by what was lent; the extents still add up to the window."""
    plan = report.plan
    elastic_lending = plan.elastic and report.lent_to_history > 0
    out: list[SegmentState] = []
    allocated = 0
    for comp in GAUGE_ORDER[:-1]:
        rep = report.components[comp]
        extent = plan.budgets[comp]
        if elastic_lending and comp in LENDERS:
            extent = min(rep.used, extent)
        elif elastic_lending and comp == "history":
            extent = rep.budget
        allocated += extent
        out.append(SegmentState(comp, LABELS[comp], extent, rep.used, rep.budget, rep.over))
    free_extent = max(0, plan.window - allocated)
    out.append(SegmentState("free", LABELS["free"], free_extent, 0, free_extent, False))
    return out


class BudgetGauge(QWidget):
    """Stacked budget bar with legend and cost line. Vertical (bar beside its legend,
    for a right-hand column) or horizontal (legend beneath); `compact` draws the bar
    alone, e.g. as a preview."""

    def __init__(
        self,
        parent: QWidget | None = None,
        orientation: Qt.Orientation = Qt.Orientation.Vertical,
        compact: bool = False,
    ) -> None:
        super().__init__(parent)
        self._orientation = orientation
        self._compact = compact
        self._animated = True
        self._report: BudgetReport | None = None
        self._uncertainty: float | None = None
        self._segments: list[SegmentState] = []
        self._tooltips: dict[str, str] = {}
        n = len(GAUGE_ORDER)
        # Shown and target geometry as fractions of the window: (extent, filled) pairs.
        self._target = [(0.0, 0.0)] * (n - 1) + [(1.0, 0.0)]
        self._shown = list(self._target)
        self._start = list(self._target)
        self._over = [False] * n
        self._cost_text = ""
        self._title = "Context window"
        self._percent_text = ""
        self._subtitle = "No model yet"
        self._status = ""
        self._status_warn = False
        self._percent_warn = False
        self._legend: list[_LegendRow] = []
        self._bar = QRectF()
        self._bar_path = QPainterPath()
        self._header_rect = QRectF()
        self._subtitle_rect = QRectF()
        self._status_rect = QRectF()
        self._cost_rect = QRectF()
        self._colors: dict[str, tuple[QColor, QColor]] = {}
        self._warn = QColor()
        self._warn_hatch = QBrush()
        self._separator = QColor()
        self._muted = QColor()
        self._text_color = QColor()
        self._border = QColor()
        self._bold = QFont()

        self._anim = QVariantAnimation(self)
        self._anim.setStartValue(0.0)
        self._anim.setEndValue(1.0)
        self._anim.setDuration(ANIMATION_MS)
        self._anim.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._anim.valueChanged.connect(self._on_animation_step)
        self._anim.finished.connect(self._on_animation_finished)

        self.setAccessibleName("Token budget gauge")
        self.setAccessibleDescription("No budget yet")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._refresh_colors()
        self._rebuild_texts()
        self._relayout()

    # --- public API --------------------------------------------------------------------

    def set_report(self, report: BudgetReport | None, uncertainty: float | None = None) -> None:
        """Show a budget report. `uncertainty` is the calibration's relative error for
        an estimated count (0.04 = ±4%)."""
        self._report = report
        self._uncertainty = uncertainty
        if report is None:
            self._segments = []
            target = [(0.0, 0.0)] * (len(GAUGE_ORDER) - 1) + [(1.0, 0.0)]
            self._over = [False] * len(GAUGE_ORDER)
        else:
            self._segments = segments_for(report)
            window = float(report.window)
            target = [(s.extent / window, s.filled / window) for s in self._segments]
            self._over = [s.over for s in self._segments]
        self._rebuild_texts()
        self._relayout()
        self._move_to(target)

    def set_allocation(self, plan: BudgetPlan) -> None:
        """Show a plan's allocation alone, every segment solid: a profile preview."""
        self._report = None
        self._uncertainty = None
        window = float(plan.window)
        segs = [SegmentState(c, LABELS[c], plan.budgets[c], plan.budgets[c], plan.budgets[c],
                             False) for c in GAUGE_ORDER[:-1]]
        free = max(0, plan.window - sum(s.extent for s in segs))
        segs.append(SegmentState("free", LABELS["free"], free, 0, free, False))
        self._segments = segs
        self._over = [False] * len(GAUGE_ORDER)
        self._percent_text = ""
        self._subtitle = f"{format_tokens(plan.window)}-token window · {plan.profile.name}"
        self._status = f"{format_percent(1 - free / window)} allocated"
        self._status_warn = self._percent_warn = False
        self._tooltips = {
            s.component: f"<b>{s.label}</b><br>{format_tokens(s.extent)} tokens · "
                         f"{format_percent(s.extent / window)} of the window"
            for s in segs
        }
        self._row_texts = [(s.component, s.label, format_tokens(s.extent), False) for s in segs]
        self.setAccessibleDescription(f"Allocation of a {format_tokens(plan.window)}-token window")
        self._relayout()
        self._move_to([(s.extent / window, s.filled / window) for s in segs])

    def set_cost(self, next_request: float | None, session: float | None) -> None:
        """The cost line beneath the gauge; None hides a figure (unpriced model)."""
        parts = []
        if next_request is not None:
            parts.append(f"Next request ≈ {format_cost(next_request)}")
        if session is not None:
            parts.append(f"Session {format_cost(session)}")
        self._cost_text = " · ".join(parts)
        self._relayout()
        self.update()

    def set_orientation(self, orientation: Qt.Orientation) -> None:
        self._orientation = orientation
        self._relayout()
        self.updateGeometry()
        self.update()

    def orientation(self) -> Qt.Orientation:
        return self._orientation

    def set_compact(self, compact: bool) -> None:
        self._compact = compact
        self._relayout()
        self.updateGeometry()
        self.update()

    def set_animated(self, animated: bool) -> None:
        self._animated = animated

    def report(self) -> BudgetReport | None:
        return self._report

    def segments(self) -> list[SegmentState]:
        """The segments of the current report (the animation's target)."""
        return list(self._segments)

    def segment(self, component: str) -> SegmentState:
        for seg in self._segments:
            if seg.component == component:
                return seg
        raise KeyError(component)

    def segment_color(self, component: str) -> QColor:
        """The solid colour the segment's used part is painted in (red when over)."""
        i = GAUGE_ORDER.index(component)
        return QColor(self._warn) if self._over[i] else QColor(self._colors[component][0])

    def displayed_fractions(self) -> list[tuple[float, float]]:
        """(extent, filled) per segment as currently painted, as window fractions."""
        return list(self._shown)

    def target_fractions(self) -> list[tuple[float, float]]:
        return list(self._target)

    def is_animating(self) -> bool:
        return self._anim.state() == QVariantAnimation.State.Running

    def legend_rows(self) -> list[tuple[str, str, str]]:
        """(component, label, numbers) for each legend row."""
        return [(r.component, r.label, r.numbers) for r in self._legend]

    def cost_text(self) -> str:
        return self._cost_text

    def tooltip_text(self, component: str) -> str:
        return self._tooltips.get(component, "")

    def segment_rect(self, component: str) -> QRectF:
        """The segment's rectangle in widget coordinates (for its settled state)."""
        return self._segment_rects(self._target)[GAUGE_ORDER.index(component)]

    def segment_at(self, pos: QPointF) -> str | None:
        """The component under a point: on the bar or on its legend row."""
        for comp, rect in zip(GAUGE_ORDER, self._segment_rects(self._target)):
            if rect.height() > 0 and rect.width() > 0 and rect.contains(pos):
                return comp
        for row in self._legend:
            if row.rect.contains(pos):
                return row.component
        return None

    # --- Qt overrides ------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        em = self.fontMetrics().height()
        if self._compact:
            return QSize(em * 16, round(em * 1.6))
        if self._orientation == Qt.Orientation.Vertical:
            return QSize(em * 20, em * 24)
        return QSize(em * 32, self._horizontal_height(em, columns=2))

    def minimumSizeHint(self) -> QSize:
        em = self.fontMetrics().height()
        if self._compact:
            return QSize(em * 6, round(em * 1.2))
        if self._orientation == Qt.Orientation.Vertical:
            return QSize(em * 15, self._vertical_height(em))
        return QSize(em * 15, self._horizontal_height(em, columns=1))

    def hasHeightForWidth(self) -> bool:
        return self._orientation == Qt.Orientation.Horizontal and not self._compact

    def heightForWidth(self, width: int) -> int:
        """Horizontal: the legend takes two columns when there is room for them."""
        em = self.fontMetrics().height()
        return self._horizontal_height(em, columns=self._legend_columns(width, em))

    def _legend_columns(self, width: float, em: float) -> int:
        return 2 if width - em >= em * 30 else 1

    def _vertical_height(self, em: int) -> int:
        pad, line, row_h = round(em * 0.5), math.ceil(em * 1.3), math.ceil(em * 1.45)
        return pad * 4 + line * 4 + row_h * len(GAUGE_ORDER)

    def _horizontal_height(self, em: int, columns: int) -> int:
        pad, line, row_h = round(em * 0.5), math.ceil(em * 1.3), math.ceil(em * 1.45)
        rows = math.ceil(len(GAUGE_ORDER) / columns)
        return pad * 5 + line * 4 + round(em * 1.8) + row_h * rows

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._refresh_colors()
            self.update()
        elif event.type() == QEvent.Type.FontChange:
            self._relayout()
            self.updateGeometry()
        super().changeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            comp = self.segment_at(QPointF(event.pos()))
            text = self._tooltips.get(comp, "") if comp else ""
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_bar(p)
        if not self._compact:
            self._paint_texts(p)
        p.end()

    # --- painting ----------------------------------------------------------------------

    def _paint_bar(self, p: QPainter) -> None:
        bar = self._bar
        if bar.isEmpty():
            return
        p.save()
        p.setClipPath(self._bar_path)
        rects = self._segment_rects(self._shown)
        vertical = self._orientation == Qt.Orientation.Vertical and not self._compact
        for i, comp in enumerate(GAUGE_ORDER):
            rect = rects[i]
            if rect.width() <= 0 or rect.height() <= 0:
                continue
            solid, tint = self._colors[comp]
            if self._over[i]:
                p.fillRect(rect, self._warn)
                p.fillRect(rect, self._warn_hatch)
                continue
            p.fillRect(rect, tint)
            filled = self._shown[i][1]
            if filled > 0:
                span = filled * (bar.height() if vertical else bar.width())
                if vertical:
                    used = QRectF(rect.left(), rect.top(), rect.width(), min(span, rect.height()))
                else:
                    used = QRectF(rect.left(), rect.top(), min(span, rect.width()), rect.height())
                p.fillRect(used, solid)
        # hairline separators between segments, in the page colour
        pen = QPen(self._separator, max(1.0, bar.width() / 200 if not vertical else 1.0))
        p.setPen(pen)
        for rect in rects[:-1]:
            if vertical and rect.height() > 0:
                p.drawLine(QPointF(bar.left(), rect.bottom()), QPointF(bar.right(), rect.bottom()))
            elif not vertical and rect.width() > 0:
                p.drawLine(QPointF(rect.right(), bar.top()), QPointF(rect.right(), bar.bottom()))
        p.restore()
        p.setPen(QPen(self._border, 1.0))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(self._bar_path)

    def _paint_texts(self, p: QPainter) -> None:
        text_color = self._text_color
        bold = self._bold
        p.setFont(bold)
        p.setPen(text_color)
        p.drawText(self._header_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   self._title)
        if self._percent_text:
            p.setPen(self._warn if self._percent_warn else text_color)
            p.drawText(self._header_rect,
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       self._percent_text)
        p.setFont(self.font())
        p.setPen(text_color)
        p.drawText(self._subtitle_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   self._subtitle_shown)
        p.setPen(self._warn if self._status_warn else self._muted)
        p.drawText(self._status_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   self._status_shown)
        border = self._border
        for row in self._legend:
            i = GAUGE_ORDER.index(row.component)
            color = self._warn if row.over else self._colors[row.component][0]
            if row.component == "free":
                color = self._colors["free"][0]
            p.setPen(QPen(border, 1.0))
            p.setBrush(color)
            p.drawRoundedRect(row.chip, 2.0, 2.0)
            p.setPen(self._warn if self._over[i] else text_color)
            p.drawText(row.label_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       row.shown_label)
            if row.over:
                p.setFont(bold)
            else:
                p.setPen(self._muted if row.component == "free" else text_color)
            p.drawText(row.numbers_rect,
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       row.shown_numbers)
            if row.over:
                p.setFont(self.font())
        if self._cost_text:
            p.setPen(text_color)
            p.drawText(self._cost_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       self._cost_shown)

    def _segment_rects(self, values: list[tuple[float, float]]) -> list[QRectF]:
        bar = self._bar
        vertical = self._orientation == Qt.Orientation.Vertical and not self._compact
        length = bar.height() if vertical else bar.width()
        rects = []
        pos = 0.0
        for extent, _filled in values:
            span = max(0.0, extent) * length
            if vertical:
                rects.append(QRectF(bar.left(), bar.top() + pos, bar.width(), span))
            else:
                rects.append(QRectF(bar.left() + pos, bar.top(), span, bar.height()))
            pos += span
        return rects

    # --- state -------------------------------------------------------------------------

    def _move_to(self, target: list[tuple[float, float]]) -> None:
        self._target = target
        delta = max(
            max(abs(a[0] - b[0]), abs(a[1] - b[1])) for a, b in zip(self._shown, target)
        )
        if self.is_animating():
            # retarget from wherever the bar is now
            self._start = list(self._shown)
            self._anim.stop()
            self._anim.start()
        elif not self._animated or not self.isVisible() or delta < _JUMP_BELOW:
            self._shown = list(target)
            self.update()
        else:
            self._start = list(self._shown)
            self._anim.start()

    def _on_animation_step(self, value: float) -> None:
        t = float(value)
        self._shown = [
            (s[0] + (g[0] - s[0]) * t, s[1] + (g[1] - s[1]) * t)
            for s, g in zip(self._start, self._target)
        ]
        self.update()

    def _on_animation_finished(self) -> None:
        self._shown = list(self._target)
        self.update()

    def _refresh_colors(self) -> None:
        dark = is_dark(self)
        background = self.palette().color(self.backgroundRole())
        self._colors = {
            comp: (component_color(comp, dark), allocation_color(comp, dark, background))
            for comp in GAUGE_ORDER
        }
        self._warn = warning_color(dark)
        hatch = QBrush(blend(QColor("white"), self._warn, 0.35), Qt.BrushStyle.BDiagPattern)
        self._warn_hatch = hatch
        self._separator = background
        text = self.palette().color(self.foregroundRole())
        self._text_color = text
        self._muted = blend(text, background, 0.62)
        self._border = chip_border(dark)

    def _rebuild_texts(self) -> None:
        """Every string the gauge draws or shows, built once per report."""
        report = self._report
        self._tooltips = {}
        if report is None:
            self._percent_text = ""
            self._subtitle = "No model yet"
            self._status = ""
            self._status_warn = self._percent_warn = False
            self._row_texts = [(c, LABELS[c], "—", False) for c in GAUGE_ORDER]
            self.setAccessibleDescription("No budget yet")
            return
        window = report.window
        self._percent_text = f"{format_percent(report.utilization)} used"
        kind = "exact" if report.exact else "estimated"
        if not report.exact and self._uncertainty:
            kind += f" ±{format_percent(self._uncertainty)}"
        self._subtitle = f"{format_tokens(report.used)} of {format_tokens(window)} tokens · {kind}"
        self._percent_warn = not report.fits
        over = [LABELS[c] for c in report.over_components]
        if not report.fits:
            self._status = f"Over the window by {format_tokens(-report.free)} tokens"
        elif over:
            self._status = f"Over budget: {', '.join(over)}"
        else:
            self._status = "Every component within its budget"
        self._status_warn = bool(over) or not report.fits
        rows = []
        for seg in self._segments:
            if seg.component == "reply_reserve":
                numbers = f"{format_tokens(seg.used)} reserved"
            elif seg.component == "free":
                numbers = f"{format_tokens(max(0, report.free))} left"
            else:
                numbers = f"{format_tokens(seg.used)} / {format_tokens(seg.budget)}"
            rows.append((seg.component, seg.label, numbers, seg.over))
            self._tooltips[seg.component] = self._tooltip_for(seg, report)
        self._row_texts = rows
        desc = f"{self._percent_text} of a {format_tokens(window)}-token window. "
        desc += f"Over budget: {', '.join(over)}." if over else "All components within budget."
        self.setAccessibleDescription(desc)

    def _tooltip_for(self, seg: SegmentState, report: BudgetReport) -> str:
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
        if seg.component == "history" and report.lent_to_history:
            lines.append(f"Includes {format_tokens(report.lent_to_history)} tokens lent by "
                         "under-used components")
        if report.exact:
            lines.append("Exact count")
        elif self._uncertainty:
            spread = math.ceil(seg.used * self._uncertainty)
            lines.append(f"Estimated ±{format_percent(self._uncertainty)} "
                         f"(about ±{format_tokens(spread)} tokens)")
        else:
            lines.append("Estimated count")
        if seg.over:
            warn = warning_color(is_dark(self)).name()
            lines.append(f"<span style='color:{warn}'><b>Over its share by "
                         f"{format_tokens(seg.used - seg.budget)} tokens</b></span>")
        return "<br>".join(lines)

    def _relayout(self) -> None:
        """Rectangles and elided texts for the current size, font and report."""
        fm = QFontMetricsF(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        fmb = QFontMetricsF(bold)
        self._bold = bold
        em = fm.height()
        w, h = float(self.width()), float(self.height())
        pad = round(em * 0.5)
        self._legend = []
        if self._compact:
            self._bar = QRectF(1, 1, max(0.0, w - 2), max(0.0, h - 2))
            self._update_bar_path(em)
            return
        line = math.ceil(em * 1.3)
        self._header_rect = QRectF(pad, pad, w - 2 * pad, line)
        self._subtitle_rect = QRectF(pad, pad + line, w - 2 * pad, line)
        self._status_rect = QRectF(pad, pad + 2 * line, w - 2 * pad, line)
        self._subtitle_shown = fm.elidedText(self._subtitle, Qt.TextElideMode.ElideRight,
                                             self._subtitle_rect.width())
        self._status_shown = fm.elidedText(self._status, Qt.TextElideMode.ElideRight,
                                           self._status_rect.width())
        top = pad + 3 * line + pad
        cost_h = line if self._cost_text else 0.0
        self._cost_rect = QRectF(pad, h - pad - cost_h, w - 2 * pad, cost_h)
        bottom = h - pad - cost_h - (pad if cost_h else 0)
        row_h = math.ceil(em * 1.45)
        rows = len(self._row_texts)
        if self._orientation == Qt.Orientation.Vertical:
            bar_w = max(28.0, round(em * 2.6))
            self._bar = QRectF(pad, top, bar_w, max(0.0, bottom - top))
            left = pad + bar_w + pad * 1.5
            legend = [QRectF(left, top + i * row_h, w - pad - left, row_h) for i in range(rows)]
        else:
            bar_h = round(em * 1.8)
            self._bar = QRectF(pad, top, max(0.0, w - 2 * pad), bar_h)
            legend_top = top + bar_h + pad
            cols = self._legend_columns(w, em)
            col_w = (w - 2 * pad - (cols - 1) * pad * 2) / cols
            per_col = math.ceil(rows / cols)
            legend = [
                QRectF(pad + (i // per_col) * (col_w + pad * 2),
                       legend_top + (i % per_col) * row_h, col_w, row_h)
                for i in range(rows)
            ]
            # the cost line follows the legend rather than sticking to the bottom edge
            legend_bottom = legend_top + per_col * row_h
            self._cost_rect = QRectF(pad, legend_bottom + pad, w - 2 * pad, cost_h)
        self._cost_shown = fm.elidedText(self._cost_text, Qt.TextElideMode.ElideRight,
                                         self._cost_rect.width())
        chip = fm.ascent() * 0.85
        for (comp, label, numbers, over), rect in zip(self._row_texts, legend):
            chip_rect = QRectF(rect.left(), rect.center().y() - chip / 2, chip, chip)
            text_left = chip_rect.right() + pad
            avail = rect.right() - text_left
            metrics = fmb if over else fm
            shown_numbers = numbers
            if metrics.horizontalAdvance(numbers) > avail * 0.6:
                shown_numbers = self._short_numbers(comp, numbers)
            num_w = metrics.horizontalAdvance(shown_numbers)
            label_w = max(0.0, avail - num_w - pad)
            row = _LegendRow(
                comp, label, numbers, over, rect, chip_rect,
                QRectF(text_left, rect.top(), label_w, rect.height()),
                QRectF(rect.right() - num_w - 1, rect.top(), num_w + 1, rect.height()),
            )
            row.shown_label = fm.elidedText(label, Qt.TextElideMode.ElideRight, label_w)
            row.shown_numbers = shown_numbers
            self._legend.append(row)
        self._update_bar_path(em)

    def _short_numbers(self, component: str, numbers: str) -> str:
        seg = next((s for s in self._segments if s.component == component), None)
        if seg is None:
            return numbers
        if self._report is None:  # an allocation preview
            return format_tokens_short(seg.extent)
        if component == "reply_reserve":
            return f"{format_tokens_short(seg.used)} reserved"
        if component == "free":
            return f"{format_tokens_short(max(0, self._report.free))} left"
        return f"{format_tokens_short(seg.used)} / {format_tokens_short(seg.budget)}"

    def _update_bar_path(self, em: float) -> None:
        path = QPainterPath()
        if not self._bar.isEmpty():
            radius = min(em * 0.35, self._bar.width() / 2, self._bar.height() / 2)
            path.addRoundedRect(self._bar, radius, radius)
        self._bar_path = path
