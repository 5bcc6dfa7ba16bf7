"""Plain data the store keeps beside sessions and messages: the calibration learned for a
model, a turn's token usage, and a search hit (a provider's settings are in
core/providers.py). Shared by store, llm, controller and ui; no Qt, no SQL, no network."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime


@dataclass(frozen=True)
class Calibration:
    """How server-reported prompt tokens compare with our estimate for one model: the
    running mean of reported/estimated and its spread (Welford's online algorithm, so a
    sample is folded in without keeping the history)."""

    model: str
    ratio: float = 1.0
    samples: int = 0
    m2: float = 0.0  # sum of squared deviations from the mean
    updated_at: datetime | None = None

    @property
    def variance(self) -> float | None:
        """Sample variance of the ratio; None until there are two samples."""
        return self.m2 / (self.samples - 1) if self.samples > 1 else None

    @property
    def stddev(self) -> float | None:
        v = self.variance
        return math.sqrt(v) if v is not None else None

    def corrected(self, estimate: int) -> int:
        """An estimate corrected by what the server has reported so far."""
        return round(estimate * self.ratio) if self.samples else estimate

    def updated(self, reported: int, estimated: int) -> Calibration:
        """This calibration with one more sample folded in."""
        if reported <= 0 or estimated <= 0:
            raise ValueError(
                f"calibration needs positive token counts, got reported={reported}, "
                f"estimated={estimated}"
            )
        x = reported / estimated
        if not self.samples:
            return replace(self, ratio=x, samples=1, m2=0.0)
        n = self.samples + 1
        delta = x - self.ratio
        mean = self.ratio + delta / n
        return replace(self, ratio=mean, samples=n, m2=self.m2 + delta * (x - mean))


@dataclass
class TurnUsage:
    """What one finished turn used: the request split by budget component (our count),
    what the server reported and billed, and the cost. The usage chart draws these."""

    components: dict[str, int] = field(default_factory=dict)  # component -> tokens
    prompt_tokens: int | None = None  # our count of the whole request
    reported_prompt_tokens: int | None = None  # the server's
    reported_completion_tokens: int | None = None
    # of the server's prompt tokens, those it read from its prompt cache (priced at the
    # cache-read price); None when it did not say
    cached_prompt_tokens: int | None = None
    cost: float | None = None
    model: str | None = None  # None for turns kept from before usage had a table
    reply_message_id: int | None = None  # None once the reply is deleted
    session_id: int | None = None
    id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class SearchHit:
    """A message that matched a search, with enough to show and open it."""

    session_id: int
    session_title: str
    message_id: int
    position: int
    role: str
    snippet: str  # the text around the match
    created_at: datetime | None = None
    # (start, end) character ranges of `snippet` that matched, for highlighting
    highlights: tuple[tuple[int, int], ...] = ()
