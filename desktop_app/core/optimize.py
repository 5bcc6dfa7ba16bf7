"""Making input smaller (guide §3.3, §4.2, §5.3): four compression levels chosen by the
compression a target needs, structured-input compression (prose facts to `key: value`
lines), progressive loading (token chunks with overlap) and relevance filtering of
chunks against a query (BM25, with a hook for an embedding scorer). Pure Python.

Levels, lightest first; each one starts from the output of the lighter ones:
  format       whitespace, filler phrases, markdown noise, repeated punctuation
  restructure  prose facts become `key: value` lines (kept only when that saves tokens)
  keypoints    the most salient whole sentences, in their original order, to the target
  summarize    condensed sentences chosen for coverage (no repeats), to a hard target;
               when not even one sentence fits, the best one is cut and labelled

Instructions and constraints come first at every level (core/instructions.py): the two
fixed transforms leave them as they are, and key points and summaries take them, whole,
before any other sentence, then the role. Every result says what it kept of the text's
key items (each instruction and role, every number and name), and what it lost.
"""

from __future__ import annotations

import functools
import heapq
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from desktop_app.core import instructions
from desktop_app.core.metrics import information_retention
from desktop_app.core.text import content_words, sentence_spans
from desktop_app.core.tokens import count_text, decode, encode, get_encoding

LEVELS = ("format", "restructure", "keypoints", "summarize")
LEVEL_LABELS = {
    "none": "Unchanged",
    "format": "Format compression",
    "restructure": "Restructured as key: value",
    "keypoints": "Key points",
    "summarize": "Summary",
}
# Below this share of the original, dropping whole sentences loses too much: summarizing
# (condensed sentences, chosen so they do not repeat each other) keeps more facts.
KEYPOINTS_MIN_RATIO = 0.3
TRUNCATION_LABEL = " [truncated]"


class OptimizeError(ValueError):
    """A request the optimizer cannot make sense of (a target <= 0, a bad overlap)."""


@dataclass(frozen=True)
class CompressionResult:
    text: str
    level: str  # "none" or one of LEVELS
    tokens_before: int
    tokens_after: int
    target_tokens: int
    fits: bool  # tokens_after <= target_tokens, always from a real count
    truncated: bool = False  # the last-resort cut happened; the text says so too
    message: str | None = None
    retention: float = 1.0  # the share of the key items (instructions, numbers, names) kept
    lost: tuple[str, ...] = ()  # the key items the text no longer has, instructions first
    key_items: int = 0  # how many key items the text had

    @property
    def ratio(self) -> float:
        """tokens after / tokens before (1.0 for empty input)."""
        return self.tokens_after / self.tokens_before if self.tokens_before else 1.0

    @property
    def saving(self) -> int:
        return self.tokens_before - self.tokens_after

    @property
    def loss_warning(self) -> str | None:
        """One sentence saying what the target cost, when it cost a key item; else None."""
        return loss_warning(self.lost, self.key_items, self.target_tokens)


@dataclass(frozen=True)
class Suggestion:
    level: str
    label: str
    text: str
    tokens_before: int
    tokens_after: int
    retention: float = 1.0  # as in CompressionResult
    lost: tuple[str, ...] = ()
    key_items: int = 0

    @property
    def saving(self) -> int:
        return self.tokens_before - self.tokens_after


@dataclass(frozen=True)
class Kept:
    """What a compressed text kept of the original's key items (core/instructions.py)."""

    retention: float
    lost: tuple[str, ...]
    total: int


def kept_items(reference: str, compressed: str) -> Kept:
    """The key items of `reference` (a text after format compression, which only drops
    filler) that `compressed` still holds: instructions first, then the rest."""
    items = instructions.key_items(u.text for u in _units(reference))
    found = information_retention(items, compressed)
    order = {item: i for i, item in enumerate(items)}
    lost = sorted(found.lost, key=lambda item: (instructions.kind(item) == 0, order[item]))
    return Kept(found.ratio, tuple(lost), len(items))


def _quote(item: str, limit: int = 60) -> str:
    return f"“{item if len(item) <= limit else item[: limit - 1].rstrip() + '…'}”"


