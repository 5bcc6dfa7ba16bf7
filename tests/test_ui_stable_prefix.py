"""The window's side of a stable prefix: the option is on for a local model until the
session says otherwise, and after a turn the inspector and the gauge say how much of the
next request repeats the one sent. The real window, real SQLite, the loopback server."""

from __future__ import annotations

from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_controller_turn import add_provider, send
from tests.ui_support import conversation, open_window, seed_session, wait_idle


def test_the_option_and_the_prefix_kept_are_shown_and_stored(qtbot, data_dir, openai_server):
    sid = seed_session(data_dir, "Local", conversation(30, words=40), model="llama3.1:8b",
                       strategy="hybrid")
    add_provider(data_dir, openai_server, ["llama3.1:8b"], preset="llamacpp")
    window = open_window(qtbot, data_dir)
    wait_idle(qtbot, window)
    check = window.right.stable_check
    assert not check.isHidden() and check.isChecked()  # a local model: on by default
    assert window.right.inspector.prefix_text() == ""  # nothing sent yet to compare with

    openai_server.script(Reply(text="Noted."), Reply(text="[]"), Reply(text="Summary."))
    send(qtbot, window, "Short question about the plan.")
    wait_idle(qtbot, window, timeout=30_000)
    inspector = window.right.inspector
    qtbot.waitUntil(lambda: inspector.prefix_text().startswith("Prefix kept:"), timeout=10_000)
    assert "as in the last request sent" in inspector.prefix_text()
    assert "prefix kept" in window.gauge.cost_text()

    db = open_database(data_dir)
    try:
        settings = db.sessions.get(sid).strategy_settings
    finally:
        db.close()
    assert isinstance(settings["history_from_id"], int) and settings["last_sent"]["n"] > 0

    check.click()  # the session's own choice, kept with it
    wait_idle(qtbot, window)
    db = open_database(data_dir)
    try:
        assert db.sessions.get(sid).strategy_settings["stable_prefix"] is False
    finally:
        db.close()
    i = window.strategy_picker.findData("last_n")
    window.strategy_picker.setCurrentIndex(i)
    window.strategy_picker.activated.emit(i)
    wait_idle(qtbot, window)
    assert check.isHidden()  # only the sliding strategies keep a prefix
