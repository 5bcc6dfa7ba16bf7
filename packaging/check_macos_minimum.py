"""Does the Qt that pip installs on a Mac load on the oldest macOS the app promises?

Reads pyproject.toml's PySide6-Essentials requirement as pip sees it on macOS, lets pip
pick the newest matching macOS wheels (`pip download --platform macosx_<N>_0_universal2
--only-binary=:all:`), and reads the minimum macOS of every binary inside them with
packaging/macho.py. A wheel's platform tag is not enough: PySide6-Essentials 6.10+ are
tagged macOS 13 while their libraries declare 15.0. Runs on any system (CI: Linux);
needs the network to PyPI. Exit 1 when a binary needs a newer macOS.

    python packaging/check_macos_minimum.py [--keep DIR] [--pyproject FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bundle_config as cfg  # noqa: E402
import macho  # noqa: E402

PYTHON_VERSION = "3.11"  # what the release workflow builds with
QT_PACKAGES = ("pyside6-essentials",)


def macos_environment() -> dict[str, str]:
    env = default_environment()
    env.update(sys_platform="darwin", platform_system="Darwin", os_name="posix",
               python_version=PYTHON_VERSION, python_full_version=PYTHON_VERSION + ".0",
               platform_machine="arm64")
    return env


def macos_requirements(pyproject: Path = cfg.ROOT / "pyproject.toml") -> list[str]:
    """The Qt requirements pip applies on a Mac, markers evaluated, as `name specifier`."""
    with pyproject.open("rb") as handle:
        deps = tomllib.load(handle)["project"]["dependencies"]
    env = macos_environment()
    found = []
    for text in deps:
        req = Requirement(text)
        if req.name.lower() in QT_PACKAGES and (req.marker is None or req.marker.evaluate(env)):
            found.append(f"{req.name}{req.specifier}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", help="download the wheels here (default: a temp folder)")
    parser.add_argument("--pyproject", type=Path, default=cfg.ROOT / "pyproject.toml")
    args = parser.parse_args(argv)
    requirements = macos_requirements(args.pyproject)
    if not requirements:
        print("check_macos_minimum: FAILED: no PySide6-Essentials requirement applies on macOS")
        return 1
    major = macho.parse_version(cfg.MACOS_MINIMUM)[0]
    with tempfile.TemporaryDirectory(prefix="tb-macos-wheels-") as scratch:
        folder = Path(args.keep or scratch)
        # PySide6-Essentials and the shiboken6 it requires: every binary the Qt side ships
        command = [sys.executable, "-m", "pip", "download", "-q", "--dest", str(folder),
                   "--only-binary=:all:", "--python-version", PYTHON_VERSION,
                   "--implementation", "cp", "--platform", f"macosx_{major}_0_universal2",
                   *requirements]
        print("check_macos_minimum: " + " ".join(command[2:]), flush=True)
        subprocess.run(command, check=True)
        wheels = sorted(folder.glob("*.whl"))
        for wheel in wheels:
            print(f"check_macos_minimum: {wheel.name}")
        names = {w.name.split("-")[0].lower() for w in wheels}
        if not {"pyside6_essentials", "shiboken6"} <= names:
            print(f"check_macos_minimum: FAILED: expected PySide6-Essentials and shiboken6, "
                  f"got {sorted(names)}")
            return 1
        return macho.main(["--max", cfg.MACOS_MINIMUM, *map(str, wheels)])


if __name__ == "__main__":
    sys.exit(main())
