"""Make an upgrade fixture: a database written by THIS version of the app through its own
store, kept in packaging/fixtures/ so that every later version proves it can open it
(migrations run, a backup is taken first, nothing is lost): tests/test_packaging_upgrade.py.

Run it once per release, from that release's checkout, and commit the two files:

    python packaging/make_upgrade_fixture.py
    # -> packaging/fixtures/token_budget-<version>.sqlite3   the database (schema <revision>)
    #    packaging/fixtures/token_budget-<version>.json      what it holds, for the test

The first release's fixture is at the first migration revision, the oldest schema there
is; later fixtures keep every older release's schema covered.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "packaging" / "fixtures"

# What the fixture holds: every kind of record the app keeps.
SESSION_TITLE = "Upgrade fixture: trip planning"
MESSAGES = [
    ("system", "You plan trips on a budget."),
    ("user", "My name is Ada and I live in Lisbon. Plan three days in Porto."),
    ("assistant", "Day 1: Ribeira and the Dom Luís I bridge. Day 2: Livraria Lello. Day 3: Foz."),
    ("user", "Remember that the deadline is Friday."),
    ("assistant", "Noted: everything booked by Friday."),
]
PINNED_INDEX = 1
SESSION_FACTS = {"name": "Ada", "location": "Lisbon"}
GLOBAL_FACTS = {"units": "metric"}
SUMMARY_TEXT = "Ada from Lisbon plans three days in Porto; bookings due Friday."
SETTINGS = {"default_model": "gpt-4o-mini"}
CUSTOM_PROFILE = ("fixture-profile", {
    "system_prompt": 0.10, "examples": 0.10, "history": 0.40, "memory": 0.05,
    "summary": 0.05, "current_input": 0.20, "reply_reserve": 0.10,
})


def write_records(data_dir: Path) -> str:
    """Fills a new database in data_dir through the store; returns its schema revision."""
    sys.path.insert(0, str(ROOT))
    from desktop_app.core.budget import AllocationProfile
    from desktop_app.core.records import MemoryFact, Message, Session, Summary
    from desktop_app.store import open_database
    from desktop_app.store.migrate import head_revision

    with open_database(data_dir) as db:
        session = db.sessions.create(
            Session(title=SESSION_TITLE, model="gpt-4o-mini", strategy="hybrid",
                    profile="default", system_prompt=MESSAGES[0][1])
        )
        stored = db.messages.append_many(
            session.id, [Message(role, text) for role, text in MESSAGES[1:]]
        )
        db.messages.set_pinned(stored[PINNED_INDEX - 1].id)
        for key, value in SESSION_FACTS.items():
            db.memory.upsert(MemoryFact(key, value, session_id=session.id))
        for key, value in GLOBAL_FACTS.items():
            db.memory.upsert(MemoryFact(key, value))
        db.summaries.add(
            Summary(SUMMARY_TEXT, first_message_id=stored[0].id, last_message_id=stored[1].id,
                    session_id=session.id)
        )
        for key, value in SETTINGS.items():
            db.settings.set(key, value)
        name, fractions = CUSTOM_PROFILE
        db.profiles.save(AllocationProfile(name, fractions))
        return head_revision()


def manifest(version: str, revision: str) -> dict:
    return {
        "app_version": version,
        "revision": revision,
        "session": {
            "title": SESSION_TITLE,
            "system_prompt": MESSAGES[0][1],
            "messages": [[role, text] for role, text in MESSAGES[1:]],
            "pinned": [PINNED_INDEX - 1],
            "memory": SESSION_FACTS,
            "summary": SUMMARY_TEXT,
        },
        "global_memory": GLOBAL_FACTS,
        "settings": SETTINGS,
        "profile": {"name": CUSTOM_PROFILE[0], "fractions": CUSTOM_PROFILE[1]},
    }


def make_fixture(out_dir: Path) -> Path:
    sys.path.insert(0, str(ROOT / "packaging"))
    from version import project_version

    version = project_version()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"token_budget-{version}.sqlite3"
    with tempfile.TemporaryDirectory() as folder:
        revision = write_records(Path(folder))
        # One self-contained file (no WAL beside it), copied with SQLite's backup API.
        source = sqlite3.connect(Path(folder) / "token_budget.sqlite3")
        target.unlink(missing_ok=True)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
            source.close()
    target.with_suffix(".json").write_text(
        json.dumps(manifest(version, revision), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIXTURES, help="folder for the fixture")
    args = parser.parse_args()
    target = make_fixture(args.out)
    print(f"wrote {target} and {target.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
