"""Progressive documents (issue 16, second half): a document run through the model part
by part against the loopback server. The running notes carry from part to part, no
request is ever over the window (counted with our own counter), a stopped run resumes
without sending its finished parts again, and the command line refuses clearly with no
provider, a too-large file or a broken PDF."""

from __future__ import annotations

import json
import re

import pytest

from desktop_app.cli import main
from desktop_app.core.cancel import CancelToken
from desktop_app.core.catalog import lookup_model
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.tokens import count_chat, count_text
from desktop_app.llm.client import ChatClient
from desktop_app.services.progressive import (
    OverWindowError,
    ProgressiveError,
    fitted,
    keep_within,
    load_state,
    merge_notes,
    part_messages,
    plan_budget,
    run_progressive,
    start_run,
)
from tests.openai_test_server import Reply, openai_server_fixture, unauthorized  # noqa: F401

MODEL = "gpt-4o-mini"
WINDOW = 1000
INFO = lookup_model(MODEL)


def document(parts: int = 12) -> str:
    """Paragraphs, each with a numbered fact the model 'finds'."""
    filler = ("The committee met again and discussed the schedule, the budget and the "
              "venue at some length without reaching any firm conclusion that day. ")
    return "\n\n".join(f"Section {i}. {filler * 8}The code word for section {i} is "
                       f"WORD{i}." for i in range(1, parts + 1))


class Recorder:
    """Answers each request deterministically: the code words in its part as the notes,
    the notes back as the answer; records every request's tokens as we count them."""

    def __init__(self, window: int = WINDOW) -> None:
        self.window = window
        self.requests: list[dict] = []

    def __call__(self, body: dict) -> Reply:
        messages = body["messages"]
        self.requests.append({"messages": messages,
                              "tokens": count_chat(messages, INFO).tokens,
                              "max_tokens": body.get("max_tokens")})
        user = messages[-1]["content"]
        if "Now do the task." in user:
            found = sorted(set(re.findall(r"WORD\d+", user)), key=lambda w: int(w[4:]))
            return Reply(text="The code words are " + ", ".join(found) + ".")
        part = user.split("\nPart ", 1)[1]
        words = re.findall(r"WORD\d+", part)
        return Reply(text="\n".join(f"- code word {w}" for w in words) or "NOTHING NEW")

    def parts_sent(self) -> list[int]:
        return [int(re.search(r"\nPart (\d+) of", r["messages"][-1]["content"]).group(1))
                for r in self.requests if "\nPart " in r["messages"][-1]["content"]]


def client_for(server) -> ChatClient:
    return ChatClient(ProviderConfig("loopback", base_url=server.base_url))


def test_the_budget_leaves_room_for_everything():
    budget = plan_budget(INFO, WINDOW, "Find the code words.")
    assert budget.overhead + budget.notes_tokens + budget.part_tokens + budget.reply_reserve \
        <= WINDOW
    with pytest.raises(ProgressiveError, match="leaves"):
        plan_budget(INFO, 300, "Find the code words.")


def test_notes_merge_and_stay_within_their_share():
    notes = merge_notes("- a is 1", "- a is 1\n- b is 2")
    assert notes == "- a is 1\n- b is 2"
    assert merge_notes(notes, "NOTHING NEW.") == notes
    long = "\n".join(f"- fact number {i} says the value is {i * 7}." for i in range(200))
    kept = keep_within(long, 100, INFO.encoding)
    assert count_text(kept, INFO.encoding) <= 100 and kept


def test_a_request_over_the_window_is_refused_before_sending():
    messages = part_messages("task", "", "word " * 2000, 0, 1)
    with pytest.raises(OverWindowError, match="not sent"):
        fitted(messages, INFO, WINDOW, 100)


def test_notes_carry_from_part_to_part_and_no_request_is_over_the_window(openai_server,
                                                                        tmp_path):
    recorder = Recorder()
    openai_server.responder = recorder
    text = document()
    state = start_run(INFO, WINDOW, "Find every code word.", text, "doc.md")
    assert state.parts >= 4
    client = client_for(openai_server)
    try:
        done = run_progressive(client, INFO, state, text, tmp_path)
    finally:
        client.close()
    assert done.status == "finished"
    assert recorder.parts_sent() == list(range(1, state.parts + 1))
    assert len(recorder.requests) == state.parts + 1  # and the final one
    for r in recorder.requests:  # within the window, reply reserve included
        assert r["tokens"] + r["max_tokens"] <= WINDOW
        assert r["max_tokens"] == state.reply_reserve
    # each request carries the code words every earlier part gave
    for k, r in enumerate(recorder.requests[1:], 1):
        user = r["messages"][-1]["content"]
        notes = user.split("\nPart ")[0] if "\nPart " in user else user
        earlier = {w for q in recorder.requests[:k]
                   for w in re.findall(r"WORD\d+", q["messages"][-1]["content"]
                                       .split("\nPart ")[-1])}
        assert earlier and all(w in notes for w in earlier)
    assert done.answer == "The code words are " + ", ".join(
        f"WORD{i}" for i in range(1, 13)) + "."
    saved = load_state(tmp_path, state.id)
    assert saved.status == "finished" and saved.answer == done.answer
    assert [s.part for s in saved.steps] == [*range(state.parts), -1]


