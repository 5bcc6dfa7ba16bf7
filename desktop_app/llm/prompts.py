"""The editable prompts in resources/prompts/ and how messages are written into them.
Placeholders are $name (string.Template), so JSON braces in a prompt need no escaping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Template

from desktop_app.core.records import Message
from desktop_app.core.tokens import count_text, decode, encode
from desktop_app.paths import resource

SUMMARIZE = "summarize.txt"
EXTRACT_MEMORY = "extract_memory.txt"


def load_prompt(name: str) -> str:
    """The text of resources/prompts/<name>; raises MissingResourceError if it is gone."""
    return resource("prompts", name).read_text(encoding="utf-8")


def fill(template: str, **values: str) -> str:
    return Template(template).safe_substitute(values)


def render_messages(messages: Sequence[Message]) -> str:
    return "\n".join(f"{m.role}: {m.content.strip()}" for m in messages)


def render_facts(facts: Mapping[str, str]) -> str:
    return "\n".join(f"- {k}: {v}" for k, v in facts.items()) or "(none)"


def clip(text: str, budget_tokens: int, encoding: str) -> str:
    """`text` cut to at most `budget_tokens` tokens, marked with an ellipsis when cut."""
    if count_text(text, encoding) <= budget_tokens:
        return text
    if budget_tokens <= 1:
        return ""
    return decode(encode(text, encoding)[: budget_tokens - 1], encoding) + "…"


def batches(messages: Sequence[Message], budget_tokens: int, encoding: str) -> list[list[Message]]:
    """Messages grouped in order so that each group's rendering fits `budget_tokens`; a
    single message longer than the budget is clipped to fit on its own."""
    groups: list[list[Message]] = [[]]
    used = 0
    for m in messages:
        cost = count_text(f"{m.role}: {m.content.strip()}\n", encoding)
        if cost > budget_tokens:
            m = Message(role=m.role, content=clip(m.content, budget_tokens - 8, encoding), id=m.id)
            cost = count_text(f"{m.role}: {m.content}\n", encoding)
        if groups[-1] and used + cost > budget_tokens:
            groups.append([])
            used = 0
        groups[-1].append(m)
        used += cost
    return [g for g in groups if g]
