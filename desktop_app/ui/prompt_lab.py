"""Prompt Lab: offline drafting. Variants of a prompt side by side, each counted for
several models (exact or estimated), a per-sentence token heatmap, the difference
between two variants, the optimizer's compression suggestions, chunking of a long
document into a budget, and the cost of a thousand calls. No network anywhere.

Counting never blocks the window: a text under LONG_TEXT_CHARS is recounted
incrementally (tokens.DraftCounter) on each keystroke; a longer one is counted on the
thread pool after a short pause in typing, and a result that arrives after a newer edit
is thrown away (generation counter)."""

from __future__ import annotations

import difflib
import html
import importlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, QRunnable, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFont,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTextBrowser,
    QToolButton,
    QToolTip,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.catalog import Catalog, ModelInfo, default_catalog
from desktop_app.core.tokens import DraftCounter, count_text
from desktop_app.ui.gauge import format_cost, format_tokens
from desktop_app.ui.palette import (
    blend,
    deleted_color,
    heat_color,
    inserted_color,
    is_dark,
    ok_color,
    warning_color,
)

LONG_TEXT_CHARS = 50_000  # above this: count on the thread pool, no heatmap, no word diff
COUNT_PAUSE_MS = 150  # a long text is counted once typing pauses this long
DIFF_PAUSE_MS = 250
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3.5-sonnet")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CALLS = 1000

