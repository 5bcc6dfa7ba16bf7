"""The window keeps one copy of the open session, the stored one: what a turn writes
into it survives later edits; and the window a server really serves reaches the gauge,
the inspector, the turn and the summarizer alike, saying where it came from. The real
window, real SQLite, the loopback OpenAI-compatible server."""

from __future__ import annotations

from desktop_app.core.catalog import lookup_model
from desktop_app.core.tokens import count_chat
from desktop_app.services.request import MEMORY_THROUGH
from desktop_app.services.windows import SERVED_WINDOWS_SETTING, WindowSource
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_controller_turn import add_provider, send
from tests.ui_support import conversation, open_window, seed_session, wait_idle


def stored_session(data_dir, session_id):
    db = open_database(data_dir)
    try:
        return db.sessions.get(session_id)
    finally:
        db.close()


def test_a_turn_that_advances_memory_survives_rename_model_and_last_n(qtbot, data_dir,
                                                                       openai_server):
    sid = seed_session(data_dir, "Facts", conversation(40, words=150), model="gpt-4",
                       strategy="kv_memory")
    add_provider(data_dir, openai_server, ["gpt-4", "gpt-4o"])
    window = open_window(qtbot, data_dir)
    controller = window.controller
    openai_server.script(Reply(text="Noted."))
    send(qtbot, window, "My name is Ana and our budget is 4,500 euros.")
    qtbot.waitUntil(lambda: controller.turns.streaming, timeout=5_000)
    wait_idle(qtbot, window, timeout=30_000)
    through = stored_session(data_dir, sid).strategy_settings.get(MEMORY_THROUGH)
    assert isinstance(through, int)  # facts were taken from the evicted messages
    assert controller.session.strategy_settings.get(MEMORY_THROUGH) == through

    controller.sessions.rename(sid, "Renamed")
    wait_idle(qtbot, window)
    i = window.model_picker.findData("gpt-4o")
    window.model_picker.setCurrentIndex(i)
    window.model_picker.activated.emit(i)
    wait_idle(qtbot, window)
    controller.budget.set_option("elastic", True)
    wait_idle(qtbot, window)

    stored = stored_session(data_dir, sid)
    assert (stored.title, stored.model) == ("Renamed", "gpt-4o")
    # what the fold measured and the last request sent are kept beside them
    remembered = {"retention", "history_from_id", "last_sent"}
    settings = {k: v for k, v in stored.strategy_settings.items() if k not in remembered}
    assert settings == {MEMORY_THROUGH: through, "elastic": True}
    assert controller.session.strategy_settings == stored.strategy_settings
    assert window.windowTitle().startswith("Renamed")


def test_the_served_window_is_used_everywhere_and_says_where_it_came_from(qtbot, data_dir,
                                                                          openai_server):
    served = 4096
    openai_server.llamacpp_props = {"default_generation_settings": {"n_ctx": served}}
    sid = seed_session(data_dir, "Local", conversation(60, words=80), model="llama3.1",
                       strategy="rolling_summary")
    add_provider(data_dir, openai_server, ["llama3.1"], preset="llamacpp")
    assert lookup_model("llama3.1").context_window > served  # the catalog promises more
    window = open_window(qtbot, data_dir)
    controller = window.controller
    qtbot.waitUntil(lambda: controller.budget.assembly is not None
                    and controller.budget.assembly.window.tokens == served, timeout=10_000)
    wait_idle(qtbot, window)

    shown = controller.budget.assembly
    assert shown.window.source is WindowSource.SERVER and shown.window.provider == "local"
    assert "as local serves it" in shown.window.describe()
    assert window.gauge.report().window == served  # the gauge, which says whose it is
    assert window.gauge.subtitle_text().endswith("· served by local")
    assert window.gauge.window_text() == "Window: 4,096 tokens, as local serves it"
    assert shown.request.report.window == served  # the inspector's request
    preview_max_tokens = shown.request.max_tokens

    before = len(openai_server.chat_requests())
    send(qtbot, window, "What did we talk about?")
    qtbot.waitUntil(lambda: controller.turns.streaming, timeout=5_000)
    wait_idle(qtbot, window, timeout=30_000)
    requests = openai_server.chat_requests()[before:]
    turn = requests[0].body
    assert turn["max_tokens"] == preview_max_tokens  # the turn budgeted the same window
    # the turn, and the summarizer's own requests after it, fit what the server serves
    for r in requests:
        prompt = count_chat(r.body["messages"], "llama3.1").tokens
        assert prompt + r.body.get("max_tokens", 0) <= served, r.body.get("max_tokens")
    assert len(requests) > 1  # the summary was brought up to date through the model

    db = open_database(data_dir)
    try:  # learned once, kept for the next start
        assert db.settings.get(SERVED_WINDOWS_SETTING)["local"]["llama3.1"] == served
        assert db.summaries.latest(sid) is not None
    finally:
        db.close()