def loss_warning(lost: Sequence[str], total: int, target: int | None = None) -> str | None:
    """'the target of 10 tokens forces loss: it keeps 3 of 12 key items (25%) and drops
    the instructions “…”, “…” and 3 numbers and names (Lisbon, May, 2,000)', or None
    when nothing was lost."""
    if not lost:
        return None
    orders = [item for item in lost if instructions.kind(item) != 0]
    others = [item for item in lost if instructions.kind(item) == 0]
    parts = []
    if orders:
        shown = ", ".join(_quote(item) for item in orders[:3])
        more = f" and {len(orders) - 3} more" if len(orders) > 3 else ""
        word = "instruction" if len(orders) == 1 else "instructions"
        parts.append(f"the {word} {shown}{more}")
    if others:
        shown = ", ".join(others[:6]) + (", …" if len(others) > 6 else "")
        word = "number or name" if len(others) == 1 else "numbers and names"
        parts.append(f"{len(others)} {word} ({shown})")
    what = f"the target of {target} tokens" if target is not None else "this compression"
    kept = total - len(lost)
    return (f"{what} forces loss: it keeps {kept} of {total} key items "
            f"({kept / total:.0%}) and drops " + " and ".join(parts))


@dataclass(frozen=True)
class StructuredResult:
    text: str
    pairs: tuple[tuple[str, str], ...]  # the facts that became key: value lines
    tokens_before: int
    tokens_after: int

    @property
    def saving(self) -> int:
        """Tokens saved; negative when the lines cost more than the prose."""
        return self.tokens_before - self.tokens_after


# --- text units (sentences and lines) -----------------------------------------------------
_FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class _Unit:
    text: str
    sep: str  # the whitespace before it in the source: "", " ", "\n" or "\n\n"


def _sep_of(gap: str) -> str:
    if not gap:
        return ""
    newlines = gap.count("\n")
    return "\n\n" if newlines > 1 else "\n" if newlines else " "


def _units(text: str) -> list[_Unit]:
    """Sentences and lines of `text`; a fenced code block is one unit, never split."""
    pieces: list[tuple[int, int, bool]] = []  # (start, end, atomic)
    pos = 0
    for m in _FENCE.finditer(text):
        pieces.append((pos, m.start(), False))
        pieces.append((m.start(), m.end(), True))
        pos = m.end()
    pieces.append((pos, len(text), False))
    units: list[_Unit] = []
    gap = ""
    for start, end, atomic in pieces:
        chunk = text[start:end]
        if atomic:
            units.append(_Unit(chunk, _sep_of(gap) if units else ""))
            gap = ""
            continue
        for line in re.split(r"(\n)", chunk):
            if line == "\n" or not line.strip():
                gap += line if line == "\n" else ""
                continue
            indent = line[: len(line) - len(line.lstrip())]
            previous = 0  # the end of the sentence before, in the line
            for i, (begin, stop) in enumerate(sentence_spans(line)):
                gap += line[previous:begin] if i else ""
                sep = _sep_of(gap) if units else ""
                units.append(_Unit((indent if i == 0 else "") + line[begin:stop], sep))
                gap, previous = "", stop
    return units


def _join(units: Sequence[_Unit], keep: Sequence[int]) -> str:
    """The kept units in document order, each after the widest gap since the last kept."""
    order = {"": 0, " ": 1, "\n": 2, "\n\n": 3}
    parts: list[str] = []
    last = -1
    for i in sorted(keep):
        if parts:
            sep = max((units[j].sep for j in range(last + 1, i + 1)), key=order.__getitem__)
            parts.append(sep or " ")
        parts.append(units[i].text)
        last = i
    return "".join(parts)


# --- level 1: format compression ------------------------------------------------------------
# (phrase, replacement); "" removes the phrase. Matched as whole words, any case.
FILLER_PHRASES: tuple[tuple[str, str], ...] = (
    ("it is important to note that", ""),
    ("it should be noted that", ""),
    ("it is worth noting that", ""),
    ("it goes without saying that", ""),
    ("needless to say,?", ""),
    ("please note that", ""),
    ("as a matter of fact,?", ""),
    ("for all intents and purposes,?", ""),
    ("i would like you to", ""),
    ("could you please", ""),
    ("can you please", ""),
    ("would you kindly", ""),
    ("please", ""),
    ("kindly", ""),
    ("basically,?", ""),
    ("actually,?", ""),
    ("really", ""),
    ("literally", ""),
    ("very", ""),
    ("a total of", ""),
    ("in order to", "to"),
    ("due to the fact that", "because"),
    ("owing to the fact that", "because"),
    ("in spite of the fact that", "although"),
    ("despite the fact that", "although"),
    ("at this point in time", "now"),
    ("at the present time", "now"),
    ("in the event that", "if"),
    ("a large number of", "many"),
    ("the majority of", "most"),
    ("with regard to", "about"),
    ("with respect to", "about"),
    ("in regard to", "about"),
    ("prior to", "before"),
    ("subsequent to", "after"),
    ("(?:has|have) the ability to", "can"),
    ("(?:is|are) able to", "can"),
    ("in close proximity to", "near"),
    ("make sure that", "ensure"),
    ("for the purpose of", "for"),
    ("in the near future", "soon"),
    ("on a daily basis", "daily"),
    ("on a regular basis", "regularly"),
    ("each and every", "every"),
    ("first and foremost", "first"),
)
_FILLERS = [
    (re.compile(rf"\b{phrase}(?![\w-])[ \t]*", re.IGNORECASE), repl)
    for phrase, repl in FILLER_PHRASES
]
_INLINE_CODE = re.compile(r"`[^`\n]+`")


