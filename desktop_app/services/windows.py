"""The one answer to "how big is this model's window here": the catalog's figure, the
user's own setting for the provider, and never more than what the server serves once
it has said. Used alike by the gauge, the inspector, the turn, the summarizer and the
fact extractor, so they can never budget against different windows.

What a server serves is learned on a worker (asking the server), kept per provider and
model, and stored in the settings table, so the next start knows it without asking."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from desktop_app.core.catalog import ModelInfo, lookup_model

if TYPE_CHECKING:
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.store.database import Database

SERVED_WINDOWS_SETTING = "served_windows"  # {provider: {model: tokens}}


class WindowSource(StrEnum):
    CATALOG = "catalog"
    SETTING = "your setting"
    SERVER = "served"


@dataclass(frozen=True)
class ResolvedWindow:
    tokens: int
    source: WindowSource
    provider: str | None = None  # the provider whose setting or server gave it

    def describe(self) -> str:
        """Where the figure comes from, for a tooltip or the command line."""
        if self.source is WindowSource.SERVER:
            return f"{self.tokens:,} tokens, as {self.provider or 'the server'} serves it"
        if self.source is WindowSource.SETTING:
            return f"{self.tokens:,} tokens, from your setting for {self.provider}"
        return f"{self.tokens:,} tokens, from the model catalog"

    def tag(self) -> str:
        """A few words for beside the figures when the window is not the catalog's, so
        that 4,096 reads as the server's window, not the model's; empty otherwise."""
        if self.source is WindowSource.SERVER:
            return f"served by {self.provider}" if self.provider else "as served"
        if self.source is WindowSource.SETTING:
            return "your setting"
        return ""


def resolve_window(catalog: int, setting: int | None, served: int | None,
                   provider: str | None = None) -> ResolvedWindow:
    """The user's setting if any, else the catalog's figure; never more than the server
    serves (a server cuts or refuses what does not fit, whatever anyone claims)."""
    if setting:
        window = ResolvedWindow(int(setting), WindowSource.SETTING, provider)
    else:
        window = ResolvedWindow(int(catalog), WindowSource.CATALOG, provider)
    if served and served < window.tokens:
        window = ResolvedWindow(int(served), WindowSource.SERVER, provider)
    return window


class WindowResolver:
    """Thread-safe: the GUI thread resolves while a worker may learn."""

    def __init__(self, served: Mapping[str, Mapping[str, int]] | None = None) -> None:
        self._lock = threading.Lock()
        self._served: dict[tuple[str, str], int] = {}
        for provider, models in (served or {}).items():
            for model, tokens in (models or {}).items():
                if isinstance(tokens, int) and tokens > 0:
                    self._served[(provider, model)] = tokens

    @classmethod
    def from_store(cls, db: Database | None) -> WindowResolver:
        stored = db.settings.get(SERVED_WINDOWS_SETTING, {}) if db is not None else {}
        return cls(stored if isinstance(stored, dict) else {})

    def served(self, provider: str | None, model: str) -> int | None:
        if provider is None:
            return None
        with self._lock:
            return self._served.get((provider, model))

    def learn(self, provider: str, model: str, tokens: int | None) -> bool:
        """Remember what the server said; True when that changes anything."""
        if not tokens or tokens < 1:
            return False
        with self._lock:
            if self._served.get((provider, model)) == tokens:
                return False
            self._served[(provider, model)] = int(tokens)
            return True

    def forget(self, provider: str) -> None:
        """A provider changed or went: what its server said no longer holds."""
        with self._lock:
            for key in [k for k in self._served if k[0] == provider]:
                del self._served[key]

    def as_setting(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (provider, model), tokens in self._served.items():
                out.setdefault(provider, {})[model] = tokens
            return out

    def save(self, db: Database) -> None:
        db.settings.set(SERVED_WINDOWS_SETTING, self.as_setting())

    def model(self, name: str, provider: ProviderConfig | None = None
              ) -> tuple[ModelInfo, ResolvedWindow]:
        """The catalog entry for `name` with the window to budget with, and where that
        window comes from. `provider` is the provider that serves the model, or None."""
        info = lookup_model(name)
        provider_name = provider.name if provider is not None else None
        setting = provider.window_override(name) if provider is not None else None
        window = resolve_window(info.context_window, setting,
                                self.served(provider_name, name), provider_name)
        if window.tokens != info.context_window:
            info = info.with_context_window(window.tokens)
        return info, window


def serving_provider(providers: list[ProviderConfig], model: str,
                     default: str | None = None) -> ProviderConfig | None:
    """The provider a model is sent to: the one that lists it, else the default one."""
    listed = next((p for p in providers if model in (p.models or [])), None)
    if listed is not None:
        return listed
    return next((p for p in providers if p.name == default), None)
