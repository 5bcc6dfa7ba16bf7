"""A prefix that stays put: with the option on, history is evicted in blocks so that
most turns only append to the request before, which a server's prompt cache reuses;
the budget's invariants hold all the same."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core import prefix
from desktop_app.core.assemble import AssemblyInput, assemble
from desktop_app.core.budget import BUILTIN_PROFILES
from desktop_app.core.catalog import lookup_model
from desktop_app.core.history import ExtractiveSummarizer, HistoryStrategy, OfflineFactExtractor
from desktop_app.core.records import Message

WORDS = ["plan", "budget", "window", "token", "summary", "river", "mountain", "code",
         "review", "deploy", "test"]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _session(kind: str, stable: bool, *, turns: int = 40, elastic: bool = False,
             window: int = 4096, seed: int = 5):
    """Play `turns` turns the way the app does (the request sent, then its history start
    and prefix remembered); per turn: (request, tokens a prefix cache reuses)."""
    rng = random.Random(seed)
    model = lookup_model("llama3.1:8b").with_context_window(window)
    msgs: list[Message] = []
    summary, from_id, last = None, None, None
    out = []
    for _ in range(turns):
        draft = _text(rng, rng.randint(60, 110))
        request = assemble(
            AssemblyInput("You are helpful.", msgs, draft, model, BUILTIN_PROFILES["default"],
                          HistoryStrategy(kind, stable_prefix=stable), summary=summary,
                          elastic=elastic, history_from_id=from_id),
            summarizer=ExtractiveSummarizer(), extractor=OfflineFactExtractor())
        reused = prefix.kept(request.sections, last)
        out.append((request, reused.tokens if reused else 0))
        last, from_id = prefix.signature(request.sections), request.history_from_id
        summary = request.new_summary or summary
        msgs = [*msgs, Message("user", draft, id=len(msgs) + 1),
                Message("assistant", _text(rng, rng.randint(80, 140)), id=len(msgs) + 2)]
    return out


def _reprocessed(turns) -> float:
    return sum(r.tokens - kept for r, kept in turns) / sum(r.tokens for r, _ in turns)


def test_a_stable_prefix_is_reprocessed_far_less_than_a_sliding_window():
    for kind in ("token_window", "rolling_summary", "hybrid"):
        sliding = _reprocessed(_session(kind, False, elastic=True))
        stable = _reprocessed(_session(kind, True, elastic=True))
        assert stable <= 0.25 and stable < sliding / 2, (kind, stable, sliding)
        # most turns only append: the whole previous request is the new one's start
        turns = _session(kind, True, elastic=True)
        appended = sum(1 for (r, kept), (before, _) in zip(turns[1:], turns, strict=False)
                       if kept >= sum(t for _, _, t in before.sections))
        assert appended >= 0.7 * (len(turns) - 1), kind


def test_the_prefix_record_says_what_a_cache_can_reuse():
    turns = _session("token_window", True, turns=6)
    request, kept = turns[-1]
    before = turns[-2][0]
    assert kept == sum(t for _, _, t in before.sections)  # only appended since
    record = prefix.signature(request.sections)
    assert prefix.kept(request.sections, record).share == 1.0
    assert prefix.kept(request.sections, None) is None
    assert prefix.kept(request.sections, {"n": "x"}) is None  # an unreadable record
    # another system prompt: nothing is the same
    changed = [("system_prompt", {"role": "system", "content": "Other."}, 3),
               *request.sections[1:]]
    assert prefix.kept(changed, record).tokens == 0


@settings(max_examples=80, deadline=None)
@given(kind=st.sampled_from(["token_window", "rolling_summary", "hybrid"]),
       window=st.integers(600, 6000), elastic=st.booleans(), seed=st.integers(0, 99),
       pinned=st.sets(st.integers(0, 29), max_size=3), turns=st.integers(2, 14))
def test_with_a_stable_prefix_the_budget_holds_and_nothing_goes_unsaid(kind, window, elastic,
                                                                      seed, pinned, turns):
    rng = random.Random(seed)
    model = lookup_model("llama3.1:8b").with_context_window(window)
    msgs = [Message("user" if i % 2 == 0 else "assistant", _text(rng, rng.randint(5, 90)),
                    id=i + 1, pinned=i in pinned) for i in range(30)]
    from_id = None
    for step in range(turns):
        request = assemble(
            AssemblyInput("Be brief.", msgs[: 16 + step], "next", model,
                          BUILTIN_PROFILES["default"], HistoryStrategy(kind, stable_prefix=True),
                          elastic=elastic, history_from_id=from_id),
            summarizer=ExtractiveSummarizer(), extractor=OfflineFactExtractor())
        if not request.fits:
            return
        assert request.tokens + request.max_tokens <= window
        assert request.messages[0] == {"role": "system", "content": "Be brief."}
        for m, state, reason in zip(msgs[: 16 + step], request.states, request.reasons,
                                    strict=True):
            if m.pinned:
                assert state == "pinned"
            elif state != "kept":  # left out: folded into the summary, or dropped, saying why
                assert state in ("folding", "summarized", "dropped") and reason
        from_id = request.history_from_id


def test_against_a_server_that_caches_prompts_a_stable_prefix_is_read_again_far_less(tmp_path):
    """The bench's 40-turn chat through the real turn path (store, assembly, the openai
    SDK over HTTP) to a loopback server that keeps its cache as llama.cpp does."""
    from desktop_app.llm.prefix_bench import run_session

    stable = run_session(True, data_dir=tmp_path)
    sliding = run_session(False, data_dir=tmp_path)
    assert stable["requests"] == sliding["requests"] == 40
    assert stable["over"] == sliding["over"] == 0
    assert stable["reprocessed"] <= 0.25 < sliding["reprocessed"]
    assert stable["reprocessed"] < sliding["reprocessed"] / 2


def test_a_rendered_prompt_encodes_to_as_many_tokens_as_it_counts():
    from desktop_app.core.chat_template import render, template_source
    from desktop_app.core.tokens import count_prompt, encode_prompt

    model = lookup_model("llama3.1:8b")
    prompt = render(template_source(model.template),
                    [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Hi <|eot_id|> there"}])
    ids = encode_prompt(prompt, model.encoding)
    assert len(ids) == count_prompt(prompt, model.encoding)
    assert ids[0] == 128000 and ids.count(128009) >= 2  # BOS once; the specials as specials
