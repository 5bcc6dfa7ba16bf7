"""The preview reads a long session only as far back as its next request can reach, and
without the texts it cannot send: that read gives the request a read of every message
gives (messages sent, states, reasons, tokens, folding), the older messages fare as the
request says of them all, only the texts it may need are read, and the inspector shows a
left-out message's text."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop_app.core.catalog import lookup_model
from desktop_app.core.counting import Counting
from desktop_app.core.history import STRATEGIES
from desktop_app.core.records import NOT_READ, Message, Session, Summary
from desktop_app.services import reach
from desktop_app.services.preview import SessionWork
from desktop_app.services.reach import count_missing
from desktop_app.services.request import (
    HISTORY_FROM,
    MEMORY_THROUGH,
    Selection,
    build_context,
    load_context,
    next_request,
    visible,
)
from desktop_app.services.windows import ResolvedWindow, WindowSource
from desktop_app.store import open_database
from desktop_app.ui.inspector import ContextInspector

WORDS = ("Ana", "budget", "400", "euros", "Lisbon", "Friday", "tent", "blue", "we", "chose",
         "the", "code", "AX-7", "river", "canoe", "May", "rule:", "always", "decided", "yes")

message_specs = st.lists(st.tuples(
    st.sampled_from(("user", "assistant")),
    st.integers(0, 40),  # words: 0 is an empty message
    st.booleans(),  # pinned
    st.booleans(),  # excluded
    st.sampled_from(("complete", "complete", "complete", "error", "interrupted")),
), min_size=0, max_size=60)


FACTS = ("My name is Ana Silva.", "The budget is 400 euros.", "We decided to take the tent.",
         "The booking code is AX-7731.", "Always answer in Portuguese.",
         "I prefer trains to planes.", "We leave on 12 May 2026.")


def _text(k: int, words: int) -> str:
    """A message with a fact in it (for the folding to find), or empty (0 words)."""
    if not words:
        return ""
    return FACTS[k % len(FACTS)] + " " + " ".join(
        WORDS[(k * 7 + j * 3) % len(WORDS)] for j in range(words))


def _store(tmp: Path, specs, strategy: str, extra: dict) -> tuple:
    db = open_database(tmp)
    session = db.sessions.create(Session(title="t", model="gpt-4o-mini", strategy=strategy,
                                         system_prompt="Be brief."))
    stored = db.messages.append_many(session.id, [
        Message(role, _text(k, words), status=status, pinned=pinned and k % 3 == 0,
                excluded=excluded and k % 2 == 0)
        for k, (role, words, pinned, excluded, status) in enumerate(specs)])
    ids = [m.id for m in stored]
    if ids and extra.get("summary_at") is not None:
        last = ids[extra["summary_at"] % len(ids)]
        db.summaries.add(Summary(text="Ana has a budget of 400 euros.", session_id=session.id,
                                 first_message_id=ids[0], last_message_id=last))
    changes: dict = {}
    if extra.get("last_n") is not None:
        changes["last_n"] = extra["last_n"]
    if extra.get("stable"):
        changes["stable_prefix"] = True
        if ids:
            changes[HISTORY_FROM] = ids[len(ids) // 2]
    if ids and extra.get("through_at") is not None:
        changes[MEMORY_THROUGH] = ids[extra["through_at"] % len(ids)]
    if changes:
        db.sessions.set_strategy_settings(session.id, changes)
    return db, db.sessions.get(session.id)


def _every_message(db, session, model, resolved, draft: str):
    """The reference: the request assembled from every message of the session."""
    messages = visible(db.messages.all_for_session(session.id))
    count_missing(messages, model.encoding)
    return next_request(build_context(
        session, Selection.of(session), model=model, window=resolved,
        profiles={p.name: p for p in db.profiles.list()}, messages=messages,
        memory=db.memory.list_for_session(session.id),
        summary=db.summaries.latest(session.id), draft=draft))


def _both(db, session, window: int, draft: str):
    """(the request from every message, the preview's, its SessionWork); the turn's
    request (load_context) is checked against the preview's too. Sessions of any
    length are read only as far as needed (not at least LEAST_READ messages), so that
    these small ones are read in part as a long one is."""
    model = replace(lookup_model("gpt-4o-mini"), context_window=window, max_output=64)
    resolved = ResolvedWindow(window, WindowSource.CATALOG)
    with patch.object(reach, "LEAST_READ", 0):
        turn = next_request(load_context(db, session.id, draft,
                                         lambda _name: (model, resolved)))
        work = SessionWork(db)
        work.open(session.id, model.encoding)
        profiles = {p.name: p for p in db.profiles.list()}
        light = work.assemble(session, Selection.of(session), model, resolved, profiles,
                              draft, full=True)
    req = light.request  # the turn reads what the preview reads, and sends what it shows
    assert (turn.messages, turn.tokens, turn.message_ids, turn.states, turn.reasons,
            turn.older) == (req.messages, req.tokens, req.message_ids, req.states,
                            req.reasons, req.older)
    return _every_message(db, session, model, resolved, draft), light, work


def _same(full, light) -> None:
    req = light.request
    assert req.messages == full.messages
    assert req.tokens == full.tokens
    assert req.fits == full.fits and req.problem == full.problem
    # the messages read fare as they do in the full read; those not read (all older)
    # fare as the request says of them, unless their own state says otherwise (excluded,
    # empty or failed: left out either way)
    fate = dict(zip(full.message_ids, zip(full.states, full.reasons, strict=True),
                    strict=True))
    read = dict(zip(req.message_ids, zip(req.states, req.reasons, strict=True), strict=True))
    for mid, (state, reason) in read.items():
        assert fate[mid] == (state, reason), mid
    older = [mid for mid in full.message_ids if mid not in read]
    if req.older is None:
        assert not older
    else:
        assert req.older.messages == len(older)
        pinned = {m.id for m in light.messages if m.pinned}  # read however old
        newest = [mid for mid in read if mid not in pinned]  # none: the window is full
        assert older and (not newest or max(older) < min(newest))
        own = {"excluded by you", "empty message: not sent", "failed reply: not sent"}
        for mid in older:
            state, reason = fate[mid]
            assert state not in ("kept", "pinned", "folding"), mid
            if not any(reason.startswith(o[:12]) for o in own) and "set aside" not in reason:
                assert (state, reason) == (req.older.state, req.older.reason), mid
    assert req.component_tokens == full.component_tokens
    assert req.warnings == full.warnings
    assert req.new_summary == full.new_summary
    assert req.new_memory == full.new_memory
    assert req.history_from_id == full.history_from_id
    assert [m.id for m in req.due_for_summary] == [m.id for m in full.due_for_summary]
    assert [m.id for m in req.due_for_memory] == [m.id for m in full.due_for_memory]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=message_specs, strategy=st.sampled_from(STRATEGIES),
       window=st.integers(120, 3000), draft=st.sampled_from(("", "And the tent?")),
       summary_at=st.none() | st.integers(0, 59), through_at=st.none() | st.integers(0, 59),
       last_n=st.none() | st.integers(1, 12), stable=st.booleans())
def test_the_light_read_gives_the_request_the_full_read_gives(
        specs, strategy, window, draft, summary_at, through_at, last_n, stable):
    with tempfile.TemporaryDirectory() as tmp:
        db, session = _store(Path(tmp), specs, strategy, {
            "summary_at": summary_at, "through_at": through_at, "last_n": last_n,
            "stable": stable})
        try:
            full, light, _work = _both(db, session, window, draft)
            _same(full, light)
        finally:
            db.close()


def test_a_long_session_is_read_only_as_far_as_its_request_reaches(tmp_path):
    specs = [("user" if k % 2 == 0 else "assistant", 30, k == 3, False, "complete")
             for k in range(400)]
    db, session = _store(tmp_path, specs, "last_n", {"last_n": 5})
    try:
        full, light, work = _both(db, session, 2_000, "")
        _same(full, light)
        # read back only as far as the window reaches, and the pinned one
        assert len(light.messages) < 80 and light.request.older is not None
        assert light.request.older.messages == 400 - len(light.messages)
        sent = set(light.request.row_index().history)
        assert not any(light.messages[i].content is NOT_READ for i in sent)
        assert light.messages[0].content == _text(3, 30)  # the pinned one is sent
    finally:
        db.close()


def test_the_inspector_shows_the_older_messages_in_one_row(qtbot, tmp_path):
    specs = [("user" if k % 2 == 0 else "assistant", 25, False, k == 8, "complete")
             for k in range(200)]
    db, session = _store(tmp_path, specs, "token_window", {})
    try:
        full, light, work = _both(db, session, 500, "")
        inspector = ContextInspector()
        qtbot.addWidget(inspector)
        inspector.read_texts = lambda messages, then: (work.read_texts(messages), then())
        inspector.set_request(light.request, light.messages, light.encoding)
        inspector.set_counting(Counting())
        left = inspector.left_out_model
        older = light.request.older
        assert older is not None and older.messages > 150
        index = light.request.row_index()
        assert left.rowCount() == 1 + len(index.left_out)
        first = left.row(0)
        assert first.text.startswith(f"{older.messages:,} older messages")
        assert (first.state, first.reason) == (older.state, older.reason) == (
            "dropped", "outside the history budget (150 tokens)")
        # the older messages' tokens: the session's counted total less those read
        total = sum(db.messages.get(mid).token_counts["o200k_base"]
                    for mid in full.message_ids)
        read = sum(m.token_counts["o200k_base"] for m in light.messages)
        assert first.tokens == older.tokens == total - read
        # a left-out message read shows its text and its place in the session
        row = left.row(1)
        m = light.messages[index.left_out[0]]
        assert row.text == db.messages.get(m.id).content
        assert row.ordinal == m.position + 1 > 150
        # a card scrolled back to, older than those read, says what the request says
        oldest = db.messages.page(session.id, None, 1_000)[0]
        assert light.inclusion.get(oldest.id) == (older.state, older.reason)
        assert light.inclusion.get(10**9) is None  # not a message of this session
        # unless the message itself says otherwise: the one excluded by the user
        excluded = db.messages.page(session.id, None, 1_000)[8]
        assert excluded.excluded and excluded.id not in {m.id for m in light.messages}
        assert light.inclusion.of_message(excluded) == ("dropped", "excluded by you")
        assert light.inclusion.of_message(oldest) == (older.state, older.reason)
        assert inspector._left_out_title.text().startswith(
            f"Left out · {older.messages + len(index.left_out):,} ")
    finally:
        db.close()


def test_switching_strategy_reads_again_what_the_new_one_needs(tmp_path):
    """A read for a summarizing strategy stops at the summary; switching to one that does
    not summarize reads back again as far as the window reaches."""
    specs = [("user" if k % 2 == 0 else "assistant", 30, False, False, "complete")
             for k in range(300)]
    db, session = _store(tmp_path, specs, "rolling_summary", {"summary_at": 290})
    try:
        model = replace(lookup_model("gpt-4o-mini"), context_window=3_000, max_output=64)
        resolved = ResolvedWindow(3_000, WindowSource.CATALOG)
        profiles = {p.name: p for p in db.profiles.list()}
        with patch.object(reach, "LEAST_READ", 0):
            work = SessionWork(db)
            work.open(session.id, model.encoding)
            first = work.assemble(session, Selection.of(session), model, resolved, profiles,
                                  "", full=True)
            assert len(first.messages) < 20  # back to the summary only
            switched = replace(session, strategy="token_window")
            light = work.assemble(switched, Selection.of(switched), model, resolved,
                                  profiles, "", full=True)
        full = _every_message(db, switched, model, resolved, "")
        _same(full, light)
        assert len(light.messages) > 40  # the window's worth, not the summary's
    finally:
        db.close()


def test_pinning_a_message_older_than_those_read_sends_it(tmp_path):
    specs = [("user" if k % 2 == 0 else "assistant", 30, False, False, "complete")
             for k in range(300)]
    db, session = _store(tmp_path, specs, "token_window", {})
    try:
        model = replace(lookup_model("gpt-4o-mini"), context_window=3_000, max_output=64)
        resolved = ResolvedWindow(3_000, WindowSource.CATALOG)
        profiles = {p.name: p for p in db.profiles.list()}
        with patch.object(reach, "LEAST_READ", 0):
            work = SessionWork(db)
            work.open(session.id, model.encoding)
            before = work.assemble(session, Selection.of(session), model, resolved,
                                   profiles, "", full=True)
            oldest = db.messages.page(session.id, None, 1_000)[0]
            assert oldest.id not in {m.id for m in before.messages}
            db.messages.set_pinned(oldest.id, True)
            work.replace_message(db.messages.get(oldest.id))  # as the window does
            after = work.assemble(session, Selection.of(session), model, resolved,
                                  profiles, "", full=True)
        assert after.request.messages[1]["content"] == oldest.content  # sent, first
        assert after.request.older.messages == before.request.older.messages - 1
        _same(_every_message(db, session, model, resolved, ""), after)
    finally:
        db.close()


def test_compact_now_folds_the_whole_history_not_only_what_was_read(tmp_path):
    from desktop_app.services.compaction import compact_now

    specs = [("user" if k % 2 == 0 else "assistant", 30, False, False, "complete")
             for k in range(300)]
    db, session = _store(tmp_path, specs, "token_window", {})
    try:
        model = replace(lookup_model("gpt-4o-mini"), context_window=3_000, max_output=64)
        resolved = ResolvedWindow(3_000, WindowSource.CATALOG)
        with patch.object(reach, "LEAST_READ", 0):
            done = compact_now(db, session.id, lambda _name: (model, resolved), keep=4)
        stored = db.messages.all_for_session(session.id)
        assert done.summary is not None
        assert (done.summary.first_message_id, done.summary.last_message_id) == (
            stored[0].id, stored[-5].id)
        assert len(done.folded) == 296
    finally:
        db.close()
