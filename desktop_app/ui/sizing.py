"""Sizes measured from the font and the style, not guessed in pixels: a column wide
enough for the widest figure it can show, a table tall enough for a number of rows,
an editor tall enough for a number of lines, and the first window's place on a screen."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QAbstractItemView, QAbstractScrollArea, QPlainTextEdit, QStyle

# The first window: this size where the screen has room, the screen's available area
# (less room for the window's frame and title bar) where it has not.
FIRST_SIZE = (1360, 860)
FRAME_ALLOWANCE = (16, 48)  # a title bar and borders, drawn outside the window's size

# The conversation's cards: their margin from the list's edge, and the widest a card
# grows (lines longer than this are hard to read: wide windows centre the cards).
CARD_PAD_X = 14
CARD_MAX_WIDTH = 920


def card_width(width: int) -> int:
    """A conversation card's width in a list `width` wide."""
    return min(width - 2 * CARD_PAD_X, CARD_MAX_WIDTH)


def column_margin(width: int, inset: int = 0) -> int:
    """Side margin that lines an area up with the conversation's cards (`inset`: how far
    inside the card the area's content starts)."""
    return (width - card_width(width)) // 2 + inset


# What a Tokens column has to hold: a message of ten million tokens is past every window.
WIDEST_TOKENS = "0,000,000"


def first_window_geometry(available: QRect, wanted: tuple[int, int] = FIRST_SIZE,
                          minimum: tuple[int, int] = (0, 0)) -> QRect:
    """Where the first window goes on a screen whose available area (without task bars
    and docks: QScreen.availableGeometry) is `available`: `wanted`, shrunk to fit with
    room for the frame, never under `minimum`, centred."""
    room_w = available.width() - FRAME_ALLOWANCE[0]
    room_h = available.height() - FRAME_ALLOWANCE[1]
    width = max(min(wanted[0], room_w), minimum[0])
    height = max(min(wanted[1], room_h), minimum[1])
    left = available.left() + max((available.width() - width - FRAME_ALLOWANCE[0]) // 2, 0)
    top = available.top() + max((available.height() - height - FRAME_ALLOWANCE[1]) // 2, 0)
    return QRect(left, top, width, height)


def cell_padding(view: QAbstractItemView) -> int:
    """What an item view's cell adds around its text, left and right together (the
    style's text margins, as QStyledItemDelegate lays a cell out), plus a pixel."""
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view)
    return 2 * (margin + 1) + 1


def column_width(view: QAbstractItemView, column: int, samples: Iterable[str]) -> int:
    """A column wide enough for the widest of `samples` in the view's font and for its
    header's title."""
    fm = view.fontMetrics()
    text = max((fm.horizontalAdvance(s) for s in samples), default=0) + cell_padding(view)
    header = getattr(view, "header", None) or getattr(view, "horizontalHeader", None)
    title = header().sectionSizeHint(column) if header is not None else 0
    return max(text, title)


def scroll_bar_extent(widget: QAbstractScrollArea) -> int:
    return widget.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, widget)


def table_height(view: QAbstractItemView, rows: int, row_height: int,
                 header_height: int = 0, horizontal_bar: bool = True) -> int:
    """A table's height for `rows` rows of `row_height` under a header of
    `header_height`, with its frame and room for a horizontal scroll bar."""
    frame = 2 * view.frameWidth()
    bar = scroll_bar_extent(view) if horizontal_bar else 0
    return header_height + rows * row_height + frame + bar


def item_row_height(view: QAbstractItemView, decorated: bool = False) -> int:
    """The height of a one-line row in `view`: the font's line, or the icon size when
    rows carry a decoration, and the style's margins."""
    fm = view.fontMetrics()
    height = fm.height()
    if decorated:
        icon = view.iconSize()
        height = max(height, icon.height() if icon.isValid() else view.style().pixelMetric(
            QStyle.PixelMetric.PM_SmallIconSize, None, view))
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameVMargin, None, view)
    return height + max(margin, 1)


def editor_height(editor: QPlainTextEdit, lines: int) -> int:
    """A plain-text editor's height for `lines` lines of its font."""
    margins = editor.contentsMargins()
    doc = 2 * round(editor.document().documentMargin())
    return (lines * editor.fontMetrics().lineSpacing() + doc + margins.top() + margins.bottom()
            + 2 * editor.frameWidth())


__all__ = [
    "FIRST_SIZE",
    "WIDEST_TOKENS",
    "cell_padding",
    "column_width",
    "editor_height",
    "first_window_geometry",
    "item_row_height",
    "scroll_bar_extent",
    "table_height",
]
