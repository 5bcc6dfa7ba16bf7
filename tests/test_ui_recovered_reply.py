"""A reply that could not be written when it arrived (a lock never released, a full
disk) waits in a recovery file; the next start of the window puts it back in its session
and says so. Real window, real SQLite."""

from __future__ import annotations

from desktop_app.core.records import Message
from desktop_app.store import open_database, recovery
from tests.ui_support import open_window, seed_session, wait_idle


def test_the_window_restores_a_saved_reply_and_says_so(qtbot, data_dir):
    sid = seed_session(data_dir, "Trip", [("user", "Plan three days in Lisbon.")])
    db = open_database(data_dir)
    try:
        path = db.path
        reply = db.messages.append(sid, Message("assistant", "Day one: Alfama", status="streaming"))
    finally:
        db.close()
    full = "Day one: Alfama and the castle. Day two: Belém. Day three: Sintra."
    recovery.save_reply(path, {"session_id": sid, "message_id": reply.id, "content": full,
                               "status": "complete"})
    window = open_window(qtbot, data_dir)
    wait_idle(qtbot, window)
    shown = [m.content for m in window.conversation.conversation.messages]
    assert full in shown  # the whole reply is back in the conversation
    assert window.notice.isVisible() and "reply" in window.notice.text().lower()
    assert not list(recovery.pending(path))  # and the file is gone
    window.close()
