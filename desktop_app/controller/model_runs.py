"""What Prompt Lab's runs through a model (experiments, progressive documents) share:
one run at a time, cancelled through its token; the models the configured providers
list; and why a run cannot start (no database yet, no provider)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController
    from desktop_app.core.cancel import CancelToken

NO_DATABASE = "The database is not open yet."


class ModelRunController(QObject):
    """A controller for one kind of run; `no_provider` says, for that kind, what to set
    up when no provider is configured."""

    no_provider = ""

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
        """Why a run cannot start now; "" when it can."""
        if self.app.state.db is None:
            return NO_DATABASE
        if not self.app.state.providers:
            return self.no_provider
        return ""
