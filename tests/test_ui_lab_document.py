"""Prompt Lab's Document tab (progressive documents, window side): a document run part
by part through the loopback server from the real widgets. Every step is listed with the
request it sent (its sections and their tokens), no request is over the window, the
running notes carry from part to part, Stop keeps what is done and Resume finishes the
saved run without sending the finished parts again, a PDF runs like text, and with no
provider Run is refused in one line. The real window, real SQLite, real sockets."""

from __future__ import annotations

import os
import re
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from desktop_app.controller.progressive import NO_PROVIDER_TO_RUN
from desktop_app.services.progressive import load_state
from tests.openai_test_server import Reply, openai_server_fixture, unauthorized  # noqa: F401
from tests.pdf_support import make_pdf
from tests.test_controller_turn import add_provider
from tests.test_progressive import MODEL, WINDOW, Recorder, document
from tests.ui_support import open_window, wait_idle

TASK = "Find every code word."


def open_tab(qtbot, window):
    window.open_prompt_lab()
    lab = window._prompt_lab
    qtbot.waitExposed(lab)
    page = lab.document_page
    lab.tabs.setCurrentWidget(page)
    return lab, page


def open_document(qtbot, page, path: Path, monkeypatch) -> None:
    """Through the Open button and the file dialog, as a person does."""
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: (str(path), "")))
    page.open_button.click()
    qtbot.waitUntil(lambda: page.document is not None and not page.reading, timeout=15_000)


def start(qtbot, page, task: str = TASK, window: int = WINDOW) -> None:
    page.task_edit.setText(task)
    page.model_combo.setCurrentIndex(page.model_combo.findData(MODEL))
    page.window_spin.setValue(window)
    qtbot.waitUntil(page.run_button.isEnabled, timeout=10_000)
    page.run_button.click()


def finished(page) -> bool:
    return not page.running() and page.state is not None and page.state.answer is not None


def test_run_is_refused_without_a_provider(qtbot, data_dir, tmp_path, monkeypatch):
    window = open_window(qtbot, data_dir)
    _lab, page = open_tab(qtbot, window)
    source = tmp_path / "doc.md"
    source.write_text(document(3), encoding="utf-8")
    open_document(qtbot, page, source, monkeypatch)
    page.task_edit.setText(TASK)
    assert not page.run_button.isEnabled() and not page.resume_button.isEnabled()
    assert page.run_button.toolTip() == NO_PROVIDER_TO_RUN
    assert page.status.text() == NO_PROVIDER_TO_RUN and "\n" not in page.status.text()
    assert page.model_combo.count() == 0
    page.run()  # even asked directly, nothing starts
    assert page.state is None and not (data_dir / "progressive").exists()


