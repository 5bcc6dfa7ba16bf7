"""A start that explains itself (issue 11): without a display, or without a system
library Qt's X11 plugin needs, `token-budget` says so in one plain line, with the
Debian/Ubuntu packages to install, and exits 1; Qt never aborts the process. The
libraries are read from the real plugin, and the README and .ci/run name them all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.ui.display_check import (
    XCB_PACKAGES,
    display_problem,
    elf_needed,
    missing_libraries,
    packages_for,
    plugin_libraries,
    qt_folder,
)

ROOT = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="the X11 platform plugin is Linux's")
PLUGIN = (qt_folder() or Path("none")) / "plugins" / "platforms" / "libqxcb.so"


def start_window(tmp_path, **changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(TOKEN_BUDGET_DATA_DIR=str(tmp_path / "data"), HOME=str(tmp_path), **changes)
    return subprocess.run([sys.executable, "-B", "-m", "desktop_app"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


@linux_only
def test_without_a_display_the_window_says_so_in_one_line(tmp_path):
    done = start_window(tmp_path)
    assert done.returncode == 1, done.stderr  # not 134: Qt never got to abort
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("token-budget: no display to open the window on")
    assert "DISPLAY" in line and done.stdout == ""
    done = start_window(tmp_path, QT_QPA_PLATFORM="xcb")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("token-budget: no X11 display")


def test_headless_platforms_and_other_systems_need_no_display():
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen:configfile=x.json"}, "linux") is None
    assert display_problem({}, "win32") is None and display_problem({}, "darwin") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert "WAYLAND_DISPLAY" in display_problem({"QT_QPA_PLATFORM": "wayland",
                                                 "DISPLAY": ":0"}, "linux")


@linux_only
def test_a_missing_library_is_named_with_the_package_to_install():
    present = [name for name in plugin_libraries() if not missing_libraries([name])]
    gone = "libxcb-icccm.so.99"  # a library no system has: the loader really fails on it
    assert missing_libraries([*present, gone]) == [gone]
    line = display_problem({"DISPLAY": ":0"}, "linux",
                           libraries=[*present, gone, "libxcb-keysyms.so.77"])
    assert line == ("the window needs system libraries that are missing (libxcb-icccm.so.99, "
                    "libxcb-keysyms.so.77); on Debian or Ubuntu: sudo apt-get install "
                    "libxcb-icccm.so.99 libxcb-keysyms.so.77")
    assert packages_for(["libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-image.so.0"]) \
        == ["libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0"]
    # on this machine every library is there, and the check says nothing
    if not missing_libraries(plugin_libraries()):
        assert display_problem({"DISPLAY": ":0"}, "linux") is None


@linux_only
@pytest.mark.skipif(not PLUGIN.exists(), reason="this PySide6 has no xcb plugin")
def test_the_libraries_are_read_from_the_real_plugin_and_each_has_its_package():
    needed = elf_needed(PLUGIN)
    assert needed and "libQt6XcbQpa.so.6" in needed
    libraries = plugin_libraries()
    # the two the old message never named, and the ones it did
    assert {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0",
            "libxkbcommon-x11.so.0"} <= set(libraries)
    assert not any(name.startswith(("libQt6", "libicu", "libc.so")) for name in libraries)
    assert [name for name in libraries if name not in XCB_PACKAGES] == []
    assert elf_needed(ROOT / "README.md") is None  # not an ELF file: no guess


@linux_only
@pytest.mark.skipif(not PLUGIN.exists(), reason="this PySide6 has no xcb plugin")
def test_the_readme_and_ci_name_every_package_the_window_needs():
    packages = packages_for(plugin_libraries())
    head = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:15])
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for package in packages:
        assert f" {package}" in head, f"README's first lines do not name {package}"
        assert f" {package}" in ci, f".ci/run does not install {package}"
    for library in plugin_libraries():
        assert library in ci, f".ci/run does not check for {library}"
    assert "xvfb" in ci and "window_paints.py" in ci
