"""Prompt Lab's Experiment tab (issue 16): the lab's variants run on typed inputs through
the loopback server, the per-variant table shows the stored figures, Cancel keeps what
came back, the best variant becomes the open session's system prompt, and with no
provider Run is disabled and says why. The real window, real SQLite, real sockets."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from desktop_app.controller.experiments import NO_PROVIDER_TO_RUN
from desktop_app.core.experiments import summarize
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_controller_turn import add_provider
from tests.test_experiments import CHATTY, TERSE, geography
from tests.ui_support import open_window, seed_session, wait_idle

INPUTS = "What is the capital of France?\nWhat is the capital of Japan?\n"


def open_lab_tab(qtbot, window):
    window.open_prompt_lab()
    lab = window._prompt_lab
    qtbot.waitExposed(lab)
    page = lab.experiment_page
    lab.tabs.setCurrentWidget(page)
    return lab, page


def fill(qtbot, lab, page, evaluator: str, argument: str) -> None:
    lab.variants[0].set_text(TERSE.text)
    lab.variants[1].set_text(CHATTY.text)
    page.inputs_edit.setPlainText(INPUTS)
    page.evaluator_combo.setCurrentIndex(page.evaluator_combo.findData(evaluator))
    page.argument_edit.setText(argument)


def stored(data_dir, experiment_id):
    db = open_database(data_dir)
    try:
        return db.experiments.get(experiment_id)
    finally:
        db.close()


def test_run_disabled_without_a_provider_says_why(qtbot, data_dir):
    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    fill(qtbot, lab, page, "contains", "Paris")
    assert not page.run_button.isEnabled()
    assert page.run_button.toolTip() == NO_PROVIDER_TO_RUN
    assert page.status.text() == NO_PROVIDER_TO_RUN
    assert page.model_combo.count() == 0


def test_a_run_shows_the_stored_figures_and_applies_the_best(qtbot, data_dir, openai_server):
    sid = seed_session(data_dir, "Geography")
    add_provider(data_dir, openai_server, ["gpt-4o-mini"])
    openai_server.responder = geography
    window = open_window(qtbot, data_dir)
    window.controller.sessions.open(sid)
    wait_idle(qtbot, window)
    lab, page = open_lab_tab(qtbot, window)
    lab.resize(1300, 720)
    fill(qtbot, lab, page, "regex", "Paris|Tokyo")
    qtbot.waitUntil(page.run_button.isEnabled, timeout=10_000)
    page.run_button.click()
    qtbot.waitUntil(lambda: page.experiment is not None, timeout=30_000)
    wait_idle(qtbot, window)

    experiment = stored(data_dir, page.experiment.id)
    assert experiment.status == "finished" and len(experiment.results) == 4
    assert page.progress.value() == 4 and page.progress.maximum() == 4
    shown = [[page.table.item(r, c).text() for c in range(page.table.columnCount())]
             for r in range(page.table.rowCount())]
    summary = summarize(experiment)
    assert [row[1] for row in shown] == ["Variant A", "Variant B"]  # terse wins
    for row, s in zip(shown, summary, strict=True):
        assert row[0] == str(s.rank)
        assert row[2] == f"{s.reported_prompt_tokens:,}"
        assert row[3] == f"{s.completion_tokens:,}"
        assert row[4] == f"{s.cost:.6f}"
        assert row[6] == f"{s.task_completion_rate * 1000:.3f}"
        assert row[7] == f"{s.quality_per_token * 1000:.3f}"
        assert s.reported_prompt_tokens > 0 and s.cost > 0
    assert shown[0][8] == "2 of 2" and shown[1][8] == "1 of 2"
    assert "Most efficient: Variant A" in page.status.text()

    shot = os.environ.get("EXPERIMENT_SHOT")
    if shot:  # EXPERIMENT_SHOT=path, on a real display: the screen, as a person sees it
        from PySide6.QtGui import QGuiApplication

        screen = QGuiApplication.primaryScreen()
        lab.setGeometry(screen.availableGeometry())
        lab.raise_()
        qtbot.wait(500)
        screen.grabWindow(0).save(str(Path(shot)))

    assert page.apply_button.isEnabled()
    page.apply_button.click()
    assert window.controller.session.system_prompt == TERSE.text
    wait_idle(qtbot, window)
    db = open_database(data_dir)
    try:
        assert db.sessions.get(sid).system_prompt == TERSE.text
    finally:
        db.close()


def test_cancel_keeps_the_replies_that_came_back(qtbot, data_dir, openai_server):
    add_provider(data_dir, openai_server, ["gpt-4o-mini"])
    openai_server.responder = lambda body: Reply(text="Paris is the answer here", delay=0.15)
    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    fill(qtbot, lab, page, "contains", "Paris")
    page.concurrency_spin.setValue(1)
    page.repeats_spin.setValue(3)
    qtbot.waitUntil(page.run_button.isEnabled, timeout=10_000)
    page.run_button.click()
    assert not page.run_button.isEnabled() and page.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: page.progress.value() >= 1, timeout=30_000)
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.experiment is not None, timeout=30_000)
    wait_idle(qtbot, window)

    experiment = stored(data_dir, page.experiment.id)
    assert experiment.status == "cancelled"
    assert 1 <= len(experiment.results) < experiment.planned == 12
    assert page.table.rowCount() == 2
    assert f"{len(experiment.results)} of 12 replies" in page.status.text()
    assert "cancelled" in page.status.text()
    assert page.run_button.isEnabled() and not page.cancel_button.isEnabled()


# --- files, export, resume, stored experiments (the window's half of issue 16) ----------
def choose_file(monkeypatch, path) -> None:
    """The open-file dialog answers `path` (its filter is whatever it offered first)."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))


