"""Token-efficiency experiments from Prompt Lab (issue 16): the models the configured
providers serve, why an experiment cannot run, running one off the GUI thread (stored
as it goes by services.experiments.run_and_store, progress announced on the GUI
thread, cancellable with what came back kept), resuming a stopped one (only what is
missing is sent), the stored experiments to reopen, inputs and variants read from a
file and results exported to one (the command line's readers and export), and applying
the best variant to the open session's system prompt through the sessions' own edit
path. Files and the database are read off the GUI thread too."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal

from desktop_app.controller.model_runs import NO_DATABASE, ModelRunController
from desktop_app.core.cancel import CancelToken
from desktop_app.core.experiments import Experiment, Variant
from desktop_app.services.windows import serving_provider

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController

NO_PROVIDER_TO_RUN = ("Set up a provider to run experiments (File ▸ Settings); a local "
                      "server works.")
MAX_LISTED = 200  # stored experiments offered to reopen, newest first


@dataclass(frozen=True)
class ExperimentRequest:
    """What the lab asks for, copied off its widgets on the GUI thread."""

    variants: list[Variant]
    inputs: list[str]
    model: str
    evaluator: str  # "contains:Paris", "judge:gpt-4o-mini", ...
    repeats: int = 1
    concurrency: int = 1


class ExperimentsController(ModelRunController):
    progressed = Signal(object)  # services.experiments.Progress, on the GUI thread

    no_provider = NO_PROVIDER_TO_RUN

    def __init__(self, app: AppController) -> None:
        super().__init__(app)
        self.last_id: int | None = None  # the stored experiment of the newest run

    def run(self, request: ExperimentRequest, done: Callable[[Experiment], None],
            fail: Callable[[str], None]) -> CancelToken:
        """Run and store the experiment on a worker; `done` gets the stored experiment
        (status "finished" or "cancelled": what came back is kept either way). When it
        fails, `last_id` names the stored experiment (if it got that far) to resume."""
        from desktop_app.services.experiments import run_and_store

        db = self.app.state.db
        made: list[Experiment] = []  # the experiment as the worker made it

        def job(connection_for: Callable[[str, str | None], Any],
                token: CancelToken) -> Experiment:
            if db is None:
                raise RuntimeError(NO_DATABASE)
            connection = connection_for(request.model, None)
            evaluator = self._evaluator(request.evaluator, connection_for, token)
            experiment = Experiment(
                model=request.model, evaluator=request.evaluator,
                variants=list(request.variants), inputs=list(request.inputs),
                repeats=request.repeats, concurrency=request.concurrency,
                provider=connection.provider)
            made.append(experiment)
            return run_and_store(db, connection.client, experiment, evaluator,
                                 cancel=token, on_progress=self.progressed.emit)

        def failed(message: str) -> None:  # stored before it failed: that one to resume
            self.last_id = made[0].id if made else None
            fail(message)

        self.last_id = None
        return self._start(job, done, failed)

    def resume(self, experiment_id: int, done: Callable[[Experiment], None],
               fail: Callable[[str], None]) -> CancelToken:
        """Run what the stored experiment has not run yet (services.experiments.
        resume_stored: its failed requests again, the replies it has never sent again),
        on its model and with its evaluator."""
        from desktop_app.services.experiments import resume_stored

        db = self.app.state.db
        self.last_id = experiment_id

        def job(connection_for: Callable[[str, str | None], Any],
                token: CancelToken) -> Experiment:
            if db is None:
                raise RuntimeError(NO_DATABASE)
            stored = db.experiments.get(experiment_id)
            connection = connection_for(stored.model, stored.provider)
            evaluator = self._evaluator(stored.evaluator, connection_for, token)
            return resume_stored(db, connection.client, experiment_id, evaluator,
                                 cancel=token, on_progress=self.progressed.emit)

        return self._start(job, done, fail)

    @staticmethod
    def _evaluator(spec: str, connection_for: Callable[[str, str | None], Any],
                   token: CancelToken) -> Any:
        from desktop_app.services.experiments import make_evaluator

        kind, _, argument = spec.partition(":")
        judge = None
        if kind.strip().lower() == "judge" and argument.strip():
            judge = connection_for(argument.strip(), None).client
        return make_evaluator(spec, load=_load_json, judge_client=judge, cancel=token)

    def _start(self, job: Callable[..., Experiment], done: Callable[[Experiment], None],
               fail: Callable[[str], None]) -> CancelToken:
        state = self.app.state
        db, connections = state.db, self.app.setup.connections
        providers, default = list(state.providers), state.default_provider
        token = self.cancel_token = CancelToken()

        def connection_for(model: str, provider_name: str | None) -> Any:
            named = next((p for p in providers if p.name == provider_name), None)
            provider = named or serving_provider(providers, model, default)
            return connections.get(db, model, provider.name if provider else None,
                                   discover=False)

        def finished(experiment: Experiment) -> None:
            self.cancel_token = None
            self.last_id = experiment.id
            done(experiment)

        def failed(message: str) -> None:
            self.cancel_token = None
            fail(message)

        self.app.ops.run(lambda: job(connection_for, token), finished, failed, serial=False)
        return token

    # --- stored experiments and files --------------------------------------------------
    def stored(self, done: Callable[[list[Experiment]], None],
               fail: Callable[[str], None] | None = None) -> None:
        """The stored experiments, newest first, without their results."""
        db = self.app.state.db
        if db is None:
            return
        self.app.ops.run(lambda: db.experiments.list(MAX_LISTED), done, fail)

    def open_stored(self, experiment_id: int, done: Callable[[Experiment], None],
                    fail: Callable[[str], None]) -> None:
        """A stored experiment with every result it has."""
        db = self.app.state.db
        if db is None:
            fail(NO_DATABASE)
            return
        self.app.ops.run(lambda: db.experiments.get(experiment_id), done, fail)

    def read_inputs(self, path: str, done: Callable[[list[str]], None],
                    fail: Callable[[str], None]) -> None:
        """Inputs from a JSON, CSV or text file, as `--inputs` reads them."""
        from desktop_app.services.experiments import read_inputs_file

        self.app.ops.run(lambda: read_inputs_file(path), done, fail, serial=False)

    def read_variants(self, path: str, done: Callable[[list[Variant]], None],
                      fail: Callable[[str], None]) -> None:
        """Variants from a JSON or text file, as `--variants` reads them."""
        from desktop_app.services.experiments import read_variants_file

        self.app.ops.run(lambda: read_variants_file(path), done, fail, serial=False)

    def export(self, experiment: Experiment, path: str, done: Callable[[str], None],
               fail: Callable[[str], None]) -> None:
        """Write the results to `path` (.csv or .json), as `--export` writes them."""
        from desktop_app.services.experiments import write_export

        def job() -> str:
            write_export(experiment, path)
            return path

        self.app.ops.run(job, done, fail, serial=False)

    def cancel(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()

    def apply_system_prompt(self, text: str) -> bool:
        """The open session's system prompt becomes `text`, stored at once; False when
        no session is open."""
        session = self.app.state.session
        if session is None or session.id is None:
            return False
        self.app.sessions.edit_context(session.id, system_prompt=text)
        self.app.sessions.save_context_now()
        return True


def _load_json(kind: str, arg: str) -> Any:
    """A json-schema or retention argument typed in the lab: JSON text (a retention's
    facts may also be given one per line). An experiment the command line stored names a
    file instead (json-schema:FILE): resuming it reads that file when it is there."""
    from pathlib import Path

    from desktop_app.core.evaluators import EvaluatorError
    from desktop_app.services.experiments import ExperimentError, read_file_text

    try:
        return json.loads(arg)
    except (json.JSONDecodeError, RecursionError):
        try:
            named = Path(arg).is_file() if arg and len(arg) < 4096 else False
        except (OSError, ValueError):
            named = False
        if named:
            try:
                return json.loads(read_file_text(arg))
            except (ExperimentError, json.JSONDecodeError, RecursionError) as exc:
                raise EvaluatorError(f"{kind}: {exc}") from None
        if kind == "retention":
            facts = [line.strip() for line in arg.replace(",", "\n").splitlines()]
            return [f for f in facts if f]
        raise EvaluatorError(f"{kind}: the argument is not valid JSON") from None