def _at_sentence_start(match: re.Match[str]) -> bool:
    before = match.string[: match.start()].rstrip(" \t")
    return not before or before[-1] in ".!?:\n"


def _apply_filler(match: re.Match[str], repl: str) -> str:
    capital = match.group()[0].isupper() and _at_sentence_start(match)
    if not repl:
        return "\x01" if capital else ""  # \x01: capitalise the word that follows
    return (repl[0].upper() + repl[1:] if capital else repl) + " "


def _format_prose(text: str) -> str:
    for pattern, repl in _FILLERS:
        text = pattern.sub(functools.partial(_apply_filler, repl=repl), text)
    text = re.sub(r"\x01+[\s,;]*(\w)?", lambda m: (m[1] or "").upper(), text)
    text = re.sub(r"^[ \t]*([-*_=])(?:[ \t]*\1){2,}[ \t]*$", "", text, flags=re.MULTILINE)
    text = re.sub(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)[ \t#]*$", r"\1", text, flags=re.MULTILINE)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    # **bold** and *italic*; not __x__, which is more often a Python name than emphasis
    text = re.sub(r"(?<![\w*])\*\*(?=\S)([^*\n]+?)(?<=\S)\*\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", text)
    text = re.sub(r"([!?])[!?]+", r"\1", text)
    text = re.sub(r"\.{4,}", "...", text)
    text = re.sub(r"([,;:])\1+", r"\1", text)
    text = re.sub(r"(?<=\S)[ \t]{2,}", " ", text)
    text = re.sub(r"[ \t]+([,.;:!?])(?=\s|$)", r"\1", text)  # space left before punctuation
    text = re.sub(r"[ \t]+(?=\n)", "", text)  # (a segment may end before inline code)
    return re.sub(r"\n\n\n+", "\n\n", text)


def format_compress(text: str) -> str:
    """Level 1: collapse whitespace, strip filler phrases, markdown emphasis, heading
    marks, rules and comments, and repeated punctuation. Code (fenced blocks and inline
    `spans`) is left exactly as it was."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    pos = 0
    for m in _FENCE.finditer(text):
        out.append(_format_outside_inline_code(text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_format_outside_inline_code(text[pos:]))
    return "".join(out).strip()


def _format_outside_inline_code(text: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _INLINE_CODE.finditer(text):
        out.append(_format_prose(text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_format_prose(text[pos:]))
    return "".join(out)


# --- level 2: restructuring (structured input) -------------------------------------------
_SUBJECT = r"(?:the|a|an|his|her|its|their|our|my|your)\s+"
_PRONOUN = r"(?:he|she|they|it|i|we)"
_KEY = r"[\w$&'’/-]+(?:\s+[\w$&'’/-]+){0,5}?"
_NOT_KEYS = frozenset({
    "it", "this", "that", "there", "he", "she", "they", "we", "i", "you", "which", "what",
    "who", "these", "those", "here", "one", "if", "when", "while", "because", "although",
    "whether", "and", "but", "so", "then",
})
_NOT_VALUES = re.compile(r"^(?:that|not|because|to|if|when|so|very|too)\b", re.IGNORECASE)
_KV_LINE = re.compile(r"^\s*[-*]?\s*[^:\n]{1,40}:\s")
_THING = rf"^(?:{_SUBJECT})?({_KEY})\s+"  # "the customer's name ", "his email "
_FactMaker = Callable[[re.Match[str]], tuple[str, str]]
_RULES: tuple[tuple[str, _FactMaker], ...] = (
    (rf"^{_PRONOUN}\s+(?:is|are|am|was)\s+(\d+)\s+years?\s+old$", lambda m: ("age", m[1])),
    (rf"^{_PRONOUN}\s+(?:has|have)\s+been\s+(?:an?\s+)?(\w+)\s+for\s+(.+)$",
     lambda m: (f"{m[1]} for", m[2])),
    (rf"^{_PRONOUN}\s+(?:has|have)\s+(?:an?\s+)(\w+)\s+(\w+)$", lambda m: (m[2], m[1])),
    (rf"^{_PRONOUN}\s+(?:has|have)\s+spent\s+(.+?)(?:\s+with\s+us)?$",
     lambda m: ("total spend", m[1])),
    (rf"^{_PRONOUN}\s+(?:live|lives|is based|are based)\s+in\s+(.+)$",
     lambda m: ("location", m[1])),
    (rf"^{_PRONOUN}\s+works?\s+(?:at|for)\s+(.+)$", lambda m: ("employer", m[1])),
    (rf"{_THING}(?:is|are|was|were|will be)\s+(?:held|located)\s+(?:in|at|on)\s+(.+)$",
     lambda m: (f"{m[1]} location", m[2])),
    (rf"{_THING}(?:is|are|was|were)\s+scheduled\s+(?:to\s+take\s+place\s+|for\s+)?(.+)$",
     lambda m: (m[1], m[2])),
    (rf"{_THING}uses\s+(.+)$", lambda m: (m[1], m[2])),
    (rf"{_THING}(?:is|are|was|were|will be|equals)\s+(.+)$", lambda m: (m[1], m[2])),
)
_RESTRUCTURE_RULES = tuple((re.compile(p, re.IGNORECASE), make) for p, make in _RULES)


def _fact_of(sentence: str) -> tuple[str, str] | None:
    """(key, value) when a sentence states one fact in a shape we recognise."""
    body = sentence.strip().rstrip(".!").strip()
    if not body or "\n" in body or body.endswith("?") or _KV_LINE.match(body):
        return None
    for pattern, make in _RESTRUCTURE_RULES:
        m = pattern.match(body)
        if not m:
            continue
        key, value = (part.strip() for part in make(m))
        words = key.lower().split()
        if not words or words[0] in _NOT_KEYS or _NOT_VALUES.match(value):
            return None
        if len(value.split()) > 14:  # a long clause is not one fact
            return None
        key = re.sub(r"['’]s\b", "", key)  # "customer's name" -> "customer name"
        value = re.sub(r"^(?:on|at)\s+(?=[A-Z0-9])", "", value)  # "was on March 15" -> "March 15"
        value = re.sub(r"^(?:a|an|the)\s+", "", value, flags=re.IGNORECASE)
        return key[0].upper() + key[1:], value
    return None


def restructure(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Each sentence that states one fact becomes a `Key: value` line; everything else
    stays as it was, in place."""
    parts: list[str] = []
    pairs: list[tuple[str, str]] = []
    previous_was_fact = False
    for unit in _units(text):
        fact = (None if unit.text.startswith("```") or instructions.kind(unit.text)
                else _fact_of(unit.text))
        sep = unit.sep
        if parts and (fact or previous_was_fact) and sep in ("", " "):
            sep = "\n"  # a fact gets a line of its own
        if fact:
            pairs.append(fact)
        parts.append(sep + (f"{fact[0]}: {fact[1]}" if fact else unit.text))
        previous_was_fact = fact is not None
    return "".join(parts), tuple(pairs)


def to_key_values(text: str, encoding: str = "o200k_base") -> StructuredResult:
    """Structured-input compression (guide §3.3.3): prose facts as `key: value` lines,
    with the token counts before and after so the saving can be shown."""
    formatted = format_compress(text)
    structured, pairs = restructure(formatted)
    return StructuredResult(
        structured, pairs, count_text(text, encoding), count_text(structured, encoding)
    )


# --- levels 3 and 4: key points and summary -------------------------------------------------


_SPECIFIC = re.compile(r"(?<![\w.])\d[\d,.:/%-]*|(?<=[a-z,;] )[A-Z][a-z]+")  # numbers, names
_SECTION_NUMBER = re.compile(r"^\s*\d+(?:\.\d+)*\.?\s")


def _salience(units: Sequence[_Unit]) -> tuple[list[float], Counter[str]]:
    """A lexical salience score per unit. Topicality: how often its content words recur
    elsewhere in the text (their mean, growing slowly with how many there are, so a long
    unit is not favoured for its length alone). Specificity: numbers and names, facts a
    model could not infer. Halved for what is rarely a key point on its own: a title, a
    line that only introduces what follows ("...:"), a code block."""
    words = [content_words(u.text) for u in units]
    freq: Counter[str] = Counter(w for ws in words for w in ws)
    scores = []
    for i, ws in enumerate(words):
        unique = set(ws)
        text = units[i].text.strip()
        recur = sum(freq[w] - ws.count(w) for w in unique)
        topical = (1 + recur) / (1 + len(unique)) * math.log2(2 + len(unique))
        specific = 1 + 0.15 * min(4, len(_SPECIFIC.findall(_SECTION_NUMBER.sub("", text))))
        title = len(ws) <= 8 and not text.endswith((".", "!", "?", ":")) and ": " not in text
        minor = text.startswith("```") or text.endswith(":") or title
        scores.append(topical * specific * (0.5 if minor else 1.0) * (1.2 if i == 0 else 1.0))
    return scores, freq


def _fit(units: Sequence[_Unit], order: Sequence[int], target: int, encoding: str) -> list[int]:
    """Take units in `order` while they fit; then drop the last taken until the joined
    text really counts <= target (joins can change the count slightly)."""
    kept: list[int] = []
    used = -1  # the first unit has no separator
    for i in order:
        cost = count_text(units[i].text, encoding) + 1  # + its separator, conservatively
        if used + cost <= target:
            kept.append(i)
            used += cost
    while kept and count_text(_join(units, kept), encoding) > target:
        kept.pop()
    return kept


def _kinds(units: Sequence[_Unit]) -> list[int]:
    return [instructions.kind(u.text) for u in units]


def key_points(text: str, target_tokens: int, encoding: str = "o200k_base") -> str:
    """Level 3: the instructions, then the role, then the highest-scoring sentences, whole,
    as many as fit, in original order."""
    units = _units(text)
    scores, _ = _salience(units)
    kinds = _kinds(units)
    order = sorted(range(len(units)), key=lambda i: (-kinds[i], -scores[i], i))
    return _join(units, _fit(units, order, target_tokens, encoding))


_OPENERS = (
    r"^(?:i think|i believe|it seems|in my opinion|overall|in general|generally|"
    r"additionally|furthermore|moreover|in addition|also)\b,?\s*(?:that\s+)?"
)
_CONDENSE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, re.IGNORECASE), r)
    for p, r in (
        (r"\s*\((?:[^()\d]*)\)", ""),  # asides in parentheses, unless they hold numbers
        (_OPENERS, ""),
        (r"\b(?:the|a|an)\s+(?=\w)", ""),
    )
)


