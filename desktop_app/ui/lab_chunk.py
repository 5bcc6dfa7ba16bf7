"""The Prompt Lab's Chunk tab: a long pasted document split, on a worker thread, into
chunks that each fit a token budget, overlapping by a few tokens; listed with their
sizes and first words."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.controller.operations import Scope
from desktop_app.ui.figures import format_tokens

if TYPE_CHECKING:
    from desktop_app.ui.prompt_lab import PromptLab


class ChunkPage(QWidget):
    """The document, the budget and overlap per chunk, and the chunks. `optimize` is
    desktop_app.core.optimize, or None when this build lacks it."""

    def __init__(self, lab: PromptLab, optimize: Any | None) -> None:
        super().__init__()
        self.lab = lab
        self._optimize = optimize
        self.document_edit = QPlainTextEdit()
        self.document_edit.setPlaceholderText("Paste a long document here to split it into "
                                              "chunks that each fit a budget.")
        self.document_edit.setAccessibleName("Document to chunk")
        self.chunk_budget = QSpinBox()
        self.chunk_budget.setRange(16, 1_000_000)
        self.chunk_budget.setValue(1000)
        self.chunk_budget.setSuffix(" tokens")
        self.chunk_budget.setAccessibleName("Chunk budget")
        self.chunk_overlap = QSpinBox()
        self.chunk_overlap.setRange(0, 100_000)
        self.chunk_overlap.setValue(100)
        self.chunk_overlap.setSuffix(" tokens")
        self.chunk_overlap.setAccessibleName("Chunk overlap")
        self.chunk_button = QPushButton("Chunk")
        self.chunk_status = QLabel()
        self.chunk_status.setWordWrap(True)
        self.chunk_list = QTreeWidget()
        self.chunk_list.setHeaderLabels(["#", "Tokens", "Starts with"])
        self.chunk_list.setRootIsDecorated(False)
        self.chunk_list.setAccessibleName("Chunks")
        self.chunk_list.setUniformRowHeights(True)
        header = self.chunk_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self._chunks: list[Any] = []
        self._scope = Scope()  # moves on with each request: only the newest is listed

        row = QHBoxLayout()
        row.addWidget(QLabel("Budget per chunk:"))
        row.addWidget(self.chunk_budget)
        row.addWidget(QLabel("Overlap:"))
        row.addWidget(self.chunk_overlap)
        row.addWidget(self.chunk_button)
        row.addStretch(1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.document_edit)
        split.addWidget(self.chunk_list)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        layout.addWidget(self.chunk_status)
        self.chunk_button.clicked.connect(self.chunk_document)
        if self._optimize is None or not hasattr(self._optimize, "chunk_by_tokens"):
            self.chunk_button.setEnabled(False)
            self.chunk_status.setText("Chunking needs the optimizer module "
                                      "(desktop_app.core.optimize), which this build lacks.")

    def chunk_document(self) -> None:
        """Split the pasted document on a worker thread; results replace the list."""
        if self._optimize is None:
            return
        text = self.document_edit.toPlainText()
        if not text.strip():
            self.chunk_status.setText("Paste a document first.")
            return
        budget, overlap = self.chunk_budget.value(), self.chunk_overlap.value()
        if overlap >= budget:
            self.chunk_status.setText("The overlap must be smaller than the budget per chunk.")
            return
        enc = self.lab.primary_encoding()
        chunker = self._optimize.chunk_by_tokens
        self.chunk_status.setText("Chunking…")
        self.chunk_button.setEnabled(False)
        self._chunk_args = (budget, overlap, enc)
        self._scope.advance()
        self.lab.operations.run(lambda: chunker(text, budget, overlap, enc), self._chunked,
                                self._chunk_failed, serial=False, stamp=self._scope.stamp())

    def _chunked(self, result: list[Any]) -> None:
        self.chunk_button.setEnabled(True)
        self.chunk_list.clear()
        budget, overlap, enc = self._chunk_args
        items = []
        for chunk in result:
            item = QTreeWidgetItem([str(chunk.index + 1), format_tokens(chunk.tokens),
                                    " ".join(chunk.text[:300].split())])
            item.setToolTip(2, chunk.text[:1500])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            items.append(item)
        self.chunk_list.addTopLevelItems(items)
        self._chunks = list(result)
        n = len(result)
        total = sum(c.tokens for c in result)
        self.chunk_status.setText(
            f"{n:,} chunk{'s' if n != 1 else ''} of at most {format_tokens(budget)} tokens, "
            f"{format_tokens(overlap)} overlapping ({format_tokens(total)} tokens in all, "
            f"{enc}).")

    def _chunk_failed(self, message: str) -> None:
        self.chunk_button.setEnabled(True)
        self.chunk_list.clear()
        self.chunk_status.setText(f"Could not chunk: {message}")

    def chunks(self) -> list[Any]:
        """The chunks listed now (optimize.Chunk objects)."""
        return list(self._chunks)
