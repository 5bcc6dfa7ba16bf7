"""The Prompt Lab's count table under each variant: per chosen model, the variant's
tokens, whether that count is exact or estimated, and the input cost of a thousand
calls that each send the variant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from desktop_app.ui.figures import format_cost, format_tokens

if TYPE_CHECKING:
    from desktop_app.core.catalog import ModelInfo

CALLS = 1000


def cost_per_thousand(model: ModelInfo, tokens: int) -> float:
    """Input cost of CALLS calls that each send `tokens` tokens."""
    return tokens * model.input_per_million * CALLS / 1_000_000


class CountTable(QTableWidget):
    """Model, tokens, exact or estimated, cost per CALLS calls: one row per model."""

    def __init__(self, title: str, row_height: int) -> None:
        super().__init__(0, 4)
        self.setHorizontalHeaderLabels(["Model", "Tokens", "Count", f"Per {CALLS:,} calls"])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAccessibleName(f"{title} counts per model")
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setDefaultSectionSize(row_height)

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [tuple(self.item(r, c).text() for c in range(4))  # type: ignore[misc]
                for r in range(self.rowCount())]

    def show_counts(self, models: Sequence[ModelInfo], counts: Mapping[str, int],
                    counting: bool) -> None:
        """Fill the rows; while `counting`, the figures say so instead."""
        self.setRowCount(len(models))
        for row, model in enumerate(models):
            tokens = None if counting else counts.get(model.encoding)
            cells = [
                model.name,
                "counting…" if tokens is None else format_tokens(tokens),
                "exact" if model.exact else "estimated",
                ("—" if not model.input_per_million else
                 "…" if tokens is None else format_cost(cost_per_thousand(model, tokens))),
            ]
            for col, text in enumerate(cells):
                item = self.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    if col in (1, 3):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    self.setItem(row, col, item)
                item.setText(text)
            tip = (f"{model.name}: {model.encoding}, "
                   + ("the model's own tokenizer" if model.exact else
                      "an approximation of the model's tokenizer"))
            self.item(row, 2).setToolTip(tip)
            if not model.input_per_million:
                self.item(row, 3).setToolTip("No list price (a local or free model)")
        rows = max(1, len(models))
        self.setFixedHeight(self.horizontalHeader().height()
                            + self.verticalHeader().defaultSectionSize() * rows + 4)
