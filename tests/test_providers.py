"""The one provider type (core/providers.py) and its one URL check: the same URLs are
accepted and refused by the type itself, the store (saving and reading old rows) and the
settings dialog; a stored provider comes back from a real database file and talks to a
loopback server; a bad row left by an older version does not stop the app."""

from __future__ import annotations

import json
import logging
import string
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import Qt

from desktop_app.core.providers import PRESETS, ProviderConfig, ProviderError, normalize_base_url
from desktop_app.services.connection import ConnectionSetupError, connect
from desktop_app.store import StoreError, open_database
from desktop_app.store.models import ProviderRow, utc_now
from tests.openai_test_server import OpenAITestServer, Reply, openai_server_fixture  # noqa: F401

SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth")

ACCEPTED = [
    ("http://localhost:11434/v1", "http://localhost:11434/v1"),
    (" https://api.openai.com/v1/ ", "https://api.openai.com/v1"),
    ("http://[::1]:8000/v1//", "http://[::1]:8000/v1"),
    ("https://x.example.com/v1?api-version=2024-06", "https://x.example.com/v1?api-version=2024-06"),
    ("http://gpu-box.local:8080", "http://gpu-box.local:8080"),
]
REFUSED = [
    "",
    "   ",
    "localhost:11434",
    "ftp://host/v1",
    "https:///v1",
    "http://me:pw@host/v1",
    "http://@host/v1",
    "http://host/v1?api_key=sk-1",
    "http://host/v1?%61pi%5Fkey=sk-1",  # percent-encoded api_key
    "http://host/v1?token",
    "http://host:99999/v1",
    "http://host:port/v1",
    "http://[::1/v1",
    "http://host/v1#top",
    "http://ho st/v1",
    "http://host/v1\x00",
]


def refusal(url: str) -> str:
    with pytest.raises(ProviderError) as caught:
        normalize_base_url(url)
    return str(caught.value)


# --- the check itself ------------------------------------------------------------------
def test_accepted_urls_are_normalized() -> None:
    for raw, clean in ACCEPTED:
        assert normalize_base_url(raw) == clean
        assert ProviderConfig("p", base_url=raw).base_url == clean


@pytest.mark.parametrize("url", [u for u in REFUSED if u.strip()])
def test_refused_urls_cannot_make_a_provider(url: str) -> None:
    with pytest.raises(ProviderError) as caught:
        ProviderConfig("p", base_url=url)
    assert str(caught.value) == refusal(url)


def test_a_credential_is_never_echoed() -> None:
    for url in ("ftp://me:sk-secret-1@host/v1", "nonsense?token=sk-secret-1"):
        assert "sk-secret-1" not in refusal(url)


PIECES = st.sampled_from([
    "http://", "https://", "HTTP://", "ftp://", "http:", "//", "", " ", "\t", "\n", "localhost",
    "127.0.0.1", "[::1]", "[", "]", ":", ":8080", ":99999", "/v1", "/", "?", "&", "=",
    "api_key", "Token", "user:pw@", "@", "#", "%41", "%", "\x00", "\u200b", "é", "ü.example",
])
URL_CHARS = string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=% \\"
URLISH = st.one_of(
    st.text(max_size=40),
    st.lists(st.one_of(PIECES, st.text(alphabet=URL_CHARS, max_size=6)), max_size=10).map("".join),
)


@settings(max_examples=600, deadline=None)
@given(URLISH)
def test_the_check_returns_a_clean_http_url_or_refuses(raw: str) -> None:
    try:
        url = normalize_base_url(raw)
    except ProviderError as exc:  # anything else fails the test
        assert str(exc)
        with pytest.raises(ProviderError):
            ProviderConfig("p", base_url=raw)
        return
    assert isinstance(url, str)
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https") and parts.hostname
    assert "@" not in parts.netloc and parts.username is None and parts.password is None
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        assert not any(word in name.lower() for word in SECRET_WORDS)
    assert not url.endswith("/") and url == url.strip() and "#" not in url
    assert normalize_base_url(url) == url  # already clean stays as it is
    assert ProviderConfig("p", base_url=raw).base_url == url


