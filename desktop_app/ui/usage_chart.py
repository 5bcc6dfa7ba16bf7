"""Tokens per turn, stacked by component, with the session's running cost as a line and
the part of each prompt the server read from its cache hatched over the bar (in figures
in the tooltip and, for the session, under the header). Drawn with QPainter. When turns
outnumber the pixels, neighbouring turns share a bar (their average, said so in the
tooltip), so a thousand turns paint as fast as ten: everything is laid out when the data
or the size changes, and paintEvent only fills the rectangles it was handed."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from desktop_app.core.budget import COMPONENTS
from desktop_app.ui.gauge import format_cost, format_tokens, format_tokens_short
from desktop_app.ui.palette import LABELS, blend, component_color, is_dark

MIN_BAR_PX = 4.0  # narrowest bar (gap included) before turns are grouped
EMPTY_TEXT = "No turns yet. Token use per turn appears here after the first reply."
COST_LABEL = "Session cost (running total)"
CACHED_LABEL = "Cached prompt (hatched)"


def _label(component: str) -> str:
    return LABELS.get(component, component.replace("_", " ").capitalize())


def nice_step(value: float, steps: Sequence[float] = (1, 2, 2.5, 5)) -> float:
    """The smallest of steps × 10^k at or above value (a clean axis step)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (*steps, 10):
        candidate = step * 10**exp
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exp + 1))


@dataclass
class Bar:
    """One drawn bar: a turn, or a group of neighbouring turns (averaged)."""

    first: int  # index of the first turn it stands for
    last: int
    values: dict[str, float]  # tokens per component (average over the group)
    cost: float  # cost of the group's turns
    cumulative_cost: float  # session cost up to the group's last turn
    # of the prompt tokens the server billed for the group's turns that said, those it
    # read from its cache (average over the group); None when none of them said
    cached: float | None = None
    cached_of: float = 0.0  # the prompt tokens those turns billed (average)

    @property
    def total(self) -> float:
        return sum(self.values.values())

    @property
    def cached_share(self) -> float | None:
        """The part of the billed prompt read from the cache, 0..1; None if not said."""
        if self.cached is None:
            return None
        return min(1.0, self.cached / self.cached_of) if self.cached_of > 0 else 0.0


def cached_totals(turns: Sequence[Mapping]) -> tuple[int, int] | None:
    """(cached prompt tokens, prompt tokens billed) over the turns whose server said how
    many it read from its cache; None when none said."""
    said = [t for t in turns if t.get("cached") is not None]
    if not said:
        return None
    return (sum(int(t["cached"]) for t in said),
            sum(int(t.get("prompt") or 0) for t in said))


def cache_line(turns: Sequence[Mapping]) -> str:
    """The session's cached prompt tokens in words, plain text; "" when no turn's server
    said. Turns whose server did not say are left out of both figures, and named."""
    said = cached_totals(turns)
    if said is None:
        return ""
    cached, prompt = said
    share = f" ({cached / prompt:.0%})" if prompt > 0 else ""
    told = sum(t.get("cached") is not None for t in turns)
    over = "" if told == len(turns) else f" · over the {told:,} of {len(turns):,} turns " \
        "whose server said"
    return (f"Prompt tokens billed: {format_tokens(prompt)}, of which cached: "
            f"{format_tokens(cached)}{share}{over}")


def cached_text(cached: float, prompt: float) -> str:
    """"1,234 of 2,000 (62%)": cached prompt tokens and their share, plain text."""
    share = f" ({cached / prompt:.0%})" if prompt > 0 else ""
    return f"{format_tokens(cached)} of {format_tokens(prompt)}{share}"


def group_turns(turns: Sequence[Mapping], max_bars: int) -> list[Bar]:
    """Turns as at most `max_bars` bars: one per turn, or averaged groups."""
    n = len(turns)
    if n == 0:
        return []
    size = max(1, math.ceil(n / max(1, max_bars)))
    bars: list[Bar] = []
    running = 0.0
    for start in range(0, n, size):
        group = turns[start:start + size]
        values: dict[str, float] = {}
        cost = 0.0
        for turn in group:
            for comp, tokens in (turn.get("components") or {}).items():
                values[comp] = values.get(comp, 0.0) + float(tokens or 0)
            cost += float(turn.get("cost") or 0.0)
        if len(group) > 1:
            values = {c: v / len(group) for c, v in values.items()}
        running += cost
        said = cached_totals(group)
        cached = None if said is None else said[0] / len(group)
        cached_of = 0.0 if said is None else said[1] / len(group)
        bars.append(Bar(start, start + len(group) - 1, values, cost, running, cached, cached_of))
    return bars


