"""Progressive documents from Prompt Lab's Document tab: reading the document, the
models the configured providers serve and the window each one gives, why a run cannot
start, and a run (new or resumed from the one saved in the data folder) off the GUI
thread through services.progressive, each step announced on the GUI thread with the
request it sent. Stop keeps what is done (the service saves the run after every part);
a failure is one line and keeps it too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal

from desktop_app.controller.model_runs import NO_DATABASE, ModelRunController
from desktop_app.core.cancel import CancelToken
from desktop_app.services.windows import serving_provider

if TYPE_CHECKING:
    from desktop_app.services.documents import Document
    from desktop_app.services.progressive import RunState, StepRequest

NO_PROVIDER_TO_RUN = ("Set up a provider to run a document through a model (File ▸ "
                      "Settings); a local server works.")


@dataclass(frozen=True)
class Opened:
    """A document read, with the newest unfinished run over the same text, if any."""

    document: Document
    unfinished: RunState | None


@dataclass(frozen=True)
class Started:
    """A run under way: its state as it starts (the steps already done on a resume,
    with their requests) and the window it is budgeted in."""

    state: RunState
    requests: list[StepRequest]
    window: int


class ProgressiveController(ModelRunController):
    started = Signal(object)  # Started, on the GUI thread
    stepped = Signal(object)  # services.progressive.Progress, on the GUI thread

    no_provider = NO_PROVIDER_TO_RUN


    def window_for(self, model: str) -> int:
        """The window to budget `model` with: the resolver's (catalog, the user's
        setting, what the server serves)."""
        state = self.app.state
        provider = serving_provider(state.providers, model, state.default_provider)
        return state.resolver.model(model, provider)[1].tokens

    def read(self, path: str, done: Callable[[Opened], None],
             fail: Callable[[str], None]) -> None:
        """Read the document off the GUI thread (a PDF's text extracted, bounded)."""
        from desktop_app.services.documents import read_document
        from desktop_app.services.progressive import unfinished_run

        data_dir = self.app.state.data_dir

        def job() -> Opened:
            document = read_document(path)
            found = unfinished_run(data_dir, document.text) if data_dir else None
            return Opened(document, found)

        self.app.ops.run(job, done, fail, serial=False)

    def run(self, document: Document, task: str, model: str, window: int | None,
            done: Callable[[RunState], None], fail: Callable[[str], None]) -> CancelToken:
        """A new run of `task` over the document on `model`, in at most `window` tokens
        (None: the model's window)."""
        return self._run(document, done, fail, task=task, model=model, window=window)

    def resume(self, document: Document, run_id: str, window: int | None,
               done: Callable[[RunState], None], fail: Callable[[str], None]) -> CancelToken:
        """Continue the saved run `run_id` over the same document."""
        return self._run(document, done, fail, run_id=run_id, window=window)

    def _run(self, document: Document, done: Callable[[RunState], None],
             fail: Callable[[str], None], *, task: str = "", model: str = "",
             run_id: str | None = None, window: int | None = None) -> CancelToken:
        from desktop_app.services.progressive import (
            Progress,
            load_state,
            run_progressive,
            start_run,
            step_requests,
            text_hash,
        )

        state = self.app.state
        db, data_dir, resolver = state.db, state.data_dir, state.resolver
        providers, default = list(state.providers), state.default_provider
        connections = self.app.setup.connections
        token = self.cancel_token = CancelToken()
        text = document.text

        def job() -> RunState:
            if data_dir is None or db is None:
                raise RuntimeError(NO_DATABASE)
            saved = load_state(data_dir, run_id) if run_id else None
            name = saved.model if saved is not None else model
            provider = serving_provider(providers, name, default)
            connection = connections.get(db, name, provider.name if provider else None,
                                         discover=False)
            info, resolved = resolver.model(name, provider)
            limit = min(connection.context_window or resolved.tokens, resolved.tokens)
            if window:
                limit = min(limit, window)
            if saved is None:
                run = start_run(info, limit, task, text, document.path)
                requests: list[StepRequest] = []
            else:
                run = saved
                requests = step_requests(run, text) if run.file_hash == text_hash(text) else []
            self.started.emit(Started(snapshot(run), requests, min(limit, run.window)))
            if run.status == "finished" and run.answer is not None:
                return run

            def step(progress: Progress) -> None:  # the GUI gets a copy it alone reads
                self.stepped.emit(replace(progress, state=snapshot(progress.state)))

            return run_progressive(connection.client, info, run, text, data_dir, window=limit,
                                   cancel=token, on_step=step)

        def finished(run: RunState) -> None:
            self.cancel_token = None
            done(run)

        def failed(message: str) -> None:
            self.cancel_token = None
            fail(message)

        self.app.ops.run(job, finished, failed, serial=False)
        return token

    def stop(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()


def snapshot(state: RunState) -> RunState:
    """A copy of a run's state the worker goes on without changing (its steps are
    never changed once made)."""
    return replace(state, steps=list(state.steps))
