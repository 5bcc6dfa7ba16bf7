"""Helpers for the window tests: seed a real database, open the real window on it,
and wait until the controller's background work has settled."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop_app.core.records import Message, Session


def seed_session(
    data_dir: Path,
    title: str = "Sample",
    messages: Sequence[Message] | Sequence[tuple[str, str]] = (),
    model: str = "gpt-4o-mini",
    strategy: str = "token_window",
    profile: str = "default",
) -> int:
    """Create a session with messages in the database under `data_dir`; its id."""
    from desktop_app.store import open_database

    db = open_database(data_dir)
    try:
        session = db.sessions.create(
            Session(title=title, model=model, strategy=strategy, profile=profile)
        )
        rows = [m if isinstance(m, Message) else Message(m[0], m[1]) for m in messages]
        if rows:
            db.messages.append_many(session.id, rows)
        return int(session.id)
    finally:
        db.close()


def conversation(n: int, words: int = 60) -> list[Message]:
    """n alternating user/assistant messages of about `words` words each."""
    out = []
    for i in range(n):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"Message {i}: " + " ".join(f"word{(i * 7 + j) % 97}" for j in range(words))
        out.append(Message(role, text))
    return out


def open_window(qtbot: Any, data_dir: Path, theme: str | None = "light",
                size: tuple[int, int] | None = (1360, 860)):
    """The real main window on `data_dir`, shown and started, with its first state in.
    size=None keeps the size the window remembered; theme=None the remembered theme."""
    from desktop_app.ui.app import build_window

    window = build_window(data_dir, theme)
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    window.controller.start()
    qtbot.waitUntil(lambda: window.controller.db is not None, timeout=15_000)
    wait_idle(qtbot, window)
    return window


def wait_idle(qtbot: Any, window: Any, timeout: int = 15_000) -> None:
    """The controller has nothing running and the conversation has filled its view."""
    qtbot.waitUntil(lambda: window.controller.idle and not window.conversation.filling,
                    timeout=timeout)


def whole_page(window: Any) -> Any:
    """The conversation's model with every card of the open page shown, as when the
    reader has scrolled up through it (a page opens on the cards that fill the view)."""
    window.conversation.show_all()
    return window.conversation.conversation


def close_window(window: Any) -> None:
    window.close()
