"""Learning a server's chat framing from what it reports. When we count every message's
content exactly (the model's own tokenizer) but do not know how the server frames a
chat (no template, or the server renders its own copy: Ollama's Go templates leave out
Llama 3.1's date block), the difference between the prompt tokens the server reports
and our count is framing: a fixed part per request plus a part per message. Two turns
with different numbers of messages determine both; from then on the count is exact.
A ratio could never be: framing does not grow with the text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_SAMPLES = 8  # the most recent turns; a server that changes its template re-learns


@dataclass(frozen=True)
class FramingDelta:
    """Tokens the server's framing adds to our count: `fixed` per request and
    `per_message` per message. Zero when our count is already the server's."""

    fixed: int = 0
    per_message: int = 0
    samples: int = 0  # turns it was learned from
    exact: bool = False  # it reproduces every sample it was learned from

    def tokens(self, messages: int) -> int:
        return self.fixed + self.per_message * messages


NONE = FramingDelta()


def fit(samples: Sequence[tuple[int, int]]) -> FramingDelta:
    """The delta from (messages in the request, reported - our count) pairs, newest
    last. One sample, or samples all of one size: a fixed part only. Otherwise the
    least-squares line through them, rounded to whole tokens."""
    recent = list(samples)[-MAX_SAMPLES:]
    if not recent:
        return NONE
    sizes = {n for n, _ in recent}
    if len(sizes) == 1:
        fixed = round(sum(d for _, d in recent) / len(recent))
        return FramingDelta(fixed, 0, len(recent), all(d == fixed for _, d in recent))
    count = len(recent)
    mean_n = sum(n for n, _ in recent) / count
    mean_d = sum(d for _, d in recent) / count
    spread = sum((n - mean_n) ** 2 for n, _ in recent)
    slope = sum((n - mean_n) * (d - mean_d) for n, d in recent) / spread
    per_message = round(slope)
    fixed = round(mean_d - per_message * mean_n)
    exact = all(fixed + per_message * n == d for n, d in recent)
    return FramingDelta(fixed, per_message, count, exact)


def add_sample(samples: Sequence[tuple[int, int]], messages: int, delta: int
               ) -> list[tuple[int, int]]:
    """`samples` with one more turn, keeping the most recent MAX_SAMPLES."""
    return [*list(samples)[-(MAX_SAMPLES - 1):], (int(messages), int(delta))]
