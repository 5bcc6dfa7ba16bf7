"""History strategies: which earlier messages a request carries, and the offline
summarizer and fact extractor that let every strategy work without a model."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from desktop_app.core.glossary import STRATEGY_LABELS
from desktop_app.core.text import content_words, split_sentences
from desktop_app.core.tokens import count_text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from desktop_app.core.records import Message

STRATEGIES = ("full", "last_n", "token_window", "rolling_summary", "kv_memory", "hybrid")
SUMMARIZING = ("rolling_summary", "hybrid")
EXTRACTING = ("kv_memory", "hybrid")


class StrategyError(ValueError):
    pass


@dataclass(frozen=True)
class HistoryStrategy:
    kind: str = "token_window"
    last_n: int = 20  # for "last_n": how many recent messages to keep

    def __post_init__(self) -> None:
        if self.kind not in STRATEGIES:
            raise StrategyError(
                f"unknown history strategy {self.kind!r} (known: {', '.join(STRATEGIES)})"
            )
        if self.last_n < 1:
            raise StrategyError(f"last N must be at least 1, got {self.last_n}")

    @property
    def label(self) -> str:
        return STRATEGY_LABELS[self.kind]

    @property
    def summarizes(self) -> bool:
        return self.kind in SUMMARIZING

    @property
    def extracts(self) -> bool:
        return self.kind in EXTRACTING

    @classmethod
    def from_settings(cls, kind: str, settings: Mapping[str, Any] | None = None) -> HistoryStrategy:
        settings = dict(settings or {})
        try:
            last_n = int(settings.get("last_n", 20))
        except (TypeError, ValueError):
            raise StrategyError(
                f"last_n must be a whole number, got {settings['last_n']!r}"
            ) from None
        return cls(kind=kind, last_n=last_n)

    def to_settings(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("kind")
        return out


class Summarizer(Protocol):
    def summarize(
        self, previous_summary: str, messages: Sequence[Message], budget_tokens: int, encoding: str
    ) -> str: ...


class FactExtractor(Protocol):
    def extract(
        self, messages: Sequence[Message], existing: Mapping[str, str]
    ) -> dict[str, str]: ...


# --- offline summarizer ----------------------------------------------------------------
# the words of a focus that ask rather than name what to keep ("keep every decision")
_FOCUS_ASKING = frozenset({"keep", "kept", "every", "everything", "all", "any", "remember",
                           "preserve", "retain", "mention", "mentions", "details", "detail"})


class ExtractiveSummarizer:
    """Folds messages into a running summary without a model: keeps the most salient
    sentences (by word frequency across the material), in their original order, within
    the token budget. A `focus` ("every decision about the budget") puts the sentences
    that speak of it first."""

    method = "extractive"

    def __init__(self, focus: str = "") -> None:
        self.focus = frozenset(w for w in content_words(focus) if w not in _FOCUS_ASKING)

    def _on_focus(self, words: Sequence[str]) -> int:
        """How many of the focus's words a sentence speaks of ("decisions" counts for
        "decision")."""
        return sum(1 for f in self.focus
                   if any(w == f or (len(f) >= 4 and w.startswith(f))
                          or (len(w) >= 4 and f.startswith(w)) for w in words))

    def summarize(
        self, previous_summary: str, messages: Sequence[Message], budget_tokens: int, encoding: str
    ) -> str:
        units: list[str] = split_sentences(previous_summary) if previous_summary else []
        for m in messages:
            units.extend(f"{m.role}: {s}" for s in split_sentences(m.content))
        if budget_tokens <= 0 or not units:
            return ""
        freq = Counter(w for u in units for w in content_words(u))

        def score(i: int) -> float:
            words = content_words(units[i])
            base = sum(freq[w] for w in set(words)) / (1 + len(words)) ** 0.5
            if self.focus:  # what the user asked to keep comes before anything else
                base += 1_000 * self._on_focus(words)
            return base + (0.5 if i < len(units) // 4 else 0)  # earlier context sets the scene

        chosen: set[int] = set()
        used = 0
        for i in sorted(range(len(units)), key=score, reverse=True):
            cost = count_text(units[i] + "\n", encoding)
            if used + cost <= budget_tokens:
                chosen.add(i)
                used += cost
        text = "\n".join(units[i] for i in sorted(chosen))
        while text and count_text(text, encoding) > budget_tokens:  # joins can merge tokens
            text = text.rsplit("\n", 1)[0] if "\n" in text else ""
        return text


# --- offline fact extractor ------------------------------------------------------------
_FACT_PATTERNS: tuple[tuple[re.Pattern[str], str | None], ...] = tuple(
    (re.compile(p, re.IGNORECASE), key)
    for p, key in (
        (r"\b[Mm]y name is ((?-i:[A-Z])[\w'-]*(?: (?-i:[A-Z])[\w'-]*)*)", "name"),
        (r"\b[Cc]all me ((?-i:[A-Z])[\w'-]*)", "name"),
        (r"\bi live in ([^.,;!?\n]+)", "location"),
        (r"\bi(?:'m| am) from ([^.,;!?\n]+)", "from"),
        (r"\bi work (?:at|for) ([^.,;!?\n]+)", "employer"),
        (r"\bi work as (?:an? )?([^.,;!?\n]+)", "job"),
        (r"\bi(?:'m| am) an? ([a-z][\w -]{2,40}?)(?: at| for|[.,;!?\n]|$)", "role"),
        (r"\bi prefer ([^.;!?\n]+)", "preference"),
        (r"\bmy ([a-z][\w ]{1,30}?) (?:is|are) ([^.;!?\n]+)", None),
        (r"\b(?:the )?deadline is ([^.;!?\n]+)", "deadline"),
        (r"\bremember (?:that )?([^.;!?\n]+)", "note"),
    )
)
_KV_LINE = re.compile(r"^\s*[-*]?\s*([A-Za-z][\w .-]{0,40}?)\s*:\s+(\S.{0,200})$", re.MULTILINE)


class RuleBasedFactExtractor:
    """Pulls `key: value` facts from what the user said, without a model: "my name is…",
    "I live in…", "my budget is…", and explicit "key: value" lines."""

    method = "rules"

    def extract(self, messages: Sequence[Message], existing: Mapping[str, str]) -> dict[str, str]:
        facts: dict[str, str] = {}
        for m in messages:
            if m.role != "user":
                continue
            for pattern, key in _FACT_PATTERNS:
                for match in pattern.finditer(m.content):
                    if key is None:
                        k, v = match.group(1), match.group(2)
                    else:
                        k, v = key, match.group(1)
                    k = re.sub(r"\s+", "_", k.strip().lower())
                    if key is None and k in facts:
                        continue  # "my name is Ada and…": the specific rule already spoke
                    v = v.strip().rstrip(".")
                    if k == "note" and k in facts:
                        k = f"note_{sum(1 for f in facts if f.startswith('note'))+1}"
                    if v:
                        facts[k] = v
            for match in _KV_LINE.finditer(m.content):
                k = re.sub(r"\s+", "_", match.group(1).strip().lower())
                facts[k] = match.group(2).strip()
        return {k: v for k, v in facts.items() if existing.get(k) != v}
