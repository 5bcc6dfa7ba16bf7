"""The preview reads a long session without the texts it cannot send: the light read
gives the request the full read gives (messages sent, states, reasons, tokens, folding),
reads only the texts it may need, and the inspector shows a left-out message's text."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QTimer

from desktop_app.core.catalog import lookup_model
from desktop_app.core.counting import Counting
from desktop_app.core.history import STRATEGIES
from desktop_app.core.records import NOT_READ, Message, Session, Summary
from desktop_app.services.preview import SessionWork
from desktop_app.services.request import (
    HISTORY_FROM,
    MEMORY_THROUGH,
    Selection,
    load_context,
    next_request,
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


def _both(db, session, window: int, draft: str):
    model = replace(lookup_model("gpt-4o-mini"), context_window=window, max_output=64)
    resolved = ResolvedWindow(window, WindowSource.CATALOG)
    full = next_request(load_context(db, session.id, draft, lambda _name: (model, resolved)))
    work = SessionWork(db)
    work.open(session.id, model.encoding)
    profiles = {p.name: p for p in db.profiles.list()}
    light = work.assemble(session, Selection.of(session), model, resolved, profiles, draft,
                          full=True)
    return full, light, work


def _same(full, light) -> None:
    req = light.request
    assert req.messages == full.messages
    assert req.tokens == full.tokens
    assert req.fits == full.fits and req.problem == full.problem
    assert req.states == full.states
    assert req.reasons == full.reasons
    assert req.message_ids == full.message_ids
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


def test_a_long_session_is_read_without_the_texts_it_cannot_send(tmp_path):
    specs = [("user" if k % 2 == 0 else "assistant", 30, k == 3, False, "complete")
             for k in range(400)]
    db, session = _store(tmp_path, specs, "token_window", {})
    try:
        full, light, work = _both(db, session, 600, "")
        _same(full, light)
        unread = [m for m in light.messages if m.content is NOT_READ]
        sent = set(light.request.row_index().history)
        assert len(unread) > 300  # most texts were never read
        assert not any(light.messages[i].content is NOT_READ for i in sent)
        assert light.messages[3].content == _text(3, 30)  # the pinned one is sent
        # the texts read later are the stored texts
        work.read_texts(unread[:5])
        assert [m.content for m in unread[:5]] == [db.messages.get(m.id).content
                                                   for m in unread[:5]]
    finally:
        db.close()


def test_the_inspector_shows_a_left_out_message_text(qtbot, tmp_path):
    specs = [("user" if k % 2 == 0 else "assistant", 25, False, False, "complete")
             for k in range(200)]
    db, session = _store(tmp_path, specs, "token_window", {})
    try:
        _full, light, work = _both(db, session, 500, "")
        inspector = ContextInspector()
        qtbot.addWidget(inspector)
        asked: list[int] = []

        def read_later(messages, then):  # as the controller does: later, then call back
            asked.append(len(messages))
            QTimer.singleShot(0, lambda: (work.read_texts(messages), then()))

        inspector.read_texts = read_later
        inspector.set_request(light.request, light.messages, light.encoding)
        inspector.set_counting(Counting())
        left = inspector.left_out_model
        assert left.rowCount() > 100
        first = light.request.row_index().left_out[0]
        assert light.messages[first].content is NOT_READ
        assert left.row(0).text == NOT_READ  # "…" while its text is read off the GUI thread
        qtbot.waitUntil(lambda: left.row(0).text != NOT_READ, timeout=5_000)
        row = left.row(0)
        assert row.text == db.messages.get(light.messages[first].id).content
        assert row.text == _text(first, 25)
        assert asked == [64]  # one block of rows read at once, asked for once
    finally:
        db.close()