def test_the_provider_type_checks_the_rest() -> None:
    config = ProviderConfig(" box ", preset="ollama", models=["llama3", " "],
                            context_windows={"llama3": 8192})
    assert (config.name, config.base_url, config.models) == (
        "box", PRESETS["ollama"].base_url, ["llama3"])
    assert config.window_override("llama3") == 8192 and config.window_override("qwen") is None
    assert not config.needs_key and ProviderConfig("o", preset="openai").needs_key
    assert config.server_root == "http://localhost:11434"
    with pytest.raises(AttributeError):
        config.base_url = "ftp://elsewhere"  # type: ignore[misc]
    with pytest.raises(ProviderError, match="positive"):
        replace(config, context_windows={"llama3": -1})
    with pytest.raises(TypeError):
        ProviderConfig("p", "http://localhost/v1")  # type: ignore[call-arg]  # keywords only


# --- the store -----------------------------------------------------------------------
class NoKeys:
    message = None

    def get(self, name: str, preset: str | None = None) -> str | None:
        return None


def test_a_stored_provider_round_trips_and_talks_to_the_server(
    tmp_path, openai_server: OpenAITestServer
) -> None:
    db = open_database(tmp_path)
    try:
        saved = db.providers.save(ProviderConfig(
            "loopback", base_url=openai_server.base_url + "/", preset="custom",
            models=["test-model"], context_windows={"test-model": 3000}))
        assert saved.id is not None and saved.created_at is not None
        assert saved.base_url == openai_server.base_url
    finally:
        db.close()

    db = open_database(tmp_path)  # the same file, opened again
    try:
        stored = db.providers.get("loopback")
        assert stored == saved and db.providers.list() == [saved]
        assert isinstance(stored, ProviderConfig)
        assert stored.window_override("test-model") == 3000

        openai_server.script(Reply(text="Hello from loopback"))
        connection = connect(db, "test-model", provider="loopback", keys=NoKeys())
        assert connection is not None and connection.client.config == stored
        assert connection.context_window == 3000  # the user's override; the server is silent
        try:
            pieces: list[str] = []
            result = connection.client.stream_chat(
                [{"role": "user", "content": "Hi"}], "test-model", 32, pieces.append)
        finally:
            connection.client.close()
        assert result.text == "Hello from loopback" and "".join(pieces) == result.text
        assert openai_server.chat_requests()[-1].body["model"] == "test-model"
    finally:
        db.close()


def add_old_row(db: Any, name: str, base_url: str, preset: str = "custom",
                windows: dict[str, Any] | None = None) -> None:
    """A row as an older version might have written it, past today's check."""
    now = utc_now()
    with db.write() as orm:
        orm.add(ProviderRow(name=name, preset=preset, base_url=base_url, models=["m"],
                            context_windows=windows or {}, created_at=now, updated_at=now))


