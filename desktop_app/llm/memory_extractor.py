"""The key-value memory extractor: asks the model for durable facts as JSON
[{"key": ..., "value": ...}] with the editable prompt in
resources/prompts/extract_memory.txt, reads the reply tolerantly, and merges the facts
into memory: new keys added, changed values updated, pinned keys kept as they are.
The model's facts are checked against the offline extractor's (core.facts): a fact the
offline extractor finds in the same messages whose value neither the model's facts nor
memory keep is proposed anyway, and the result names those keys ("offline-check"), so a
model never keeps less than the offline baseline. Without a model, or when the call or
its JSON fails, core's rule-based extractor is used, and the result says which one was."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop_app.core.tokens import count_text
from desktop_app.llm.errors import LLMError
from desktop_app.llm.prompts import EXTRACT_MEMORY, fill, load_prompt, render_facts, render_messages
from desktop_app.paths import MissingResourceError

if TYPE_CHECKING:
    from desktop_app.core.facts import FoundFacts
    from desktop_app.core.records import MemoryFact, Message

log = logging.getLogger(__name__)

MAX_KEY = 64
MAX_VALUE = 500
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


# --- reading the model's reply ------------------------------------------------------
def normalize_key(key: str) -> str:
    key = re.sub(r"[^0-9a-z]+", "_", key.strip().lower()).strip("_")
    return key[:MAX_KEY]


def _value_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return json.dumps(value) if value else None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if v is not None)
    text = " ".join(str(value).split())
    return text[:MAX_VALUE] or None


def _facts_from(data: Any) -> dict[str, str] | None:
    """Facts from decoded JSON in any of the shapes models produce, or None."""
    facts: dict[str, str] = {}
    if isinstance(data, dict):
        if isinstance(data.get("facts"), list | dict):
            return _facts_from(data["facts"])
        if "key" in data and "value" in data:
            data = [data]
        else:  # {"name": "Ada", "city": "Paris"}
            data = [{"key": k, "value": v} for k, v in data.items()]
    if not isinstance(data, list):
        return None
    for item in data:
        if isinstance(item, dict):
            key, value = item.get("key"), item.get("value")
        elif isinstance(item, list | tuple) and len(item) == 2:
            key, value = item
        else:
            continue
        key = normalize_key(str(key)) if key is not None else ""
        text = _value_text(value)
        if key and text:
            facts[key] = text
    return facts


def parse_facts(reply: str) -> dict[str, str] | None:
    """Facts from a model's reply: a JSON array of {"key", "value"} objects ideally, but
    also inside code fences, after some prose, as {"facts": [...]} or as one flat object.
    None when no JSON can be found at all (an empty array is a valid "nothing new")."""
    candidates = [m.group(1) for m in _FENCE.finditer(reply)] + [reply]
    for text in candidates:
        text = text.strip()
        pairs = [("[", "]"), ("{", "}")]
        pairs.sort(key=lambda p: (text.find(p[0]) == -1, text.find(p[0])))  # outermost first
        for start, end in pairs:
            i, j = text.find(start), text.rfind(end)
            if i == -1 or j <= i:
                continue
            try:
                data = json.loads(text[i : j + 1])
            except ValueError:
                continue
            facts = _facts_from(data)
            if facts is not None:
                return facts
    return None


# --- merging into memory ------------------------------------------------------------
@dataclass
class FactMerge:
    facts: dict[str, str]  # memory after the merge
    added: dict[str, str] = field(default_factory=dict)
    updated: dict[str, tuple[str, str]] = field(default_factory=dict)  # key: (old, new)
    kept_pinned: list[str] = field(default_factory=list)  # changes refused: the key is pinned

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated)


def merge_facts(
    existing: Mapping[str, str], proposed: Mapping[str, str], pinned: Iterable[str] = ()
) -> FactMerge:
    """New keys are added, changed values updated, pinned keys never touched."""
    pinned = set(pinned)
    merge = FactMerge(facts=dict(existing))
    for key, value in proposed.items():
        old = existing.get(key)
        if old == value:
            continue
        if key in pinned:
            merge.kept_pinned.append(key)
        elif old is None:
            merge.added[key] = value
            merge.facts[key] = value
        else:
            merge.updated[key] = (old, value)
            merge.facts[key] = value
    return merge


def memory_of(records: Iterable[MemoryFact]) -> tuple[dict[str, str], set[str]]:
    """(facts, pinned keys) from stored MemoryFact records."""
    records = list(records)
    return {f.key: f.value for f in records}, {f.key for f in records if f.pinned}


# --- the extractor ------------------------------------------------------------------
@dataclass
class ExtractionResult:
    proposed: dict[str, str]  # new or changed facts found in the messages
    merge: FactMerge  # memory once they are merged
    method: str  # "model" or "rules"
    model: str | None = None
    warning: str | None = None  # why the fallback was used
    # keys of facts the model left out that the offline check kept anyway
    kept_offline: list[str] = field(default_factory=list)
    # the message each offline-found fact came from (the model's facts name none)
    sources: dict[str, int | None] = field(default_factory=dict)

    def origin_of(self, key: str) -> str:
        """Where a proposed fact came from: "model", "offline-check" or "offline"
        (MemoryFact.origin)."""
        if self.method != "model":
            return "offline"
        return "offline-check" if key in self.kept_offline else "model"

    @property
    def origins(self) -> dict[str, str]:
        return {key: self.origin_of(key) for key in self.proposed}

    def found(self) -> FoundFacts:
        """The proposed facts with the message each came from, as core's extractors
        return them."""
        from desktop_app.core.facts import Fact, FoundFacts

        return FoundFacts(Fact(k, v, self.sources.get(k)) for k, v in self.proposed.items())


class ModelFactExtractor:
    """Extracts facts with a model through a ChatClient; falls back to the rule-based
    extractor. Blocking: call it off the GUI thread."""

    def __init__(
        self,
        client: Any | None,
        model: str | None,
        *,
        prompt: str | None = None,
        input_budget: int = 6000,
        max_reply_tokens: int = 600,
        cancel: Any | None = None,
        encoding: str = "o200k_base",
    ) -> None:
        self.client = client  # a ChatClient, or None when no model is configured
        self.model = model
        self.prompt = prompt  # None: resources/prompts/extract_memory.txt
        self.input_budget = input_budget
        self.max_reply_tokens = max_reply_tokens
        self.cancel = cancel
        self.encoding = encoding
        self.last_result: ExtractionResult | None = None

    def extract(self, messages: Sequence[Message], existing: Mapping[str, str]) -> dict[str, str]:
        """core.history's FactExtractor interface: the new or changed facts."""
        self.last_result = self.run(messages, existing)
        return self.last_result.found()

    def run(
        self,
        messages: Sequence[Message],
        existing: Mapping[str, str],
        pinned: Iterable[str] = (),
    ) -> ExtractionResult:
        pinned = set(pinned)
        if self.client is None or not self.model:
            return self._fallback(messages, existing, pinned, None)
        try:
            template = self.prompt if self.prompt is not None else load_prompt(EXTRACT_MEMORY)
        except (OSError, MissingResourceError) as exc:
            return self._fallback(
                messages, existing, pinned, f"the prompt could not be read ({exc})"
            )
        known = render_facts(existing)
        room = self.input_budget - count_text(
            fill(template, known_facts=known, messages=""), self.encoding
        )
        recent = self._recent(messages, room)
        prompt = fill(template, known_facts=known, messages=render_messages(recent))
        try:
            reply = self.client.stream_chat(
                [{"role": "user", "content": prompt}],
                self.model,
                max_tokens=self.max_reply_tokens,
                cancel=self.cancel,
                temperature=0,
            )
        except LLMError as err:
            return self._fallback(messages, existing, pinned, err.message)
        if reply.interrupted:
            return self._fallback(
                messages, existing, pinned, reply.error or "the reply was cut off"
            )
        facts = parse_facts(reply.text)
        if facts is None:
            return self._fallback(messages, existing, pinned, "the model's answer was not JSON")
        proposed = {k: v for k, v in facts.items() if existing.get(k) != v}
        kept, sources = self._offline_check(messages, existing, facts, proposed)
        return ExtractionResult(
            proposed,
            merge_facts(existing, proposed, pinned),
            "model",
            self.model,
            kept_offline=kept,
            sources=sources,
        )

    @staticmethod
    def _offline_check(
        messages: Sequence[Message],
        existing: Mapping[str, str],
        model_facts: Mapping[str, str],
        proposed: dict[str, str],
    ) -> tuple[list[str], dict[str, int | None]]:
        """Adds to `proposed` the facts the offline extractor finds in `messages` whose
        values neither the model's facts nor memory keep; returns their keys and the
        message each came from. A changed value for a known key updates it (the model
        missed the change); a key the model used for another value gets a free name, so
        that neither value is lost."""
        from desktop_app.core.facts import OfflineFactExtractor, retention_of

        offline = OfflineFactExtractor().extract(messages, existing)
        if not offline:
            return [], {}
        text = "\n".join(
            f"{k}: {v}" for facts in (model_facts, existing) for k, v in facts.items()
        )
        kept: list[str] = []
        sources: dict[str, int | None] = {}
        for key, value in offline.items():
            if not retention_of({key: value}, text).lost:
                continue  # the model, or memory, has it
            name = key
            n = 2
            while name in model_facts or name in proposed or (name != key and name in existing):
                name = f"{key}_{n}"
                n += 1
            proposed[name] = value
            kept.append(name)
            sources[name] = offline.sources.get(key)
        if kept:
            log.info("the model left out %d facts the offline extractor found", len(kept))
        return kept, sources

    def _recent(self, messages: Sequence[Message], budget: int) -> list[Message]:
        """The most recent messages that fit `budget` tokens (facts are extracted as the
        conversation goes, so the newest matter)."""
        chosen: list[Message] = []
        used = 0
        for m in reversed(messages):
            cost = count_text(f"{m.role}: {m.content.strip()}\n", self.encoding)
            if chosen and used + cost > budget:
                break
            chosen.append(m)
            used += cost
        return list(reversed(chosen))

    def _fallback(
        self,
        messages: Sequence[Message],
        existing: Mapping[str, str],
        pinned: set[str],
        reason: str | None,
    ) -> ExtractionResult:
        from desktop_app.core.history import OfflineFactExtractor  # offline, always there

        if reason:
            log.warning("model fact extraction failed, using the rules: %s", reason)
        proposed = OfflineFactExtractor().extract(messages, existing)
        warning = (
            f"the model could not extract facts ({reason}); used the offline rules"
            if reason
            else None
        )
        return ExtractionResult(
            proposed,
            merge_facts(existing, proposed, pinned),
            "rules",
            None,
            warning,
            sources=dict(proposed.sources),
        )
