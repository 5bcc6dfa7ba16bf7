"""How much of the next request repeats the start of the last one sent.

A server with a prompt cache (OpenAI's cached input, llama.cpp's KV cache) only reads
again what follows the part a request shares with the one before, so a request that
keeps its start cheaper and faster. A request's prefix is remembered as a chain of
hashes over its messages: the chain's value after the last message, and its values
after each part ahead of the history (system prompt, examples, memory, summary), which
is where a request most often starts to differ. Small enough to keep with the session
on every turn, and enough to say how much of the next request a cache can reuse."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Section = tuple[str, Mapping[str, Any], int]  # (component, chat message, tokens)
_HISTORY = "history"


def _chain(sections: Sequence[Section]) -> list[str]:
    """The chain's value after each section."""
    out, h = [], b""
    for _, message, _ in sections:
        data = json.dumps(message, sort_keys=True, ensure_ascii=False).encode("utf-8")
        h = hashlib.blake2b(h + data, digest_size=12).digest()
        out.append(h.hex())
    return out


def signature(sections: Sequence[Section]) -> dict[str, Any]:
    """What to remember of a request sent, to compare the next one with."""
    chain = _chain(sections)
    marks = [[k + 1, chain[k]] for k, (component, _, _) in enumerate(sections)
             if component != _HISTORY and k + 1 < len(sections)
             and sections[k + 1][0] != component]
    return {"n": len(sections), "chain": chain[-1] if chain else "", "marks": marks[:8]}


@dataclass(frozen=True)
class PrefixKept:
    tokens: int  # of the request's message tokens, those that repeat the last request's
    total: int

    @property
    def share(self) -> float:
        return self.tokens / self.total if self.total else 0.0

    def describe(self) -> str:
        return (f"prefix kept: {self.share:.0%} ({self.tokens:,} of {self.total:,} tokens "
                f"as in the last request sent)")


def kept(sections: Sequence[Section], last: Mapping[str, Any] | None) -> PrefixKept | None:
    """How much of `sections` starts as the request `last` remembers; None when there is
    no last request (or its record cannot be read)."""
    if not isinstance(last, Mapping) or not isinstance(last.get("n"), int):
        return None
    total = sum(t for _, _, t in sections)
    chain = _chain(sections)
    n = last["n"]
    if 0 < n <= len(chain) and chain[n - 1] == last.get("chain"):
        return PrefixKept(sum(t for _, _, t in sections[:n]), total)
    best = 0
    for mark in last.get("marks") or ():
        if (isinstance(mark, list) and len(mark) == 2 and isinstance(mark[0], int)
                and 0 < mark[0] <= len(chain) and chain[mark[0] - 1] == mark[1]):
            best = max(best, mark[0])
    return PrefixKept(sum(t for _, _, t in sections[:best]), total)
