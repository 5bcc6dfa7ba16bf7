"""API keys: kept in the OS keychain through `keyring` (service "TokenBudget", one entry
per provider name), never in SQLite, exports, logs or error text. Where no keychain
exists (a headless Linux), the key is kept in memory for this run only, and `message`
says so plainly. OPENAI_API_KEY is honoured for OpenAI presets, and only sent there."""

from __future__ import annotations

import os
import threading
from typing import Any

SERVICE = "TokenBudget"
ENV_VARS = {"openai": "OPENAI_API_KEY"}  # preset -> environment variable honoured for it

NO_KEYCHAIN = (
    "No system keychain is available on this computer, so API keys are kept in memory "
    "for this session only; you will be asked again next time."
)


class InvalidKeyError(ValueError):
    """A key that cannot be used as typed (empty, several lines)."""


def _is_unusable(backend: Any) -> bool:
    """True for keyring's stand-ins that store nothing: the fail and null backends, and a
    chainer that found no backend to chain."""
    from keyring.backends import fail

    if isinstance(backend, fail.Keyring):
        return True
    if type(backend).__module__ == "keyring.backends.null":
        return True
    chained = getattr(backend, "backends", None)
    return chained is not None and len(chained) == 0


class KeyStore:
    """Reads and writes provider keys. Lookups prefer a key entered this session, then the
    keychain, then the environment variable of the provider's preset."""

    def __init__(self, backend: Any = None) -> None:
        self._backend = backend
        self._session: dict[str, str] = {}
        self._lock = threading.Lock()
        self._failure: str | None = None  # why the keychain could not be used, if it failed

    def __repr__(self) -> str:  # never the keys, not even how many there are per provider
        return f"KeyStore(keychain={'yes' if self.available else 'no'})"

    @property
    def backend(self) -> Any:
        if self._backend is None:
            import keyring  # deferred: keyring probes its backends on first use

            try:
                self._backend = keyring.get_keyring()
            except Exception as exc:  # noqa: BLE001 - a broken keyring config, for one
                from keyring.backends import fail

                self._failure = f"the keychain could not be opened ({type(exc).__name__})"
                self._backend = fail.Keyring()
        return self._backend

    @property
    def available(self) -> bool:
        return self._failure is None and not _is_unusable(self.backend)

    @property
    def message(self) -> str | None:
        """A plain sentence for the user when keys cannot be kept across sessions."""
        if _is_unusable(self.backend):
            return NO_KEYCHAIN
        if self._failure:
            return (
                f"The system keychain did not work ({self._failure}), so API keys are kept "
                "in memory for this session only."
            )
        return None

    def get(self, provider: str, preset: str | None = None) -> str | None:
        with self._lock:
            if provider in self._session:
                return self._session[provider]
        if self.available:
            try:
                stored = self.backend.get_password(SERVICE, provider)
            except Exception as exc:  # noqa: BLE001 - a locked or vanished keychain
                self._note_failure("reading", exc)
                stored = None
            if stored:
                return stored
        env_var = ENV_VARS.get(preset or provider)
        if env_var:
            return os.environ.get(env_var) or None
        return None

    def source(self, provider: str, preset: str | None = None) -> str | None:
        """Where get() would find the key: "session", "keychain", "environment" or None.
        For the settings screen, which shows this instead of the key."""
        with self._lock:
            if provider in self._session:
                return "session"
        if self.available:
            try:
                if self.backend.get_password(SERVICE, provider):
                    return "keychain"
            except Exception as exc:  # noqa: BLE001 - backends raise anything
                self._note_failure("reading", exc)
        env_var = ENV_VARS.get(preset or provider)
        if env_var and os.environ.get(env_var):
            return "environment"
        return None

    def set(self, provider: str, key: str) -> str:
        """Keep `key` for `provider`; returns where it went: "keychain" or "session"."""
        key = key.strip()
        if not key:
            raise InvalidKeyError("the API key is empty")
        if "\n" in key or "\r" in key:
            raise InvalidKeyError("an API key is a single line; paste it again without line breaks")
        if self.available:
            try:
                self.backend.set_password(SERVICE, provider, key)
            except Exception as exc:  # noqa: BLE001 - backends raise anything
                self._note_failure("saving", exc)
            else:
                with self._lock:
                    self._session.pop(provider, None)
                return "keychain"
        with self._lock:
            self._session[provider] = key
        return "session"

    def delete(self, provider: str) -> None:
        with self._lock:
            self._session.pop(provider, None)
        if self.available:
            try:
                self.backend.delete_password(SERVICE, provider)
            except Exception as exc:  # noqa: BLE001 - backends raise anything
                from keyring.errors import PasswordDeleteError

                if not isinstance(exc, PasswordDeleteError):  # "not there" is fine
                    self._note_failure("deleting", exc)

    def _note_failure(self, doing: str, exc: Exception) -> None:
        # The exception's text is not kept: some backends echo what they were given.
        self._failure = f"{doing} a key failed with {type(exc).__name__}"
