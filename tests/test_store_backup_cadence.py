"""Backups more often than daily when there is new work, before a large import, and
kept by one rule: the newest five, and the newest of each of the last seven days."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from desktop_app.core.records import Message, Session
from desktop_app.store import backups, open_database
from desktop_app.store.bundles import LARGE_IMPORT_MESSAGES, SessionBundle, write_bundles


def _name(when: datetime, label: str = "daily") -> str:
    return f"token_budget-{when:%Y%m%dT%H%M%S.%f}Z-{label}.sqlite3"


def test_the_newest_five_and_one_a_day_for_a_week_are_kept(tmp_path):
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    # three a day for ten days, oldest first
    names = [tmp_path / _name(now - timedelta(days=d, hours=h))
             for d in range(9, -1, -1) for h in (8, 4, 0)]
    doomed = set(backups.prunable(names))
    kept = [n for n in names if n not in doomed]
    assert set(names[-5:]) <= set(kept)  # the newest five
    days = {backups.backup_time(n).date() for n in kept}
    assert len(days) == 7  # and one from each of the last seven days with backups
    for day in days:  # each day's newest is the one kept
        of_day = [n for n in names if backups.backup_time(n).date() == day]
        assert of_day[-1] in kept
    assert len(kept) == 5 + 7 - 2  # the newest five span the last two days


def _seed(data_dir) -> int:
    db = open_database(data_dir)
    try:
        session = db.sessions.create(Session(title="t", model="gpt-4o-mini"))
        db.messages.append(session.id, Message("user", "hello"))
        return int(session.id)
    finally:
        db.close()


def _age_backups(data_dir, hours: float) -> None:
    """Make the newest backup look `hours` old, and the database untouched since then
    or not, as the test says next."""
    path = data_dir / "token_budget.sqlite3"
    for b in backups.list_backups(path):
        b.rename(b.with_name(_name(datetime.now(UTC) - timedelta(hours=hours))))


def test_new_work_since_an_older_backup_is_backed_up_at_the_next_start(tmp_path):
    data = tmp_path / "data"
    sid = _seed(data)
    path = data / "token_budget.sqlite3"
    db = open_database(data)  # the first open after the data exists: a daily backup
    db.close()
    assert [b for b in backups.list_backups(path) if "daily" in b.name]
    _age_backups(data, 3)
    # nothing written since that backup: no new one
    old = (datetime.now(UTC) - timedelta(hours=4)).timestamp()
    for f in data.glob("token_budget.sqlite3*"):
        os.utime(f, (old, old))
    before = backups.list_backups(path)
    open_database(data).close()
    assert backups.list_backups(path) == before
    # new work since: the next start backs it up
    db = open_database(data)
    db.messages.append(sid, Message("user", "new work"))
    db.close()
    open_database(data).close()
    assert any("new-work" in b.name for b in backups.list_backups(path))


def test_a_large_import_is_preceded_by_a_backup(tmp_path):
    data = tmp_path / "data"
    _seed(data)
    path = data / "token_budget.sqlite3"
    db = open_database(data)
    try:
        small = SessionBundle(Session(title="small", model="gpt-4o-mini"),
                              [Message("user", "one")])
        write_bundles(db, [small])
        assert not [b for b in backups.list_backups(path) if "before-import" in b.name]
        big = SessionBundle(Session(title="big", model="gpt-4o-mini"), [
            Message("user" if i % 2 == 0 else "assistant", f"message {i}")
            for i in range(LARGE_IMPORT_MESSAGES)])
        write_bundles(db, [big])
        made = [b for b in backups.list_backups(path) if "before-import" in b.name]
        assert len(made) == 1
        assert backups.contents(made[0]).sessions == 2  # the state before the import
    finally:
        db.close()