def condense(sentence: str) -> str:
    """Telegraphic style: drop articles, openers and asides without numbers."""
    if sentence.startswith("```"):
        return sentence
    out = sentence
    for pattern, repl in _CONDENSE:
        out = pattern.sub(repl, out)
    out = re.sub(r"[ \t]{2,}", " ", out).strip()
    if not out:
        return sentence
    return out[0].upper() + out[1:] if sentence[:1].isupper() else out


def summarize(text: str, target_tokens: int, encoding: str = "o200k_base") -> tuple[str, bool]:
    """Level 4: an extractive summary to a hard target. Sentences are condensed, then
    chosen greedily for the salient words they add that earlier choices did not cover
    (so near-repeats are skipped), and shown in original order. When not one sentence
    fits, the best one is cut at a clause or word boundary and labelled; returns
    (text, truncated)."""
    raw = _units(text)
    kinds = _kinds(raw)  # instructions and the role are taken first, and never condensed
    units = [u if kinds[i] else _Unit(condense(u.text), u.sep) for i, u in enumerate(raw)]
    scores, freq = _salience(units)
    words = [set(content_words(u.text)) for u in units]
    order = sorted((i for i in range(len(units)) if kinds[i]),
                   key=lambda i: (-kinds[i], -scores[i], i))
    covered: set[str] = set().union(*(words[i] for i in order))

    def gain(i: int) -> float:  # the unit's score, scaled by the share of it still new
        total = sum(freq[w] for w in words[i])
        return scores[i] * sum(freq[w] for w in words[i] - covered) / total if total else 0.0

    heap = [(-s, i) for i, s in enumerate(scores) if not kinds[i]]
    heapq.heapify(heap)
    while heap:  # lazy greedy: a unit's gain can only fall as coverage grows
        _, i = heapq.heappop(heap)
        g = gain(i)
        if heap and g < -heap[0][0]:
            heapq.heappush(heap, (-g, i))
        elif g > 0:  # a unit that only repeats others is left out
            order.append(i)
            covered |= words[i]
    kept = _fit(units, order, target_tokens, encoding)
    if kept:
        return _join(units, kept), False
    if not units:
        return "", False
    best = max(range(len(units)), key=lambda i: (kinds[i], scores[i], -i))
    cut = _truncate(units[best].text, target_tokens, encoding)
    return cut, bool(cut)


