"""Token efficiency measures from the guide (§4.1, §7): task completion per token,
information retention, quality per token, information density, and an experiment
runner that ranks prompt variants by quality per token with a pluggable evaluator.
Offline and pure: an evaluator that calls a model lives outside core and is passed in."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from desktop_app.core.text import FUNCTION_WORDS, fact_terms, words
from desktop_app.core.tokens import count_text


class MetricError(ValueError):
    """Numbers that cannot make a measure (no tokens, a negative count, NaN)."""


def _positive_tokens(tokens_used: int) -> None:
    if tokens_used <= 0:
        raise MetricError(f"tokens used must be more than 0, got {tokens_used}")


def task_completion_rate(tasks_completed: int, tokens_used: int) -> float:
    """TCR = tasks successfully completed / total tokens used (guide §7.1.1). Per token,
    so small; multiply by 1,000 to show it per thousand tokens."""
    _positive_tokens(tokens_used)
    if tasks_completed < 0:
        raise MetricError(f"tasks completed cannot be negative, got {tasks_completed}")
    return tasks_completed / tokens_used


def quality_per_token(quality_score: float, tokens_used: int) -> float:
    """RQT = response quality score / total tokens used (guide §7.1.3)."""
    _positive_tokens(tokens_used)
    if not math.isfinite(quality_score):
        raise MetricError(f"quality score must be a finite number, got {quality_score}")
    return quality_score / tokens_used


# --- information retention --------------------------------------------------------------
@dataclass(frozen=True)
class Retention:
    ratio: float  # retained / total, 1.0 when there were no facts to keep
    retained: tuple[str, ...]
    lost: tuple[str, ...]

    @property
    def total(self) -> int:
        return len(self.retained) + len(self.lost)


def _joined(terms: list[str]) -> str:
    """Terms (runs of word characters, so never holding a space) as " a b c ": a run of
    terms is in another exactly when its joined form is a substring of the other's."""
    return f" {' '.join(terms)} "


def _contains(haystack: str, needle: list[str]) -> bool:
    return _joined(needle) in haystack


Fact = str | tuple[str, str]


def information_retention(facts: Mapping[str, str] | Iterable[Fact], text: str) -> Retention:
    """IRR = key facts retained / total facts (guide §7.1.2), and which ones.

    A fact is a plain string ("the deadline is Friday") or a key/value pair ("deadline",
    "Friday"). A key/value fact survives when its value appears in the text: keys are
    often renamed by compression ("Tenure" for "customer for"), values are the facts.
    A plain fact survives when its words, function words aside (text.FUNCTION_WORDS),
    appear in the text in the same order with nothing between them. Matching ignores
    case, punctuation and function words, so
    "Last purchase: March 15, 2023" keeps the fact "March 15 2023"."""
    items: list[tuple[str, str]] = []  # (label, what must appear)
    pairs = facts.items() if isinstance(facts, Mapping) else facts
    for fact in pairs:
        if isinstance(fact, str):
            items.append((fact, fact))
        else:
            key, value = fact
            items.append((f"{key}: {value}", str(value)))
    all_words = words(text)
    terms_of_text = _joined([w for w in all_words if w not in FUNCTION_WORDS])
    retained: list[str] = []
    lost: list[str] = []
    for label, needle in items:
        terms = fact_terms(needle)
        if terms:
            kept = _contains(terms_of_text, terms)
        else:  # a fact made only of function words ("it is as it was") is matched whole
            terms = words(needle)
            kept = bool(terms) and _contains(_joined(all_words), terms)
        (retained if kept else lost).append(label)
    ratio = len(retained) / len(items) if items else 1.0
    return Retention(ratio, tuple(retained), tuple(lost))


# --- information density ----------------------------------------------------------------
def information_density(text: str, encoding: str = "o200k_base") -> float:
    """Bits of information per token (guide §4.1: information content / token count).

    Information content is measured as the size, in bits, of the text compressed with
    DEFLATE at its strongest setting (raw stream, no header). A compressor removes
    redundancy, so what is left is an upper bound on the text's information: repeated
    sentences, filler and boilerplate cost tokens but compress to almost nothing, so they
    lower the density, while names, numbers and varied wording raise it. It needs no
    model and no language resources. For texts under about a hundred characters the few
    bytes DEFLATE always spends weigh more, so compare texts of similar length. Empty
    text has density 0."""
    tokens = count_text(text, encoding)
    if not tokens:
        return 0.0
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    size = len(packer.compress(text.encode("utf-8")) + packer.flush())
    return size * 8 / tokens


# --- token efficiency experiments ------------------------------------------------------
Evaluator = Callable[[str], float]
"""evaluator(variant_text) -> quality score (higher is better), e.g. a retention score
offline, or a model's answer graded against a rubric (done outside core)."""


@dataclass(frozen=True)
class VariantResult:
    name: str
    text: str
    tokens: int
    quality: float
    efficiency: float  # quality per token


def run_efficiency_experiment(
    variants: Mapping[str, str] | Sequence[str],
    evaluator: Evaluator,
    encoding: str = "o200k_base",
) -> list[VariantResult]:
    """Count, evaluate and rank prompt variants by quality per token, best first (guide
    §7.2). Ties go to the variant with fewer tokens, then to the earlier one. Variants
    given as a list are named "variant 1", "variant 2", ..."""
    named = (
        list(variants.items())
        if isinstance(variants, Mapping)
        else [(f"variant {i}", v) for i, v in enumerate(variants, 1)]
    )
    results: list[VariantResult] = []
    for name, text in named:
        tokens = count_text(text, encoding)
        if not tokens:
            raise MetricError(f"{name} is empty: nothing to measure")
        quality = evaluator(text)
        if not isinstance(quality, int | float) or not math.isfinite(quality):
            raise MetricError(f"the evaluator gave {quality!r} for {name}; expected a number")
        results.append(VariantResult(name, text, tokens, float(quality), quality / tokens))
    order = {r.name: i for i, r in enumerate(results)}
    return sorted(results, key=lambda r: (-r.efficiency, r.tokens, order[r.name]))


def retention_evaluator(facts: Mapping[str, str] | Iterable[Fact]) -> Evaluator:
    """An offline evaluator: the share of `facts` a variant keeps (0..1)."""
    fixed = dict(facts) if isinstance(facts, Mapping) else list(facts)
    return lambda text: information_retention(fixed, text).ratio
