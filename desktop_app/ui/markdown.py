"""Messages rendered as QTextDocuments: Markdown with readable code blocks, laid out
once per message and width and kept in a bounded cache, so painting a screen of a long
conversation costs a lookup per visible row.

Message text is untrusted (imported files, model replies): the documents load no
resources (an image is shown as "[image: alt text — target]"), raw HTML is shown as
text, bidi and zero-width controls are shown as visible markers (those written as
character references too), a link opens only on the web or in e-mail (`openable_link`)
and a message too large to lay out within a frame or two is shown collapsed, as plain
text (`plan`)."""

from __future__ import annotations

import itertools
import re
from collections import OrderedDict
from collections.abc import Hashable

from PySide6.QtCore import QRegularExpression, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextOption,
)

from desktop_app.core.text import HIDDEN_CONTROL_CLASS, reveal_controls

# Text with none of these is rendered as plain text: faster, and nothing to lose.
_MARKDOWN_HINT = re.compile(r"[`*_#>\[|~]|^\s*(?:[-+]|\d+[.)])\s", re.MULTILINE)


# Limits on what is rendered as Markdown (each keeps a layout to a few milliseconds);
# a message over any of them shows its first PREVIEW_CHARS as plain text, and, when
# expanded, its first EXPANDED_CHARS (plain text wrapped anywhere: bounded too).
MARKDOWN_MAX_CHARS = 12_000
MARKDOWN_MAX_LINES = 400
MAX_LINE_CHARS = 2_000
MAX_TABLE_ROWS = 60
PREVIEW_CHARS = 4_000
EXPANDED_CHARS = 50_000

FEATURES = QTextDocument.MarkdownFeature(
    QTextDocument.MarkdownFeature.MarkdownDialectGitHub.value
    | QTextDocument.MarkdownFeature.MarkdownNoHTML.value
)

# Characters that reorder or hide text (core.text), found in a rendered document
_CONTROLS_QT = QRegularExpression(HIDDEN_CONTROL_CLASS)

# An image is shown as "[image: alt — target]", each cut to this many characters.
IMAGE_TEXT_CHARS = 200

# Links a click may open (after the user has seen the target and agreed), and the
# longest target offered.
LINK_SCHEMES = ("http", "https", "mailto")
MAX_LINK_CHARS = 2_000


