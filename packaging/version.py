"""The app's version, read from pyproject.toml: the one place it is written. The spec,
the Inno Setup build, the macOS Info.plist and the release workflow all ask here.

    python packaging/version.py        # prints the version, e.g. 1.4.2
"""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def project_version() -> str:
    with PYPROJECT.open("rb") as handle:
        return tomllib.load(handle)["project"]["version"]


if __name__ == "__main__":
    print(project_version())