def _longest(n: int, fits: Callable[[int], bool]) -> int:
    """The largest k in 0..n with fits(k), for fits that is true up to some k and false
    after it (a token count that grows with k); a few steps back cover small wobbles."""
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    while lo > 0 and not fits(lo):
        lo -= 1
    return lo


def _truncate(sentence: str, target: int, encoding: str) -> str:
    """The longest start of `sentence` that fits with the label, ending at a clause
    boundary when one is near, else at a word boundary, else (text without spaces) at a
    character boundary; "" when not even that fits."""
    words = sentence.split(" ")

    def head(k: int) -> str:
        return " ".join(words[:k]).rstrip(",;: ")

    k = _longest(len(words), lambda k: count_text(head(k) + TRUNCATION_LABEL, encoding) <= target)
    if k:
        clause = max((j for j in range(1, k + 1) if words[j - 1].endswith((",", ";", ":"))),
                     default=0)
        return head(clause if clause >= k * 0.6 else k) + TRUNCATION_LABEL
    ids = encode(words[0], encoding)  # one long word: cut between its tokens

    def token_head(m: int) -> str:
        return decode(ids[:m], encoding).rstrip("\ufffd")  # no half a character

    m = _longest(len(ids), lambda m: count_text(token_head(m) + TRUNCATION_LABEL, encoding)
                 <= target)
    return token_head(m) + TRUNCATION_LABEL if token_head(m).strip() else ""