def bounded(text: str, limit: int) -> str:
    """`text` on one line, controls revealed, cut to `limit` characters with "…"."""
    text = " ".join(reveal_controls(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def openable_link(href: str) -> QUrl | None:
    """The URL a click on a link to `href` may open, or None: only an absolute http(s)
    URL with a host, or a mailto one, no longer than MAX_LINK_CHARS once encoded; never a
    file, script, data, custom-scheme or relative one."""
    if not href or len(href) > MAX_LINK_CHARS:
        return None
    url = QUrl(href, QUrl.ParsingMode.StrictMode)
    if not url.isValid() or url.isRelative() or url.scheme().lower() not in LINK_SCHEMES:
        return None
    if not (url.path() if url.scheme().lower() == "mailto" else url.host()):
        return None
    if len(link_target(url)) > MAX_LINK_CHARS:
        return None
    return url


def link_target(url: QUrl) -> str:
    """`url` as shown before it is opened: fully encoded, so ASCII only (a look-alike
    host shows as xn--…, a control as %E2%80%AE)."""
    return url.toString(QUrl.ComponentFormattingOption.FullyEncoded)


def is_oversized(text: str) -> bool:
    """Whether `text` is too large to lay out as Markdown on the GUI thread."""
    if len(text) > MARKDOWN_MAX_CHARS:
        return True
    lines = text.split("\n")
    if len(lines) > MARKDOWN_MAX_LINES or max(map(len, lines)) > MAX_LINE_CHARS:
        return True
    return sum(1 for line in lines if "|" in line) > MAX_TABLE_ROWS


class MessageDocument(QTextDocument):
    """A document that loads nothing: every resource (image, style sheet, …) is empty.
    `shown` and `total`: how many characters of the message it shows, of how many;
    `collapsed`: shown cut short, with a way to show more."""

    shown = 0
    total = 0
    collapsed = False
    serial = 0  # which rendering this is: a message's text rendered again gets a new one

    def loadResource(self, type: int, name: object) -> None:  # noqa: A002 - Qt's name
        return None

    @property
    def cut(self) -> bool:
        return self.shown < self.total


def looks_like_markdown(text: str) -> bool:
    return _MARKDOWN_HINT.search(text) is not None


def monospace_font(base: QFont) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(max(base.pointSizeF() - 0.5, 7.0))
    return font


def render_document(
    text: str, width: float, font: QFont, code_background: QColor, expanded: bool = False
) -> MessageDocument:
    """A laid-out document for `text` at `width` pixels. An oversized text (is_oversized)
    is shown as plain text wrapped anywhere: its first PREVIEW_CHARS, or with `expanded`
    its first EXPANDED_CHARS."""
    doc = MessageDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    doc.setIndentWidth(18)  # list indent (Qt's 40 px wastes a narrow column)
    doc.total = len(text)
    if is_oversized(text):
        doc.collapsed = not expanded
        shown = text[: EXPANDED_CHARS if expanded else PREVIEW_CHARS]
        doc.shown = len(shown)
        option = doc.defaultTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAnywhere)
        doc.setDefaultTextOption(option)
        doc.setPlainText(reveal_controls(shown))
    else:
        doc.shown = len(text)
        text = reveal_controls(text)
        if looks_like_markdown(text):
            # Qt drops an image with no alt text, placeholder and all: give it one
            doc.setMarkdown(text.replace("![]", "![ ]"), FEATURES)
            if "!" in text:
                _images_as_text(doc)
            if "&" in text:  # a character reference may have written a control
                _reveal_controls_in(doc)
            if "`" in text or "    " in text or "\t" in text:
                _style_code(doc, monospace_font(font), code_background)
        else:
            doc.setPlainText(text)
    doc.setTextWidth(max(width, 40.0))
    return doc


def _images_as_text(doc: QTextDocument) -> None:
    """Each image replaced by the text "[image: alt text — target]", or "[image: target]"
    with no alt text (nothing is ever loaded). Qt makes an image of each piece of an
    alt text with emphasis in it: the pieces, side by side with one target, are one."""
    images: list[list] = []  # [position, length, target, alt]
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            fmt = frag.charFormat()
            if frag.isValid() and fmt.isImageFormat():
                name = fmt.toImageFormat().name()
                alt = fmt.property(QTextFormat.Property.ImageAltText)
                alt = alt if isinstance(alt, str) else ""
                last = images[-1] if images else None
                if last and last[2] == name and last[0] + last[1] == frag.position():
                    last[1] += frag.length()
                    last[3] += alt
                else:
                    images.append([frag.position(), frag.length(), name, alt])
            it += 1
        block = block.next()
    cursor = QTextCursor(doc)
    for position, length, name, alt in reversed(images):
        cursor.setPosition(position)
        cursor.setPosition(position + length, QTextCursor.MoveMode.KeepAnchor)
        target = bounded(name, IMAGE_TEXT_CHARS)
        alt = bounded(alt, IMAGE_TEXT_CHARS)
        shown = f"[image: {alt} — {target}]" if alt else f"[image: {target}]"
        cursor.insertText(shown, QTextCharFormat())


def _reveal_controls_in(doc: QTextDocument) -> None:
    """Each bidi or zero-width control in the rendered text replaced by its marker."""
    cursor = doc.find(_CONTROLS_QT, 0)
    while not cursor.isNull():
        cursor.insertText(reveal_controls(cursor.selectedText()))
        cursor = doc.find(_CONTROLS_QT, cursor)


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


_SERIALS = itertools.count(1)


class DocumentCache:
    """Laid-out documents keyed by (message key, width), least recently used out first.
    A message's documents are dropped when its text changes (forget)."""

    def __init__(self, capacity: int = 600) -> None:
        self.capacity = capacity
        self._docs: OrderedDict[tuple[Hashable, int], MessageDocument] = OrderedDict()

    def get(
        self, key: Hashable, text: str, width: int, font: QFont, code_background: QColor,
        expanded: bool = False,
    ) -> MessageDocument:
        slot = (key, width)
        doc = self._docs.get(slot)
        if doc is not None:
            self._docs.move_to_end(slot)
            return doc
        doc = render_document(text, width, font, code_background, expanded)
        doc.serial = next(_SERIALS)
        self._docs[slot] = doc
        if len(self._docs) > self.capacity:
            self._docs.popitem(last=False)
        return doc

    def forget(self, key: Hashable) -> None:
        for slot in [s for s in self._docs if s[0] == key]:
            del self._docs[slot]

    def rename(self, old: Hashable, new: Hashable) -> None:
        """Keep `old`'s documents as `new`'s (the same text under another key)."""
        for slot in [s for s in self._docs if s[0] == old]:
            self._docs[(new, slot[1])] = self._docs.pop(slot)

    def clear(self) -> None:
        self._docs.clear()

    def __len__(self) -> int:
        return len(self._docs)
