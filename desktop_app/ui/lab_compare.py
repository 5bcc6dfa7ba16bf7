"""The Prompt Lab's Compare tab: two variants' token counts per distinct encoding and
the word-by-word difference between their texts; and the signed figures the lab
writes differences in."""

from __future__ import annotations

import difflib
import html
import re
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QTextBrowser, QVBoxLayout, QWidget

from desktop_app.ui.figures import format_tokens
from desktop_app.ui.palette import deleted_color, inserted_color, is_dark

if TYPE_CHECKING:
    from desktop_app.core.catalog import ModelInfo
    from desktop_app.ui.prompt_lab import PromptLab

DIFF_PAUSE_MS = 250  # the difference is worked out once typing pauses this long


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


class ComparePage(QWidget):
    """Compare one variant with another: their counts, then the words added and
    removed. Long texts get the counts only."""

    def __init__(self, lab: PromptLab) -> None:
        super().__init__()
        self.lab = lab
        self.compare_left = QComboBox()
        self.compare_left.setAccessibleName("Compare from")
        self.compare_right = QComboBox()
        self.compare_right.setAccessibleName("Compare with")
        self.compare_summary = QLabel()
        self.compare_summary.setTextFormat(Qt.TextFormat.PlainText)
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
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.compare_summary)
        layout.addWidget(self.diff_view, 1)
        self.compare_left.currentIndexChanged.connect(lambda _i: self.update_compare())
        self.compare_right.currentIndexChanged.connect(lambda _i: self.update_compare())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DIFF_PAUSE_MS)
        self._timer.timeout.connect(self.update_compare)

    def schedule(self) -> None:
        """Compare again once typing pauses."""
        self._timer.start()

    def set_variant_names(self, names: list[str]) -> None:
        """The variants to choose from; two different ones stay chosen when there are."""
        for combo in (self.compare_left, self.compare_right):
            current = combo.currentIndex()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            combo.setCurrentIndex(min(max(current, 0), len(names) - 1))
            combo.blockSignals(False)
        if self.compare_right.currentIndex() == self.compare_left.currentIndex() and len(names) > 1:
            self.compare_right.setCurrentIndex(1 if self.compare_left.currentIndex() == 0 else 0)

    def update_compare(self) -> None:
        variants = self.lab.variants
        i, j = self.compare_left.currentIndex(), self.compare_right.currentIndex()
        if not (0 <= i < len(variants) and 0 <= j < len(variants)):
            return
        left, right = variants[i], variants[j]
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
        for m in self.lab.checked_models():
            if m.encoding not in seen:
                seen.add(m.encoding)
                out.append(m)
        return out
