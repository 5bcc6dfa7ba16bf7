"""The Prompt Lab's heatmap: each sentence of a variant coloured by its tokens per word
in the primary model's encoding, so dense text (code, numbers, rare words) stands out
from plain prose; and the sentence splitting and measuring it rests on."""

from __future__ import annotations

from PySide6.QtGui import QColor, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from desktop_app.core.text import sentence_spans as text_sentence_spans
from desktop_app.core.tokens import count_text
from desktop_app.ui.palette import heat_color

LONG_TEXT_CHARS = 50_000  # above this: count on a worker thread, no heatmap, no word diff

# a sentence ends at . ! ? followed by a space or the end ("v2.3.1" and "e.g.x" go on)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, length) of each sentence in one line of text."""
    return [(start, end - start) for start, end in text_sentence_spans(text)]


def tokens_per_word(sentence: str, encoding: str) -> tuple[int, int, float]:
    """(tokens, words, tokens per word) of a sentence."""
    tokens = count_text(sentence, encoding)
    words = max(1, len(sentence.split()))
    return tokens, words, tokens / words


def heat_level(density: float) -> float:
    """0 for plain prose (about 1.3 tokens a word), 1 for dense text (3 or more: code,
    numbers, rare words)."""
    return max(0.0, min(1.0, (density - 1.3) / 1.7))


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
