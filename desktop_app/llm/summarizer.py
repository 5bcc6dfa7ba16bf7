"""The rolling summarizer: folds messages evicted from the window into the running
summary with the editable prompt in resources/prompts/summarize.txt, within a token
budget of its own. A model's summary is checked against the facts the offline extractor
(core.facts) finds in the folded messages: the ones it dropped are added back as a short
final line ("Also: key: value; ...") within the budget, so a model never keeps less than
the offline baseline. Without a model, or when the call fails, core's offline extractive
summarizer does the job instead, and the result says which one was used."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.records import Message, Summary
from desktop_app.core.text import split_sentences
from desktop_app.core.tokens import count_text
from desktop_app.llm.errors import LLMError
from desktop_app.llm.prompts import SUMMARIZE, batches, clip, fill, load_prompt, render_messages
from desktop_app.paths import MissingResourceError

log = logging.getLogger(__name__)

WORDS_PER_TOKEN = 0.75  # English prose; only used to phrase the length limit for the model
FOCUS_LEAD = "Above all, the updated summary must keep: "
ALSO_LEAD = "Also: "  # the final line of facts a model's summary dropped, added back
_SUFFIX = re.compile(r"_\d+$")  # "preference_2": a second key of the kind, in memory only
_ECHOED_LABEL = re.compile(r"^\s*(?:updated summary|summary)\s*:\s*", re.IGNORECASE)


@dataclass
class SummaryResult:
    text: str
    method: str  # "model" or "extractive"
    tokens: int  # in the encoding it was asked for
    message_ids: list[int] = field(default_factory=list)  # the messages it replaced
    model: str | None = None
    warning: str | None = None  # why the fallback was used, or what was trimmed
    prompt_tokens: int = 0  # what the summarizer's own calls cost, as reported
    completion_tokens: int = 0

    @property
    def first_message_id(self) -> int | None:
        return min(self.message_ids) if self.message_ids else None

    @property
    def last_message_id(self) -> int | None:
        return max(self.message_ids) if self.message_ids else None

    def to_summary(self, session_id: int | None = None, retention: float | None = None) -> Summary:
        return Summary(
            text=self.text,
            first_message_id=self.first_message_id,
            last_message_id=self.last_message_id,
            method=self.method,
            model=self.model if self.method == "model" else None,
            tokens=self.tokens,
            retention=retention,
            session_id=session_id,
        )


def fit_to_budget(text: str, budget_tokens: int, encoding: str) -> str:
    """`text` within `budget_tokens`, dropping whole sentences from the end first (a reply
    cut at max_tokens ends mid-sentence), clipping only a single overlong sentence."""
    text = text.strip()
    if count_text(text, encoding) <= budget_tokens:
        return text
    sentences = split_sentences(text)
    while len(sentences) > 1:
        sentences.pop()
        candidate = " ".join(sentences)
        if count_text(candidate, encoding) <= budget_tokens:
            return candidate
    return clip(text, budget_tokens, encoding)


def add_back_facts(
    summary: str, messages: Sequence[Message], budget_tokens: int, encoding: str
) -> tuple[str, int, int]:
    """`summary` with the facts of `messages` (found offline) it does not keep appended
    as a final line "Also: key: value; key: value", within `budget_tokens`: when not all
    fit, the least important for their length are left out (the summary itself is never
    cut for them). Returns (text, facts added, facts left out)."""
    from desktop_app.core.facts import facts_of, priority, retention_of

    facts = facts_of(messages)
    missing = [line.split(": ", 1) for line in retention_of(facts, summary).lost]
    if not missing:
        return summary, 0, 0
    # the most informative first, each only if what is already there does not keep it
    # ("euros: 900 euros" once "About 900 euros, and I prefer trains" is back)
    ranked = sorted(range(len(missing)), key=lambda i: -priority(": ".join(missing[i])))
    kept_text = summary
    chosen: list[int] = []
    for i in ranked:
        key, value = missing[i]
        if retention_of({key: value}, kept_text).lost:
            chosen.append(i)
            kept_text += "\n" + value
    line_of = {i: f"{_SUFFIX.sub('', missing[i][0])}: {missing[i][1]}" for i in chosen}

    def with_line(picked: Iterable[int]) -> str:
        lines = [line_of[i] for i in sorted(picked)]  # in the order they were stated
        return f"{summary}\n{ALSO_LEAD}{'; '.join(lines)}" if lines else summary

    if count_text(with_line(chosen), encoding) <= budget_tokens:
        return with_line(chosen), len(chosen), 0
    # a tight budget: the facts that say the most for their length first (a booking code
    # before a long sentence), each one that still fits
    worth = {i: priority(line_of[i]) / max(1, count_text(line_of[i], encoding)) for i in chosen}
    picked: list[int] = []
    for i in sorted(chosen, key=lambda i: -worth[i]):
        if count_text(with_line([*picked, i]), encoding) <= budget_tokens:
            picked.append(i)
    return with_line(picked), len(picked), len(chosen) - len(picked)


class ModelSummarizer:
    """Summarizes with a model through a ChatClient; falls back to the extractive
    summarizer. Blocking: call it off the GUI thread."""

    def __init__(
        self,
        client: Any | None,
        model: str | None,
        *,
        prompt: str | None = None,
        input_budget: int = 6000,
        cancel: Any | None = None,
        focus: str = "",
    ) -> None:
        self.client = client  # a ChatClient, or None when no model is configured
        self.model = model
        self.prompt = prompt  # None: resources/prompts/summarize.txt
        self.input_budget = input_budget  # tokens of prompt per call (small local windows)
        self.cancel = cancel
        self.focus = focus.strip()  # what the user asked the summary to keep, above all
        self.last_result: SummaryResult | None = None

    def summarize(
        self, previous_summary: str, messages: Sequence[Message], budget_tokens: int, encoding: str
    ) -> str:
        """core.history's Summarizer interface; the label is in self.last_result."""
        self.last_result = self.run(previous_summary, messages, budget_tokens, encoding)
        return self.last_result.text

    def run(
        self,
        previous_summary: str,
        messages: Sequence[Message],
        budget_tokens: int,
        encoding: str = "o200k_base",
    ) -> SummaryResult:
        ids = [m.id for m in messages if m.id is not None]
        if self.client is None or not self.model or budget_tokens <= 0:
            return self._fallback(previous_summary, messages, budget_tokens, encoding, ids, None)
        try:
            template = self.prompt if self.prompt is not None else load_prompt(SUMMARIZE)
        except (OSError, MissingResourceError) as exc:
            reason = f"the summary prompt could not be read ({exc})"
            return self._fallback(previous_summary, messages, budget_tokens, encoding, ids, reason)

        words = str(max(10, int(budget_tokens * WORDS_PER_TOKEN)))
        empty = fill(template, previous_summary="", messages="", budget_words=words)
        if self.focus:
            empty = f"{FOCUS_LEAD}{self.focus}\n\n{empty}"
        room = self.input_budget - count_text(empty, encoding) - budget_tokens
        summary = previous_summary.strip()
        used_prompt = used_completion = 0
        trimmed = False
        for batch in batches(messages, max(256, room), encoding):
            prompt = fill(
                template,
                previous_summary=summary or "(none yet)",
                messages=render_messages(batch),
                budget_words=words,
            )
            if self.focus:  # the user's words, after filling: never read as placeholders
                prompt = f"{FOCUS_LEAD}{self.focus}\n\n{prompt}"
            try:
                reply = self.client.stream_chat(
                    [{"role": "user", "content": prompt}],
                    self.model,
                    max_tokens=int(budget_tokens * 1.25) + 16,  # other tokenizers count more
                    cancel=self.cancel,
                )
            except LLMError as err:
                return self._fallback(
                    previous_summary, messages, budget_tokens, encoding, ids, err.message
                )
            text = _ECHOED_LABEL.sub("", reply.text).strip()
            if reply.interrupted or not text:
                reason = reply.error or "the model returned an empty summary"
                return self._fallback(
                    previous_summary, messages, budget_tokens, encoding, ids, reason
                )
            used_prompt += reply.prompt_tokens or 0
            used_completion += reply.completion_tokens or 0
            summary = fit_to_budget(text, budget_tokens, encoding)
            trimmed = trimmed or summary != text
        warnings = ["the model's summary ran over its budget and was trimmed"] if trimmed else []
        summary, added, left = add_back_facts(summary, messages, budget_tokens, encoding)
        if added or left:
            dropped = added + left
            note = (f"the model's summary left out {dropped} fact{'s' * (dropped != 1)} found "
                    f"in the messages; added {added} back")
            if left:
                note += f" ({left} did not fit its budget)"
            warnings.append(note)
        return SummaryResult(
            summary,
            "model",
            count_text(summary, encoding),
            ids,
            self.model,
            warning="; ".join(warnings) or None,
            prompt_tokens=used_prompt,
            completion_tokens=used_completion,
        )

    def _fallback(
        self,
        previous_summary: str,
        messages: Sequence[Message],
        budget_tokens: int,
        encoding: str,
        ids: list[int],
        reason: str | None,
    ) -> SummaryResult:
        from desktop_app.core.history import ExtractiveSummarizer  # offline, always there

        if reason:
            log.warning("model summary failed, using the extractive one: %s", reason)
        text = ExtractiveSummarizer(self.focus).summarize(previous_summary, messages,
                                                          budget_tokens, encoding)
        warning = (
            f"the model could not summarize ({reason}); used the offline extractive summary"
            if reason
            else None
        )
        return SummaryResult(text, "extractive", count_text(text, encoding), ids, None, warning)
