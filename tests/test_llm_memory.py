"""Summaries and key-value memory made by a model on a loopback server, their offline
fallbacks and their labels."""

from __future__ import annotations

import pytest

from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import MemoryFact, Message
from desktop_app.core.tokens import count_text
from desktop_app.llm.client import ChatClient, RetryPolicy
from desktop_app.llm.memory_extractor import (
    ModelFactExtractor,
    memory_of,
    merge_facts,
    parse_facts,
)
from desktop_app.llm.summarizer import ModelSummarizer, fit_to_budget
from desktop_app.paths import resource
from tests.openai_test_server import (
    OpenAITestServer,
    Reply,
    openai_server_fixture,  # noqa: F401  (the fixture)
    server_error,
)

ENC = "o200k_base"
CHAT = [
    Message("user", "My name is Ada. I live in Lisbon. I want a trip to Paris in May.", id=11),
    Message("assistant", "Paris in May is lovely. What budget do you have in mind?", id=12),
    Message("user", "About 900 euros, and I prefer trains to planes.", id=13),
]


def client_for(server: OpenAITestServer) -> ChatClient:
    config = ProviderConfig("test", base_url=server.base_url)
    return ChatClient(config, retry=RetryPolicy(max_retries=0))


def prompt_sent(server: OpenAITestServer, index: int = -1) -> str:
    return server.chat_requests()[index].body["messages"][0]["content"]


# --- summaries ---------------------------------------------------------------------------
def test_model_summary_folds_messages_into_the_summary(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="Updated summary: Ada, from Lisbon, plans Paris in May "
                                    "on about 900 euros and prefers trains to planes."))
    summarizer = ModelSummarizer(client_for(openai_server), "test-model")
    result = summarizer.run("The user greeted the assistant.", CHAT, 200, ENC)
    assert result.method == "model" and result.warning is None  # it kept every fact
    # the echoed label is gone
    assert result.text == ("Ada, from Lisbon, plans Paris in May on about 900 euros and "
                           "prefers trains to planes.")
    assert result.tokens == count_text(result.text, ENC)
    assert (result.first_message_id, result.last_message_id) == (11, 13)
    sent = prompt_sent(openai_server)
    assert "The user greeted the assistant." in sent
    assert "user: About 900 euros, and I prefer trains to planes." in sent
    assert "150 words" in sent  # its own budget, told to the model
    record = result.to_summary(session_id=4, retention=0.5)
    assert (record.method, record.model, record.first_message_id, record.session_id) == (
        "model",
        "test-model",
        11,
        4,
    )


def test_model_summary_is_kept_within_its_budget(openai_server: OpenAITestServer) -> None:
    long = " ".join(f"Sentence number {i} says something about the trip." for i in range(40))
    openai_server.script(Reply(text=long))
    result = ModelSummarizer(client_for(openai_server), "test-model").run("", CHAT, 30, ENC)
    assert result.method == "model" and result.tokens <= 30
    assert result.text.endswith(".") and "trimmed" in result.warning


def test_summarizer_works_in_batches_that_fit_its_input_budget(
    openai_server: OpenAITestServer,
) -> None:
    many = [Message("user", f"Point {i}: " + "detail " * 120, id=i) for i in range(6)]
    openai_server.script(*[Reply(text=f"Fold {n}.") for n in range(6)])
    summarizer = ModelSummarizer(client_for(openai_server), "test-model", input_budget=700)
    result = summarizer.run("", many, 100, ENC)
    calls = len(openai_server.chat_requests())
    assert calls >= 2
    assert all(count_text(prompt_sent(openai_server, i), ENC) <= 700 for i in range(calls))
    assert "Fold 0." in prompt_sent(openai_server, 1)  # each batch builds on the last
    assert result.text == f"Fold {calls - 1}." and result.message_ids == list(range(6))


def test_summary_prompt_is_an_editable_file(openai_server: OpenAITestServer) -> None:
    text = resource("prompts", "summarize.txt").read_text()
    assert "$previous_summary" in text and "$messages" in text and "$budget_words" in text
    openai_server.script(Reply(text="Short."))
    ModelSummarizer(client_for(openai_server), "test-model", prompt="Fold: $messages").run(
        "", CHAT[:1], 50, ENC
    )
    assert prompt_sent(openai_server) == "Fold: user: " + CHAT[0].content


def test_summary_falls_back_without_a_model() -> None:
    result = ModelSummarizer(None, None).run("", CHAT, 60, ENC)
    assert result.method == "extractive" and result.warning is None
    assert result.text and result.tokens <= 60
    assert result.to_summary().model is None


def test_summary_falls_back_when_the_call_fails(openai_server: OpenAITestServer) -> None:
    openai_server.script(server_error(500))
    summarizer = ModelSummarizer(client_for(openai_server), "test-model")
    text = summarizer.summarize("", CHAT, 60, ENC)  # core.history's Summarizer interface
    assert text and summarizer.last_result.method == "extractive"
    assert "HTTP 500" in summarizer.last_result.warning


