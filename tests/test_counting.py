"""A message's figure (core.counting) is what the assembler charges for it: its role's
head, its content and, where the format sends names, its name; the memory and summary
figures are their system messages as sent. Checked against assemble() under OpenAI's
rule, the 0301 rule, a template-like framing (per-role heads, no names) and a shipped
chat template's."""

from __future__ import annotations

import pytest

import desktop_app.core.assemble as assemble_module
from desktop_app.core.assemble import AssemblyInput, assemble
from desktop_app.core.budget import builtin_profile
from desktop_app.core.catalog import lookup_model
from desktop_app.core.counting import Counting
from desktop_app.core.history import HistoryStrategy
from desktop_app.core.records import MemoryFact, Message, Summary
from desktop_app.core.tokens import ChatFraming, chat_framing, count_text

# what a measured chat template looks like: a head per role, names not sent, more
# tokens when no system message leads
TEMPLATE_LIKE = ChatFraming(per_message=0, per_name=0, reply_priming=7,
                            role_heads=(("assistant", 5), ("system", 9), ("user", 6)),
                            no_system=11, names=False, source="the test chat template")


def conversation(encoding: str) -> list[Message]:
    messages = [
        Message("user", "Where should we stay in Porto?", id=1, name="ada"),
        Message("assistant", "Ribeira is lively; Boavista is quieter.", id=2),
        Message("user", "Quieter, please. And a day trip?", id=3),
        Message("assistant", "The Douro valley, by the 9:15 train.", id=4, name="guide"),
        Message("system", "Prices in euros.", id=5),
    ]
    for m in messages:
        m.token_counts[encoding] = count_text(m.content, encoding)
    return messages


@pytest.mark.parametrize("model_name,framing", [
    ("gpt-4o-mini", None), ("gpt-3.5-turbo-0301", None), ("gpt-4", TEMPLATE_LIKE),
    ("llama3.1:8b", None)])  # its chat template's measured framing, when shipped
def test_a_figure_is_what_the_assembler_charges(monkeypatch, model_name, framing):
    model = lookup_model(model_name)
    if framing is not None:  # the assembler costs with this framing, as with a template
        monkeypatch.setattr(assemble_module, "chat_framing", lambda _model: framing)
    framing = framing or chat_framing(model)
    counting = Counting(model.encoding, model.exact, framing)
    messages = conversation(model.encoding)
    facts = [MemoryFact("city", "Porto", pinned=True), MemoryFact("pace", "slow mornings")]
    summary = Summary("The user is planning a quiet week in Porto.")
    req = assemble(AssemblyInput("Be brief.", messages, "Which train?", model,
                                 builtin_profile("default"), HistoryStrategy("rolling_summary"),
                                 memory=facts, summary=summary))
    assert req.fits and req.framing == framing

    history = [tokens for comp, _chat, tokens in req.sections if comp == "history"]
    assert history == [counting.of_message(m).total for m in messages]
    assert req.component_tokens["memory"] == counting.memory(facts).total
    assert req.component_tokens["summary"] == counting.summary(summary.text).total
    assert req.component_tokens["current_input"] == counting.of_text("user", "Which train?").total
    assert req.component_tokens["system_prompt"] == counting.of_text("system", "Be brief.").total
    # the framing is part of the figure, and the split gives the content back
    named = counting.of_message(messages[0])
    assert named.framing > 0 and named.content == count_text(messages[0].content, model.encoding)
    assert counting.split("user", named.total, "ada") == named


def test_a_message_with_no_count_yet_has_no_figure_and_nothing_costs_nothing():
    counting = Counting()
    assert counting.of_message(Message("user", "not counted yet")) is None
    assert counting.memory([]).total == 0 and counting.summary("").total == 0
    assert counting.split("user", 0).total == 0


def test_the_hover_text_gives_the_split_and_the_framings_source():
    cost = Counting("o200k_base", False, TEMPLATE_LIKE).cost("user", 147)
    assert cost.describe() == ("153 tokens in the request: 147 content + 6 chat framing "
                               "(the test chat template) · estimated")
