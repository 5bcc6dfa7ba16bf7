"""`token-budget sessions`, `export`, `import` and `restore-backup`, run in-process through
desktop_app.cli.main with --data-dir on a temporary folder."""

from __future__ import annotations

import json

import pytest

from desktop_app.cli import main
from desktop_app.core.records import Message, Session
from desktop_app.store import open_database
from desktop_app.store.database import DB_FILE


def seed(folder) -> int:
    with open_database(folder) as db:
        session = db.sessions.create(Session(title="Groceries", model="gpt-4o"))
        db.messages.append_many(
            session.id,
            [
                Message("user", "What do I need for pancakes?"),
                Message("assistant", "Flour, eggs, milk."),
            ],
        )
        db.sessions.create(Session(title="Old stuff", archived=True))
        return session.id


def test_sessions_lists_ids_messages_and_tokens_counted_once(tmp_path, capsys):
    session_id = seed(tmp_path)
    assert main(["--data-dir", str(tmp_path), "sessions"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "MESSAGES", "TOKENS", "MODEL", "UPDATED", "TITLE"]
    assert len(out) == 2 and out[1].split()[:2] == [str(session_id), "2"]
    tokens = int(out[1].split()[2])
    assert tokens > 0
    with open_database(tmp_path) as db:  # the counts were cached for next time
        assert all(
            m.token_counts.get("o200k_base") for m in db.messages.all_for_session(session_id)
        )
    assert main(["--data-dir", str(tmp_path), "sessions", "--archived", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["title"]: r["tokens"] for r in rows} == {"Groceries": tokens, "Old stuff": 0}


def test_export_and_import_from_the_command_line(tmp_path, capsys):
    session_id = seed(tmp_path / "a")
    out_file = tmp_path / "one.json"
    args = ["--data-dir", str(tmp_path / "a"), "export", "--session", str(session_id)]
    assert main([*args, "--format", "json", "-o", str(out_file)]) == 0
    assert [s["title"] for s in json.loads(out_file.read_text())["sessions"]] == ["Groceries"]

    assert (
        main(["--data-dir", str(tmp_path / "a"), "export", "--all", "-o", str(tmp_path / "all.md")])
        == 0
    )
    markdown = (tmp_path / "all.md").read_text(encoding="utf-8")
    assert "# Groceries" in markdown and "# Old stuff" in markdown

    assert main(["--data-dir", str(tmp_path / "b"), "import", str(out_file)]) == 0
    assert "imported 1 session (2 messages)" in capsys.readouterr().out
    with open_database(tmp_path / "b") as db:
        (imported,) = db.sessions.list()
        assert imported.title == "Groceries" and imported.message_count == 2


def test_command_line_errors_are_one_clear_line(tmp_path, capsys):
    seed(tmp_path)
    target = tmp_path / "never.json"
    assert main(["--data-dir", str(tmp_path), "export", "--session", "42", "-o", str(target)]) == 2
    assert capsys.readouterr().err.strip() == "token-budget: there is no session 42"
    assert not target.exists()

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "token-budget", "version": 1, "sessions": [{"messages": 3}]}')
    assert main(["--data-dir", str(tmp_path), "import", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "token-budget: bad.json: sessions[0].messages: expected a list, got a number"

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / DB_FILE).write_text("not a database")
    assert main(["--data-dir", str(tmp_path / "other"), "sessions"]) == 2
    assert "is not an SQLite database" in capsys.readouterr().err


def test_restore_backup_puts_the_newest_backup_back(tmp_path, capsys):
    seed(tmp_path)
    with open_database(tmp_path):
        pass  # takes the daily backup
    (tmp_path / DB_FILE).write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
    assert main(["--data-dir", str(tmp_path), "sessions"]) == 2
    assert "restore-backup" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path), "restore-backup"]) == 0
    assert "damaged file is kept as" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "sessions"]) == 0
    assert "Groceries" in capsys.readouterr().out


def test_importing_the_same_file_twice_says_so_and_again_imports_a_copy(tmp_path, capsys):
    session_id = seed(tmp_path / "a")
    out_file = tmp_path / "one.json"
    assert main(["--data-dir", str(tmp_path / "a"), "export", "--session", str(session_id),
                 "-o", str(out_file)]) == 0
    target = ["--data-dir", str(tmp_path / "b"), "import", str(out_file)]
    assert main(target) == 0
    assert "imported 1 session (2 messages)" in capsys.readouterr().out
    assert main(target) == 0
    out, err = capsys.readouterr()
    assert out.strip() == (f"nothing imported from {out_file}: “Groceries” was already "
                           "imported (session 1), skipped")
    assert "--again imports them once more" in err
    assert main([*target, "--again"]) == 0
    assert "imported 1 session (2 messages)" in capsys.readouterr().out
    with open_database(tmp_path / "b") as db:
        assert [s.title for s in db.sessions.list()] == ["Groceries", "Groceries"]


@pytest.mark.parametrize("argv", [
    ["export", "--session", "{id}", "-o", "{out}"],
    ["assemble", "--session", "{id}"],
    ["compact", "--offline", "--session", "{id}"],
    ["chat", "--session", "{id}", "hello"],
])
@pytest.mark.parametrize("session_id", [str(2**63), "9" * 30, str(-2**63 - 1)])
def test_a_session_id_past_sqlites_integers_is_no_session(tmp_path, capsys, argv,
                                                          session_id):
    """An id too large for SQLite was an OverflowError traceback; now it is the same
    one line as any id that names no session."""
    seed(tmp_path)
    out = tmp_path / "never.json"
    args = [a.format(id=session_id, out=out) for a in argv]
    assert main(["--data-dir", str(tmp_path), *args]) == 2
    assert capsys.readouterr().err.strip() == f"token-budget: there is no session {session_id}"
    assert not out.exists()


def test_an_import_of_many_sessions_names_their_ids_as_a_run(tmp_path, capsys):
    """A whole history imported at once listed every new id on one line (20,000 of them
    for a large ChatGPT export): a run of ids is written first–last."""
    doc = {"format": "token-budget", "version": 1, "sessions": [
        {"title": f"Chat {i}", "model": "gpt-4o",
         "messages": [{"role": "user", "content": f"question {i}"}]} for i in range(12)]}
    source = tmp_path / "many.json"
    source.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["--data-dir", str(tmp_path / "d"), "import", str(source)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("; ids 1–12"), out
