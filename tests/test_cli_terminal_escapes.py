"""Titles and contents printed to a terminal cannot drive it (issue 12): `sessions` and
a Markdown or JSON export to standard output show control characters as escapes."""

from __future__ import annotations

import json

from desktop_app.cli import main
from desktop_app.core.records import Message, Session
from desktop_app.store import open_database

EVIL_TITLE = "ok\x1b]0;owned\x07\x1b[2J\x9b31m title"
EVIL_TEXT = "line one\n\tindented\x1b[8mhidden\x1b[0m\r overwritten"


def fill(data) -> int:
    with open_database(data) as db:
        session = db.sessions.create(Session(title=EVIL_TITLE, model="gpt-4o"))
        db.messages.append(session.id, Message("user", EVIL_TEXT))
        return session.id


def raw_controls(text: str) -> set[str]:
    return {c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f}


def test_sessions_table_and_json_escape_control_characters(tmp_path, capsys):
    data = tmp_path / "data"
    fill(data)
    assert main(["--data-dir", str(data), "sessions"]) == 0
    out, _ = capsys.readouterr()
    assert raw_controls(out) == set()  # before: ESC, BEL and CSI went to the terminal
    assert "ok\\x1b]0;owned\\x07\\x1b[2J\\x9b31m title" in out
    assert main(["--data-dir", str(data), "sessions", "--json"]) == 0
    out, _ = capsys.readouterr()
    assert raw_controls(out) == set()
    assert json.loads(out)[0]["title"] == EVIL_TITLE  # still the same JSON


def test_exports_to_standard_output_escape_control_characters(tmp_path, capsys):
    data = tmp_path / "data"
    session_id = fill(data)
    assert main(["--data-dir", str(data), "export", "--session", str(session_id),
                 "--format", "md", "-o", "-"]) == 0
    out, _ = capsys.readouterr()
    assert raw_controls(out) == set()
    assert "line one\n\tindented\\x1b[8mhidden\\x1b[0m\\x0d overwritten" in out
    assert main(["--data-dir", str(data), "export", "--session", str(session_id),
                 "--format", "json", "-o", "-"]) == 0
    out, _ = capsys.readouterr()
    assert raw_controls(out) == set()
    doc = json.loads(out)
    assert doc["sessions"][0]["title"] == EVIL_TITLE
    assert doc["sessions"][0]["messages"][0]["content"] == EVIL_TEXT


def test_an_export_to_a_file_keeps_the_text_as_it_is(tmp_path, capsys):
    data = tmp_path / "data"
    session_id = fill(data)
    target = tmp_path / "out.md"
    assert main(["--data-dir", str(data), "export", "--session", str(session_id),
                 "-o", str(target)]) == 0
    assert EVIL_TEXT in target.read_bytes().decode("utf-8")
