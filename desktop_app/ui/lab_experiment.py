"""Prompt Lab's Experiment tab (issue 16): the lab's variants run as system prompts on
typed inputs through a configured model, judged by an evaluator, then a per-variant
table (tokens, cost, latency, task completion rate, quality per token, rank) and the
best variant applied to the open session's system prompt. The run is the controller's
(controller/experiments.py): off the GUI thread, stored as it goes, cancellable with
what came back kept, and resumable (only the missing replies are sent). Inputs and
variants load from the files the command line reads (--inputs, --variants), results
export as its --export writes them, and a stored experiment reopens from the list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
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
from desktop_app.services.experiments import EXPORT_SUFFIXES, can_resume, missing_runs
from desktop_app.ui.markdown import bounded

if TYPE_CHECKING:
    from desktop_app.services.experiments import Progress
    from desktop_app.ui.prompt_lab import PromptLab

COLUMNS = ("Rank", "Variant", "Prompt\ntokens", "Completion\ntokens", "Cost $",
           "Latency\nms", "Passes\n/1k tok", "Quality\n/1k tok", "Passed")
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
INPUT_FILES = "Inputs (*.json *.csv *.txt);;All files (*)"
VARIANT_FILES = "Variants (*.json *.txt *.md);;All files (*)"
EXPORT_FILTERS = {"CSV, a row per reply (*.csv)": ".csv",
                  "JSON, settings, replies and summary (*.json)": ".json"}
MAX_LAB_VARIANTS = 12  # variants a file may bring into the lab, side by side
MESSAGE_CHARS = 300  # a one-line status from a file or the model, at most
NAME_CHARS = 80  # a variant's name in the table (the whole name in its tooltip)
PREVIEW_CHARS = 400  # an input spanning lines, shown on one line in the inputs box


def summary_rows(experiment: Experiment) -> list[tuple[str, ...]]:
    """The table's cells, best first: the stored experiment's figures as plain text."""
    rows: list[tuple[str, ...]] = []
    for s in summarize(experiment):
        prompt = s.reported_prompt_tokens or s.prompt_tokens
        errors = f" ({s.errors} failed)" if s.errors else ""
        rows.append((str(s.rank), bounded(s.name, NAME_CHARS), f"{prompt:,}",
                     f"{s.completion_tokens:,}", f"{s.cost:.6f}", f"{s.mean_latency_ms:.0f}",
                     f"{s.task_completion_rate * 1000:.3f}",
                     f"{s.quality_per_token * 1000:.3f}",
                     f"{s.passes} of {s.runs}{errors}"))
    return rows


def stored_label(experiment: Experiment) -> str:
    """A stored experiment in the list: number, when, model, evaluator and outcome."""
    when = (experiment.created_at.astimezone().strftime("%Y-%m-%d %H:%M")
            if experiment.created_at else "")
    sizes = f"{len(experiment.variants)}×{len(experiment.inputs)}"
    if experiment.repeats > 1:
        sizes += f"×{experiment.repeats}"
    return bounded(f"#{experiment.id} · {experiment.status} · {sizes} · {experiment.model} · "
                   f"{experiment.evaluator} · {when}", 160)


def one_line(text: str) -> str:
    return bounded(text, MESSAGE_CHARS)




class ExperimentPage(QWidget):
    def __init__(self, lab: PromptLab, controller: Any | None) -> None:
        super().__init__()
        self.lab = lab
        self.controller = controller
        self.experiment: Experiment | None = None
        # inputs loaded from a file when one of them spans lines (the box cannot hold
        # them one a line): these run, the box shows them read-only
        self.file_inputs: list[str] | None = None
        # variants a file brought into the lab: their names, while the text is theirs
        self.file_variants: list[tuple[Any, Variant]] = []
        self.busy_reading = False
        self._reason_shown = False

        self.inputs_edit = QPlainTextEdit()
        self.inputs_edit.setAccessibleName("Experiment inputs")
        self.inputs_edit.setPlaceholderText("Test inputs, one per line")
        self.inputs_label = QLabel("Inputs (one per line)")
        self.inputs_label.setTextFormat(Qt.TextFormat.PlainText)
        self.inputs_label.setWordWrap(True)
        self.load_inputs_button = QPushButton("Load inputs…")
        self.load_inputs_button.setAccessibleName("Load inputs from a file")
        self.load_inputs_button.setToolTip(
            "Test inputs from a file, as the command line's --inputs reads it: a JSON list "
            "(of texts, or of objects with \"input\"), a CSV (its \"input\" column, else "
            "its first) or text with one input a line")
        self.load_variants_button = QPushButton("Load variants…")
        self.load_variants_button.setAccessibleName("Load variants from a file")
        self.load_variants_button.setToolTip(
            "Replace the lab's variants with those in a file, as --variants reads it: JSON "
            "(a list of texts, a {name: text} object or a list of {\"name\", \"text\"}) "
            f"or text with the variants separated by lines of ---; at most "
            f"{MAX_LAB_VARIANTS}")
        self.type_inputs_button = QPushButton("Type inputs instead")
        self.type_inputs_button.setToolTip("Drop the inputs loaded from the file")
        self.type_inputs_button.setVisible(False)
        self.model_combo = QComboBox()
        self.model_combo.setAccessibleName("Experiment model")
        self.model_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(12)
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
        self.resume_button = QPushButton("Resume")
        self.resume_button.setAccessibleName("Resume experiment")
        self.resume_button.setEnabled(False)
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
        self.past_combo = QComboBox()
        self.past_combo.setAccessibleName("Stored experiments")
        self.past_combo.setPlaceholderText("No stored experiments yet")
        self.past_combo.setToolTip("Reopen a stored experiment's results")
        self.past_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.past_combo.setMinimumContentsLength(16)
        self.export_button = QPushButton("Export…")
        self.export_button.setAccessibleName("Export results")
        self.export_button.setToolTip("Save the shown experiment's results as CSV (a row "
                                      "per reply) or JSON (settings, replies and summary)")
        self.export_button.setEnabled(False)

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
        # the variant's name takes the room the figures leave (cut, whole in its tooltip)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
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
        files = QHBoxLayout()
        files.addWidget(self.load_inputs_button)
        files.addWidget(self.load_variants_button)
        files.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(files)
        left.addWidget(self.inputs_label)
        left.addWidget(self.type_inputs_button, 0, Qt.AlignmentFlag.AlignLeft)
        left.addWidget(self.inputs_edit, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        past = QHBoxLayout()
        past.addWidget(QLabel("Results of"))
        past.addWidget(self.past_combo, 1)
        past.addWidget(self.export_button)
        right = QVBoxLayout()
        right.addLayout(buttons)
        right.addLayout(past)
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
        self.resume_button.clicked.connect(self.resume)
        self.cancel_button.clicked.connect(self.cancel)
        self.apply_button.clicked.connect(self.apply_best)
        self.load_inputs_button.clicked.connect(self.choose_inputs)
        self.load_variants_button.clicked.connect(self.choose_variants)
        self.type_inputs_button.clicked.connect(self.type_inputs)
        self.export_button.clicked.connect(self.choose_export)
        self.past_combo.currentIndexChanged.connect(self._past_chosen)
        if controller is not None:
            controller.providersChanged.connect(lambda _p: self.refresh_models())
            controller.ready.connect(self.refresh_models)
            controller.ready.connect(self.refresh_stored)
            controller.experiments.progressed.connect(self._progressed)
        self._hint()
        self.refresh_models()
        self.refresh_stored()

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
        if self.file_inputs is not None:
            return list(self.file_inputs)
        return [line.strip() for line in self.inputs_edit.toPlainText().splitlines()
                if line.strip()]

    def variants(self) -> list[Variant]:
        """The lab's variants; one a file brought keeps the file's name while its text
        is unchanged."""
        named = {id(editor): v for editor, v in self.file_variants}
        out = []
        for editor in self.lab.variants:
            loaded = named.get(id(editor))
            text = editor.text()
            name = loaded.name if loaded is not None and loaded.text == text else None
            out.append(Variant(name or editor.title.text(), text))
        return out

    def running(self) -> bool:
        return self.controller is not None and bool(self.controller.experiments.running)

    def _why_busy(self) -> str:
        """Why nothing can be sent now (no controller or database, no provider, a run
        under way); "" when something can."""
        if self.controller is None:
            return NO_CONTROLLER
        reason: str = self.controller.experiments.why_not()
        if reason:
            return reason
        return "An experiment is running." if self.running() else ""

    def why_not(self) -> str:
        """Why Run is disabled; "" when it is not."""
        reason = self._why_busy()
        if reason:
            return reason
        if self.model_combo.count() == 0:
            return "No provider lists a model: add one in File ▸ Settings."
        if not self.inputs():
            return "Type at least one input to run the variants on, or load a file of them."
        if not self.argument_edit.text().strip():
            hint = ARGUMENT_HINTS[self.evaluator_combo.currentData()]
            return f"Give the evaluator's argument: {hint}."
        return ""

    def why_not_resume(self) -> str:
        """Why Resume is disabled; "" when it is not."""
        reason = self._why_busy()
        if reason:
            return reason
        e = self.experiment
        if e is None or e.id is None:
            return "Resume continues a cancelled or failed experiment: run or reopen one."
        if e.status == "running":
            return (f"Experiment {e.id} is marked running (under way, or stopped without "
                    "saying so): it is left alone.")
        if not can_resume(e):
            return f"Experiment {e.id} has a reply for every run: nothing to resume."
        return ""

    def refresh(self) -> None:
        reason = self.why_not()
        running = self.running()
        self.run_button.setEnabled(not reason)
        self.run_button.setToolTip(reason or "Run every variant on every input")
        resume_reason = self.why_not_resume()
        self.resume_button.setEnabled(not resume_reason)
        if resume_reason:
            self.resume_button.setToolTip(resume_reason)
        elif self.experiment is not None:
            e = self.experiment
            self.resume_button.setToolTip(
                f"Send the {missing_runs(e)} requests experiment {e.id} is missing (never "
                f"sent, or failed) on {e.model}; the {e.planned - missing_runs(e)} replies "
                "it has are kept, not sent again")
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(self.experiment is not None
                                      and self.controller is not None)
        idle = self.controller is not None and not self.busy_reading
        self.load_inputs_button.setEnabled(idle)
        self.load_variants_button.setEnabled(idle and not running)
        if not running and (self._reason_shown or not self.status.text()):
            self._say(reason, reason=True)

    def _say(self, text: str, reason: bool = False) -> None:
        """The status line: a reason (why Run is disabled) follows the reason as it
        changes; an outcome (loaded, exported, failed…) stays until the next one."""
        self.status.setText(text)
        self._reason_shown = reason

    # --- files: inputs and variants --------------------------------------------------
    def choose_inputs(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Load test inputs", "",
                                                    INPUT_FILES)
        if path:
            self.load_inputs(path)

    def load_inputs(self, path: str) -> None:
        """Read the inputs off the GUI thread; a bad file is one line and the inputs
        stay as they were."""
        if self.controller is None or self.busy_reading:
            return
        self._reading(f"Reading inputs from {path}…")
        self.controller.experiments.read_inputs(
            path, lambda inputs: self._inputs_loaded(path, inputs), self._not_read)

    def _inputs_loaded(self, path: str, inputs: list[str]) -> None:
        self.busy_reading = False
        name = one_line(path.replace("\\", "/").rpartition("/")[2])
        spans = any("\n" in i or "\r" in i for i in inputs)
        if spans:  # kept as they are; the box shows each on one line
            self.file_inputs = list(inputs)
            self.inputs_edit.blockSignals(True)
            self.inputs_edit.setPlainText("\n".join(bounded(i, PREVIEW_CHARS) for i in inputs))
            self.inputs_edit.blockSignals(False)
            self.inputs_edit.setReadOnly(True)
            self.inputs_label.setText(f"Inputs: {len(inputs):,} from {name}; some span "
                                      "lines, so they are shown one a line, read-only")
            self.type_inputs_button.setVisible(True)
        else:
            self.type_inputs()
            self.inputs_edit.setPlainText("\n".join(i.strip() for i in inputs))
        self._say(f"Loaded {len(inputs):,} inputs from {name}.")
        self.refresh()

    def type_inputs(self) -> None:
        """Back to typing the inputs (the ones a file brought are dropped)."""
        if self.file_inputs is not None:
            self.file_inputs = None
            self.inputs_edit.setReadOnly(False)
            self.inputs_edit.clear()
        self.inputs_label.setText("Inputs (one per line)")
        self.type_inputs_button.setVisible(False)
        self.refresh()

    def choose_variants(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Load variants", "", VARIANT_FILES)
        if path:
            self.load_variants(path)

    def load_variants(self, path: str) -> None:
        if self.controller is None or self.busy_reading:
            return
        self._reading(f"Reading variants from {path}…")
        self.controller.experiments.read_variants(
            path, lambda variants: self._variants_loaded(path, variants), self._not_read)

    def _variants_loaded(self, path: str, variants: list[Variant]) -> None:
        """The lab's variants become the file's (one undoable edit each); the lab names
        them by letter, the experiment by the file's names."""
        self.busy_reading = False
        name = one_line(path.replace("\\", "/").rpartition("/")[2])
        if len(variants) > MAX_LAB_VARIANTS:
            self._say(f"Cannot load {name}: {len(variants)} variants; the lab "
                                f"holds at most {MAX_LAB_VARIANTS}.")
            self.refresh()
            return
        while len(self.lab.variants) < len(variants):
            self.lab.add_variant()
        while len(self.lab.variants) > len(variants):
            self.lab.remove_variant(self.lab.variants[-1])
        for editor, variant in zip(self.lab.variants, variants, strict=True):
            editor.replace_text(variant.text)
        self.file_variants = list(zip(self.lab.variants, variants, strict=True))
        pairs = ", ".join(f"{editor.title.text()} = {bounded(v.name, 40)}"
                          for editor, v in self.file_variants)
        self._say(one_line(f"Loaded {len(variants)} variants from {name}: {pairs}."))
        self.refresh()

    def _reading(self, message: str) -> None:
        self.busy_reading = True
        self._say(one_line(message))
        self.refresh()

    def _not_read(self, message: str) -> None:
        self.busy_reading = False
        self._say(one_line(f"Cannot load it: {message}"))
        self.refresh()

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
        self._say(one_line(f"Running {total} requests on {request.model}…"))
        self.apply_button.setEnabled(False)
        self.controller.experiments.run(request, self._finished, self._failed)
        self.refresh()

    def resume(self) -> None:
        if self.why_not_resume() or self.controller is None or self.experiment is None:
            return
        e = self.experiment
        assert e.id is not None
        missing = missing_runs(e)
        self.progress.setRange(0, max(e.planned, 1))
        self.progress.setValue(e.planned - missing)
        self._say(one_line(f"Resuming experiment {e.id}: {missing} requests on "
                                     f"{e.model}…"))
        self.apply_button.setEnabled(False)
        self.controller.experiments.resume(e.id, self._finished, self._failed)
        self.refresh()

    def cancel(self) -> None:
        if self.controller is not None:
            self.controller.experiments.cancel()
            self._say("Cancelling: the replies that came back are kept…")

    def _progressed(self, progress: Progress) -> None:
        self.progress.setRange(0, progress.total)
        self.progress.setValue(progress.done)

    def _finished(self, experiment: Experiment) -> None:
        self.show_experiment(experiment)
        self.refresh_stored()
        self.refresh()

    def _failed(self, message: str) -> None:
        text = one_line(f"The experiment failed: {message}")
        stored_id = self.controller.experiments.last_id if self.controller else None
        if stored_id is not None and self.controller is not None:
            # what it stored before failing: shown, to resume
            def shown(experiment: Experiment) -> None:
                self.show_experiment(experiment)
                self._say(text + " Resume sends what is missing.")
                self.refresh_stored()
                self.refresh()

            self.controller.experiments.open_stored(stored_id, shown, lambda _m: None)
        self._say(text)
        self.refresh()

    # --- stored experiments ----------------------------------------------------------
    def refresh_stored(self) -> None:
        if self.controller is not None:
            self.controller.experiments.stored(self._list_stored)

    def _list_stored(self, experiments: list[Experiment]) -> None:
        chosen = self.experiment.id if self.experiment is not None else None
        self.past_combo.blockSignals(True)
        self.past_combo.clear()
        for e in experiments:
            self.past_combo.addItem(stored_label(e), e.id)
            self.past_combo.setItemData(self.past_combo.count() - 1, stored_label(e),
                                        Qt.ItemDataRole.ToolTipRole)
        self.past_combo.setCurrentIndex(self.past_combo.findData(chosen))
        self.past_combo.blockSignals(False)

    def _past_chosen(self, index: int) -> None:
        experiment_id = self.past_combo.itemData(index)
        if self.controller is None or experiment_id is None:
            return
        if self.experiment is not None and self.experiment.id == experiment_id:
            return
        self._say(f"Opening experiment {experiment_id}…")
        self.controller.experiments.open_stored(int(experiment_id), self._opened,
                                                self._not_opened)

    def _opened(self, experiment: Experiment) -> None:
        if self.past_combo.currentData() not in (None, experiment.id):
            return  # another was chosen since
        self.show_experiment(experiment)
        self.refresh()

    def _not_opened(self, message: str) -> None:
        self._say(one_line(f"Cannot open it: {message}"))
        self.refresh()

    # --- results ---------------------------------------------------------------------
    def show_experiment(self, experiment: Experiment) -> None:
        self.experiment = experiment
        rows = summary_rows(experiment)
        names = {s.rank: s.name for s in summarize(experiment)}
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c == 1:
                    item.setToolTip(bounded(names.get(r + 1, ""), 500))
                else:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        done = sum(1 for r in experiment.results if r.error is None)
        self.progress.setRange(0, max(experiment.planned, 1))
        self.progress.setValue(done)
        failed = sum(1 for r in experiment.results if r.error is not None)
        best = best_variant(experiment)
        words = (f"Experiment {experiment.id} on {experiment.model}, "
                 f"{experiment.evaluator}: {done} of {experiment.planned} replies"
                 f"{f', {failed} failed' if failed else ''}, {experiment.status}. ")
        words += (f"Most efficient: {best.name}." if best is not None
                  else "No variant completed a task.")
        if can_resume(experiment):
            words += f" Resume sends the {missing_runs(experiment)} missing."
        self._say(one_line(words))
        self.apply_button.setEnabled(best is not None)
        self.apply_button.setToolTip(bounded(best.text, 1000) if best is not None else "")
        found = self.past_combo.findData(experiment.id)
        if found >= 0 and found != self.past_combo.currentIndex():
            self.past_combo.blockSignals(True)
            self.past_combo.setCurrentIndex(found)
            self.past_combo.blockSignals(False)

    def choose_export(self) -> None:
        e = self.experiment
        if e is None:
            return
        filters = list(EXPORT_FILTERS)
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export the results", f"experiment-{e.id or 'results'}.csv",
            ";;".join(filters), filters[0])
        if not path:
            return
        if not path.lower().endswith(EXPORT_SUFFIXES):
            path += EXPORT_FILTERS.get(chosen, ".csv")
        self.export(path)

    def export(self, path: str) -> None:
        """Write the shown experiment's results to `path` (.csv or .json) off the GUI
        thread, as the command line's --export writes them."""
        if self.controller is None or self.experiment is None:
            return
        experiment_id = self.experiment.id
        self._say(one_line(f"Exporting to {path}…"))
        self.controller.experiments.export(
            self.experiment, path,
            lambda p: self._say(one_line(f"Exported experiment {experiment_id} "
                                                   f"to {p}.")),
            lambda m: self._say(one_line(f"Cannot export: {m}")))

    def apply_best(self) -> None:
        best = best_variant(self.experiment) if self.experiment is not None else None
        if best is None or self.controller is None:
            return
        if self.controller.experiments.apply_system_prompt(best.text):
            self._say(one_line(f"{best.name} is now the session's system prompt."))
        else:
            self._say("Open a session first: the best variant goes to its "
                                "system prompt.")
