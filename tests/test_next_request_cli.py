"""What `token-budget assemble --session ID --input TEXT` prints is what `token-budget
chat --session ID TEXT` then sends, message by message and token by token, under every
history strategy: both go through the one request builder. Real SQLite, the real
openai SDK, the loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.cli import main
from desktop_app.core.catalog import lookup_model
from desktop_app.core.history import STRATEGIES
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import Message, Session
from desktop_app.core.tokens import message_tokens
from desktop_app.services.connection import DEFAULT_PROVIDER_SETTING
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401

MODEL = "gpt-4"  # an 8k window: a few dozen messages overflow it
FACTS = ["My name is Ana Ruiz.", "Our budget is 4,500 euros.", "The booking code is QX7-22.",
         "I am allergic to peanuts.", "We decided to fly on Friday at 9:40."]
# prose, code, numbers, other scripts, emoji and stray control characters
ALPHABET = ("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 .,;:!?'\"()[]{}<>#*_-+=/\\\n\t"
            "éüßøñ中文字日本語한국어Ωπ🙂👍🏽\x00\x1b")
VOCABULARY = ["the", "budget", "flight", "Lisbon", "def", "return", "```python", "42", "3.14",
              "naïve", "über", "東京", "привет", "🙂", "—", "…", "\u202e", "&amp;", "<b>"]


def random_text(rng: random.Random, words: int) -> str:
    out = []
    for _ in range(words):
        if rng.random() < 0.7:
            out.append(rng.choice(VOCABULARY))
        else:
            out.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 12))))
    return " ".join(out)


@st.composite
def conversations(draw) -> list[Message]:
    """A conversation drawn from a few numbers (so Hypothesis stays fast): its length,
    the length of its messages, how often facts, pins and exclusions occur, and a seed."""
    n = draw(st.integers(min_value=0, max_value=36))
    longest = draw(st.integers(min_value=1, max_value=400))
    rng = random.Random(draw(st.integers(min_value=0, max_value=2**32)))
    pin_rate, exclude_rate = draw(st.sampled_from([0.0, 0.1])), draw(st.sampled_from([0.0, 0.1]))
    out = []
    for i in range(n):
        text = random_text(rng, rng.randint(1, longest))
        if i % 2 == 0 and rng.random() < 0.4:
            text = rng.choice(FACTS) + " " + text
        out.append(Message("user" if i % 2 == 0 else "assistant", text,
                           pinned=rng.random() < pin_rate, excluded=rng.random() < exclude_rate))
    return out


def seed(data_dir, server, strategy: str, messages: list[Message]) -> int:
    db = open_database(data_dir)
    try:
        if not db.providers.list():
            db.providers.save(ProviderConfig("local", base_url=server.base_url, models=[MODEL]))
            db.settings.set(DEFAULT_PROVIDER_SETTING, "local")
        session = db.sessions.create(Session(title=strategy, model=MODEL, strategy=strategy,
                                             system_prompt="You plan trips."))
        if messages:
            db.messages.append_many(session.id, messages)
        return int(session.id)
    finally:
        db.close()


@settings(max_examples=6, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_assemble_session_prints_what_chat_then_sends(tmp_path_factory, openai_server, capsys,
                                                      data):
    data_dir = tmp_path_factory.mktemp("data")
    model = lookup_model(MODEL)
    for strategy in STRATEGIES:
        sid = seed(data_dir, openai_server, strategy, data.draw(conversations()))
        draft_rng = random.Random(data.draw(st.integers(0, 2**32), label="draft seed"))
        text = random_text(draft_rng, data.draw(st.integers(1, 600), label="draft words"))
        text = text.strip() if text.strip() not in ("", "-") else "And now?"
        capsys.readouterr()
        code = main(["--data-dir", str(data_dir), "assemble", "--session", str(sid),
                     f"--input={text}", "--json"])
        out, err = capsys.readouterr()
        if code != 0:  # the draft does not fit: chat refuses it too, and sends nothing
            assert "Does not fit" in err
            before = len(openai_server.chat_requests())
            code = main(["--data-dir", str(data_dir), "chat", "--session", str(sid), "--", text])
            assert code == 2
            assert len(openai_server.chat_requests()) == before
            continue
        shown = json.loads(out)
        assert shown["window"]["tokens"] == model.context_window
        before = len(openai_server.chat_requests())
        openai_server.script(Reply(text="Noted."))
        code = main(["--data-dir", str(data_dir), "chat", "--session", str(sid), "--", text])
        assert code == 0, capsys.readouterr().err
        sent = openai_server.chat_requests()[before].body
        assert sent["messages"] == shown["messages"], strategy
        assert sent["max_tokens"] == shown["max_tokens"]
        # token by token: each message the server received costs what the preview said
        assert [message_tokens(m, model)[0] for m in sent["messages"]] == [
            s["tokens"] for s in shown["sections"]]
        with open_database(data_dir) as db:
            reply = db.messages.all_for_session(sid)[-1]
        assert reply.prompt_tokens == shown["tokens"]  # the server's count, exact for gpt-4


def test_assemble_session_reads_like_a_request(tmp_path, openai_server, capsys):
    sid = seed(tmp_path, openai_server, "token_window",
               [Message("user", "Hello there."), Message("assistant", "Hi!\x1b[31m")])
    assert main(["--data-dir", str(tmp_path), "assemble", "--session", str(sid),
                 "--input", "Where to?"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith(f"session {sid}: gpt-4")
    assert "8,192 tokens, from the model catalog" in lines[0]
    assert [line.split()[1] for line in lines[1:-1]] == [
        "system_prompt", "history", "history", "current_input"]
    assert "\x1b" not in out  # control characters from a message never reach the terminal
    assert lines[-1].endswith("kept for the reply")
    assert main(["--data-dir", str(tmp_path), "assemble", "--session", "999"]) == 2
