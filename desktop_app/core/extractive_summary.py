"""The offline summarizer: a summary made of the conversation's own sentences, chosen for
what they tell.

Every sentence of the messages being folded (and of the summary so far) is a candidate.
A sentence scores by the information it carries (the facts core.facts finds in it:
names, amounts, dates, codes, rules, decisions) and by how rare its words are in the
material, so the pleasantries and stock advice a chat repeats score low. Sentences are
then picked one at a time by maximal marginal relevance: the best score, discounted by
how much it repeats what is already picked, with a nudge for the side of the
conversation not yet heard, until the budget is full. The same sentence is never picked
twice. The summary lists them in the order they were said, each with who said it."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

from desktop_app.core.facts import fact_weight, signals
from desktop_app.core.text import content_words, split_sentences
from desktop_app.core.tokens import count_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from desktop_app.core.records import Message

ROLE_LABELS = {"user": "User", "assistant": "Assistant"}
_LABELLED = re.compile(r"^(User|Assistant):\s+(.*)$")
_LEAD = re.compile(r"^(?:(?:hi|hello|hey|yes|no|ok|okay|so|and|but|also|well|oh|perfect|"
                   r"great|thanks|thank you|noted|understood|sure|got it)\b[\s,:!.-]*)+",
                   re.IGNORECASE)
MAX_CANDIDATES = 800  # the best-scoring sentences considered for picking
REPEAT = 0.75  # this much word overlap with a picked sentence makes a sentence a repeat
# the words of a focus that ask rather than name what to keep ("keep every decision")
_FOCUS_ASKING = frozenset({"keep", "kept", "every", "everything", "all", "any", "remember",
                           "preserve", "retain", "mention", "mentions", "details", "detail"})


class _Unit:
    __slots__ = ("order", "role", "score", "text", "words")

    def __init__(self, order: int, role: str | None, text: str) -> None:
        self.order = order
        self.role = role
        self.text = text
        self.words = frozenset(content_words(text))
        self.score = 0.0

    def line(self) -> str:
        return f"{ROLE_LABELS[self.role]}: {self.text}" if self.role else self.text


def _units(previous_summary: str, messages: Sequence[Message]) -> list[_Unit]:
    units: list[_Unit] = []
    for line in previous_summary.splitlines():
        m = _LABELLED.match(line.strip())
        if m:
            units.append(_Unit(len(units), m.group(1).lower(), m.group(2)))
        elif line.strip():
            units.extend(_Unit(len(units), None, s) for s in split_sentences(line))
    for msg in messages:
        if msg.role not in ROLE_LABELS or not msg.content:
            continue
        for sentence in split_sentences(msg.content):
            text = _LEAD.sub("", sentence).strip()
            if len(text.split()) >= 2:
                units.append(_Unit(len(units), msg.role, text))  # as written
    return units


def _similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _marginal(u: _Unit, picked: list[_Unit], top: float, unheard: set[str]) -> float:
    """A candidate's worth now: its score, less how much it repeats what is picked, plus
    a nudge when it speaks for a side of the conversation not yet in the summary."""
    repeat = max((_similarity(u.words, p.words) for p in picked), default=0.0)
    return 0.7 * u.score / top - 0.3 * repeat + (0.15 if u.role in unheard else 0.0)


class ExtractiveSummarizer:
    """core.history's Summarizer without a model. A `focus` ("every decision about the
    budget") puts the sentences that speak of it first."""

    method = "extractive"

    def __init__(self, focus: str = "") -> None:
        self.focus = frozenset(w for w in content_words(focus) if w not in _FOCUS_ASKING)

    def _on_focus(self, words: frozenset[str]) -> int:
        """How many of the focus's words a sentence speaks of ("decisions" counts for
        "decision")."""
        return sum(1 for f in self.focus
                   if any(w == f or (len(f) >= 4 and w.startswith(f))
                          or (len(w) >= 4 and f.startswith(w)) for w in words))

    def _score(self, units: list[_Unit]) -> None:
        df = Counter(w for u in units for w in u.words)
        n = len(units)
        for u in units:
            rarity = sum(math.log(1 + n / df[w]) for w in u.words) / math.sqrt(1 + len(u.words))
            u.score = rarity + 1.5 * fact_weight(signals(u.text))
            if u.role == "user":
                u.score *= 1.25  # what the user said is what the conversation is about
            if self.focus:  # what the user asked to keep comes before anything else
                u.score += 1_000 * self._on_focus(u.words)

    def summarize(
        self, previous_summary: str, messages: Sequence[Message], budget_tokens: int, encoding: str
    ) -> str:
        units = _units(previous_summary, messages)
        if budget_tokens <= 0 or not units:
            return ""
        self._score(units)
        seen: set[str] = set()
        candidates: list[_Unit] = []
        for u in sorted(units, key=lambda u: -u.score):
            key = " ".join(sorted(u.words)) or u.text.lower()
            if key not in seen:  # the same sentence said twice is one candidate
                seen.add(key)
                candidates.append(u)
        candidates = candidates[:MAX_CANDIDATES]
        top = max(u.score for u in candidates) or 1.0
        roles = {u.role for u in candidates if u.role}
        picked: list[_Unit] = []
        used = 0
        while candidates:
            heard = {u.role for u in picked if u.role}
            best = max(candidates, key=lambda u: _marginal(u, picked, top, roles - heard))
            candidates.remove(best)
            if any(_similarity(best.words, p.words) >= REPEAT for p in picked):
                continue
            cost = count_text(best.line() + "\n", encoding)
            if used + cost > budget_tokens:
                continue
            picked.append(best)
            used += cost
        text = "\n".join(u.line() for u in sorted(picked, key=lambda u: u.order))
        while text and count_text(text, encoding) > budget_tokens:  # joins can merge tokens
            text = text.rsplit("\n", 1)[0] if "\n" in text else ""
        return text
