"""The one request builder's offline folding: remembered results are the results a fresh
summarizer and extractor give, and an edited message is folded again."""

from __future__ import annotations

from desktop_app.core.history import ExtractiveSummarizer, RuleBasedFactExtractor
from desktop_app.core.records import Message
from desktop_app.services.request import OfflineFolding


def messages(text: str = "We chose the blue tent.") -> list[Message]:
    return [Message("user", f"My name is Ana. {text} Budget is 400 euros.", id=1),
            Message("assistant", "Noted: the blue tent, and Lisbon on Friday.", id=2)]


def test_remembered_folds_equal_fresh_ones_and_follow_edits():
    folding = OfflineFolding()
    first = folding.summarize("", messages(), 200, "o200k_base")
    assert first == ExtractiveSummarizer().summarize("", messages(), 200, "o200k_base")
    assert folding.summarize("", messages(), 200, "o200k_base") == first
    facts = folding.extract(messages(), {})
    assert facts == RuleBasedFactExtractor().extract(messages(), {})
    facts["name"] = "changed by a caller"  # a caller's copy, not the remembered result
    assert folding.extract(messages(), {}) == RuleBasedFactExtractor().extract(messages(), {})

    edited = messages("We chose the red canoe instead, for the river.")
    assert folding.summarize("", edited, 200, "o200k_base") == ExtractiveSummarizer().summarize(
        "", edited, 200, "o200k_base")
    assert folding.summarize("", edited, 200, "o200k_base") != first
