"""One number per message: its tokens in the next request, chat framing included. That
is what a user budgets with and what the assembler charges for it (core.assemble's
`_Costs.message`), so every view shows this figure (the message's card, the
inspector, the Memory and Summary tabs, the composer) and explains its split on hover.

`Counting` is how the open session counts (the model's encoding, whether that count is
exact, and its chat framing); the controller announces it with `countingChanged`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from desktop_app.core.text import format_tokens
from desktop_app.core.tokens import OPENAI_FRAMING, ChatFraming, chat_framing, count_text

if TYPE_CHECKING:
    from desktop_app.core.catalog import ModelInfo
    from desktop_app.core.records import MemoryFact, Message


@dataclass(frozen=True)
class Cost:
    """A message's tokens in the request: what it says, and what the chat format adds
    around it (its role's head, and its name when the format sends names)."""

    content: int
    framing: int
    exact: bool
    source: str  # whose framing: "OpenAI's published rule", "the llama-3.1 chat template"

    @property
    def total(self) -> int:
        return self.content + self.framing

    def describe(self, content: str = "content") -> str:
        """"152 tokens in the request: 147 content + 5 chat framing (the llama-3.1 chat
        template) · exact"; `content` names what the content is."""
        kind = "exact" if self.exact else "estimated"
        return (f"{format_tokens(self.total)} tokens in the request: "
                f"{format_tokens(self.content)} {content} + {format_tokens(self.framing)} "
                f"chat framing ({self.source}) · {kind}")


@dataclass(frozen=True)
class MessageRun:
    """A run of stored messages known in summary (those a summary replaced, which a long
    session does not read one by one): the first and last ids, and per role how many
    and their content tokens under one encoding."""

    first_id: int | None
    last_id: int | None
    roles: tuple[tuple[str, int, int], ...] = ()  # (role, messages, content tokens)

    @property
    def count(self) -> int:
        return sum(n for _r, n, _t in self.roles)

    @staticmethod
    def of(messages: Sequence[Message], encoding: str) -> MessageRun:
        """The run of these messages (those without a count are counted)."""
        roles: dict[str, list[int]] = {}
        for m in messages:
            figures = roles.setdefault(m.role, [0, 0])
            figures[0] += 1
            n = m.token_counts.get(encoding)
            figures[1] += n if n is not None else count_text(m.content, encoding)
        return MessageRun(messages[0].id if messages else None,
                          messages[-1].id if messages else None,
                          tuple((r, n, t) for r, (n, t) in roles.items()))


@dataclass(frozen=True)
class Counting:
    """How the next request counts: the model's encoding, whether its count is exact,
    and its chat framing (tokens.chat_framing, the one owner of those numbers)."""

    encoding: str = "o200k_base"
    exact: bool = True
    framing: ChatFraming = OPENAI_FRAMING

    @classmethod
    def of_model(cls, model: ModelInfo) -> Counting:
        return cls(model.encoding, model.exact, chat_framing(model))

    def under(self, encoding: str) -> Counting:
        """This counting for figures counted under `encoding` (data made for another
        model reaching a view before the new counting does)."""
        return self if encoding == self.encoding else replace(self, encoding=encoding)

    def cost(self, role: str, content_tokens: int, name: str | None = None) -> Cost:
        """A message of `content_tokens` in `role`, as the assembler charges it."""
        framing = self.framing.head(role, self.encoding)
        if name and self.framing.names:
            framing += count_text(name, self.encoding) + self.framing.per_name
        return Cost(content_tokens, framing, self.exact, self.framing.source)

    def split(self, role: str, total: int, name: str | None = None) -> Cost:
        """A figure the assembler made (framing included), split for the hover text."""
        if not total:
            return Cost(0, 0, self.exact, self.framing.source)
        framing = self.cost(role, 0, name).framing
        return Cost(total - framing, framing, self.exact, self.framing.source)

    def of_text(self, role: str, text: str, name: str | None = None) -> Cost:
        return self.cost(role, count_text(text, self.encoding), name)

    def of_message(self, m: Message) -> Cost | None:
        """A stored message's figure; None until its content is counted under this
        encoding (Message.token_counts), so nothing is counted while painting."""
        n = m.token_counts.get(self.encoding)
        return None if n is None else self.cost(m.role, n, m.name)

    def of_run(self, run: MessageRun) -> int:
        """What the messages of `run` would cost in the request: each role's head for
        every message, and their content (names left out)."""
        return sum(n * self.framing.head(role, self.encoding) + tokens
                   for role, n, tokens in run.roles)

    def memory(self, facts: Sequence[MemoryFact]) -> Cost:
        """The memory message as sent: its header, every fact's line and the framing."""
        # the assembler's own memory and summary messages: one owner of their text
        # (imported here: the window's first paint needs Counting, not the assembler)
        from desktop_app.core.assemble import memory_message

        return self._system(memory_message(facts))

    def summary(self, text: str) -> Cost:
        """The summary message as sent: its header, the summary and the framing."""
        from desktop_app.core.assemble import summary_message

        return self._system(summary_message(text))

    def _system(self, message: dict[str, Any] | None) -> Cost:
        if message is None:  # nothing to send: no message, no framing
            return Cost(0, 0, self.exact, self.framing.source)
        return self.of_text(message["role"], message["content"])
