"""History strategies: which earlier messages a request carries, and the interfaces of
the summarizer and fact extractor that fold the rest (core.extractive_summary and
core.facts are the offline ones, that let every strategy work without a model)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from desktop_app.core.extractive_summary import ExtractiveSummarizer
from desktop_app.core.facts import OfflineFactExtractor
from desktop_app.core.glossary import STRATEGY_LABELS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from desktop_app.core.records import Message

STRATEGIES = ("full", "last_n", "token_window", "rolling_summary", "kv_memory", "hybrid")
# strategies that slide a window over the history, whose start can be kept in place
SLIDING = ("token_window", "rolling_summary", "hybrid")
SUMMARIZING = ("rolling_summary", "hybrid")
EXTRACTING = ("kv_memory", "hybrid")


class StrategyError(ValueError):
    pass


@dataclass(frozen=True)
class HistoryStrategy:
    kind: str = "token_window"
    last_n: int = 20  # for "last_n": how many recent messages to keep
    # evict history in blocks, so that most turns only append to the request before
    # (a server's prompt cache then reuses it); for the sliding strategies
    stable_prefix: bool = False

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

    @property
    def keeps_prefix(self) -> bool:
        return self.stable_prefix and self.kind in SLIDING

    @classmethod
    def from_settings(cls, kind: str, settings: Mapping[str, Any] | None = None,
                      stable_default: bool = False) -> HistoryStrategy:
        """From a session's strategy settings; `stable_default` is what stable_prefix is
        when the settings do not say (on for local servers, whose KV cache it keeps)."""
        settings = dict(settings or {})
        try:
            last_n = int(settings.get("last_n", 20))
        except (TypeError, ValueError):
            raise StrategyError(
                f"last_n must be a whole number, got {settings['last_n']!r}"
            ) from None
        return cls(kind=kind, last_n=last_n,
                   stable_prefix=settings.get("stable_prefix", stable_default) is True)

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


__all__ = ["STRATEGIES", "ExtractiveSummarizer", "FactExtractor", "HistoryStrategy",
           "OfflineFactExtractor", "StrategyError", "Summarizer"]