def test_a_run_lists_each_step_under_the_window_with_the_notes_carried(
        qtbot, data_dir, tmp_path, openai_server, monkeypatch):
    recorder = Recorder()
    openai_server.responder = recorder
    add_provider(data_dir, openai_server, [MODEL])
    window = open_window(qtbot, data_dir)
    lab, page = open_tab(qtbot, window)
    assert not lab.variant_splitter.isVisible()  # the tab takes the variants' room
    source = tmp_path / "minutes.md"
    source.write_text(document(12), encoding="utf-8")
    open_document(qtbot, page, source, monkeypatch)
    assert page.file_label.text().startswith("minutes.md: Markdown, ")
    start(qtbot, page)
    assert page.stop_button.isEnabled() and not page.run_button.isEnabled()
    qtbot.waitUntil(lambda: finished(page), timeout=60_000)
    wait_idle(qtbot, window)

    state = load_state(data_dir, page.state.id)
    assert state.status == "finished" and state.parts >= 4
    # every request the server saw: under the window with its reply reserve
    assert len(recorder.requests) == state.parts + 1
    for r in recorder.requests:
        assert r["tokens"] + r["max_tokens"] <= WINDOW
    # and each carried the code words of every part before it in its notes
    for k, r in enumerate(recorder.requests[1:], 1):
        notes = r["messages"][-1]["content"].split("\nPart ")[0]
        for q in recorder.requests[:k]:
            for word in re.findall(r"WORD\d+", q["messages"][-1]["content"].split("\nPart ")[-1]):
                assert word in notes

    # the step list: a row per request, each with the figure we counted and sent
    labels = [page.steps.item(i).text() for i in range(page.steps.count())]
    assert len(labels) == state.parts + 1
    for i, (label, sent) in enumerate(zip(labels, recorder.requests, strict=True)):
        title = "Answer" if i == state.parts else f"Part {i + 1} of {state.parts}"
        assert label == f"{title} · {sent['tokens']:,} tokens"
    assert page.progress.value() == page.progress.maximum() == state.parts + 1
    assert page.progress.text() == f"Part {state.parts} of {state.parts}, answered"

    # a step's request: its sections with their tokens, adding up to what was sent
    page.steps.setCurrentRow(3)
    rows = [[page.sections.item(r, c).text() for c in range(3)]
            for r in range(page.sections.rowCount())]
    names = [row[0] for row in rows]
    assert names == ["Instructions", "Task", "Notes so far", f"Part 4 of {state.parts}",
                     "Labels and chat framing", "Reply reserve", "Reply (received)"]
    sent = recorder.requests[3]
    figures = [int(row[1].replace(",", "")) for row in rows]
    assert sum(figures[:5]) == sent["tokens"]
    assert figures[5] == sent["max_tokens"]
    page.sections.setCurrentCell(2, 0)  # the notes it carried, in full, as sent
    user = sent["messages"][-1]["content"]
    carried = user.split("Notes so far (from parts 1-3):\n", 1)[1].split("\n\nPart 4 of")[0]
    assert page.detail.toPlainText() == carried and "WORD1" in carried
    page.sections.setCurrentCell(3, 0)  # the part, in full, as sent
    assert user.endswith("\n" + page.detail.toPlainText())
    assert f"{sent['tokens']:,} tokens sent (exact)" in page.totals.text()
    assert f"of the {WINDOW:,}-token window" in page.totals.text()

    # the running notes and the combined answer
    assert all(f"WORD{i}" in page.notes.toPlainText() for i in range(1, 13))
    assert page.answer.toPlainText() == "The code words are " + ", ".join(
        f"WORD{i}" for i in range(1, 13)) + "."
    assert page.status.text().startswith(f"Run {state.id} finished: {state.parts} parts")

    shot = os.environ.get("PROGRESSIVE_SHOT")
    if shot:  # PROGRESSIVE_SHOT=path, on a real display: the screen as a person sees it
        from PySide6.QtGui import QGuiApplication

        screen = QGuiApplication.primaryScreen()
        lab.setGeometry(screen.availableGeometry())
        lab.raise_()
        page.steps.setCurrentRow(page.steps.count() - 2)
        page.sections.setCurrentCell(2, 0)
        qtbot.wait(600)
        screen.grabWindow(0).save(str(Path(shot)))


def test_stop_keeps_what_is_done_and_resume_finishes(qtbot, data_dir, tmp_path,
                                                     openai_server, monkeypatch):
    recorder = Recorder()

    def slow(body: dict) -> Reply:
        reply = recorder(body)
        return Reply(text=reply.text, delay=0.2)

    openai_server.responder = slow
    add_provider(data_dir, openai_server, [MODEL])
    window = open_window(qtbot, data_dir)
    _lab, page = open_tab(qtbot, window)
    source = tmp_path / "minutes.txt"
    source.write_text(document(12), encoding="utf-8")
    open_document(qtbot, page, source, monkeypatch)
    start(qtbot, page)
    qtbot.waitUntil(lambda: page.steps.count() >= 2, timeout=30_000)
    page.stop_button.click()
    qtbot.waitUntil(lambda: not page.running(), timeout=30_000)
    wait_idle(qtbot, window)

    saved = load_state(data_dir, page.state.id)
    assert saved.status == "stopped" and 2 <= saved.done < saved.parts
    assert page.steps.count() == saved.done and page.answer.toPlainText() == ""
    assert "Resume continues it" in page.status.text()
    assert page.resume_button.isEnabled() and page.run_button.isEnabled()
    sent_before = recorder.parts_sent()

    # a new tab on the same file finds the saved run; Resume continues from there
    recorder.requests.clear()
    page.resume_button.click()
    qtbot.waitUntil(lambda: finished(page), timeout=60_000)
    wait_idle(qtbot, window)
    done = load_state(data_dir, saved.id)
    assert done.status == "finished"
    resent = recorder.parts_sent()
    assert resent == list(range(saved.done + 1, saved.parts + 1))  # none sent twice
    assert set(sent_before) | set(resent) == set(range(1, saved.parts + 1))
    first = recorder.requests[0]["messages"][-1]["content"].split("\nPart ")[0]
    assert all(f"WORD{i}" in first for i in range(1, saved.done + 1))
    assert page.steps.count() == saved.parts + 1  # the saved steps and the new ones
    assert page.answer.toPlainText().startswith("The code words are WORD1, WORD2,")
    assert not page.resume_button.isEnabled()


