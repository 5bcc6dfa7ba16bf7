"""The Prompt Lab's Chunk tab: a long pasted document split, on a worker thread, into
chunks that each fit a token budget, cut between sentences or words and overlapping by
up to a few tokens; listed with their sizes and first words. With a query, each chunk
shows its relevance (BM25, the best = 100%) and the relevant ones are kept, the most
relevant first within an optional budget, as `token-budget chunk --query` does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
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
from desktop_app.ui.context_panel import plain_tooltip
from desktop_app.ui.figures import format_percent, format_tokens

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
        self.query_edit = QLineEdit()
        self.query_edit.setPlaceholderText("Query (optional): rank the chunks by relevance to it")
        self.query_edit.setAccessibleName("Query")
        self.query_edit.setClearButtonEnabled(True)
        self.keep_budget = QSpinBox()
        self.keep_budget.setRange(0, 10_000_000)
        self.keep_budget.setValue(0)
        self.keep_budget.setSuffix(" tokens")
        self.keep_budget.setSpecialValueText("every relevant chunk")
        self.keep_budget.setAccessibleName("Budget for the relevant chunks")
        self.keep_budget.setToolTip("With a query: keep the most relevant chunks that fit in "
                                    "this many tokens (0: every chunk relevant to the query)")
        self.chunk_button = QPushButton("Chunk")
        self.chunk_status = QLabel()
        self.chunk_status.setTextFormat(Qt.TextFormat.PlainText)
        self.chunk_status.setWordWrap(True)
        self.chunk_status.setAccessibleName("Chunking result")
        self.chunk_list = QTreeWidget()
        self.chunk_list.setHeaderLabels(["#", "Tokens", "Relevance", "Starts with"])
        self.chunk_list.setRootIsDecorated(False)
        self.chunk_list.setAccessibleName("Chunks")
        self.chunk_list.setUniformRowHeights(True)
        header = self.chunk_list.header()
        for column in (0, 1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self._chunks: list[Any] = []
        self._relevance: list[float] | None = None  # per chunk, with a query
        self._kept: set[int] = set()  # indexes of the chunks kept for the query
        self._scope = Scope()  # moves on with each request: only the newest is listed

        row = QHBoxLayout()
        row.addWidget(QLabel("Budget per chunk:"))
        row.addWidget(self.chunk_budget)
        row.addWidget(QLabel("Overlap up to:"))
        row.addWidget(self.chunk_overlap)
        row.addWidget(self.chunk_button)
        row.addStretch(1)
        query_row = QHBoxLayout()
        query_row.addWidget(QLabel("Query:"))
        query_row.addWidget(self.query_edit, 1)
        query_row.addWidget(QLabel("Keep within:"))
        query_row.addWidget(self.keep_budget)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.document_edit)
        split.addWidget(self.chunk_list)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(query_row)
        layout.addWidget(split, 1)
        layout.addWidget(self.chunk_status)
        self.chunk_button.clicked.connect(self.chunk_document)
        self.query_edit.returnPressed.connect(self.chunk_document)
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
        query, keep = self.query_edit.text().strip(), self.keep_budget.value()
        optimize = self._optimize

        def work() -> tuple[list[Any], list[float] | None, set[int]]:
            chunks = optimize.chunk_by_tokens(text, budget, overlap, enc)
            if not query:
                return chunks, None, set()
            ranked = optimize.rank_chunks(chunks, query)
            kept = (optimize.select_relevant(chunks, query, keep) if keep
                    else [s for s in ranked if s.relevance > 0])
            return chunks, [s.relevance for s in ranked], {s.chunk.index for s in kept}

        self.chunk_status.setText("Chunking…")
        self.chunk_button.setEnabled(False)
        self._chunk_args = (budget, overlap, enc, query, keep)
        self._scope.advance()
        self.lab.operations.run(work, self._chunked, self._chunk_failed, serial=False,
                                stamp=self._scope.stamp())

    def _chunked(self, result: tuple[list[Any], list[float] | None, set[int]]) -> None:
        chunks, relevance, kept = result
        self.chunk_button.setEnabled(True)
        self.chunk_list.clear()
        budget, overlap, enc, query, keep = self._chunk_args
        muted = QBrush(self.lab.muted_color())
        items = []
        for chunk in chunks:
            share = "—" if relevance is None else format_percent(relevance[chunk.index])
            if relevance is not None and chunk.index in kept:
                share += " · kept"
            item = QTreeWidgetItem([str(chunk.index + 1), format_tokens(chunk.tokens), share,
                                    " ".join(chunk.text[:300].split())])
            item.setToolTip(3, plain_tooltip(chunk.text[:1500]))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if relevance is not None and chunk.index not in kept:
                for column in range(4):
                    item.setForeground(column, muted)
            items.append(item)
        self.chunk_list.addTopLevelItems(items)
        self._chunks = list(chunks)
        self._relevance = relevance
        self._kept = set(kept) if relevance is not None else set()
        n = len(chunks)
        total = sum(c.tokens for c in chunks)
        text = (f"{n:,} chunk{'s' if n != 1 else ''} of at most {format_tokens(budget)} tokens, "
                f"cut between sentences or words, up to {format_tokens(overlap)} overlapping "
                f"({format_tokens(total)} tokens in all, {enc}).")
        cut = [c.index + 1 for c in chunks if not c.whole_words]
        if cut:
            text += (f" A word longer than a chunk had to be cut inside (chunk "
                     f"{', '.join(map(str, cut[:5]))}{', …' if len(cut) > 5 else ''}).")
        if relevance is not None:
            used = sum(chunks[i].tokens for i in self._kept)
            within = f" within {format_tokens(keep)}" if keep else ""
            if self._kept:
                best = max(self._kept, key=lambda i: (relevance[i], -i))
                text += (f" Query “{query}”: kept {len(self._kept)} relevant chunk"
                         f"{'s' if len(self._kept) != 1 else ''} ({format_tokens(used)} tokens"
                         f"{within}); the most relevant is chunk {best + 1}.")
            else:
                text += f" Query “{query}”: no chunk is relevant to it{within}."
        self.chunk_status.setText(text)

    def _chunk_failed(self, message: str) -> None:
        self.chunk_button.setEnabled(True)
        self.chunk_list.clear()
        self.chunk_status.setText(f"Could not chunk: {message}")

    def chunks(self) -> list[Any]:
        """The chunks listed now (optimize.Chunk objects)."""
        return list(self._chunks)

    def relevance(self) -> list[float] | None:
        """Each listed chunk's relevance to the query (the best = 1), or None without one."""
        return None if self._relevance is None else list(self._relevance)

    def kept(self) -> list[int]:
        """The indexes of the chunks kept for the query, in document order."""
        return sorted(self._kept)
