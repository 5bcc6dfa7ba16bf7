"""Compact now: the older history folded into the rolling summary on request, with an
optional focus, from the Summary tab (the real window, a real SQLite file) and from
`token-budget compact`; offline, and through the model (the loopback server). The
gauge's History row shrinks and its Summary row grows; the Summary tab shows what the
summary replaced; the command line prints what it folded."""

from __future__ import annotations

from desktop_app.cli import main
from desktop_app.core.assemble import SUMMARY_HEADER
from desktop_app.core.catalog import lookup_model
from desktop_app.core.records import Message, Session
from desktop_app.core.tokens import chat_framing, count_text
from desktop_app.llm.summarizer import FOCUS_LEAD
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_controller_turn import add_provider
from tests.ui_support import conversation, open_window, wait_idle

MODEL = "gpt-4o-mini"
ENC = lookup_model(MODEL).encoding
FRAMING = chat_framing(lookup_model(MODEL))
DECISION = "We decided the budget stays at 4,000 euros."
FOCUS = "keep every decision about the budget"


def planning() -> list[Message]:
    """Twenty messages; one of the older ones holds a decision about the budget."""
    messages = conversation(20)
    messages[5] = Message("assistant", f"{messages[5].content} {DECISION}")
    return messages


def seed(data_dir, strategy: str = "token_window") -> tuple[int, list[Message]]:
    with open_database(data_dir) as db:
        session = db.sessions.create(Session(title="Planning", model=MODEL, strategy=strategy))
        return int(session.id), db.messages.append_many(session.id, planning())


def summary_figure(text: str) -> int:
    return FRAMING.head("system", ENC) + count_text(SUMMARY_HEADER + text, ENC)


def used(window, component: str) -> int:
    return window.gauge.report().components[component].used


def compact_in_window(qtbot, window, focus: str) -> None:
    panel = window.summary_panel
    window.tabs.setCurrentWidget(panel)
    panel.compact_focus.setFocus()
    qtbot.keyClicks(panel.compact_focus, focus)
    panel.compact_button.click()
    assert not panel.compact_button.isEnabled()  # until it is done
    wait_idle(qtbot, window)
    assert panel.compact_button.isEnabled()


def test_compact_now_in_the_window_shrinks_history_and_grows_the_summary(qtbot, data_dir):
    sid, messages = seed(data_dir)
    window = open_window(qtbot, data_dir)
    panel = window.summary_panel
    history_before = used(window, "history")
    request_before = window.gauge.report().request_tokens
    assert used(window, "summary") == 0 and panel.summary() is None
    assert len(window.inspector.left_out_rows()) == 0  # every message is sent

    compact_in_window(qtbot, window, FOCUS)

    # the gauge: history down to the four newest messages, the summary in its place
    history_after, summary_after = used(window, "history"), used(window, "summary")
    newest = sum(FRAMING.head(m.role, ENC) + count_text(m.content, ENC) for m in messages[-4:])
    assert history_after == newest < history_before
    summary = panel.summary()
    assert summary is not None and summary.method == "extractive"
    assert summary_after == summary_figure(summary.text) > 0
    assert DECISION in summary.text  # the focus kept it
    # the inspector: what was folded is replaced by the summary, the newest are kept
    left_out = window.inspector.left_out_rows()
    assert [i for i, _s, _r in left_out] == list(range(16))
    assert {s for _i, s, _r in left_out} == {"summarized"}
    assert [c for c, _r, _n, _t in window.inspector.sent_rows()] == ["summary"] + ["history"] * 4
    # the Summary tab: what it replaced, and what compacting freed
    assert panel.token_text().startswith(f"{summary_after} in the request, in place of ")
    status = panel.compact_status.text()
    assert status.startswith("Compacted 16 messages into the summary (offline, extractive): "
                             f"history {history_before:,} → {history_after:,} tokens, "
                             f"summary 0 → {summary_after:,}")
    freed = request_before - window.gauge.report().request_tokens
    assert freed > 0 and f"; {freed:,} tokens freed in the next request." in status
    assert panel.compact_focus.text() == ""
    # the strategy now sends the summary, and says so in the picker and the store
    assert window.strategy_picker.currentData() == "rolling_summary"
    with open_database(data_dir) as db:
        stored = db.summaries.latest(sid)
        assert (stored.first_message_id, stored.last_message_id) == (messages[0].id,
                                                                     messages[15].id)
        assert db.sessions.get(sid).strategy == "rolling_summary"

    # again: nothing older than the newest four is left to fold
    compact_in_window(qtbot, window, "")
    assert panel.compact_status.text().startswith("Nothing to compact")
    assert used(window, "history") == history_after
    window.close()


