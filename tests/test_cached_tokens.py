"""Cached prompt tokens (issue 14): the server's usage.prompt_tokens_details.cached_tokens
(or llama.cpp's timings.cache_n) is stored with the turn's usage, priced at the
cache-read price, shown in the Usage tab and carried by the export. Real SQLite, the real
openai SDK, and a loopback server that keeps a prefix cache the way llama.cpp does."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPointF

from desktop_app.cli import main
from desktop_app.core.app_records import TurnUsage
from desktop_app.core.catalog import lookup_model
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import Message, Session
from desktop_app.llm.client import ChatClient, RetryPolicy
from desktop_app.services.turn import Outcome, run_turn
from desktop_app.services.windows import resolve_window
from desktop_app.store import open_database
from desktop_app.store.transfer import export_document, import_file
from desktop_app.ui.usage_chart import UsageChart
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.ui_support import open_window, seed_session, wait_idle

MODEL = "gpt-4o"  # has a cache-read price in the shipped catalog
SYSTEM = "You are a careful travel planner. " * 40  # a long prefix worth caching


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "data")
    yield database
    database.close()


def client_for(server) -> ChatClient:
    return ChatClient(ProviderConfig(name="test", preset="custom", base_url=server.base_url),
                      retry=RetryPolicy(max_retries=1, base_delay=0.01))


def resolve(name: str):
    info = lookup_model(name)
    resolved = resolve_window(info.context_window, None, None, "test")
    return info.with_context_window(resolved.tokens), resolved


def expected_cost(prompt: int, cached: int, completion: int) -> float:
    m = lookup_model(MODEL)
    assert m.cached_input_per_million is not None
    assert m.cached_input_per_million < m.input_per_million
    return ((prompt - cached) * m.input_per_million + cached * m.cached_input_per_million
            + completion * m.output_per_million) / 1_000_000


def two_turns(db, server):
    session = db.sessions.create(Session(title="t", model=MODEL, system_prompt=SYSTEM))
    client = client_for(server)
    try:
        first = run_turn(db, client, session.id, "Plan a day in Lisbon.", resolve)
        second = run_turn(db, client, session.id, "And one in Porto?", resolve)
    finally:
        client.close()
    assert first.outcome is Outcome.COMPLETED and second.outcome is Outcome.COMPLETED
    return session, first, second


def test_the_loopback_cache_reports_the_shared_prefix(openai_server):
    openai_server.prefix_cache = True
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Hi"}]
    second = [*first, {"role": "assistant", "content": "Hello."},
              {"role": "user", "content": "Bye"}]
    client = client_for(openai_server)
    try:
        a = client.stream_chat(first, MODEL)
        b = client.stream_chat(second, MODEL)
        c = client.stream_chat([{"role": "user", "content": "Unrelated"}], MODEL)
    finally:
        client.close()
    assert a.cached_prompt_tokens == 0  # nothing in the cache yet
    assert b.cached_prompt_tokens is not None and 250 < b.cached_prompt_tokens < b.prompt_tokens
    assert c.cached_prompt_tokens == 0  # another start: the cache is read from nothing
    reported = [u["prompt_tokens_details"]["cached_tokens"] for u in openai_server.usages]
    assert reported == [a.cached_prompt_tokens, b.cached_prompt_tokens, c.cached_prompt_tokens]


@pytest.mark.parametrize("report", ["timings", "both"])
def test_llama_cpp_timings_cache_n_is_read_too(openai_server, report):
    """Older llama.cpp says it only in timings.cache_n; with both, usage wins."""
    openai_server.cache_report = report
    openai_server.script(Reply(text="ok", cached_tokens=7))
    client = client_for(openai_server)
    try:
        result = client.stream_chat([{"role": "user", "content": "x " * 50}], MODEL)
    finally:
        client.close()
    assert result.cached_prompt_tokens == 7


def test_a_cached_figure_above_the_prompt_is_held_to_the_prompt(openai_server):
    openai_server.script(Reply(text="ok", prompt_tokens=20, cached_tokens=500))
    client = client_for(openai_server)
    try:
        result = client.stream_chat([{"role": "user", "content": "hello"}], MODEL)
    finally:
        client.close()
    assert (result.prompt_tokens, result.cached_prompt_tokens) == (20, 20)


def test_a_turn_stores_cached_tokens_and_prices_them_at_the_cache_read_price(db, openai_server):
    openai_server.prefix_cache = True
    session, first, second = two_turns(db, openai_server)
    usage = db.usage.list_for_session(session.id)
    served = [u["prompt_tokens_details"]["cached_tokens"] for u in openai_server.usages]
    assert [u.cached_prompt_tokens for u in usage] == served
    assert usage[0].cached_prompt_tokens == 0 and usage[1].cached_prompt_tokens > 250
    assert second.cached_prompt_tokens == usage[1].cached_prompt_tokens

    replies = [m for m in db.messages.all_for_session(session.id) if m.role == "assistant"]
    for turn, reply in zip(usage, replies, strict=True):
        want = expected_cost(reply.prompt_tokens, turn.cached_prompt_tokens,
                             reply.completion_tokens)
        assert reply.cost == pytest.approx(want, rel=1e-12)  # the turn's (message's) cost
        assert turn.cost == pytest.approx(want, rel=1e-12)  # the usage row's
    full = lookup_model(MODEL).cost(replies[1].prompt_tokens, replies[1].completion_tokens)
    assert replies[1].cost < full  # the cache made the second turn cheaper
    # the session's cost is the sum of its turns' cache-aware costs
    assert sum(m.cost for m in replies) == pytest.approx(sum(u.cost for u in usage))


def test_a_server_that_does_not_say_stores_none_and_prices_at_the_input_price(db,
                                                                             openai_server):
    session, *_ = two_turns(db, openai_server)  # prefix_cache off: no details in usage
    assert all("prompt_tokens_details" not in u for u in openai_server.usages)
    usage = db.usage.list_for_session(session.id)
    assert [u.cached_prompt_tokens for u in usage] == [None, None]
    replies = [m for m in db.messages.all_for_session(session.id) if m.role == "assistant"]
    for reply in replies:
        assert reply.cost == pytest.approx(
            expected_cost(reply.prompt_tokens, 0, reply.completion_tokens), rel=1e-12)


def test_the_chat_command_says_how_many_prompt_tokens_were_cached(tmp_path, openai_server,
                                                                  capsys):
    openai_server.script(Reply(text="First."), Reply(text="Second.", cached_tokens=9))
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "chat", "--base-url", openai_server.base_url,
                 "--model", MODEL, "Hello there"]) == 0
    _, err = capsys.readouterr()
    assert "cached" not in err.split("usage:")[1]  # the server did not say
    session_id = int(err.split("session ")[1].split()[0])
    assert main(["--data-dir", data, "chat", "--session", str(session_id), "--base-url",
                 openai_server.base_url, "Again"]) == 0
    _, err = capsys.readouterr()
    assert "(9 of them cached)" in err.split("usage:")[1]


# --- export and import --------------------------------------------------------------


def _session_with_usage(db, cached):
    session = db.sessions.create(Session(title="t", model=MODEL))
    db.messages.append(session.id, Message("user", "hi"))
    reply = db.messages.append(session.id, Message("assistant", "hello", prompt_tokens=120,
                                                   completion_tokens=5, cost=0.0004))
    db.usage.record(session.id, TurnUsage(
        components={"current_input": 100}, prompt_tokens=100, reported_prompt_tokens=120,
        reported_completion_tokens=5, cached_prompt_tokens=cached, cost=0.0004, model=MODEL,
        reply_message_id=reply.id))
    return session


@pytest.mark.parametrize("cached", [96, 0, None])
def test_export_then_import_keeps_cached_tokens(db, tmp_path, cached):
    _session_with_usage(db, cached)
    doc = export_document(db)
    assert doc["sessions"][0]["usage"][0]["cached_prompt_tokens"] == cached
    path = tmp_path / "out.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with open_database(tmp_path / "fresh") as fresh:
        result = import_file(fresh, path)
        [usage] = fresh.usage.list_for_session(result.session_ids[0])
        assert usage.cached_prompt_tokens == cached
        assert result.notes == []
        again = export_document(fresh)
    assert again["sessions"][0]["usage"] == doc["sessions"][0]["usage"]


@pytest.mark.parametrize("value, reported", [(-1, 120), (121, 120), (5, None)])
def test_an_impossible_cached_figure_is_dropped_and_said(db, tmp_path, value, reported):
    _session_with_usage(db, 96)
    doc = export_document(db)
    entry = doc["sessions"][0]["usage"][0]
    entry["cached_prompt_tokens"] = value
    entry["reported_prompt_tokens"] = reported
    if reported is None:
        entry["prompt_tokens"] = None  # no prompt figure at all: nothing to check against
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with open_database(tmp_path / "fresh") as fresh:
        result = import_file(fresh, path)
        [usage] = fresh.usage.list_for_session(result.session_ids[0])
    assert usage.cached_prompt_tokens is None
    [note] = result.notes
    assert "sessions[0].usage[0].cached_prompt_tokens" in note and "left out" in note


def test_a_cached_figure_that_is_not_a_number_is_a_one_line_error(db, tmp_path):
    from desktop_app.store import ImportFormatError

    _session_with_usage(db, 96)
    doc = export_document(db)
    doc["sessions"][0]["usage"][0]["cached_prompt_tokens"] = "lots"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with open_database(tmp_path / "fresh") as fresh, pytest.raises(ImportFormatError) as err:
        import_file(fresh, path)
    assert "cached_prompt_tokens" in str(err.value)


# --- the Usage tab ------------------------------------------------------------------


def test_the_usage_chart_shows_cached_tokens_per_turn_and_for_the_session(qtbot):
    chart = UsageChart()
    qtbot.addWidget(chart)
    chart.resize(600, 360)
    chart.show()
    chart.set_turns([
        {"components": {"system_prompt": 400, "current_input": 20, "reply": 30},
         "cost": 0.001, "label": "Turn 1", "prompt": 420, "cached": 0},
        {"components": {"system_prompt": 400, "history": 50, "current_input": 20,
                        "reply": 30}, "cost": 0.0008, "label": "Turn 2", "prompt": 470,
         "cached": 450},
        {"components": {"current_input": 20, "reply": 30}, "cost": 0.0001,
         "label": "Turn 3", "prompt": 20, "cached": None},
    ])
    assert chart.cache_text() == ("Prompt tokens billed: 890, of which cached: 450 (51%) · "
                                  "over the 2 of 3 turns whose server said")
    assert chart.cache_text() in chart.accessibleDescription()
    bars = chart.bars()
    assert "Cached: 0 of 420 (0%) prompt tokens" in chart.tooltip_for(bars[0])
    assert "Cached: 450 of 470 (96%) prompt tokens" in chart.tooltip_for(bars[1])
    assert "Cached: not reported by the server" in chart.tooltip_for(bars[2])
    [hatch] = chart.cached_rects()  # only the second turn read from the cache
    assert chart.bar_rect(1).contains(hatch.center())
    chart.grab()  # paints without error

    chart.set_turns([{"components": {"current_input": 20, "reply": 3}, "cost": 0.0,
                      "label": "Turn 1", "prompt": 20, "cached": None}])
    assert chart.cache_text() == "" and chart.cached_rects() == []  # no server said


def _add_provider(data_dir, server) -> None:
    with open_database(data_dir) as db:
        db.providers.save(ProviderConfig(name="local", base_url=server.base_url,
                                         preset="custom", models=[MODEL]))
        db.settings.set("default_provider", "local")


def _send(qtbot, window, text: str) -> None:
    from PySide6.QtCore import Qt

    window.composer.editor.setFocus()
    qtbot.keyClicks(window.composer.editor, text)
    qtbot.keyClick(window.composer.editor, Qt.Key.Key_Return,
                   Qt.KeyboardModifier.ControlModifier)
    wait_idle(qtbot, window)


def test_the_usage_tab_shows_what_the_server_read_from_its_cache(qtbot, data_dir,
                                                                 openai_server):
    openai_server.prefix_cache = True
    sid = seed_session(data_dir, "Trip", model=MODEL)
    with open_database(data_dir) as db:
        db.sessions.change(sid, system_prompt=SYSTEM)
    _add_provider(data_dir, openai_server)
    window = open_window(qtbot, data_dir)
    _send(qtbot, window, "Plan a day in Lisbon.")
    _send(qtbot, window, "And one in Porto?")
    chart = window.usage_chart
    qtbot.waitUntil(lambda: len(chart.bars()) == 2, timeout=10_000)

    with open_database(data_dir) as db:
        usage = db.usage.list_for_session(sid)
        replies = [m for m in db.messages.all_for_session(sid) if m.role == "assistant"]
    cached = usage[1].cached_prompt_tokens
    assert usage[0].cached_prompt_tokens == 0 and cached > 250
    billed = sum(m.prompt_tokens for m in replies)
    assert chart.cache_text() == (f"Prompt tokens billed: {billed:,}, of which cached: "
                                  f"{cached:,} ({cached / billed:.0%})")
    tip = chart.tooltip_for(chart.bar_at(QPointF(chart.bar_rect(1).center())))
    assert (f"Cached: {cached:,} of {replies[1].prompt_tokens:,} "
            f"({cached / replies[1].prompt_tokens:.0%}) prompt tokens") in tip
    assert len(chart.cached_rects()) == 1
    window.close()
