"""Token-efficiency experiments (issue 16, first half): the offline evaluators, a run
end to end against the loopback server (tokens from its usage, cost, completion rate,
ranking), cancellation that keeps what came back and a resume that sends only the rest,
the stored results and their CSV/JSON export, the command line's table, and a clear
refusal with no provider."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time

import pytest

from desktop_app.cli import main
from desktop_app.core.cancel import CancelToken
from desktop_app.core.catalog import lookup_model
from desktop_app.core.evaluators import (
    EvaluatorError,
    contains,
    exact_match,
    json_schema_valid,
    matches,
    read_judge_score,
    retention,
)
from desktop_app.core.experiments import Experiment, Variant, summarize, to_csv, to_json
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.tokens import count_chat
from desktop_app.llm.client import ChatClient
from desktop_app.services.experiments import (
    ExperimentError,
    connect_for_experiment,
    make_evaluator,
    messages_for,
    resume_stored,
    run_and_store,
    run_experiment,
)
from desktop_app.store import open_database
from desktop_app.store.database import DB_FILE
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_store_migrations import migrate_file, table_names

MODEL = "gpt-4o-mini"  # priced in the catalog
TERSE = Variant("terse", "Answer with the capital city only.")
CHATTY = Variant("chatty", "You are a friendly and thorough geography assistant. Explain "
                           "your reasoning, give some background, and be warm.")
INPUTS = ["What is the capital of France?", "What is the capital of Japan?"]
CAPITALS = {"France": "Paris", "Japan": "Tokyo"}


def geography(body: dict) -> Reply:
    """Deterministic per request: the terse variant answers right, the chatty one
    rambles and gets Japan wrong."""
    messages = body.get("messages") or []
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    question = messages[-1]["content"]
    country = next(c for c in CAPITALS if c in question)
    if "only" in system:
        return Reply(text=CAPITALS[country])
    if country == "France":
        return Reply(text="Well, the capital of France is Paris, a lovely city on the Seine.")
    return Reply(text="I am not sure, but it might be Kyoto, the old imperial city.")


def client_for(server) -> ChatClient:
    return ChatClient(ProviderConfig("loopback", base_url=server.base_url))


# --- evaluators --------------------------------------------------------------------------
def test_offline_evaluators():
    assert exact_match("Paris")("  Paris\n", "").passed
    assert not exact_match("Paris")("paris", "").passed
    assert contains("paris")("It is PARIS.", "").passed
    assert not contains("Tokyo")("Kyoto", "").passed
    assert matches(r"^\d{4}-\d{2}-\d{2}$")("2025-01-31", "").passed
    with pytest.raises(EvaluatorError):
        matches("(unclosed")
    with pytest.raises(EvaluatorError):
        matches("a" * 2000)
    kept = retention({"deadline": "Friday", "budget": "€3,200"})("Due Friday.", "")
    assert kept.score == 0.5 and not kept.passed and "budget" in kept.detail


def test_a_catastrophic_pattern_gives_up_instead_of_hanging():
    started = time.monotonic()
    verdict = matches(r"(a|aa)+$", timeout=0.2)("a" * 60 + "b", "")
    assert not verdict.passed and "timed out" in verdict.detail
    assert time.monotonic() - started < 5


def test_json_schema_subset():
    schema = {"type": "object", "required": ["name", "age"], "additionalProperties": False,
              "properties": {"name": {"type": "string", "minLength": 1},
                             "age": {"type": "integer", "minimum": 0}}}
    check = json_schema_valid(schema)
    assert check('{"name": "Ada", "age": 36}', "").passed
    assert check('```json\n{"name": "Ada", "age": 36}\n```', "").passed
    assert not check('{"name": "Ada"}', "").passed
    assert not check('{"name": "Ada", "age": -1}', "").passed
    assert not check('{"name": "Ada", "age": 1, "x": 2}', "").passed
    assert check("not json", "").detail == "not JSON"
    with pytest.raises(EvaluatorError, match=r"\$ref"):
        json_schema_valid({"$ref": "#/x"})


def test_judge_scores_are_read_as_a_share_of_the_scale():
    assert read_judge_score("8").score == pytest.approx(0.8)
    assert read_judge_score("Score: 7.5/10").passed
    assert not read_judge_score("3").passed
    assert read_judge_score("no idea").score == 0 and not read_judge_score("42").passed


# --- a run end to end ----------------------------------------------------------------------
def test_an_experiment_end_to_end_tokens_cost_completion_rate_and_ranking(openai_server):
    openai_server.responder = geography
    experiment = Experiment(model=MODEL, evaluator="regex:^(Paris|Tokyo)",
                            variants=[CHATTY, TERSE], inputs=list(INPUTS), repeats=2,
                            concurrency=3)
    client = client_for(openai_server)
    try:
        run_experiment(client, experiment, make_evaluator("regex:(Paris|Tokyo)"))
    finally:
        client.close()
    assert experiment.status == "finished" and len(experiment.results) == 8
    assert len(openai_server.chat_requests()) == 8
    info = lookup_model(MODEL)
    expected: dict[int, dict[str, float]] = {0: {}, 1: {}}
    for index, variant in enumerate([CHATTY, TERSE]):
        prompt = completion = passes = 0
        cost = 0.0
        for text in INPUTS:
            reply = geography({"messages": messages_for(variant, text)}).text
            p = count_chat(messages_for(variant, text), MODEL).tokens
            c = len(reply.split(" "))
            prompt, completion = prompt + 2 * p, completion + 2 * c
            cost += 2 * info.cost(p, c)
            passes += 2 * (("Paris" in reply) or ("Tokyo" in reply))
        expected[index] = {"prompt": prompt, "completion": completion, "cost": cost,
                           "passes": passes}
    summary = {s.name: s for s in summarize(experiment)}
    for index, name in enumerate(["chatty", "terse"]):
        s, want = summary[name], expected[index]
        assert s.runs == 4 and s.errors == 0
        assert s.prompt_tokens == want["prompt"] == s.reported_prompt_tokens  # ours = usage
        assert s.completion_tokens == want["completion"]
        assert s.cost == pytest.approx(want["cost"]) and s.cost > 0
        assert s.passes == want["passes"]
        assert s.task_completion_rate == pytest.approx(
            want["passes"] / (want["prompt"] + want["completion"]))
        assert s.mean_latency_ms > 0
    # the server's usage, summed, is what the results say
    assert sum(u["prompt_tokens"] for u in openai_server.usages) == sum(
        r.reported_prompt_tokens or 0 for r in experiment.results)
    assert summary["terse"].passes == 4 and summary["chatty"].passes == 2
    assert summary["terse"].rank == 1 and summary["chatty"].rank == 2
    assert summary["terse"].quality_per_token > summary["chatty"].quality_per_token


def test_a_judge_model_scores_each_reply(openai_server):
    def answer(body: dict) -> Reply:
        if body["messages"][0]["content"].startswith("You grade answers"):
            return Reply(text="9" if "Paris" in body["messages"][-1]["content"] else "2")
        return geography(body)

    openai_server.responder = answer
    client = client_for(openai_server)
    try:
        experiment = Experiment(model=MODEL, evaluator="judge:judge-model",
                                variants=[TERSE, CHATTY], inputs=[INPUTS[0]])
        run_experiment(client, experiment, make_evaluator("judge:judge-model",
                                                          judge_client=client))
    finally:
        client.close()
    assert sorted(r.score for r in experiment.results) == [pytest.approx(0.9)] * 2
    judged = [r for r in openai_server.chat_requests() if r.body["model"] == "judge-model"]
    assert len(judged) == 2


def test_cancelling_keeps_what_came_back_and_resume_sends_only_the_rest(openai_server,
                                                                        tmp_path):
    def slow(body: dict) -> Reply:
        reply = geography(body)
        reply.delay = 0.02
        return reply

    openai_server.responder = slow
    cancel = CancelToken()
    seen = []

    def progress(p) -> None:
        seen.append(p.done)
        if p.done == 2:
            cancel.cancel()

    client = client_for(openai_server)
    try:
        with open_database(tmp_path) as db:
            experiment = Experiment(model=MODEL, evaluator="contains:Paris",
                                    variants=[TERSE, CHATTY], inputs=list(INPUTS) * 2)
            stored = run_and_store(db, client, experiment, make_evaluator("contains:Paris"),
                                   cancel=cancel, on_progress=progress)
            assert stored.status == "cancelled" and stored.finished_at is not None
            assert len(stored.results) == 2 and seen == [1, 2]
            assert len(openai_server.chat_requests()) == 2
            before = {(r.variant, r.input, r.repeat) for r in stored.results}

            resumed = resume_stored(db, client, stored.id, make_evaluator("contains:Paris"))
            assert resumed.status == "finished" and len(resumed.results) == 8
            assert len(openai_server.chat_requests()) == 8  # the first two not sent again
            keys = [(r.variant, r.input, r.repeat) for r in resumed.results]
            assert len(set(keys)) == 8 and before <= set(keys)
    finally:
        client.close()


def test_a_failed_request_is_kept_as_a_failure_not_a_score(openai_server):
    from tests.openai_test_server import error_reply

    openai_server.script(error_reply(400, "bad request"))
    openai_server.responder = geography
    client = client_for(openai_server)
    try:
        experiment = Experiment(model=MODEL, evaluator="contains:Paris", variants=[TERSE],
                                inputs=[INPUTS[0], INPUTS[0]])
        run_experiment(client, experiment, make_evaluator("contains:Paris"))
    finally:
        client.close()
    failed = [r for r in experiment.results if r.error]
    assert len(failed) == 1 and failed[0].tokens_used == 0 and not failed[0].passed
    (s,) = summarize(experiment)
    assert s.runs == 1 and s.errors == 1 and s.passes == 1


# --- storage and export -------------------------------------------------------------------
def test_stored_results_and_their_csv_and_json_export(openai_server, tmp_path):
    openai_server.responder = geography
    client = client_for(openai_server)
    try:
        with open_database(tmp_path) as db:
            experiment = Experiment(model=MODEL, evaluator="contains:Paris",
                                    variants=[TERSE, CHATTY], inputs=list(INPUTS),
                                    concurrency=2, provider="loopback")
            run_and_store(db, client, experiment, make_evaluator("contains:Paris"))
            assert [e.id for e in db.experiments.list()] == [experiment.id]
    finally:
        client.close()
    with open_database(tmp_path) as db:  # read back from the file
        stored = db.experiments.get(experiment.id)
    assert stored.status == "finished" and stored.provider == "loopback"
    assert stored.variants == [TERSE, CHATTY] and stored.inputs == INPUTS
    assert sorted((r.variant, r.input) for r in stored.results) == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    assert summarize(stored) == summarize(experiment)

    rows = list(csv.DictReader(io.StringIO(to_csv(stored))))
    assert len(rows) == 4
    first = rows[0]
    assert first["variant"] == "terse" and first["input"] == INPUTS[0]
    assert first["output"] == "Paris" and first["passed"] == "1"
    assert int(first["reported_prompt_tokens"]) == int(first["prompt_tokens"]) > 0
    payload = json.loads(to_json(stored))
    assert payload["model"] == MODEL and len(payload["results"]) == 4
    assert [s["name"] for s in payload["summary"]] == [s.name for s in summarize(stored)]
    assert payload["summary"][0]["rank"] == 1


def test_migration_0006_adds_the_experiment_tables_and_takes_them_away(tmp_path):
    path = tmp_path / DB_FILE
    migrate_file(path, "0005")
    assert "experiments" not in table_names(path)
    with open_database(tmp_path) as db:  # upgraded to head
        saved = db.experiments.create(Experiment(model=MODEL, evaluator="exact:x",
                                                 variants=[TERSE], inputs=["q"]))
        db.experiments.finish(saved.id, "finished")
    assert {"experiments", "experiment_results"} <= table_names(path)
    conn = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.IntegrityError), conn:  # the status is one of four
            conn.execute("UPDATE experiments SET status = 'odd'")
    finally:
        conn.close()
    migrate_file(path, "0005", down=True)
    assert not {"experiments", "experiment_results"} & table_names(path)


# --- the command line ---------------------------------------------------------------------
@pytest.fixture
def files(tmp_path):
    variants = tmp_path / "variants.json"
    variants.write_text(json.dumps({"terse": TERSE.text, "chatty\x1b[31m": CHATTY.text}))
    inputs = tmp_path / "inputs.csv"
    inputs.write_text("input,expected\n" + "".join(f"{q},x\n" for q in INPUTS))
    return variants, inputs


def test_the_command_prints_the_table_stores_the_run_and_exports(openai_server, tmp_path,
                                                                 files, capsys):
    openai_server.responder = geography
    variants, inputs = files
    out_csv = tmp_path / "out.csv"
    code = main(["--data-dir", str(tmp_path / "data"), "experiment", "--variants",
                 str(variants), "--inputs", str(inputs), "--model", MODEL, "--evaluator",
                 "regex:Paris|Tokyo", "--base-url", openai_server.base_url, "--export",
                 str(out_csv)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.splitlines()
    assert lines[0].split()[:3] == ["rank", "variant", "runs"]
    assert lines[2].split()[:2] == ["1", "terse"]
    assert "\x1b" not in captured.out and "chatty\\x1b[31m" in captured.out
    assert "experiment 1: 4 of 4 replies, 0 failed, finished" in captured.err
    assert len(list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))) == 4
    with open_database(tmp_path / "data") as db:
        assert len(db.experiments.get(1).results) == 4


def test_the_command_resumes_a_run_sending_only_what_failed(openai_server, tmp_path,
                                                           files, capsys):
    from tests.openai_test_server import error_reply

    openai_server.script(error_reply(400, "bad request"))  # the first request fails
    openai_server.responder = geography
    variants, inputs = files
    data = str(tmp_path / "data")
    code = main(["--data-dir", data, "experiment", "--variants", str(variants), "--inputs",
                 str(inputs), "--model", MODEL, "--evaluator", "regex:Paris|Tokyo",
                 "--base-url", openai_server.base_url, "--concurrency", "1"])
    assert code == 0, capsys.readouterr().err
    assert "4 of 4 replies, 1 failed" in capsys.readouterr().err
    sent = len(openai_server.requests)
    code = main(["--data-dir", data, "experiment", "--resume", "1", "--base-url",
                 openai_server.base_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(openai_server.requests) == sent + 1  # only the failed one again
    assert "experiment 1: 4 of 4 replies, 0 failed, finished" in captured.err
    assert "evaluator regex:Paris|Tokyo" in captured.err
    # a resume takes what the stored experiment ran: not new files
    code = main(["--data-dir", data, "experiment", "--resume", "1", "--variants",
                 str(variants)])
    assert code != 0 and "give none of them" in capsys.readouterr().err
    code = main(["--data-dir", data, "experiment", "--resume", "7"])
    assert code != 0 and "no experiment 7" in capsys.readouterr().err


def test_no_provider_is_a_clear_refusal(tmp_path, files, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    variants, inputs = files
    code = main(["--data-dir", str(tmp_path), "experiment", "--variants", str(variants),
                 "--inputs", str(inputs), "--model", MODEL, "--evaluator", "contains:x"])
    assert code == 2
    assert "no model is set up" in capsys.readouterr().err
    with open_database(tmp_path) as db:
        with pytest.raises(ExperimentError, match="no model is set up"):
            connect_for_experiment(db, MODEL)
        assert db.experiments.list() == []


def test_a_bad_evaluator_is_refused_before_any_request(tmp_path, files, capsys,
                                                       openai_server):
    variants, inputs = files
    code = main(["--data-dir", str(tmp_path), "experiment", "--variants", str(variants),
                 "--inputs", str(inputs), "--model", MODEL, "--evaluator", "fuzzy:x",
                 "--base-url", openai_server.base_url])
    assert code == 2 and "use one of" in capsys.readouterr().err
    assert openai_server.chat_requests() == []


# --- the readers and export the window shares with the command line ------------------------
def test_the_shared_readers_take_the_command_lines_formats(tmp_path):
    from desktop_app.services.experiments import (
        parse_inputs,
        parse_variants,
        read_inputs_file,
        read_variants_file,
    )

    assert parse_inputs('["a", {"input": "b\\nc"}, 3, "  "]', "x.json") == ["a", "b\nc", "3"]
    assert parse_inputs("input,expected\nq1,x\n\"q,2\",y\n", "x.CSV") == ["q1", "q,2"]
    assert parse_inputs("first\nsecond\n", "-") == ["first", "second"]
    assert parse_variants('{"terse": "Be brief."}', "v.json") == [Variant("terse", "Be brief.")]
    assert parse_variants('[{"text": "A"}, {"name": "b", "text": "B"}]', "v.json") == [
        Variant("variant 1", "A"), Variant("b", "B")]
    assert parse_variants("One\n---\nTwo\nlines\n", "v.txt") == [
        Variant("variant 1", "One"), Variant("variant 2", "Two\nlines")]
    path = tmp_path / "inputs.csv"
    path.write_bytes("\ufeffinput\nq\n".encode())  # a BOM, as spreadsheets write
    assert read_inputs_file(path) == ["q"]
    v = tmp_path / "v.json"
    v.write_text('["A", "B"]', encoding="utf-8")
    assert [x.text for x in read_variants_file(v)] == ["A", "B"]


@pytest.mark.parametrize(("name", "content", "says"), [
    ("missing.json", None, "no such file"),
    ("bad.json", b'{"a": ', "invalid JSON at line 1"),
    ("obj.json", b'{"a": 1}', "expected a JSON list of inputs"),
    ("empty.txt", b"\n  \n", "no inputs in it"),
    ("bin.csv", b"\x00\x01" * 10, "looks like a binary file"),
    ("latin.txt", "caf\u00e9".encode("latin-1"), "not UTF-8 text"),
    ("deep.json", b"[" * 100_000, "JSON nested too deeply"),
    ("huge.csv", b"input\n" + b"x" * 200_000 + b"\n", "not a CSV file this can read"),
])
def test_a_bad_inputs_file_is_one_line(tmp_path, name, content, says):
    from desktop_app.services.experiments import read_inputs_file

    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ExperimentError) as raised:
        read_inputs_file(path)
    message = str(raised.value)
    assert says in message and "\n" not in message and message.startswith(str(path))


def test_files_past_the_bounds_are_refused(tmp_path, monkeypatch):
    import desktop_app.services.experiments as service

    monkeypatch.setattr(service, "MAX_FILE_BYTES", 100)
    path = tmp_path / "inputs.txt"
    path.write_text("q\n" * 100, encoding="utf-8")
    with pytest.raises(ExperimentError, match="larger than"):
        service.read_inputs_file(path)
    with pytest.raises(ExperimentError, match="is a folder"):
        service.read_inputs_file(tmp_path)
    with pytest.raises(ExperimentError, match="5,001 inputs"):
        service.parse_inputs("q\n" * 5001, "many.txt")
    with pytest.raises(ExperimentError, match="no variants in it"):
        service.parse_variants("---\n---\n", "v.txt")


def test_export_and_what_a_resume_would_send(tmp_path):
    from desktop_app.core.experiments import RunResult
    from desktop_app.services.experiments import (
        can_resume,
        export_format,
        missing_runs,
        write_export,
    )

    experiment = Experiment(model=MODEL, evaluator="contains:Paris", variants=[TERSE, CHATTY],
                            inputs=list(INPUTS), status="cancelled",
                            results=[RunResult(0, 0, output="Paris", passed=True),
                                     RunResult(1, 0, error="boom")])
    assert missing_runs(experiment) == 3 and can_resume(experiment)
    experiment.status = "running"
    assert not can_resume(experiment)  # under way, or killed: left alone
    experiment.status = "finished"
    assert can_resume(experiment)  # a failed request is sent again
    write_export(experiment, tmp_path / "r.CSV")
    assert (tmp_path / "r.CSV").read_text(encoding="utf-8") == to_csv(experiment)
    write_export(experiment, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8")) == json.loads(
        to_json(experiment))
    assert export_format("a.Json") == "json"
    with pytest.raises(ExperimentError, match="export to a .csv or a .json file"):
        export_format("results.txt")
    with pytest.raises(ExperimentError, match="cannot write"):
        write_export(experiment, tmp_path / "no" / "such" / "r.csv")


def test_the_command_reads_through_the_shared_readers(tmp_path, capsys):
    bad = tmp_path / "inputs.json"
    bad.write_text('{"input": "q"}', encoding="utf-8")
    variants = tmp_path / "v.txt"
    variants.write_text("Be brief.\n", encoding="utf-8")
    code = main(["--data-dir", str(tmp_path), "experiment", "--variants", str(variants),
                 "--inputs", str(bad), "--model", MODEL, "--evaluator", "contains:x"])
    assert code == 2
    assert f"{bad}: expected a JSON list of inputs" in capsys.readouterr().err
    code = main(["--data-dir", str(tmp_path), "experiment", "--variants", str(variants),
                 "--inputs", str(bad), "--model", MODEL, "--evaluator", "contains:x",
                 "--export", str(tmp_path / "out.xlsx")])
    assert code == 2 and "export to a .csv or a .json file" in capsys.readouterr().err
