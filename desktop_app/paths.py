"""Where the shipped files live: one helper for a checkout, an installed wheel and a
frozen PyInstaller bundle, so no other module guesses at paths."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path


class MissingResourceError(RuntimeError):
    """A file the app ships with is not where it should be (a broken install)."""


def _candidates(top_level: str, bundled: str) -> list[Path]:
    here = Path(__file__).resolve().parent
    found = []
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:  # PyInstaller bundle: the spec copies the folders to the bundle's root
        found.append(Path(frozen_root) / top_level)
    found.append(here.parent / top_level)  # source checkout or editable install
    found.append(here / bundled)  # installed wheel
    return found


@cache
def _locate(top_level: str, bundled: str, marker: str) -> Path:
    for folder in _candidates(top_level, bundled):
        if (folder / marker).exists():
            return folder
    tried = ", ".join(str(p) for p in _candidates(top_level, bundled))
    raise MissingResourceError(f"cannot find the {top_level}/ folder (looked in {tried})")


def resources_dir() -> Path:
    return _locate("resources", "_resources", "models.json")


def migrations_dir() -> Path:
    return _locate("migrations", "_migrations", "env.py")


def resource(*parts: str) -> Path:
    """Path of a shipped resource; a clear error naming the file when it is missing."""
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise MissingResourceError(f"missing resource file: {path}")
    return path
