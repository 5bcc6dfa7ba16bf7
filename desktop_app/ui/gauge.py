"""The live stacked budget gauge: one bar for the model's window, split into the
components of the allocation profile. Each segment's full extent is its budget (lightly
tinted) and its solid part is what is used; a component over its share turns red.

The widget takes a BudgetReport and paints it; everything that allocates (texts,
elision, rectangles) is computed when the report or the size changes, so a repaint
during typing or animation is a handful of fillRect and drawText calls. The headline's
tooltip says which window the budget is made against and where its size comes from
(the model catalog, the user's setting, or what the server serves).

This module holds the widget: its state, the animation between states and its Qt
events. The segments are worked out in `gauge_segments`, the strings in `gauge_texts`,
the geometry in `gauge_layout` and the painting in `gauge_paint`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEasingCurve, QEvent, QPointF, QRectF, QSize, Qt, QVariantAnimation
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

# the number formats lived here; other panels still import them from this module
from desktop_app.ui.figures import (  # noqa: F401 - re-exported
    format_cost,
    format_percent,
    format_tokens,
    format_tokens_short,
)
from desktop_app.ui.gauge_layout import (
    GaugeLayout,
    horizontal_height,
    lay_out,
    legend_columns,
    segment_rects,
    vertical_height,
)
from desktop_app.ui.gauge_paint import gauge_colors, paint_bar, paint_texts
from desktop_app.ui.gauge_segments import (
    SegmentState,
    allocation_segments,
    segments_for,
)
from desktop_app.ui.gauge_texts import (
    allocation_texts,
    as_rich_text,
    cost_line,
    empty_texts,
    report_texts,
    window_line,
    window_tag,
)
from desktop_app.ui.palette import GAUGE_ORDER, is_dark

if TYPE_CHECKING:
    from desktop_app.core.budget import BudgetPlan, BudgetReport
    from desktop_app.core.counting import Counting
    from desktop_app.core.prefix import PrefixKept
    from desktop_app.services.windows import ResolvedWindow

ANIMATION_MS = 120
# A change smaller than this share of the window is drawn at once: a keystroke moves the
# bar by a fraction of a pixel, and animating it would only delay the painted result.
_JUMP_BELOW = 0.002


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
        n = len(GAUGE_ORDER)
        # Shown and target geometry as fractions of the window: (extent, filled) pairs.
        self._target = [(0.0, 0.0)] * (n - 1) + [(1.0, 0.0)]
        self._shown = list(self._target)
        self._start = list(self._target)
        self._over = [False] * n
        self._cost_text = ""
        self._costs: tuple[float | None, float | None] = (None, None)
        self._prefix_share: float | None = None
        self._window_text = ""  # plain text: it may name a provider the user typed
        self._window_tag = ""
        self._title = "Context window"
        self._framing_source = ""  # whose chat framing the messages are counted with

        self._anim = QVariantAnimation(self)
        self._anim.setStartValue(0.0)
        self._anim.setEndValue(1.0)
        self._anim.setDuration(ANIMATION_MS)
        self._anim.setEasingCurve(QEasingCurve.Type.OutCubic)
        self._anim.valueChanged.connect(self._on_animation_step)
        self._anim.finished.connect(self._on_animation_finished)

        self.setAccessibleName("Token budget gauge")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._colors = gauge_colors(self)
        self._texts = empty_texts()
        self._describe()
        self._layout: GaugeLayout | None = None  # laid out when next wanted (laid_out)

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
            self._texts = empty_texts()
        else:
            self._segments = segments_for(report)
            window = float(report.window)
            target = [(s.extent / window, s.filled / window) for s in self._segments]
            self._over = [s.over for s in self._segments]
            self._texts = report_texts(report, self._segments, uncertainty, is_dark(self),
                                       self._framing_source)
            if self._window_tag:
                self._texts.subtitle += f" · {self._window_tag}"
        self._describe()
        self._relayout()
        self._move_to(target)

    def set_counting(self, counting: Counting) -> None:
        """How messages are counted: the tooltips name the chat framing."""
        self._framing_source = counting.framing.source
        if self._report is not None:
            self.set_report(self._report, self._uncertainty)

    def set_allocation(self, plan: BudgetPlan) -> None:
        """Show a plan's allocation alone, every segment solid: a profile preview."""
        self._report = None
        self._uncertainty = None
        window = float(plan.window)
        segs = allocation_segments(plan)
        self._segments = segs
        self._over = [False] * len(GAUGE_ORDER)
        self._texts = allocation_texts(plan, segs)
        self._describe()
        self._relayout()
        self._move_to([(s.extent / window, s.filled / window) for s in segs])

    def set_cost(self, next_request: float | None, session: float | None) -> None:
        """The cost line beneath the gauge; None hides a figure (unpriced model)."""
        self._costs = (next_request, session)
        self._cost_text = cost_line(next_request, session, self._prefix_share)
        self._relayout()
        self.update()

    def set_prefix(self, kept: PrefixKept | None) -> None:
        """How much of the next request repeats the last one sent (a prompt cache reuses
        it), beside the cost; None says nothing."""
        self._prefix_share = kept.share if kept is not None and kept.total else None
        self.set_cost(*self._costs)

    def set_window(self, window: ResolvedWindow | None) -> None:
        """The window the budget is made against and where its size comes from, for the
        headline's tooltip and the accessible description; None says nothing."""
        self._window_text = window_line(window)
        self._window_tag = window_tag(window)  # shown with the next report
        self._describe()

    def window_text(self) -> str:
        """What the headline's tooltip says, in plain text: "Window: 4,096 tokens, as
        local serves it"; empty before a window is known."""
        return self._window_text

    def subtitle_text(self) -> str:
        """The headline's second line: "13,112 of 4,096 tokens · exact · served by local"."""
        return self._texts.subtitle

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
        return (QColor(self._colors.warn) if self._over[i]
                else QColor(self._colors.components[component][0]))

    def displayed_fractions(self) -> list[tuple[float, float]]:
        """(extent, filled) per segment as currently painted, as window fractions."""
        return list(self._shown)

    def target_fractions(self) -> list[tuple[float, float]]:
        return list(self._target)

    def is_animating(self) -> bool:
        return self._anim.state() == QVariantAnimation.State.Running

    def legend_rows(self) -> list[tuple[str, str, str]]:
        """(component, label, numbers) for each legend row."""
        return [(r.component, r.label, r.numbers) for r in self.laid_out.legend]

    def cost_text(self) -> str:
        return self._cost_text

    def tooltip_text(self, component: str) -> str:
        return self._texts.tooltips.get(component, "")

    def headline_rect(self) -> QRectF:
        """The headline: the title with the share used, and the tokens of the window
        beneath (empty for a compact gauge). Its tooltip is window_text()."""
        return self.laid_out.header_rect.united(self.laid_out.subtitle_rect)

    def segment_rect(self, component: str) -> QRectF:
        """The segment's rectangle in widget coordinates (for its settled state)."""
        return self._segment_rects(self._target)[GAUGE_ORDER.index(component)]

    def segment_at(self, pos: QPointF) -> str | None:
        """The component under a point: on the bar or on its legend row."""
        for comp, rect in zip(GAUGE_ORDER, self._segment_rects(self._target), strict=False):
            if rect.height() > 0 and rect.width() > 0 and rect.contains(pos):
                return comp
        for row in self.laid_out.legend:
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
        return QSize(em * 32, horizontal_height(em, columns=2))

    def minimumSizeHint(self) -> QSize:
        em = self.fontMetrics().height()
        if self._compact:
            return QSize(em * 6, round(em * 1.2))
        if self._orientation == Qt.Orientation.Vertical:
            return QSize(em * 15, vertical_height(em))
        return QSize(em * 15, horizontal_height(em, columns=1))

    def hasHeightForWidth(self) -> bool:
        return self._orientation == Qt.Orientation.Horizontal and not self._compact

    def heightForWidth(self, width: int) -> int:
        """Horizontal: the legend takes two columns when there is room for them."""
        em = self.fontMetrics().height()
        return horizontal_height(em, columns=legend_columns(width, em))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.StyleChange):
            self._colors = gauge_colors(self)
            self.update()
        elif event.type() == QEvent.Type.FontChange:
            self._relayout()
            self.updateGeometry()
        super().changeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            pos = QPointF(event.pos())
            comp = self.segment_at(pos)
            text = self._texts.tooltips.get(comp, "") if comp else ""
            if not comp and self._window_text and self.headline_rect().contains(pos):
                text = as_rich_text(self._window_text)  # shown as it says, never as markup
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
        paint_bar(p, self.laid_out, self._shown, self._over, self._colors, self._vertical())
        if not self._compact:
            paint_texts(p, self.font(), self.laid_out, self._texts, self._colors, self._over,
                        self._title, self._cost_text)
        p.end()

    # --- state -------------------------------------------------------------------------

    def _describe(self) -> None:
        description = self._texts.description
        if self._window_text:
            description = f"{description} {self._window_text}."
        self.setAccessibleDescription(description)

    def _vertical(self) -> bool:
        """Whether the bar runs top to bottom (a compact bar always lies flat)."""
        return self._orientation == Qt.Orientation.Vertical and not self._compact

    def _segment_rects(self, values: list[tuple[float, float]]) -> list[QRectF]:
        return segment_rects(self.laid_out.bar, values, self._vertical())

    def _relayout(self) -> None:
        """The texts or the size changed: laid out again when next wanted (a preview sets
        the report, the cost and the prefix one after another; one layout serves all)."""
        self._layout = None
        self.update()

    @property
    def laid_out(self) -> GaugeLayout:
        if self._layout is None:
            self._layout = lay_out(self.font(), float(self.width()), float(self.height()),
                                   self._orientation, self._compact, self._texts,
                                   self._cost_text)
        return self._layout

    def _move_to(self, target: list[tuple[float, float]]) -> None:
        heading_there = self.is_animating() and target == self._target
        self._target = target
        delta = max(
            max(abs(a[0] - b[0]), abs(a[1] - b[1]))
            for a, b in zip(self._shown, target, strict=False)
        )
        if heading_there:
            # the same figures again (new texts, a counting announced): the bar keeps
            # its course; begun again it would paint for another ANIMATION_MS
            self.update()
        elif self.is_animating():
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
            for s, g in zip(self._start, self._target, strict=False)
        ]
        self.update()

    def _on_animation_finished(self) -> None:
        self._shown = list(self._target)
        self.update()