def test_compact_now_asks_the_model_when_one_is_set_up(qtbot, data_dir, openai_server):
    sid, _messages = seed(data_dir, strategy="rolling_summary")
    add_provider(data_dir, openai_server)
    written = "The user set the budget at 4,000 euros and planned the rest of the trip."
    openai_server.script(Reply(text=written))
    window = open_window(qtbot, data_dir)
    compact_in_window(qtbot, window, "the budget")

    summary = window.summary_panel.summary()
    # what the model wrote, then any facts of the messages it left out ("Also: ...")
    assert summary is not None and summary.method == "model"
    assert summary.text.startswith(written)
    assert used(window, "summary") == summary_figure(summary.text)
    prompt = openai_server.chat_requests()[-1].body["messages"][0]["content"]
    assert prompt.startswith(f"{FOCUS_LEAD}the budget\n\n")
    assert "Message 0:" in prompt and "Message 16:" not in prompt  # the newest stay
    assert window.summary_panel.compact_status.text().startswith(
        f"Compacted 16 messages into the summary (by {MODEL})")
    window.close()


def test_compact_from_the_command_line_prints_what_it_folded(tmp_path, capsys):
    sid, messages = seed(tmp_path)
    args = ["--data-dir", str(tmp_path), "compact", "--session", str(sid)]
    assert main([*args, "--focus", FOCUS, "--offline"]) == 0
    out = capsys.readouterr().out
    assert "Compacted 16 messages into the summary (offline, extractive)" in out
    assert f"folded: 16 messages (ids {messages[0].id}–{messages[15].id})" in out
    assert f"focus: {FOCUS}" in out
    with open_database(tmp_path) as db:
        stored = db.summaries.latest(sid)
        assert DECISION in stored.text
        assert stored.last_message_id == messages[15].id
    history = next(line for line in out.splitlines() if line.startswith("history: "))
    before, after = (int(x.replace(",", "")) for x in
                     history.removeprefix("history: ").removesuffix(" tokens").split(" → "))
    assert after < before

    assert main([*args, "--offline"]) == 0
    assert capsys.readouterr().out.startswith("Nothing to compact")

    assert main(["--data-dir", str(tmp_path), "compact", "--session", "99"]) == 2
    assert capsys.readouterr().err.strip() == "token-budget: there is no session 99"


def test_compact_from_the_command_line_through_a_model(tmp_path, capsys, openai_server):
    sid, _messages = seed(tmp_path)
    written = "The budget is 4,000 euros."
    openai_server.script(Reply(text=written))
    assert main(["--data-dir", str(tmp_path), "compact", "--session", str(sid), "--focus",
                 "the budget", "--base-url", openai_server.base_url]) == 0
    out = capsys.readouterr().out
    assert f"written the model ({MODEL})" in out
    prompt = openai_server.chat_requests()[-1].body["messages"][0]["content"]
    assert prompt.startswith(f"{FOCUS_LEAD}the budget\n\n")
    with open_database(tmp_path) as db:
        stored = db.summaries.latest(sid)
        assert (stored.method, stored.model) == ("model", MODEL)
        assert stored.text.startswith(written)  # then the facts it left out, if any