# a sentence ends at . ! ? followed by a space or the end ("v2.3.1" and "e.g.x" go on)
_SENTENCE = re.compile(r"(?:[^.!?。！？]|[.!?](?![\"')\]]*(?:\s|$)))+(?:[.!?。！？]+[\"')\]]*)?\s*")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, length) of each sentence in one line of text."""
    return [(m.start(), m.end() - m.start()) for m in _SENTENCE.finditer(text) if m.group().strip()]


def tokens_per_word(sentence: str, encoding: str) -> tuple[int, int, float]:
    """(tokens, words, tokens per word) of a sentence."""
    tokens = count_text(sentence, encoding)
    words = max(1, len(sentence.split()))
    return tokens, words, tokens / words


def heat_level(density: float) -> float:
    """0 for plain prose (about 1.3 tokens a word), 1 for dense text (3 or more: code,
    numbers, rare words)."""
    return max(0.0, min(1.0, (density - 1.3) / 1.7))


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, text) pieces turning old into new: op is "=", "-" or "+"."""
    a = re.findall(r"\S+|\s+", old)
    b = re.findall(r"\S+|\s+", new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", "".join(a[i1:i2])))
        else:
            if i2 > i1:
                out.append(("-", "".join(a[i1:i2])))
            if j2 > j1:
                out.append(("+", "".join(b[j1:j2])))
    return out


def signed(n: int) -> str:
    return f"+{format_tokens(n)}" if n > 0 else ("−" + format_tokens(-n) if n < 0 else "±0")


def signed_percent(fraction: float) -> str:
    return f"{fraction:+.0%}".replace("-", "−")


def cost_per_thousand(model: ModelInfo, tokens: int) -> float:
    """Input cost of CALLS calls that each send `tokens` tokens."""
    return tokens * model.input_per_million * CALLS / 1_000_000


# --- the optimizer, when it is there -------------------------------------------------

def optimizer() -> Any | None:
    """desktop_app.core.optimize if it is installed with this build, else None."""
    try:
        return importlib.import_module("desktop_app.core.optimize")
    except ImportError:
        return None


# --- background counting ---------------------------------------------------------------

class _Poster(QObject):
    """Carries a worker's result back to the GUI thread (queued signal)."""

    done = Signal(int, object)  # generation, result


class _Job(QRunnable):
    def __init__(self, generation: int, work: Callable[[], Any], poster: _Poster) -> None:
        super().__init__()
        self._generation = generation
        self._work = work
        self._poster = poster

    def run(self) -> None:
        try:
            result = self._work()
        except Exception as exc:  # noqa: BLE001 - any failure is shown as one line, not lost
            result = exc
        try:
            self._poster.done.emit(self._generation, result)
        except RuntimeError:  # the widget went away while we counted
            pass


class BackgroundRunner(QObject):
    """Runs one kind of work at a time on the global pool; only the newest result is
    delivered (`finished(result)`), older ones are dropped."""

    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.generation = 0
        self._poster = _Poster(self)
        self._poster.done.connect(self._deliver)
        self.pending = False

    def run(self, work: Callable[[], Any]) -> None:
        self.generation += 1
        self.pending = True
        QThreadPool.globalInstance().start(_Job(self.generation, work, self._poster))

    def cancel(self) -> None:
        """Forget any work under way: its result will be dropped."""
        self.generation += 1
        self.pending = False

    def _deliver(self, generation: int, result: Any) -> None:
        if generation != self.generation:
            return  # stale: the text changed after this work started
        self.pending = False
        self.finished.emit(result)


# --- the heatmap -------------------------------------------------------------------------

class SentenceHeatmap(QSyntaxHighlighter):
    """Colours each sentence by its tokens per word, in the primary model's encoding.
    Off for long documents, where it would cost more than it shows."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.encoding = "o200k_base"
        self.enabled = True
        self._formats: list[QTextCharFormat] = []
        self.set_theme(False, QColor("white"))

    def set_theme(self, dark: bool, background: QColor) -> None:
        self._formats = []
        for i in range(6):
            fmt = QTextCharFormat()
            fmt.setBackground(heat_color(i / 5, dark, background))
            self._formats.append(fmt)

    def configure(self, encoding: str, enabled: bool) -> None:
        if encoding != self.encoding or enabled != self.enabled:
            self.encoding = encoding
            self.enabled = enabled
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        if not self.enabled or not text or self.document().characterCount() > LONG_TEXT_CHARS:
            return
        for start, length in sentence_spans(text):
            _tokens, _words, density = tokens_per_word(text[start:start + length], self.encoding)
            level = heat_level(density)
            self.setFormat(start, length, self._formats[round(level * 5)])


# --- one variant -------------------------------------------------------------------------

class VariantEditor(QFrame):
    """A variant's editor and its counts per chosen model."""

    countsChanged = Signal()
    removeRequested = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._models: list[ModelInfo] = []
        self._counters: dict[str, DraftCounter] = {}
        self._counts: dict[str, int] = {}
        self._long = False
        self.runner = BackgroundRunner(self)
        self.runner.finished.connect(self._long_counted)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COUNT_PAUSE_MS)
        self._timer.timeout.connect(self._count_long)

        self.title = QLabel(title)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.summary = QLabel()
        self.summary.setAccessibleName(f"{title} token count")
        self.remove_button = QToolButton()
        self.remove_button.setText("✕")
        self.remove_button.setToolTip("Remove this variant")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setAccessibleName(f"Remove {title}")
        self.remove_button.clicked.connect(self.removeRequested)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.summary, 1)
        head.addWidget(self.remove_button)

        self.editor = QPlainTextEdit()
        self.editor.setAccessibleName(f"{title} text")
        self.editor.setPlaceholderText("Write a system prompt or a message…")
        self.editor.setTabChangesFocus(True)
        self.heatmap = SentenceHeatmap(self.editor.document())
        self.editor.viewport().installEventFilter(self)

        self.delta = QLabel()
        self.delta.setAccessibleName(f"{title} difference")
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Model", "Tokens", "Count", f"Per {CALLS:,} calls"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setAccessibleName(f"{title} counts per model")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        row_h = round(self.fontMetrics().height() * 1.5)
        self.table.verticalHeader().setDefaultSectionSize(row_h)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(head)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.delta)
        layout.addWidget(self.table)
        self.editor.textChanged.connect(self._text_changed)
        self._apply_theme()

    # --- API ---------------------------------------------------------------------------

    def set_title(self, title: str) -> None:
        self.title.setText(title)
        self.summary.setAccessibleName(f"{title} token count")
        self.editor.setAccessibleName(f"{title} text")

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)

    def replace_text(self, text: str) -> None:
        """Replace all text as one undoable edit (Ctrl+Z brings the old text back)."""
        cursor = QTextCursor(self.editor.document())
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()

    def set_models(self, models: Sequence[ModelInfo]) -> None:
        self._models = list(models)
        encodings = {m.encoding for m in self._models}
        for enc in list(self._counters):
            if enc not in encodings:
                del self._counters[enc]
        primary = self._models[0].encoding if self._models else "o200k_base"
        self.heatmap.configure(primary, self.heatmap.enabled)
        self._recount()

    def set_heatmap(self, enabled: bool) -> None:
        self.heatmap.configure(self.heatmap.encoding, enabled)

    def is_long(self) -> bool:
        return self._long

    def is_counting(self) -> bool:
        return self._timer.isActive() or self.runner.pending

    def tokens(self, encoding: str) -> int | None:
        """The text's tokens in `encoding`; None while a long count is under way."""
        if self.is_counting():
            return None
        return self._counts.get(encoding)

    def table_rows(self) -> list[tuple[str, str, str, str]]:
        return [tuple(self.table.item(r, c).text() for c in range(4))  # type: ignore[misc]
                for r in range(self.table.rowCount())]

    # --- counting ----------------------------------------------------------------------

    def _text_changed(self) -> None:
        # characterCount is O(1): a 10 MB paste is not copied out on every keystroke
        long = self.editor.document().characterCount() > LONG_TEXT_CHARS
        if long != self._long:
            self._long = long
            self.heatmap.rehighlight() if not long else None
        self._recount()

    def _recount(self) -> None:
        if self._long:
            self.runner.cancel()
            self._timer.start()
            self._show_counts()
            return
        self._timer.stop()
        self.runner.cancel()
        text = self.text()
        for enc in {m.encoding for m in self._models}:
            counter = self._counters.get(enc)
            if counter is None:
                counter = self._counters[enc] = DraftCounter(enc)
            self._counts[enc] = counter.update(text)
        self._show_counts()
        self.countsChanged.emit()

    def _count_long(self) -> None:
        text = self.text()
        encodings = sorted({m.encoding for m in self._models})
        self.runner.run(lambda: {enc: count_text(text, enc) for enc in encodings})

    def _long_counted(self, result: Any) -> None:
        if isinstance(result, Exception):
            self.summary.setText(f"Could not count: {result}")
            return
        self._counts.update(result)
        self._show_counts()
        self.countsChanged.emit()

    def _show_counts(self) -> None:
        counting = self.is_counting()
        self.table.setRowCount(len(self._models))
        for row, model in enumerate(self._models):
            tokens = None if counting else self._counts.get(model.encoding)
            cells = [
                model.name,
                "counting…" if tokens is None else format_tokens(tokens),
                "exact" if model.exact else "estimated",
                ("—" if not model.input_per_million else
                 "…" if tokens is None else format_cost(cost_per_thousand(model, tokens))),
            ]
            for col, text in enumerate(cells):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    if col in (1, 3):
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    self.table.setItem(row, col, item)
                item.setText(text)
            tip = (f"{model.name}: {model.encoding}, "
                   + ("the model's own tokenizer" if model.exact else
                      "an approximation of the model's tokenizer"))
            self.table.item(row, 2).setToolTip(tip)
            if not model.input_per_million:
                self.table.item(row, 3).setToolTip("No list price (a local or free model)")
        rows = max(1, len(self._models))
        self.table.setFixedHeight(self.table.horizontalHeader().height()
                                  + self.table.verticalHeader().defaultSectionSize() * rows + 4)
        primary = self._models[0] if self._models else None
        if primary is None:
            self.summary.setText("")
        elif counting:
            self.summary.setText("counting…")
        else:
            n = self._counts.get(primary.encoding, 0)
            chars = self.editor.document().characterCount() - 1
            self.summary.setText(f"{format_tokens(n)} tokens · {format_tokens(chars)} chars")

    # --- heatmap tooltip -----------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.editor.viewport() and event.type() == QEvent.Type.ToolTip:
            text = self.sentence_tooltip(event.pos())
            if text:
                QToolTip.showText(event.globalPos(), text, self.editor.viewport())
            else:
                QToolTip.hideText()
            return True
        return super().eventFilter(watched, event)

    def sentence_tooltip(self, pos: QPoint) -> str:
        if self._long:
            return ""
        cursor = self.editor.cursorForPosition(pos)
        block = cursor.block()
        offset = cursor.positionInBlock()
        text = block.text()
        for start, length in sentence_spans(text):
            if start <= offset < start + length:
                tokens, words, density = tokens_per_word(text[start:start + length],
                                                         self.heatmap.encoding)
                return (f"{tokens} tokens · {words} words · {density:.2f} tokens per word "
                        f"({self.heatmap.encoding})")
        return ""

    def _apply_theme(self) -> None:
        base = self.editor.palette().color(self.editor.backgroundRole())
        self.heatmap.set_theme(is_dark(self), base)
        self.heatmap.rehighlight()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)


