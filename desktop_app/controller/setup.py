"""Providers and settings: the servers the user set up (their keys go to the keychain,
never the database), testing a connection, learning the window each server really
serves, the defaults for new sessions, and the work a turn and a fold need from all
of these, handed to the worker as arguments."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer

from desktop_app.controller.state import NO_PROVIDER
from desktop_app.core.catalog import default_catalog
from desktop_app.services.connection import DEFAULT_PROVIDER_SETTING, Connection, connect
from desktop_app.services.turn import Outcome, TurnOutcome, run_turn, set_aside
from desktop_app.services.windows import WindowResolver, serving_provider

if TYPE_CHECKING:
    from desktop_app.controller.app_controller import AppController
    from desktop_app.core.cancel import CancelToken
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.llm.server_counting import ServerCounting
    from desktop_app.services.compaction import Compaction
    from desktop_app.services.folding import FoldResult
    from desktop_app.services.request import ResolveModel

log = logging.getLogger(__name__)

# Once a server can be asked, the openai SDK (with httpx and pydantic: half a second of
# Python, and C extensions whose loading holds the GIL for tens of milliseconds) is
# imported on a worker this long after, while the window is still settling, rather than
# by the first request: that reply waited for it, and the window stalled as it began.
SDK_PRELOAD_DELAY_MS = 1_000


class Connections:
    """Clients kept per provider and model until the providers change. Thread-safe:
    turns on several workers may ask at once."""

    def __init__(self, keys: Any = None) -> None:
        self._lock = threading.Lock()
        self._found: dict[tuple[str | None, str], Connection] = {}
        self._keys = keys  # the keychain access; made on first use unless given

    def keystore(self) -> Any:
        with self._lock:
            if self._keys is None:
                from desktop_app.llm.keys import KeyStore

                self._keys = KeyStore()
            return self._keys

    def get(self, db: Any, model: str, provider: str | None, discover: bool = True) -> Connection:
        """`discover`: ask the server its window (not when the resolver knows it)."""
        key = (provider, model)
        with self._lock:
            found = self._found.get(key)
        if found is None:
            found = connect(db, model, provider=provider, keys=self.keystore(),
                            discover=discover)
            if found is None:
                raise RuntimeError(NO_PROVIDER)
            with self._lock:
                self._found[key] = found
        return found

    def clear(self) -> None:
        with self._lock:
            self._found.clear()


class SetupController:
    def __init__(self, app: AppController, keys: Any = None) -> None:
        self.app = app
        self.state = app.state
        self.connections = Connections(keys)
        self._sdk_preloading = False

    def announce(self) -> None:
        self.app.providerStateChanged.emit(self.state.can_send,
                                           "" if self.state.can_send else NO_PROVIDER)

    def set_providers(self, providers: list[ProviderConfig]) -> None:
        state = self.state
        state.providers = list(providers)
        self.connections.clear()
        state.can_send = bool(state.providers) or bool(os.environ.get("OPENAI_API_KEY"))
        self.app.providersChanged.emit(state.providers)
        self.announce()
        self.app.budget.announce_choices()
        self.learn_window(self.app.budget.selection().model)
        if state.can_send and not self._sdk_preloading:
            self._sdk_preloading = True
            QTimer.singleShot(SDK_PRELOAD_DELAY_MS, self.app, self._preload_sdk)

    def _preload_sdk(self) -> None:
        if self.app.closed:
            return

        def preload() -> None:
            from desktop_app.llm.client import preload_sdk

            preload_sdk()

        self.app.ops.run(preload, serial=False)

    # --- the window each server serves ---------------------------------------------------
    def learn_window(self, model: str) -> None:
        """Ask the server that serves `model` what window it serves (once per provider
        and model); the preview follows when it answers."""
        provider = serving_provider(self.state.providers, model, self.state.default_provider)
        db, resolver = self.state.db, self.state.resolver
        if (provider is None or provider.preset == "openai" or db is None
                or not resolver.should_ask(provider.name, model)):
            return
        connections = self.connections

        def ask() -> bool:
            from desktop_app.llm.providers import discover_context_window
            from desktop_app.services.connection import discover_counting

            key = connections.keystore().get(provider.name, provider.preset)
            found = discover_context_window(provider, model, key)
            counting = discover_counting(provider, model, key)
            return _learn(db, resolver, provider.name, model, found.tokens, counting)

        def done(changed: bool) -> None:
            if changed:
                self.app.budget.refresh(full=True)

        self.app.ops.run(ask, done, lambda msg: log.info("no window from the server: %s", msg),
                         serial=False)

    # --- the work of a turn, and of the fold after it ------------------------------------
    def turn_job(self, session_id: int, model: str, text: str, *,
                 on_chunk: Callable[[str], None], on_notice: Callable[[str], None],
                 cancel: CancelToken) -> Callable[[], TurnOutcome]:
        provider = serving_provider(self.state.providers, model, self.state.default_provider)
        name = provider.name if provider is not None else None
        db, resolver, connections = self.state.db, self.state.resolver, self.connections

        def job() -> TurnOutcome:
            ask = name is None or resolver.should_ask(name, model)
            connection = connections.get(db, model, name, discover=ask)
            for warning in connection.warnings:
                on_notice(warning)
            _learn(db, resolver, connection.provider, model, connection.served,
                   connection.counting)
            outcome = run_turn(db, connection.client, session_id, text,
                               lambda n: resolver.model(n, provider), on_chunk=on_chunk,
                               on_notice=on_notice, cancel=cancel)
            if outcome.framing_sample and name is not None:
                _learn_framing(db, resolver, name, model, outcome.framing_sample)
            failed = outcome.outcome in (Outcome.FAILED, Outcome.INTERRUPTED)
            if failed and not (outcome.reply and outcome.reply.content):
                set_aside(db, outcome)
            return outcome

        return job

    def fold_job(self, session_id: int) -> Callable[[], FoldResult]:
        helper = self._helper(session_id)

        def job() -> FoldResult:
            from desktop_app.services.folding import fold_after_reply

            db, client, resolve = helper()
            return fold_after_reply(db, session_id, resolve, client)

        return job

    def compact_job(self, session_id: int, focus: str) -> Callable[[], Compaction]:
        """Compact now (services.compaction), through the model when one is set up."""
        helper = self._helper(session_id)

        def job() -> Compaction:
            from desktop_app.services.compaction import compact_now

            db, client, resolve = helper()
            return compact_now(db, session_id, resolve, client, focus=focus)

        return job

    def _helper(self, session_id: int) -> Callable[[], tuple[Any, Any, ResolveModel]]:
        """For work off the GUI thread that may ask the model (a summary, facts): the
        database, the client for the session's model (None: the offline methods do the
        work) and how its window resolves. What it needs of the state is copied now, on
        the GUI thread; the client is made on the worker."""
        db, resolver, connections = self.state.db, self.state.resolver, self.connections
        providers, default = list(self.state.providers), self.state.default_provider
        can_send = self.state.can_send

        def helper() -> tuple[Any, Any, ResolveModel]:
            model = db.sessions.get(session_id).model
            provider = serving_provider(providers, model, default)
            client = None
            if can_send:
                try:
                    name = provider.name if provider else None
                    known = resolver.served(name, model) is not None
                    client = connections.get(db, model, name, discover=not known).client
                except Exception as exc:  # noqa: BLE001 - the offline methods fold instead
                    log.info("folding offline: %s", exc)
            return db, client, lambda n: resolver.model(n, provider)

        return helper

    # --- settings ------------------------------------------------------------------------
    def settings_snapshot(self) -> dict[str, Any]:
        state = self.state
        return {
            "data_dir": str(state.data_dir) if state.data_dir else "",
            "default_model": state.defaults["model"],
            "default_profile": state.defaults["profile"],
            "default_strategy": state.defaults["strategy"],
            "models": [m.name for m in default_catalog().models],
            "profiles": list(state.profiles),
        }

    def set_default(self, what: str, value: str) -> None:
        if what in self.state.defaults and value:
            self.state.defaults[what] = value
            self.save_setting(f"default_{what}", value)
            if self.state.session is None:
                self.app.budget.announce_selection()
                self.app.budget.refresh()

    def save_setting(self, key: str, value: Any) -> None:
        db = self.state.db
        if db is not None:
            self.app.ops.run(lambda: db.settings.set(key, value), None, self.app.fail)

    # --- your own models (models.json in the data folder) ---------------------------------
    def save_user_model(self, model: Any, replacing: str | None = None) -> None:
        """Add or change one of your models (core.user_models.UserModel); every picker,
        the gauge and the inspector follow once the catalog is read again."""
        from desktop_app.core.user_models import save_user_model

        data_dir = self.state.data_dir
        self._edit_user_models(lambda: save_user_model(model, data_dir, replacing))

    def remove_user_model(self, name: str) -> None:
        from desktop_app.core.user_models import remove_user_model

        data_dir = self.state.data_dir
        self._edit_user_models(lambda: remove_user_model(name, data_dir))

    def _edit_user_models(self, edit: Callable[[], Any]) -> None:
        data_dir = self.state.data_dir

        def job() -> tuple[list[Any], list[str]]:
            from desktop_app.core.catalog import default_catalog, set_data_dir
            from desktop_app.core.user_models import load_user_models

            edit()
            set_data_dir(data_dir)  # read again, with the file as it is now
            default_catalog()
            return load_user_models(data_dir)

        def done(out: tuple[list[Any], list[str]]) -> None:
            self.app.userModelsChanged.emit(*out)
            budget = self.app.budget
            budget.announce_choices()
            budget.announce_counting()
            budget.refresh(full=True)

        self.app.ops.run(job, done, self.app.fail)

    # --- providers -----------------------------------------------------------------------
    def save_provider(self, provider: ProviderConfig, api_key: str | None = None) -> None:
        """Store a provider's settings, and its key in the keychain (never the database)."""
        db = self.state.db
        if db is None:
            self.app.errorRaised.emit("The database is not open; the provider cannot be saved.")
            return
        keys, resolver = self.connections.keystore(), self.state.resolver
        before = next((p for p in self.state.providers if p.name == provider.name), None)
        # what the server said (a Test connection, a turn) holds until it moves
        moved = before is not None and (before.base_url, before.preset) != (
            provider.base_url, provider.preset)

        def job() -> tuple[list[ProviderConfig], str | None, str | None]:
            where = keys.set(provider.name, api_key) if api_key else None
            db.providers.save(provider)
            default = db.settings.get(DEFAULT_PROVIDER_SETTING)
            if not default:
                default = provider.name
                db.settings.set(DEFAULT_PROVIDER_SETTING, default)
            if moved:  # its server may serve other windows now
                resolver.forget(provider.name)
                resolver.save(db)
            return db.providers.list(), where, default

        def done(out: tuple[list[ProviderConfig], str | None, str | None]) -> None:
            providers, where, default = out
            self.state.default_provider = default
            self.set_providers(providers)
            if where == "session":
                self.app.noticeRaised.emit(keys.message or "")

        self.app.ops.run(job, done, self.app.fail)

    def delete_provider(self, name: str) -> None:
        db = self.state.db
        if db is None:
            return
        keys, resolver = self.connections.keystore(), self.state.resolver

        def job() -> tuple[list[ProviderConfig], str | None]:
            db.providers.delete(name)
            keys.delete(name)
            resolver.forget(name)
            resolver.save(db)
            remaining = db.providers.list()
            default = db.settings.get(DEFAULT_PROVIDER_SETTING)
            if default == name:
                default = remaining[0].name if remaining else None
                if default:
                    db.settings.set(DEFAULT_PROVIDER_SETTING, default)
                else:
                    db.settings.delete(DEFAULT_PROVIDER_SETTING)
            return remaining, default

        def done(out: tuple[list[ProviderConfig], str | None]) -> None:
            self.state.default_provider = out[1]
            self.set_providers(out[0])

        self.app.ops.run(job, done, self.app.fail)

    @staticmethod
    def provider_presets() -> list[tuple[str, str, str, bool]]:
        """(name, label, base URL, needs a key) of each kind of server the app knows."""
        from desktop_app.core.providers import PRESETS

        return [(p.name, p.label, p.base_url, p.needs_key) for p in PRESETS.values()]

    def key_source(self, name: str, preset: str | None = None) -> str | None:
        """Where a provider's key is kept (shown instead of the key)."""
        return self.connections.keystore().source(name, preset)

    def test_connection(self, provider: ProviderConfig, api_key: str | None = None) -> None:
        """List the server's models and read the window it serves each with (recorded,
        as a turn would): the models go into the provider's list and the model picker
        (at once for a provider already saved at this address; the dialog's list
        otherwise, saved with it)."""
        keys, db, resolver = self.connections.keystore(), self.state.db, self.state.resolver
        stored = next((p for p in self.state.providers if p.name == provider.name), None)
        if stored is not None and (stored.base_url, stored.preset) != (provider.base_url,
                                                                      provider.preset):
            stored = None  # another server under that name: the dialog's to save

        def job() -> tuple[str, list[str], list[ProviderConfig] | None, bool]:
            from desktop_app.llm.client import ChatClient
            from desktop_app.llm.providers import discover_context_window

            key = api_key or keys.get(provider.name, provider.preset)
            client = ChatClient(provider, key)
            try:
                models = client.list_models()
            finally:
                client.close()
            windows: dict[str, int] = {}
            # the models the provider names first, then what else the server lists
            named = [m for m in provider.models if m in models]
            for model in [*named, *(m for m in models if m not in named)][:MODELS_TO_MEASURE]:
                found = discover_context_window(provider, model, key)
                if found.tokens:
                    windows[model] = found.tokens
            learned = False
            if db is not None:
                for model, tokens in windows.items():
                    learned = _learn(db, resolver, provider.name, model, tokens) or learned
            providers = None
            if db is not None and stored is not None:
                merged = [*stored.models, *(m for m in models if m not in stored.models)]
                if merged != stored.models:
                    db.providers.save(replace(stored, models=merged))
                    providers = db.providers.list()
            return _tested_text(models, windows), models, providers, learned

        def done(out: tuple[str, list[str], list[ProviderConfig] | None, bool]) -> None:
            text, models, providers, learned = out
            if providers is not None:
                self.set_providers(providers)
            if learned:
                self.app.budget.refresh(full=True)
            self.app.modelsFound.emit(provider.name, models)
            self.app.connectionTested.emit(True, text)

        self.app.ops.run(job, done,
                         lambda msg: self.app.connectionTested.emit(False, msg), serial=False)