class UsageChart(QWidget):
    """The usage chart. Keys of a turn's "components" are component names (COMPONENTS,
    plus "reply" for the reply's own tokens); unknown keys are drawn in grey."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._turns: list[Mapping] = []
        self._components: list[str] = []
        self._bars: list[Bar] = []
        self._rects: list[tuple[QRectF, QColor]] = []
        self._bar_slots: list[QRectF] = []  # full-height hit areas, one per bar
        self._cost_path = QPainterPath()
        self._cost_points: list[QPointF] = []  # the running cost at each bar's centre
        self._plot = QRectF()
        self._y_ticks: list[tuple[float, str]] = []
        self._x_ticks: list[tuple[float, str]] = []
        self._cost_max = 0.0
        self._header = ""
        self._cache_line = ""  # the session's cached prompt tokens, under the header
        self._hatches: list[QRectF] = []  # the cached part of each bar's prompt
        self._legend: list[tuple[QRectF, QColor, QRectF, str]] = []
        self._cost_legend = (QRectF(), QRectF())
        self._cached_legend = (QRectF(), QRectF())
        self.setAccessibleName("Usage chart")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- public API --------------------------------------------------------------------

    def set_turns(self, turns: Sequence[Mapping]) -> None:
        """One dict per turn: {"components": {component: tokens}, "cost": float,
        "label": str}, and optionally "prompt" (the prompt tokens the server billed) and
        "cached" (how many of them it read from its cache; None: it did not say)."""
        self._turns = list(turns)
        seen: set[str] = set()
        for turn in self._turns:
            seen.update((turn.get("components") or {}).keys())
        known = [c for c in (*COMPONENTS, "reply") if c in seen]
        self._components = known + sorted(seen - set(known))
        total_tokens = sum(sum((t.get("components") or {}).values()) for t in self._turns)
        total_cost = sum(float(t.get("cost") or 0.0) for t in self._turns)
        n = len(self._turns)
        self._header = (f"{n:,} turn{'s' if n != 1 else ''} · {format_tokens(total_tokens)} "
                        f"tokens · session cost {format_cost(total_cost)}") if n else ""
        self._cache_line = cache_line(self._turns)
        description = " · ".join(t for t in (self._header, self._cache_line) if t)
        self.setAccessibleDescription(description or EMPTY_TEXT)
        self._relayout()
        self.update()

    def bars(self) -> list[Bar]:
        return list(self._bars)

    def header_text(self) -> str:
        return self._header

    def cache_text(self) -> str:
        """The session's cached prompt tokens, as shown under the header ("" when no turn's
        server said)."""
        return self._cache_line

    def cached_rects(self) -> list[QRectF]:
        """Where the cached part of each bar's prompt is hatched."""
        return list(self._hatches)

    def cost_points(self) -> list[QPointF]:
        """Where the running session cost is drawn: one point per bar, at its centre
        (joined by a line when there are several; one turn is one dot)."""
        return list(self._cost_points)

    def bar_rect(self, i: int) -> QRectF:
        """The full-height hover area of bar i."""
        return QRectF(self._bar_slots[i])

    def bar_at(self, pos: QPointF) -> Bar | None:
        for bar, slot in zip(self._bars, self._bar_slots, strict=False):
            if slot.contains(pos):
                return bar
        return None

    def tooltip_for(self, bar: Bar) -> str:
        if bar.first == bar.last:
            title = str(self._turns[bar.first].get("label") or f"Turn {bar.first + 1}")
        else:
            title = f"Turns {bar.first + 1}–{bar.last + 1} (average per turn)"
        lines = [f"<b>{title}</b>"]
        for comp in self._components:
            if bar.values.get(comp):
                lines.append(f"{_label(comp)}: {format_tokens(bar.values[comp])}")
        lines.append(f"Total: {format_tokens(bar.total)} tokens")
        if bar.cached is not None:
            lines.append(f"Cached: {cached_text(bar.cached, bar.cached_of)} prompt tokens")
        else:
            lines.append("Cached: not reported by the server")
        lines.append(f"Cost: {format_cost(bar.cost)} · session so far "
                     f"{format_cost(bar.cumulative_cost)}")
        return "<br>".join(lines)

    # --- Qt overrides ------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        em = self.fontMetrics().height()
        return QSize(em * 28, em * 16)

    def minimumSizeHint(self) -> QSize:
        em = self.fontMetrics().height()
        return QSize(em * 14, em * 9)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._relayout()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._relayout()
            self.update()
        super().changeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            bar = self.bar_at(QPointF(event.pos()))
            if bar is not None:
                QToolTip.showText(event.globalPos(), self.tooltip_for(bar), self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        text = self.palette().color(self.foregroundRole())
        background = self.palette().color(self.backgroundRole())
        muted = blend(text, background, 0.6)
        if not self._turns:
            p.setPen(muted)
            p.drawText(self.rect().adjusted(12, 12, -12, -12),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, EMPTY_TEXT)
            p.end()
            return
        fm = QFontMetricsF(self.font())
        pad = round(fm.height() * 0.5)
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(text)
        p.drawText(QRectF(pad, pad, self.width() - 2 * pad, fm.height()),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self._header)
        p.setFont(self.font())
        left_mid = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        if self._cache_line:
            p.drawText(QRectF(pad, pad + fm.height(), self.width() - 2 * pad, fm.height()),
                       left_mid, self._cache_line)
        for chip, color, label_rect, label in self._legend:
            p.fillRect(chip, color)
            p.drawText(label_rect, left_mid, label)
        line = blend(text, background, 0.85)
        hatch = QBrush(blend(text, background, 0.7), Qt.BrushStyle.BDiagPattern)
        if self._cost_max > 0:
            line_rect, label_rect = self._cost_legend
            p.fillRect(line_rect, line)
            p.drawText(label_rect, left_mid, COST_LABEL)
        if self._hatches:
            chip_rect, label_rect = self._cached_legend
            p.fillRect(chip_rect, hatch)
            p.drawText(label_rect, left_mid, CACHED_LABEL)
        p.setPen(QPen(blend(text, background, 0.12), 1))
        for y, _label_text in self._y_ticks:
            p.drawLine(QPointF(self._plot.left(), y), QPointF(self._plot.right(), y))
        for rect, color in self._rects:
            p.fillRect(rect, color)
        for rect in self._hatches:
            p.fillRect(rect, hatch)
        p.setPen(muted)
        for y, label_text in self._y_ticks:
            p.drawText(QRectF(0, y - fm.height() / 2, self._plot.left() - 4, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label_text)
        for x, label_text in self._x_ticks:
            p.drawText(QRectF(x - 40, self._plot.bottom() + 2, 80, fm.height()),
                       Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, label_text)
        if self._cost_max > 0:
            right = QRectF(self._plot.right() + 4, self._plot.top() - fm.height() / 2,
                           self.width() - self._plot.right() - 4, fm.height())
            p.drawText(right, left_mid, format_cost(self._cost_max))
            p.drawText(right.translated(0, self._plot.height()), left_mid, "$0")
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setPen(QPen(line, 1.5))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(self._cost_path)
            if len(self._cost_points) == 1:  # one turn: its figure is a dot, not a line
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(line)
                radius = max(2.5, fm.height() * 0.18)
                p.drawEllipse(self._cost_points[0], radius, radius)
        p.end()

    # --- layout ------------------------------------------------------------------------

    def _relayout(self) -> None:
        self._rects, self._bar_slots, self._legend, self._hatches = [], [], [], []
        self._y_ticks, self._x_ticks = [], []
        self._cost_path = QPainterPath()
        self._cost_points = []
        if not self._turns:
            self._bars = []
            return
        fm = QFontMetricsF(self.font())
        em = fm.height()
        pad = round(em * 0.5)
        dark = is_dark(self)
        w, h = float(self.width()), float(self.height())

        # legend row(s) under the header (and its cache line): components, the cost line
        # and, when a server said, the hatching of cached prompt tokens
        x, y = float(pad), pad + em * (2 if self._cache_line else 1) + pad * 0.6
        chip = fm.ascent() * 0.8
        for comp in self._components:
            label = _label(comp)
            width = chip + 4 + fm.horizontalAdvance(label) + pad * 1.5
            if x + width > w - pad and x > pad:
                x, y = float(pad), y + em * 1.2
            self._legend.append((QRectF(x, y + (em - chip) / 2, chip, chip),
                                 component_color(comp, dark),
                                 QRectF(x + chip + 4, y, width, em), label))
            x += width
        width = em * 1.2 + 4 + fm.horizontalAdvance(COST_LABEL) + 2
        if x + width > w - pad and x > pad:
            x, y = float(pad), y + em * 1.2
        self._cost_legend = (QRectF(x, y + em / 2 - 1, em * 1.2, 2),
                             QRectF(x + em * 1.2 + 4, y, width, em))
        x += width + pad * 1.5
        if self._cache_line:
            width = chip + 4 + fm.horizontalAdvance(CACHED_LABEL) + 2
            if x + width > w - pad and x > pad:
                x, y = float(pad), y + em * 1.2
            self._cached_legend = (QRectF(x, y + (em - chip) / 2, chip, chip),
                                   QRectF(x + chip + 4, y, width, em))
        top = y + em + pad

        left = pad + fm.horizontalAdvance("000.0k") + 6
        right_axis = fm.horizontalAdvance("$0.0000") + 8
        plot = QRectF(left, top + em * 0.5, max(10.0, w - left - right_axis - pad),
                      max(10.0, h - top - em * 0.5 - em - pad * 1.5))
        self._plot = plot

        self._bars = group_turns(self._turns, int(plot.width() / MIN_BAR_PX))
        peak = max((b.total for b in self._bars), default=0.0)
        step = nice_step(peak / 4)
        y_max = step * max(1, math.ceil(peak / step))
        for i in range(round(y_max / step) + 1):
            value = step * i
            self._y_ticks.append((plot.bottom() - plot.height() * value / y_max,
                                  format_tokens_short(value)))

        n = len(self._bars)
        slot = plot.width() / n
        gap = min(max(1.0, slot * 0.2), em * 0.6)
        colors = {c: component_color(c, dark) for c in self._components}
        for i, bar in enumerate(self._bars):
            x0 = plot.left() + i * slot
            self._bar_slots.append(QRectF(x0, plot.top(), slot, plot.height()))
            base = plot.bottom()
            for comp in self._components:
                value = bar.values.get(comp, 0.0)
                if value <= 0:
                    continue
                height = plot.height() * value / y_max
                self._rects.append((QRectF(x0 + gap / 2, base - height, slot - gap, height),
                                    colors[comp]))
                base -= height
            share = bar.cached_share
            if share:
                # the cache holds the start of the prompt: the bottom of the stack (the
                # components go in request order), scaled to our count of the prompt
                prompt = sum(v for c, v in bar.values.items() if c != "reply")
                height = plot.height() * prompt * share / y_max
                if height > 0:
                    self._hatches.append(QRectF(x0 + gap / 2, plot.bottom() - height,
                                                slot - gap, height))

        # x labels at round turn numbers, as many as fit without overlapping
        turns = len(self._turns)
        group = self._bars[0].last - self._bars[0].first + 1
        label_w = fm.horizontalAdvance(f"{turns:,}") + em * 1.5
        fit = max(1, int(plot.width() / label_w))
        every = 1 if turns <= fit else int(nice_step(turns / fit, (1, 2, 5)))
        for turn in range(every, turns + 1, every):
            x = plot.left() + ((turn - 1) // group + 0.5) * slot
            if x + fm.horizontalAdvance(f"{turn:,}") / 2 <= plot.right() + pad:
                self._x_ticks.append((x, f"{turn:,}"))

        self._cost_max = self._bars[-1].cumulative_cost
        if self._cost_max > 0:
            # the running cost after each bar's turns, over the bar: a line from one to
            # the next (never from a zero before the first turn)
            self._cost_points = [
                QPointF(plot.left() + (i + 0.5) * slot,
                        plot.bottom() - plot.height() * bar.cumulative_cost / self._cost_max)
                for i, bar in enumerate(self._bars)]
            path = QPainterPath(self._cost_points[0])
            for point in self._cost_points[1:]:
                path.lineTo(point)
            self._cost_path = path
