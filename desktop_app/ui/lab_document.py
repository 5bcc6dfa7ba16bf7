"""Prompt Lab's Document tab: a progressive run. Open a text, Markdown or PDF file, type
the task, pick a configured model and run it part by part within the window: each step's
request is listed as the inspector lists a turn (its sections, each with its tokens, the
reply reserve and the reply), with the running notes and, at the end, the combined
answer. Stop keeps what is done; Resume continues the run saved in the data folder. The
run is the controller's (controller/progressive.py): off the GUI thread, through
services.progressive. Every text from a file or a model is shown as plain text."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.text import format_tokens
from desktop_app.ui.palette import blend, component_color, is_dark

if TYPE_CHECKING:
    from desktop_app.controller.progressive import Opened, Started
    from desktop_app.services.documents import Document
    from desktop_app.services.progressive import Progress, RunState, StepRequest

NO_CONTROLLER = "Open Prompt Lab from the main window to run a document through a model."
FILE_FILTER = "Documents (*.txt *.md *.markdown *.pdf);;All files (*)"
SECTION_COLUMNS = ("Section", "Tokens", "Content")
# the gauge's colours for the pieces of a step's request (the framing: the neutral grey)
SECTION_COLORS = {"instructions": "system_prompt", "task": "current_input",
                  "notes": "memory", "part": "history", "framing": "framing",
                  "reserve": "reply_reserve", "reply": "reply"}
PREVIEW_CHARS = 140
MIN_WINDOW = 128
MAX_WINDOW = 10_000_000


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    head = " ".join(text[: limit * 2].split())
    return head if len(head) <= limit else head[:limit].rstrip() + "…"


def step_label(request: StepRequest) -> str:
    """A step in the list: "Part 3 of 8 · 812 tokens", "Answer · 410 tokens"."""
    return f"{request.title} · {format_tokens(request.step.prompt_tokens)} tokens"


def totals_text(request: StepRequest) -> str:
    """What the step sent against its window, and what the server said."""
    step = request.step
    used = step.prompt_tokens + request.reply_reserve
    exact = "exact" if step.prompt_exact else "estimated"
    words = (f"{request.title}: {format_tokens(step.prompt_tokens)} tokens sent ({exact}) + "
             f"{format_tokens(request.reply_reserve)} reserved for the reply = "
             f"{format_tokens(used)} of the {format_tokens(request.window)}-token window")
    if step.reported_prompt_tokens is not None:
        words += f"; the server counted {format_tokens(step.reported_prompt_tokens)}"
    if step.completion_tokens is not None:
        words += f" and replied with {format_tokens(step.completion_tokens)}"
    return words + "."


def request_rows(request: StepRequest) -> list[tuple[str, str, int, str]]:
    """(kind, section, tokens, full text) for the table: the request's sections, the
    reply reserve, and the reply that came back."""
    rows = [(s.kind, s.name, s.tokens, s.text) for s in request.sections]
    rows.append(("reserve", "Reply reserve", request.reply_reserve,
                 "Room kept for the reply: the request's max_tokens."))
    step = request.step
    rows.append(("reply", "Reply (received)", step.completion_tokens or 0, step.reply))
    return rows


class DocumentPage(QWidget):
    def __init__(self, lab: Any, controller: Any | None) -> None:
        super().__init__()
        self.lab = lab
        self.controller = controller
        self.document: Document | None = None
        self.state: RunState | None = None  # the run shown
        self.resumable: RunState | None = None  # a stopped or failed run over the document
        self.requests: list[StepRequest] = []
        self.reading = False
        self._reason_shown = False

        self.open_button = QPushButton("Open document…")
        self.open_button.setAccessibleName("Open document")
        self.file_label = QLabel("No document open: text, Markdown or PDF.")
        self.file_label.setTextFormat(Qt.TextFormat.PlainText)
        self.file_label.setAccessibleName("Document")
        self.task_edit = QLineEdit()
        self.task_edit.setAccessibleName("Task")
        self.task_edit.setPlaceholderText("The task: a question to answer from the document, "
                                          "or what to do with it")
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Document model")
        self.window_spin = QSpinBox()
        self.window_spin.setAccessibleName("Window")
        self.window_spin.setRange(MIN_WINDOW, MAX_WINDOW)
        self.window_spin.setSingleStep(1000)
        self.window_spin.setGroupSeparatorShown(True)
        self.window_spin.setSuffix(" tokens")
        self.window_spin.setToolTip("Each request and its reply reserve stay within this "
                                    "many tokens (at most the model's window)")

        self.run_button = QPushButton("Run")
        self.run_button.setAccessibleName("Run document")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip("Stop after the part under way; what is done is kept")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Progress")
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("No run yet")
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Run status")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.steps = QListWidget()
        self.steps.setAccessibleName("Steps")
        self.totals = QLabel("Select a step to see the request it sent.")
        self.totals.setTextFormat(Qt.TextFormat.PlainText)
        self.totals.setWordWrap(True)
        self.totals.setAccessibleName("Step totals")
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sections = QTableWidget(0, len(SECTION_COLUMNS))
        self.sections.setAccessibleName("Step request")
        self.sections.setHorizontalHeaderLabels(list(SECTION_COLUMNS))
        self.sections.verticalHeader().setVisible(False)
        self.sections.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sections.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.sections.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.sections.setWordWrap(False)
        header = self.sections.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.detail_title = QLabel("The selected section, in full")
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("Section text")
        self.detail.setPlaceholderText("The full text of the selected section.")
        self.notes_title = QLabel("Running notes")
        self.notes = QPlainTextEdit()
        self.notes.setReadOnly(True)
        self.notes.setAccessibleName("Running notes")
        self.notes.setPlaceholderText("The key information found so far, carried from part "
                                      "to part.")
        self.answer = QPlainTextEdit()
        self.answer.setReadOnly(True)
        self.answer.setAccessibleName("Answer")
        self.answer.setPlaceholderText("The notes combined into the answer, after the last "
                                       "part.")

        top = QHBoxLayout()
        top.addWidget(self.open_button)
        top.addWidget(self.file_label, 1)
        task_row = QHBoxLayout()
        task_row.addWidget(QLabel("Task"))
        task_row.addWidget(self.task_edit, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(QLabel("Model"))
        run_row.addWidget(self.model_combo, 1)
        run_row.addWidget(QLabel("Window"))
        run_row.addWidget(self.window_spin)
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.stop_button)
        run_row.addWidget(self.resume_button)
        run_row.addWidget(self.progress, 1)

        steps_pane = _pane(QLabel("Steps"), self.steps)
        request_splitter = QSplitter(Qt.Orientation.Vertical)
        request_splitter.setChildrenCollapsible(False)
        request_box = QWidget()
        box = QVBoxLayout(request_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        box.addWidget(self.totals)
        box.addWidget(self.sections, 1)
        request_splitter.addWidget(request_box)
        request_splitter.addWidget(_pane(self.detail_title, self.detail))
        request_splitter.setStretchFactor(0, 3)
        request_splitter.setStretchFactor(1, 2)
        results = QSplitter(Qt.Orientation.Vertical)
        results.setChildrenCollapsible(False)
        results.addWidget(_pane(self.notes_title, self.notes))
        results.addWidget(_pane(QLabel("Answer"), self.answer))
        body = QSplitter(Qt.Orientation.Horizontal)
        body.setChildrenCollapsible(False)
        body.addWidget(steps_pane)
        body.addWidget(request_splitter)
        body.addWidget(results)
        body.setStretchFactor(0, 2)
        body.setStretchFactor(1, 5)
        body.setStretchFactor(2, 3)
        self.body = body

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(task_row)
        layout.addLayout(run_row)
        layout.addWidget(self.status)
        layout.addWidget(body, 1)

        self.open_button.clicked.connect(self.choose_file)
        self.task_edit.textChanged.connect(self.refresh)
        self.model_combo.currentIndexChanged.connect(lambda _i: self._model_changed())
        self.run_button.clicked.connect(self.run)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button.clicked.connect(self.resume)
        self.steps.currentRowChanged.connect(self._show_step)
        self.sections.currentCellChanged.connect(lambda r, _c, _pr, _pc: self._show_section(r))
        if controller is not None:
            controller.providersChanged.connect(lambda _p: self.refresh_models())
            controller.ready.connect(self.refresh_models)
            controller.progressive.started.connect(self._started)
            controller.progressive.stepped.connect(self._stepped)
        self.refresh_models()

    # --- choices ---------------------------------------------------------------------
    def refresh_models(self) -> None:
        current = self.model_combo.currentData()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        if self.controller is not None:
            for provider, model in self.controller.progressive.models():
                self.model_combo.addItem(f"{model} ({provider})", model)
        found = self.model_combo.findData(current)
        self.model_combo.setCurrentIndex(max(found, 0) if self.model_combo.count() else -1)
        self.model_combo.blockSignals(False)
        if self.model_combo.currentData() != current:
            self._model_changed()
        self.refresh()

    def _model_changed(self) -> None:
        """The window follows the model: its own, or less if typed so."""
        model = self.model_combo.currentData()
        if self.controller is None or not model:
            return
        window = self.controller.progressive.window_for(str(model))
        self.window_spin.setMaximum(max(window, MIN_WINDOW))
        self.window_spin.setValue(window)
        self.refresh()

    def running(self) -> bool:
        return self.controller is not None and self.controller.progressive.running

    def why_not(self) -> str:
        """Why Run is disabled; "" when it is not."""
        if self.controller is None:
            return NO_CONTROLLER
        reason: str = self.controller.progressive.why_not()
        if reason:
            return reason
        if self.running():
            return "A document is being run."
        if self.model_combo.count() == 0:
            return "No provider lists a model: add one in File ▸ Settings."
        if self.document is None:
            return "Open a document: text, Markdown or PDF."
        if not self.task_edit.text().strip():
            return "Type the task: a question to answer from the document, or what to do."
        return ""

    def refresh(self) -> None:
        reason = self.why_not()
        running = self.running()
        self.run_button.setEnabled(not reason and not self.reading)
        self.run_button.setToolTip(reason or "Run the task over the document, part by part")
        self.stop_button.setEnabled(running)
        can_resume = (self.resumable is not None and not running and not self.reading
                      and self.controller is not None
                      and not self.controller.progressive.why_not())
        self.resume_button.setEnabled(can_resume)
        if self.resumable is not None:
            r = self.resumable
            self.resume_button.setToolTip(
                f"Continue run {r.id} ({r.status}, {r.done} of {r.parts} parts done) on "
                f"{r.model}: {r.task}")
        else:
            self.resume_button.setToolTip("Continue a stopped or failed run of this document")
        self.open_button.setEnabled(not running and self.controller is not None)
        blocked = self.controller is None or bool(self.controller.progressive.why_not())
        if not running and not self.reading and (blocked or self._reason_shown
                                                 or not self.status.text()):
            self._say(reason, reason=True)

    def _say(self, text: str, reason: bool = False) -> None:
        """The status line; a reason (why Run is disabled) gives way when it changes, an
        outcome stays until the next one."""
        self.status.setText(text)
        self._reason_shown = reason

    # --- the document ----------------------------------------------------------------
    def choose_file(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open a document", "", FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str) -> None:
        """Read the document off the GUI thread; a file that cannot be read is one line
        and leaves the document open before as it was."""
        if self.controller is None or self.running():
            return
        self.reading = True
        self._say(f"Reading {path}…")
        self.refresh()
        self.controller.progressive.read(path, self._opened, self._not_opened)

    def _opened(self, opened: Opened) -> None:
        self.reading = False
        self.document = opened.document
        self.file_label.setText(opened.document.describe())
        self.file_label.setToolTip(opened.document.path)
        self.resumable = opened.unfinished
        self.state = None
        self._clear_run()
        if opened.unfinished is not None:
            r = opened.unfinished
            self.task_edit.setText(r.task)
            self._say(f"Opened {opened.document.name}. Run {r.id} over it stopped "
                                f"after part {r.done} of {r.parts} ({r.status}): Resume "
                                "continues it, Run starts anew.")
        else:
            self._say(f"Opened {opened.document.name}.")
        self.refresh()

    def _not_opened(self, message: str) -> None:
        self.reading = False
        self._say(f"Cannot open it: {message}")
        self.refresh()

    # --- a run -----------------------------------------------------------------------
    def run(self) -> None:
        if self.why_not() or self.controller is None or self.document is None:
            return
        model = str(self.model_combo.currentData())
        self._clear_run()
        self.state = None
        self._say(f"Starting on {model}…")
        self.controller.progressive.run(self.document, self.task_edit.text().strip(), model,
                                        self.window_spin.value(), self._finished,
                                        self._failed)
        self.refresh()

    def resume(self) -> None:
        if (self.controller is None or self.document is None or self.resumable is None
                or self.running()):
            return
        run = self.resumable
        self._say(f"Resuming run {run.id} at part {run.done + 1} of {run.parts}…")
        self.controller.progressive.resume(self.document, run.id, self.window_spin.value(),
                                           self._finished, self._failed)
        self.refresh()

    def stop(self) -> None:
        if self.controller is not None and self.running():
            self.controller.progressive.stop()
            self._say("Stopping after the part under way: what is done is kept…")

    def _clear_run(self) -> None:
        self.requests = []
        self.steps.clear()
        self.sections.setRowCount(0)
        self.totals.setText("Select a step to see the request it sent.")
        self.detail.clear()
        self.notes.clear()
        self.notes_title.setText("Running notes")
        self.answer.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("No run yet")

    def _started(self, started: Started) -> None:
        state = started.state
        self.state = state
        self.resumable = None
        self._clear_run()
        for request in started.requests:
            self._add_step(request)
        self._show_state(state)
        if state.task != self.task_edit.text().strip():
            self.task_edit.setText(state.task)
        verb = "Resuming" if started.requests or state.done else "Running"
        self._say(
            f"{verb} run {state.id} on {state.model}: {state.parts} parts of at most "
            f"{format_tokens(state.part_tokens)} tokens, the notes kept within "
            f"{format_tokens(state.notes_tokens)}, {format_tokens(state.reply_reserve)} for "
            f"each reply, in a {format_tokens(started.window)}-token window.")
        self.refresh()

    def _stepped(self, progress: Progress) -> None:
        if self.state is None or progress.state.id != self.state.id:
            return
        self.state = progress.state
        self._add_step(progress.request)
        self._show_state(progress.state)

    def _add_step(self, request: StepRequest) -> None:
        follow = self.steps.currentRow() in (-1, self.steps.count() - 1)
        self.requests.append(request)
        item = QListWidgetItem(step_label(request))
        item.setToolTip(totals_text(request))
        self.steps.addItem(item)
        if follow:
            self.steps.setCurrentRow(self.steps.count() - 1)

    def _show_state(self, state: RunState) -> None:
        self.notes.setPlainText(state.notes)
        self.notes_title.setText(
            f"Running notes: {format_tokens(_notes_tokens(state))} of at most "
            f"{format_tokens(state.notes_tokens)} tokens")
        self.answer.setPlainText(state.answer or "")
        self.progress.setRange(0, state.parts + 1)
        answered = state.answer is not None
        self.progress.setValue(state.done + (1 if answered else 0))
        self.progress.setFormat(f"Part {state.done} of {state.parts}"
                                + (", answered" if answered else ""))

    def _finished(self, state: RunState) -> None:
        self.state = state
        self._show_state(state)
        if state.status == "finished":
            self.resumable = None
            sent = sum(s.prompt_tokens for s in state.steps)
            self._say(
                f"Run {state.id} finished: {state.parts} parts and the answer, "
                f"{len(state.steps)} requests, {format_tokens(sent)} prompt tokens sent, "
                "none over the window.")
        else:
            self.resumable = state
            self._say(f"Stopped after part {state.done} of {state.parts}; run "
                                f"{state.id} is saved: Resume continues it.")
        self.refresh()

    def _failed(self, message: str) -> None:
        if self.state is not None and self.state.answer is None:
            self.resumable = replace(self.state, status="failed")  # saved as it was
        self._say(f"The run failed: {message}")
        self.refresh()

    # --- a step's request ------------------------------------------------------------
    def _show_step(self, row: int) -> None:
        if not 0 <= row < len(self.requests):
            self.sections.setRowCount(0)
            self.detail.clear()
            return
        request = self.requests[row]
        self.totals.setText(totals_text(request))
        rows = request_rows(request)
        dark = is_dark(self)
        size = max(8, self.fontMetrics().height() * 2 // 3)
        keep = self.sections.currentRow()
        self.sections.setRowCount(len(rows))
        for r, (kind, name, tokens, text) in enumerate(rows):
            label = QTableWidgetItem(name)
            chip = QPixmap(size, size)
            chip.fill(component_color(SECTION_COLORS.get(kind, ""), dark))
            label.setIcon(chip)
            label.setData(Qt.ItemDataRole.UserRole, text)
            figure = QTableWidgetItem(format_tokens(tokens))
            figure.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            content = QTableWidgetItem(preview(text) or "(empty)")
            content.setToolTip(text[:1500] or "(empty)")
            if kind in ("reserve", "reply", "framing"):
                muted = blend(self.palette().color(self.foregroundRole()),
                              self.palette().color(self.backgroundRole()), 0.65)
                for item in (label, figure, content):
                    item.setForeground(muted)
            self.sections.setItem(r, 0, label)
            self.sections.setItem(r, 1, figure)
            self.sections.setItem(r, 2, content)
        # the notes the request carried, unless another section was chosen
        self.sections.setCurrentCell(keep if 0 <= keep < len(rows) else 2, 0)
        self._show_section(self.sections.currentRow())

    def _show_section(self, row: int) -> None:
        item = self.sections.item(row, 0) if row >= 0 else None
        self.detail.setPlainText(str(item.data(Qt.ItemDataRole.UserRole)) if item else "")
        self.detail_title.setText(f"{item.text()}, in full" if item is not None
                                  else "The selected section, in full")

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and self.requests:
            self._show_step(self.steps.currentRow())
        super().changeEvent(event)


def _notes_tokens(state: RunState) -> int:
    return state.steps[-1].notes_tokens if state.steps else 0


def _pane(title: QLabel, body: QWidget) -> QWidget:
    pane = QWidget()
    box = QVBoxLayout(pane)
    box.setContentsMargins(0, 0, 0, 0)
    box.setSpacing(4)
    title.setTextFormat(Qt.TextFormat.PlainText)
    box.addWidget(title)
    box.addWidget(body, 1)
    return pane
