"""Shared test setup: Qt draws offscreen (no display needed) on a desktop-sized virtual
screen, and each test that asks gets its own data folder so no test touches the user's
real database or settings."""

from __future__ import annotations

import os
from pathlib import Path

# A 1920x1080 virtual screen (the offscreen default is 800x800, smaller than the window).
_SCREEN = Path(__file__).with_name("offscreen_screen.json")
# Plain "offscreen" (as CI sets it) gets the same screen; another platform (xcb on Xvfb,
# say) is the tester's choice and kept.
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={_SCREEN}"

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty data folder, also set as TOKEN_BUDGET_DATA_DIR so that code which
    falls back to the default folder lands here too."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("TOKEN_BUDGET_DATA_DIR", str(folder))
    # keys typed in a test stay in memory, never in the real keychain
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    return folder
