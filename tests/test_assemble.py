"""Assembly under every profile and strategy: the request plus the reply reserve never
exceeds the window, the system prompt is never dropped silently, pinned messages are
always kept, and every message's fate is explained."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.assemble import AssemblyInput, assemble
from desktop_app.core.budget import (
    BUILTIN_PROFILES,
    COMPONENTS,
    AllocationProfile,
    ProfileError,
    make_report,
    plan_budget,
)
from desktop_app.core.catalog import lookup_model
from desktop_app.core.history import (
    STRATEGIES,
    ExtractiveSummarizer,
    HistoryStrategy,
    OfflineFactExtractor,
)
from desktop_app.core.live import LiveBudget
from desktop_app.core.records import MemoryFact, Message, Summary
from desktop_app.core.tokens import count_chat, count_text

WORDS = ["the", "budget", "token", "window", "model", "summary", "memory", "alpha", "beta",
         "gamma", "Rome", "Paris", "42", "7"]


def make_messages(lengths, pinned=frozenset(), excluded=frozenset()):
    out = []
    for i, n in enumerate(lengths):
        content = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n))
        out.append(Message("user" if i % 2 == 0 else "assistant", content, id=i + 1,
                           pinned=i in pinned, excluded=i in excluded))
    return out


profiles = st.one_of(
    st.sampled_from(list(BUILTIN_PROFILES.values())),
    st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7).filter(lambda f: f[6] > 0.01).map(
        lambda f: AllocationProfile("custom", {c: v / max(1.0, sum(f)) * 0.999
                                               for c, v in zip(COMPONENTS, f, strict=True)})),
)


@settings(max_examples=int(__import__("os").environ.get("TB_HYPOTHESIS_EXAMPLES", "200")),
          deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lengths=st.lists(st.integers(0, 120), max_size=40),
    pinned=st.sets(st.integers(0, 39), max_size=3),
    excluded=st.sets(st.integers(0, 39), max_size=3),
    system_words=st.integers(0, 300),
    draft_words=st.integers(0, 300),
    window=st.integers(64, 6000),
    profile=profiles,
    kind=st.sampled_from(STRATEGIES),
    last_n=st.integers(1, 10),
    elastic=st.booleans(),
    with_helpers=st.booleans(),
    facts=st.integers(0, 6),
)
def test_budget_invariants(lengths, pinned, excluded, system_words, draft_words, window,
                           profile, kind, last_n, elastic, with_helpers, facts):
    messages = make_messages(lengths, pinned, excluded)
    model = lookup_model("gpt-4o").with_context_window(window)
    system = " ".join(["Be concise."] * (system_words // 2))
    inp = AssemblyInput(
        system_prompt=system,
        messages=messages,
        draft=" ".join(["please"] * draft_words),
        model=model,
        profile=profile,
        strategy=HistoryStrategy(kind, last_n=last_n),
        examples=[{"role": "user", "content": "Example question?"},
                  {"role": "assistant", "content": "Example answer."}],
        memory=[MemoryFact(f"k{i}", f"value {i}", pinned=i == 0) for i in range(facts)],
        summary=Summary("Earlier we talked about Rome.", 1, 2) if len(messages) > 2 else None,
        elastic=elastic,
    )
    helpers = (ExtractiveSummarizer(), OfflineFactExtractor()) if with_helpers else (None, None)
    req = assemble(inp, *helpers)

    assert len(req.states) == len(messages)
    assert all(r for r in req.reasons)
    if not req.fits:
        assert req.messages == [] and req.problem and "Does not fit" in req.problem
        assert req.tokens + req.max_tokens > window  # it truly could not fit
        return
    # the invariant: request plus reply reserve within the window, counted independently
    billed = count_chat(req.messages, model).tokens
    assert billed == req.tokens
    assert req.tokens + req.max_tokens <= window
    assert req.max_tokens >= 1
    # the system prompt is never dropped
    if system:
        assert req.messages[0] == {"role": "system", "content": system}
    # pinned messages are always kept; excluded ones never sent
    sent = [m["content"] for m in req.messages]
    for i, m in enumerate(messages):
        if i in pinned and i not in excluded:  # excluding is the user's later word
            assert req.states[i] == "pinned" and m.content in sent
        elif i in excluded:
            assert req.states[i] == "dropped"
    # the draft is the last message
    if inp.draft:
        assert req.messages[-1] == {"role": "user", "content": inp.draft}
    # kept history is the newest contiguous run of candidates (no holes)
    kept = [i for i, s in enumerate(req.states) if s == "kept"]
    if kept:
        after = [i for i in range(kept[0], len(messages)) if req.states[i] in ("dropped",
                 "summarized", "folding") and req.reasons[i] not in ("excluded by you",
                                                                     "empty message: not sent")]
        assert not after
    if kind == "last_n":
        assert len(kept) <= last_n
    # the report adds up
    assert req.report.request_tokens == req.tokens
    assert req.report.used == req.tokens + req.max_tokens


def test_system_prompt_too_big_is_said_not_cut():
    model = lookup_model("gpt-4").with_context_window(500)
    req = assemble(AssemblyInput("word " * 2000, [], "hi", model, BUILTIN_PROFILES["default"]))
    assert not req.fits and req.messages == []
    assert "system prompt" in req.problem and "does not fit" in req.problem.lower()


def test_token_window_keeps_newest_and_explains_the_rest():
    messages = make_messages([50] * 100)
    model = lookup_model("gpt-4o").with_context_window(4000)
    req = assemble(AssemblyInput("sys", messages, "next?", model, BUILTIN_PROFILES["default"],
                                 HistoryStrategy("token_window")))
    assert req.fits
    kept = [i for i, s in enumerate(req.states) if s == "kept"]
    assert kept and kept[-1] == 99 and kept == list(range(kept[0], 100))
    assert req.states[0] == "dropped" and "history budget" in req.reasons[0]
    assert req.report.components["history"].used <= req.report.components["history"].budget


def test_rolling_summary_folds_evicted_messages_offline():
    messages = make_messages([60] * 80)
    messages[3].content = "My name is Ada and the deadline is Friday."
    model = lookup_model("gpt-4o").with_context_window(4000)
    inp = AssemblyInput("sys", messages, "", model, BUILTIN_PROFILES["default"],
                        HistoryStrategy("rolling_summary"))
    preview = assemble(inp)
    assert preview.due_for_summary and preview.new_summary is None
    done = assemble(inp, summarizer=ExtractiveSummarizer())
    assert done.new_summary is not None and done.new_summary.text
    assert done.new_summary.last_message_id == preview.due_for_summary[-1].id
    assert any(s[0] == "summary" for s in done.sections)
    # folded by this request, not yet by a stored summary: "folding", not "summarized"
    assert done.states[0] == "folding" and "folded" in done.reasons[0]
    # the next turn with the stored summary marks those messages as covered
    again = assemble(replace(inp, summary=done.new_summary))  # inputs are frozen
    assert again.states[0] == "summarized" and again.reasons[0] == "replaced by the rolling summary"


def test_kv_memory_extracts_facts_from_evicted_messages():
    messages = make_messages([60] * 80)
    messages[1] = Message("user", "My name is Ada Lovelace. I live in London.", id=2)
    model = lookup_model("gpt-4o").with_context_window(4000)
    inp = AssemblyInput("sys", messages, "", model, BUILTIN_PROFILES["default"],
                        HistoryStrategy("kv_memory"),
                        memory=[MemoryFact("name", "Ada (pinned)", pinned=True)])
    req = assemble(inp, extractor=OfflineFactExtractor())
    assert req.new_memory["location"] == "London"
    assert "name" not in req.new_memory  # the pinned "name" is kept as it was
    memory_msg = next(m for c, m, _ in req.sections if c == "memory")
    assert "location: London" in memory_msg["content"]
    assert "name: Ada (pinned)" in memory_msg["content"]


def test_elastic_mode_lends_slack_to_history_but_never_the_reserve():
    profile = BUILTIN_PROFILES["default"]
    plan = plan_budget(10_000, profile, elastic=True)
    report = make_report(plan, {"system_prompt": 100, "history": 3000})
    slack = sum(plan.budgets[c] - (100 if c == "system_prompt" else 0)
                for c in ("system_prompt", "examples", "memory", "summary", "current_input"))
    assert report.lent_to_history == slack
    assert report.components["history"].budget == plan.budgets["history"] + slack
    assert report.components["reply_reserve"].budget == plan.budgets["reply_reserve"]
    messages = make_messages([40] * 200)
    model = lookup_model("gpt-4o").with_context_window(10_000)
    tight = assemble(AssemblyInput("s", messages, "", model, profile, elastic=False))
    loose = assemble(AssemblyInput("s", messages, "", model, profile, elastic=True))
    assert loose.states.count("kept") > tight.states.count("kept")
    assert loose.tokens + loose.max_tokens <= 10_000


def test_custom_profiles_validate_with_clear_errors():
    with pytest.raises(ProfileError, match="more than 100%"):
        AllocationProfile("big", {"history": 0.8, "reply_reserve": 0.3})
    with pytest.raises(ProfileError, match="between 0 and 1"):
        AllocationProfile("neg", {"history": -0.1, "reply_reserve": 0.3})
    with pytest.raises(ProfileError, match="unknown component"):
        AllocationProfile("typo", {"histroy": 0.1, "reply_reserve": 0.3})
    with pytest.raises(ProfileError, match="reply reserve"):
        AllocationProfile("noreply", {"history": 0.5})
    ok = AllocationProfile("mine", {"history": 0.5, "reply_reserve": 0.25})
    assert ok.fractions["examples"] == 0.0


def test_plan_and_report_for_40_40_20():
    plan = plan_budget(16_000, BUILTIN_PROFILES["40-40-20"])
    task = sum(plan.budgets[c] for c in ("system_prompt", "examples", "current_input"))
    memory = sum(plan.budgets[c] for c in ("history", "memory", "summary"))
    assert (task, memory, plan.reply_reserve) == (6400, 6400, 3200)
    report = make_report(plan, {"history": 4000, "system_prompt": 100})
    assert report.over_components == []
    report = make_report(plan, {"history": 5000})
    assert report.components["history"].over and report.over_components == ["history"]
    assert report.components["history"].remaining == 4800 - 5000


def test_reply_reserve_is_capped_at_the_models_output_limit():
    model = lookup_model("gpt-4.1")
    plan = plan_budget(model.context_window, BUILTIN_PROFILES["40-40-20"], model.max_output)
    assert plan.reply_reserve == model.max_output


def test_live_budget_recounts_only_the_draft():
    messages = make_messages([30] * 50)
    model = lookup_model("gpt-4o")
    req = assemble(AssemblyInput("sys", messages, "", model, BUILTIN_PROFILES["default"]))
    live = LiveBudget(req, model.encoding)
    draft = "Hello there, how are you today? " * 20
    report = live.update_draft(draft)
    assert report.components["current_input"].used == 3 + 1 + count_text(draft, model.encoding)
    assert report.components["history"].used == req.report.components["history"].used
    full = assemble(AssemblyInput("sys", messages, draft, model, BUILTIN_PROFILES["default"]))
    assert report.request_tokens == full.tokens


def test_rule_based_facts_from_what_the_user_said():
    said = Message("user", "My name is Ada and I live in Lisbon. I work at Acme Corp. "
                           "My budget is 500 euros.")
    facts = OfflineFactExtractor().extract([said, Message("assistant", "My name is Bot.")], {})
    assert facts == {"name": "Ada", "location": "Lisbon", "employer": "Acme Corp",
                     "budget": "500 euros"}
    # facts already known with the same value are not proposed again
    assert "name" not in OfflineFactExtractor().extract([said], {"name": "Ada"})


def test_facts_are_taken_from_each_evicted_message_once():
    messages = make_messages([60] * 80)
    model = lookup_model("gpt-4o").with_context_window(4000)
    inp = AssemblyInput("sys", messages, "", model, BUILTIN_PROFILES["default"],
                        HistoryStrategy("kv_memory"))
    first = assemble(inp)
    assert first.due_for_memory
    inp = replace(inp, memory_through_id=first.due_for_memory[-1].id)  # inputs are frozen
    again = assemble(inp)
    assert again.due_for_memory == []
    # the facts of those messages live in memory: the map still says so
    assert again.states[0] == "summarized" and "memory" in again.reasons[0]
    # a new message pushes one more out of the window: only that one is due
    inp = replace(inp, messages=messages + make_messages([60, 60])[0:2])
    inp.messages[-2].id, inp.messages[-1].id = 81, 82
    later = assemble(inp)
    assert [m.id for m in later.due_for_memory] == [
        m.id for m in later.due_for_memory if m.id > inp.memory_through_id]
    assert 0 < len(later.due_for_memory) <= 2


def test_assembly_reads_its_input_and_writes_nothing_back():
    messages = make_messages([40] * 60)
    messages[5].name = "bob"
    model = lookup_model("gpt-4o").with_context_window(3000)
    inp = AssemblyInput("sys", messages, "next?", model, BUILTIN_PROFILES["default"])
    assert isinstance(inp.messages, tuple) and isinstance(inp.examples, tuple)
    with pytest.raises(AttributeError):
        inp.draft = "changed"  # frozen
    req = assemble(inp)
    assert all(m.token_counts == {} for m in messages)  # nothing written onto the messages
    # what assembly had to count is handed back, by index into the input's messages
    costed = [i for i, s in enumerate(req.states) if s in ("kept", "pinned")]
    assert set(costed) <= set(req.new_counts)
    assert all(n == count_text(messages[i].content, model.encoding)
               for i, n in req.new_counts.items())
    # counts passed in are used instead of counting, and give the same request
    counts = [count_text(m.content, model.encoding) for m in messages]
    given_counts = assemble(replace(inp, counts=counts))
    assert given_counts.new_counts == {}
    assert given_counts.to_dict() == req.to_dict()
    # counts cached on the messages are used too; a None in `counts` falls back to them
    for m, n in zip(messages, counts, strict=True):
        m.token_counts[model.encoding] = n
    cached = assemble(replace(inp, counts=[None] * len(messages)))
    assert cached.new_counts == {} and cached.to_dict() == req.to_dict()
    with pytest.raises(ValueError, match="counts"):
        AssemblyInput("sys", messages, "", model, BUILTIN_PROFILES["default"], counts=[1])


def test_states_and_components_are_str_enums_that_serialize_as_before():
    import json

    from desktop_app.core.assemble import INCLUSION_STATES, InclusionState
    from desktop_app.core.budget import Component

    assert INCLUSION_STATES == ("kept", "summarized", "dropped", "pinned", "folding")
    assert COMPONENTS == ("system_prompt", "examples", "memory", "summary", "history",
                          "current_input", "reply_reserve")
    req = assemble(AssemblyInput("sys", make_messages([30] * 5, pinned={0}), "hi",
                                 lookup_model("gpt-4o"), BUILTIN_PROFILES["default"]))
    assert req.states[0] is InclusionState.PINNED and req.states[1] == "kept"
    assert set(req.component_tokens) <= set(Component)
    assert req.component_tokens["history"] == req.component_tokens[Component.HISTORY]
    text = json.dumps(req.to_dict())
    assert '"state": "pinned"' in text and '"history": {"budget"' in text
    assert json.dumps(req.component_tokens) == json.dumps(
        {str(k): v for k, v in req.component_tokens.items()})
    assert [s[0] for s in req.sections] == ["system_prompt", "history", "history", "history",
                                            "history", "history", "current_input"]


def test_framing_comes_from_the_tokenizer_layer():
    # gpt-3.5-turbo-0301 frames a message with 4 tokens and a name with -1: the history
    # is costed with the same rule as count_chat, so the request's count is what is billed
    # (the catalog files the snapshot under gpt-3.5-turbo, so the model is made by hand)
    model = replace(lookup_model("gpt-3.5-turbo"), name="gpt-3.5-turbo-0301",
                    context_window=4000)
    messages = make_messages([20] * 30)
    messages[-1].name = "bob"
    req = assemble(AssemblyInput("sys", messages, "hi", model, BUILTIN_PROFILES["default"]))
    assert req.framing.per_message == 4
    assert req.tokens == count_chat(req.messages, model).tokens
    live = LiveBudget(req, model.encoding, "hello there")
    full = assemble(AssemblyInput("sys", messages, "hello there", model,
                                  BUILTIN_PROFILES["default"]))
    assert live.report.request_tokens == full.tokens