# --- choosing a level ----------------------------------------------------------------------
def _lighter_levels(text: str, encoding: str) -> tuple[str, str]:
    """(format output, restructure output); the second is the first when restructuring
    does not save tokens."""
    formatted = format_compress(text)
    structured, _ = restructure(formatted)
    if count_text(structured, encoding) >= count_text(formatted, encoding):
        structured = formatted
    return formatted, structured


def _result(text: str, level: str, before: int, target: int, encoding: str,
            truncated: bool = False, why: str | None = None,
            reference: str | None = None) -> CompressionResult:
    """`reference`: the text after format compression, whose key items the result is
    measured against (None: the text is the original, nothing was lost)."""
    after = count_text(text, encoding)
    kept = kept_items(reference, text) if reference is not None else Kept(1.0, (), 0)
    fits = after <= target and (bool(text.strip()) or before == 0)  # "" fits nothing
    message = why
    if not fits and message is None and not text.strip():
        message = (f"nothing is left after {LEVEL_LABELS[level].lower()}: the text holds only "
                   "whitespace, rules or markup")
    elif not fits and message is None:
        message = (f"{LEVEL_LABELS[level].lower()} gives {after} tokens, over the target of "
                   f"{target}; a stronger level is needed")
    elif truncated and message is None:
        message = (f"no whole sentence fits in {target} tokens: the most salient one was "
                   f"truncated and labelled '{TRUNCATION_LABEL.strip()}'")
    return CompressionResult(text, level, before, after, target, fits, truncated, message,
                             kept.retention, kept.lost, kept.total)


def compress(
    text: str, target_tokens: int, encoding: str = "o200k_base", level: str = "auto"
) -> CompressionResult:
    """Compress `text` to at most `target_tokens` tokens. With level "auto" the lightest
    level that reaches the target is used: the two fixed transforms are tried first (they
    are cheap), then key points when the needed ratio (target / tokens) is at least
    KEYPOINTS_MIN_RATIO, else a summary. `fits` comes from a real count of the text."""
    if target_tokens <= 0:
        raise OptimizeError(f"the target must be a positive number of tokens, got {target_tokens}")
    if level != "auto" and level not in LEVELS:
        raise OptimizeError(f"unknown level {level!r} (choose auto or {', '.join(LEVELS)})")
    before = count_text(text, encoding)
    if level == "auto" and before <= target_tokens:
        return _result(text, "none", before, target_tokens, encoding)
    formatted, structured = _lighter_levels(text, encoding)
    if level == "format" or (level == "auto" and count_text(formatted, encoding) <= target_tokens):
        return _result(formatted, "format", before, target_tokens, encoding,
                       reference=formatted)
    if level == "restructure" or (
        level == "auto" and count_text(structured, encoding) <= target_tokens
    ):
        return _result(structured, "restructure", before, target_tokens, encoding,
                       reference=formatted)
    needed = target_tokens / before
    if level == "keypoints" or (level == "auto" and needed >= KEYPOINTS_MIN_RATIO):
        kept = key_points(structured, target_tokens, encoding)
        if kept or level == "keypoints":
            why = None if kept else (f"no whole sentence fits in {target_tokens} tokens; "
                                     "a summary can cut one")
            return _result(kept, "keypoints", before, target_tokens, encoding, why=why,
                           reference=formatted)
    summary, truncated = summarize(structured, target_tokens, encoding)
    why = None
    if not summary:
        why = (f"cannot fit in {target_tokens} tokens: not even one word and the "
               f"'{TRUNCATION_LABEL.strip()}' label fit")
    return _result(summary, "summarize", before, target_tokens, encoding, truncated, why,
                   reference=formatted)


