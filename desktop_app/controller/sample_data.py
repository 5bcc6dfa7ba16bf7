"""Sample sessions written straight into a database, for the window's benchmarks (the
ui layer does not reach the store itself)."""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.records import Message, Session


def sample_messages(count: int, words: int) -> list[Message]:
    """Alternating user and assistant messages of about `words` words; every tenth one
    carries a code block, as real conversations do."""
    out = []
    for i in range(count):
        role = "user" if i % 2 == 0 else "assistant"
        text = f"Message {i}. " + " ".join(f"word{(i * 31 + j) % 503}" for j in range(words))
        if i % 10 == 5:
            text += "\n\n```python\nfor x in range(3):\n    print(x)\n```\n"
        out.append(Message(role, text))
    return out


def seed_session(data_dir: Path, title: str, messages: list[Message], model: str,
                 strategy: str = "token_window") -> int:
    """Create a session holding `messages`; returns its id."""
    from desktop_app.store import open_database

    db = open_database(data_dir)
    try:
        session = db.sessions.create(Session(title=title, model=model, strategy=strategy))
        for start in range(0, len(messages), 1000):
            db.messages.append_many(session.id, messages[start:start + 1000])
        return int(session.id)
    finally:
        db.close()