MODELS_TO_MEASURE = 6  # a Test connection reads the served window of this many models


def _tested_text(models: list[str], windows: dict[str, int]) -> str:
    shown = ", ".join(models[:5]) + ("…" if len(models) > 5 else "")
    text = f"Connected: {len(models)} model{'s' if len(models) != 1 else ''}" + (
        f" ({shown})" if models else "")
    if windows:
        served = ", ".join(f"{m} {n:,}" for m, n in list(windows.items())[:3])
        more = "…" if len(windows) > 3 else ""
        text += f". Windows the server serves: {served}{more} tokens"
    return text + ("." if models else ". The server lists no models.")


def _learn(db: Any, resolver: WindowResolver, provider: str | None, model: str,
           served: int | None, counting: ServerCounting | None = None) -> bool:
    """Remember a served window and the server's vocabulary and template (and store them
    for the next start); True if anything changed."""
    if provider is None:
        return False
    resolver.asked(provider, model)
    changed = resolver.learn(provider, model, served)
    if counting is not None:
        changed = resolver.learn_counting(provider, model, counting.tokenizer,
                                          counting.template) or changed
    if changed:
        _save(db, resolver)
    return changed


def _learn_framing(db: Any, resolver: WindowResolver, provider: str, model: str,
                   sample: tuple[int, int]) -> None:
    """One turn's report of the server's framing (services.turn.framing_sample)."""
    if resolver.learn_framing(provider, model, *sample):
        _save(db, resolver)


def _save(db: Any, resolver: WindowResolver) -> None:
    try:
        resolver.save(db)
    except Exception as exc:  # noqa: BLE001 - the figures are still used this run
        log.info("could not store what the server said: %s", exc)

