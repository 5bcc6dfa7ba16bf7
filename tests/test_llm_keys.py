"""API keys: a real keyring backend (a file one, registered the way keyring plugins are)
round-trips them; without a keychain the user is told plainly and the key works for the
session; the environment key goes to OpenAI only; keys never show up in reprs, error
messages or logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import keyring
import keyring.backend
import pytest
from keyring.backends import chainer, fail, null
from keyring.errors import PasswordDeleteError

from desktop_app.core.providers import ProviderConfig
from desktop_app.llm.client import ChatClient, RetryPolicy
from desktop_app.llm.errors import AuthError
from desktop_app.llm.keys import NO_KEYCHAIN, SERVICE, InvalidKeyError, KeyStore
from tests.openai_test_server import (
    OpenAITestServer,
    Reply,
    openai_server_fixture,  # noqa: F401  (the fixture)
    rate_limited,
    unauthorized,
)

SECRET = "sk-proj-Zq8vS3cr3tV4lu3-do-not-leak-0042"


class FileKeyring(keyring.backend.KeyringBackend):
    """A keychain that keeps its entries in a JSON file."""

    priority = 1

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def _load(self) -> dict[str, str]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        entries = self._load()
        entries[f"{service}/{username}"] = password
        self.path.write_text(json.dumps(entries))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._load()
        if entries.pop(f"{service}/{username}", None) is None:
            raise PasswordDeleteError("not found")
        self.path.write_text(json.dumps(entries))


class LockedKeyring(FileKeyring):
    """A keychain that refuses to store (a locked login keychain, say), echoing what it
    was given in its error, as some backends do."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked(f"locked; could not store {password}")


@pytest.fixture
def use_keyring() -> Iterator:
    """Sets the process's keyring backend for one test, then puts the old one back."""
    previous = keyring.get_keyring()
    yield keyring.set_keyring
    keyring.set_keyring(previous)


def test_keys_round_trip_through_the_keychain(tmp_path: Path, use_keyring) -> None:
    use_keyring(FileKeyring(tmp_path / "keychain.json"))
    store = KeyStore()
    assert store.available and store.message is None
    assert store.set("openai", f"  {SECRET}\n") == "keychain"  # pasted with whitespace
    assert json.loads((tmp_path / "keychain.json").read_text()) == {f"{SERVICE}/openai": SECRET}
    later = KeyStore()  # the next start of the app
    assert later.get("openai", "openai") == SECRET
    assert later.source("openai", "openai") == "keychain"
    later.delete("openai")
    assert later.get("openai") is None and later.source("openai") is None
    later.delete("openai")  # deleting twice is fine


def test_without_a_keychain_the_user_is_told_and_the_key_works(
    openai_server: OpenAITestServer, use_keyring
) -> None:
    use_keyring(fail.Keyring())
    store = KeyStore()
    assert not store.available and store.message == NO_KEYCHAIN
    assert "this session only" in store.message
    assert store.set("lan", SECRET) == "session"
    assert store.source("lan") == "session"
    openai_server.required_key = SECRET
    config = ProviderConfig("lan", base_url=openai_server.base_url)
    result = ChatClient.from_config(config, store).stream_chat(
        [{"role": "user", "content": "hi"}], "test-model"
    )
    assert result.text and not result.interrupted
    assert KeyStore().get("lan") is None  # gone with the session


@pytest.mark.parametrize(
    "backend",
    [chainer.ChainerBackend(), null.Keyring()],
    ids=["chainer-with-no-backends", "null"],
)
def test_stand_in_backends_are_no_keychain(backend, use_keyring) -> None:
    if isinstance(backend, chainer.ChainerBackend):
        assert list(backend.backends) == []  # nothing installed to chain, as here
    use_keyring(backend)
    store = KeyStore()
    assert store.message == NO_KEYCHAIN
    assert store.set("openai", SECRET) == "session" and store.get("openai") == SECRET


def test_a_failing_keychain_keeps_the_key_for_the_session(tmp_path: Path, use_keyring) -> None:
    use_keyring(LockedKeyring(tmp_path / "k.json"))
    store = KeyStore()
    assert store.set("openai", SECRET) == "session"
    assert store.get("openai") == SECRET
    assert "KeyringLocked" in store.message and SECRET not in store.message


def test_bad_keys_are_refused_with_a_reason(use_keyring) -> None:
    use_keyring(fail.Keyring())
    with pytest.raises(InvalidKeyError, match="empty"):
        KeyStore().set("openai", "   ")
    with pytest.raises(InvalidKeyError, match="single line"):
        KeyStore().set("openai", "sk-abc\nsk-def")


def test_environment_key_goes_to_openai_only(
    openai_server: OpenAITestServer, use_keyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_keyring(fail.Keyring())
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    store = KeyStore()
    assert store.get("openai", "openai") == SECRET
    assert store.source("openai", "openai") == "environment"
    assert store.get("my-ollama", "ollama") is None
    local = ProviderConfig("my-ollama", preset="ollama", base_url=openai_server.base_url)
    ChatClient.from_config(local, store).stream_chat([{"role": "user", "content": "hi"}], "m")
    assert openai_server.chat_requests()[-1].authorization == "Bearer no-key"


def test_openai_without_any_key_says_how_to_give_one(use_keyring, monkeypatch) -> None:
    use_keyring(fail.Keyring())
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(AuthError, match="OPENAI_API_KEY"):
        ChatClient.from_config(ProviderConfig("openai", preset="openai"), KeyStore())


def test_keys_never_appear_in_reprs_errors_or_logs(
    openai_server: OpenAITestServer, use_keyring, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything: ours, the SDK's, the HTTP library's
    use_keyring(fail.Keyring())
    store = KeyStore()
    store.set("lan", SECRET)
    config = ProviderConfig("lan", base_url=openai_server.base_url)
    client = ChatClient.from_config(config, store, retry=RetryPolicy(base_delay=0.01))
    shown: list[str] = [repr(store), repr(config), json.dumps(asdict(config), default=str),
                        repr(client)]

    openai_server.script(rate_limited(0.01), Reply(text="fine", disconnect_after=0), Reply())
    result = client.stream_chat(
        [{"role": "user", "content": "hi"}],
        "test-model",
        on_wait=lambda n: shown.append(n.describe()),
    )
    shown += [repr(result), str(result.warnings)]
    openai_server.script(unauthorized())
    with pytest.raises(AuthError) as caught:
        client.stream_chat([{"role": "user", "content": "hi"}], "test-model")
    client.close()  # and its connection pool, where the 401's connection is kept alive
    shown += [str(caught.value), repr(caught.value), caught.value.detail or ""]

    assert openai_server.chat_requests()[-1].authorization == f"Bearer {SECRET}"  # it was sent
    assert caplog.records  # the logs did run
    for text in [*shown, caplog.text]:
        assert SECRET not in text
        assert SECRET[8:24] not in text  # nor a recognisable piece of it
