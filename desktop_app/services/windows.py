"""The one answer to "how big is this model's window here, and how does it count": the
catalog's figure, the user's own setting for the provider, and never more than what the
server serves once it has said; the server's own vocabulary and chat template when it
said which; and the chat framing learned from what it reported. Used alike by the
gauge, the inspector, the turn, the summarizer and the fact extractor, so they can never
budget against different windows or count with different tokenizers.

What a server serves is learned on a worker (asking the server, or from its replies),
kept per provider and model, and stored in the settings table, so the next start knows
it without asking."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from desktop_app.core.catalog import ModelInfo, lookup_model
from desktop_app.core.framing_fit import NONE as NO_DELTA
from desktop_app.core.framing_fit import FramingDelta, add_sample, fit
from desktop_app.core.tokenizers import SPECS

if TYPE_CHECKING:
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.store.database import Database

SERVED_WINDOWS_SETTING = "served_windows"  # {provider: {model: tokens}}
SERVED_COUNTING_SETTING = "served_counting"  # {provider: {model: {tokenizer, template}}}
LEARNED_FRAMING_SETTING = "learned_framing"  # {provider: {model: [[messages, delta], ...]}}


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


# A server that did not say its window is asked again once this long has passed: it may
# have been started, or have loaded the model, since.
ASK_AGAIN_S = 60.0


class WindowResolver:
    """Thread-safe: the GUI thread resolves while a worker may learn."""

    def __init__(self, served: Mapping[str, Mapping[str, int]] | None = None,
                 counting: Mapping[str, Mapping[str, Any]] | None = None,
                 framing: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._served: dict[tuple[str, str], int] = {}
        self._counting: dict[tuple[str, str], tuple[str, str | None]] = {}
        self._framing: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._asked: dict[tuple[str, str], float] = {}  # servers asked this run: when
        for provider, model, tokens in _entries(served):
            if isinstance(tokens, int) and tokens > 0:
                self._served[(provider, model)] = tokens
        for provider, model, fact in _entries(counting):
            if isinstance(fact, Mapping) and fact.get("tokenizer") in SPECS:
                template = fact.get("template")
                self._counting[(provider, model)] = (
                    fact["tokenizer"], template if isinstance(template, str) else None)
        for provider, model, pairs in _entries(framing):
            if isinstance(pairs, list):
                self._framing[(provider, model)] = [
                    (int(p[0]), int(p[1])) for p in pairs
                    if isinstance(p, list | tuple) and len(p) == 2
                    and all(isinstance(v, int) for v in p)]

    @classmethod
    def from_store(cls, db: Database | None) -> WindowResolver:
        if db is None:
            return cls()
        stored = [db.settings.get(key, {}) for key in (
            SERVED_WINDOWS_SETTING, SERVED_COUNTING_SETTING, LEARNED_FRAMING_SETTING)]
        return cls(*(value if isinstance(value, dict) else {} for value in stored))

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

    def should_ask(self, provider: str, model: str) -> bool:
        """Has the server not been asked about this model yet (this run), or did it not
        say its window when last asked, ASK_AGAIN_S or more ago? (Asking is a few
        requests and some 100 ms of Python beside the window: not at every session
        opened and every turn with a server that has no way to say.)"""
        key = (provider, model)
        with self._lock:
            when = self._asked.get(key)
            if when is None:
                return True
            return key not in self._served and time.monotonic() - when >= ASK_AGAIN_S

    def asked(self, provider: str, model: str) -> None:
        with self._lock:
            self._asked[(provider, model)] = time.monotonic()

    def learn_counting(self, provider: str, model: str, tokenizer: str | None,
                       template: str | None) -> bool:
        """Remember which shipped tokenizer the server's vocabulary is, and its chat
        template; True when that changes anything."""
        if tokenizer not in SPECS:
            return False
        assert tokenizer is not None
        with self._lock:
            if self._counting.get((provider, model)) == (tokenizer, template):
                return False
            self._counting[(provider, model)] = (tokenizer, template)
            return True

    def learn_framing(self, provider: str, model: str, messages: int, delta: int) -> bool:
        """One turn's report: the server counted `delta` more than we did (framing
        included) for a request of `messages` messages. True when that changes the fit."""
        with self._lock:
            before = self._framing.get((provider, model), [])
            after = add_sample(before, messages, delta)
            self._framing[(provider, model)] = after
            return fit(after) != fit(before)

    def framing(self, provider: str | None, model: str) -> FramingDelta:
        if provider is None:
            return NO_DELTA
        with self._lock:
            return fit(self._framing.get((provider, model), []))

    def forget(self, provider: str) -> None:
        """A provider changed or went: what its server said no longer holds."""
        with self._lock:
            for facts in (self._served, self._counting, self._framing):
                for key in [k for k in facts if k[0] == provider]:
                    del facts[key]

    def as_setting(self) -> dict[str, dict[str, int]]:
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for (provider, model), tokens in self._served.items():
                out.setdefault(provider, {})[model] = tokens
            return out

    def save(self, db: Database) -> None:
        with self._lock:
            counting: dict[str, dict[str, Any]] = {}
            for (provider, model), (tokenizer, template) in self._counting.items():
                counting.setdefault(provider, {})[model] = {
                    "tokenizer": tokenizer, "template": template}
            framing: dict[str, dict[str, Any]] = {}
            for (provider, model), pairs in self._framing.items():
                framing.setdefault(provider, {})[model] = [list(p) for p in pairs]
        db.settings.set(SERVED_WINDOWS_SETTING, self.as_setting())
        db.settings.set(SERVED_COUNTING_SETTING, counting)
        db.settings.set(LEARNED_FRAMING_SETTING, framing)

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
        if provider_name is not None:
            with self._lock:
                counting = self._counting.get((provider_name, name))
            if counting is not None:
                info = _counted_by_server(info, *counting)
            info = replace(info, learned_framing=self.framing(provider_name, name))
        return info, window


def _entries(nested: Mapping[str, Any] | None) -> list[tuple[str, str, Any]]:
    """(provider, model, value) of a {provider: {model: value}} setting."""
    out: list[tuple[str, str, Any]] = []
    for provider, models in (nested or {}).items():
        if isinstance(models, Mapping):
            out.extend((str(provider), str(model), value) for model, value in models.items())
    return out


def _counted_by_server(info: ModelInfo, tokenizer: str, template: str | None) -> ModelInfo:
    """`info` counted with the vocabulary the server was found to use, and its template
    (the server's own when it gave one, else the family's)."""
    from desktop_app.core.chat_template import TemplateError, register_template

    key = info.template
    if template:
        try:
            key = register_template(template)
        except TemplateError:
            key = info.template
    return replace(info, encoding=tokenizer, exact=True, template=key, warning=None,
                   family=info.family or SPECS[tokenizer].family, counting_note=None)


def serving_provider(providers: list[ProviderConfig], model: str,
                     default: str | None = None) -> ProviderConfig | None:
    """The provider a model is sent to: the one that lists it, else the default one."""
    listed = next((p for p in providers if model in (p.models or [])), None)
    if listed is not None:
        return listed
    return next((p for p in providers if p.name == default), None)
