"""What the app says about a message, a budget and a profile means what it says (issue
11, states and words): "summarized" only for what a stored summary covers, a failed
turn set aside rather than "excluded by you", elastic allocations within the window,
grammatical problems, profile descriptions in the gauge's own words, one glossary."""

from __future__ import annotations

import re
from dataclasses import replace

from desktop_app.core.assemble import AssemblyInput, assemble
from desktop_app.core.budget import BUILTIN_PROFILES, COMPONENTS, make_report, plan_budget
from desktop_app.core.catalog import lookup_model
from desktop_app.core.glossary import (
    COMPONENT_LABELS,
    PROFILE_LABELS,
    STRATEGY_LABELS,
    profile_label,
    provider_label,
    state_label,
)
from desktop_app.core.history import ExtractiveSummarizer, HistoryStrategy, OfflineFactExtractor
from desktop_app.core.records import Message, Session
from desktop_app.store import open_database


def chat(n: int, words: int = 45) -> list[Message]:
    return [Message("user" if i % 2 == 0 else "assistant",
                    f"Message {i}: " + " ".join(f"word{(i * 7 + j) % 97}" for j in range(words)),
                    id=i + 1)
            for i in range(n)]


def test_summarized_only_for_what_a_stored_summary_covers():
    messages = chat(80)
    model = lookup_model("gpt-4o").with_context_window(4000)
    inp = AssemblyInput("sys", messages, "", model, BUILTIN_PROFILES["default"],
                        HistoryStrategy("rolling_summary"))
    # no summary stored yet: what this request folds is "folding", never "summarized",
    # whether it folds them itself (the preview and the turn do) or leaves them due
    for summarizer in (None, ExtractiveSummarizer()):
        req = assemble(inp, summarizer=summarizer)
        assert "summarized" not in req.states
        assert req.states[0] == "folding" and "kept" in req.states
    folded = assemble(inp, summarizer=ExtractiveSummarizer())
    stored = folded.new_summary
    assert stored is not None
    # the summary is stored; the session goes on and pushes more messages out
    more = chat(96)
    later = assemble(replace(inp, messages=more, summary=stored),
                     summarizer=ExtractiveSummarizer())
    covered = [i for i, m in enumerate(more) if m.id <= stored.last_message_id]
    assert all(later.states[i] == "summarized" for i in covered)
    assert all(later.reasons[i] == "replaced by the rolling summary" for i in covered)
    after = [i for i, s in enumerate(later.states) if s == "folding"]
    assert after and min(after) > max(covered)  # only the newly evicted are "to be folded"


def test_facts_not_yet_stored_are_to_be_folded_and_stored_ones_summarized():
    messages = chat(80)
    model = lookup_model("gpt-4o").with_context_window(4000)
    inp = AssemblyInput("sys", messages, "", model, BUILTIN_PROFILES["default"],
                        HistoryStrategy("kv_memory"))
    first = assemble(inp, extractor=OfflineFactExtractor())
    evicted = [i for i, s in enumerate(first.states) if s != "kept"]
    assert evicted and all(first.states[i] == "folding" for i in evicted)
    stored = replace(inp, memory_through_id=messages[evicted[-1]].id)
    again = assemble(stored)
    assert all(again.states[i] == "summarized" for i in evicted)


def test_a_failed_turn_is_set_aside_never_excluded_by_you(tmp_path):
    db = open_database(tmp_path)
    try:
        sid = db.sessions.create(Session(title="t")).id
        mine, question, failed = db.messages.append_many(sid, [
            Message("user", "leave this one out"),
            Message("user", "Are you there?"),
            Message("assistant", "", status="error", error="401: invalid API key"),
        ])
        db.messages.set_excluded(mine.id, True)  # the user's choice
        db.messages.set_aside(question.id, "its reply failed: 401")  # a failed turn's
        db.messages.set_aside(failed.id)
        stored = db.messages.all_for_session(sid)
        assert [m.set_aside for m in stored] == [False, True, True]
        assert stored[2].error == "401: invalid API key"  # a failed reply keeps its error
        req = assemble(AssemblyInput("", stored, "again?", lookup_model("gpt-4o"),
                                     BUILTIN_PROFILES["default"]))
        assert req.reasons[0] == "excluded by you"
        assert all("by you" not in r and "set aside" in r for r in req.reasons[1:])
        assert req.states == ["dropped"] * 3
        # Include, then Exclude: now it is the user's choice, and says so
        db.messages.set_excluded(question.id, False)
        db.messages.set_excluded(question.id, True)
        again = db.messages.get(question.id)
        assert again.excluded and not again.set_aside and again.error is None
    finally:
        db.close()


def test_the_problem_says_needs_or_need_by_count():
    model = lookup_model("gpt-4o").with_context_window(1000)
    long = "word " * 3000
    alone = assemble(AssemblyInput("", [], long, model, BUILTIN_PROFILES["default"]))
    assert not alone.fits
    assert re.search(r"your message \([\d,]+\) needs [\d,]+ tokens", alone.problem)
    both = assemble(AssemblyInput("Be brief.", [], long, model, BUILTIN_PROFILES["default"]))
    assert re.search(r"your message \([\d,]+\) need [\d,]+ tokens", both.problem)
    pinned = [Message("user", long, pinned=True, id=1)]
    only_pinned = assemble(AssemblyInput("", pinned, "", model, BUILTIN_PROFILES["default"]))
    assert re.search(r"pinned messages \([\d,]+\) need [\d,]+ tokens", only_pinned.problem)


def test_elastic_allocations_add_up_to_at_most_the_window():
    window = 10_000
    for name, profile in BUILTIN_PROFILES.items():
        plan = plan_budget(window, profile, elastic=True)
        report = make_report(plan, {"system_prompt": 120, "history": 9_000,
                                    "current_input": 40})
        assert report.lent_to_history > 0, name
        shown = sum(report.components[c].allocation for c in COMPONENTS)
        assert shown <= window, name
        assert sum(r.lent for r in report.components.values()) == report.lent_to_history
        assert report.components["history"].allocation == report.components["history"].budget
        assert report.components["system_prompt"].allocation == 120


def test_the_pyramid_profile_is_described_in_the_gauges_words():
    profile = BUILTIN_PROFILES["pyramid"]
    named = re.findall(r"([a-z][a-z ]*?) (\d+)%", profile.description.lower())
    labels = {label.lower(): comp for comp, label in COMPONENT_LABELS.items()}
    assert {name for name, _pct in named} <= set(labels), profile.description
    for name, pct in named:
        assert round(profile.fractions[labels[name]] * 100) == int(pct), name
    assert len(named) == sum(1 for v in profile.fractions.values() if v)


def test_one_glossary_for_every_name_the_window_shows():
    assert profile_label("simple_qa") == "Simple Q&A"
    assert profile_label("simple_qa", builtin=False) == "simple_qa"  # a user's own name
    assert set(PROFILE_LABELS) == set(BUILTIN_PROFILES)
    assert provider_label("openai") == "OpenAI" and provider_label("deepseek") == "DeepSeek"
    assert set(COMPONENT_LABELS) == set(COMPONENTS)
    assert set(STRATEGY_LABELS) == {"full", "last_n", "token_window", "rolling_summary",
                                    "kv_memory", "hybrid"}
    assert state_label("folding") == "to be folded" and state_label("summarized") == "summarized"
    assert all("_" not in label for label in (*PROFILE_LABELS.values(),
                                              *COMPONENT_LABELS.values()))
