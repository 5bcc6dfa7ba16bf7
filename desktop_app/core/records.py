"""Plain data shared by every layer: what a session, a message, a summary or a memory
fact is. The store returns these; the controller and the window show them. No Qt, no
SQL, no network."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

ROLES = ("system", "user", "assistant", "tool")
MESSAGE_STATUSES = ("complete", "streaming", "interrupted", "error")
# where a memory fact came from: typed or edited by the user, extracted by a model, found
# by the offline extractor, or found by it when the model's extraction left it out
FACT_ORIGINS = ("user", "model", "offline", "offline-check")


class _NotRead(str):
    """The text of a message read without it (see NOT_READ)."""

    __slots__ = ()


# The content of a message read without its text (the preview of a long session reads
# the text of only the messages the request can send or fold): non-empty, so it says
# the message has text; compared by identity (`m.content is NOT_READ`).
NOT_READ: str = _NotRead("\u2026")


@dataclass
class Message:
    role: str
    content: str
    name: str | None = None
    id: int | None = None
    session_id: int | None = None
    position: int | None = None  # order within its session
    status: str = "complete"
    pinned: bool = False
    excluded: bool = False
    created_at: datetime | None = None
    prompt_tokens: int | None = None  # as reported by the server for the turn
    completion_tokens: int | None = None
    cost: float | None = None
    error: str | None = None
    # content tokens per encoding, filled once and kept (the store persists them)
    token_counts: dict[str, int] = field(default_factory=dict)

    @property
    def set_aside(self) -> bool:
        """Left out of later requests because a turn failed, not by the user's choice: a
        failed or interrupted reply, or the question it answered (whose `error` says
        why; choosing Include or Exclude clears that, and the choice is the user's)."""
        return self.excluded and (self.status in ("error", "interrupted") or bool(self.error))

    def to_chat(self) -> dict[str, Any]:
        """The chat-completions shape of this message."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name:
            out["name"] = self.name
        return out


@dataclass
class MemoryFact:
    key: str
    value: str
    session_id: int | None = None  # None: global, shared by every session
    pinned: bool = False
    source_message_id: int | None = None
    id: int | None = None
    tokens: int | None = None
    updated_at: datetime | None = None
    origin: str | None = None  # "user", "model", "offline", "offline-check"

    def line(self) -> str:
        return f"{self.key}: {self.value}"


@dataclass
class Summary:
    text: str
    first_message_id: int | None = None  # the range of messages it replaced
    last_message_id: int | None = None
    method: str = "extractive"  # "model" or "extractive"
    model: str | None = None
    tokens: int | None = None
    retention: float | None = None  # information retention ratio when measured
    session_id: int | None = None
    id: int | None = None
    created_at: datetime | None = None


@dataclass
class Session:
    title: str = "New session"
    model: str = "gpt-4o-mini"
    strategy: str = "token_window"
    strategy_settings: dict[str, Any] = field(default_factory=dict)
    profile: str = "default"
    system_prompt: str = ""
    examples: list[dict[str, str]] = field(default_factory=list)  # chat messages
    id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    archived: bool = False
    message_count: int = 0
    token_total: int = 0
