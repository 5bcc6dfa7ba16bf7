"""Which server a turn talks to: the provider the user chose (settings, or a command-line
flag), its key from the keychain, and the context window the server really serves.
Plain Python, shared by the window's controller and `token-budget chat`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from desktop_app.core.catalog import lookup_model

if TYPE_CHECKING:
    from desktop_app.core.providers import ProviderConfig
    from desktop_app.llm.client import ChatClient
    from desktop_app.llm.keys import KeyStore
    from desktop_app.llm.server_counting import ServerCounting
    from desktop_app.store.database import Database

DEFAULT_PROVIDER_SETTING = "default_provider"
BASE_URL_KEY_ENV = "TOKEN_BUDGET_API_KEY"  # the key for --base-url (never OPENAI_API_KEY)


class ConnectionSetupError(Exception):
    """No client can be made as asked; the message says why."""


@dataclass
class Connection:
    client: ChatClient
    provider: str
    context_window: int | None = None  # what to budget with, when it differs from the catalog
    warnings: list[str] = field(default_factory=list)
    served: int | None = None  # the window the server said it serves, if it said
    counting: ServerCounting | None = None  # its vocabulary and template, if it said


def chosen_provider(db: Database, model: str, *, provider: str | None = None,
                    base_url: str | None = None) -> ProviderConfig | None:
    """The provider a command sends `model` to, chosen as the window chooses: a
    --base-url, a --provider by name, else the provider that lists the model (else the
    default one); None when none is set up."""
    from desktop_app.core.providers import ProviderConfig, ProviderError
    from desktop_app.services.windows import serving_provider

    if base_url:
        try:
            return ProviderConfig("command line", base_url=base_url)
        except ProviderError as exc:
            raise ConnectionSetupError(str(exc)) from None
    if provider:
        try:
            return db.providers.get(provider)
        except Exception as exc:  # noqa: BLE001 - the store's NotFoundError
            raise ConnectionSetupError(str(exc)) from None
    return serving_provider(db.providers.list(), model,
                            db.settings.get(DEFAULT_PROVIDER_SETTING))


def connect(db: Database, model: str, *, provider: str | None = None, base_url: str | None = None,
            keys: KeyStore | None = None, discover: bool = True) -> Connection | None:
    """A client for `model`, or None when no provider is set up (offline drafting)."""
    from desktop_app.core.providers import ProviderConfig, ProviderError
    from desktop_app.llm.client import ChatClient
    from desktop_app.llm.errors import LLMError
    from desktop_app.llm.keys import KeyStore
    from desktop_app.llm.providers import discover_context_window, settle_window

    keys = keys or KeyStore()
    try:
        if base_url:
            config = ProviderConfig("command line", base_url=base_url)
            key = os.environ.get(BASE_URL_KEY_ENV)
        else:
            name = provider or db.settings.get(DEFAULT_PROVIDER_SETTING)
            if not name:
                if not os.environ.get("OPENAI_API_KEY"):
                    return None
                config = ProviderConfig("openai", preset="openai")
            else:
                try:
                    config = db.providers.get(name)
                except Exception as exc:  # noqa: BLE001 - the store's NotFoundError
                    raise ConnectionSetupError(str(exc)) from None
            key = keys.get(config.name, config.preset)
        if config.needs_key and not key:
            raise ConnectionSetupError(
                f"no API key for {config.name}: enter one in Settings, or set OPENAI_API_KEY")
    except ProviderError as exc:
        raise ConnectionSetupError(str(exc)) from None
    try:
        client = ChatClient(config, key)
    except LLMError as exc:
        raise ConnectionSetupError(exc.message) from None

    warnings = list(client.warnings)
    window = served = counting = None
    catalog = lookup_model(model).context_window
    if discover and config.preset != "openai":
        server = discover_context_window(config, model, key)
        served = server.tokens
        window, found = settle_window(catalog, config.window_override(model), server)
        warnings.extend(found)
        counting = discover_counting(config, model, key)
    else:
        window = config.window_override(model)
    if config.needs_key and keys.message:
        warnings.append(keys.message)
    return Connection(client, config.name, window if window != catalog else None, warnings,
                      served, counting)


def discover_counting(config: ProviderConfig, model: str, key: str | None = None
                      ) -> ServerCounting | None:
    """How the server counts `model`: what it says itself (llama.cpp's /tokenize and
    /props, Ollama's model info), else what the model file says when the server is on
    this computer and keeps its files where we can find them (Ollama, LM Studio)."""
    from desktop_app.core.model_files import counting_from_file, local_model_file
    from desktop_app.llm.server_counting import ServerCounting
    from desktop_app.llm.server_counting import discover_counting as ask_server

    said = ask_server(config, model, key)
    if said is not None and said.tokenizer and (said.template or said.counts_chats):
        return said
    path = local_model_file(config, model)
    from_file = counting_from_file(path) if path is not None else None
    if from_file is None or not (from_file.tokenizer or (said and said.tokenizer)):
        return said
    return ServerCounting(from_file.tokenizer or (said.tokenizer if said else None),
                          from_file.template, bool(said and said.counts_chats),
                          from_file.source)