def test_old_rows_are_read_with_the_same_check(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    db = open_database(tmp_path)
    try:
        for i, (raw, clean) in enumerate(ACCEPTED):
            add_old_row(db, f"good{i}", raw)
            assert db.providers.get(f"good{i}").base_url == clean
        for i, raw in enumerate(REFUSED):
            add_old_row(db, f"bad{i}", raw)
            with pytest.raises(StoreError, match="set it up again") as caught:
                db.providers.get(f"bad{i}")
            assert refusal(raw) in str(caught.value)
        add_old_row(db, "old-preset", "http://localhost:1/v1", preset="textgen")
        add_old_row(db, "old-window", "http://localhost:1/v1", windows={"m": "lots"})
        assert [p.name for p in db.providers.list()] == [f"good{i}" for i in range(len(ACCEPTED))]
        assert "skipping unusable provider 'old-preset'" in caplog.text
        assert "skipping unusable provider 'old-window'" in caplog.text

        with pytest.raises(ConnectionSetupError, match="set it up again"):
            connect(db, "m", provider="old-preset", keys=NoKeys(), discover=False)
        # saving a good provider of the same name replaces the bad row
        db.providers.save(ProviderConfig("old-preset", preset="ollama"))
        assert db.providers.get("old-preset").preset == "ollama"
        db.providers.delete("bad0")  # and a bad one can still be removed
    finally:
        db.close()


def test_a_bad_old_row_does_not_stop_the_app(qtbot, data_dir) -> None:
    from tests.ui_support import close_window, open_window

    db = open_database(data_dir)
    try:
        add_old_row(db, "broken", "http://host/v1#fragment")
        db.providers.save(ProviderConfig("fine", preset="ollama", models=["llama3"]))
    finally:
        db.close()
    window = open_window(qtbot, data_dir)
    try:
        assert [p.name for p in window.controller.providers] == ["fine"]
    finally:
        close_window(window)


# --- the settings dialog -----------------------------------------------------------------
def test_the_settings_dialog_uses_the_same_check(qtbot, data_dir, tmp_path, openai_server) -> None:
    """The real dialog on the real controller (a temporary data folder, a keychain in a
    file): what the check accepts is saved as it normalizes it, and a connection test
    goes to that URL; what it refuses is neither saved nor tested, and the dialog says
    why."""
    from desktop_app.controller.app_controller import AppController
    from desktop_app.llm.keys import SERVICE, KeyStore
    from desktop_app.ui.settings_dialog import SettingsDialog
    from tests.test_llm_keys import FileKeyring

    keychain = tmp_path / "keychain.json"
    controller = AppController(data_dir, keys=KeyStore(FileKeyring(keychain)))
    controller.start()
    try:
        qtbot.waitUntil(lambda: controller.db is not None, timeout=15_000)
        qtbot.waitUntil(lambda: controller.idle, timeout=15_000)
        dialog = SettingsDialog(controller)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitExposed(dialog)
        dialog.preset.setCurrentIndex(dialog.preset.findData("custom"))

        def saved() -> dict[str, str]:
            qtbot.waitUntil(lambda: controller.idle, timeout=15_000)
            return {p.name: p.base_url for p in controller.db.providers.list()}

        for i, (raw, clean) in enumerate(ACCEPTED):
            dialog.name_edit.setText(f"mine{i}")
            dialog.url_edit.setText(raw)
            if i == 0:
                dialog.key_edit.setText("sk-test-0123456789")
            qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: dialog.status.text() == "Saved.", timeout=15_000)
            assert saved()[f"mine{i}"] == clean
            assert dialog.url_edit.text() == clean  # the dialog shows what was stored
        accepted = {f"mine{i}": clean for i, (_raw, clean) in enumerate(ACCEPTED)}
        assert saved() == accepted
        # the key went to the keychain (here a file), never to the database
        assert json.loads(keychain.read_text()) == {f"{SERVICE}/mine0": "sk-test-0123456789"}
        assert b"sk-test-0123456789" not in (data_dir / "token_budget.sqlite3").read_bytes()

        # the test button takes the same check: a loopback server's URL, typed loosely
        dialog.name_edit.setText("loopback")
        dialog.url_edit.setText(f" {openai_server.base_url}// ")
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.status.text().startswith("Connected"), timeout=15_000)
        # the models, then (Test connection reads the windows it serves) its own endpoints
        assert [r.path for r in openai_server.requests][0] == "/v1/models"
        asked = len(openai_server.requests)

        for raw in REFUSED:
            dialog.name_edit.setText("refused")
            dialog.url_edit.setText(raw)
            qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
            assert dialog.status.text() == refusal(raw)
            qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
            assert dialog.status.text() == refusal(raw)
            assert dialog.test_button.isEnabled()  # no test under way
            assert controller.idle  # nothing was sent to the worker
        assert saved() == accepted
        assert len(openai_server.requests) == asked
    finally:
        controller.shutdown()
