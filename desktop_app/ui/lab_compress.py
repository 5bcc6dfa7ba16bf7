"""The Prompt Lab's Compress tab: the optimizer's suggestions for a variant (each
with what it saves and what it keeps of the instructions, numbers and names, applied as
one undoable edit), and compressing a variant to a target length as a new variant beside
it, with a warning when the target forces loss. Suggestions are made on a worker thread;
one made for a text that has changed since is never shown."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.controller.operations import Scope
from desktop_app.core.instructions import kind as instruction_kind
from desktop_app.ui.context_panel import plain_tooltip
from desktop_app.ui.figures import format_tokens
from desktop_app.ui.lab_heatmap import LONG_TEXT_CHARS
from desktop_app.ui.palette import is_dark, ok_color, warning_color
from desktop_app.ui.theme import set_style_sheet

if TYPE_CHECKING:
    from desktop_app.ui.lab_variant import VariantEditor
    from desktop_app.ui.prompt_lab import PromptLab

SUGGEST_PAUSE_MS = 250  # suggestions are made again once typing pauses this long


class CompressPage(QWidget):
    """Suggestions for the chosen variant, and compression to a target length.
    `optimize` is desktop_app.core.optimize, or None when this build lacks it."""

    def __init__(self, lab: PromptLab, optimize: Any | None) -> None:
        super().__init__()
        self.lab = lab
        self._optimize = optimize
        self.compress_variant = QComboBox()
        self.compress_variant.setAccessibleName("Variant to compress")
        self.suggestion_list = QTreeWidget()
        self.suggestion_list.setHeaderLabels(["Suggestion", "Saves", "Keeps", "Preview"])
        self.suggestion_list.setRootIsDecorated(False)
        self.suggestion_list.setAccessibleName("Compression suggestions")
        self.suggestion_list.setAlternatingRowColors(True)
        # the list takes what is left: the result and its warning below are read in full
        self.suggestion_list.setSizePolicy(QSizePolicy.Policy.Expanding,
                                           QSizePolicy.Policy.Ignored)
        self.suggestion_list.setMinimumHeight(3 * lab.fontMetrics().height())
        header = self.suggestion_list.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.suggestion_list.setColumnWidth(0, lab.fontMetrics().horizontalAdvance("M" * 22))
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
        self.compress_status.setTextFormat(Qt.TextFormat.PlainText)
        self.compress_status.setWordWrap(True)
        self.compress_status.setAccessibleName("Compression result")
        self.suggestion_status = QLabel()
        self.suggestion_status.setTextFormat(Qt.TextFormat.PlainText)
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
        layout = QVBoxLayout(self)
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
        self._scope = Scope()  # moves on with each request: older suggestions are dropped
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SUGGEST_PAUSE_MS)
        self._timer.timeout.connect(self.update_suggestions)
        if self._optimize is None:
            for w in (self.compress_variant, self.suggestion_list, self.target_spin,
                      self.compress_button):
                w.setEnabled(False)
            self.suggestion_status.setText("Compression needs the optimizer module "
                                         "(desktop_app.core.optimize), which this build lacks.")

    def set_variant_names(self, names: list[str]) -> None:
        current = self.compress_variant.currentIndex()
        self.compress_variant.blockSignals(True)
        self.compress_variant.clear()
        self.compress_variant.addItems(names)
        self.compress_variant.setCurrentIndex(min(max(current, 0), len(names) - 1))
        self.compress_variant.blockSignals(False)

    def target(self) -> VariantEditor | None:
        """The variant chosen for compression."""
        i = self.compress_variant.currentIndex()
        return self.lab.variants[i] if 0 <= i < len(self.lab.variants) else None

    def schedule(self) -> None:
        """Make suggestions again once typing pauses."""
        self._timer.start()

    def opened(self) -> None:
        """The tab was brought forward: make the suggestions put off while it was not."""
        if self._suggestions_stale:
            self.update_suggestions()

    def update_suggestions(self) -> None:
        """Ask the optimizer, on a worker thread, for suggestions for the chosen variant."""
        variant = self.target()
        if self._optimize is None or variant is None:
            return
        if self.lab.tabs.currentWidget() is not self:
            self._suggestions_stale = True  # made when the tab is opened
            return
        self._suggestions_stale = False
        self._scope.advance()
        if variant.is_long():
            self._show_suggestions([], f"Suggestions are made for texts under "
                                       f"{LONG_TEXT_CHARS // 1000} KB.")
            return
        text = variant.text()
        if not text.strip():
            self._show_suggestions([], "Write something in the variant to get suggestions.")
            return
        enc = self.lab.primary_encoding()
        make = self._optimize.suggestions
        self._show_suggestions([], "Looking for savings…")  # never apply to a stale text
        self.lab.operations.run(
            lambda: (text, make(text, enc)), self._suggested,
            lambda message: self._show_suggestions([], f"Could not make suggestions: {message}"),
            serial=False, stamp=self._scope.stamp())

    def _suggested(self, result: tuple[str, list[Any]]) -> None:
        text, found = result
        variant = self.target()
        if variant is None or variant.text() != text:
            self.update_suggestions()  # the text moved on while we worked
            return
        self._show_suggestions(found, "" if found else
                               "No suggestions: this text is already tight.")

    def _show_suggestions(self, found: list[Any], status: str) -> None:
        self.suggestion_list.clear()
        self._suggestions = list(found)
        self.apply_button.setEnabled(False)
        warn = warning_color(is_dark(self))
        for s in self._suggestions:
            pct = f" ({s.saving / s.tokens_before:.0%})" if s.tokens_before else ""
            item = QTreeWidgetItem([s.label, f"{format_tokens(s.saving)}{pct}",
                                    keeps_text(s), " ".join(s.text[:400].split())])
            item.setToolTip(0, f"{s.label}: {format_tokens(s.tokens_before)} → "
                               f"{format_tokens(s.tokens_after)} tokens")
            item.setToolTip(2, plain_tooltip(keeps_tooltip(s)))
            item.setToolTip(3, plain_tooltip(s.text[:1500]))
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if s.lost:
                item.setForeground(2, QBrush(warn))
            self.suggestion_list.addTopLevelItem(item)
        if status or not self._suggestions:
            self.suggestion_status.setText(status)
        else:
            self.suggestion_status.setText(
                f"Select one and Apply it · {self.lab.primary_encoding()}")

    def suggestions(self) -> list[Any]:
        """The suggestions listed now (optimize.Suggestion objects)."""
        return list(self._suggestions)

    def apply_selected(self) -> None:
        """Apply the selected suggestion to its variant and say what it saved."""
        item = self.suggestion_list.currentItem()
        variant = self.target()
        if item is None or variant is None:
            return
        suggestion = self._suggestions[self.suggestion_list.indexOfTopLevelItem(item)]
        variant.replace_text(suggestion.text)
        self._report_saving(variant, suggestion.tokens_before, suggestion.tokens_after,
                            f"Applied “{suggestion.label}” to")
        self.update_suggestions()

    def compress_to_target(self) -> None:
        """Compress the chosen variant to the target length, as a new variant beside it."""
        variant = self.target()
        if variant is None or self._optimize is None:
            return
        try:
            result = self._optimize.compress(variant.text(), self.target_spin.value(),
                                             self.lab.primary_encoding())
        except self._optimize.OptimizeError as exc:
            self._set_compress_status(f"Could not compress: {exc}", ok=False)
            return
        new = self.lab.add_variant(result.text)
        self._report_saving(new, result.tokens_before, result.tokens_after,
                            f"{self._optimize.LEVEL_LABELS.get(result.level, result.level)} of "
                            f"{variant.title.text()} →")
        if result.message:
            self._set_compress_status(f"{self.compress_status.text()} Note: {result.message}.",
                                      ok=result.fits)
        self.compress_status.setToolTip(
            plain_tooltip(keeps_tooltip(result)) if result.key_items else "")
        if result.loss_warning:  # in short here; which items, in the tooltip
            self._set_compress_status(
                f"{self.compress_status.text()} Warning: the target of "
                f"{format_tokens(result.target_tokens)} tokens forces loss: "
                f"{loss_summary(result)} (hover for which).", ok=False)

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
        set_style_sheet(self.compress_status, f"color: {color.name()};")
        self.compress_status.setText(text)


def keeps_text(s: Any) -> str:
    """'100%', or '43%: drops 2 instructions' for a suggestion (or a result)."""
    if not s.key_items:
        return "—"
    text = f"{s.retention:.0%}"
    orders = sum(1 for item in s.lost if instruction_kind(item))
    if orders:
        text += f": drops {orders} instruction{'s' if orders != 1 else ''}"
    return text


def loss_summary(s: Any) -> str:
    """'keeps 1 of 7 key items (14%) and drops 2 instructions and 4 numbers or names'."""
    orders = sum(1 for item in s.lost if instruction_kind(item))
    others = len(s.lost) - orders
    drops = []
    if orders:
        drops.append(f"{orders} instruction{'s' if orders != 1 else ''}")
    if others:
        drops.append("1 number or name" if others == 1 else f"{others} numbers and names")
    kept = s.key_items - len(s.lost)
    return (f"keeps {kept} of {s.key_items} key items ({s.retention:.0%}) and drops "
            + " and ".join(drops))


def keeps_tooltip(s: Any) -> str:
    if not s.key_items:
        return "The text has no instructions, numbers or names to keep."
    head = (f"Keeps {s.key_items - len(s.lost)} of {s.key_items} key items "
            "(instructions and constraints, numbers, names).")
    if not s.lost:
        return head
    lost = "\n".join(f"• {item[:120]}" for item in s.lost[:12])
    more = f"\n… and {len(s.lost) - 12} more" if len(s.lost) > 12 else ""
    return f"{head}\nDrops:\n{lost}{more}"
