"""Where the budget gauge puts things: the bar, the headline lines, the legend rows
(beside a vertical bar, or in one or two columns under a horizontal one) and the cost
line, with their texts elided to fit; computed when the size, font or texts change,
never while painting. Also the sizes the gauge asks its layout for."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainterPath

from desktop_app.ui.palette import GAUGE_ORDER

if TYPE_CHECKING:
    from desktop_app.ui.gauge_texts import GaugeTexts


@dataclass
class LegendRow:
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


@dataclass
class GaugeLayout:
    """Rectangles and the texts as shown (elided) for one size, font and set of texts.
    A compact gauge has only its bar."""

    bold: QFont
    bar: QRectF = field(default_factory=QRectF)
    bar_path: QPainterPath = field(default_factory=QPainterPath)
    header_rect: QRectF = field(default_factory=QRectF)
    subtitle_rect: QRectF = field(default_factory=QRectF)
    status_rect: QRectF = field(default_factory=QRectF)
    cost_rect: QRectF = field(default_factory=QRectF)
    subtitle_shown: str = ""
    status_shown: str = ""
    cost_shown: str = ""
    legend: list[LegendRow] = field(default_factory=list)


def lay_out(font: QFont, width: float, height: float, orientation: Qt.Orientation,
            compact: bool, texts: GaugeTexts, cost_text: str) -> GaugeLayout:
    """Rectangles and elided texts for the current size, font and report."""
    fm = QFontMetricsF(font)
    bold = QFont(font)
    bold.setBold(True)
    fmb = QFontMetricsF(bold)
    out = GaugeLayout(bold)
    em = fm.height()
    w, h = width, height
    pad = round(em * 0.5)
    if compact:
        out.bar = QRectF(1, 1, max(0.0, w - 2), max(0.0, h - 2))
        out.bar_path = bar_path(out.bar, em)
        return out
    line = math.ceil(em * 1.3)
    out.header_rect = QRectF(pad, pad, w - 2 * pad, line)
    out.subtitle_rect = QRectF(pad, pad + line, w - 2 * pad, line)
    out.status_rect = QRectF(pad, pad + 2 * line, w - 2 * pad, line)
    out.subtitle_shown = fm.elidedText(texts.subtitle, Qt.TextElideMode.ElideRight,
                                       out.subtitle_rect.width())
    out.status_shown = fm.elidedText(texts.status, Qt.TextElideMode.ElideRight,
                                     out.status_rect.width())
    top = pad + 3 * line + pad
    cost_h = line if cost_text else 0.0
    out.cost_rect = QRectF(pad, h - pad - cost_h, w - 2 * pad, cost_h)
    bottom = h - pad - cost_h - (pad if cost_h else 0)
    row_h = math.ceil(em * 1.45)
    rows = len(texts.rows)
    if orientation == Qt.Orientation.Vertical:
        bar_w = max(28.0, round(em * 2.6))
        out.bar = QRectF(pad, top, bar_w, max(0.0, bottom - top))
        left = pad + bar_w + pad * 1.5
        legend = [QRectF(left, top + i * row_h, w - pad - left, row_h) for i in range(rows)]
    else:
        bar_h = round(em * 1.8)
        out.bar = QRectF(pad, top, max(0.0, w - 2 * pad), bar_h)
        legend_top = top + bar_h + pad
        cols = legend_columns(w, em)
        col_w = (w - 2 * pad - (cols - 1) * pad * 2) / cols
        per_col = math.ceil(rows / cols)
        legend = [
            QRectF(pad + (i // per_col) * (col_w + pad * 2),
                   legend_top + (i % per_col) * row_h, col_w, row_h)
            for i in range(rows)
        ]
        # the cost line follows the legend rather than sticking to the bottom edge
        legend_bottom = legend_top + per_col * row_h
        out.cost_rect = QRectF(pad, legend_bottom + pad, w - 2 * pad, cost_h)
    out.cost_shown = fm.elidedText(cost_text, Qt.TextElideMode.ElideRight, out.cost_rect.width())
    chip = fm.ascent() * 0.85
    for text, rect in zip(texts.rows, legend, strict=False):
        chip_rect = QRectF(rect.left(), rect.center().y() - chip / 2, chip, chip)
        text_left = chip_rect.right() + pad
        avail = rect.right() - text_left
        metrics = fmb if text.over else fm
        shown_numbers = text.numbers
        if metrics.horizontalAdvance(text.numbers) > avail * 0.6:
            shown_numbers = text.short
        num_w = metrics.horizontalAdvance(shown_numbers)
        label_w = max(0.0, avail - num_w - pad)
        row = LegendRow(
            text.component, text.label, text.numbers, text.over, rect, chip_rect,
            QRectF(text_left, rect.top(), label_w, rect.height()),
            QRectF(rect.right() - num_w - 1, rect.top(), num_w + 1, rect.height()),
        )
        row.shown_label = fm.elidedText(text.label, Qt.TextElideMode.ElideRight, label_w)
        row.shown_numbers = shown_numbers
        out.legend.append(row)
    out.bar_path = bar_path(out.bar, em)
    return out


def bar_path(bar: QRectF, em: float) -> QPainterPath:
    """The bar's outline: a rectangle with rounded corners."""
    path = QPainterPath()
    if not bar.isEmpty():
        radius = min(em * 0.35, bar.width() / 2, bar.height() / 2)
        path.addRoundedRect(bar, radius, radius)
    return path


def segment_rects(bar: QRectF, values: list[tuple[float, float]], vertical: bool) -> list[QRectF]:
    """Each segment's rectangle on the bar, for (extent, filled) window fractions."""
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


def legend_columns(width: float, em: float) -> int:
    """Under a horizontal bar the legend takes two columns when there is room."""
    return 2 if width - em >= em * 30 else 1


def vertical_height(em: int) -> int:
    pad, line, row_h = round(em * 0.5), math.ceil(em * 1.3), math.ceil(em * 1.45)
    return pad * 4 + line * 4 + row_h * len(GAUGE_ORDER)


def horizontal_height(em: int, columns: int) -> int:
    pad, line, row_h = round(em * 0.5), math.ceil(em * 1.3), math.ceil(em * 1.45)
    rows = math.ceil(len(GAUGE_ORDER) / columns)
    return pad * 5 + line * 4 + round(em * 1.8) + row_h * rows