def shown_rows(page) -> list[list[str]]:
    return [[page.table.item(r, c).text() for c in range(page.table.columnCount())]
            for r in range(page.table.rowCount())]


def test_inputs_load_from_a_csv_file_and_a_bad_file_is_one_line(qtbot, data_dir, tmp_path,
                                                                monkeypatch):
    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    good = tmp_path / "inputs.csv"
    good.write_text("id,input\n1,What is the capital of France?\n2,\"Japan, then: its "
                    "capital?\"\n3,  \n", encoding="utf-8")
    choose_file(monkeypatch, good)
    page.load_inputs_button.click()
    qtbot.waitUntil(lambda: page.inputs() != [], timeout=10_000)
    assert page.inputs() == ["What is the capital of France?", "Japan, then: its capital?"]
    assert not page.inputs_edit.isReadOnly()  # one a line: they stay editable
    assert page.status.text() == "Loaded 2 inputs from inputs.csv."

    bad = tmp_path / "broken.json"
    bad.write_text('[\n  "one",\n  "two\n]', encoding="utf-8")
    choose_file(monkeypatch, bad)
    page.load_inputs_button.click()
    qtbot.waitUntil(lambda: page.status.text().startswith("Cannot load it"), timeout=10_000)
    message = page.status.text()
    assert "\n" not in message and len(message) <= 300
    assert "broken.json: invalid JSON at line 3" in message
    assert page.inputs() == ["What is the capital of France?", "Japan, then: its capital?"]

    binary = tmp_path / "inputs.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    choose_file(monkeypatch, binary)
    page.load_inputs_button.click()
    qtbot.waitUntil(lambda: "binary" in page.status.text(), timeout=10_000)
    assert page.load_inputs_button.isEnabled() and page.inputs_edit.toPlainText()


def test_variants_and_inputs_spanning_lines_from_files_run_as_loaded(qtbot, data_dir,
                                                                     tmp_path, monkeypatch,
                                                                     openai_server):
    add_provider(data_dir, openai_server, ["gpt-4o-mini"])
    openai_server.responder = geography
    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    variants = tmp_path / "variants.json"
    variants.write_text(json.dumps({"terse": TERSE.text, "chatty": CHATTY.text,
                                    "blank": "Answer."}), encoding="utf-8")
    choose_file(monkeypatch, variants)
    page.load_variants_button.click()
    qtbot.waitUntil(lambda: len(lab.variants) == 3, timeout=10_000)
    assert [v.text() for v in lab.variants] == [TERSE.text, CHATTY.text, "Answer."]
    assert [v.name for v in page.variants()] == ["terse", "chatty", "blank"]
    assert "Variant A = terse" in page.status.text()
    lab.variants[2].set_text("Answer briefly.")  # edited: the lab's name again
    assert page.variants()[2].name == "Variant C"

    inputs = tmp_path / "inputs.json"
    questions = ["What is the capital\nof France?", {"input": "What is the capital of Japan?"}]
    inputs.write_text(json.dumps(questions), encoding="utf-8")
    choose_file(monkeypatch, inputs)
    page.load_inputs_button.click()
    qtbot.waitUntil(lambda: page.file_inputs is not None, timeout=10_000)
    assert page.inputs() == ["What is the capital\nof France?", "What is the capital of Japan?"]
    assert page.inputs_edit.isReadOnly() and page.type_inputs_button.isVisible()
    assert page.inputs_edit.toPlainText().splitlines()[0] == "What is the capital of France?"

    page.evaluator_combo.setCurrentIndex(page.evaluator_combo.findData("regex"))
    page.argument_edit.setText("Paris|Tokyo")
    qtbot.waitUntil(page.run_button.isEnabled, timeout=10_000)
    page.run_button.click()
    qtbot.waitUntil(lambda: page.experiment is not None, timeout=30_000)
    wait_idle(qtbot, window)
    experiment = stored(data_dir, page.experiment.id)
    assert experiment.inputs == ["What is the capital\nof France?",
                                 "What is the capital of Japan?"]
    assert [v.name for v in experiment.variants] == ["terse", "chatty", "Variant C"]
    assert len(experiment.results) == 6 and experiment.status == "finished"

    page.type_inputs_button.click()
    assert page.inputs() == [] and not page.inputs_edit.isReadOnly()
    assert not page.run_button.isEnabled()