def test_a_stopped_run_resumes_without_resending_finished_parts(openai_server, tmp_path,
                                                                capsys):
    recorder = Recorder()
    openai_server.responder = recorder
    text = document()
    source = tmp_path / "doc.md"
    source.write_text(text, encoding="utf-8")
    state = start_run(INFO, WINDOW, "Find every code word.", text, str(source))
    cancel = CancelToken()

    def stop_after_two(progress) -> None:
        if progress.state.done == 2:
            cancel.cancel()

    client = client_for(openai_server)
    try:
        stopped = run_progressive(client, INFO, state, text, tmp_path / "data",
                                  cancel=cancel, on_step=stop_after_two)
    finally:
        client.close()
    assert stopped.status == "stopped" and stopped.done == 2
    assert recorder.parts_sent() == [1, 2]
    assert load_state(tmp_path / "data", state.id).done == 2

    recorder.requests.clear()
    code = main(["--data-dir", str(tmp_path / "data"), "progressive", str(source),
                 "--resume", state.id, "--base-url", openai_server.base_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert recorder.parts_sent() == list(range(3, state.parts + 1))
    assert "WORD1, WORD2," in captured.out and f"WORD{12}." in captured.out
    assert f"resuming at part 3 of {state.parts}" in captured.err
    # the first request after resuming carries the notes of parts 1 and 2
    first = recorder.requests[0]["messages"][-1]["content"]
    assert "WORD1" in first.split("\nPart ")[0] and "WORD2" in first.split("\nPart ")[0]


def test_the_command_prints_progress_and_the_answer(openai_server, tmp_path, capsys):
    recorder = Recorder()
    openai_server.responder = recorder
    source = tmp_path / "doc.txt"
    source.write_text(document(), encoding="utf-8")
    code = main(["--data-dir", str(tmp_path / "data"), "progressive", str(source), "--task",
                 "Find every code word.", "--model", MODEL, "--window", str(WINDOW),
                 "--base-url", openai_server.base_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    parts = len(recorder.requests) - 1
    lines = captured.err.splitlines()
    assert sum(1 for line in lines if re.match(rf"part \d+/{parts}: sent", line)) == parts
    assert captured.out.strip().startswith("The code words are WORD1,")
    saved = list((tmp_path / "data" / "progressive").glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text())["status"] == "finished"
    for r in recorder.requests:
        assert r["tokens"] + r["max_tokens"] <= WINDOW


def test_a_failure_is_one_line_and_keeps_the_parts_done(openai_server, tmp_path, capsys):
    recorder = Recorder()
    calls = []

    def failing_third(body: dict) -> Reply:
        calls.append(1)
        return unauthorized() if len(calls) == 3 else recorder(body)

    openai_server.responder = failing_third
    source = tmp_path / "doc.txt"
    source.write_text(document(), encoding="utf-8")
    code = main(["--data-dir", str(tmp_path / "data"), "progressive", str(source), "--task",
                 "Find every code word.", "--model", MODEL, "--window", str(WINDOW),
                 "--base-url", openai_server.base_url])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("token-budget: ") and "2 of" in last and "--resume" in last
    run_id = last.rsplit("--resume ", 1)[1].strip()
    saved = load_state(tmp_path / "data", run_id)
    assert saved.status == "failed" and saved.done == 2 and "WORD2" in saved.notes


def test_no_provider_is_a_clear_refusal(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    source = tmp_path / "doc.txt"
    source.write_text(document(2), encoding="utf-8")
    code = main(["--data-dir", str(tmp_path), "progressive", str(source), "--task", "x",
                 "--model", MODEL])
    err = capsys.readouterr().err
    assert code == 2 and "no model is set up" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "progressive").exists()


def test_a_too_large_file_and_a_pdf_are_refused_in_one_line(tmp_path, capsys,
                                                             openai_server):
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:  # sparse: no disk used
        handle.truncate(100 << 20)
    code = main(["--data-dir", str(tmp_path), "progressive", str(big), "--task", "x",
                 "--model", MODEL, "--base-url", openai_server.base_url])
    err = capsys.readouterr().err
    assert code == 2 and "larger than 64 MB" in err and len(err.strip().splitlines()) == 1
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    code = main(["--data-dir", str(tmp_path), "progressive", str(pdf), "--task", "x",
                 "--model", MODEL, "--base-url", openai_server.base_url])
    err = capsys.readouterr().err
    assert code == 2 and "not a readable PDF" in err and len(err.strip().splitlines()) == 1
    assert openai_server.chat_requests() == []
