"""What the command line prints to a terminal cannot drive it, whichever part prints:
a model's reply streamed as it comes, the import's summary quoting a title, an error
quoting a file. Run on a real pseudo-terminal; a pipe still gets the text as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from desktop_app.cli import main
from desktop_app.store import open_database
from tests.openai_test_server import Reply, openai_server_fixture  # noqa: F401

# an OSC that retitles the window, a BEL, "clear the screen", and C1's CSI
HOSTILE = "Hi \x1b]0;PWNED\x07\x1b[2J there \u009b31m"
RAW = ("\x1b", "\x07", "\u009b")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX")


def on_a_terminal(*args: str) -> str:
    """The program's output, standard output and error both on a pseudo-terminal."""
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    proc = subprocess.Popen([sys.executable, "-m", "desktop_app", *args],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(120)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_reply_streamed_to_a_terminal_cannot_drive_it(tmp_path, openai_server, capsys):
    openai_server.script(Reply(text=HOSTILE), Reply(text=HOSTILE))
    data = str(tmp_path / "data")
    shown = on_a_terminal("--data-dir", data, "chat", "--base-url", openai_server.base_url,
                          "--model", "llama3.1:8b", "Hello")
    assert "there" in shown and "usage:" in shown, shown
    assert not any(c in shown for c in RAW), repr(shown)
    assert "\\x1b]0;PWNED\\x07\\x1b[2J" in shown and "\\x9b31m" in shown
    with open_database(data) as db:  # what is stored is the reply as it came
        (session,) = db.sessions.list()
        assert db.messages.all_for_session(session.id)[-1].content == HOSTILE
    # a pipe (here pytest's capture) gets the reply as it is
    assert main(["--data-dir", data, "chat", "--session", str(session.id), "--base-url",
                 openai_server.base_url, "Again"]) == 0
    assert capsys.readouterr().out.strip() == HOSTILE.strip()


def test_the_import_summary_and_errors_quote_files_harmlessly(tmp_path, capsys):
    export = tmp_path / "evil.json"
    export.write_text(json.dumps({"format": "token-budget", "version": 1, "sessions": [
        {"title": HOSTILE, "model": "gpt-4o",
         "messages": [{"role": "user", "content": "hello"}]}]}), encoding="utf-8")
    data = str(tmp_path / "data")
    first = on_a_terminal("--data-dir", data, "import", str(export))
    again = on_a_terminal("--data-dir", data, "import", str(export))
    assert "imported 1 session" in first, first
    assert "was already imported" in again and "PWNED" in again, again
    assert not any(c in first + again for c in RAW), repr(again)
    # an error is one line, escaped wherever it goes: here a file named to clear a screen
    bad = tmp_path / "bad\x1b[2J\n.json"
    bad.write_text("{not json", encoding="utf-8")
    assert main(["--data-dir", data, "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "bad\\x1b[2J\\x0a.json" in err


def test_a_title_that_reverses_itself_is_listed_with_its_control_escaped(tmp_path):
    export = tmp_path / "evil.json"
    export.write_text(json.dumps({"format": "token-budget", "version": 1, "sessions": [
        {"title": "Budget \u202egnp.exe report", "model": "gpt-4o",
         "messages": [{"role": "user", "content": "hello"}]}]}), encoding="utf-8")
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "import", str(export)]) == 0
    for listing in (on_a_terminal("--data-dir", data, "sessions"),
                    on_a_terminal("--data-dir", data, "sessions", "--json")):
        assert "\u202e" not in listing and "Budget \\u202egnp.exe report" in listing, listing