# --- the lab ---------------------------------------------------------------------------

class PromptLab(QWidget):
    """Variants side by side over three tools: compare, compress, chunk."""

    def __init__(self, parent: QWidget | None = None, catalog: Catalog | None = None) -> None:
        super().__init__(parent)
        self.catalog = catalog or default_catalog()
        self.variants: list[VariantEditor] = []
        self._optimize = optimizer()

        # toolbar
        self.models_button = QToolButton()
        self.models_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.models_button.setAccessibleName("Models to count for")
        self.models_menu = QMenu(self)
        self._model_actions: dict[str, QAction] = {}
        providers: dict[str, QMenu] = {}
        for model in self.catalog.models:
            menu = providers.get(model.provider)
            if menu is None:
                menu = providers[model.provider] = self.models_menu.addMenu(
                    model.provider.capitalize())
            action = menu.addAction(model.name)
            action.setCheckable(True)
            action.setChecked(model.name in DEFAULT_MODELS)
            action.toggled.connect(self._models_changed)
            self._model_actions[model.name] = action
        self.models_button.setMenu(self.models_menu)
        self.add_button = QPushButton("Add variant")
        self.add_button.setAccessibleName("Add variant")
        self.heatmap_check = QCheckBox("Heatmap")
        self.heatmap_check.setChecked(True)
        self.heatmap_check.setToolTip("Colour each sentence by its tokens per word "
                                      "(first model's encoding); hover a sentence for figures")
        offline = QLabel("Counts, heatmap and compression work offline.")
        offline.setStyleSheet(f"color: {self.muted_color().name()};")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Models:"))
        bar.addWidget(self.models_button)
        bar.addWidget(self.add_button)
        bar.addWidget(self.heatmap_check)
        bar.addStretch(1)
        bar.addWidget(offline)

        self.variant_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.variant_splitter.setChildrenCollapsible(False)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._build_compare(), "Compare")
        self.tabs.addTab(self._build_compress(), "Compress")
        self.tabs.addTab(self._build_chunk(), "Chunk a document")
        self._compress_page = self.tabs.widget(1)

        main = QSplitter(Qt.Orientation.Vertical)
        main.setChildrenCollapsible(False)
        main.addWidget(self.variant_splitter)
        main.addWidget(self.tabs)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(main, 1)
        self.setAccessibleName("Prompt Lab")

        self._diff_timer = QTimer(self)
        self._diff_timer.setSingleShot(True)
        self._diff_timer.setInterval(DIFF_PAUSE_MS)
        self._diff_timer.timeout.connect(self.update_compare)
        self._suggest_timer = QTimer(self)
        self._suggest_timer.setSingleShot(True)
        self._suggest_timer.setInterval(DIFF_PAUSE_MS)
        self._suggest_timer.timeout.connect(self.update_suggestions)

        self.add_button.clicked.connect(lambda: self.add_variant())
        self.heatmap_check.toggled.connect(self._heatmap_toggled)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.add_variant()
        self.add_variant()
        self._models_changed()

    # --- models ------------------------------------------------------------------------

    def set_models(self, names: Sequence[str]) -> None:
        """Check exactly these models (unknown names are ignored)."""
        wanted = set(names)
        for name, action in self._model_actions.items():
            action.blockSignals(True)
            action.setChecked(name in wanted)
            action.blockSignals(False)
        self._models_changed()

    def checked_models(self) -> list[ModelInfo]:
        """The chosen models, in catalog order; the first sets the heatmap's encoding."""
        return [m for m in self.catalog.models if self._model_actions[m.name].isChecked()]

    def primary_encoding(self) -> str:
        models = self.checked_models()
        return models[0].encoding if models else "o200k_base"

    def _models_changed(self) -> None:
        models = self.checked_models()
        names = [m.name for m in models]
        if not names:
            self.models_button.setText("none chosen")
        elif len(names) == 1:
            self.models_button.setText(names[0])
        else:
            self.models_button.setText(f"{len(names)} models")
        self.models_button.setToolTip("Counting for: " + (", ".join(names) or "no model")
                                      + ". The heatmap uses the first one's encoding.")
        for variant in self.variants:
            variant.set_models(models)
        self._refresh_deltas()
        self._diff_timer.start()

    # --- variants ----------------------------------------------------------------------

    def add_variant(self, text: str = "") -> VariantEditor:
        variant = VariantEditor(f"Variant {LETTERS[len(self.variants) % 26]}")
        variant.set_models(self.checked_models())
        variant.set_heatmap(self.heatmap_check.isChecked())
        variant.countsChanged.connect(self._variant_counted)
        variant.removeRequested.connect(lambda v=variant: self.remove_variant(v))
        self.variants.append(variant)
        self.variant_splitter.addWidget(variant)
        if text:
            variant.set_text(text)
        self._variants_changed()
        return variant

    def remove_variant(self, variant: VariantEditor) -> None:
        if len(self.variants) <= 1:
            return
        self.variants.remove(variant)
        variant.setParent(None)
        variant.deleteLater()
        self._variants_changed()

    def _variants_changed(self) -> None:
        for i, v in enumerate(self.variants):
            v.set_title(f"Variant {LETTERS[i % 26]}")
            v.remove_button.setEnabled(len(self.variants) > 1)
        names = [v.title.text() for v in self.variants]
        for combo in (self.compare_left, self.compare_right, self.compress_variant):
            current = combo.currentIndex()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.setCurrentIndex(min(max(current, 0), len(names) - 1))
            combo.blockSignals(False)
        if self.compare_right.currentIndex() == self.compare_left.currentIndex() and len(names) > 1:
            self.compare_right.setCurrentIndex(1 if self.compare_left.currentIndex() == 0 else 0)
        self._refresh_deltas()
        self._diff_timer.start()
        self._suggest_timer.start()

    def _variant_counted(self) -> None:
        self._refresh_deltas()
        self._diff_timer.start()
        sender = self.sender()
        if sender is self._compress_target():
            self._suggest_timer.start()

    def _tab_changed(self, _index: int) -> None:
        if self.tabs.currentWidget() is self._compress_page and self._suggestions_stale:
            self.update_suggestions()

    def _heatmap_toggled(self, on: bool) -> None:
        for v in self.variants:
            v.set_heatmap(on)

    def _refresh_deltas(self) -> None:
        if not self.variants:
            return
        enc = self.primary_encoding()
        base = self.variants[0]
        base_tokens = base.tokens(enc)
        base.delta.setText("Baseline for the differences")
        for v in self.variants[1:]:
            tokens = v.tokens(enc)
            if tokens is None or base_tokens is None:
                v.delta.setText("counting…")
                continue
            diff = tokens - base_tokens
            pct = f" ({signed_percent(diff / base_tokens)})" if base_tokens else ""
            v.delta.setText(f"{signed(diff)} tokens vs {base.title.text()}{pct}")

    # --- compare -------------------------------------------------------------------------

    def _build_compare(self) -> QWidget:
        page = QWidget()
        self.compare_left = QComboBox()
        self.compare_left.setAccessibleName("Compare from")
        self.compare_right = QComboBox()
        self.compare_right.setAccessibleName("Compare with")
        self.compare_summary = QLabel()
        self.compare_summary.setWordWrap(True)
        self.diff_view = QTextBrowser()
        self.diff_view.setAccessibleName("Word difference")
        self.diff_view.setOpenLinks(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Compare"))
        row.addWidget(self.compare_left)
        row.addWidget(QLabel("with"))
        row.addWidget(self.compare_right)
        row.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.compare_summary)
        layout.addWidget(self.diff_view, 1)
        self.compare_left.currentIndexChanged.connect(lambda _i: self.update_compare())
        self.compare_right.currentIndexChanged.connect(lambda _i: self.update_compare())
        return page

    def update_compare(self) -> None:
        i, j = self.compare_left.currentIndex(), self.compare_right.currentIndex()
        if not (0 <= i < len(self.variants) and 0 <= j < len(self.variants)):
            return
        left, right = self.variants[i], self.variants[j]
        parts = []
        for model in self._distinct_encoding_models():
            a, b = left.tokens(model.encoding), right.tokens(model.encoding)
            if a is None or b is None:
                parts.append(f"{model.encoding}: counting…")
                continue
            pct = f" ({signed_percent((b - a) / a)})" if a else ""
            parts.append(f"{model.encoding}: {format_tokens(a)} → {format_tokens(b)}, "
                         f"{signed(b - a)}{pct}")
        title_l, title_r = left.title.text(), right.title.text()
        self.compare_summary.setText(f"{title_l} → {title_r} · " + " · ".join(parts))
        if left.is_long() or right.is_long():
            self.diff_view.setPlainText("These texts are too long for a word-by-word "
                                        "difference here; the token figures above still hold.")
            return
        pieces = word_diff(left.text(), right.text())
        dark = is_dark(self)
        ins, dele = inserted_color(dark).name(), deleted_color(dark).name()
        out = []
        added = removed = 0
        previous = "="
        for op, text in pieces:
            body = html.escape(text).replace("\n", "<br>")
            if op == "+" and previous == "-":
                out.append("&#8202;")  # a hair space so "old" and "new" do not run together
            previous = op
            if op == "=":
                out.append(body)
            elif op == "+":
                added += len(text.split())
                out.append(f"<span style='background:{ins}'>{body}</span>")
            else:
                removed += len(text.split())
                out.append(f"<span style='background:{dele}; text-decoration:line-through'>"
                           f"{body}</span>")
        if not left.text() and not right.text():
            self.diff_view.setPlainText("Write something in the variants to compare them.")
            return
        self.diff_view.setHtml(
            f"<p style='color:gray'>{added} word{'s' if added != 1 else ''} added, {removed} "
            f"removed</p><div style='white-space:pre-wrap'>{''.join(out)}</div>")

    def _distinct_encoding_models(self) -> list[ModelInfo]:
        seen, out = set(), []
        for m in self.checked_models():
            if m.encoding not in seen:
                seen.add(m.encoding)
                out.append(m)
        return out

    # --- compress ------------------------------------------------------------------------

    def _build_compress(self) -> QWidget:
        page = QWidget()
        self.compress_variant = QComboBox()
        self.compress_variant.setAccessibleName("Variant to compress")
        self.suggestion_list = QTreeWidget()
        self.suggestion_list.setHeaderLabels(["Suggestion", "Saves", "Preview"])
        self.suggestion_list.setRootIsDecorated(False)
        self.suggestion_list.setAccessibleName("Compression suggestions")
        self.suggestion_list.setAlternatingRowColors(True)
        header = self.suggestion_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.suggestion_list.setColumnWidth(0, self.fontMetrics().horizontalAdvance("M" * 22))
        self.apply_button = QPushButton("Apply")
        self.apply_button.setAccessibleName("Apply suggestion")
        self.apply_button.setEnabled(False)
        self.target_spin = QSpinBox()
        self.target_spin.setRange(1, 10_000_000)
        self.target_spin.setValue(200)
        self.target_spin.setSuffix(" tokens")
        self.target_spin.setAccessibleName("Target length")
        self.compress_button = QPushButton("Compress to target as new variant")
        self.compress_status = QLabel()
        self.compress_status.setWordWrap(True)
        self.compress_status.setAccessibleName("Compression result")
        self.suggestion_status = QLabel()
        self.suggestion_status.setWordWrap(True)
        self.suggestion_status.setAccessibleName("Suggestions status")

        row = QHBoxLayout()
        row.addWidget(QLabel("Variant:"))
        row.addWidget(self.compress_variant)
        row.addWidget(self.suggestion_status, 1)
        row.addWidget(self.apply_button)
        target = QHBoxLayout()
        target.addWidget(QLabel("Target:"))
        target.addWidget(self.target_spin)
        target.addWidget(self.compress_button)
        target.addStretch(1)
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(self.suggestion_list, 1)
        layout.addLayout(target)
        layout.addWidget(self.compress_status)

        self.compress_variant.currentIndexChanged.connect(lambda _i: self.update_suggestions())
        self.suggestion_list.currentItemChanged.connect(
            lambda cur, _prev: self.apply_button.setEnabled(cur is not None))
        self.suggestion_list.itemDoubleClicked.connect(lambda _item, _col: self.apply_selected())
        self.apply_button.clicked.connect(self.apply_selected)
        self.compress_button.clicked.connect(self.compress_to_target)
        self._suggestions: list[Any] = []
        self._suggestions_stale = True
        self.suggestion_runner = BackgroundRunner(self)
        self.suggestion_runner.finished.connect(self._suggested)
        if self._optimize is None:
            for w in (self.compress_variant, self.suggestion_list, self.target_spin,
                      self.compress_button):
                w.setEnabled(False)
            self.suggestion_status.setText("Compression needs the optimizer module "
                                         "(desktop_app.core.optimize), which this build lacks.")
        return page

    def _compress_target(self) -> VariantEditor | None:
        i = self.compress_variant.currentIndex()
        return self.variants[i] if 0 <= i < len(self.variants) else None

    def update_suggestions(self) -> None:
        """Ask the optimizer, on the thread pool, for suggestions for the chosen variant."""
        variant = self._compress_target()
        if self._optimize is None or variant is None:
            return
        if self.tabs.currentWidget() is not self._compress_page:
            self._suggestions_stale = True  # made when the tab is opened
            return
        self._suggestions_stale = False
        self.suggestion_runner.cancel()
        if variant.is_long():
            self._show_suggestions([], f"Suggestions are made for texts under "
                                       f"{LONG_TEXT_CHARS // 1000} KB.")
            return
        text = variant.text()
        if not text.strip():
            self._show_suggestions([], "Write something in the variant to get suggestions.")
            return
        enc = self.primary_encoding()
        make = self._optimize.suggestions
        self._show_suggestions([], "Looking for savings…")  # never apply to a stale text
        self.suggestion_runner.run(lambda: (text, make(text, enc)))

    def _suggested(self, result: Any) -> None:
        if isinstance(result, Exception):
            self._show_suggestions([], f"Could not make suggestions: {result}")
            return
        text, found = result
        variant = self._compress_target()
        if variant is None or variant.text() != text:
            self.update_suggestions()  # the text moved on while we worked
            return
        self._show_suggestions(found, "" if found else
                               "No suggestions: this text is already tight.")

    def _show_suggestions(self, found: list[Any], status: str) -> None:
        self.suggestion_list.clear()
        self._suggestions = list(found)
        self.apply_button.setEnabled(False)
        for s in self._suggestions:
            pct = f" ({s.saving / s.tokens_before:.0%})" if s.tokens_before else ""
            item = QTreeWidgetItem([s.label, f"{format_tokens(s.saving)}{pct}",
                                    " ".join(s.text[:400].split())])
            item.setToolTip(0, f"{s.label}: {format_tokens(s.tokens_before)} → "
                               f"{format_tokens(s.tokens_after)} tokens")
            item.setToolTip(2, s.text[:1500])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.suggestion_list.addTopLevelItem(item)
        if status or not self._suggestions:
            self.suggestion_status.setText(status)
        else:
            self.suggestion_status.setText(f"Select one and Apply it · {self.primary_encoding()}")

    def suggestions(self) -> list[Any]:
        """The suggestions listed now (optimize.Suggestion objects)."""
        return list(self._suggestions)

    def apply_selected(self) -> None:
        """Apply the selected suggestion to its variant and say what it saved."""
        item = self.suggestion_list.currentItem()
        variant = self._compress_target()
        if item is None or variant is None:
            return
        suggestion = self._suggestions[self.suggestion_list.indexOfTopLevelItem(item)]
        variant.replace_text(suggestion.text)
        self._report_saving(variant, suggestion.tokens_before, suggestion.tokens_after,
                            f"Applied “{suggestion.label}” to")
        self.update_suggestions()

    def compress_to_target(self) -> None:
        """Compress the chosen variant to the target length, as a new variant beside it."""
        variant = self._compress_target()
        if variant is None or self._optimize is None:
            return
        try:
            result = self._optimize.compress(variant.text(), self.target_spin.value(),
                                             self.primary_encoding())
        except self._optimize.OptimizeError as exc:
            self._set_compress_status(f"Could not compress: {exc}", ok=False)
            return
        new = self.add_variant(result.text)
        self._report_saving(new, result.tokens_before, result.tokens_after,
                            f"{self._optimize.LEVEL_LABELS.get(result.level, result.level)} of "
                            f"{variant.title.text()} →")
        if result.message:
            self._set_compress_status(f"{self.compress_status.text()} Note: {result.message}.",
                                      ok=result.fits)

    def _report_saving(self, variant: VariantEditor, before: int, after: int, what: str) -> None:
        saved = before - after
        pct = f" ({saved / before:.0%})" if before else ""
        self._set_compress_status(
            f"{what} {variant.title.text()}: {format_tokens(before)} → {format_tokens(after)} "
            f"tokens, saved {format_tokens(saved)}{pct}. Ctrl+Z in the editor undoes it.",
            ok=saved > 0)

    def _set_compress_status(self, text: str, ok: bool) -> None:
        dark = is_dark(self)
        color = ok_color(dark) if ok else warning_color(dark)
        self.compress_status.setStyleSheet(f"color: {color.name()};")
        self.compress_status.setText(text)

    # --- chunk ---------------------------------------------------------------------------

    def _build_chunk(self) -> QWidget:
        page = QWidget()
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
        self.chunk_runner = BackgroundRunner(self)
        self.chunk_runner.finished.connect(self._chunked)

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
        layout = QVBoxLayout(page)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        layout.addWidget(self.chunk_status)
        self.chunk_button.clicked.connect(self.chunk_document)
        if self._optimize is None or not hasattr(self._optimize, "chunk_by_tokens"):
            self.chunk_button.setEnabled(False)
            self.chunk_status.setText("Chunking needs the optimizer module "
                                      "(desktop_app.core.optimize), which this build lacks.")
        return page

    def chunk_document(self) -> None:
        """Split the pasted document on the thread pool; results replace the list."""
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
        enc = self.primary_encoding()
        chunker = self._optimize.chunk_by_tokens
        self.chunk_status.setText("Chunking…")
        self.chunk_button.setEnabled(False)
        self._chunk_args = (budget, overlap, enc)
        self.chunk_runner.run(lambda: chunker(text, budget, overlap, enc))

    def _chunked(self, result: Any) -> None:
        self.chunk_button.setEnabled(True)
        self.chunk_list.clear()
        if isinstance(result, Exception):
            self.chunk_status.setText(f"Could not chunk: {result}")
            return
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

    def chunks(self) -> list[Any]:
        """The chunks listed now (optimize.Chunk objects)."""
        return list(self._chunks)

    # --- theme ---------------------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._diff_timer.start()
        super().changeEvent(event)

    def muted_color(self) -> QColor:
        return blend(self.palette().color(self.foregroundRole()),
                     self.palette().color(self.backgroundRole()), 0.6)
