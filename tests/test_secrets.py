"""An API key entered by the user is used for requests and lives in the keychain only:
never in the database file, its journal, an export, or the logs."""

from __future__ import annotations

import logging

import keyring
import pytest

from desktop_app.cli import main
from desktop_app.core.providers import ProviderConfig
from desktop_app.core.records import Session
from desktop_app.llm.keys import KeyStore
from desktop_app.services.connection import DEFAULT_PROVIDER_SETTING, connect
from desktop_app.services.turn import run_turn
from desktop_app.services.windows import WindowResolver
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401
from tests.test_llm_keys import FileKeyring

SECRET = "sk-live-Secr3tKeyThatMustNeverBeStored-9931"


@pytest.fixture
def keychain(tmp_path):
    previous = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keychain.json")
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_the_key_is_used_but_never_stored_exported_or_logged(tmp_path, keychain, openai_server,
                                                             caplog, capsys):
    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    db = open_database(data)
    # the user sets up a provider that needs a key, and types the key once
    db.providers.save(ProviderConfig(name="work", base_url=openai_server.base_url,
                                     preset="custom"))
    db.settings.set(DEFAULT_PROVIDER_SETTING, "work")
    assert KeyStore().set("work", SECRET) == "keychain"
    session = db.sessions.create(Session(title="secret test", model="gpt-4o-mini"))

    openai_server.script(Reply(text="Authenticated reply."))
    connection = connect(db, "gpt-4o-mini", discover=False)
    result = run_turn(db, connection.client, session.id, "Hello", WindowResolver().model)
    connection.client.close()
    assert result.reply.content == "Authenticated reply."
    assert openai_server.chat_requests()[-1].authorization == f"Bearer {SECRET}"
    db.close()

    exports = []
    for fmt in ("json", "md"):
        out = tmp_path / f"export.{fmt}"
        assert main(["--data-dir", str(data), "export", "--all", "--format", fmt,
                     "-o", str(out)]) == 0
        exports.append(out)
    captured = capsys.readouterr()

    secret = SECRET.encode()
    files = [p for p in data.rglob("*") if p.is_file()] + exports
    assert any(p.name.endswith(".sqlite3") for p in files)
    for path in files:
        assert secret not in path.read_bytes(), f"the key leaked into {path}"
    assert SECRET not in caplog.text
    assert SECRET not in captured.out + captured.err
    assert keychain.get_password("TokenBudget", "work") == SECRET
