"""Speed figures of the budget engine, measured on a generated conversation. Run through
`token-budget bench --json`; targets live there and in the README, not in unit tests."""

from __future__ import annotations

import random
import statistics
import time

from desktop_app.core.assemble import AssemblyInput, assemble
from desktop_app.core.budget import builtin_profile
from desktop_app.core.catalog import lookup_model
from desktop_app.core.history import HistoryStrategy
from desktop_app.core.live import LiveBudget
from desktop_app.core.records import Message
from desktop_app.core.tokens import count_text, get_encoding

_VOCAB = [
    "the", "a", "budget", "token", "window", "context", "model", "summary", "memory",
    "history", "reply", "reserve", "prompt", "system", "user", "assistant", "Rome", "Paris",
    "Berlin", "data", "table", "query", "index", "cache", "stream", "chunk", "function",
    "value", "key", "ratio", "compress", "retain", "measure", "plan", "profile", "strategy",
    "elastic", "quickly", "slowly", "because", "therefore", "however", "2024", "42", "3.14",
    "(see", "below)", "—", "é", "中文",
]


def generate_conversation(n_messages: int = 10_000, words_per_message: int = 15,
                          seed: int = 7) -> list[Message]:
    """Distinct messages (so no count is a cache hit by accident), ~20 tokens each."""
    rng = random.Random(seed)
    out = []
    for i in range(n_messages):
        words = [rng.choice(_VOCAB) for _ in range(words_per_message)]
        words.append(str(i))
        out.append(Message("user" if i % 2 == 0 else "assistant", " ".join(words) + ".",
                           id=i + 1, position=i))
    return out


def generate_draft(tokens: int, encoding: str, seed: int = 11) -> str:
    rng = random.Random(seed)
    lines, total = [], 0
    while total < tokens:
        line = " ".join(rng.choice(_VOCAB) for _ in range(20)) + "."
        lines.append(line)
        total += count_text(line + "\n", encoding)
    return "\n".join(lines)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def run_core_bench() -> dict[str, float]:
    model = lookup_model("gpt-4.1")  # a window large enough for a 200,000-token session
    enc = model.encoding  # o200k_base, shared with gpt-4o below
    get_encoding(enc)  # loading the encoding is start-up, not counting
    messages = generate_conversation()
    profile = builtin_profile("default")

    count_text.cache_clear()
    t0 = time.perf_counter()
    for m in messages:
        m.token_counts[enc] = count_text(m.content, enc)
    cold = time.perf_counter() - t0
    session_tokens = sum(m.token_counts[enc] for m in messages)

    def assemble_ms(window_model) -> float:
        inp = AssemblyInput("You are a careful assistant.", messages, "What next?",
                            window_model, profile, HistoryStrategy("token_window"))
        assemble(inp)
        runs = []
        for _ in range(25):
            t0 = time.perf_counter()
            assemble(inp)
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs)

    # a 128k window (gpt-4o) keeps ~1,700 of the messages; a 1M window keeps all 10,000
    assemble_cached = assemble_ms(lookup_model("gpt-4o").with_context_window(128_000))
    assemble_all = assemble_ms(model)

    # a 20,000-token draft on top of the whole session (~200,000 tokens)
    draft = generate_draft(20_000, enc)
    full_inp = AssemblyInput("You are a careful assistant.", messages, "", model, profile,
                             HistoryStrategy("full"))
    request = assemble(full_inp)
    live = LiveBudget(request, enc, draft)
    rng = random.Random(3)
    keystrokes = []
    text = draft
    for _ in range(200):
        pos = rng.randrange(len(text))
        text = text[:pos] + rng.choice("abcxyz ") + text[pos:]
        t0 = time.perf_counter()
        live.update_draft(text)
        keystrokes.append(time.perf_counter() - t0)
    keystroke = statistics.median(keystrokes)

    encoding = get_encoding(enc)  # the naive way: encode everything again, no cache
    t0 = time.perf_counter()
    naive = sum(len(encoding.encode_ordinary(m.content)) for m in messages)
    naive += len(encoding.encode_ordinary(text))
    full_recount = time.perf_counter() - t0
    assert naive > 0

    return {
        "session_messages": len(messages),
        "session_tokens": session_tokens + live.draft_tokens,
        "cold_count_ms": _ms(cold),
        "assemble_cached_ms": _ms(assemble_cached),
        "assemble_cached_all_kept_ms": _ms(assemble_all),
        "keystroke_update_ms": _ms(keystroke),
        "full_recount_ms": _ms(full_recount),
        "keystroke_speedup_x": round(full_recount / keystroke, 1),
    }