def suggestions(text: str, encoding: str = "o200k_base") -> list[Suggestion]:
    """Each level's output and its saving, for the Prompt Lab to show and apply: key
    points at half the tokens, a summary at a quarter. Levels that save nothing, or
    give the same text as a lighter level, are left out."""
    before = count_text(text, encoding)
    if not before:
        return []
    formatted, structured = _lighter_levels(text, encoding)
    candidates = [("format", formatted), ("restructure", structured)]
    candidates.append(("keypoints", key_points(structured, max(1, before // 2), encoding)))
    candidates.append(("summarize", summarize(structured, max(1, before // 4), encoding)[0]))
    out: list[Suggestion] = []
    seen = {text}
    for level, candidate in candidates:
        after = count_text(candidate, encoding)
        if candidate and candidate not in seen and after < before:
            kept = kept_items(formatted, candidate)
            out.append(Suggestion(level, LEVEL_LABELS[level], candidate, before, after,
                                  kept.retention, kept.lost, kept.total))
            seen.add(candidate)
    return out


# --- progressive loading: token chunks with overlap ------------------------------------------
@dataclass(frozen=True)
class Chunk:
    index: int
    start_token: int  # span [start_token, end_token) in the document's token ids
    end_token: int
    char_start: int  # the same span in the document's characters
    char_end: int
    text: str
    clean: bool = True  # False when a cut fell inside a character (text shows U+FFFD)
    whole_words: bool = True  # False when a word longer than a chunk had to be cut

    @property
    def tokens(self) -> int:
        return self.end_token - self.start_token


_NOT_CONTINUATION = bytes(b for b in range(256) if not 0x80 <= b <= 0xBF)
_SENTENCE_STOPS = ".!?。！？"
_CLOSERS = "\"')]}»”’」』）"


def chunk_by_tokens(
    text: str, chunk_tokens: int, overlap_tokens: int = 0, encoding: str = "o200k_base"
) -> list[Chunk]:
    """Split `text` into chunks of at most `chunk_tokens` tokens (guide §3.3.1, in tokens
    rather than characters), each starting up to `overlap_tokens` before the previous one
    ended. Every cut falls between words: at the end of a sentence (or a line) when one
    is in the second half of the chunk, else at the last space that fits. Only a word
    longer than a whole chunk is cut inside (that chunk says so: `whole_words` False),
    and then never inside a character when it can be helped. The text is encoded once
    and token ids are sliced, so each chunk's count is exact."""
    if chunk_tokens < 1:
        raise OptimizeError(f"chunk size must be at least 1 token, got {chunk_tokens}")
    if not 0 <= overlap_tokens < chunk_tokens:
        raise OptimizeError(
            f"overlap ({overlap_tokens} tokens) must be at least 0 and smaller than the "
            f"chunk size ({chunk_tokens} tokens)"
        )
    ids = encode(text, encoding)
    if not ids:
        return []
    enc = get_encoding(encoding)
    token_bytes = [enc.decode_single_token_bytes(t) for t in ids]
    n = len(ids)
    # starts[k]: does token k begin a character? chars_at[k]: characters before token k
    starts = [(tb[0] & 0xC0) != 0x80 for tb in token_bytes] + [True]
    chars_at = [0]
    for tb in token_bytes:
        chars_at.append(chars_at[-1] + len(tb) - len(tb.translate(None, _NOT_CONTINUATION)))

    def between_words(k: int) -> bool:  # a cut before token k splits no word
        if k in (0, n):
            return True
        c = chars_at[k]
        return starts[k] and (text[c - 1].isspace() or text[c].isspace())

    def sentence_end(k: int) -> bool:  # ... and ends a sentence or a line
        if not between_words(k) or k in (0, n):
            return between_words(k)
        c = chars_at[k]
        before, after = text[max(0, c - 16) : c], text[c : c + 16]
        gap = before[len(before.rstrip()) :] + after[: len(after) - len(after.lstrip())]
        head = before.rstrip().rstrip(_CLOSERS)
        return "\n" in gap or (bool(head) and head[-1] in _SENTENCE_STOPS)

    def best_end(lowest: int, limit: int, start: int) -> int | None:
        """The last sentence end in the chunk's second half, else the last cut between
        words, in [lowest, limit]; None when the span holds no cut between words."""
        half = max(lowest, start + chunk_tokens // 2)
        for k in range(limit, half - 1, -1):
            if sentence_end(k):
                return k
        return next((k for k in range(limit, lowest - 1, -1) if between_words(k)), None)

    chunks: list[Chunk] = []
    start = previous_end = 0
    while True:
        limit = min(start + chunk_tokens, n)
        end = n if limit == n else best_end(max(start, previous_end) + 1, limit, start)
        if end is None and start < previous_end:  # no room after the overlap: drop it
            start = previous_end
            limit = min(start + chunk_tokens, n)
            end = n if limit == n else best_end(start + 1, limit, start)
        if end is None:  # one word longer than a chunk: cut it, between characters if we can
            lowest = max(start, previous_end) + 1
            end = next((k for k in range(limit, lowest - 1, -1) if starts[k]), limit)
        piece = b"".join(token_bytes[start:end])
        chunks.append(Chunk(len(chunks), start, end, chars_at[start], chars_at[end],
                            piece.decode("utf-8", "replace"), starts[start] and starts[end],
                            between_words(start) and between_words(end)))
        if end >= n:
            return chunks
        # the next chunk starts up to `overlap` tokens back: at a sentence, else a word
        span = range(max(end - overlap_tokens, start + 1), end)
        previous_end = end
        start = next((k for k in span if sentence_end(k)),
                     next((k for k in span if between_words(k)), end))


# --- relevance: BM25 and the boundary filter -------------------------------------------------
Scorer = Callable[[str, Sequence[str]], Sequence[float]]
"""scorer(query, documents) -> one relevance score per document, higher is more relevant.
BM25 is the default; an embedding scorer (cosine similarity) can be passed instead."""


def _stem(word: str) -> str:
    """A light stem so plurals and possessives match their singular."""
    word = word.removesuffix("'s")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _terms(text: str) -> list[str]:
    return [_stem(w) for w in content_words(text)]


def bm25_scores(query: str, documents: Sequence[str], k1: float = 1.5,
                b: float = 0.75) -> list[float]:
    """Okapi BM25 of each document for the query's content words."""
    docs = [_terms(d) for d in documents]
    if not docs:
        return []
    query_terms = set(_terms(query))
    avg_len = sum(len(d) for d in docs) / len(docs) or 1.0
    df = Counter(t for d in docs for t in set(d))
    idf = {t: math.log(1 + (len(docs) - df[t] + 0.5) / (df[t] + 0.5)) for t in query_terms}
    scores = []
    for d in docs:
        tf = Counter(d)
        norm = k1 * (1 - b + b * len(d) / avg_len)
        scores.append(sum(idf[t] * tf[t] * (k1 + 1) / (tf[t] + norm) for t in query_terms if tf[t]))
    return scores


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float  # the scorer's raw score
    relevance: float  # score / best score, in [0, 1]


def rank_chunks(chunks: Sequence[Chunk], query: str,
                scorer: Scorer = bm25_scores) -> list[ScoredChunk]:
    """Every chunk with its score and normalised relevance, in document order."""
    scores = list(scorer(query, [c.text for c in chunks]))
    if len(scores) != len(chunks):
        raise OptimizeError(f"the scorer gave {len(scores)} scores for {len(chunks)} chunks")
    best = max(scores, default=0.0)
    return [ScoredChunk(c, s, s / best if best > 0 else 0.0)
            for c, s in zip(chunks, scores, strict=True)]


def boundary_filter(chunks: Sequence[Chunk], query: str, threshold: float = 0.5,
                    scorer: Scorer = bm25_scores) -> list[ScoredChunk]:
    """The guide's semi-permeable boundary (§5.3): admit the chunks whose normalised
    relevance is above `threshold` (0 <= threshold < 1), in document order."""
    if not 0 <= threshold < 1:
        raise OptimizeError(f"threshold must be at least 0 and below 1, got {threshold}")
    return [s for s in rank_chunks(chunks, query, scorer) if s.relevance > threshold]


def select_relevant(chunks: Sequence[Chunk], query: str, budget_tokens: int,
                    scorer: Scorer = bm25_scores, threshold: float = 0.0) -> list[ScoredChunk]:
    """The most relevant chunks whose tokens together stay within `budget_tokens`,
    returned in document order. Chunks with no relevance (or not above `threshold`)
    are never taken; a chunk too big for what is left is skipped for smaller ones."""
    if budget_tokens < 0:
        raise OptimizeError(f"budget must be 0 or more tokens, got {budget_tokens}")
    admitted = boundary_filter(chunks, query, threshold, scorer)
    kept: list[ScoredChunk] = []
    used = 0
    for s in sorted(admitted, key=lambda s: (-s.score, s.chunk.index)):
        if used + s.chunk.tokens <= budget_tokens:
            kept.append(s)
            used += s.chunk.tokens
    return sorted(kept, key=lambda s: s.chunk.index)
