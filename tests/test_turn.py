"""A full turn through the pipeline the window and `token-budget chat` share: real
SQLite, the real openai SDK, a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import threading

import pytest

from desktop_app.cli import main
from desktop_app.core.cancel import CancelToken
from desktop_app.core.catalog import lookup_model
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import Message, Session
from desktop_app.llm.client import ChatClient, RetryPolicy
from desktop_app.services.folding import fold_after_reply
from desktop_app.services.request import load_context, next_request
from desktop_app.services.turn import Outcome, run_turn
from desktop_app.services.windows import resolve_window
from desktop_app.store import open_database
from tests.openai_test_server import (  # noqa: F401
    Reply,
    context_too_long,
    openai_server_fixture,
    server_error,
)


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "data")
    yield database
    database.close()


def client_for(server) -> ChatClient:
    return ChatClient(ProviderConfig(name="test", preset="custom", base_url=server.base_url),
                      retry=RetryPolicy(max_retries=2, base_delay=0.01))


def window(tokens: int | None = None):
    """How the turn resolves a model's window: the catalog's, or a provider setting."""
    def resolve(name: str):
        info = lookup_model(name)
        resolved = resolve_window(info.context_window, tokens, None, "test")
        return info.with_context_window(resolved.tokens), resolved
    return resolve


def new_session(db, **kw) -> Session:
    return db.sessions.create(Session(title="t", model=kw.pop("model", "gpt-4o-mini"), **kw))


def test_a_turn_streams_stores_and_records_usage(db, openai_server):
    session = new_session(db, system_prompt="Be brief.")
    openai_server.script(Reply(text="Paris is the capital of France."))
    chunks = []
    preview = next_request(load_context(db, session.id, "Capital of France?", window()))
    result = run_turn(db, client_for(openai_server), session.id, "Capital of France?", window(),
                      on_chunk=chunks.append)
    assert result.outcome is Outcome.COMPLETED and result.reason == ""

    assert "".join(chunks) == "Paris is the capital of France."
    stored = db.messages.all_for_session(session.id)
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "Capital of France?", "complete"),
        ("assistant", "Paris is the capital of France.", "complete")]
    # the server counted exactly what we counted (gpt-4o-mini is exact)
    assert stored[1].prompt_tokens == result.request.tokens
    assert stored[1].cost is not None and stored[1].cost > 0
    sent = openai_server.chat_requests()[-1].body
    assert sent["messages"] == preview.messages  # what the preview showed is what went
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["messages"][-1] == {"role": "user", "content": "Capital of France?"}
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["max_tokens"] == result.request.max_tokens
    calibration = db.calibration.get("gpt-4o-mini")
    assert calibration.samples == 1 and calibration.ratio == pytest.approx(1.0)
    # the turn's usage is kept for the chart: the request split by component as sent
    [usage] = db.usage.list_for_session(session.id)
    assert usage.reply_message_id == stored[1].id and usage.model == "gpt-4o-mini"
    assert usage.components == {c: t for c, t in result.request.component_tokens.items() if t}
    assert usage.components["system_prompt"] > 0 and usage.components["current_input"] > 0
    assert usage.prompt_tokens == result.request.tokens == usage.reported_prompt_tokens
    assert usage.reported_completion_tokens == stored[1].completion_tokens
    assert usage.cost == stored[1].cost


def test_a_server_error_keeps_the_users_message(db, openai_server):
    session = new_session(db)
    openai_server.script(*[server_error(500)] * 5)
    result = run_turn(db, client_for(openai_server), session.id, "Will this survive?", window())
    assert result.outcome is Outcome.FAILED
    assert result.user_stored and "server" in result.reason.lower()
    stored = db.messages.all_for_session(session.id)
    assert stored[0].content == "Will this survive?"
    assert stored[1].status == "error"


def test_context_too_long_compresses_and_retries_once(db, openai_server):
    session = new_session(db, model="gpt-4o-mini")
    for i in range(40):
        db.messages.append(session.id, Message("user" if i % 2 == 0 else "assistant",
                                               f"message {i} " + "filler words " * 60))
    openai_server.script(context_too_long("openai"), Reply(text="Fits now."))
    notices = []
    result = run_turn(db, client_for(openai_server), session.id, "Summarise please", window(),
                      on_notice=notices.append)
    assert result.reply.content == "Fits now."
    first, second = openai_server.chat_requests()[-2:]
    assert len(second.body["messages"]) < len(first.body["messages"])
    assert any("too long" in n for n in notices)


def test_rolling_summary_is_folded_after_the_reply_not_before(db, openai_server):
    session = new_session(db, model="gpt-4o-mini", strategy="rolling_summary")
    for i in range(30):
        db.messages.append(session.id, Message("user" if i % 2 == 0 else "assistant",
                                               f"point {i}: " + "we discussed the budget. " * 30))
    # a small window makes the history overflow: the request folds what does not fit with
    # the offline method, exactly as the preview showed; the model summarizes afterwards
    preview = next_request(load_context(db, session.id, "What did we decide?", window(4000)))
    assert preview.new_summary is not None and preview.new_summary.method == "extractive"
    # the summarizer's own requests fit the same 4,000-token window, so it reads in parts
    openai_server.script(Reply(text="Ok."), *[Reply(text="We discussed the budget at length.")] * 8)
    result = run_turn(db, client_for(openai_server), session.id, "What did we decide?",
                      window(4000))
    assert result.outcome is Outcome.COMPLETED
    turn_request = openai_server.chat_requests()[-1].body["messages"]
    assert turn_request == preview.messages
    assert db.summaries.latest(session.id) is None  # nothing changed between Send and the wire

    folded = fold_after_reply(db, session.id, window(4000), client_for(openai_server))
    summary = db.summaries.latest(session.id)
    assert folded.summary is not None and summary is not None and summary.method == "model"
    assert summary.text == "We discussed the budget at length."
    assert summary.last_message_id is not None
    after = next_request(load_context(db, session.id, "And then?", window(4000)))
    assert any("We discussed the budget at length." in m["content"] for m in after.messages)


def test_stop_cancels_and_keeps_the_partial_reply(db, openai_server):
    session = new_session(db)
    openai_server.script(Reply(text=" ".join(["word"] * 200), delay=0.02))
    stop = CancelToken()
    seen = []

    def on_chunk(text):
        seen.append(text)
        if len(seen) == 5:
            threading.Thread(target=stop.cancel).start()  # Stop, from another thread

    result = run_turn(db, client_for(openai_server), session.id, "Talk a lot", window(),
                      on_chunk=on_chunk, cancel=stop)
    assert result.outcome is Outcome.STOPPED
    assert result.reply.status == "interrupted"
    assert 5 <= len(result.reply.content.split()) < 200
    assert db.messages.get(result.reply.id).status == "interrupted"


def test_without_a_model_the_turn_says_so_and_stores_nothing(db):
    session = new_session(db)
    result = run_turn(db, None, session.id, "hello", window())
    assert result.outcome is Outcome.FAILED and "no model is set up" in result.reason
    assert db.messages.all_for_session(session.id) == []


def test_chat_command_runs_a_full_turn(tmp_path, openai_server, capsys):
    openai_server.script(Reply(text="Hi from the server."), Reply(text="Second reply."))
    data = str(tmp_path / "data")
    code = main(["--data-dir", data, "chat", "--base-url", openai_server.base_url,
                 "--model", "llama3.1:8b", "Hello there"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == "Hi from the server."
    session_id = int(err.split("session ")[1].split()[0])
    assert "usage:" in err
    code = main(["--data-dir", data, "chat", "--session", str(session_id), "--base-url",
                 openai_server.base_url, "And again"])
    out, err = capsys.readouterr()
    assert code == 0 and out.strip() == "Second reply."
    sent = openai_server.chat_requests()[-1].body["messages"]
    assert [m["content"] for m in sent] == ["Hello there", "Hi from the server.", "And again"]
    with open_database(data) as db:  # the chat command's turns show in the window's chart
        assert len(db.usage.list_for_session(session_id)) == 2


def test_chat_command_fails_clearly(tmp_path, openai_server, capsys):
    data = str(tmp_path / "data")
    code = main(["--data-dir", data, "chat", "--model", "gpt-4o", "hello"])
    _, err = capsys.readouterr()
    assert code == 2 and "no model is set up" in err
    openai_server.script(*[server_error(503)] * 5)
    code = main(["--data-dir", data, "chat", "--base-url", openai_server.base_url,
                 "--model", "gpt-4o", "hello"])
    _, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err


def test_a_reply_cut_by_a_full_window_is_stored_as_cut_short(db, openai_server):
    session = new_session(db, model="llama3.1")
    openai_server.script(Reply(text="The first day starts at", finish_reason="length"))
    result = run_turn(db, client_for(openai_server), session.id, "Plan three days", window())
    assert result.outcome is Outcome.INTERRUPTED
    assert "context window was full" in result.reason
    reply = db.messages.get(result.reply.id)
    assert reply.status == "interrupted" and reply.content == "The first day starts at"
    assert reply.error == result.reason and reply.completion_tokens == 5
    assert db.usage.list_for_session(session.id)  # its usage still counts


def test_calibration_keeps_learning_and_never_refuses_a_turn(db, openai_server):
    # a tokenizer that counts twice what ours does (digits on Qwen): every turn teaches,
    # and an ordinary turn afterwards is neither flagged nor refused
    session = new_session(db, model="gemma3")  # a family whose tokenizer is not shipped
    client = client_for(openai_server)
    for i, factor in enumerate((2.0, 2.1, 1.0)):
        openai_server.script(Reply(text="ok", prompt_token_factor=factor))
        result = run_turn(db, client, session.id, f"turn {i}: " + "1234567890 " * 20, window())
        assert result.outcome is Outcome.COMPLETED and result.warnings == ()
    assert db.calibration.get("gemma3").samples == 3


def test_a_strategy_that_folds_nothing_reads_nothing_after_the_reply(db, monkeypatch):
    """After every reply the fold runs; under last N or a token window there is nothing
    to fold, and the session is not read back for it."""
    import desktop_app.services.folding as folding

    session = new_session(db, strategy="token_window")
    db.messages.append_many(session.id, [Message("user", "a " * 3000)] * 60)

    def no_read(*_args, **_kwargs):
        raise AssertionError("the session was read back")

    monkeypatch.setattr(folding, "load_context", no_read)
    folded = fold_after_reply(db, session.id, window(4000), None)
    assert not folded.changed
    stored = db.sessions.get(session.id)
    stored.strategy = "rolling_summary"
    db.sessions.update(stored)
    with pytest.raises(AssertionError, match="read back"):
        fold_after_reply(db, session.id, window(4000), None)


@pytest.mark.parametrize(("argv", "what"), [
    (["--model", "gpt-4o", "hi\udcff"], "the message is not UTF-8 text (byte 0xff"),
    (["--model", "m\udcff", "hi"], "--model is not UTF-8 text (byte 0xff"),
    (["--model", "gpt-4o", "--system", "s\udcff", "hi"], "--system is not UTF-8 text"),
])
def test_chat_refuses_arguments_that_are_not_utf8_in_one_line(tmp_path, capsys, argv, what):
    """Bytes that are not UTF-8 reach Python as lone surrogates: they were a
    UnicodeEncodeError traceback when the session was stored."""
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "chat", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and what in err
    with open_database(data) as db:
        assert db.sessions.list() == []


def test_chat_reads_standard_input_as_every_command_does(tmp_path, capsys, monkeypatch):
    import io

    data = tmp_path / "data"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"caf\xe9")))
    assert main(["--data-dir", str(data), "chat", "--model", "gpt-4o", "-"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "standard input: not UTF-8 text" in err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"x" * ((64 << 20) + 1))))
    assert main(["--data-dir", str(data), "chat", "--model", "gpt-4o", "-"]) == 2
    assert "larger than 64 MB" in capsys.readouterr().err