def test_export_writes_the_figures_the_table_shows(qtbot, data_dir, tmp_path, monkeypatch,
                                                   openai_server):
    from PySide6.QtWidgets import QFileDialog

    from desktop_app.core.experiments import to_csv

    add_provider(data_dir, openai_server, ["gpt-4o-mini"])
    openai_server.responder = geography
    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    assert not page.export_button.isEnabled()  # nothing shown yet
    fill(qtbot, lab, page, "regex", "Paris|Tokyo")
    qtbot.waitUntil(page.run_button.isEnabled, timeout=10_000)
    page.run_button.click()
    qtbot.waitUntil(lambda: page.experiment is not None, timeout=30_000)
    wait_idle(qtbot, window)
    shown = shown_rows(page)
    experiment = stored(data_dir, page.experiment.id)

    answers = iter([(str(tmp_path / "results"), "JSON, settings, replies and summary (*.json)"),
                    (str(tmp_path / "results.csv"), "CSV, a row per reply (*.csv)")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: next(answers)))
    page.export_button.click()  # no ending typed: the chosen filter's
    out_json = tmp_path / "results.json"
    qtbot.waitUntil(lambda: page.status.text().startswith("Exported"), timeout=10_000)
    assert page.status.text() == f"Exported experiment {experiment.id} to {out_json}."
    payload = json.loads(out_json.read_text(encoding="utf-8"))
    assert len(payload["summary"]) == len(shown) == 2
    for row, s in zip(shown, payload["summary"], strict=True):
        assert row[0] == str(s["rank"]) and row[1] == s["name"]
        assert row[2] == f"{s['reported_prompt_tokens']:,}"
        assert row[3] == f"{s['completion_tokens']:,}"
        assert row[4] == f"{s['cost']:.6f}"
        assert row[6] == f"{s['task_completion_rate'] * 1000:.3f}"
        assert row[7] == f"{s['quality_per_token'] * 1000:.3f}"
        assert row[8].startswith(f"{s['passes']} of {s['runs']}")

    page.export_button.click()
    out_csv = tmp_path / "results.csv"
    qtbot.waitUntil(lambda: out_csv.exists() and "results.csv" in page.status.text(),
                    timeout=10_000)
    assert out_csv.read_text(encoding="utf-8") == to_csv(experiment)  # the command's export
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8"))))
    for row in shown:
        mine = [r for r in rows if r["variant"] == row[1]]
        assert f"{sum(int(r['reported_prompt_tokens']) for r in mine):,}" == row[2]
        assert f"{sum(int(r['completion_tokens']) for r in mine):,}" == row[3]
        assert f"{sum(float(r['cost']) for r in mine):.6f}" == row[4]
        assert f"{sum(int(r['passed']) for r in mine)} of {len(mine)}" == row[8]


def test_cancel_then_resume_sends_only_what_is_missing(qtbot, data_dir, openai_server):
    add_provider(data_dir, openai_server, ["gpt-4o-mini"])

    def slow(body):
        reply = geography(body)
        reply.delay = 0.15
        return reply

    openai_server.responder = slow
    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    fill(qtbot, lab, page, "regex", "Paris|Tokyo")
    page.inputs_edit.setPlainText("What is the capital of France?\nWhat is the capital of "
                                  "Japan?\nFrance: its capital?\nJapan: its capital?\n")
    page.concurrency_spin.setValue(1)
    qtbot.waitUntil(page.run_button.isEnabled, timeout=10_000)
    assert not page.resume_button.isEnabled()
    page.run_button.click()
    qtbot.waitUntil(lambda: page.progress.value() >= 2, timeout=30_000)
    page.cancel_button.click()
    qtbot.waitUntil(lambda: page.experiment is not None, timeout=30_000)
    wait_idle(qtbot, window)
    openai_server.wait_for_streams_closed()

    cancelled = stored(data_dir, page.experiment.id)
    kept = {(r.variant, r.input) for r in cancelled.results if r.error is None}
    assert cancelled.status == "cancelled" and 2 <= len(kept) < 8
    assert page.resume_button.isEnabled()
    assert f"Resume sends the {8 - len(kept)} missing" in page.status.text()
    sent_before = len(openai_server.chat_requests())

    page.resume_button.click()
    assert page.cancel_button.isEnabled() and not page.run_button.isEnabled()
    qtbot.waitUntil(lambda: not page.cancel_button.isEnabled(), timeout=30_000)
    wait_idle(qtbot, window)
    resumed = stored(data_dir, cancelled.id)
    assert resumed.status == "finished" and page.experiment.status == "finished"
    keys = [(r.variant, r.input, r.repeat) for r in resumed.results]
    assert len(keys) == len(set(keys)) == 8
    sent_after = openai_server.chat_requests()[sent_before:]
    assert len(sent_after) == 8 - len(kept)
    asked = {(r.body["messages"][0]["content"], r.body["messages"][-1]["content"])
             for r in sent_after}
    variants, inputs = resumed.variants, resumed.inputs
    assert not asked & {(variants[v].text, inputs[i]) for v, i in kept}  # none sent twice
    assert page.progress.value() == 8 and "8 of 8 replies" in page.status.text()
    assert not page.resume_button.isEnabled()
    assert len(shown_rows(page)) == 2


