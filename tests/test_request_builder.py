"""The one request builder's offline folding: remembered results are the results a fresh
summarizer and extractor give, and an edited message is folded again. The preview
counts stored messages once, and never a reply still streaming."""

from __future__ import annotations

from desktop_app.core.budget import BUILTIN_PROFILES
from desktop_app.core.catalog import lookup_model
from desktop_app.core.history import ExtractiveSummarizer, OfflineFactExtractor
from desktop_app.core.records import Message, Session
from desktop_app.core.tokens import count_text
from desktop_app.services.preview import SessionWork
from desktop_app.services.request import OfflineFolding, Selection
from desktop_app.services.windows import ResolvedWindow, WindowSource
from desktop_app.store import open_database


def messages(text: str = "We chose the blue tent.") -> list[Message]:
    return [Message("user", f"My name is Ana. {text} Budget is 400 euros.", id=1),
            Message("assistant", "Noted: the blue tent, and Lisbon on Friday.", id=2)]


def test_remembered_folds_equal_fresh_ones_and_follow_edits():
    folding = OfflineFolding()
    first = folding.summarize("", messages(), 200, "o200k_base")
    assert first == ExtractiveSummarizer().summarize("", messages(), 200, "o200k_base")
    assert folding.summarize("", messages(), 200, "o200k_base") == first
    facts = folding.extract(messages(), {})
    assert facts == OfflineFactExtractor().extract(messages(), {})
    facts["name"] = "changed by a caller"  # a caller's copy, not the remembered result
    assert folding.extract(messages(), {}) == OfflineFactExtractor().extract(messages(), {})

    edited = messages("We chose the red canoe instead, for the river.")
    assert folding.summarize("", edited, 200, "o200k_base") == ExtractiveSummarizer().summarize(
        "", edited, 200, "o200k_base")
    assert folding.summarize("", edited, 200, "o200k_base") != first


def test_the_preview_never_counts_a_reply_still_streaming(tmp_path):
    db = open_database(tmp_path)
    try:
        session = db.sessions.create(Session(title="t", model="gpt-4o-mini"))
        question = db.messages.append(session.id, Message("user", "Where to in May?"))
        writer = db.messages.begin_stream(session.id)
        writer.append("Lisbon is")
        writer.flush()  # the text so far is stored, as it is while a reply streams
        model = lookup_model("gpt-4o-mini")
        work = SessionWork(db)
        work.open(session.id, model.encoding)
        work.assemble(session, Selection.of(session), model,
                      ResolvedWindow(model.context_window, WindowSource.CATALOG),
                      BUILTIN_PROFILES, "", full=True)
        assert db.messages.get(question.id).token_counts == {
            model.encoding: count_text(question.content, model.encoding)}
        assert db.messages.get(writer.message_id).token_counts == {}  # not its final text
    finally:
        db.close()
