"""The library of saved system prompts, to reuse across sessions: kept as one JSON
setting (a list of {"name", "text"}), in the order they were saved. Qt-free; the
controller calls it on its worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.store.database import Database

LIBRARY_SETTING = "system_prompt_library"
MAX_NAME = 80


@dataclass(frozen=True)
class SavedPrompt:
    name: str
    text: str


def _parse(value: Any) -> list[SavedPrompt]:
    """What the setting holds, skipping anything that is not a named text (a hand-edited
    or damaged setting costs only its bad entries)."""
    out: list[SavedPrompt] = []
    seen: set[str] = set()
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, dict):
            continue
        name, text = item.get("name"), item.get("text")
        if isinstance(name, str) and isinstance(text, str) and name.strip() and name not in seen:
            seen.add(name)
            out.append(SavedPrompt(name, text))
    return out


def _store(db: Database, prompts: list[SavedPrompt]) -> list[SavedPrompt]:
    db.settings.set(LIBRARY_SETTING, [{"name": p.name, "text": p.text} for p in prompts])
    return prompts


def load(db: Database) -> list[SavedPrompt]:
    return _parse(db.settings.get(LIBRARY_SETTING, []))


def save(db: Database, name: str, text: str) -> list[SavedPrompt]:
    """Save `text` as `name` (replacing a prompt of that name in its place); the library."""
    name = " ".join(name.split())[:MAX_NAME]
    if not name:
        raise ValueError("a saved prompt needs a name")
    if not text.strip():
        raise ValueError("an empty system prompt is not worth saving")
    prompts = load(db)
    at = next((i for i, p in enumerate(prompts) if p.name == name), None)
    if at is None:
        prompts.append(SavedPrompt(name, text))
    else:
        prompts[at] = SavedPrompt(name, text)
    return _store(db, prompts)


def delete(db: Database, name: str) -> list[SavedPrompt]:
    return _store(db, [p for p in load(db) if p.name != name])
