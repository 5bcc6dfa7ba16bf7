"""Messages rendered as QTextDocuments: Markdown with readable code blocks, laid out
once per message and width and kept in a bounded cache, so painting a screen of a long
conversation costs a lookup per visible row."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Hashable

from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

# Text with none of these is rendered as plain text: faster, and nothing to lose.
_MARKDOWN_HINT = re.compile(r"[`*_#>\[|~]|^\s*(?:[-+]|\d+[.)])\s", re.MULTILINE)


def looks_like_markdown(text: str) -> bool:
    return _MARKDOWN_HINT.search(text) is not None


def monospace_font(base: QFont) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(max(base.pointSizeF() - 0.5, 7.0))
    return font


def render_document(
    text: str, width: float, font: QFont, code_background: QColor
) -> QTextDocument:
    """A laid-out document for `text` at `width` pixels."""
    doc = QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    doc.setIndentWidth(18)  # list indent (Qt's 40 px wastes a narrow column)
    if looks_like_markdown(text):
        doc.setMarkdown(text, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
        if "`" in text or "    " in text or "\t" in text:
            _style_code(doc, monospace_font(font), code_background)
    else:
        doc.setPlainText(text)
    doc.setTextWidth(max(width, 40.0))
    return doc


def _style_code(doc: QTextDocument, mono: QFont, background: QColor) -> None:
    """Code blocks: monospace on a shaded band; inline code: monospace on a tint."""
    block_chars = QTextCharFormat()
    block_chars.setFont(mono)
    inline = QTextCharFormat()
    inline.setFont(mono)
    inline.setBackground(background)
    # collect first, format after: formatting splits and merges fragments under an iterator
    code_blocks: list[tuple[int, int]] = []
    inline_spans: list[tuple[int, int]] = []
    block = doc.begin()
    while block.isValid():
        fmt = block.blockFormat()
        if fmt.hasProperty(QTextFormat.Property.BlockCodeLanguage) or fmt.nonBreakableLines():
            code_blocks.append((block.position(), block.position() + block.length() - 1))
        else:
            it = block.begin()
            while not it.atEnd():
                frag = it.fragment()
                if frag.isValid() and frag.charFormat().fontFixedPitch():
                    inline_spans.append((frag.position(), frag.position() + frag.length()))
                it += 1
        block = block.next()
    cursor = QTextCursor(doc)
    for start, end in code_blocks:
        cursor.setPosition(start)
        fmt = cursor.blockFormat()
        fmt.setBackground(background)
        fmt.setLeftMargin(6)
        fmt.setRightMargin(6)
        cursor.setBlockFormat(fmt)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(block_chars)
    for start, end in inline_spans:
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.mergeCharFormat(inline)


class DocumentCache:
    """Laid-out documents keyed by (message key, width), least recently used out first.
    A message's documents are dropped when its text changes (forget)."""

    def __init__(self, capacity: int = 600) -> None:
        self.capacity = capacity
        self._docs: OrderedDict[tuple[Hashable, int], QTextDocument] = OrderedDict()

    def get(
        self, key: Hashable, text: str, width: int, font: QFont, code_background: QColor
    ) -> QTextDocument:
        slot = (key, width)
        doc = self._docs.get(slot)
        if doc is not None:
            self._docs.move_to_end(slot)
            return doc
        doc = render_document(text, width, font, code_background)
        self._docs[slot] = doc
        if len(self._docs) > self.capacity:
            self._docs.popitem(last=False)
        return doc

    def forget(self, key: Hashable) -> None:
        for slot in [s for s in self._docs if s[0] == key]:
            del self._docs[slot]

    def clear(self) -> None:
        self._docs.clear()

    def __len__(self) -> int:
        return len(self._docs)
