"""Painting the budget gauge from its laid-out state: the colours it paints with
(taken from the widget's palette, so a theme switch is followed), the stacked bar
with each segment's budget tinted, its used part solid and an over-budget segment
hatched red, and the texts around it. A paint is a handful of fillRect and drawText
calls: everything that allocates was done when the report or the size changed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen

from desktop_app.ui.gauge_layout import GaugeLayout, segment_rects
from desktop_app.ui.palette import (
    GAUGE_ORDER,
    allocation_color,
    blend,
    chip_border,
    component_color,
    is_dark,
    warning_color,
)

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from desktop_app.ui.gauge_texts import GaugeTexts


@dataclass
class GaugeColors:
    components: dict[str, tuple[QColor, QColor]]  # (solid, tint) per component
    warn: QColor
    warn_hatch: QBrush
    separator: QColor
    text: QColor
    muted: QColor
    border: QColor


def gauge_colors(widget: QWidget) -> GaugeColors:
    """The colours for the widget's palette, light or dark."""
    dark = is_dark(widget)
    background = widget.palette().color(widget.backgroundRole())
    warn = warning_color(dark)
    text = widget.palette().color(widget.foregroundRole())
    return GaugeColors(
        components={
            comp: (component_color(comp, dark), allocation_color(comp, dark, background))
            for comp in GAUGE_ORDER
        },
        warn=warn,
        warn_hatch=QBrush(blend(QColor("white"), warn, 0.35), Qt.BrushStyle.BDiagPattern),
        separator=background,
        text=text,
        muted=blend(text, background, 0.62),
        border=chip_border(dark),
    )


def paint_bar(p: QPainter, layout: GaugeLayout, shown: list[tuple[float, float]],
              over: list[bool], colors: GaugeColors, vertical: bool) -> None:
    """The stacked bar at the `shown` (extent, filled) fractions of the window."""
    bar = layout.bar
    if bar.isEmpty():
        return
    p.save()
    p.setClipPath(layout.bar_path)
    rects = segment_rects(bar, shown, vertical)
    for i, comp in enumerate(GAUGE_ORDER):
        rect = rects[i]
        if rect.width() <= 0 or rect.height() <= 0:
            continue
        solid, tint = colors.components[comp]
        if over[i]:
            p.fillRect(rect, colors.warn)
            p.fillRect(rect, colors.warn_hatch)
            continue
        p.fillRect(rect, tint)
        filled = shown[i][1]
        if filled > 0:
            span = filled * (bar.height() if vertical else bar.width())
            if vertical:
                used = QRectF(rect.left(), rect.top(), rect.width(), min(span, rect.height()))
            else:
                used = QRectF(rect.left(), rect.top(), min(span, rect.width()), rect.height())
            p.fillRect(used, solid)
    # hairline separators between segments, in the page colour
    pen = QPen(colors.separator, max(1.0, bar.width() / 200 if not vertical else 1.0))
    p.setPen(pen)
    for rect in rects[:-1]:
        if vertical and rect.height() > 0:
            p.drawLine(QPointF(bar.left(), rect.bottom()), QPointF(bar.right(), rect.bottom()))
        elif not vertical and rect.width() > 0:
            p.drawLine(QPointF(rect.right(), bar.top()), QPointF(rect.right(), bar.bottom()))
    p.restore()
    p.setPen(QPen(colors.border, 1.0))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(layout.bar_path)


def paint_texts(p: QPainter, font: QFont, layout: GaugeLayout, texts: GaugeTexts,
                colors: GaugeColors, over: list[bool], title: str, cost_text: str) -> None:
    """The headline, the status line, the legend rows and the cost line."""
    text_color = colors.text
    bold = layout.bold
    p.setFont(bold)
    p.setPen(text_color)
    p.drawText(layout.header_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
               title)
    if texts.percent:
        p.setPen(colors.warn if texts.percent_warn else text_color)
        p.drawText(layout.header_rect,
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   texts.percent)
    p.setFont(font)
    p.setPen(text_color)
    p.drawText(layout.subtitle_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
               layout.subtitle_shown)
    p.setPen(colors.warn if texts.status_warn else colors.muted)
    p.drawText(layout.status_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
               layout.status_shown)
    border = colors.border
    for row in layout.legend:
        i = GAUGE_ORDER.index(row.component)
        color = colors.warn if row.over else colors.components[row.component][0]
        if row.component == "free":
            color = colors.components["free"][0]
        p.setPen(QPen(border, 1.0))
        p.setBrush(color)
        p.drawRoundedRect(row.chip, 2.0, 2.0)
        p.setPen(colors.warn if over[i] else text_color)
        p.drawText(row.label_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   row.shown_label)
        if row.over:
            p.setFont(bold)
        else:
            p.setPen(colors.muted if row.component == "free" else text_color)
        p.drawText(row.numbers_rect,
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   row.shown_numbers)
        if row.over:
            p.setFont(font)
    if cost_text:
        p.setPen(text_color)
        p.drawText(layout.cost_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   layout.cost_shown)