def test_a_stored_experiment_reopens_with_its_table(qtbot, data_dir, openai_server):
    from desktop_app.core.experiments import Experiment
    from desktop_app.services.experiments import make_evaluator, run_and_store
    from desktop_app.ui.lab_experiment import summary_rows
    from tests.test_experiments import INPUTS as QUESTIONS
    from tests.test_experiments import client_for

    add_provider(data_dir, openai_server, ["gpt-4o-mini"])
    openai_server.responder = geography
    client = client_for(openai_server)
    db = open_database(data_dir)
    try:
        first = run_and_store(db, client, Experiment(
            model="gpt-4o-mini", evaluator="contains:Paris", variants=[TERSE, CHATTY],
            inputs=list(QUESTIONS), provider="local"), make_evaluator("contains:Paris"))
        second = run_and_store(db, client, Experiment(
            model="gpt-4o-mini", evaluator="regex:Tokyo", variants=[CHATTY],
            inputs=list(QUESTIONS), provider="local"), make_evaluator("regex:Tokyo"))
    finally:
        client.close()
        db.close()

    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    qtbot.waitUntil(lambda: page.past_combo.count() == 2, timeout=10_000)
    assert page.past_combo.itemData(0) == second.id  # newest first
    assert page.past_combo.itemText(1).startswith(f"#{first.id} ")
    assert "contains:Paris" in page.past_combo.itemText(1)

    page.past_combo.setCurrentIndex(1)
    qtbot.waitUntil(lambda: page.experiment is not None, timeout=10_000)
    assert page.experiment.id == first.id
    assert [tuple(r) for r in shown_rows(page)] == summary_rows(first)
    assert shown_rows(page)[0][1] == "terse"
    assert f"Experiment {first.id} on gpt-4o-mini, contains:Paris" in page.status.text()
    assert page.export_button.isEnabled() and not page.resume_button.isEnabled()

    page.past_combo.setCurrentIndex(0)
    qtbot.waitUntil(lambda: page.experiment.id == second.id, timeout=10_000)
    assert [tuple(r) for r in shown_rows(page)] == summary_rows(second)


def test_a_failed_request_is_sent_again_by_resume(qtbot, data_dir, openai_server):
    from tests.openai_test_server import error_reply

    add_provider(data_dir, openai_server, ["gpt-4o-mini"])
    openai_server.script(error_reply(400, "bad request"))
    openai_server.responder = geography
    window = open_window(qtbot, data_dir)
    lab, page = open_lab_tab(qtbot, window)
    fill(qtbot, lab, page, "regex", "Paris|Tokyo")
    page.concurrency_spin.setValue(1)
    qtbot.waitUntil(page.run_button.isEnabled, timeout=10_000)
    page.run_button.click()
    qtbot.waitUntil(lambda: page.experiment is not None, timeout=30_000)
    wait_idle(qtbot, window)
    assert "3 of 4 replies, 1 failed, finished" in page.status.text()
    assert "Resume sends the 1 missing" in page.status.text()
    assert page.resume_button.isEnabled()
    sent = len(openai_server.chat_requests())

    page.resume_button.click()
    qtbot.waitUntil(lambda: not page.cancel_button.isEnabled(), timeout=30_000)
    wait_idle(qtbot, window)
    assert len(openai_server.chat_requests()) == sent + 1
    experiment = stored(data_dir, page.experiment.id)
    assert len(experiment.results) == 4 and not any(r.error for r in experiment.results)
    assert "4 of 4 replies, finished" in page.status.text()
    assert not page.resume_button.isEnabled()
