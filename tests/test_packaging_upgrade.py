"""The upgrade path: this version opens a database written by an earlier release (the
fixtures in packaging/fixtures/, one per release, made by packaging/make_upgrade_fixture.py),
migrates it to the current schema after taking a backup, and loses nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from desktop_app.store import open_database
from desktop_app.store.backups import list_backups
from desktop_app.store.database import DB_FILE
from desktop_app.store.migrate import head_revision

FIXTURES = Path(__file__).resolve().parent.parent / "packaging" / "fixtures"
DATABASES = sorted(FIXTURES.glob("token_budget-*.sqlite3"))


def schema_revision(path: Path) -> str:
    # closing(): a connection's own `with` ends the transaction but leaves it open
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]


def test_there_is_a_fixture_for_every_release_so_far() -> None:
    assert DATABASES, f"no upgrade fixtures in {FIXTURES}: run packaging/make_upgrade_fixture.py"
    for database in DATABASES:
        assert database.with_suffix(".json").is_file(), f"{database.name} has no manifest"


@pytest.mark.parametrize("fixture", DATABASES, ids=[p.stem for p in DATABASES])
def test_an_earlier_release_database_opens_with_backup_and_all_data(
    fixture: Path, tmp_path: Path
) -> None:
    expected = json.loads(fixture.with_suffix(".json").read_text(encoding="utf-8"))
    assert schema_revision(fixture) == expected["revision"]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database = data_dir / DB_FILE
    shutil.copyfile(fixture, database)

    with open_database(data_dir) as db:
        assert db.integrity_check() == ["ok"]
        sessions = db.sessions.list()
        want = expected["session"]
        [session] = [s for s in sessions if s.title == want["title"]]
        assert session.system_prompt == want["system_prompt"]
        messages = db.messages.all_for_session(session.id)
        assert [[m.role, m.content] for m in messages] == want["messages"]
        assert [i for i, m in enumerate(messages) if m.pinned] == want["pinned"]
        session_facts = {
            f.key: f.value for f in db.memory.list_for_session(session.id, include_global=False)
        }
        assert session_facts == want["memory"]
        assert {f.key: f.value for f in db.memory.list_global()} == expected["global_memory"]
        summary = db.summaries.latest(session.id)
        assert summary is not None and summary.text == want["summary"]
        for key, value in expected["settings"].items():
            assert db.settings.get(key) == value
        profile = db.profiles.get(expected["profile"]["name"])
        assert dict(profile.fractions) == pytest.approx(expected["profile"]["fractions"])

    assert schema_revision(database) == head_revision()
    backups = list_backups(database)
    assert backups, "opening an earlier release's database made no backup"
    if expected["revision"] != head_revision():
        # the backup taken before migrating is the untouched old database
        [before] = [b for b in backups if f"before-upgrade-from-{expected['revision']}" in b.name]
        assert schema_revision(before) == expected["revision"]