def test_a_saved_run_is_found_when_the_document_is_opened_again(
        qtbot, data_dir, tmp_path, openai_server, monkeypatch):
    recorder = Recorder()
    calls: list[int] = []

    def failing_third(body: dict) -> Reply:
        calls.append(1)
        return unauthorized() if len(calls) == 3 else recorder(body)

    openai_server.responder = failing_third
    add_provider(data_dir, openai_server, [MODEL])
    window = open_window(qtbot, data_dir)
    lab, page = open_tab(qtbot, window)
    source = tmp_path / "minutes.txt"
    source.write_text(document(12), encoding="utf-8")
    open_document(qtbot, page, source, monkeypatch)
    start(qtbot, page)
    qtbot.waitUntil(lambda: not page.running() and "failed" in page.status.text(),
                    timeout=30_000)
    wait_idle(qtbot, window)
    message = page.status.text()
    assert "\n" not in message and "2 of" in message and "saved" in message
    run_id = page.state.id
    assert load_state(data_dir, run_id).status == "failed"
    assert page.steps.count() == 2  # what was done is still shown

    # a fresh look: open the same file again; the failed run is offered
    page.task_edit.clear()
    open_document(qtbot, page, source, monkeypatch)
    assert page.resumable is not None and page.resumable.id == run_id
    assert page.task_edit.text() == TASK and page.resume_button.isEnabled()
    openai_server.responder = recorder
    page.resume_button.click()
    qtbot.waitUntil(lambda: finished(page), timeout=60_000)
    assert load_state(data_dir, run_id).status == "finished"
    assert page.steps.count() == load_state(data_dir, run_id).parts + 1


def test_a_pdf_runs_and_a_broken_one_is_one_line(qtbot, data_dir, tmp_path, openai_server,
                                                 monkeypatch):
    recorder = Recorder()
    openai_server.responder = recorder
    add_provider(data_dir, openai_server, [MODEL])
    window = open_window(qtbot, data_dir)
    _lab, page = open_tab(qtbot, window)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj <<\n")
    page.open_path(str(broken))
    qtbot.waitUntil(lambda: not page.reading, timeout=15_000)
    assert page.document is None
    assert page.status.text().startswith("Cannot open it: ") and "not a readable PDF" in \
        page.status.text() and "\n" not in page.status.text()

    filler = "The committee met again and discussed the schedule at some length."
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(make_pdf([[f"Section {p}.", *[filler] * 30, f"The code word is WORD{p}."]
                              for p in range(1, 6)]))
    open_document(qtbot, page, pdf, monkeypatch)
    assert page.file_label.text().startswith("minutes.pdf: PDF, 5 pages, ")
    start(qtbot, page)
    qtbot.waitUntil(lambda: finished(page), timeout=60_000)
    assert page.answer.toPlainText() == "The code words are " + ", ".join(
        f"WORD{p}" for p in range(1, 6)) + "."
    for r in recorder.requests:
        assert r["tokens"] + r["max_tokens"] <= WINDOW