def test_summary_falls_back_when_the_reply_is_cut(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="Ada plans a trip to", disconnect_after=2))
    result = ModelSummarizer(client_for(openai_server), "test-model").run("", CHAT, 60, ENC)
    assert result.method == "extractive" and "cut off" in result.warning


def test_fit_to_budget_drops_whole_sentences() -> None:
    assert fit_to_budget("One. Two. Three.", 100, ENC) == "One. Two. Three."
    assert fit_to_budget("One two. Three four five six seven.", 4, ENC) == "One two."


# --- memory ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "facts"),
    [
        ('[{"key": "name", "value": "Ada"}]', {"name": "Ada"}),
        ('```json\n[{"key": "Home City", "value": "Lisbon"}]\n```', {"home_city": "Lisbon"}),
        ('Here you go:\n[{"key": "budget", "value": 900}]\nHope it helps.', {"budget": "900"}),
        ('{"facts": [{"key": "name", "value": "Ada"}]}', {"name": "Ada"}),
        ('{"name": "Ada", "likes": ["trains", "maps"]}', {"name": "Ada", "likes": "trains, maps"}),
        ('[["name", "Ada"], {"key": "", "value": "x"}, {"key": "k"}]', {"name": "Ada"}),
        ("[]", {}),
        ("The user is called Ada.", None),
        ("[{oops", None),
    ],
)
def test_facts_are_read_tolerantly(reply: str, facts: dict | None) -> None:
    assert parse_facts(reply) == facts


def test_merge_adds_updates_and_keeps_pinned() -> None:
    existing = {"name": "Ada", "city": "Lisbon", "budget": "700 euros"}
    merge = merge_facts(
        existing,
        {"name": "Ada", "city": "Porto", "budget": "900 euros", "transport": "train"},
        pinned={"city"},
    )
    assert merge.added == {"transport": "train"}
    assert merge.updated == {"budget": ("700 euros", "900 euros")}
    assert merge.kept_pinned == ["city"]
    assert merge.facts == {
        "name": "Ada",
        "city": "Lisbon",
        "budget": "900 euros",
        "transport": "train",
    }


def test_model_extraction_merges_into_memory(openai_server: OpenAITestServer) -> None:
    openai_server.script(
        Reply(
            text=(
                '[{"key": "name", "value": "Ada"}, {"key": "budget", "value": "900 euros"},'
                ' {"key": "home", "value": "Porto"}]'
            )
        )
    )
    records = [MemoryFact("name", "Ada"), MemoryFact("home", "Lisbon", pinned=True)]
    existing, pinned = memory_of(records)
    extractor = ModelFactExtractor(client_for(openai_server), "test-model")
    result = extractor.run(CHAT, existing, pinned)
    assert result.method == "model" and result.warning is None
    model_facts = {k: v for k, v in result.proposed.items() if result.origin_of(k) == "model"}
    assert model_facts == {"budget": "900 euros", "home": "Porto"}  # name was known
    # what the model left out, the offline check keeps (the trip to Paris)
    assert result.kept_offline and all("Paris" in result.proposed[k] or "train" in
                                       result.proposed[k] for k in result.kept_offline)
    assert {k: result.merge.added[k] for k in result.merge.added if k not in
            result.kept_offline} == {"budget": "900 euros"}
    assert result.merge.kept_pinned == ["home"] and result.merge.facts["home"] == "Lisbon"
    sent = openai_server.chat_requests()[-1].body
    assert "- name: Ada" in sent["messages"][0]["content"]  # it knows what is known
    assert sent["temperature"] == 0


def test_extraction_falls_back_to_rules_on_prose(openai_server: OpenAITestServer) -> None:
    openai_server.script(Reply(text="Sure! The user's name is Ada."))
    extractor = ModelFactExtractor(client_for(openai_server), "test-model")
    facts = extractor.extract(CHAT, {})  # core.history's FactExtractor interface
    assert extractor.last_result.method == "rules"
    assert "not JSON" in extractor.last_result.warning
    assert facts.get("name") == "Ada" and facts.get("location") == "Lisbon"


def test_extraction_without_a_model_uses_rules() -> None:
    result = ModelFactExtractor(None, None).run(CHAT, {"name": "Ada"})
    assert result.method == "rules" and result.warning is None
    assert "name" not in result.proposed  # unchanged facts are not proposed again


def test_extraction_falls_back_when_the_call_fails(openai_server: OpenAITestServer) -> None:
    openai_server.script(server_error(503))
    result = ModelFactExtractor(client_for(openai_server), "test-model").run(CHAT, {})
    assert result.method == "rules" and "HTTP 503" in result.warning
