"""Recovery files: a reply that could not be written to the database (locked for too
long, disk full) is saved as a small JSON file instead, and brought back into its
session the next time the database opens.

The file goes to the data folder's `recovered-replies` folder; when that cannot be
written (the data folder's disk is full), to the temporary folder, then the home folder.
Every place is searched on the next open; a file names the database it belongs to."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from desktop_app.store.errors import StoreError
from desktop_app.store.models import MessageRow, SessionRow

if TYPE_CHECKING:
    from desktop_app.store.database import Database

log = logging.getLogger(__name__)
FOLDER = "recovered-replies"
FALLBACK_FOLDER = ".token-budget-recovered-replies"


def recovery_folders(db_path: Path) -> list[Path]:
    """Where recovery files for the database at `db_path` may be, preferred first."""
    return [db_path.parent / FOLDER, Path(tempfile.gettempdir()) / FALLBACK_FOLDER,
            Path.home() / FALLBACK_FOLDER]


def save_reply(db_path: Path, record: dict[str, Any]) -> Path:
    """Write a recovery file for a reply; returns where. Raises OSError only when no
    place at all could take it."""
    payload = json.dumps({**record, "database": str(db_path.resolve())}, ensure_ascii=False)
    name = f"reply-{record.get('message_id')}-{time.time_ns()}.json"
    last: OSError | None = None
    for folder in recovery_folders(db_path):
        target = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".part")
            with open(temporary, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
            return target
        except OSError as exc:
            last = exc
            with contextlib.suppress(OSError):
                target.with_suffix(".part").unlink(missing_ok=True)
    assert last is not None
    raise last


def pending(db_path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The recovery files that belong to the database at `db_path`, oldest first."""
    me = str(db_path.resolve())
    found: list[tuple[Path, dict[str, Any]]] = []
    for folder in recovery_folders(db_path):
        try:
            files = sorted(folder.glob("reply-*.json"))
        except OSError:
            continue
        for file in files:
            try:
                record = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("database") == me:
                found.append((file, record))
    return found


def restore_pending(db: Database) -> list[str]:
    """Bring pending recovery files into their sessions (a reply whose session was
    deleted since into a new session, ORPHAN_TITLE); returns one notice per reply
    restored. A file that cannot be restored now is kept for the next open."""
    notices: list[str] = []
    for file, record in pending(db.path):
        try:
            session_id, orphan = _restore(db, record)
        except (StoreError, KeyError, TypeError, ValueError) as exc:
            log.warning("could not restore the reply saved in %s: %s", file, exc)
            continue
        with contextlib.suppress(OSError):
            file.unlink()
        if orphan:
            notices.append(f"restored a reply that could not be stored earlier, whose session "
                           f"was deleted since, into a new session {session_id} titled "
                           f"“{ORPHAN_TITLE}” (it was saved in {file})")
        else:
            notices.append(f"restored a reply that could not be stored earlier into session "
                           f"{session_id} (it was saved in {file})")
    return notices


ORPHAN_TITLE = "Recovered reply (its session was deleted)"


def _restore_orphan(orm: Any, record: dict[str, Any], values: dict[str, Any],
                    gone: SessionRow | None) -> int:
    """The reply's session was deleted (or is in the bin): a new session holds the reply,
    after the user's message when the file has it, so the user can find it."""
    from desktop_app.core.records import Message, Session
    from desktop_app.store.messages import insert_messages
    from desktop_app.store.models import utc_now
    from desktop_app.store.sessions import new_session_row

    session = Session(title=ORPHAN_TITLE)
    if gone is not None:  # still in the bin: the same model
        session.model = gone.model
    row = new_session_row(session, utc_now())
    orm.add(row)
    orm.flush()
    messages = []
    question = record.get("user_message")
    if isinstance(question, str) and question:
        messages.append(Message(role="user", content=question))
    messages.append(Message(
        role=record.get("role") or "assistant", content=values["content"],
        name=record.get("name"), status=values["status"], error=values["error"],
        prompt_tokens=values["prompt_tokens"], completion_tokens=values["completion_tokens"],
        cost=values["cost"]))
    insert_messages(orm, row.id, messages)
    return int(row.id)


def _restore(db: Database, record: dict[str, Any]) -> tuple[int, bool]:
    """Put the reply back; returns the session it went into, and whether that is a new
    one (its own session was deleted meanwhile)."""
    content = record["content"]
    if not isinstance(content, str):
        raise TypeError("content is not text")
    values: dict[str, Any] = {
        "content": content,
        "status": record.get("status") or "interrupted",
        "error": record.get("error"),
        "prompt_tokens": record.get("prompt_tokens"),
        "completion_tokens": record.get("completion_tokens"),
        "cost": record.get("cost"),
        "token_counts": {},  # counted again when needed
    }
    session_id = int(record["session_id"])
    message_id = record.get("message_id")
    with db.write() as orm:
        owner = orm.get(SessionRow, session_id)
        if owner is None or owner.deleted_at is not None:
            return _restore_orphan(orm, record, values, owner), True
        if message_id is not None and orm.execute(
            select(MessageRow.id).where(MessageRow.id == int(message_id),
                                        MessageRow.session_id == session_id)
        ).first():
            orm.execute(update(MessageRow).where(MessageRow.id == int(message_id))
                        .values(**values))
        else:
            from desktop_app.core.records import Message
            from desktop_app.store.messages import insert_messages

            insert_messages(orm, session_id, [Message(
                role=record.get("role") or "assistant", content=content,
                name=record.get("name"), status=values["status"], error=values["error"],
                prompt_tokens=values["prompt_tokens"],
                completion_tokens=values["completion_tokens"], cost=values["cost"])])
    return session_id, False
