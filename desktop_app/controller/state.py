"""The app's state as the window knows it: one owner for each fact, read and written
on the GUI thread only. Background operations get copies of what they need as
arguments and never read this."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.core.budget import BUILTIN_PROFILES, AllocationProfile
from desktop_app.services.windows import WindowResolver

if TYPE_CHECKING:
    from desktop_app.controller.database_trouble import DatabaseTrouble
    from desktop_app.core.records import Session

DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_PROFILE = "default"
DEFAULT_STRATEGY = "token_window"
NO_PROVIDER = "Set up a provider to send messages (File ▸ Settings)."


@dataclass
class AppState:
    data_dir: Path | None
    db: Any = None  # store.Database once open
    trouble: DatabaseTrouble | None = None  # why the database is not open
    sessions: list[Session] = field(default_factory=list)  # the list, as shown
    show_archived: bool = False
    # The open session, as stored: replaced by the stored copy after every write, so a
    # stale copy can never be written back (sessions.py owns it).
    session: Session | None = None
    profiles: dict[str, AllocationProfile] = field(default_factory=lambda: dict(BUILTIN_PROFILES))
    providers: list[Any] = field(default_factory=list)  # core ProviderConfig
    default_provider: str | None = None
    can_send: bool = False
    defaults: dict[str, str] = field(default_factory=lambda: {
        "model": DEFAULT_MODEL, "profile": DEFAULT_PROFILE, "strategy": DEFAULT_STRATEGY})
    # model, profile and strategy (and the strategy's settings) chosen with the pickers
    # before any session exists: the session the draft starts takes them, once; they
    # never change the defaults from Settings, which every other new session takes
    draft_choices: dict[str, str] = field(default_factory=dict)
    draft_strategy_settings: dict[str, Any] = field(default_factory=dict)
    resolver: WindowResolver = field(default_factory=WindowResolver)
