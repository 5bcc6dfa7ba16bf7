"""Prompt Lab's Experiment tab (issue 16): the lab's variants run on typed inputs through
the loopback server, the per-variant table shows the stored figures, Cancel keeps what
came back, the best variant becomes the open session's system prompt, and with no
provider Run is disabled and says why. The real window, real SQLite, real sockets."""

from __future__ import annotations

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
