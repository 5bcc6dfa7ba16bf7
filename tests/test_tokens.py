"""Token counting: offline encodings, known counts, chat format, caching, and the
incremental draft counter (which must always equal a full count)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core import tokens
from desktop_app.core.catalog import ENCODINGS, lookup_model
from desktop_app.core.tokens import (
    DraftCounter,
    apply_edits,
    count_chat,
    count_text,
    split_for_counting,
)

ROOT = Path(__file__).resolve().parents[1]

# The example from OpenAI's cookbook "How to count tokens with tiktoken": 129 prompt
# tokens for gpt-3.5-turbo and gpt-4, 124 for gpt-4o, as the API reports them.
COOKBOOK = [
    {"role": "system",
     "content": "You are a helpful, pattern-following assistant that translates corporate "
                "jargon into plain English."},
    {"role": "system", "name": "example_user",
     "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant",
     "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user",
     "content": "Let's circle back when we have more bandwidth to touch base on opportunities "
                "for increased leverage."},
    {"role": "system", "name": "example_assistant",
     "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user",
     "content": "This late pivot means we don't have time to boil the ocean for the client "
                "deliverable."},
]


def test_counting_works_with_networking_disabled(tmp_path):
    # A fresh interpreter whose sockets refuse to connect and whose tiktoken cache is
    # empty: every encoding must still load from resources/ and count.
    script = textwrap.dedent(
        """
        import os, socket
        def refuse(*a, **k):
            raise OSError("network disabled in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from desktop_app.core.tokens import count_text
        for enc in ("o200k_base", "cl100k_base", "p50k_base", "r50k_base"):
            print(enc, count_text("hello world", enc))
        """
    )
    env = {"PATH": "/usr/bin:/bin", "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache"),
           "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["o200k_base", "2", "cl100k_base", "2", "p50k_base", "2",
                                  "r50k_base", "2"]
    assert not (tmp_path / "empty-cache").exists()  # nothing was written to a cache


def test_known_counts_per_encoding():
    assert count_text("tiktoken is great!", "cl100k_base") == 6
    assert count_text("tiktoken is great!", "o200k_base") == 6
    assert count_text("", "o200k_base") == 0
    # special-token text typed by a user is ordinary text, never an error
    assert count_text("<|endoftext|>", "cl100k_base") > 1


@pytest.mark.parametrize(("model", "expected"), [
    ("gpt-3.5-turbo", 129), ("gpt-4", 129), ("gpt-4o", 124), ("gpt-4o-mini", 124)])
def test_chat_count_matches_what_the_api_bills(model, expected):
    count = count_chat(COOKBOOK, model)
    assert count.tokens == expected
    assert count.exact


def test_estimated_models_and_tools_say_so():
    assert not count_chat(COOKBOOK, "gemma3:12b").exact  # no Gemma tokenizer is shipped
    unknown = count_chat(COOKBOOK, "my-private-model")
    assert not unknown.exact and "unknown model" in unknown.warning
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["c", "f"]}}}}}]
    with_tools = count_chat(COOKBOOK, "gpt-4o", tools=tools)
    assert with_tools.tokens > 124 + 20
    assert not with_tools.exact  # tool rendering is undocumented: an estimate


def test_counts_are_cached_per_text_and_encoding():
    count_text.cache_clear()
    text = "a sentence counted once " * 10
    count_text(text, "cl100k_base")
    count_text(text, "cl100k_base")
    count_text(text, "o200k_base")
    info = count_text.cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_encodings_load_once_and_check_their_hash(monkeypatch, tmp_path):
    assert tokens.get_encoding("cl100k_base") is tokens.get_encoding("cl100k_base")
    # a damaged file is refused with a clear message
    damaged = tmp_path / "tiktoken"
    damaged.mkdir()
    (damaged / "r50k_base.tiktoken").write_bytes(b"aGVsbG8= 0\n")
    from desktop_app.core import tokenizers

    monkeypatch.setattr(tokenizers, "resource", lambda *parts: tmp_path.joinpath(*parts))
    monkeypatch.setattr(tokenizers, "_encodings", {})
    with pytest.raises(tokens.EncodingError, match="damaged"):
        tokens.get_encoding("r50k_base")


TEXT_ALPHABET = st.sampled_from(
    list("abcXYZ019 .,!?'\n\t-/<>|é中ǅⅫ٣") + ["  ", "\n\n", "the ", "'s ", "123", "\u0301"]
)
texts = st.lists(TEXT_ALPHABET, max_size=400).map("".join)


@settings(max_examples=150, deadline=None)
@given(text=texts, encoding=st.sampled_from(ENCODINGS), target=st.integers(2, 40))
def test_split_points_never_change_the_count(text, encoding, target):
    chunks = split_for_counting(text, target)
    assert "".join(chunks) == text
    assert sum(count_text(c, encoding) for c in chunks) == count_text(text, encoding)


# a draft and edits of it: (where, characters removed, text put in)
edit_lists = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 8), texts), max_size=8)
DRAFT_EDITS = settings(max_examples=int(os.environ.get("TB_HYPOTHESIS_EXAMPLES", "80")),
                       deadline=None)


@DRAFT_EDITS
@given(
    start=texts,
    edits=edit_lists,
    encoding=st.sampled_from(ENCODINGS),
    chunk=st.sampled_from([4, 16, 512]),  # small chunks: many cuts
)
def test_incremental_draft_count_always_equals_a_full_count(start, edits, encoding, chunk):
    counter = DraftCounter(encoding, start, chunk_chars=chunk)
    text = start
    assert counter.total == count_text(text, encoding)
    for pos, removed, inserted in edits:
        pos = pos % (len(text) + 1)
        text = text[:pos] + inserted + text[pos + removed:]
        assert counter.update(text) == count_text(text, encoding)
    counter.set_encoding("cl100k_base")
    assert counter.total == count_text(text, "cl100k_base")


@DRAFT_EDITS
@given(
    start=texts,
    edits=edit_lists,
    encoding=st.sampled_from(ENCODINGS),
    chunk=st.sampled_from([4, 16, 512]),  # small chunks: many cuts
    together=st.booleans(),
)
def test_a_draft_counted_from_its_edits_is_the_text_they_make(start, edits, encoding, chunk,
                                                              together):
    """Edits given with the text they put in (a keystroke in the composer) change only
    the chunks they touch; the count and the text are those of the edited text."""
    counter = DraftCounter(encoding, start, chunk_chars=chunk)
    text, made = start, []
    for pos, removed, inserted in edits:
        pos = pos % (len(text) + 1)
        made.append((pos, min(removed, len(text) - pos), inserted))
        text = apply_edits(text, made[-1:])
        if not together:
            assert counter.apply(made[-1:]) == count_text(text, encoding)
            assert len(counter) == len(text)
    if together:  # several edits in one emission (an undo of a compound edit)
        counter.apply(made)
    assert counter.total == count_text(text, encoding)
    # the whole text given after edits (the composer read it whole) is compared with
    # the chunks, not with a joined text
    assert counter.update(text + "!") == count_text(text + "!", encoding)
    assert counter.text == text + "!" == apply_edits(start, [*made, (len(text), 0, "!")])
    # edits that do not fit change nothing, though the first of them would have
    with pytest.raises(ValueError):
        counter.apply([(0, 0, "x"), (len(text) + 3, 0, "y")])
    assert counter.text == text + "!" and counter.total == count_text(text + "!", encoding)


def test_draft_counter_handles_a_large_draft_with_typing():
    body = ("The budget decides what the model sees. " * 40 + "\n") * 60
    counter = DraftCounter("o200k_base", body)
    for i in range(50):
        body = body[: 1000 + i] + "x" + body[1000 + i:]
        counter.update(body)
    body = body + "and one more line at the end"
    assert counter.update(body) == count_text(body, "o200k_base")
    assert counter.update("") == 0


def test_catalog_lookups():
    assert lookup_model("gpt-4o-2024-08-06").name == "gpt-4o"
    assert lookup_model("llama3.1:8b-instruct-q4_K_M").name == "llama3.1"
    assert lookup_model("openai/gpt-4.1-mini").name == "gpt-4.1-mini"
    # gpt-5's window is its input limit (LiteLLM's max_input_tokens: 272,000 of the
    # 400,000 it shares with the reply), so a prompt planned inside it is always accepted
    assert lookup_model("GPT-5").context_window == 272_000
    claude = lookup_model("claude-3-5-sonnet-20241022")
    assert claude.provider == "anthropic" and not claude.exact
    unknown = lookup_model("totally-new-model")
    assert not unknown.known and unknown.warning and unknown.context_window > 0
    assert lookup_model("gpt-4o").cost(1_000_000, 1_000_000) == pytest.approx(12.5)


def test_chat_framing_has_one_owner():
    from desktop_app.core.tokens import OPENAI_FRAMING, REPLY_PRIMING, ChatFraming, chat_framing

    assert chat_framing(lookup_model("gpt-4o")) == OPENAI_FRAMING
    assert ChatFraming(per_message=3, per_name=1, reply_priming=3) == OPENAI_FRAMING
    assert chat_framing("gpt-3.5-turbo-0301") == ChatFraming(4, -1, 3)
    assert OPENAI_FRAMING.reply_priming == REPLY_PRIMING
    assert OPENAI_FRAMING.message(1, 10) == 14
    assert OPENAI_FRAMING.message(1, 10, name_tokens=2) == 17
    # count_chat is the sum of the framed messages and the reply priming
    model = lookup_model("gpt-4o")
    framing = chat_framing(model)
    expected = framing.reply_priming + sum(
        framing.message(count_text(m["role"], model.encoding),
                        count_text(m["content"], model.encoding),
                        count_text(m["name"], model.encoding) if "name" in m else None)
        for m in COOKBOOK)
    assert count_chat(COOKBOOK, model).tokens == expected == 124
