"""Token-efficiency experiments from Prompt Lab (issue 16): the models the configured
providers serve, why an experiment cannot run, running one off the GUI thread (stored
as it goes by services.experiments.run_and_store, progress announced on the GUI
thread, cancellable with what came back kept), and applying the best variant to the
open session's system prompt through the sessions' own edit path."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop_app.core.cancel import CancelToken
from desktop_app.core.experiments import Experiment, Variant
from desktop_app.services.windows import serving_provider

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController

NO_PROVIDER_TO_RUN = ("Set up a provider to run experiments (File ▸ Settings); a local "
                      "server works.")
NO_DATABASE = "The database is not open yet."


@dataclass(frozen=True)
class ExperimentRequest:
    """What the lab asks for, copied off its widgets on the GUI thread."""

    variants: list[Variant]
    inputs: list[str]
    model: str
    evaluator: str  # "contains:Paris", "judge:gpt-4o-mini", ...
    repeats: int = 1
    concurrency: int = 1


class ExperimentsController(QObject):
    progressed = Signal(object)  # services.experiments.Progress, on the GUI thread

    def __init__(self, app: AppController) -> None:
        super().__init__(app)
        self.app = app
        self.cancel_token: CancelToken | None = None

    @property
    def running(self) -> bool:
        return self.cancel_token is not None

    def models(self) -> list[tuple[str, str]]:
        """(provider, model) for every model a configured provider lists."""
        return [(p.name, m) for p in self.app.state.providers for m in p.models]

    def why_not(self) -> str:
        """Why an experiment cannot run now; "" when it can."""
        if self.app.state.db is None:
            return NO_DATABASE
        if not self.app.state.providers:
            return NO_PROVIDER_TO_RUN
        return ""

    def run(self, request: ExperimentRequest, done: Callable[[Experiment], None],
            fail: Callable[[str], None]) -> CancelToken:
        """Run and store the experiment on a worker; `done` gets the stored experiment
        (status "finished" or "cancelled": what came back is kept either way)."""
        from desktop_app.services.experiments import make_evaluator, run_and_store

        state = self.app.state
        db, connections = state.db, self.app.setup.connections
        providers, default = list(state.providers), state.default_provider
        token = self.cancel_token = CancelToken()

        def connection_for(model: str) -> Any:
            provider = serving_provider(providers, model, default)
            return connections.get(db, model, provider.name if provider else None,
                                   discover=False)

        def job() -> Experiment:
            connection = connection_for(request.model)
            kind = request.evaluator.partition(":")[0].strip().lower()
            judge = None
            if kind == "judge":
                judge_model = request.evaluator.partition(":")[2].strip()
                judge = connection_for(judge_model).client if judge_model else None
            evaluator = make_evaluator(request.evaluator, load=_load_json,
                                       judge_client=judge, cancel=token)
            experiment = Experiment(
                model=request.model, evaluator=request.evaluator,
                variants=list(request.variants), inputs=list(request.inputs),
                repeats=request.repeats, concurrency=request.concurrency,
                provider=connection.provider)
            return run_and_store(db, connection.client, experiment, evaluator,
                                 cancel=token, on_progress=self.progressed.emit)

        def finished(experiment: Experiment) -> None:
            self.cancel_token = None
            done(experiment)

        def failed(message: str) -> None:
            self.cancel_token = None
            fail(message)

        self.app.ops.run(job, finished, failed, serial=False)
        return token

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
    facts may also be given one per line)."""
    from desktop_app.core.evaluators import EvaluatorError

    try:
        return json.loads(arg)
    except json.JSONDecodeError:
        if kind == "retention":
            facts = [line.strip() for line in arg.replace(",", "\n").splitlines()]
            return [f for f in facts if f]
        raise EvaluatorError(f"{kind}: the argument is not valid JSON") from None
