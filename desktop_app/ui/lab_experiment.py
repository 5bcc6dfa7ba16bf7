"""Prompt Lab's Experiment tab (issue 16): the lab's variants run as system prompts on
typed inputs through a configured model, judged by an evaluator, then a per-variant
table (tokens, cost, latency, task completion rate, quality per token, rank) and the
best variant applied to the open session's system prompt. The run is the controller's
(controller/experiments.py): off the GUI thread, stored as it goes, cancellable with
what came back kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.evaluators import KINDS
from desktop_app.core.experiments import Experiment, Variant, best_variant, summarize

if TYPE_CHECKING:
    from desktop_app.services.experiments import Progress
    from desktop_app.ui.prompt_lab import PromptLab

COLUMNS = ("Rank", "Variant", "Prompt tokens", "Completion tokens", "Cost $",
           "Latency ms", "Passes/1k tok", "Quality/1k tok", "Passed")
COLUMN_TIPS = (
    "1 is the most efficient: quality per token, then completion rate, then fewer tokens",
    "The lab's variant, sent as the system prompt",
    "Prompt tokens over every reply, as the server reported them (our exact count if not)",
    "Completion tokens over every reply, as the server reported them",
    "What the replies cost at the model's catalog prices",
    "Mean time per reply",
    "Task completion rate: tasks passed per 1,000 tokens used",
    "Quality per token: the evaluator's scores per 1,000 tokens used",
    "Replies that passed the evaluator, of the replies that came back",
)
ARGUMENT_HINTS = {
    "contains": "text the reply must contain",
    "exact": "the exact reply expected",
    "regex": "a regular expression to find in the reply",
    "json-schema": 'a JSON schema, e.g. {"type": "object"}',
    "retention": "key facts, comma-separated or a JSON list",
    "judge": "the judge model, e.g. gpt-4o-mini",
}
NO_CONTROLLER = "Open Prompt Lab from the main window to run experiments."


def summary_rows(experiment: Experiment) -> list[tuple[str, ...]]:
    """The table's cells, best first: the stored experiment's figures as plain text."""
    rows: list[tuple[str, ...]] = []
    for s in summarize(experiment):
        prompt = s.reported_prompt_tokens or s.prompt_tokens
        errors = f" ({s.errors} failed)" if s.errors else ""
        rows.append((str(s.rank), s.name, f"{prompt:,}", f"{s.completion_tokens:,}",
                     f"{s.cost:.6f}", f"{s.mean_latency_ms:.0f}",
                     f"{s.task_completion_rate * 1000:.3f}",
                     f"{s.quality_per_token * 1000:.3f}",
                     f"{s.passes} of {s.runs}{errors}"))
    return rows


class ExperimentPage(QWidget):
    def __init__(self, lab: PromptLab, controller: Any | None) -> None:
        super().__init__()
        self.lab = lab
        self.controller = controller
        self.experiment: Experiment | None = None

        self.inputs_edit = QPlainTextEdit()
        self.inputs_edit.setAccessibleName("Experiment inputs")
        self.inputs_edit.setPlaceholderText("Test inputs, one per line")
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Experiment model")
        self.evaluator_combo = QComboBox()
        self.evaluator_combo.setAccessibleName("Evaluator")
        for kind in KINDS:
            self.evaluator_combo.addItem(kind, kind)
        self.evaluator_combo.setCurrentIndex(KINDS.index("contains"))
        self.argument_edit = QLineEdit()
        self.argument_edit.setAccessibleName("Evaluator argument")
        self.repeats_spin = QSpinBox()
        self.repeats_spin.setRange(1, 20)
        self.repeats_spin.setAccessibleName("Repeats")
        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setRange(1, 8)
        self.concurrency_spin.setValue(2)
        self.concurrency_spin.setAccessibleName("Concurrency")

        self.run_button = QPushButton("Run")
        self.run_button.setAccessibleName("Run experiment")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.apply_button = QPushButton("Apply best to the session's system prompt")
        self.apply_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("%v of %m replies")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Experiment results")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for column, tip in enumerate(COLUMN_TIPS):
            header_item = self.table.horizontalHeaderItem(column)
            if header_item is not None:
                header_item.setToolTip(tip)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)

        form = QFormLayout()
        form.addRow("Model", self.model_combo)
        evaluator_row = QHBoxLayout()
        evaluator_row.addWidget(self.evaluator_combo)
        evaluator_row.addWidget(self.argument_edit, 1)
        form.addRow("Evaluator", evaluator_row)
        numbers = QHBoxLayout()
        numbers.addWidget(QLabel("Repeats"))
        numbers.addWidget(self.repeats_spin)
        numbers.addWidget(QLabel("At once"))
        numbers.addWidget(self.concurrency_spin)
        numbers.addStretch(1)
        form.addRow(numbers)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addWidget(QLabel("Inputs (one per line)"))
        left.addWidget(self.inputs_edit, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        right = QVBoxLayout()
        right.addLayout(buttons)
        right.addWidget(self.status)
        right.addWidget(self.table, 1)
        right.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 2)
        layout.addLayout(right, 5)

        self.evaluator_combo.currentIndexChanged.connect(lambda _i: self._hint())
        self.inputs_edit.textChanged.connect(self.refresh)
        self.argument_edit.textChanged.connect(self.refresh)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.apply_button.clicked.connect(self.apply_best)
        if controller is not None:
            controller.providersChanged.connect(lambda _p: self.refresh_models())
            controller.ready.connect(self.refresh_models)
            controller.experiments.progressed.connect(self._progressed)
        self._hint()
        self.refresh_models()

    # --- choices ---------------------------------------------------------------------
    def _hint(self) -> None:
        self.argument_edit.setPlaceholderText(ARGUMENT_HINTS[self.evaluator_combo.currentData()])
        self.refresh()

    def refresh_models(self) -> None:
        current = self.model_combo.currentData()
        self.model_combo.clear()
        if self.controller is not None:
            for provider, model in self.controller.experiments.models():
                self.model_combo.addItem(f"{model} ({provider})", model)
        found = self.model_combo.findData(current)
        if found >= 0:
            self.model_combo.setCurrentIndex(found)
        self.refresh()

    def inputs(self) -> list[str]:
        return [line.strip() for line in self.inputs_edit.toPlainText().splitlines()
                if line.strip()]

    def variants(self) -> list[Variant]:
        return [Variant(v.title.text(), v.text()) for v in self.lab.variants]

    def why_not(self) -> str:
        """Why Run is disabled; "" when it is not."""
        if self.controller is None:
            return NO_CONTROLLER
        reason: str = self.controller.experiments.why_not()
        if reason:
            return reason
        if self.controller.experiments.running:
            return "An experiment is running."
        if self.model_combo.count() == 0:
            return "No provider lists a model: add one in File ▸ Settings."
        if not self.inputs():
            return "Type at least one input to run the variants on."
        if not self.argument_edit.text().strip():
            hint = ARGUMENT_HINTS[self.evaluator_combo.currentData()]
            return f"Give the evaluator's argument: {hint}."
        return ""

    def refresh(self) -> None:
        reason = self.why_not()
        running = self.controller is not None and self.controller.experiments.running
        self.run_button.setEnabled(not reason)
        self.run_button.setToolTip(reason or "Run every variant on every input")
        self.cancel_button.setEnabled(running)
        if not running and (reason or not self.status.text()):
            self.status.setText(reason)

    # --- a run -----------------------------------------------------------------------
    def run(self) -> None:
        if self.why_not() or self.controller is None:
            return
        from desktop_app.controller.experiments import ExperimentRequest

        request = ExperimentRequest(
            variants=self.variants(), inputs=self.inputs(),
            model=str(self.model_combo.currentData()),
            evaluator=f"{self.evaluator_combo.currentData()}:{self.argument_edit.text().strip()}",
            repeats=self.repeats_spin.value(), concurrency=self.concurrency_spin.value())
        total = len(request.variants) * len(request.inputs) * request.repeats
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.status.setText(f"Running {total} requests on {request.model}…")
        self.apply_button.setEnabled(False)
        self.controller.experiments.run(request, self._finished, self._failed)
        self.refresh()

    def cancel(self) -> None:
        if self.controller is not None:
            self.controller.experiments.cancel()
            self.status.setText("Cancelling: the replies that came back are kept…")

    def _progressed(self, progress: Progress) -> None:
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)

    def _finished(self, experiment: Experiment) -> None:
        self.show_experiment(experiment)
        self.refresh()

    def _failed(self, message: str) -> None:
        self.status.setText(f"The experiment failed: {message}")
        self.refresh()

    def show_experiment(self, experiment: Experiment) -> None:
        self.experiment = experiment
        rows = summary_rows(experiment)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        done = len(experiment.results)
        self.progress.setRange(0, max(experiment.planned, 1))
        self.progress.setValue(done)
        failed = sum(1 for r in experiment.results if r.error is not None)
        best = best_variant(experiment)
        words = (f"Experiment {experiment.id}: {done} of {experiment.planned} replies"
                 f"{f', {failed} failed' if failed else ''}, {experiment.status}. ")
        words += (f"Most efficient: {best.name}." if best is not None
                  else "No variant completed a task.")
        self.status.setText(words)
        self.apply_button.setEnabled(best is not None)
        self.apply_button.setToolTip(best.text if best is not None else "")

    def apply_best(self) -> None:
        best = best_variant(self.experiment) if self.experiment is not None else None
        if best is None or self.controller is None:
            return
        if self.controller.experiments.apply_system_prompt(best.text):
            self.status.setText(f"{best.name} is now the session's system prompt.")
        else:
            self.status.setText("Open a session first: the best variant goes to its "
                                "system prompt.")
