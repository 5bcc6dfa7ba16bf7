"""Plain text shared by every layer: the sentences, words, stopwords and content words
that the summarizer, the optimizer and the metrics read text by, and how a token count
is written in every view. One owner for each, so the offline summary, the compression
levels and the retention measure read text the same way, and the window and the command
line write counts the same way; and the characters that reorder or hide text, which every
view shows as markers. Pure Python (no Qt)."""

from __future__ import annotations

import re

__all__ = [
    "FUNCTION_WORDS",
    "HIDDEN_CONTROL_CLASS",
    "STOPWORDS",
    "content_words",
    "fact_terms",
    "format_token_tag",
    "format_tokens",
    "format_tokens_short",
    "reveal_controls",
    "sentence_spans",
    "split_sentences",
    "words",
]

# --- controls that reorder or hide text -----------------------------------------------------
# Bidi marks, overrides, embeddings and isolates, the zero-width space, the word joiner
# and the BOM: shown as a visible marker, so that a name like "gnp.exe" behind a
# right-to-left override does not read as "exe.png", in the window as on a terminal. The
# zero-width (non-)joiners are left as they are: Persian and Indic words and emoji
# sequences are written with them.
HIDDEN_CONTROL_CLASS = "[\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
_HIDDEN_CONTROLS = re.compile(HIDDEN_CONTROL_CLASS)


def reveal_controls(text: str) -> str:
    """`text` with each bidi or zero-width control replaced by a marker like ⟨U+202E⟩."""
    return _HIDDEN_CONTROLS.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)


# --- sentences -----------------------------------------------------------------------------
# A sentence ends at a line break, or at . ! ? (and any closing quotes or brackets) that
# whitespace and the start of a word follow; a full-width 。！？ ends one with or without
# the whitespace. A full stop does not end one after an abbreviation ("e.g.", "Dr."), an
# initial ("J. Smith") or a section number ("4.1. Entropy"), and a dot inside a number
# or a name ("3.14", "example.com") never does.
_SENTENCE_END = re.compile(
    r"[.!?]+[\"')\]]*\s+(?=[\"'(\[]?\w)"
    r"|[。！？]+[\"')\]」』）]*\s*(?=\S)"
)
ABBREVIATIONS = frozenset({
    "e.g", "i.e", "mr", "mrs", "ms", "dr", "prof", "etc", "vs", "inc", "ltd", "jr", "sr",
    "st", "no", "fig", "approx", "cf", "al",
})
_SECTION_NUMBER = re.compile(r"\s*[\d.]+")
_LINE = re.compile(r"[^\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")  # what str.splitlines cuts at


def _not_an_end(head: str) -> bool:
    """Does the full stop after `head` (the sentence so far) belong to a word instead?"""
    word = head.rsplit(None, 1)[-1].lower().rstrip(".") if head.strip() else ""
    if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):  # "e.g.", "J. Smith"
        return True
    return _SECTION_NUMBER.fullmatch(head) is not None  # a section number: "4.1. Entropy"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`, in order: never empty, never starting or
    ending with whitespace, and nothing but whitespace between or around them."""
    spans: list[tuple[int, int]] = []
    for line in _LINE.finditer(text):
        start, stop = line.start(), line.end()
        for m in _SENTENCE_END.finditer(text, start, stop):
            if m.group()[0] == "." and _not_an_end(text[start : m.start()]):
                continue
            spans.append((start, m.start() + len(m.group().rstrip())))
            start = m.end()
        spans.append((start, stop))
    out = []
    for start, end in spans:
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            out.append((start + lead, start + lead + len(stripped)))
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences of `text` (see sentence_spans), stripped, none empty."""
    return [text[start:end] for start, end in sentence_spans(text)]


# --- words ---------------------------------------------------------------------------------
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_-]*")  # content words: letters, digits, it's, e-mail
_TERM = re.compile(r"\w+")  # terms of a fact: any script, punctuation ignored

# Words that never state a fact on their own: articles, prepositions, "to be", "to have"
# and pronouns. Matching a fact ignores only these: a negation or a modal ("not", "can")
# changes what a fact says, so they are not among them.
FUNCTION_WORDS = frozenset({
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "by", "for", "with", "from",
    "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "he", "she",
    "they", "his", "her", "their", "has", "have", "had",
})
# Words that carry little meaning for salience (which sentence matters most, which chunk
# answers a query): the function words and common connectives, modals and politeness.
STOPWORDS = FUNCTION_WORDS | frozenset({
    "but", "if", "then", "so", "being", "these", "those", "i", "you", "we", "me", "him", "us",
    "them", "my", "your", "our", "what", "which", "who", "whom", "do", "does", "did", "not",
    "no", "yes", "can", "could", "would", "should", "will", "just", "about", "into", "over",
    "than", "too", "very", "also", "there", "here", "how", "when", "where", "why", "all",
    "any", "some", "ok", "okay", "please", "thanks", "thank",
})


def content_words(text: str) -> list[str]:
    """Lowercased words that carry meaning (stopwords dropped), in order."""
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in STOPWORDS]


def words(text: str) -> list[str]:
    """Every lowercased word of `text` (letters and digits of any script), in order."""
    return _TERM.findall(text.lower())


def fact_terms(text: str) -> list[str]:
    """The words of `text` that state a fact: `words` without the FUNCTION_WORDS."""
    return [t for t in words(text) if t not in FUNCTION_WORDS]


# --- token counts as text ------------------------------------------------------------------
_TAG_IN_THOUSANDS = 100_000  # from here a tag counts in thousands: "123k tok"


def format_tokens(n: float) -> str:
    """12345 -> "12,345" (rounded to a whole token)."""
    return f"{round(n):,}"


def format_tokens_short(n: float) -> str:
    """12,345 -> 12.3k; 1,234,567 -> 1.23M (for narrow places)."""
    n = round(n)
    if abs(n) < 1000:
        return str(n)
    if abs(n) < 1_000_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1_000_000:.2f}M".replace(".00M", "M")


def format_token_tag(n: float) -> str:
    """A message's token tag: "12,345 tok", and "123k tok" from 100,000 on."""
    if n < _TAG_IN_THOUSANDS:
        return f"{format_tokens(n)} tok"
    return f"{n / 1000:,.0f}k tok"
